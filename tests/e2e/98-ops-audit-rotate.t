#!/usr/bin/env bash
# The audit log file: created 0640, the agent's and --audit-group's, never
# readable by others; a file another user owns is refused. Size-based rotation
# (--audit-log-max-size, --audit-log-keep) rotates whole lines only and loses
# nothing: the lines across the kept files are the records logged.
. "$(dirname "$0")/../lib.sh"

cat >"$MF_TMP/p.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {} },
  "rules": [ { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": ["7000-7999"] } ] } ] }
JSON
log=$MF_AUDIT_LOG
# connect_ports FIRST LAST: one governed process connects to each port in turn.
connect_ports() {
	mf run --allow-root --no-harden --identity alice --server fetch -- bash -c \
		"for p in \$(seq $1 $2); do '$MF_HELPERS/probe' connect tcp 127.0.0.1 \$p; done" \
		>/dev/null 2>&1
}
group=$(getent group daemon | cut -d: -f1)

agent_start "$MF_TMP/p.json" --audit-group "$group" --audit-log-max-size 4K \
	--audit-log-keep 40 || exit 1
is "$(stat -c '%a %U %G' "$log")" "640 root $group" \
	"the log is created 0640, root's and --audit-group's"

# 300 connects to distinct ports: one record each (a flow per port).
connect_ports 7000 7299
connects() { cat "$log" "$log".* 2>/dev/null | grep -c '"event":"connect"'; }
wait_for sh -c "[ \$(cat '$log' '$log'.* | grep -c '\"event\":\"connect\"') = 300 ]"
is "$(connects)" 300 "every connect record is in the log files"
st=$(mf status --json | jq -c '.audit.log // .log')
logged=$(jq .logged <<<"$st")
is "$(cat "$log" "$log".* | wc -l)" "$logged" \
	"lines across the kept files = records logged ($logged)"
like "$(jq .rotated <<<"$st")" '^[1-9][0-9]*$' "status counts the rotations"
files=$(ls "$log" "$log".* | wc -l)
is "$files" "$(($(jq .rotated <<<"$st") + 1))" "one file per rotation, and the current one"
big=0 cut=0
for f in "$log" "$log".*; do
	[ "$(stat -c %s "$f")" -gt 4096 ] && big=$((big + 1))
	[ -s "$f" ] && [ "$(tail -c1 "$f" | od -An -c | tr -d ' ')" != '\n' ] && cut=$((cut + 1))
	jq -e . "$f" >/dev/null || cut=$((cut + 1))
done
is "$big $cut" "0 0" "no file past 4 KiB, each ends with a whole line, every line parses"
is "$(stat -c '%a %G' "$log".1)" "640 $group" "rotated files keep mode and group"
oldest_first=$(for i in $(seq "$(jq .rotated <<<"$st")" -1 1); do echo "$log.$i"; done)
is "$(cat $oldest_first "$log" | jq -s '[.[] | select(.event == "connect") | .port] |
	. == [range(7000; 7300)]')" true "in order across the files, LOG.N (oldest) to LOG"
agent_stop

# --audit-log-keep: only N rotated files remain, the oldest replaced.
rm -f "$log" "$log".*
agent_start "$MF_TMP/p.json" --audit-log-max-size 2048 --audit-log-keep 2 || exit 1
connect_ports 7300 7399
wait_for sh -c "grep -q '\"port\":7399' '$log'"
base=$(basename "$log")
is "$(cd "$(dirname "$log")" && ls "$base"* | sed "s|$base|L|" | tr '\n' ' ')" "L L.1 L.2 " \
	"--audit-log-keep 2: the log and two rotated files"
is "$(stat -c '%a %G' "$log")" "640 root" "without --audit-group: 0640, the agent's group"
agent_stop

# An existing log: others' bits taken away; another user's file refused.
rm -f "$log" "$log".*
install -m 0666 /dev/null "$log"
agent_start "$MF_TMP/p.json" || exit 1
is "$(stat -c %a "$log")" 640 "an existing world-readable log is made 0640"
agent_stop
chown nobody "$log"
out=$("$MF_BUILD/mcpfenced" --policy "$MF_TMP/p.json" --socket "$MF_SOCK" \
	--pin-dir "$MF_PIN_DIR" --audit-log "$log" --detach-on-exit 2>&1)
is "$?" 1 "a log file another user owns: the agent does not start"
like "$out" "audit log $log: owned by another user: refused" "and says why"
is "$("$MF_BUILD/mcpfenced" --audit-log-keep 2 2>&1)" \
	"mcpfenced: --audit-group and --audit-log-* need --audit-log" "the options need --audit-log"
done_testing
