#!/usr/bin/env bash
# --cgroup DIR: the agent attaches its socket hooks at DIR instead of the
# cgroup v2 root. Only processes inside DIR pass the hooks, so the agent
# refuses to tag a process elsewhere (it would run unjudged: the tag alone
# does not enforce), and holds what a process inside may do to leave as
# --scope launched does: DIR and its ancestors root's alone, no root or
# capable server, no exec matches (found by a review: a hardened
# --allow-root server wrote itself into the root's cgroup.procs; an
# exec-tagged process outside DIR ran unjudged).
. "$(dirname "$0")/../lib.sh"

root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$root" ] || skip_all "no cgroup v2 hierarchy is mounted"
cg=$root/mcpfence-test-$$
mkdir "$cg" || skip_all "cannot create a cgroup under $root"
# Leaving: move what is left back to the root before removing it.
at_exit "for p in \$(cat '$cg/cgroup.procs'); do echo \$p > '$root/cgroup.procs'; done; rmdir '$cg'"

user=mcpft$$c
useradd --no-create-home --shell /usr/sbin/nologin "$user" || skip_all "cannot create a test user"
at_exit "user_del $user"
# The test user runs copies: the checkout may be out of its reach.
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_HELPERS/probe" "$MF_TMP/bin/"

cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "servers": { "web": {} },
  "rules": [ { "name": "web", "server": "web", "who": ["$user"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] } ]
}
JSON
agent_start "$MF_TMP/policy.json" --cgroup "$cg" || exit 1

# as_user [in] PROBE-ARGS...: the test user runs the probe as a governed
# server; with "in", from inside the test's cgroup.
as_user() {
	local pre=()
	if [ "$1" = in ]; then
		pre=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg")
		shift
	fi
	"${pre[@]}" runuser -u "$user" -- "$MF_TMP/bin/mcpfence" --socket "$MF_SOCK" run \
		--identity "$user" --server web -- "$MF_TMP/bin/probe" "$@" 2>&1
}

is "$(as_user in connect tcp 127.0.0.1 7001)" EPERM \
	"inside the cgroup: a governed process is judged (denied port)"
is "$(as_user in connect tcp 127.0.0.1 7000)" ECONNREFUSED \
	"inside the cgroup: an allowed port passes"
out=$(as_user connect tcp 127.0.0.1 7001)
like "$out" "process [0-9]+ is in cgroup .*, outside $cg where the hooks are: its connections would not be judged" \
	"outside the cgroup: the tag is refused, and says why"
is "$(grep -cE '^(ECONNREFUSED|EPERM)$' <<<"$out")" 0 "and the server does not run"

# Leaving DIR from inside: root's servers (even hardened, without
# capabilities, they own root's cgroup.procs) are refused.
out=$(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$MF_BUILD/mcpfence" --socket "$MF_SOCK" \
	run --allow-root --identity "$user" --server web -- "$MF_HELPERS/probe" connect tcp 127.0.0.1 7001 2>&1)
like "$out" "a root server could leave the governed cgroup: refused with --cgroup" \
	"a root server inside is refused: it could leave"
is "$(grep -cE '^(ECONNREFUSED|EPERM)$' <<<"$out")" 0 "and does not run"

# Exec matches: an exec-tagged process may start anywhere.
jq '.servers.web.exec = ["/bin/true"]' "$MF_TMP/policy.json" >"$MF_TMP/exec.json"
like "$(mf policy load "$MF_TMP/exec.json" 2>&1)" "exec matches are refused with --cgroup" \
	"a policy with exec matches is refused"
agent_stop

# DIR must be root's alone: a governed process could leave through it.
# (An agent that wrongly starts is stopped by timeout: its pins go.)
at_exit "rm -rf '$MF_PIN_DIR-w' '$MF_PIN_DIR-x'"
chmod o+w "$cg"
like "$(timeout 10 "$MF_BUILD/mcpfenced" --cgroup "$cg" --pin-dir "$MF_PIN_DIR-w" --socket "$MF_TMP/w.sock" \
	--policy "$MF_TMP/policy.json" 2>&1)" "^mcpfenced: $cg is not root's alone" \
	"a --cgroup others may write is refused at start"
chmod o-w "$cg"
like "$(timeout 10 "$MF_BUILD/mcpfenced" --cgroup /tmp --pin-dir "$MF_PIN_DIR-x" --socket "$MF_TMP/x.sock" \
	--policy "$MF_TMP/policy.json" 2>&1)" "^mcpfenced: --cgroup /tmp is not a cgroup below " \
	"a --cgroup outside the cgroup v2 hierarchy is refused at start"

agent_start "$MF_TMP/policy.json" --cgroup "$cg" || exit 1
like "$(mf status --json | jq -r '.programs | tostring')" "connect4" "status lists the attached programs"

done_testing
