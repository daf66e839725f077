#!/usr/bin/env bash
# `mcpfence audit --ocsf`: each record as an OCSF 1.3.0 event, from the
# agent's stream and from the log file, none left out, for SIEMs.
. "$(dirname "$0")/../lib.sh"

cat >"$MF_TMP/p.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {} },
  "rules": [ { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] } ] }
JSON
agent_start "$MF_TMP/p.json" || exit 1
mf run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" connect tcp 127.0.0.1 7001 \
	>/dev/null 2>&1
wait_for grep -q '"port":7001' "$MF_AUDIT_LOG"

ev=$(mf audit --ocsf | jq -c 'select(.unmapped.port == 7001)')
is "$(jq -r '[.class_uid, .category_uid, .activity_id, .type_uid, .action_id, .disposition_id, .status_id, .severity_id] | join(" ")' <<<"$ev")" \
	"4001 4 1 400101 2 2 2 3" "a denied connect: Network Activity, Open, Denied, Blocked, Failure, Medium"
is "$(jq -r '[.actor.user.name, .dst_endpoint.ip, .dst_endpoint.port, .connection_info.protocol_name, .connection_info.direction_id] | join(" ")' <<<"$ev")" \
	"alice 127.0.0.1 7001 tcp 2" "the identity as actor.user, the destination, outbound tcp"
rec=$(grep '"port":7001' "$MF_AUDIT_LOG")
is "$(jq -c .unmapped <<<"$ev")" "$(jq -c . <<<"$rec")" "the record, whole, under unmapped"
is "$(jq -r .time <<<"$ev")" "$(($(date -d "$(jq -r .ts <<<"$rec")" +%s%3N)))" "time: the record's, in ms"
is "$(jq -r '.metadata | "\(.version) \(.product.name)"' <<<"$ev")" "1.3.0 mcpfence" "metadata"

# From the file: one event per record, every one with the required fields.
n=$(wc -l <"$MF_AUDIT_LOG")
out=$(mf audit --file "$MF_AUDIT_LOG" --ocsf)
is "$(wc -l <<<"$out")" "$n" "--file: an event for each of the $n records"
is "$(jq -c 'select(.class_uid == null or .type_uid == null or .activity_id == null or .severity_id == null or .metadata.version == null or .time == null)' <<<"$out")" \
	"" "each has class, type, activity, severity, time and metadata"
like "$(jq -r 'select(.unmapped.event == "tag") | "\(.class_uid) \(.activity_name)"' <<<"$out")" \
	"^0 tag" "a tag record: a Base Event named after it"

is "$(mf audit --json --ocsf >/dev/null 2>&1; echo $?)" 2 "--json and --ocsf together are refused"
agent_stop

done_testing
