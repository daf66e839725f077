#!/usr/bin/env bash
# Every start-up failure the agent can be led into names its cause, in git's
# style ("mcpfenced: cannot ... on ...: why"), exits 1 (2 for bad options) and
# leaves nothing behind: no pin directory, no socket.
. "$(dirname "$0")/../lib.sh"

POLICY=$MF_SRC/policy/default.json
n=0
# start NAME [ENV=VALUE...] -- [WRAPPER...] -- AGENT OPTIONS: output in $out, status in $rc.
# Each start gets a pin directory of its own that must not exist afterwards.
start() {
	local env=() wrap=()
	name=$1
	shift
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do wrap+=("$1"); shift; done
	shift
	n=$((n + 1))
	pin=$MF_PIN_DIR-$n
	at_exit "rm -rf '$pin'"
	out=$(env "${env[@]}" timeout 20 "${wrap[@]}" "$MF_BUILD/mcpfenced" --pin-dir "$pin" \
		--detach-on-exit "$@" 2>&1)
	rc=$?
}
# refused NAME EXPECTED-RC EXPECTED-MESSAGE (an extended regex on the first line)
refused() {
	is "$rc" "$2" "$name: exits $2"
	like "$(head -n1 <<<"$out")" "^mcpfenced: $3" "$name: says why"
	ok "$([ ! -e "$pin" ]; echo $?)" "$name: no pin directory left behind"
}

mkdir -m 755 "$MF_TMP/sock"
SOCK=$MF_TMP/sock/c.sock

start "pin dir not on bpffs" -- -- --policy "$POLICY" --socket "$SOCK" --pin-dir "$MF_TMP/pins"
pin=$MF_TMP/pins
refused "$name" 1 "$MF_TMP/pins is not on a bpf filesystem"

start "pin dir below a file" -- -- --policy "$POLICY" --socket "$SOCK" \
	--pin-dir "$MF_PIN_DIR-0/../$(basename "$POLICY")/x"
pin=$MF_PIN_DIR-0
refused "$name" 1 "cannot create .*: No such file or directory"

start "socket in a missing directory" -- -- --policy "$POLICY" --socket "$MF_TMP/no/such/c.sock"
refused "$name" 1 "cannot create $MF_TMP/no/such: No such file or directory"

long=$MF_TMP/sock/$(printf 'x%.0s' $(seq 110)).sock
start "socket path too long" -- -- --policy "$POLICY" --socket "$long"
refused "$name" 1 "socket path too long: $long"

mkdir -m 777 "$MF_TMP/open"
start "socket directory others may write" -- -- --policy "$POLICY" --socket "$MF_TMP/open/c.sock"
refused "$name" 1 "socket directory $MF_TMP/open is writable by others"

# systemd-nspawn or a pod without hostPID: its pids are not the kernel's
# (booting the unit in nspawn showed tagged servers running unjudged).
start "another PID namespace" -- unshare --pid --fork --mount-proc -- --policy "$POLICY" \
	--socket "$SOCK"
refused "$name" 1 "running in a PID namespace other than the host's"

start "missing policy" -- -- --policy "$MF_TMP/nothing.json" --socket "$SOCK"
refused "$name" 1 "cannot read $MF_TMP/nothing.json: No such file or directory"

cp "$POLICY" "$MF_TMP/secret.json"
chmod 000 "$MF_TMP/secret.json"
# Root reads anything through CAP_DAC_OVERRIDE, which the agent does not need.
start "unreadable policy" -- setpriv --bounding-set=-dac_override,-dac_read_search -- \
	--policy "$MF_TMP/secret.json" --socket "$SOCK"
refused "$name" 1 "cannot (read|open) $MF_TMP/secret.json: Permission denied"

start "policy that is a directory" -- -- --policy "$MF_TMP/sock" --socket "$SOCK"
refused "$name" 1 ".*$MF_TMP/sock.*not a regular file"

printf '{ "version": 1, "rules": [ { "alow": [] } ] }\n' >"$MF_TMP/typo.json"
start "policy with an unknown key" -- -- --policy "$MF_TMP/typo.json" --socket "$SOCK"
refused "$name" 1 "$MF_TMP/typo.json:1:.*unknown key 'alow'"

mkdir -m 777 "$MF_TMP/state-open"
start "state directory others may read" MCPFENCE_STATE_DIR="$MF_TMP/state-open" -- -- \
	--policy "$POLICY" --socket "$SOCK"
refused "$name" 1 "state directory $MF_TMP/state-open is open to its group and others \\(mode 0777\\)"

start "no capabilities" -- setpriv --bounding-set=-all --inh-caps=-all -- \
	--policy "$POLICY" --socket "$SOCK"
refused "$name" 1 "missing capabilities: CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_PTRACE"

start "bad option value" -- -- --tag-capacity 0 --socket "$SOCK"
refused "$name" 2 "--tag-capacity takes 1..4194304"

ok "$([ ! -e "$SOCK" ]; echo $?)" "no refused start left a socket"
done_testing
