#!/usr/bin/env bash
# examples/multi-tenant-host: one Node MCP host (the SDK's Client) serving two
# users at once, a session per user started with a ticket through
# `mcpfence run`, each an isolated server with that user's credential. Each
# user's tool call carries that user's token; a server told to read the other
# user's credential, /proc entries or HOME fails.
. "$(dirname "$0")/../lib.sh"

# Tenant uids read these: copies in $MF_TMP, since the checkout may sit under
# a private directory (mktemp -d).
mkdir -m 755 "$MF_TMP/ex"
cp -r "$MF_SRC/examples/multi-tenant-host" "$MF_SRC/tests/mcp/node_modules" "$MF_TMP/ex/"
EX=$MF_TMP/ex/multi-tenant-host
MODULES=$MF_TMP/ex/node_modules
[ "$(id -u)" = 0 ] || skip_all "needs root"
NODE=$(command -v node) || skip_all "node is not installed (make deps)"
command -v curl >/dev/null || skip_all "curl is not installed"
[ -d "$MODULES/@modelcontextprotocol/sdk" ] ||
	skip_all "tests/mcp/node_modules is missing (make deps: npm ci --prefix tests/mcp)"

CRED=$MF_TMP/cred/gdrive
TEN=$MF_TMP/tenants
mkdir -p "$CRED"
chmod 700 "$MF_TMP/cred"
printf 'ya29.alice-3c81\n' >"$CRED/alice"
printf 'ya29.bob-77a0\n' >"$CRED/bob"
chmod 600 "$CRED"/*
cat >"$MF_TMP/p.json" <<JSON
{ "version": 1,
  "servers": { "gdrive": { "isolate": true, "filesystem": { "read": ["$EX", "$MODULES"] },
                           "credentials": [ { "env": "GDRIVE_TOKEN", "file": "$CRED/{identity}" } ] } },
  "rules": [] }
JSON
echo '{ "tok-alice": "alice", "tok-bob": "bob" }' >"$MF_TMP/users.json"
agent_start "$MF_TMP/p.json" --uid-range 61920-61929 --tenants-dir "$TEN" || exit 1

"$NODE" "$EX/host.mjs" --port 0 --users "$MF_TMP/users.json" --server gdrive --modules "$MODULES" \
	--mcpfence "$MF_BUILD/mcpfence" -- "$NODE" "$EX/server.mjs" "$MODULES" \
	>"$MF_TMP/host.out" 2>"$MF_TMP/host.err" &
HOST=$!
kill_at_exit $HOST
wait_for grep -q listening "$MF_TMP/host.out"
PORT=$(awk '/listening/ { print $2 }' "$MF_TMP/host.out")
like "$PORT" '^[0-9]+$' "the host listens"

call() { # TOKEN TOOL [ARGS-JSON]: the tool's text
	curl -s -m 20 -H "Authorization: Bearer $1" -d "{\"name\":\"$2\",\"arguments\":${3:-{\}}}" \
		"http://127.0.0.1:$PORT/call" | sed -n 's/.*"text":"\(.*\)"}$/\1/p'
}
fp() { printf '%s' "$1" | sha256sum | cut -c1-16; }

# Both users' first calls at once: two sessions start together.
call tok-alice token_fingerprint >"$MF_TMP/a.fp" &
A=$!
call tok-bob token_fingerprint >"$MF_TMP/b.fp" &
wait $A $!
is "$(cat "$MF_TMP/a.fp")" "$(fp ya29.alice-3c81)" "alice's tool call carries alice's token"
is "$(cat "$MF_TMP/b.fp")" "$(fp ya29.bob-77a0)" "bob's carries bob's"

a_who=$(call tok-alice whoami)
b_who=$(call tok-bob whoami)
like "$a_who" '^uid=619[0-9]+ identity=alice pid=[0-9]+$' "alice's server runs as a tenant uid"
like "$b_who" '^uid=619[0-9]+ identity=bob pid=[0-9]+$' "so does bob's"
AUID=${a_who#uid=}; AUID=${AUID%% *}
BUID=${b_who#uid=}; BUID=${BUID%% *}
BPID=${b_who##*pid=}
[ "$AUID" != "$BUID" ]
ok $? "two uids ($AUID, $BUID)"

# alice's server, prompt-injected, goes after bob's.
read_as_alice() { call tok-alice read_file "{\"path\":\"$1\"}"; }
is "$(read_as_alice "$CRED/bob")" "error: EACCES" "alice's server cannot read bob's credential file"
is "$(read_as_alice /proc/"$BPID"/environ)" "error: EACCES" "nor the environment of bob's server"
is "$(read_as_alice "$TEN/$BUID/home/.config")" "error: EACCES" "nor anything in bob's HOME"
is "$(read_as_alice "$TEN/$BUID/tmp/x")" "error: EACCES" "nor in his TMPDIR"
is "$(call tok-alice token_fingerprint)" "$(fp ya29.alice-3c81)" "and still holds only its own token"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' -d '{}' \
	"http://127.0.0.1:$PORT/call")" 401 "an unknown user is turned away"

is "$(grep -c '"event":"credential".*"identity":"alice","server":"gdrive","credential":"GDRIVE_TOKEN"' \
	"$MF_AUDIT_LOG")" 1 "alice's credential handed out once, audited"
is "$(grep -c '"event":"credential".*"identity":"bob","server":"gdrive","credential":"GDRIVE_TOKEN"' \
	"$MF_AUDIT_LOG")" 1 "bob's too"
is "$(grep -c '"event":"launch","verdict":"allow","identity":"\(alice\|bob\)"' "$MF_AUDIT_LOG")" 2 \
	"each session is one launch by the agent"
is "$(grep -c 'ya29' "$MF_AUDIT_LOG" "$MF_TMP/host.out" "$MF_TMP/host.err" | awk -F: '{ n += $2 } END { print n }')" 0 \
	"no token in the audit log nor in what the host printed"

kill -TERM $HOST
wait $HOST
is "$?" 0 "the host stops"
wait_for sh -c "! ps -eo uid= | grep -qE '^ *($AUID|$BUID)\$'"
ok $? "and both users' servers with it"

done_testing
