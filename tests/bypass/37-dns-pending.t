#!/usr/bin/env bash
# DNS over UDP: queries waiting for an upstream answer are bounded for the
# host (512). One (identity, server) may have only 64 of them waiting, so a
# governed server that floods names its upstream never answers cannot make
# the resolver refuse everyone else (found by a review: 700 unanswered
# queries of mallory's made alice's granted name SERVFAIL).
. "$(dirname "$0")/../lib.sh"

command -v dig >/dev/null || skip_all "dig is not installed (scripts/deps.sh)"
UP=$((6400 + $$ % 400)) # the stand-in upstream's port
# An upstream that answers every name with 203.0.113.5, but never a name
# under slow.test (its servers are down).
cat >"$MF_TMP/upstream.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", file=open(sys.argv[2], "w"), flush=True)
while True:
    q, peer = s.recvfrom(4096)
    off, labels = 12, []
    while q[off]:
        labels.append(q[off + 1:off + 1 + q[off]].decode())
        off += 1 + q[off]
    if labels[-2:] == ["slow", "test"]:
        continue
    rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton("203.0.113.5")
    s.sendto(q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + q[12:off + 5] + rr, peer)
PY
python3 "$MF_TMP/upstream.py" $UP "$MF_TMP/up.log" &
kill_at_exit $!
disown $!
wait_for grep -qx ready "$MF_TMP/up.log" || exit 1

# 700 queries for names under slow.test, sent at once to "a resolver"
# (redirected to the agent's), answers not read.
cat >"$MF_TMP/flood.py" <<'PY'
import socket, struct, random
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("192.0.2.53", 53))
for i in range(700):
    name = b"".join(bytes([len(l)]) + l for l in [b"n%d" % i, b"slow", b"test"]) + b"\0"
    s.send(struct.pack("!HHHHHH", random.getrandbits(16), 0x0100, 1, 0, 0, 0) + name + b"\0\1\0\1")
PY
cat >"$MF_TMP/policy.json" <<JSON
{ "version": 1, "dns": { "upstream": ["127.0.0.1:$UP"] }, "servers": { "web": {} },
  "rules": [ { "name": "names", "server": "web", "who": ["alice", "mallory"],
               "allow": [ { "host": "*.test", "ports": [443] } ] } ] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1
gov() { mf run --allow-root --no-harden --identity "$1" --server web -- "${@:2}" 2>/dev/null; }

is "$(gov alice dig +short +tries=1 +time=3 @192.0.2.53 ok.test)" 203.0.113.5 "before: alice's granted name resolves"
gov mallory python3 "$MF_TMP/flood.py"
is "$(gov alice dig +tries=1 +time=3 @192.0.2.53 ok.test | grep -o 'status: [A-Z]*')" "status: NOERROR" \
	"during mallory's flood: alice's granted name still resolves"
st=$(mf status --json)
pending=$(jq '.dns.pending' <<<"$st")
busy=$(jq '.dns.counters.busy' <<<"$st")
ok $((pending <= 64 ? 0 : 1)) "no more than 64 of mallory's queries wait upstream ($pending)"
ok $((busy > 0 ? 0 : 1)) "the rest are refused at once, counted ($busy busy; under load some are dropped at the socket first)"

done_testing
