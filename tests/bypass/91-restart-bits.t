#!/usr/bin/env bash
# Agent restarts while governed processes fork: no child goes out as
# ungoverned. The socket hooks skip the tag lookup for a pid whose tag bit
# is clear, and each agent's programs have bits of their own: an older
# agent's hooks beside a newer agent's fork program would miss the tags the
# new one writes. The new agent replaces every program that reads tags
# before the ones that write them (and its hooks trust bits only once it
# has filled them); an agent that stops leaves its programs looking every
# process up. Two governed loopers fork children that connect to a denied
# address through 6 restarts, 4 of them after a crash, and through starts
# cut short at each program swap; every connect must be EPERM.
. "$(dirname "$0")/../lib.sh"

cat >"$MF_TMP/policy.json" <<'JSON'
{
  "version": 1,
  "servers": { "fetch": {} },
  "rules": [
    { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] }
  ]
}
JSON
MF_KEEP_PINS=1
agent_start "$MF_TMP/policy.json" || exit 1

P=$MF_HELPERS/probe
for n in 1 2; do
	mf run --allow-root --identity alice --server fetch -- sh -c \
		"while [ ! -e '$MF_TMP/stop' ]; do '$P' repeat 200 fork connect tcp 127.0.0.2 7000; done" \
		>"$MF_TMP/looper.$n" 2>/dev/null &
	kill_at_exit $!
	eval "looper$n=$!"
done
sleep 0.3
# Most stops are crashes (SIGKILL): the old programs are left trusting
# their bits, as after an OOM kill; every third is a clean stop.
for i in $(seq 6); do
	if [ $((i % 3)) != 0 ]; then
		agent_crash
	else
		agent_stop
	fi
	agent_start "$MF_TMP/policy.json" || break
	sleep 0.2
done

# Starts cut short at each swap. After a crash of the running agent, a new
# one dies (strace injects SIGKILL) at one of the bpf() calls that put its
# programs in place, each in turn: whatever prefix of the swaps was done,
# the loopers' children are judged.
AGENT=("$MF_BUILD/mcpfenced" --policy "$MF_TMP/policy.json" --socket "$MF_SOCK"
	--pin-dir "$MF_PIN_DIR" --audit-log "$MF_AUDIT_LOG")
agent_crash
strace -qq -e trace=bpf -o "$MF_TMP/start.trace" "${AGENT[@]}" >>"$MF_TMP/agent.out" 2>&1 &
tracer=$!
wait_for mf status
kill -KILL "$(mf status --json | jq .agent_pid)"
wait "$tracer" 2>/dev/null
swaps=$(grep 'bpf(' "$MF_TMP/start.trace" | grep -n 'BPF_LINK_UPDATE\|BPF_LINK_CREATE\|BPF_OBJ_PIN' |
	cut -d: -f1)
cut_short=0
for k in $swaps; do
	agent_start "$MF_TMP/policy.json" || break
	agent_crash
	# (in a subshell: the shell's "Killed" goes nowhere)
	(strace -qq -e trace=bpf -e "inject=bpf:signal=SIGKILL:when=$k" -o /dev/null "${AGENT[@]}" \
		>>"$MF_TMP/agent.out" 2>&1) 2>/dev/null
	cut_short=$((cut_short + 1))
	sleep 0.2
done
[ "$cut_short" -ge 20 ]
ok $? "starts cut short at each of $cut_short program swaps and pins"
agent_start "$MF_TMP/policy.json"

touch "$MF_TMP/stop"
# shellcheck disable=SC2154
wait "$looper1" "$looper2"
lines=$(cat "$MF_TMP"/looper.* | wc -l)
[ "$lines" -gt 40 ]
ok $? "the loopers ran through the restarts ($lines rounds of 200 forked connects)"
is "$(cat "$MF_TMP"/looper.* | grep -v '^EPERM=200$' | sort | uniq -c | head -3)" "" \
	"every forked child's connect to the denied address was refused (EPERM)"

done_testing
