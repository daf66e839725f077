#!/usr/bin/env bash
# Syscalls of another ABI: a 64-bit process may enter the i386 syscall table
# (int 0x80) where the kernel has IA32 emulation. Its socket() (359) and
# socketcall() (102) create sockets without passing the checks made by the
# x86-64 number (the per-syscall tracepoints skip compat syscalls), so a
# server tagged at exec could get a packet socket. Launched servers are
# killed by seccomp on the first such syscall; exec-tagged and --no-harden
# ones are killed by the raw syscall tracepoint, audited as abi-kill. Any
# foreign-ABI syscall of theirs kills, x32 numbers too (the kernel here may
# run them or not). Ungoverned processes are untouched.
. "$(dirname "$0")/../lib.sh"

E=$MF_HELPERS/escape
I=$MF_HELPERS/int80
[ -x "$E" ] && [ -x "$I" ] || skip_all "build/tests/escape or int80 is not built (make)"
[ "$("$E" int80 2>/dev/null)" = OK ] || skip_all "no i386 syscalls here (IA32 emulation off)"

# Copies stand for MCP server binaries tagged at exec.
cp "$I" "$MF_TMP/int80-server"
cp "$E" "$MF_TMP/escape-server"
cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "servers": { "web": {},
               "tool": { "exec": ["$MF_TMP/int80-server", "$MF_TMP/escape-server"] } },
  "rules": []
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1
AF_INET=2 AF_NETLINK=16 AF_PACKET=17 SOCK_DGRAM=2 SOCK_RAW=3 ETH_P_ALL_BE=768

is "$(mf status --json | jq -r '.programs[] | select(.name == "mf_sys_enter") | .pinned')" true \
	"exec matches: the syscall tracepoint is attached"

# Ungoverned, with the tracepoint attached: the kernel gives the sockets.
is "$("$I" socket $AF_PACKET $SOCK_RAW $ETH_P_ALL_BE)" OK "ungoverned: i386 socket() of a packet socket"
is "$("$I" socketcall $AF_PACKET $SOCK_RAW $ETH_P_ALL_BE)" OK "ungoverned: i386 socketcall(SYS_SOCKET) likewise"
is "$("$E" int80)" OK "ungoverned: i386 getpid"
"$E" x32 >/dev/null
is "$?" 0 "ungoverned: an x32 syscall number is not killed"

# Exec-tagged: killed on the syscall (the kill lands after it: a process
# sharing the descriptor table keeps what it made, docs/bypass-matrix.md).
out=$("$MF_TMP/int80-server" socket $AF_PACKET $SOCK_RAW $ETH_P_ALL_BE 2>/dev/null)
is "$?:$out" "137:" "exec-tagged: i386 socket() of a packet socket kills the process"
out=$("$MF_TMP/int80-server" socketcall $AF_PACKET $SOCK_RAW $ETH_P_ALL_BE 2>/dev/null)
is "$?:$out" "137:" "exec-tagged: i386 socketcall(SYS_SOCKET) kills"
out=$("$MF_TMP/int80-server" socket $AF_NETLINK $SOCK_RAW 0 2>/dev/null)
is "$?:$out" "137:" "exec-tagged: any i386 socket() kills, netlink too"
"$MF_TMP/escape-server" int80 >/dev/null 2>&1
is "$?" 137 "exec-tagged: any i386 syscall kills (getpid)"
"$MF_TMP/escape-server" x32 >/dev/null 2>&1
is "$?" 137 "exec-tagged: an x32 syscall number kills"
is "$("$MF_TMP/escape-server" socket $AF_INET $SOCK_DGRAM)" OK "exec-tagged: native syscalls still work"

# --no-harden launch: the same.
mf run --allow-root --no-harden --identity alice --server web -- "$I" socket $AF_PACKET $SOCK_RAW \
	$ETH_P_ALL_BE >/dev/null 2>&1
is "$?" 137 "--no-harden launch: i386 socket() kills"

mf audit --json >"$MF_TMP/audit.json"
is "$(jq -r 'select(.event == "abi-kill") | "\(.verdict) \(.abi) \(.syscall) \(.server)"' \
	"$MF_TMP/audit.json" | LC_ALL=C sort | tr '\n' ',')" \
	"deny ia32 102 tool,deny ia32 20 tool,deny ia32 359 tool,deny ia32 359 tool,deny ia32 359 web,deny x32 39 tool," \
	"each kill is audited: abi-kill with the ABI and its syscall number"
like "$(mf audit)" "abi-kill ia32 syscall 359" "mcpfence audit shows it"
is "$(mf status --json | jq '.counters.killed')" 6 "and counted"

done_testing
