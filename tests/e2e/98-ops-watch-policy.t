#!/usr/bin/env bash
# --watch-policy: the --policy file is reloaded when it changes, the way a
# Kubernetes ConfigMap volume changes it (a new directory, then the "..data"
# symlink renamed over the old one); a bad policy is refused and reported, the
# one in force kept; an unrelated file loads nothing. --audit-log - writes the
# records to standard output (a container's log).
. "$(dirname "$0")/../lib.sh"

cm=$MF_TMP/configmap
mkdir -p "$cm"
# publish NAME TEXT: what the kubelet does for a ConfigMap update.
publish() {
	mkdir "$cm/..$1"
	printf '%s' "$2" >"$cm/..$1/policy.json"
	ln -s "..$1" "$cm/..data_tmp"
	mv -T "$cm/..data_tmp" "$cm/..data"
}
policy_for() {
	echo "{ \"version\": 1, \"servers\": { \"fetch\": {} }, \"rules\": [ { \"name\": \"r$1\",
	  \"server\": \"fetch\", \"who\": [\"alice\"], \"allow\": [ { \"to\": \"127.0.0.1/32\",
	  \"ports\": [$1] } ] } ] }"
}
publish v1 "$(policy_for 7001)"
ln -s ..data/policy.json "$cm/policy.json"

agent_start "$cm/policy.json" --watch-policy --audit-log - || exit 1
P=$MF_HELPERS/probe
try() {
	mf run --allow-root --no-harden --identity alice --server fetch -- \
		"$P" connect tcp 127.0.0.1 "$1" 2>/dev/null
}
generation_above() { # N: wait until the generation in force is past N
	wait_for sh -c "[ \$('$MF_BUILD/mcpfence' --socket '$MF_SOCK' status --json |
		jq .policy.generation) -gt $1 ]"
}
gen() { mf status --json | jq -r '.policy.generation'; }
g1=$(gen)
is "$(try 7002)" EPERM "before: port 7002 is not granted"

publish v2 "$(policy_for 7002)"
generation_above "$g1"
is "$(try 7002)" ECONNREFUSED "the ConfigMap update is in force: 7002 granted (nothing listens)"
is "$(try 7001)" EPERM "and the old grant gone"
is "$(mf status --json | jq -c '.last_load | [.trigger, .result]')" '["watch","ok"]' \
	"status: last load by the watch, ok"
g2=$(gen)
is "$(( g2 - g1 ))" 1 "one update, one load (the burst of events loads once)"

publish v3 '{ "version": 1, "rules": [ { "alow": [] } ] }'
wait_for sh -c "'$MF_BUILD/mcpfence' --socket '$MF_SOCK' status --json |
	jq -e '.last_load.result == \"failed\"' >/dev/null"
ok $? "a bad update is refused, and status says so"
is "$(try 7002)" ECONNREFUSED "the policy in force is kept"
attempts=$(mf status --json | jq .last_load.attempts)
touch "$cm/other"
sleep 0.3
is "$(mf status --json | jq .last_load.attempts)" "$attempts" \
	"an unrelated file, or the same bad text again, loads nothing"

# Records on standard output: JSON lines among the agent's stderr messages.
grep '^{' "$MF_TMP/agent.out" >"$MF_TMP/stdout.jsonl"
is "$(jq -r 'select(.event == "policy-load") | "\(.trigger):\(.verdict)"' "$MF_TMP/stdout.jsonl" |
	tr '\n' ' ')" "start:allow watch:allow watch:deny " "--audit-log -: the loads, on stdout"
like "$(jq -r 'select(.event == "connect") | .port' "$MF_TMP/stdout.jsonl" | tr '\n' ' ')" \
	"^7002 7002 7001 7002 $" "and the decisions"
agent_stop

# Without --watch-policy nothing is reloaded (the control for the above).
publish v3b "$(policy_for 7003)"
agent_start "$cm/policy.json" || exit 1
g=$(gen)
publish v4 "$(policy_for 7004)"
sleep 0.5
is "$(gen)" "$g" "without --watch-policy an update waits for SIGHUP"
is "$("$MF_BUILD/mcpfenced" --watch-policy 2>&1)" "mcpfenced: --watch-policy needs --policy" \
	"--watch-policy needs --policy"
done_testing
