#!/usr/bin/env bash
# Socket families the hooks cannot judge, and io_uring, for servers started
# with `mcpfence run`: its seccomp filter refuses socket() and socketpair() of
# any family but Unix, IPv4, IPv6 and netlink (EAFNOSUPPORT, as from a kernel
# without it: programs fall back), and io_uring_setup (EPERM) unless the policy
# says "io_uring": true for the server. io_uring's socket operation creates
# sockets without passing the socket() syscall: only refusing the ring closes it.
. "$(dirname "$0")/../lib.sh"

E=$MF_HELPERS/escape
[ -x "$E" ] || skip_all "build/tests/escape is not built (make)"

user=mcpft$$f
useradd --no-create-home --shell /usr/sbin/nologin "$user" || skip_all "cannot create a test user"
at_exit "user_del $user"
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$E" "$MF_TMP/bin/"
M=$MF_TMP/bin/mcpfence
ESC=$MF_TMP/bin/escape

cat >"$MF_TMP/policy.json" <<'JSON'
{ "version": 1,
  "servers": { "fetch": {}, "ring": { "io_uring": true } },
  "rules": [] }
JSON
chmod 644 "$MF_TMP/policy.json"
agent_start "$MF_TMP/policy.json" || exit 1

hard() { mf run --allow-root --identity alice --server fetch -- "$E" "$@" 2>/dev/null; }
user_hard() {
	(cd "$MF_TMP" && runuser -u "$user" -- "$M" --socket "$MF_SOCK" run --identity "$user" \
		--server "${SERVER:-fetch}" -- "$ESC" "$@" 2>/dev/null)
}
AF_UNIX=1 AF_INET=2 AF_INET6=10 AF_NETLINK=16 AF_PACKET=17 AF_ALG=38 AF_VSOCK=40
SOCK_STREAM=1 SOCK_DGRAM=2 SOCK_RAW=3 SOCK_SEQPACKET=5

# Packet sockets (root): ungoverned the kernel gives one; hardened, the filter refuses.
is "$("$E" socket $AF_PACKET $SOCK_RAW)" OK "ungoverned root: AF_PACKET socket created"
is "$(hard socket $AF_PACKET $SOCK_RAW)" EAFNOSUPPORT "hardened root: AF_PACKET socket refused (EAFNOSUPPORT)"
is "$(hard socket $AF_PACKET $SOCK_RAW high)" EAFNOSUPPORT "also with bits above the family's 32"
hard socket $AF_PACKET $SOCK_RAW >/dev/null
is "$?" 0 "refused, not killed: the process goes on"
# vsock (any user): reaches other machines' (the host's, a VM's) services unjudged.
is "$(runuser -u "$user" -- "$ESC" socket $AF_VSOCK $SOCK_STREAM)" OK "ungoverned user: AF_VSOCK socket created"
is "$(user_hard socket $AF_VSOCK $SOCK_STREAM)" EAFNOSUPPORT "hardened user: AF_VSOCK socket refused"
is "$(user_hard socketpair $AF_VSOCK $SOCK_STREAM)" EAFNOSUPPORT "hardened user: socketpair(AF_VSOCK) refused"
if [ "$("$E" socket $AF_ALG $SOCK_SEQPACKET)" = OK ]; then
	is "$(user_hard socket $AF_ALG $SOCK_SEQPACKET)" EAFNOSUPPORT "hardened user: AF_ALG socket refused"
else
	ok 0 "# SKIP AF_ALG is not in this kernel"
fi
# The families the hooks judge, or that stay local, still work.
is "$(user_hard socket $AF_UNIX $SOCK_STREAM)" OK "hardened: AF_UNIX socket"
is "$(user_hard socketpair $AF_UNIX $SOCK_STREAM)" OK "hardened: socketpair(AF_UNIX)"
is "$(user_hard socket $AF_INET $SOCK_DGRAM)" OK "hardened: AF_INET socket"
is "$(user_hard socket $AF_INET6 $SOCK_STREAM)" OK "hardened: AF_INET6 socket"
is "$(user_hard socket $AF_NETLINK $SOCK_RAW)" OK "hardened: AF_NETLINK socket"

# io_uring: refused unless the policy allows it for the server.
if [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ] &&
	[ "$("$E" io-uring)" = OK ]; then
	is "$(runuser -u "$user" -- "$ESC" io-uring)" OK "ungoverned user: io_uring_setup works"
	is "$(user_hard io-uring)" EPERM "hardened user, server without io_uring: io_uring_setup refused"
	is "$(hard io-uring)" EPERM "hardened root: likewise"
	is "$(SERVER=ring user_hard io-uring)" OK "server with \"io_uring\": true: io_uring_setup works"
	is "$(SERVER=ring user_hard socket $AF_VSOCK $SOCK_STREAM)" EAFNOSUPPORT \
		"and the rest of the filter holds there"
else
	for i in 1 2 3 4 5; do ok 0 "# SKIP io_uring is disabled here"; done
fi
# The tag reply says what the policy allows.
like "$(printf '%s\n' '{"op": "tag", "identity": "alice", "server": "ring"}' |
	socat -t 2 - "UNIX-CONNECT:$MF_SOCK")" '"io_uring":true' "the tag reply carries io_uring for the server"

done_testing
