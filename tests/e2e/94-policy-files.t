#!/usr/bin/env bash
# Only regular files are policy: a FIFO, a directory, a device or a socket
# given to `policy check`, `policy load`, `mcpfenced --policy` or SIGHUP is
# refused at once with a clear error, and never blocks the agent's loop.
. "$(dirname "$0")/../lib.sh"

cat >"$MF_TMP/p.json" <<'JSON'
{
  "version": 1,
  "servers": { "fetch": {} },
  "rules": [
    { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] }
  ]
}
JSON
cp "$MF_TMP/p.json" "$MF_TMP/live.json"
agent_start "$MF_TMP/live.json" || exit 1
as_alice() { mf run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" "$@"; }

mkfifo "$MF_TMP/fifo"
mkdir "$MF_TMP/dir"
python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$MF_TMP/sock')"
declare -A kind=([$MF_TMP/fifo]=fifo [$MF_TMP/dir]=directory [/dev/zero]="character device"
	[$MF_TMP/sock]=socket)

for f in "$MF_TMP/fifo" "$MF_TMP/dir" /dev/zero "$MF_TMP/sock"; do
	want="cannot read $f: not a regular file (${kind[$f]})"
	out=$(timeout 5 "$MF_BUILD/mcpfence" policy check "$f" 2>&1)
	is "$?:$out" "1:$want" "policy check refuses a ${kind[$f]} at once"
	out=$(timeout 5 "$MF_BUILD/mcpfence" policy load "$f" 2>&1)
	is "$?:$out" "1:mcpfence: $want" "policy load refuses a ${kind[$f]} at once (the agent reads it)"
	out=$(timeout 5 "$MF_BUILD/mcpfenced" --policy "$f" --pin-dir "$MF_PIN_DIR-x" 2>&1)
	is "$?:$out" "1:mcpfenced: $want" "mcpfenced --policy refuses a ${kind[$f]} at once"
done
ok "$([ ! -e "$MF_PIN_DIR-x" ]; echo $?)" "the refused agents touched no pins"
timeout 2 "$MF_BUILD/mcpfence" status >/dev/null
ok $? "the agent answers status"
is "$(mf status --json | jq .policy.generation)" 1 "its policy is unchanged"

# SIGHUP with the --policy file replaced by a FIFO nobody writes.
mv "$MF_TMP/live.json" "$MF_TMP/live.old"
mkfifo "$MF_TMP/live.json"
kill -HUP "$MF_AGENT_PID"
wait_for grep -q "cannot read $MF_TMP/live.json: not a regular file (fifo)" "$MF_TMP/agent.out"
ok $? "SIGHUP with a FIFO as policy is refused"
timeout 2 "$MF_BUILD/mcpfence" status >/dev/null
rc=$?
ok $rc "the agent still answers status"
# A hung agent blocks signals (signalfd): only SIGKILL ends it.
[ $rc -eq 0 ] || { kill -KILL "$MF_AGENT_PID"; done_testing; exit 1; }
is "$(as_alice connect tcp 127.0.0.1 7000) $(as_alice connect tcp 127.0.0.1 7001)" \
	"ECONNREFUSED EPERM" "and enforces the policy it had"

# A symlink to a policy file is followed (operators keep policies that way);
# a file past the size cap is refused before it is read.
ln -s "$MF_TMP/p.json" "$MF_TMP/link.json"
mf policy load "$MF_TMP/link.json" >/dev/null
ok $? "a symlink to a regular policy file loads"
truncate -s 33M "$MF_TMP/big.json"
out=$(timeout 5 "$MF_BUILD/mcpfence" policy check "$MF_TMP/big.json" 2>&1)
is "$?:$out" "1:cannot read $MF_TMP/big.json: larger than 33554432 bytes" \
	"a file past the size cap is refused"

done_testing
