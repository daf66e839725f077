#!/usr/bin/env bash
# Private state: the saved policy lives in a root-only state directory, keyed
# by pin directory, never beside the socket. Symlinked, foreign-owned or
# loosely-moded files there are neither trusted nor written through; a state
# or socket directory others could write is refused at start; agents whose
# sockets share a directory keep their own policies across restarts.
. "$(dirname "$0")/../lib.sh"

write_policy() { # FILE PORTS
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
write_policy "$MF_TMP/evil.json" '"1-65535"'
S=$MCPFENCE_STATE_DIR
saved=$S/'sys-fs-bpf-mcpfence\x2dtest\x2d'$$.policy.json
as_alice() { mf run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" "$@"; }
verdicts() { echo "$(as_alice connect tcp 127.0.0.1 7000) $(as_alice connect tcp 127.0.0.1 7001)"; }

# A governed process started before a restart connects to 127.0.0.1:7002
# (allowed by evil.json only) after it: what the kernel then enforces.
survivor_start() {
	rm -f "$MF_TMP/go"
	"$MF_BUILD/mcpfence" run --allow-root --identity alice --server fetch -- sh -c "while [ ! -e '$MF_TMP/go' ]; do sleep 0.05;
		done; exec '$MF_HELPERS/probe' connect tcp 127.0.0.1 7002" >"$MF_TMP/survivor.out" &
	SURVIVOR=$!
	kill_at_exit $SURVIVOR
	wait_for sh -c "'$MF_BUILD/mcpfence' ps --json | grep -q '\"pid\":$SURVIVOR,'"
}
survivor_result() { # not in $(...): only this shell can wait for it
	touch "$MF_TMP/go"
	wait "$SURVIVOR"
}

# restart [AGENT OPTIONS]: the agent again, on the same pins, without --policy
restart() {
	agent_stop
	"$MF_BUILD/mcpfenced" --socket "$MF_SOCK" --pin-dir "$MF_PIN_DIR" "$@" \
		>"$MF_TMP/agent.out" 2>&1 &
	MF_AGENT_PID=$!
	wait_for mf status || sed 's/^/#   /' "$MF_TMP/agent.out"
}

MF_KEEP_PINS=1
agent_start "$MF_TMP/a.json" || exit 1
is "$(stat -c %a:%U "$S")" 700:root "the state directory is made 0700, root's"
is "$(stat -c %a:%U:%F "$saved")" "600:root:regular file" "the saved policy is root's, mode 0600"
cmp -s "$MF_TMP/a.json" "$saved"
ok $? "it holds the loaded text"
is "$(ls "$MF_TMP" | grep -c active-policy)" 0 "nothing is saved beside the socket"

# The old attack: a symlinked temporary file beside the socket.
echo victim >"$MF_TMP/victim"
ln -s "$MF_TMP/victim" "$MF_TMP/active-policy.json.tmp"
mf policy load "$MF_TMP/b.json" >/dev/null
is "$(cat "$MF_TMP/victim")" victim "a symlink beside the socket is not written through"
cmp -s "$MF_TMP/b.json" "$saved"
ok $? "the state file holds the new text"

restart
is "$(mf policy show)" "$(cat "$MF_TMP/b.json")" "a restart keeps the saved policy"
is "$(verdicts)" "EPERM ECONNREFUSED" "and enforces it"

# The saved file replaced by a symlink to an allow-all policy: not followed.
survivor_start
agent_stop
rm "$saved"
ln -s "$MF_TMP/evil.json" "$saved"
restart
like "$(cat "$MF_TMP/agent.out")" "not using $S/.*: it is a symbolic link" \
	"a symlinked state file is not read"
survivor_result
is "$(cat "$MF_TMP/survivor.out")" EPERM "the active policy stays in force, not the allow-all"
mf policy load "$MF_TMP/a.json" >/dev/null
cmp -s "$MF_TMP/evil.json" "$MF_TMP/a.json"
ok "$((!$?))" "a load does not write through the symlink"
is "$(stat -c %F "$saved")" "regular file" "the symlink is replaced by a file"

# Owned by another user, or readable by others: not trusted.
for how in "chown 65534" "chmod 644"; do
	restart --policy "$MF_TMP/a.json"
	survivor_start
	agent_stop
	install -m 600 "$MF_TMP/evil.json" "$saved"
	$how "$saved"
	restart
	like "$(cat "$MF_TMP/agent.out")" "not using $S/.*: not a root-owned regular file of mode 0600" \
		"a state file after '$how' is not trusted"
	survivor_result
	is "$(cat "$MF_TMP/survivor.out")" EPERM "the active policy stays in force, not the allow-all"
done

# Temporary files left in the state directory, one a symlink to a victim
# and one an allow-all policy: removed at start, never used.
agent_stop
install -m 600 "$MF_TMP/a.json" "$saved"
ln -s "$MF_TMP/victim" "$saved.tmp.0123456789abcdef"
install -m 600 "$MF_TMP/evil.json" "$saved.tmp.fedcba9876543210"
restart
is "$(ls "$S" | wc -l)" 1 "stale temporary files are removed at start"
mf policy load "$MF_TMP/b.json" >/dev/null
is "$(cat "$MF_TMP/victim")" victim "nothing is written through them"
is "$(verdicts)" "EPERM ECONNREFUSED" "and nothing of them is enforced"

# A state or socket directory that is not root's alone: refused at start.
agent_stop
before=$(md5sum "$saved")
refused() { # DESC WANT AGENT-OPTIONS...
	local desc=$1 want=$2 out
	shift 2
	out=$(timeout 10 "$MF_BUILD/mcpfenced" --pin-dir "$MF_PIN_DIR" --detach-on-exit "$@" 2>&1)
	is "$?" 1 "$desc"
	like "$out" "$want" "saying why and how to fix it"
}
mkdir -m 755 "$MF_TMP/loose"
refused "a state directory of mode 0755 is refused" \
	"state directory $MF_TMP/loose is open to its group and others \\(mode 0755\\): chmod 0700" \
	--state-dir "$MF_TMP/loose"
mkdir -m 700 "$MF_TMP/theirs"
chown 65534 "$MF_TMP/theirs"
refused "a state directory owned by another user is refused" \
	"state directory $MF_TMP/theirs is owned by uid 65534, not root: chown root" \
	--state-dir "$MF_TMP/theirs"
mkdir -m 777 "$MF_TMP/open"
refused "a socket directory others may write is refused" \
	"socket directory $MF_TMP/open is writable by others" --socket "$MF_TMP/open/c.sock"
mkdir -m 755 "$MF_TMP/user"
chown 65534 "$MF_TMP/user"
refused "a socket directory owned by another user is refused" \
	"socket directory $MF_TMP/user is writable by its owner" --socket "$MF_TMP/user/c.sock"
is "$(ls -A "$MF_TMP/loose" "$MF_TMP/theirs" "$MF_TMP/open" "$MF_TMP/user" | grep -vc ':$\|^$')" 0 \
	"the refused starts wrote nothing there"
is "$(md5sum "$saved")" "$before" "nor into the state directory"
ls "$MF_PIN_DIR"/link_* >/dev/null 2>&1
ok $? "and, with --detach-on-exit, removed neither the pins nor the saved state"

# Two agents, sockets in one directory, one state directory, their own pins.
PIN2=$MF_PIN_DIR-b
mf2() { "$MF_BUILD/mcpfence" --socket "$MF_TMP/b.sock" "$@"; }
start2() {
	"$MF_BUILD/mcpfenced" --socket "$MF_TMP/b.sock" --pin-dir "$PIN2" "$@" \
		>>"$MF_TMP/agent2.out" 2>&1 &
	PID2=$!
	wait_for mf2 status || sed 's/^/#   /' "$MF_TMP/agent2.out"
}
stop2() { kill -TERM "$PID2" 2>/dev/null && wait "$PID2"; }
at_exit 'stop2; "$MF_BUILD/mcpfenced" --pin-dir "$PIN2" --uninstall'
restart --policy "$MF_TMP/a.json"
start2 --policy "$MF_TMP/b.json"
restart
stop2
start2
is "$(mf policy show)" "$(cat "$MF_TMP/a.json")" "agent one keeps its policy across restarts"
is "$(mf2 policy show)" "$(cat "$MF_TMP/b.json")" "agent two keeps its own"
is "$(verdicts)" "ECONNREFUSED EPERM" "agent one enforces its policy"
is "$(mf2 run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" connect tcp 127.0.0.1 7001)" \
	ECONNREFUSED "agent two its own"
stop2
"$MF_BUILD/mcpfenced" --pin-dir "$PIN2" --uninstall
ok $? "uninstall of agent two's pins"
is "$(ls "$S" | grep -c 'mcpfence\\x2dtest\\x2d'$$'\\x2db')" 0 "removes its saved state"

# --detach-on-exit takes the saved state with the pins.
restart --detach-on-exit
agent_stop
ok "$([ ! -e "$saved" ] && [ ! -e "$MF_PIN_DIR" ]; echo $?)" \
	"--detach-on-exit removes the pins and the saved state"

done_testing
