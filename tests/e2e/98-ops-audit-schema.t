#!/usr/bin/env bash
# The audit log's format is versioned and documented: every line of a real log,
# from a run that makes many kinds of records (kernel and agent), validates
# against docs/audit-schema.json; a process name that is not valid UTF-8 comes
# out as valid UTF-8 (U+FFFD for the bytes the kernel cut).
. "$(dirname "$0")/../lib.sh"

check=$MF_SRC/scripts/audit-schema-check
if ! /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
	skip_all "python3-jsonschema is not installed (scripts/deps.sh installs it)"
fi
cat >"$MF_TMP/p.json" <<'JSON'
{ "version": 1,
  "servers": { "fetch": { "unix": [ "@mf-schema-ok" ], "listen": [ 7999 ] } },
  "rules": [ { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] },
                          { "to": "::1/128", "ports": [7053], "proto": "udp" } ] } ] }
JSON
agent_start "$MF_TMP/p.json" || exit 1
P=$MF_HELPERS/probe
run() { mf run --allow-root --no-harden --identity "$1" --server fetch -- "${@:2}" >/dev/null 2>&1; }

run alice "$P" connect tcp 127.0.0.1 7000
run alice "$P" connect tcp 127.0.0.1 7001
run alice "$P" sendto udp ::1 7053
run alice "$P" unix-connect stream @mf-schema-ok
run alice "$P" unix-connect stream @mf-schema-no
run alice "$P" bind tcp 127.0.0.1 7999
run alice "$P" bind udp 127.0.0.1 7998
run alice "$P" socket raw
# abi-kill: a 32-bit socket() where the kernel runs them (IA32 emulation).
abi=
if [ "$("$MF_HELPERS/escape" int80 2>/dev/null)" = OK ]; then
	run alice "$MF_HELPERS/int80" socket 17 3 768
	abi=abi-kill
fi
# listen: an ungranted listener's incoming connection is dropped, and audited.
mf run --allow-root --no-harden --identity alice --server fetch -- "$P" listen-accept unbound 2000 \
	>/dev/null 2>"$MF_TMP/listen.err" &
listener=$!
wait_for grep -q '^PORT ' "$MF_TMP/listen.err"
probe connect-wait 127.0.0.1 "$(sed -n 's/^PORT //p' "$MF_TMP/listen.err")" 300 >/dev/null
wait $listener
run alice "$MF_BUILD/mcpfence" --socket "$MF_SOCK" status
# 9 é are 18 bytes: the kernel keeps 15 of them, the last one cut.
name=ééééééééé
cp "$P" "$MF_TMP/$name"
run alice "$MF_TMP/$name" connect tcp 127.0.0.1 7002
printf '{"version": 1, "rules": [ {"alow": []} ]}' >"$MF_TMP/bad.json"
mf policy load "$MF_TMP/bad.json" >/dev/null 2>&1
kill -HUP "$MF_AGENT_PID"
wait_for sh -c "grep -c '\"trigger\":\"sighup\"' '$MF_AUDIT_LOG' | grep -qx 1"
ok $? "SIGHUP reloaded the policy"
kill -USR1 "$MF_AGENT_PID"
wait_for sh -c "grep -c '\"event\":\"audit-log-reopen\"' '$MF_AUDIT_LOG' | grep -qx 2"
ok $? "SIGUSR1 reopened the log"
wait_for sh -c "grep -q '\"port\":7002' '$MF_AUDIT_LOG'"

out=$("$check" "$MF_AUDIT_LOG")
ok $? "every line of the audit log validates against docs/audit-schema.json"
sed "s/^/# /" <<<"$out"
events=$(echo "$out" | tail -1)
for e in connect sendmsg unix-connect bind listen socket tag policy-load audit-log-reopen \
	control-refused $abi; do
	like "$events" " $e=[0-9]+" "the log holds $e records"
done
is "$(jq -s 'map(.schema) | unique | tostring' "$MF_AUDIT_LOG")" '"[1]"' \
	"every record says schema 1"
is "$(jq -r 'select(.port == 7002) | .comm' "$MF_AUDIT_LOG")" "ééééééé�" \
	"a process name cut inside a character: its whole characters, then U+FFFD"
iconv -f UTF-8 -t UTF-8 "$MF_AUDIT_LOG" >/dev/null
ok $? "the log is valid UTF-8"
is "$(mf audit --json | jq -r 'select(.port == 7002) | .comm')" "ééééééé�" \
	"the same in the agent's history"

# The checker fails what the schema does not describe (the test can fail).
head -1 "$MF_AUDIT_LOG" | jq -c '.schema = 2' >"$MF_TMP/bad.jsonl"
grep '"event":"connect"' "$MF_AUDIT_LOG" | head -1 | jq -c '.port = "80"' >>"$MF_TMP/bad.jsonl"
grep '"event":"connect"' "$MF_AUDIT_LOG" | head -1 | jq -c '.color = "red"' >>"$MF_TMP/bad.jsonl"
echo '{"ts":"2026-01-01T00:00:00.000Z","schema":1,"event":"no-such-event"}' >>"$MF_TMP/bad.jsonl"
out=$("$check" "$MF_TMP/bad.jsonl")
sed "s/^/# /" <<<"$out"
is "$(echo "$out" | grep -o '^[^ ]*bad.jsonl:[0-9]*:' | sort -u | wc -l)" 4 \
	"a wrong schema, a wrong type, an unknown field and an unknown event are refused"

agent_stop
done_testing
