#!/usr/bin/env bash
# A subscriber that does not read never blocks the agent: its queue is
# bounded, what does not fit is dropped for it alone, counted exactly, and
# reported to it within a second of reading again.
. "$(dirname "$0")/../lib.sh"
command -v socat >/dev/null || skip_all "socat is not installed (make deps)"

cat >"$MF_TMP/policy.json" <<'JSON'
{ "version": 1, "audit": { "window": 0 }, "servers": { "noisy": {} }, "rules": [] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1

# The reader stops reading for 5 s: socat fills the pipe, then the socket,
# then the agent's queue for it.
# Nothing here may hold the test's stdout (prove waits for it), and every
# process is known by pid so that it is killed at exit.
mkfifo "$MF_TMP/request"
(printf '{"op": "audit", "follow": true}\n' && exec sleep 20) >"$MF_TMP/request" 2>/dev/null &
kill_at_exit $!
socat -t 20 - "UNIX-CONNECT:$MF_SOCK" <"$MF_TMP/request" 2>/dev/null |
	{ sleep 5; exec cat; } >"$MF_TMP/slow.out" 2>&1 &
reader=$!
kill_at_exit $reader
wait_for sh -c "'$MF_BUILD/mcpfence' status --json | jq -e '.subscribers == 1'"
ok $? "the slow subscriber is subscribed"

# 40,000 denied datagrams, each one audited: far more than its queue holds.
mf run --allow-root --identity noisy --server noisy -- "$MF_HELPERS/probe" repeat 40000 sendto udp 127.0.0.2 9 \
	>"$MF_TMP/gen.out"
is "$(cat "$MF_TMP/gen.out")" "EPERM=40000" "40,000 datagrams denied"
start=$(date +%s%N)
mf status >/dev/null
ok $? "the agent answers while the subscriber is stuck"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
diag "status answered in ${elapsed_ms} ms"

# After the reader resumes, the drop notice comes within a second, although
# no further record does.
records=$(wc -l <"$MF_AUDIT_LOG")
sleep 5
wait_for sh -c "grep -q dropped '$MF_TMP/slow.out'"
ok $? "the subscriber is told it lost records, without waiting for another record"
is "$(wc -l <"$MF_AUDIT_LOG")" "$records" "(no record came meanwhile)"
# Let the stream settle: what was queued for it has arrived when its count
# plus its drops stops changing.
accounted() {
	jq -s '(map(select(.event)) | length) + (map(select(.dropped_total)) | last | .dropped_total)' \
		"$MF_TMP/slow.out" 2>/dev/null
}
wait_for sh -c "[ \"\$(jq -s '(map(select(.event)) | length) + (map(select(.dropped_total)) | last | .dropped_total)' '$MF_TMP/slow.out' 2>/dev/null)\" = \"\$(wc -l <'$MF_AUDIT_LOG')\" ]"
pkill -f "socat -t 20 - UNIX-CONNECT:$MF_SOCK" 2>/dev/null
wait $reader 2>/dev/null

received=$(jq -s 'map(select(.event)) | length' "$MF_TMP/slow.out")
dropped=$(jq -s 'map(select(.dropped_total)) | last | .dropped_total' "$MF_TMP/slow.out")
logged=$(wc -l <"$MF_AUDIT_LOG")
diag "received $received, dropped $dropped, logged $logged"
ok $(((dropped > 0 && received > 0) ? 0 : 1)) "some records were delivered, some dropped"
is "$(accounted)" "$logged" "delivered + dropped = every record the agent logged"
is "$(mf status --json | jq .counters.audit_dropped)" 0 "the kernel ring buffer dropped nothing"

done_testing
