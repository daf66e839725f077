#!/usr/bin/env bash
# Audit by flow: the decisions of one process for one (destination, port,
# protocol, verdict) within audit.window make one record at once and one
# summary with the count of the others when the window is over (the agent
# sweeps flows that stopped). Every decision is in exactly one record.
. "$(dirname "$0")/../lib.sh"

write_policy() { # FILE AUDIT-JSON
	cat >"$1" <<JSON
{
  "version": 1,
  "audit": $2,
  "servers": { "web": {} },
  "rules": [
    { "name": "alice-web", "server": "web", "who": ["alice"],
      "allow": [ { "to": "127.0.0.1/32", "ports": ["5000-5999"], "proto": "udp" } ] }
  ]
}
JSON
}
write_policy "$MF_TMP/flows.json" '{ "window": 2 }'
write_policy "$MF_TMP/all.json" '{ "allowed": "all", "window": 2 }'
write_policy "$MF_TMP/none.json" '{ "allowed": "none", "window": 0 }'
agent_start "$MF_TMP/flows.json" || exit 1

as_alice() { mf run --allow-root --identity alice --server web -- "$MF_HELPERS/probe" "$@" 2>/dev/null; }
# records ADDR PORT: the sendmsg records to it, as "flow:count" lines
records() {
	mf audit --json | jq -r --arg a "$1" --argjson p "$2" \
		'select(.event == "sendmsg" and .addr == $a and .port == $p) | "\(.flow // "alone"):\(.count // 1)"'
}
# decisions ADDR PORT: what the records of it add up to
decisions() { records "$1" "$2" | awk -F: '{ n += $2 } END { print n + 0 }'; }
summarized() { records "$1" "$2" | grep -q '^summary:'; }

is "$(mf status --json | jq -r '.policy.audit_allowed, .policy.audit_window' | tr '\n' ' ')" "flows 2 " \
	"status: allowed by flow, 2 s windows"

before=$(mf status --json | jq '.counters.allowed')
is "$(as_alice repeat 500 sendto udp 127.0.0.1 5001)" "OK=500" "500 allowed datagrams"
is "$(records 127.0.0.1 5001)" "first:1" "at once: one record, the flow's first"
wait_for summarized 127.0.0.1 5001
ok $? "the agent sweeps the window once it is over"
is "$(records 127.0.0.1 5001 | tr '\n' ' ')" "first:1 summary:499 " "one summary with the other 499"
is "$(($(mf status --json | jq '.counters.allowed') - before))" 500 "the kernel counted 500"

before=$(mf status --json | jq '.counters.denied')
is "$(as_alice repeat 300 sendto udp 127.0.0.2 5001)" "EPERM=300" "300 denied datagrams"
is "$(records 127.0.0.2 5001)" "first:1" "denied: the first at once"
wait_for summarized 127.0.0.2 5001
is "$(records 127.0.0.2 5001 | tr '\n' ' ')" "first:1 summary:299 " "denied: then one summary"
is "$(decisions 127.0.0.2 5001)" "$(($(mf status --json | jq '.counters.denied') - before))" \
	"the records add up to the kernel's count"
like "$(mf audit | grep '127.0.0.2:5001')" "udp 127.0.0.2:5001 \\+299" "mcpfence audit shows the count"

# Two processes, two flows.
as_alice repeat 20 sendto udp 127.0.0.1 5002 >/dev/null
as_alice repeat 30 sendto udp 127.0.0.1 5002 >/dev/null
wait_for test "$(records 127.0.0.1 5002 | grep -c summary)" -eq 2
is "$(records 127.0.0.1 5002 | sort | tr '\n' ' ')" "first:1 first:1 summary:19 summary:29 " \
	"each process its own flow"

# One process across a window: its next decision closes the window.
cat >"$MF_TMP/two-windows.py" <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for burst in range(2):
    for i in range(100):
        s.sendto(b"x", ("127.0.0.1", 5005))
    if burst == 0:
        time.sleep(2.3)
print("sent")
PY
is "$(mf run --allow-root --identity alice --server web -- python3 "$MF_TMP/two-windows.py" 2>/dev/null)" \
	sent "100 datagrams, a pause longer than the window, 100 more"
wait_for test "$(records 127.0.0.1 5005 | grep -c summary)" -eq 2
is "$(records 127.0.0.1 5005 | tr '\n' ' ')" "first:1 summary:99 first:1 summary:99 " \
	"the 101st closed the first window, the sweep the second"

mf policy load "$MF_TMP/all.json" >/dev/null
is "$(as_alice repeat 40 sendto udp 127.0.0.1 5003)" "OK=40" "allowed: all"
sleep 3.2
is "$(records 127.0.0.1 5003 | sort | uniq -c | awk '{ print $1, $2 }')" "40 alone:1" \
	"a record per allowed datagram"
mf policy load "$MF_TMP/none.json" >/dev/null
as_alice repeat 10 sendto udp 127.0.0.1 5004 >/dev/null
as_alice repeat 10 sendto udp 127.0.0.2 5004 >/dev/null
is "$(records 127.0.0.1 5004 | wc -l)" 0 "allowed: none, no allowed record"
is "$(records 127.0.0.2 5004 | sort | uniq -c | awk '{ print $1, $2 }')" "10 alone:1" \
	"window 0: a record per denial"
is "$(mf status --json | jq '.counters.flows_full')" 0 "no flow recorded alone for want of room"

# An agent that stops writes what its flows counted so far.
mf policy load "$MF_TMP/flows.json" >/dev/null
as_alice repeat 50 sendto udp 127.0.0.1 5006 >/dev/null
agent_stop
is "$(jq -r 'select(.event == "sendmsg" and .port == 5006) | "\(.flow):\(.count)"' "$MF_AUDIT_LOG" |
	tr '\n' ' ')" "first:1 summary:49 " "the agent stops: every flow summarized in the log"

done_testing
