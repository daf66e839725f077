#!/usr/bin/env bash
# The audit log on a full disk tells the truth: a record counts as logged only
# once its whole line is in the file, a line cut by the full disk is taken
# back, what cannot be written is counted, and the failure and the recovery
# are said on stderr, in status and in the audit stream.
. "$(dirname "$0")/../lib.sh"

mkdir "$MF_TMP/logfs"
mount -t tmpfs -o size=64k,mode=0700 mcpfence-test "$MF_TMP/logfs" || skip_all "cannot mount a tmpfs"
# Lazily: the agent holds the log open until it has stopped.
at_exit "umount -l '$MF_TMP/logfs'"
MF_AUDIT_LOG=$MF_TMP/logfs/audit.log

cat >"$MF_TMP/policy.json" <<'JSON'
{ "version": 1, "audit": { "window": 0 }, "servers": { "noisy": {} }, "rules": [] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1

# deny N: N denied datagrams, one audit record each (~230 bytes)
deny() {
	mf run --allow-root --identity noisy --server noisy -- "$MF_HELPERS/probe" repeat "$1" sendto udp 127.0.0.2 9
}
st() { mf status --json | jq -c "$1"; }
lines() { wc -l <"$MF_AUDIT_LOG"; }
records() { mf audit --json | wc -l; }

is "$(deny 2000)" "EPERM=2000" "2,000 datagrams denied: far more records than 64 KiB holds"
# The agent has tried to write them all (log failing: once a second).
sleep 1.2
is "$(st .log.state)" '"failing"' "status says the log is failing"
is "$(st .log.last_error)" '"No space left on device"' "and why"
like "$(st .log.since)" '^"20[0-9-]+T[0-9:.]+Z"$' "and since when"
like "$(mf status | grep '^audit log:')" '^audit log: failing since 20.*Z \(No space left on device\), [0-9]+ logged' \
	"the human form says it too"
is "$(st .counters.records_logged)" "$(lines)" "records_logged is the file's line count"
is "$(tail -c 1 "$MF_AUDIT_LOG" | od -An -c | tr -d ' ')" '\n' "the last line is whole"
jq -e . "$MF_AUDIT_LOG" >/dev/null
ok $? "every line of the log is valid JSON"
sum=$(st '.log | .logged + .waiting + .lost')
is "$sum" "$(records)" "logged + waiting + lost = every record the agent produced"
ok $(($(st .log.lost) > 0 ? 0 : 1)) "records that found no room are counted lost"
is "$(grep -c 'cannot write audit log .*No space left on device' "$MF_TMP/agent.out")" 1 \
	"stderr says so, once"
is "$(mf audit --json | jq -s 'map(select(.event == "audit-log-failing")) | length')" 1 \
	"the audit stream says so, once"

# Room again: what waits is written, and the recovery is said.
mount -o remount,size=4m "$MF_TMP/logfs"
wait_for sh -c "'$MF_BUILD/mcpfence' status --json | jq -e '.log.state == \"ok\"'"
ok $? "once there is room the log is written again"
is "$(st .log.waiting)" 0 "nothing waits"
is "$(grep -c 'audit log .*written again' "$MF_TMP/agent.out")" 1 "stderr says it recovered"
is "$(mf audit --json | jq -s 'map(select(.event == "audit-log-recovered")) | length')" 1 \
	"so does the audit stream"
is "$(deny 10)" "EPERM=10" "10 more denials"
wait_for sh -c "[ \$('$MF_BUILD/mcpfence' status --json | jq .log.waiting) = 0 ]"
is "$(st .counters.records_logged)" "$(lines)" "records_logged is still the file's line count"
is "$(jq -s 'map(select(.event == "sendmsg")) | .[-10:] | length' "$MF_AUDIT_LOG")" 10 \
	"the new denials are in the file"
jq -e . "$MF_AUDIT_LOG" >/dev/null
ok $? "every line of the log is valid JSON"

done_testing
