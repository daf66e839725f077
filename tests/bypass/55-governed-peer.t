#!/usr/bin/env bash
# A governed process holds no power over the fence, whatever its uid: over the
# control socket it is refused every operation that changes or reveals policy,
# other processes' tags, tickets or the agent. It may ask who it is (whoami).
# Before, a governed root server could load a policy or uninstall the agent.
. "$(dirname "$0")/../lib.sh"

user=mcpft$$g
useradd --no-create-home --shell /usr/sbin/nologin "$user" || skip_all "cannot create a test user"
at_exit "user_del $user"

cat >"$MF_TMP/policy.json" <<JSON
{ "version": 1, "servers": { "fetch": {} },
  "rules": [ { "name": "any", "server": "fetch", "who": ["*"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] } ] }
JSON
cat >"$MF_TMP/open.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {} },
  "rules": [ { "name": "open", "server": "fetch", "who": ["*"], "allow": [ { "to": "0.0.0.0/0" } ] } ] }
JSON
chmod 644 "$MF_TMP/policy.json" "$MF_TMP/open.json"
agent_start "$MF_TMP/policy.json" || exit 1

# Test users run copies in $MF_TMP: the checkout may sit under a private directory.
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_TMP/bin/"
M=$MF_TMP/bin/mcpfence

# as_root_gov ARGS...: mcpfence ARGS from a governed root process (alice).
as_root_gov() {
	mf run --allow-root --identity alice --server fetch -- "$M" --socket "$MF_SOCK" "$@" 2>&1 |
		grep -v -- '--allow-root: '
}
# as_user_gov ARGS...: the same from a governed process of the test user.
as_user_gov() {
	(cd "$MF_TMP" && runuser -u "$user" -- "$M" --socket "$MF_SOCK" run --identity "$user" \
		--server fetch -- "$M" --socket "$MF_SOCK" "$@" 2>&1)
}

ops=(
	"status|status"
	"ps|ps"
	"audit|audit"
	"ticket|ticket --identity bob --server fetch"
	"tag|run --allow-root --identity bob --server fetch -- true"
	"policy_show|policy show"
	"policy_load|policy load $MF_TMP/open.json"
	"uninstall|uninstall"
)
for who in root user; do
	if [ $who = root ]; then ident=alice; else ident=$user; fi
	for entry in "${ops[@]}"; do
		op=${entry%%|*}
		read -ra args <<<"${entry#*|}"
		out=$(as_${who}_gov "${args[@]}")
		like "$out" "mcpfence: $op: refused: the caller is governed \\(identity $ident, server fetch\\)" \
			"governed $who: $op refused"
	done
	is "$(as_${who}_gov whoami)" "$ident fetch" "governed $who: whoami answered"
done

# The refusal's code, for programs: governed.
is "$(printf '{"op": "status"}\n' | mf run --allow-root --identity alice --server fetch -- \
	socat -t 2 - "UNIX-CONNECT:$MF_SOCK" 2>/dev/null | jq -r .code)" governed \
	"governed root: the refusal's code is governed"

# A governed root process with all its capabilities (--no-harden): the tag
# decides, not the uid nor the capabilities.
out=$(mf run --allow-root --no-harden --identity alice --server fetch -- \
	"$M" --socket "$MF_SOCK" policy load "$MF_TMP/open.json" 2>&1)
like "$out" "policy_load: refused: the caller is governed" \
	"governed root with its capabilities: policy_load refused"

# Nothing changed: the first policy is still active, the agent still runs.
is "$(mf status --json | jq -r '.policy.generation')" 1 "the policy was never replaced"
kill -0 "$MF_AGENT_PID"
ok $? "the agent was not uninstalled"
is "$(mf run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" connect tcp 127.0.0.2 7000 2>/dev/null)" \
	EPERM "governed processes are still judged by the first policy"

# Each refusal is an audit record naming the caller.
mf audit --json >"$MF_TMP/audit.json"
is "$(jq -r 'select(.event == "control-refused") | "\(.identity) \(.op)"' "$MF_TMP/audit.json" |
	sort | uniq | wc -l)" 16 "a control-refused record per caller and operation"
is "$(jq -r 'select(.event == "control-refused") | .verdict' "$MF_TMP/audit.json" | sort -u)" deny \
	"with verdict deny"

# Ungoverned callers keep what they had.
is "$(mf policy show | jq -r '.rules[0].name')" any "ungoverned root: policy_show answered"
like "$(runuser -u "$user" -- "$M" --socket "$MF_SOCK" status 2>&1)" "policy: +loaded" \
	"ungoverned user: status answered"

done_testing
