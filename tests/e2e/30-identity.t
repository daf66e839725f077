#!/usr/bin/env bash
# Who may assert which identity: root and the policy's launchers anyone,
# other users only themselves, a governed process never.
. "$(dirname "$0")/../lib.sh"

user=mcpft$$u
launcher=mcpft$$l
useradd --no-create-home --shell /usr/sbin/nologin "$user" || skip_all "cannot create test users"
at_exit "user_del $user"
useradd --no-create-home --shell /usr/sbin/nologin "$launcher" || skip_all "cannot create test users"
at_exit "user_del $launcher"

cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "launchers": [ { "user": "$launcher" } ],
  "servers": { "fetch": {} },
  "rules": [
    { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] },
    { "name": "user-fetch", "server": "fetch", "who": ["$user"],
      "allow": [ { "to": "127.0.0.2/32", "ports": [7000] } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

P=$MF_HELPERS/probe
# Test users run copies in $MF_TMP: the checkout may sit under a private directory.
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_HELPERS/probe" "$MF_TMP/bin/"
as_user() {
	local u=$1
	shift
	(cd "$MF_TMP" && runuser -u "$u" -- "$MF_TMP/bin/mcpfence" "$@")
}

# A governed process cannot re-launch itself as someone else, or as itself.
out=$(mf run --allow-root --identity bob --server fetch -- "$MF_BUILD/mcpfence" run --allow-root --identity alice \
	--server fetch -- "$P" connect tcp 127.0.0.1 7000 2>&1)
rc=$?
is "$rc" 1 "a governed process running 'mcpfence run --identity alice' is refused"
like "$out" "tag: refused: the caller is governed \\(identity bob, server fetch\\)" "with the reason"
out=$(mf run --allow-root --identity alice --server fetch -- "$MF_BUILD/mcpfence" run --allow-root --identity alice \
	--server fetch -- true 2>&1)
is "$?" 1 "even for its own identity"
mf audit --json --verdict deny >"$MF_TMP/refused.json"
is "$(jq -r 'select(.event == "control-refused" and .op == "tag") | .identity' "$MF_TMP/refused.json" | head -1)" bob \
	"the refusal is an audit record naming the governed caller"

# An ordinary user: only their own user name.
out=$(as_user "$user" run --identity alice --server fetch -- "$MF_TMP/bin/probe" connect tcp 127.0.0.1 7000 2>&1)
is "$?" 1 "an ordinary user may not assert another identity"
like "$out" "may only run servers as $user" "with the reason"
is "$(as_user "$user" run --identity "$user" --server fetch -- "$MF_TMP/bin/probe" connect tcp 127.0.0.2 7000)" \
	ECONNREFUSED "an ordinary user may run a server as themselves (and is judged as such)"
is "$(as_user "$user" run --identity "$user" --server fetch -- "$MF_TMP/bin/probe" connect tcp 127.0.0.1 7000)" \
	EPERM "and gets only their own grants"

# A launcher named by the policy: any identity.
is "$(as_user "$launcher" run --identity alice --server fetch -- "$MF_TMP/bin/probe" connect tcp 127.0.0.1 7000)" \
	ECONNREFUSED "a policy launcher may assert another identity"

# Only root changes policy.
out=$(as_user "$user" policy load "$MF_TMP/policy.json" 2>&1)
is "$?" 1 "an ordinary user cannot load policy"
like "$out" "permission denied" "with the reason"

# whoami answers from the kernel's tag.
is "$(mf whoami)" ungoverned "whoami of an ungoverned process"
is "$(mf run --allow-root --identity alice --server fetch -- "$MF_BUILD/mcpfence" whoami)" "alice fetch" \
	"whoami of a governed process"
is "$(mf run --allow-root --identity alice --server fetch -- env | grep ^MCPFENCE_IDENTITY=)" \
	"MCPFENCE_IDENTITY=alice" "run sets MCPFENCE_IDENTITY for information"

# An ordinary user's audit stream holds only their own identity's records.
as_user "$user" audit --json >"$MF_TMP/user-audit.json"
is "$(jq -r .identity "$MF_TMP/user-audit.json" | sort -u)" "$user" \
	"an ordinary user sees only records of their own identity"
is "$(jq -r 'select(.identity == "alice")' "$MF_TMP/user-audit.json")" "" \
	"not alice's, though alice's exist"
mf audit --json --identity alice >"$MF_TMP/alice-audit.json"
like "$(jq -r 'select(.event == "connect") | "\(.verdict) \(.addr):\(.port)"' "$MF_TMP/alice-audit.json" | sort -u | tr '\n' ' ')" \
	"allow 127.0.0.1:7000" "root sees them (filtered with --identity)"

# Without the agent, run refuses to start the server.
agent_stop
out=$(mf run --allow-root --identity alice --server fetch -- echo started 2>&1)
is "$?" 1 "run refuses when the agent is not reachable"
like "$out" "refusing to start echo ungoverned" "and says so"

done_testing
