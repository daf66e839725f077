#!/usr/bin/env bash
# The control socket under bad input: a malformed or oversized message
# closes that connection only; the agent keeps serving everyone else.
. "$(dirname "$0")/../lib.sh"
command -v socat >/dev/null || skip_all "socat is not installed (make deps)"

cat >"$MF_TMP/policy.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {} }, "rules": [] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1

send() { printf '%s\n' "$1" | socat -t 2 - "UNIX-CONNECT:$MF_SOCK"; }

like "$(send '{"op": "status"')" '"ok":false,"error":"malformed message' \
	"a truncated message gets an error"
like "$(send '[1,2,3]')" 'not a JSON object' "a non-object gets an error"
like "$(send '{"op": "reboot"}')" "unknown op 'reboot'" "an unknown op gets an error"
like "$(send '{"op": "tag", "identity": 7, "server": "fetch"}')" 'tag needs .*identity.* and .*server.* strings' \
	"a tag request with a non-string identity gets an error"
like "$(send '{"op": "tag", "identity": "../../etc", "server": "fetch"}')" 'invalid identity' \
	"an identity with forbidden characters is refused"
# Errors carry a stable code beside the message.
code() { send "$1" | jq -r .code; }
is "$(code '{"op": "status"')" invalid-request "a malformed message: code invalid-request"
is "$(code '{"op": "reboot"}')" invalid-request "an unknown op: code invalid-request"
is "$(send '{"op": "reboot"}' | cut -c1-16)" '{"type":"reply",' \
	"an error reply says it is one, first (the CLI tells it from records so)"
is "$(send '{"op": "whoami"}' | cut -c1-16)" '{"type":"reply",' "so does an answer"
out=$(printf '{"op": "status"}\n{"op": "whoami"}\n' | socat -t 2 - "UNIX-CONNECT:$MF_SOCK" | wc -l)
is "$out" 2 "two requests in one write get two replies"
out=$(printf 'garbage\n{"op": "status"}\n' | socat -t 2 - "UNIX-CONNECT:$MF_SOCK" | wc -l)
is "$out" 1 "after a malformed message the connection is closed (no second reply)"

# An ordinary user's message is capped at 64 KiB.
user=mcpft$$c
useradd --no-create-home --shell /usr/sbin/nologin "$user" || skip_all "cannot create a test user"
at_exit "user_del $user"
# 66,000 bytes and no newline: the agent must refuse before the line ends.
like "$({ head -c 66000 /dev/zero | tr '\0' a; sleep 1; } |
	runuser -u "$user" -- socat -t 2 - "UNIX-CONNECT:$MF_SOCK")" \
	'message too long' "an oversized message from an ordinary user is refused"
is "$({ head -c 66000 /dev/zero | tr '\0' a; sleep 1; } |
	runuser -u "$user" -- socat -t 2 - "UNIX-CONNECT:$MF_SOCK" | jq -r .code)" limit \
	"with code limit"
is "$(printf '{"op": "policy_show"}\n' | runuser -u "$user" -- socat -t 2 - "UNIX-CONNECT:$MF_SOCK" |
	jq -r .code)" permission-denied "a root-only op from an ordinary user: code permission-denied"

# Followers of the audit stream never idle out, so one user may hold only a few.
for i in 1 2 3 4; do
	{ printf '{"op": "audit", "follow": true}\n'; sleep 20; } |
		runuser -u "$user" -- socat -t 20 - "UNIX-CONNECT:$MF_SOCK" >"$MF_TMP/follow.$i" &
	kill_at_exit $!
done
wait_for sh -c "cat '$MF_TMP'/follow.[1-4] | grep -c '\"follow\":true' | grep -qx 4"
is "$(printf '{"op": "audit", "follow": true}\n' |
	runuser -u "$user" -- socat -t 2 - "UNIX-CONNECT:$MF_SOCK" | jq -r .code)" limit \
	"a fifth audit follower of one user: code limit"
is "$(printf '{"op": "audit"}\n' | runuser -u "$user" -- socat -t 2 - "UNIX-CONNECT:$MF_SOCK" |
	jq -r 'select(.ok == true) | .ok')" true "reading the history once is still allowed"

mf status >/dev/null
ok $? "the agent still serves after all of the above"
kill -0 "$MF_AGENT_PID"
ok $? "and is still running"

done_testing
