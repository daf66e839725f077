#!/usr/bin/env bash
# The resolver's side toward its upstreams: queries go on a small pool of
# connected UDP sockets (each from a random port, replaced after 128
# queries) with an id the agent picks at random; the client gets its own id
# back. An answer with another id, or another question, is not taken: its
# addresses are not installed. An upstream that refuses (ICMP) passes the
# query on to the next. The upstream here is a fake one (Python on
# 127.0.0.1) that logs the source port and id of each query and, for
# forged.test, sends two forgeries before the answer.
. "$(dirname "$0")/../lib.sh"

command -v dig >/dev/null || skip_all "dig is not installed (scripts/deps.sh)"
UP=$((6400 + $$ % 400))	   # the fake upstream's port
DEAD=$((6900 + $$ % 400)) # nobody listens there

cat >"$MF_TMP/upstream.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
log = open(sys.argv[2], "a", buffering=1)
print("ready", file=log)
def reply(q, qid, end, addr):
    rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton(addr)
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q[12:end] + rr
while True:
    q, peer = s.recvfrom(4096)
    qid, off, labels = struct.unpack("!H", q[:2])[0], 12, []
    while q[off]:
        labels.append(q[off + 1:off + 1 + q[off]].decode())
        off += 1 + q[off]
    end, name = off + 5, ".".join(labels)
    print(peer[1], qid, name, file=log)
    if name == "forged.test":
        s.sendto(reply(q, qid ^ 1, end, "203.0.113.66"), peer)
        other = q[:12] + b"\x05other\x04test\x00" + q[end - 4:end]
        s.sendto(reply(other, qid, len(other), "203.0.113.67"), peer)
    s.sendto(reply(q, qid, end, "203.0.113.5"), peer)
PY
python3 "$MF_TMP/upstream.py" $UP "$MF_TMP/up.log" &
kill_at_exit $!
disown $!
wait_for grep -qx ready "$MF_TMP/up.log"

policy() {
	cat >"$MF_TMP/policy.json" <<JSON
{ "version": 1, "dns": { "upstream": [$1] },
  "servers": { "web": {} },
  "rules": [ { "name": "alice-names", "server": "web", "who": ["alice"],
               "allow": [ { "host": "*.test", "ports": [443] } ] } ] }
JSON
}
policy "\"127.0.0.1:$UP\""
agent_start "$MF_TMP/policy.json" || exit 1
gov() { mf run --allow-root --no-harden --identity alice --server web -- "$@" 2>/dev/null; }
reach() { unshare -n sh -c "ip link set lo up && exec '$MF_BUILD/mcpfence' --socket '$MF_SOCK' \
	run --allow-root --no-harden --identity alice --server web -- \
	'$MF_HELPERS/probe' connect tcp $1 443" 2>/dev/null; }

is "$(gov dig +short +tries=1 +time=3 @192.0.2.53 forged.test)" 203.0.113.5 \
	"an answer with another id or question is not taken for the reply"
is "$(reach 203.0.113.66)$(reach 203.0.113.67)" EPERMEPERM "nor are its addresses installed"
is "$(reach 203.0.113.5)" ENETUNREACH "the true answer's are"

# Two queries with the same id from one socket at once, then N more, 32 in
# flight: every answer comes back with the id its client gave.
cat >"$MF_TMP/client.py" <<'PY'
import socket, struct, sys
def query(qid, name):
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + b"\0\1\0\1"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("192.0.2.53", 53))
s.settimeout(3)
s.send(query(0x1234, "same-a.test"))
s.send(query(0x1234, "same-b.test"))
same = sorted(s.recv(512)[:2].hex() for _ in range(2))
n, sent, ok, inflight = int(sys.argv[1]), 0, 0, 0
while sent < n or inflight:
    while sent < n and inflight < 32:
        s.send(query(sent, f"q{sent}.test"))
        sent, inflight = sent + 1, inflight + 1
    r = s.recv(512)
    inflight -= 1
    qid = struct.unpack("!H", r[:2])[0]
    label = f"q{qid}".encode()
    ok += r[3] & 15 == 0 and r[12] == len(label) and r[13:13 + len(label)] == label
print(" ".join(same), f"ok={ok}")
PY
is "$(gov python3 "$MF_TMP/client.py" 2048)" "1234 1234 ok=2048" \
	"clients get their own ids back, two alike at once included"
is "$(grep -cE ' 4660 same-[ab]\.test$' "$MF_TMP/up.log")" 0 "the upstream saw the agent's ids, not the client's"
ports=$(awk '$3 ~ /^q[0-9]+\.test$/ { n[$1]++ } END { for (p in n) print n[p] }' "$MF_TMP/up.log")
nports=$(wc -l <<<"$ports")
most=$(sort -n <<<"$ports" | tail -1)
diag "2048 queries went from $nports source ports, at most $most from one"
[ "$nports" -ge 16 ] && [ "$nports" -le 64 ]
ok $? "sockets are kept open ($nports ports for 2048 queries) and replaced"
[ "$most" -le 128 ]
ok $? "none sends more than 128 queries"

# An upstream that refuses: the query goes on to the next one at once.
policy "\"127.0.0.1:$DEAD\", \"127.0.0.1:$UP\""
mf policy load "$MF_TMP/policy.json" >/dev/null
t0=$(date +%s%N)
is "$(gov dig +short +tries=1 +time=3 @192.0.2.53 next.test)" 203.0.113.5 \
	"an upstream that refuses passes the query to the next"
[ $(($(date +%s%N) - t0)) -lt 1500000000 ]
ok $? "without waiting for a timeout"
like "$(mf status --json | jq -c .dns.counters)" '"servfail":0,' "nothing failed"

done_testing
