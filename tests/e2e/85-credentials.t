#!/usr/bin/env bash
# A server picks its user's credential from the kernel's tag (whoami), not
# from its environment: examples/per-user-credentials.
. "$(dirname "$0")/../lib.sh"

EX=$MF_SRC/examples/per-user-credentials
cat >"$MF_TMP/policy.json" <<'JSON'
{ "version": 1, "servers": { "gdrive": {} }, "rules": [] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1
mkdir -p "$MF_TMP/bin" "$MF_TMP/tokens"
ln -s "$MF_BUILD/mcpfence" "$MF_TMP/bin/mcpfence"
export PATH=$MF_TMP/bin:$PATH
echo alice-secret >"$MF_TMP/tokens/alice@example.com.token"
echo bob-secret >"$MF_TMP/tokens/bob@example.com.token"

show='cat "$MCP_CREDENTIAL_FILE"'
is "$(mf run --allow-root --identity alice@example.com --server gdrive -- \
	"$EX/with-user-credential.sh" "$MF_TMP/tokens" -- sh -c "$show")" alice-secret \
	"the wrapper hands alice's server alice's credential"
is "$(mf run --allow-root --identity alice@example.com --server gdrive -- \
	env MCPFENCE_IDENTITY=bob@example.com "$EX/with-user-credential.sh" "$MF_TMP/tokens" -- \
	sh -c "$show")" alice-secret "a forged MCPFENCE_IDENTITY changes nothing: the tag decides"
"$EX/with-user-credential.sh" "$MF_TMP/tokens" -- sh -c "$show" >/dev/null 2>"$MF_TMP/err"
is "$?" 1 "ungoverned: the wrapper refuses to pick a credential"
like "$(cat "$MF_TMP/err")" "not governed" "and says so"
mf run --allow-root --identity carol@example.com --server gdrive -- \
	"$EX/with-user-credential.sh" "$MF_TMP/tokens" -- true 2>"$MF_TMP/err"
is "$?" 1 "no credential for the identity: refused"

if command -v node >/dev/null; then
	is "$(mf run --allow-root --identity bob@example.com --server gdrive -- node "$EX/identity.mjs")" \
		"bob@example.com gdrive" "identity.mjs reads the tag from a Node server"
	node "$EX/identity.mjs" 2>/dev/null
	is "$?" 1 "identity.mjs: ungoverned is an error"
fi

done_testing
