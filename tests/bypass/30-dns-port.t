#!/usr/bin/env bash
# The resolver knows who asked by the query's source port. A governed socket
# the redirect marked once may send straight to the resolver's port again
# (a connected AF_INET6 socket to ::ffff:a.b.c.d does so for every datagram):
# such a send must be recorded under its sender's own tag before it leaves,
# or the port is looked up as whoever used it last. Here bob asks for a name
# only he is granted from port P; then alice, bound to the same P, marks her
# socket with a redirected connect, disconnects (the bound port stays) and
# sends the same name straight to the resolver: she must get NXDOMAIN, and
# the name must not leave the host.
. "$(dirname "$0")/../lib.sh"

command -v dnsmasq >/dev/null || skip_all "dnsmasq is not installed (scripts/deps.sh)"
UP=$((5400 + $$ % 500)) # dnsmasq's port
P=$((47300 + $$ % 500))  # the source port both use
dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=$UP --pid-file= --conf-file=/dev/null --user=root \
	--log-queries --log-facility=- --address=/wild.test/203.0.113.44 >"$MF_TMP/dnsmasq.out" 2>&1 &
kill_at_exit $!
disown $!

cat >"$MF_TMP/policy.json" <<JSON
{ "version": 1, "dns": { "upstream": ["127.0.0.1:$UP"] },
  "servers": { "web": { "listen": [$P] } },
  "rules": [ { "name": "bob-names", "server": "web", "who": ["bob"],
               "allow": [ { "host": "*.wild.test" } ] } ] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1
wait_for grep -q "started" "$MF_TMP/dnsmasq.out"
RP=$(mf status --json | jq '.dns.ports.udp4')
gov() { mf run --allow-root --no-harden --identity "$1" --server web -- "$MF_HELPERS/dnsport" "${@:2}"; }

is "$(gov bob "$P" b1.wild.test)" rcode=0 "bob's granted name, from port $P: answered"
# Right after bob: the port's entry is his until someone records it anew.
is "$(gov alice "$P" exfil-secret.wild.test "$RP")" rcode=3 \
	"alice from bob's port, straight to the resolver after a redirect: NXDOMAIN (her own grants)"
is "$(gov alice "$P" exfil-secret.wild.test)" rcode=3 "alice asking for it the ordinary way: NXDOMAIN"
! grep -q "query.*exfil-secret" "$MF_TMP/dnsmasq.out"
ok $? "alice's name never left the host"
is "$(gov alice "$P" other.test "$RP")" rcode=3 "and a name nobody is granted: NXDOMAIN too"

done_testing
