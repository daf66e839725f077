#!/usr/bin/env bash
# Audit records: right identity, server, destination and verdict, in the
# agent's stream, its log file, a follower, and the human form; audit mode
# and audit.allowed "none".
. "$(dirname "$0")/../lib.sh"

policy() {
	cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "mode": "$1",
  "audit": { "allowed": "$2" },
  "servers": { "gdrive": {} },
  "rules": [
    { "name": "alice-drive", "server": "gdrive", "who": ["alice@example.com"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [7443], "proto": "tcp" },
                 { "to": "::1/128", "ports": [7053], "proto": "udp" } ] },
    { "name": "no-meta", "server": "gdrive", "who": ["*"],
      "deny": [ { "to": "127.0.0.254/32" } ] }
  ]
}
JSON
}
policy enforce all
agent_start "$MF_TMP/policy.json" || exit 1
P=$MF_HELPERS/probe

mf audit --follow --json >"$MF_TMP/follow.json" 2>&1 &
follower=$!
kill_at_exit $follower
wait_for sh -c "'$MF_BUILD/mcpfence' status --json | jq -e '.subscribers == 1'"
ok $? "an audit follower is subscribed"

mf run --allow-root --identity alice@example.com --server gdrive -- "$P" connect tcp 127.0.0.1 7443 >/dev/null
mf run --allow-root --identity alice@example.com --server gdrive -- "$P" sendto udp ::1 7053 >/dev/null
mf run --allow-root --identity bob@example.com --server gdrive -- "$P" connect tcp 127.0.0.1 7443 >/dev/null
mf run --allow-root --identity bob@example.com --server gdrive -- "$P" connect tcp 127.0.0.254 80 >/dev/null

rec() { mf audit --json | jq -c "select(.event == \"$1\" and .identity == \"$2\") | {verdict, server, family, proto, addr, port, rule, comm}" | tail -1; }
is "$(rec connect alice@example.com)" \
	'{"verdict":"allow","server":"gdrive","family":"ipv4","proto":"tcp","addr":"127.0.0.1","port":7443,"rule":"alice-drive","comm":"probe"}' \
	"allowed TCP connect: identity, server, destination, rule"
is "$(rec sendmsg alice@example.com)" \
	'{"verdict":"allow","server":"gdrive","family":"ipv6","proto":"udp","addr":"::1","port":7053,"rule":"alice-drive","comm":"probe"}' \
	"allowed UDP v6 sendto"
is "$(mf audit --json | jq -c 'select(.event == "connect" and .identity == "bob@example.com") | [.verdict, .addr, .port, .rule]' | tr '\n' ' ')" \
	'["deny","127.0.0.1",7443,"(default)"] ["deny","127.0.0.254",80,"no-meta"] ' \
	"denied connects name the deny rule, or the default"
# Protocol messages (they carry "type": the reply, the end of the listing)
# are the CLI's, not records: never printed.
is "$(mf audit --json | jq -c 'select(has("event") | not)' | wc -l)" 0 \
	"audit --json prints records only"
is "$(mf audit --json --verdict deny --identity bob@example.com | jq -r .event | sort -u | tr '\n' ' ')" \
	"connect " "--verdict and --identity filter"
like "$(mf audit --identity bob@example.com | grep 127.0.0.254)" \
	"^20[0-9-]+T[0-9:.]+Z +deny +bob@example.com +gdrive +[0-9]+/probe +tcp 127.0.0.254:80 +no-meta$" \
	"human form: time, verdict, identity, server, pid/comm, destination, rule"

wait_for sh -c "jq -s 'map(select(.event == \"connect\")) | length' '$MF_TMP/follow.json' | grep -qx 3"
ok $? "the follower received the connect records as they happened"
is "$(jq -c 'select(.event == "connect") | [.identity, .verdict, .addr]' "$MF_TMP/follow.json" | tr '\n' ' ')" \
	'["alice@example.com","allow","127.0.0.1"] ["bob@example.com","deny","127.0.0.1"] ["bob@example.com","deny","127.0.0.254"] ' \
	"in order"
is "$(jq -s 'map(select(.event == "connect" or .event == "sendmsg")) | length' "$MF_AUDIT_LOG")" 4 \
	"the audit log holds every decision record"
is "$(mf status --json | jq -c '.counters | [.allowed, .denied, .audit_dropped]')" "[2,2,0]" \
	"counters: 2 allowed, 2 denied, nothing dropped"

# A process names itself (comm): quotes, backslashes and control bytes
# must come out escaped, the record still one valid JSON line.
weird=$'ev"il\\\x01'
cp "$P" "$MF_TMP/$weird"
mf run --allow-root --identity bob@example.com --server gdrive -- "$MF_TMP/$weird" connect tcp 127.0.0.254 81 >/dev/null
is "$(mf audit --json | jq -r 'select(.port == 81) | .comm')" "$weird" \
	"a hostile process name is escaped in the JSON record"
jq -e . "$MF_AUDIT_LOG" >/dev/null
ok $? "every line of the audit log is valid JSON"

# audit.allowed none: allowed decisions are not recorded, denials are.
policy enforce none
mf policy load "$MF_TMP/policy.json" >/dev/null
n_before=$(mf audit --json | jq -s 'map(select(.event == "connect")) | length')
mf run --allow-root --identity alice@example.com --server gdrive -- "$P" connect tcp 127.0.0.1 7443 >/dev/null
mf run --allow-root --identity bob@example.com --server gdrive -- "$P" connect tcp 127.0.0.1 7443 >/dev/null
is "$(mf audit --json | jq -s "map(select(.event == \"connect\")) | .[$n_before:] | map(.verdict)" -c)" \
	'["deny"]' "audit.allowed none: only the denial is recorded"

# mode audit: nothing blocked, would-be denials recorded.
policy audit all
mf policy load "$MF_TMP/policy.json" >/dev/null
is "$(mf run --allow-root --identity bob@example.com --server gdrive -- "$P" connect tcp 127.0.0.254 80)" \
	ECONNREFUSED "mode audit blocks nothing"
is "$(mf audit --json | jq -c 'select(.event == "connect") | [.verdict, .addr, .rule]' | tail -1)" \
	'["would-deny","127.0.0.254","no-meta"]' "and records the would-be denial"
is "$(mf status --json | jq .counters.would_deny)" 1 "counted as would_deny"

done_testing
