#!/usr/bin/env bash
# One agent per pin directory: a second agent, or an uninstall, started while
# one runs is refused before it touches any BPF object. It names the running
# agent, and what the kernel enforces, the pins, the socket and the saved
# state stay as they were, even with --detach-on-exit. A pin directory that
# another user could write is refused. A start that fails over a crashed
# agent's pins leaves them enforcing.
. "$(dirname "$0")/../lib.sh"

write_policy() { # FILE PORT
	cat >"$1" <<JSON
{
  "version": 1,
  "servers": { "fetch": {} },
  "rules": [
    { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [$2] } ] }
  ]
}
JSON
}
write_policy "$MF_TMP/a.json" 7000
write_policy "$MF_TMP/b.json" 7001
agent_start "$MF_TMP/a.json" || exit 1
as_alice() { mf run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" "$@"; }

# What a second agent could change: pins (names and inodes), the program
# behind each link, the policy generation, the saved state.
snapshot() {
	local f
	ls -i "$MF_PIN_DIR"
	for f in "$MF_PIN_DIR"/link_*; do
		echo "$(basename "$f") $(bpftool -j link show pinned "$f" | jq .prog_id)"
	done
	mf status --json | jq -c '.policy | [.generation, .source]'
	ls -l "$MCPFENCE_STATE_DIR"
	md5sum "$MCPFENCE_STATE_DIR"/*
}
verdicts() { echo "$(as_alice connect tcp 127.0.0.1 7000) $(as_alice connect tcp 127.0.0.1 7001)"; }

before=$(snapshot)
is "$(verdicts)" "ECONNREFUSED EPERM" "before: 7000 allowed, 7001 denied"

# A second agent with its own socket, another policy and --detach-on-exit.
mkdir -m 755 "$MF_TMP/s2"
out=$(timeout 10 "$MF_BUILD/mcpfenced" --policy "$MF_TMP/b.json" --socket "$MF_TMP/s2/c.sock" \
	--pin-dir "$MF_PIN_DIR" --detach-on-exit 2>&1)
rc=$?
is "$rc" 1 "a second agent on the same pins is refused"
is "$out" "mcpfenced: another agent (pid $MF_AGENT_PID) runs on $MF_PIN_DIR" \
	"it names the running agent's pid"
is "$(snapshot)" "$before" "pins, links, programs, policy and state are unchanged"
is "$(verdicts)" "ECONNREFUSED EPERM" "after: the same verdicts"
ok "$([ ! -e "$MF_TMP/s2/c.sock" ]; echo $?)" "the refused agent left no socket"

# The same socket too: the running agent's socket must not be removed.
out=$(timeout 10 "$MF_BUILD/mcpfenced" --policy "$MF_TMP/b.json" --socket "$MF_SOCK" \
	--pin-dir "$MF_PIN_DIR" --detach-on-exit 2>&1)
is "$?" 1 "a second agent on the same pins and socket is refused"
like "$out" "another agent \\(pid $MF_AGENT_PID\\) runs on" "and says why"
ok "$([ -S "$MF_SOCK" ]; echo $?)" "the running agent's socket is still there"
mf status >/dev/null
ok $? "and answers status"
is "$(snapshot)" "$before" "nothing changed"

# Without --policy: the refused agent would otherwise reload the saved text.
out=$(timeout 10 "$MF_BUILD/mcpfenced" --socket "$MF_TMP/s2/c.sock" --pin-dir "$MF_PIN_DIR" \
	--detach-on-exit 2>&1)
is "$?" 1 "a second agent without --policy is refused"
is "$(snapshot)" "$before" "nothing changed"

out=$(timeout 10 "$MF_BUILD/mcpfenced" --pin-dir "$MF_PIN_DIR" --uninstall 2>&1)
is "$?" 1 "--uninstall is refused while the agent runs"
is "$out" "mcpfenced: another agent (pid $MF_AGENT_PID) runs on $MF_PIN_DIR" "naming it"
is "$(snapshot)" "$before" "nothing was removed"
is "$(verdicts)" "ECONNREFUSED EPERM" "enforcement goes on"

# Once it stopped, the pin directory is free again.
agent_stop
MF_KEEP_PINS=1 agent_start "$MF_TMP/b.json" || exit 1
is "$(verdicts)" "EPERM ECONNREFUSED" "a new agent takes the pins once the first is gone"
agent_stop
"$MF_BUILD/mcpfenced" --pin-dir "$MF_PIN_DIR" --uninstall
ok $? "--uninstall works when no agent runs"
ok "$([ ! -e "$MF_PIN_DIR" ] && [ -z "$(ls -A "$MCPFENCE_STATE_DIR")" ]; echo $?)" \
	"and removes the pins and the saved state"

# A pin directory made by someone else (bpffs may be world-writable): they
# could unlink the link pins, which detaches enforcement.
foreign=$MF_PIN_DIR-foreign
mkdir -m 700 "$foreign"
at_exit "rmdir $foreign"
chown 65534 "$foreign"
out=$(timeout 10 "$MF_BUILD/mcpfenced" --policy "$MF_TMP/a.json" --socket "$MF_TMP/s2/c.sock" \
	--pin-dir "$foreign" --detach-on-exit 2>&1)
is "$?" 1 "a pin directory owned by another user is refused"
like "$out" "$foreign is owned by uid 65534, not root" "saying whose it is"
chown 0 "$foreign"
chmod 777 "$foreign"
out=$(timeout 10 "$MF_BUILD/mcpfenced" --policy "$MF_TMP/a.json" --socket "$MF_TMP/s2/c.sock" \
	--pin-dir "$foreign" --detach-on-exit 2>&1)
is "$?" 1 "a pin directory others may write is refused"
like "$out" "$foreign is writable by users other than root \\(mode 0777\\)" "saying so"
is "$(ls -A "$foreign")" "" "nothing was pinned there"

# The agent crashes; its supervisor's restart fails after touching the pins
# (an audit log it cannot open), with --detach-on-exit: the crashed agent's
# pins stay and go on enforcing (found by a review: they were removed).
agent_stop
MF_KEEP_PINS=1 agent_start "$MF_TMP/a.json" || exit 1
mf run --allow-root --identity alice --server fetch -- sh -c \
	"sleep 2; '$MF_HELPERS/probe' connect tcp 127.0.0.2 7000" >"$MF_TMP/late.out" 2>/dev/null &
late=$!
kill_at_exit $late
sleep 0.3
agent_crash
out=$(timeout 20 "$MF_BUILD/mcpfenced" --policy "$MF_TMP/a.json" --socket "$MF_SOCK" \
	--pin-dir "$MF_PIN_DIR" --audit-log "$MF_TMP/no-such-dir/audit.log" --detach-on-exit 2>&1)
is "$?" 1 "a start that cannot open its audit log fails"
like "$out" "stays pinned \\(enforcing as it was\\), not detached" "and says the pins stay"
[ -e "$MF_PIN_DIR/link_mf_connect4" ] && [ -e "$MF_PIN_DIR/tags" ]
ok $? "the crashed agent's links and tags are still pinned"
wait $late
is "$(cat "$MF_TMP/late.out")" EPERM "a governed process is still judged after the failed start"
agent_start "$MF_TMP/a.json" || exit 1

# pid_max (here --tag-capacity) changed between two starts over the same
# pins: the pinned tags map keeps its size, and the start says so (found by
# a review: the start was refused).
agent_stop
MF_KEEP_PINS=1 agent_start "$MF_TMP/a.json" --tag-capacity 40000 || exit 1
agent_stop
MF_KEEP_PINS=1 agent_start "$MF_TMP/a.json" --tag-capacity 50000
ok $? "a start with another tag capacity over the pins runs"
like "$(cat "$MF_TMP/agent.out")" "the pinned tags map holds 40000 processes, not 50000" \
	"and says the pinned size is kept"
is "$(as_alice connect tcp 127.0.0.2 7000)" EPERM "and enforces"
agent_stop
agent_start "$MF_TMP/a.json" || exit 1

done_testing
