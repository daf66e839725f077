#!/usr/bin/env bash
# DNS over TCP: the resolver holds at most 64 connections for the host. One
# (identity, server) may hold only 8 of them, so a governed server that opens
# connections and keeps them busy cannot deny everyone else their lookups.
. "$(dirname "$0")/../lib.sh"

command -v dnsmasq >/dev/null || skip_all "dnsmasq is not installed (scripts/deps.sh)"
command -v dig >/dev/null || skip_all "dig is not installed (scripts/deps.sh)"
UP=$((5900 + $$ % 90)) # dnsmasq's port
dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=$UP --pid-file= --conf-file=/dev/null --user=root \
	--host-record=api.bob.test,203.0.113.5 >"$MF_TMP/dnsmasq.out" 2>&1 &
kill_at_exit $!
disown $!

cat >"$MF_TMP/policy.json" <<JSON
{ "version": 1, "dns": { "upstream": ["127.0.0.1:$UP"] },
  "servers": { "web": {} },
  "rules": [ { "name": "bob-names", "server": "web", "who": ["bob"],
               "allow": [ { "host": "api.bob.test", "ports": [443] } ] } ] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1
gov() { mf run --allow-root --no-harden --identity "$1" --server web -- "${@:2}"; }

# alice opens 12 connections to "her" resolver (redirected to the agent's),
# asks once on each, then holds them all open.
cat >"$MF_TMP/hold.py" <<'PY'
import socket, struct, sys, time
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05alice\x04test\x00\x00\x01\x00\x01"
held, answered, closed = [], 0, 0
for i in range(12):
    s = socket.create_connection(("192.0.2.53", 53), timeout=3)
    held.append(s)
    try:
        s.sendall(struct.pack("!H", len(q)) + q)
        answered += 1 if len(s.recv(2)) == 2 else 0
    except OSError:
        pass
closed = 12 - answered
print(f"answered={answered} refused={closed}", flush=True)
time.sleep(30)
PY
gov alice python3 "$MF_TMP/hold.py" >"$MF_TMP/hold.out" 2>/dev/null &
kill_at_exit $!
wait_for grep -q answered "$MF_TMP/hold.out"
is "$(cat "$MF_TMP/hold.out")" "answered=8 refused=4" \
	"one identity gets 8 DNS-over-TCP connections; the rest are closed at once"
is "$(gov bob dig +tcp +short +tries=1 +time=3 @192.0.2.53 api.bob.test)" 203.0.113.5 \
	"while alice holds hers, bob's lookup over TCP is answered"
like "$(mf status --json | jq -c .dns)" '"busy":[1-9]' "the refusals are counted"

done_testing
