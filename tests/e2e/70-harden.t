#!/usr/bin/env bash
# Launcher hardening: a process started by `mcpfence run` cannot act through an
# ungoverned process (ptrace, its memory, its descriptors, its signals, its
# abstract sockets) nor undo enforcement (bpf, perf, user namespaces, setns),
# yet runs ordinary programs; --no-harden skips it and the audit says so.
. "$(dirname "$0")/../lib.sh"

E=$MF_HELPERS/escape
[ -x "$E" ] || skip_all "build/tests/escape is not built (make)"

# The holder's abstract name is granted to the server (servers.*.unix): what
# refuses it under hardening is the Landlock scope, not the unix hook.
name=mcpfence-test-$$
sed 's|"fetch": {}|"fetch": { "unix": ["@'"$name"'"] }|' policy/examples/fetch.json \
	>"$MF_TMP/fetch.json"
agent_start "$MF_TMP/fetch.json" || exit 1

# As root: --allow-root (its notice on stderr is left out of the outcomes).
hard() { mf run --allow-root --identity alice --server fetch -- "$E" "$@" 2> >(grep -v -- '--allow-root: ' >&2); }
soft() { mf run --allow-root --no-harden --identity alice --server fetch -- "$E" "$@" 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }

landlock_abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(444, None, 0, 1))' 2>/dev/null || echo 0)
[ "$landlock_abi" -ge 6 ] 2>/dev/null || landlock_abi=0

# Ungoverned targets: a sleeping process, and one that holds a listening
# socket on an abstract address and a buffer to write into. Root without
# capabilities, as the --allow-root servers below: the kernel lets those reach
# them (same uid, no capability they lack), so what refuses is the hardening.
nocaps=(setpriv --bounding-set=-all --inh-caps=-all --)
"${nocaps[@]}" sleep 1000 &
sleeper=$!
kill_at_exit "$sleeper"
"${nocaps[@]}" "$E" hold "$name" >"$MF_TMP/hold.out" &
holder=$!
kill_at_exit "$holder"
wait_for test -s "$MF_TMP/hold.out" || { diag "escape hold did not start"; exit 1; }
read -r hold_pid hold_fd hold_addr <"$MF_TMP/hold.out"
is "$hold_pid" "$holder" "the ungoverned holder is up"
is "$("${nocaps[@]}" "$E" ptrace-attach "$sleeper")" OK "root without capabilities may ptrace them, ungoverned"

# Each attempt is refused under hardening, and the same attempt succeeds
# without it (as root): the refusal is the hardening's, not the kernel's.
check() {
	local want=$1 what=$2
	shift 2
	is "$(hard "$@" 2>&1)" "$want" "hardened: $what is refused ($want)"
	is "$(soft "$@")" OK "with --no-harden: $what succeeds"
}
check EPERM "ptrace(PTRACE_ATTACH) of an ungoverned process" ptrace-attach "$sleeper"
check EPERM "ptrace(PTRACE_SEIZE) of an ungoverned process" ptrace-seize "$sleeper"
alive "$sleeper"
ok $? "the ptraced process still runs"
check EPERM "process_vm_writev into an ungoverned process" vm-write "$holder" "$hold_addr"
check EPERM "process_vm_readv of an ungoverned process" vm-read "$holder" "$hold_addr"
check EPERM "pidfd_getfd of an ungoverned process's socket" getfd "$holder" "$hold_fd"
check EPERM "unshare(CLONE_NEWUSER)" unshare-userns
check EPERM "clone(CLONE_NEWUSER)" clone-userns
check EPERM "setns" setns
check EPERM "bpf(BPF_PROG_LOAD)" bpf
check EPERM "perf_event_open" perf
check ENOSYS "clone3 (libc falls back to clone)" clone3

if [ "$landlock_abi" -ge 6 ]; then
	check EPERM "connect to an abstract socket of an ungoverned process" \
		connect-abstract "$name"
	is "$(hard kill "$sleeper" 15)" EPERM "hardened: kill() of an ungoverned process is refused (EPERM)"
	is "$(hard kill "$sleeper" 0)" EPERM "even signal 0"
	alive "$sleeper"
	ok $? "the ungoverned process was not signalled"
	# Landlock limits ptrace-mode access to the domain: /proc/PID/mem too.
	check EACCES "writing /proc/PID/mem of an ungoverned process" proc-mem "$holder" "$hold_addr"
else
	for i in 1 2 3 4 5 6 7; do ok 0 "# SKIP Landlock ABI $landlock_abi < 6: no scopes"; done
fi
alive "$holder"
ok $? "the ungoverned holder still runs"

# A foreign syscall ABI kills the process: the filter knows native numbers only.
if [ "$({ "$E" int80; } 2>/dev/null)" = OK ]; then
	hard int80 >/dev/null 2>&1
	is "$?" $((128 + 31)) "hardened: a syscall through int 0x80 (i386 ABI) is killed (SIGSYS)"
else
	ok 0 "# SKIP no i386 emulation in this kernel"
fi
hard x32 >/dev/null 2>&1
is "$?" $((128 + 31)) "hardened: a syscall with the x32 bit is killed (SIGSYS)"

# Ordinary work still runs under hardening.
is "$(mf run --allow-root --identity alice --server fetch -- sh -c 'echo $((6 * 7))')" 42 "sh -c runs"
is "$(mf run --allow-root --identity alice --server fetch -- sh -c 'sh -c "echo child"; /bin/echo exec')" \
	"child
exec" "a child fork/exec runs"
is "$(hard fork-signal)" OK "a signal to its own child is delivered"
is "$(mf run --allow-root --identity alice --server fetch -- sh -c 'sleep 100 & kill $!; wait $!; echo $?' 2>/dev/null)" \
	143 "sh kills its own background job"
is "$(hard thread)" OK "pthread_create works (clone3 falls back to clone)"
is "$(hard rename "$MF_TMP")" OK "rename and link across directories work (Landlock handles no file access)"
if command -v node >/dev/null; then
	is "$(mf run --allow-root --identity alice --server fetch -- node -e 'console.log(1)')" 1 "node runs"
	is "$(mf run --allow-root --identity alice --server fetch -- node -e \
		'console.log(require("child_process").execFileSync("sh", ["-c", "echo 2"]).toString().trim())')" \
		2 "node starts a child"
else
	ok 0 "# SKIP node is not installed"
	ok 0 "# SKIP node is not installed"
fi
is "$(mf run --allow-root --identity alice --server fetch -- "$MF_BUILD/mcpfence" whoami)" "alice fetch" \
	"whoami reaches the agent (a path socket, not abstract)"
is "$(mf run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" connect tcp 127.0.0.1 443)" \
	EPERM "egress is still judged by policy"
is "$(hard unshare-userns; hard unshare-userns)" "EPERM
EPERM" "the filter holds for every run"
is "$(mf run --allow-root --identity alice --server fetch -- sh -c "$E unshare-userns")" EPERM \
	"and for descendants"

# Ungoverned processes are unaffected.
is "$("$E" unshare-userns)" OK "ungoverned: unshare(CLONE_NEWUSER) works"
is "$("$E" ptrace-attach "$sleeper")" OK "ungoverned: ptrace works"
is "$("$E" connect-abstract "$name")" OK "ungoverned: abstract connect works"
is "$("$E" clone3)" OK "ungoverned: clone3 works"

# The tag's audit record says whether hardening was applied.
mf audit --json >"$MF_TMP/audit.json"
is "$(jq -r 'select(.event == "tag") | .harden' "$MF_TMP/audit.json" | sort | uniq -c |
	awk '{print $2}' | tr '\n' ' ')" "false true " "tag records say harden true, or false for --no-harden"
is "$(jq -r 'select(.event == "tag" and .harden == true) | .landlock' "$MF_TMP/audit.json" | sort -u)" \
	"$([ "$landlock_abi" -ge 6 ] && echo true || echo false)" "and whether Landlock scopes were applied"

# Without Landlock (simulated: landlock_create_ruleset fails with ENOSYS).
out=$("$E" no-landlock "$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --identity alice \
	--server fetch -- "$E" unshare-userns 2>"$MF_TMP/warn")
is "$out" EPERM "without Landlock the server still starts, with the seccomp filter"
like "$(cat "$MF_TMP/warn")" "warning: the kernel's Landlock ABI is 0, scopes need 6" \
	"with a warning on stderr"
mf audit --json >"$MF_TMP/audit.json"
is "$(jq -r 'select(.event == "tag") | .landlock' "$MF_TMP/audit.json" | tail -1)" false \
	"and the tag record says landlock false"
out=$("$E" no-landlock "$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --require-landlock \
	--identity alice --server fetch -- echo started 2>&1)
is "$?" 1 "--require-landlock refuses to start the server without Landlock"
like "$out" "refusing to start echo \\(--require-landlock\\)" "and says so"
if [ "$landlock_abi" -ge 6 ]; then
	is "$(mf run --allow-root --require-landlock --identity alice --server fetch -- echo started)" started \
		"--require-landlock starts it when Landlock is there"
else
	ok 0 "# SKIP Landlock ABI $landlock_abi < 6"
fi
out=$(mf run --allow-root --no-harden --require-landlock --identity alice --server fetch -- true 2>&1)
is "$?" 2 "--no-harden with --require-landlock is a usage error"

done_testing
