#!/usr/bin/env bash
# Names in "mode": "audit": every name is resolved and recorded, nothing is
# refused; names no rule grants are recorded as would-deny and nothing is
# learned from them. And the resolver refuses what it cannot attribute: a
# process that sends to its port without being redirected.
. "$(dirname "$0")/../lib.sh"

command -v dnsmasq >/dev/null || skip_all "dnsmasq is not installed (scripts/deps.sh)"

UP=$((5100 + $$ % 100)) # dnsmasq's port (by pid: test runs may overlap)
dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=$UP --pid-file= --conf-file=/dev/null --user=root \
	--host-record=api.test,203.0.113.5 --host-record=nope.test,203.0.113.9 \
	>"$MF_TMP/dnsmasq.out" 2>&1 &
kill_at_exit $!
disown $!
wait_for "$MF_HELPERS/dnsq" udp 127.0.0.1 $UP api.test ||
	{ diag "dnsmasq did not start"; sed 's/^/#   /' "$MF_TMP/dnsmasq.out"; exit 1; }

cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "mode": "audit",
  "dns": { "upstream": ["127.0.0.1:$UP"] },
  "servers": { "web": {} },
  "rules": [
    { "name": "alice-names", "server": "web", "who": ["alice"],
      "allow": [ { "host": "api.test", "ports": [443] } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

dnsq() { mf run --allow-root --no-harden --identity "$1" --server "$2" -- "$MF_HELPERS/dnsq" "${@:3}" 2>/dev/null; }

is "$(dnsq alice web udp 127.0.0.1 53 nope.test)" "203.0.113.9 FROM 127.0.0.1#53" \
	"audit mode: a name no rule grants is resolved"
wait_for grep -q '"name":"nope.test"' "$MF_AUDIT_LOG"
like "$(grep '"name":"nope.test"' "$MF_AUDIT_LOG")" '"verdict":"would-deny"' "and recorded as would-deny"
is "$(dnsq alice web udp 127.0.0.1 53 api.test)" "203.0.113.5 FROM 127.0.0.1#53" "a granted one too"

# The resolver's own port, reached directly by an ungoverned process: it
# cannot say who asks, so it refuses.
port=$(mf status --json | sed -n 's/.*"udp4": *\([0-9]*\).*/\1/p')
[ -n "$port" ] || port=$(mf status | sed -n 's/.*udp \([0-9]*\)\/.*/\1/p')
is "$("$MF_HELPERS/dnsq" udp 127.0.0.1 "$port" api.test)" "rcode=5 FROM 127.0.0.1#$port" \
	"unattributed queries to the resolver's port are refused"
like "$(mf status)" "unattributed=[1-9]" "and counted"

done_testing
