#!/usr/bin/env bash
# Identity you can trust: launchers restricted by pattern and executable,
# one-time tickets, exec-time tagging of an interpreter + script, processes
# that ran before the agent, administrators' view, and a tag that cannot be
# stored (the process is killed, never left ungoverned).
. "$(dirname "$0")/../lib.sh"

user=mcpft$$u
launcher=mcpft$$l
admin=mcpft$$a
group=mcpft$$g
groupadd "$group" || skip_all "cannot create a test group"
at_exit "groupdel $group"
for u in "$user" "$launcher" "$admin"; do
	useradd --no-create-home --shell /usr/sbin/nologin "$u" || skip_all "cannot create test users"
	at_exit "user_del $u"
done
usermod -a -G "$group" "$admin"

# Test users run copies in $MF_TMP: the checkout may sit under a private directory.
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_HELPERS/probe" "$MF_TMP/bin/"
cp "$MF_BUILD/mcpfence" "$MF_TMP/bin/gateway" # a host binary that launchers name by path
P=$MF_TMP/bin/probe
as_user() {
	local u=$1
	shift
	(cd "$MF_TMP" && runuser -u "$u" -- "$@")
}

sh_path=$(readlink -f /bin/sh)
cat >"$MF_TMP/server.sh" <<SH
exec $P connect tcp "\$1" 7000
SH
chmod 755 "$MF_TMP/server.sh"

cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "admin_group": "$group",
  "launchers": [ { "user": "$launcher", "may_assert": ["*@example.com"] },
                 { "exe": "$MF_TMP/bin/gateway", "may_assert": ["carol@example.com"] },
                 { "group": "$group", "may_assert": ["dave@example.com"] } ],
  "servers": { "fetch": {}, "other": {},
               "script": { "exec": [ { "path": "$sh_path", "args": ["$MF_TMP/server.sh"] } ] } },
  "rules": [
    { "name": "example-fetch", "server": "fetch", "who": ["alice@example.com", "carol@example.com"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] },
    { "name": "script-root", "server": "script", "who": ["root"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

# Launchers restricted by pattern.
is "$(as_user "$launcher" "$MF_TMP/bin/mcpfence" run --identity alice@example.com --server fetch -- \
	"$P" connect tcp 127.0.0.1 7000)" ECONNREFUSED "a launcher asserts an identity its pattern allows"
out=$(as_user "$launcher" "$MF_TMP/bin/mcpfence" run --identity bob@evil.example --server fetch -- true 2>&1)
is "$?" 1 "a launcher may not assert an identity outside its pattern"
like "$out" "may not assert identity 'bob@evil.example'" "with the reason"

# A launcher named by group only: its members (here a supplementary group,
# read from /proc/PID/status) may assert, no one else.
as_user "$admin" "$MF_TMP/bin/mcpfence" run --identity dave@example.com --server fetch -- true
is "$?" 0 "a member of a launcher group may assert its identities"
out=$(as_user "$user" "$MF_TMP/bin/mcpfence" run --identity dave@example.com --server fetch -- true 2>&1)
is "$?" 1 "a non-member may not"
like "$out" "only root and the policy's launchers may assert another identity" "with the reason"

# Launchers named by executable: the peer's /proc/PID/exe.
is "$(as_user "$user" "$MF_TMP/bin/gateway" run --identity carol@example.com --server fetch -- \
	"$P" connect tcp 127.0.0.1 7000)" ECONNREFUSED "the named executable may assert its identities"
out=$(as_user "$user" "$MF_TMP/bin/mcpfence" run --identity carol@example.com --server fetch -- true 2>&1)
is "$?" 1 "the same user through another executable may not"

# One-time tickets: a trusted host asks, the launch presents it.
ticket=$(as_user "$launcher" "$MF_TMP/bin/mcpfence" ticket --identity alice@example.com --server fetch)
like "$ticket" '^[0-9a-f]{64}$' "a launcher obtains a ticket"
is "$(as_user "$user" "$MF_TMP/bin/mcpfence" run --ticket-fd 3 -- "$P" connect tcp 127.0.0.1 7000 3<<<"$ticket")" \
	ECONNREFUSED "an ordinary user's launch with the ticket runs as the ticket's identity"
out=$(as_user "$user" "$MF_TMP/bin/mcpfence" run --ticket-fd 3 -- true 3<<<"$ticket" 2>&1)
is "$?" 1 "the ticket is refused the second time"
like "$out" "unknown ticket" "replay: with the reason"
ticket=$(mf ticket --identity alice@example.com --server fetch --ttl 1)
sleep 1.2
out=$(as_user "$user" "$MF_TMP/bin/mcpfence" run --ticket-fd 3 -- true 3<<<"$ticket" 2>&1)
is "$?" 1 "an expired ticket is refused"
like "$out" "ticket expired" "expiry: with the reason"
ticket=$(mf ticket --identity alice@example.com --server fetch)
out=$(as_user "$user" "$MF_TMP/bin/mcpfence" run --ticket-fd 3 --server other -- true 3<<<"$ticket" 2>&1)
is "$?" 1 "a ticket for another server is refused"
like "$out" "the ticket is for identity alice@example.com on server fetch" "wrong server: with the reason"
ticket=$(mf ticket --identity alice@example.com --server fetch)
is "$(MCPF_T=$ticket as_user "$user" env MCPF_T="$ticket" "$MF_TMP/bin/mcpfence" run --ticket-env MCPF_T -- \
	sh -c "echo \${MCPF_T:-unset}; $P connect tcp 127.0.0.1 7000" | tr '\n' ' ')" "unset ECONNREFUSED " \
	"a ticket in the environment works, and is removed before exec"
out=$(as_user "$user" "$MF_TMP/bin/mcpfence" ticket --identity alice@example.com --server fetch 2>&1)
is "$?" 1 "an ordinary user cannot obtain a ticket for someone else"
is "$(mf audit --json | jq -r 'select(.event == "tag" and .ticket == true) | .identity' | sort -u)" \
	alice@example.com "tags by ticket are audited as such"
is "$(mf audit --json | jq -r 'select(.event == "tag-refused") | .reason' | grep -c ticket)" 3 \
	"and each refused ticket too"

# Exec-time tagging of an interpreter running a given script.
is "$(sh "$MF_TMP/server.sh" 127.0.0.1)" ECONNREFUSED "sh + the script: tagged at exec, allowed"
is "$(sh "$MF_TMP/server.sh" 127.0.0.2)" EPERM "sh + the script: tagged at exec, denied elsewhere"
is "$(sh -c "exec $P connect tcp 127.0.0.2 7000")" ECONNREFUSED "sh with other arguments: not tagged"

# Administrators' view; ordinary users see their own only.
is "$(as_user "$admin" "$MF_TMP/bin/mcpfence" audit --json | jq -r .identity | grep -c '^alice@example.com$' | sed 's/^[1-9][0-9]*$/some/')" \
	some "a member of admin_group reads everyone's records"
as_user "$admin" "$MF_TMP/bin/mcpfence" status --json >"$MF_TMP/admin-status.json"
is "$(jq 'has("counters")' "$MF_TMP/admin-status.json")" true "and sees the counters"
as_user "$user" "$MF_TMP/bin/mcpfence" status --json >"$MF_TMP/user-status.json"
is "$(jq 'has("counters")' "$MF_TMP/user-status.json")" false "an ordinary user's status has no counters"

# Processes that were there before the agent: tagged by the scan at start.
agent_stop
# Both wait until the agent is up (not a fixed time: a loaded machine starts
# it slowly), then connect.
cat >"$MF_TMP/late.sh" <<SH
while [ ! -e "$MF_TMP/go" ]; do sleep 0.05; done
exec $P connect tcp 127.0.0.2 7000
SH
cp "$MF_TMP/late.sh" "$MF_TMP/server.sh" # the script the policy names, now a slow one
sh "$MF_TMP/server.sh" >"$MF_TMP/late.out" &
late=$!
kill_at_exit $late
sh -c "while [ ! -e '$MF_TMP/go' ]; do sleep 0.05; done; exec $P connect tcp 127.0.0.2 7000" \
	>"$MF_TMP/unrelated.out" &
unrelated=$!
kill_at_exit $unrelated
sleep 0.2
agent_start "$MF_TMP/policy.json" || exit 1
touch "$MF_TMP/go"
wait $late $unrelated
is "$(cat "$MF_TMP/late.out")" EPERM "a server started before the agent is tagged at start, and judged"
is "$(cat "$MF_TMP/unrelated.out")" ECONNREFUSED "an unrelated process started before the agent is not"
is "$(mf audit --json | jq -r 'select(.event == "tag-scan") | .server' | sort -u)" script \
	"the scan's tags are audited"
agent_stop

# A tag that cannot be stored: the child is killed before it runs.
agent_start "$MF_TMP/policy.json" --tag-capacity 4 || exit 1
mf run --allow-root --identity alice@example.com --server fetch -- \
	sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 3 & echo $!; done' >"$MF_TMP/children.out"
sleep 0.3 # the killed ones are dead by then
alive=0 untagged=0
for pid in $(cat "$MF_TMP/children.out"); do
	kill_at_exit "$pid"
	# Killed ones may linger as zombies where init does not reap: not running.
	case "$(ps -o stat= -p "$pid")" in "" | Z*) continue ;; esac
	alive=$((alive + 1))
	mf ps --json | grep -q "\"pid\":$pid," || untagged=$((untagged + 1))
done
is "$alive" 3 "with room for 4 tags, the parent and 3 children run; the 5 others were killed"
is "$untagged" 0 "every child still running is tagged"
is "$(mf status --json | jq .counters.tags_failed)" 5 "the failures are counted"
is "$(mf audit --json | jq -r 'select(.event == "tag-lost") | .verdict' | sort | uniq -c | awk '{print $1, $2}')" \
	"5 deny" "and audited"

done_testing
