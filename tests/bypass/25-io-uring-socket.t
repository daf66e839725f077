#!/usr/bin/env bash
# io_uring creates sockets without the socket() syscall (IORING_OP_SOCKET),
# so the syscall tracepoint that kills a governed process asking for a
# family the hooks cannot see (AF_PACKET...) is not passed. A tracepoint
# cannot fail a request, and the requests submitted with it run before a
# kill lands: a packet socket and a send on it in one submission get a packet
# out. So, unless the policy allows io_uring, a governed process that sets
# up or enters a ring is killed; where it is allowed, IORING_OP_SOCKET of
# such a family kills.
. "$(dirname "$0")/lib.sh"

netns_setup || exit 1
cat >"$MF_TMP/policy.json" <<'JSON'
{
  "version": 1,
  "servers": { "web": {} },
  "rules": [
    { "name": "alice-web", "server": "web", "who": ["alice"],
      "allow": [ { "to": "127.0.0.1/32" } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

ur() { "$MF_HELPERS/uring_socket" "$@"; }
as_alice() { mf_ns run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/uring_socket" "$@" 2>/dev/null; }
# The policy's io_uring allowance for the server.
allow_io_uring() {
	sed 's|"web": {}|"web": { "io_uring": true }|' "$MF_TMP/policy.json" >"$MF_TMP/uring.json"
	mf policy load "$MF_TMP/uring.json" >/dev/null
}

is "$(ur packet)" OK "ungoverned: io_uring creates a packet socket"
sniff_start "$MF_NS_V4_B"
is "$(nsx "$MF_HELPERS/uring_socket" packet-send mf0 "$MF_NS_V4_B")" OK \
	"ungoverned: a packet socket and a send on it in one submission"
[ "$(sniff_stop)" -gt 0 ]
ok $? "ungoverned: the sniffer sees that packet"
is "$(ur ring "$MF_HELPERS/uring_socket" enter3)" OK "ungoverned: io_uring_enter on an inherited ring"

sniff_start "$MF_NS_V4_B"
as_alice packet-send mf0 "$MF_NS_V4_B" >/dev/null
is "$?" 137 "governed: io_uring setup kills the process"
sniff_check "governed: the packet socket and the send submitted with it never run"
as_alice unix >/dev/null
is "$?" 137 "governed: any ring, even for a unix socket, kills"
ur ring "$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --no-harden --identity alice --server web -- \
	"$MF_HELPERS/uring_socket" enter3 >/dev/null 2>&1
is "$?" 137 "governed: entering a ring set up before the process was governed kills"

# The 32-bit entry (int 0x80) skips the socket() syscall tracepoint too;
# for launched servers seccomp kills the first foreign-ABI syscall.
mf run --allow-root --identity alice --server web -- "$MF_HELPERS/int80" socket 17 3 768 >/dev/null 2>&1
is "$?" 159 "launched: a 32-bit socket() is killed by seccomp (SIGSYS)"

allow_io_uring
as_alice packet >/dev/null
is "$?" 137 "io_uring allowed: IORING_OP_SOCKET for a packet socket kills"
as_alice packet sqpoll >/dev/null
is "$?" 137 "io_uring allowed: the same, submitted by the ring's kernel thread (SQPOLL)"
is "$(as_alice inet6-udp)" OK "io_uring allowed: an inet socket (judged by cgroup/sock_create)"
is "$(as_alice unix)" OK "io_uring allowed: a unix socket"

mf audit --json >"$MF_TMP/audit.json"
is "$(jq -r 'select(.event == "uring-kill") | .op' "$MF_TMP/audit.json" | sort | uniq -c | awk '{print $1, $2}' | tr '\n' ' ')" \
	"1 enter 2 setup " "each ring setup and enter is audited"
is "$(jq -r 'select(.event == "uring-socket-kill") | "\(.verdict) \(.socket_family) \(.socket_type)"' "$MF_TMP/audit.json" | sort | uniq -c | awk '{print $1, $2, $3, $4}')" \
	"2 deny 17 3" "each packet socket request is audited (family 17, type 3)"
is "$(mf status --json | jq '.counters.killed')" 5 "every kill is counted"

done_testing
