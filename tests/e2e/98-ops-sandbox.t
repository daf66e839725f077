#!/usr/bin/env bash
# The unit's hardening, without systemd as PID 1 (this machine's is not):
# the agent runs as packaging/mcpfenced.service confines it, emulated by
# hand: a read-only file system but for the pins, its runtime, state and log
# directories (ProtectSystem=strict, ReadWritePaths=/sys/fs/bpf,
# ProtectKernelTunables, ProtectControlGroups), the unit's capability
# bounding set, no_new_privs, and PR_SET_MDWE (the kernel's form of
# MemoryDenyWriteExecute). Every system call and socket family it makes
# through start, launches, loads, reloads and metrics must be inside the
# unit's SystemCallFilter= and RestrictAddressFamilies=.
. "$(dirname "$0")/../lib.sh"

unit=$MF_SRC/packaging/mcpfenced.service
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
is "$caps" "+bpf,+perfmon,+net_admin,+sys_ptrace" "the unit's bounding set"

cat >"$MF_TMP/p.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {} },
  "rules": [ { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] } ] }
JSON
mkdir -m 0755 "$MF_TMP/run"
mkdir -m 0700 "$MF_TMP/state"
mkdir -m 0750 "$MF_TMP/log"
SOCK=$MF_TMP/run/control.sock
MF_SOCK=$SOCK # mf and the cleanup talk to this agent
export MCPFENCE_SOCKET=$SOCK
# In a private mount namespace: everything read-only, then the unit's
# writable paths made writable again; then the agent, confined.
unshare -m --propagation private bash -c '
	set -e
	awk "{ print \$2 }" /proc/self/mounts | grep -v "\\\\" | sort -u | while read -r mp; do
		case $mp in /dev | /dev/* | /proc | /proc/*) continue ;; esac
		mount -o remount,bind,ro "$mp" 2>/dev/null || true
	done
	mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
	for rw in /sys/fs/bpf "$1/run" "$1/state" "$1/log"; do
		mount --bind "$rw" "$rw" && mount -o remount,bind,rw "$rw"
	done
	touch /usr/.mcpfence-rw 2>/dev/null && { echo "/usr is writable" >&2; exit 1; }
	touch /proc/sys/kernel/.x 2>/dev/null && { echo "/proc/sys is writable" >&2; exit 1; }
	exec setpriv --bounding-set=-all,"$2" --inh-caps=-all --no-new-privs -- python3 -c "
import ctypes, os, sys
if ctypes.CDLL(None).prctl(65, 1, 0, 0, 0):  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(\"cannot set PR_SET_MDWE\")
os.execv(sys.argv[1], sys.argv[1:])" "$3" --policy "$1/p.json" --socket "$1/run/control.sock" \
		--pin-dir "$4" --state-dir "$1/state" --audit-log "$1/log/audit.jsonl" --detach-on-exit
' _ "$MF_TMP" "$caps" "$MF_BUILD/mcpfenced" "$MF_PIN_DIR" >"$MF_TMP/agent.out" 2>&1 &
MF_AGENT_PID=$!
wait_for "$MF_BUILD/mcpfence" status
ok $? "the confined agent starts and answers" || sed 's/^/# /' "$MF_TMP/agent.out"
pid=$("$MF_BUILD/mcpfence" status --json | jq .agent_pid)
is "$(grep -E '^(CapBnd|NoNewPrivs)' /proc/"$pid"/status | awk '{print $2}' | tr '\n' ' ')" \
	"000000c000081000 1 " "confined: the four capabilities, no_new_privs"
as_alice() { "$MF_BUILD/mcpfence" run --allow-root --identity alice --server fetch -- \
	"$MF_HELPERS/probe" "$@"; }
is "$(as_alice connect tcp 127.0.0.1 7000) $(as_alice connect tcp 127.0.0.1 7001)" \
	"ECONNREFUSED EPERM" "and enforces"
sed -i 's/7000/7002/' "$MF_TMP/p.json"
kill -HUP "$pid"
wait_for sh -c "'$MF_BUILD/mcpfence' status --json | jq -e '.policy.generation == 2'"
ok $? "a SIGHUP reload works confined"
is "$(as_alice connect tcp 127.0.0.1 7002)" ECONNREFUSED "and the new policy is enforced"
"$MF_BUILD/mcpfence" metrics >/dev/null
ok $? "metrics"
wait_for grep -q '"port":7001' "$MF_TMP/log/audit.jsonl"
ok $? "the audit log is written"
[ -n "$pid" ] && kill -TERM "$pid"
wait $MF_AGENT_PID
ok $? "the confined agent exits cleanly"
MF_AGENT_PID=
ok "$([ ! -e "$MF_PIN_DIR" ]; echo $?)" "and removed its pins (--detach-on-exit)"

# System calls and socket families, traced through the same operations.
if ! command -v strace >/dev/null; then
	ok 0 "# SKIP strace not installed"
	ok 0 "# SKIP strace not installed"
	done_testing
	exit
fi
sed -i 's/7002/7000/' "$MF_TMP/p.json"
strace -f -qq -o "$MF_TMP/strace" "$MF_BUILD/mcpfenced" --policy "$MF_TMP/p.json" --socket "$SOCK" \
	--pin-dir "$MF_PIN_DIR" --state-dir "$MF_TMP/state" --audit-log "$MF_TMP/log/audit.jsonl" \
	--audit-syslog --detach-on-exit >>"$MF_TMP/agent.out" 2>&1 &
MF_AGENT_PID=$!
wait_for "$MF_BUILD/mcpfence" status
pid=$("$MF_BUILD/mcpfence" status --json | jq .agent_pid)
as_alice connect tcp 127.0.0.1 7001 >/dev/null
mf policy load "$MF_TMP/p.json" >/dev/null
mf ps >/dev/null
mf audit >/dev/null
mf metrics >/dev/null
kill -HUP "$pid"
kill -USR1 "$pid"
wait_for sh -c "'$MF_BUILD/mcpfence' status --json | jq -e '.log.reopened == 2'"
mf uninstall >/dev/null || kill -TERM "$pid"
wait $MF_AGENT_PID
MF_AGENT_PID=
expand() { # a systemd syscall group, its nested groups expanded
	systemd-analyze syscall-filter "$1" | sed 1d | grep -vE '^\s*(#|$)' | awk '{ print $1 }' |
		while read -r s; do case $s in @*) expand "$s" ;; *) echo "$s" ;; esac; done
}
allowed=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$unit" | tr ' ' '\n' |
	while read -r s; do case $s in @*) expand "$s" ;; *) echo "$s" ;; esac; done | sort -u)
denied=$(sed -n 's/^SystemCallFilter=~//p' "$unit" | tr ' ' '\n' |
	while read -r s; do case $s in @*) expand "$s" ;; *) echo "$s" ;; esac; done | sort -u)
used=$(awk '{ s = $2; sub(/\(.*/, "", s); print s }' "$MF_TMP/strace" | grep -E '^[a-z_0-9]+$' |
	sort -u)
diag "system calls made: $(echo $used)"
is "$(comm -23 <(echo "$used") <(echo "$allowed") | tr '\n' ' ')" "" \
	"every system call is in the unit's SystemCallFilter="
is "$(comm -12 <(echo "$used") <(echo "$denied") | tr '\n' ' ')" "" "none is in its deny list"
is "$(grep -o 'socket(AF_[A-Z0-9]*' "$MF_TMP/strace" | sort -u | tr '\n' ' ')" \
	"socket(AF_INET socket(AF_INET6 socket(AF_UNIX " \
	"only the families of RestrictAddressFamilies= (AF_UNIX, and AF_INET/AF_INET6 for the resolver)"

done_testing
