#!/usr/bin/env bash
# `mcpfence metrics`: the Prometheus text exposition, accepted by promtool,
# with decisions by verdict and by identity/server/verdict, the policy's
# generation and loads; administrators only, and never a governed process.
. "$(dirname "$0")/../lib.sh"

cat >"$MF_TMP/p.json" <<'JSON'
{ "version": 1, "audit": { "allowed": "all" }, "servers": { "fetch": {} },
  "rules": [ { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] } ] }
JSON
agent_start "$MF_TMP/p.json" || exit 1
as() { mf run --allow-root --identity "$1" --server fetch -- "${@:2}"; }

as alice "$MF_HELPERS/probe" connect tcp 127.0.0.1 7000 >/dev/null
as alice "$MF_HELPERS/probe" connect tcp 127.0.0.1 7001 >/dev/null
as alice "$MF_HELPERS/probe" connect tcp 127.0.0.1 7002 >/dev/null
as bob "$MF_HELPERS/probe" connect tcp 127.0.0.1 7000 >/dev/null
echo '{ "version": 1, "rules": [ { "nme": 1 } ] }' >"$MF_TMP/bad.json"
mf policy load "$MF_TMP/bad.json" 2>/dev/null

mf metrics >"$MF_TMP/metrics.txt"
ok $? "mcpfence metrics (root)"
if command -v promtool >/dev/null; then
	out=$(promtool check metrics <"$MF_TMP/metrics.txt" 2>&1)
	is "$?:$out" "0:" "promtool check metrics: no error, no lint"
else
	ok 0 "# SKIP promtool not installed (Debian's prometheus package)"
fi
m() { grep -v '^#' "$MF_TMP/metrics.txt" | grep -F "$1 " | awk '{ print $NF }'; }
is "$(m 'mcpfence_audited_decisions_total{identity="alice",server="fetch",verdict="allow"}')" 1 \
	"alice: 1 allowed"
is "$(m 'mcpfence_audited_decisions_total{identity="alice",server="fetch",verdict="deny"}')" 2 \
	"alice: 2 denied"
is "$(m 'mcpfence_audited_decisions_total{identity="bob",server="fetch",verdict="deny"}')" 1 \
	"bob: 1 denied"
is "$(m 'mcpfence_decisions_total{verdict="deny"}') $(m 'mcpfence_decisions_total{verdict="allow"}')" \
	"3 1" "the kernel's counts agree"
is "$(m mcpfence_policy_generation)" 1 "policy generation"
is "$(m 'mcpfence_policy_loads_total{result="ok"}') $(m 'mcpfence_policy_loads_total{result="failed"}') $(m mcpfence_policy_last_load_success)" \
	"1 1 0" "policy loads: one ok, one failed, and the last failed"
is "$(m mcpfence_audit_ring_dropped_total) $(m mcpfence_tag_failures_total) $(m mcpfence_audit_records_lost_total)" \
	"0 0 0" "no drops, no tag failures"
like "$(m mcpfence_governed_processes)" '^[0-9]+$' "governed processes"
like "$(grep ^mcpfence_build_info "$MF_TMP/metrics.txt")" 'version="[0-9.]+",commit="[0-9a-f]+(-dirty)?",libbpf="[0-9]+\.[0-9]+"' \
	"build info"

# packaging/mcpfence-metrics.service's command, pointed at this agent and a
# textfile directory here ($$ is systemd's escape for $).
mkdir "$MF_TMP/ne"
cmd=$(sed -n "s/^ExecStart=\/bin\/sh -c '\(.*\)'$/\1/p" "$MF_SRC/packaging/mcpfence-metrics.service" |
	sed "s|\\$\\$|\$|g; s|/var/lib/prometheus/node-exporter|$MF_TMP/ne|; s|/usr/bin/mcpfence|$MF_BUILD/mcpfence --socket $MF_SOCK|")
sh -c "$cmd"
ok $? "the metrics service's command runs"
is "$(ls "$MF_TMP/ne")" mcpfence.prom "and leaves mcpfence.prom, no temporary file"
if command -v promtool >/dev/null; then
	promtool check metrics <"$MF_TMP/ne/mcpfence.prom" >/dev/null 2>&1
	ok $? "which promtool accepts"
else
	ok 0 "# SKIP promtool not installed"
fi

out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$MF_BUILD/mcpfence" --socket "$MF_SOCK" metrics 2>&1)
is "$?:$out" "1:mcpfence: metrics: permission denied: only administrators may do this" \
	"another user is refused"
out=$(as alice "$MF_BUILD/mcpfence" --socket "$MF_SOCK" metrics 2>&1 | grep -v -- --allow-root)
like "$out" "metrics: refused: the caller is governed \(identity alice, server fetch\)" \
	"a governed process is refused"

done_testing
