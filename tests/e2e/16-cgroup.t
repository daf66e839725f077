#!/usr/bin/env bash
# --cgroup DIR: the agent attaches its socket hooks at DIR instead of the
# cgroup v2 root. Only processes inside DIR pass the hooks, so the agent
# refuses to tag a process elsewhere (it would run unjudged: the tag alone
# does not enforce).
. "$(dirname "$0")/../lib.sh"

root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$root" ] || skip_all "no cgroup v2 hierarchy is mounted"
cg=$root/mcpfence-test-$$
mkdir "$cg" || skip_all "cannot create a cgroup under $root"
# Leaving: move what is left back to the root before removing it.
at_exit "for p in \$(cat '$cg/cgroup.procs'); do echo \$p > '$root/cgroup.procs'; done; rmdir '$cg'"

cat >"$MF_TMP/policy.json" <<'JSON'
{
  "version": 1,
  "servers": { "web": {} },
  "rules": [ { "name": "web", "server": "web", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] } ]
}
JSON
agent_start "$MF_TMP/policy.json" --cgroup "$cg" || exit 1

run_alice() { mf run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/probe" "$@"; }
# in_cgroup CMD...: CMD inside the test's cgroup
in_cgroup() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }

is "$(in_cgroup "$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --no-harden --identity alice \
	--server web -- "$MF_HELPERS/probe" connect tcp 127.0.0.1 7001)" EPERM \
	"inside the cgroup: a governed process is judged (denied port)"
is "$(in_cgroup "$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --no-harden --identity alice \
	--server web -- "$MF_HELPERS/probe" connect tcp 127.0.0.1 7000)" ECONNREFUSED \
	"inside the cgroup: an allowed port passes"
out=$(run_alice connect tcp 127.0.0.1 7001 2>&1)
like "$out" "process [0-9]+ is in cgroup .*, outside $cg where the hooks are: its connections would not be judged" \
	"outside the cgroup: the tag is refused, and says why"
is "$(grep -cE '^(ECONNREFUSED|EPERM)$' <<<"$out")" 0 "and the server does not run"
like "$("$MF_BUILD/mcpfenced" --cgroup /tmp --pin-dir "$MF_PIN_DIR-x" --socket "$MF_TMP/x.sock" \
	--policy "$MF_TMP/policy.json" 2>&1)" "^mcpfenced: --cgroup /tmp is not a cgroup below " \
	"a --cgroup outside the cgroup v2 hierarchy is refused at start"
like "$(mf status --json | jq -r '.programs | tostring')" "connect4" "status lists the attached programs"

done_testing
