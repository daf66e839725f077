#!/usr/bin/env bash
# The addresses the resolver learns from answers share one kernel map
# (dns_learned, 65,536 entries). One (identity, server) may hold at most
# MF_LEARNED_PER_ASKER (2,048) of them: a governed server that asks for more
# names than the map holds, each answered with an address of its own, evicts
# its own oldest entries and nobody else's. Here alice floods 70,000 names
# of a granted wildcard (dnsmasq synthesizes 10-a-b-c.flood.test -> 10.a.b.c);
# bob's granted name must still resolve and connect. Without the quota the
# map fills and bob gets SERVFAIL. Connects run in a network namespace
# without routes: allowed is ENETUNREACH, denied EPERM; nothing leaves.
. "$(dirname "$0")/../lib.sh"

command -v dnsmasq >/dev/null || skip_all "dnsmasq is not installed (scripts/deps.sh)"
command -v dig >/dev/null || skip_all "dig is not installed (scripts/deps.sh)"
UP=$((5500 + $$ % 400)) # dnsmasq's port
FLOOD=70000
dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=$UP --pid-file= --conf-file=/dev/null --user=root \
	--local-ttl=3600 --synth-domain=flood.test,10.0.0.0,10.1.255.255 \
	--host-record=api.bob.test,203.0.113.5 >"$MF_TMP/dnsmasq.out" 2>&1 &
kill_at_exit $!
disown $!
wait_for dig +short +tries=1 +time=1 @127.0.0.1 -p $UP api.bob.test ||
	{ diag "dnsmasq did not start"; sed 's/^/#   /' "$MF_TMP/dnsmasq.out"; exit 1; }

cat >"$MF_TMP/policy.json" <<JSON
{ "version": 1,
  "dns": { "upstream": ["127.0.0.1:$UP"], "min_ttl": 3600, "max_ttl": 3600 },
  "servers": { "web": {} },
  "rules": [ { "name": "alice-flood", "server": "web", "who": ["alice"],
               "allow": [ { "host": "*.flood.test", "ports": [443], "private": true } ] },
             { "name": "bob-names", "server": "web", "who": ["bob"],
               "allow": [ { "host": "api.bob.test", "ports": [443] } ] } ] }
JSON
MF_KEEP_PINS=1 # the restart below needs dns_learned to outlive the agent
agent_start "$MF_TMP/policy.json" || exit 1
gov() { mf run --allow-root --no-harden --identity "$1" --server web -- "${@:2}" 2>/dev/null; }
# A connect from a namespace without routes: ENETUNREACH when allowed.
reach() { unshare -n sh -c "ip link set lo up && exec '$MF_BUILD/mcpfence' --socket '$MF_SOCK' \
	run --allow-root --no-harden --identity $1 --server web -- \
	'$MF_HELPERS/probe' connect tcp $2 443" 2>/dev/null; }

# alice's flood: one name per address, 64 queries in flight on one socket
# (redirected to the agent's resolver); counts answers with an address and
# the rest.
cat >"$MF_TMP/flood.py" <<'PY'
import socket, struct, sys
n, window = int(sys.argv[1]), 64
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("192.0.2.53", 53))
s.settimeout(2)
def query(i):
    name = f"10-{i >> 16}-{(i >> 8) & 255}-{i & 255}.flood.test"
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0) + q + b"\0\1\0\1"
sent = answered = failed = 0
inflight = 0
while sent < n or inflight:
    while sent < n and inflight < window:
        s.send(query(sent))
        sent += 1
        inflight += 1
    try:
        r = s.recv(4096)
    except socket.timeout:
        inflight = 0  # lost: not counted
        continue
    inflight -= 1
    rcode, ancount = r[3] & 15, struct.unpack("!H", r[6:8])[0]
    if rcode == 0 and ancount:
        answered += 1
    else:
        failed += 1
print(f"answered={answered} failed={failed}")
PY
out=$(gov alice python3 "$MF_TMP/flood.py" $FLOOD)
diag "alice's flood of $FLOOD names: $out"
like "$out" "failed=0\$" "alice's flood is answered (her own oldest addresses make room)"
st=$(mf status --json)
ev=$(jq .dns.counters.learned_evicted <<<"$st")
[ "${ev:-0}" -ge $((FLOOD - 2048 - 1000)) ]
ok $? "her addresses past the quota evicted her oldest, counted ($ev)"
n=$(jq .dns.learned <<<"$st")
[ "${n:-99999}" -le 2048 ]
ok $? "she holds at most her quota ($n)"

is "$(gov bob dig +short +tries=1 +time=3 @192.0.2.53 api.bob.test)" 203.0.113.5 \
	"bob's granted name still resolves"
is "$(reach bob 203.0.113.5)" ENETUNREACH "and bob connects to it"
is "$(reach alice 10.1.17.111)" ENETUNREACH "alice's newest learned address is open"
is "$(reach alice 10.0.0.1)" EPERM "her oldest was evicted: closed"

# dns_learned is pinned: an agent that starts on the pins finds what the
# last one installed. What the kernel still honours counts toward its
# pair's quota again; what it no longer honours must go, or restarts fill
# the map for good.
learned() { bpftool map dump pinned "$MF_PIN_DIR/dns_learned" -j | jq length; }
total=$(learned)
diag "dns_learned holds $total entries before the restart"
agent_stop
# Restarted without the saved policy text, the agent keeps the active
# policy (it grants no name until a load): the entries stay honoured.
mv "$MCPFENCE_STATE_DIR" "$MF_TMP/state.away"
"$MF_BUILD/mcpfenced" --socket "$MF_SOCK" --pin-dir "$MF_PIN_DIR" --audit-log "$MF_AUDIT_LOG" \
	>>"$MF_TMP/agent.out" 2>&1 &
MF_AGENT_PID=$!
wait_for mf status
is "$(mf status --json | jq .dns.learned)" "$total" \
	"an agent that keeps the policy takes them over (each pair's quota counts them)"
is "$(learned)" "$total" "and keeps them in the map"
agent_stop
# Started with a policy, the agent runs a new generation: none is honoured.
MF_KEEP_PINS=0
agent_start "$MF_TMP/policy.json" || exit 1
is "$(learned)" 0 "a restarted agent deletes the entries the kernel no longer honours"
is "$(gov bob dig +short +tries=1 +time=3 @192.0.2.53 api.bob.test)" 203.0.113.5 \
	"bob's name resolves after the restart"
is "$(learned)" 1 "and is installed again"

done_testing
