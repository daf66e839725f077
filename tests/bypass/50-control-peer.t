#!/usr/bin/env bash
# The control socket knows its peer for the whole request: a governed server
# that connects through a child that exits at once, then sends the request on
# the inherited socket, is refused (the child's pid, ungoverned or reused, is
# not who asks). Without that, it got a ticket for another identity and left
# a tag on the dead pid for the next process to get that pid.
. "$(dirname "$0")/../lib.sh"

E=$MF_HELPERS/escape
[ -x "$E" ] || skip_all "build/tests/escape is not built (make)"
command -v bpftool >/dev/null || skip_all "bpftool is not installed"

cat >"$MF_TMP/policy.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {} },
  "rules": [ { "name": "alice", "server": "fetch", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] } ] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1

governed() { mf run --allow-root --identity alice --server fetch -- "$E" "$@" 2>/dev/null; }
# Is there a tag for pid $1 in the kernel's map?
tagged() { bpftool -j map dump pinned "$MF_PIN_DIR/tags" | jq -e --argjson p "$1" 'any(.[]; .formatted.key == $p)' >/dev/null; }

ticket='{"op": "ticket", "identity": "bob", "server": "fetch"}'
tag='{"op": "tag", "identity": "bob", "server": "fetch"}'

for how in reap zombie; do
	read -r pid reply < <(governed peer-request "$MF_SOCK" "$ticket" $how)
	like "$reply" "\"ok\":false.*ticket: refused: the process that connected \\(pid $pid\\) is gone" \
		"ticket through a child that exited ($how): refused"
	read -r pid reply < <(governed peer-request "$MF_SOCK" "$tag" $how)
	like "$reply" "\"ok\":false.*tag: refused: the process that connected \\(pid $pid\\) is gone" \
		"tag through a child that exited ($how): refused"
	tagged "$pid"
	is "$?" 1 "no tag left on the dead pid $pid ($how)"
done

# Ungoverned callers too: what the agent answers depends on who asks, and
# nobody asks once the connecting process is gone.
read -r pid reply < <("$E" peer-request "$MF_SOCK" '{"op": "status"}' reap)
like "$reply" "status: refused: the process that connected \\(pid $pid\\) is gone" \
	"an ungoverned caller's status through a dead child: refused"

# The same requests from the process that connected are answered.
like "$(printf '%s\n' '{"op": "ticket", "identity": "carol", "server": "fetch"}' |
	socat -t 2 - "UNIX-CONNECT:$MF_SOCK")" '"ok":true,"ticket"' \
	"a ticket asked by the live connecting process (root, ungoverned) is issued"

mf audit --json --verdict deny >"$MF_TMP/deny.json"
is "$(jq -r 'select(.event == "control-refused" and (.reason | test("is gone"))) | .op' \
	"$MF_TMP/deny.json" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" \
	"status=1 tag=2 ticket=2 " "each refusal is an audit record"
mf audit --json >"$MF_TMP/all.json"
is "$(jq -r 'select((.event == "ticket" or .event == "tag") and .verdict == "allow") | .identity' \
	"$MF_TMP/all.json" | sort -u | tr '\n' ' ')" "alice carol " "no ticket or tag was granted to bob"
mf status >/dev/null
ok $? "the agent still serves"

done_testing
