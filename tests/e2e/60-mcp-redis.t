#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A real MCP round trip: the official Redis MCP server
# (@modelcontextprotocol/server-redis, pinned in tests/mcp/package.json) runs
# under `mcpfence run` for two identities, driven by a real MCP client
# (tests/mcp/client.mjs, the SDK's Client over stdio). The policy lets
# alice@example.com reach the Redis server on loopback and lets
# bob@example.com reach only another address: alice's tool call writes to
# Redis, bob's fails (his server's connect() gets EPERM), Redis holds alice's
# value and not bob's, and the audit log shows both decisions.
#
# Needs: root, node, redis-server and redis-cli, tests/mcp/node_modules
# (`make deps` installs them all).

. "$(dirname "$0")/../lib.sh"

MCP_DIR=$MF_SRC/tests/mcp
CLIENT=$MCP_DIR/client.mjs
SERVER_JS=$MCP_DIR/node_modules/@modelcontextprotocol/server-redis/dist/index.js

[ "$(id -u)" -eq 0 ] || skip_all "needs root"
NODE=$(command -v node) || skip_all "node is not installed (make deps)"
command -v redis-server >/dev/null || skip_all "redis-server is not installed (make deps)"
command -v redis-cli >/dev/null || skip_all "redis-cli is not installed (make deps)"
[ -f "$SERVER_JS" ] && [ -d "$MCP_DIR/node_modules/@modelcontextprotocol/sdk" ] ||
	skip_all "tests/mcp/node_modules is missing (make deps: npm ci --prefix tests/mcp)"

# Seconds for one MCP client run (the client stops itself at its --timeout;
# this outer bound only guards against the client itself hanging).
ALICE_TIMEOUT_MS=20000
# Bob's server retries its refused connection for ~31 s before giving up and
# never answers `initialize` meanwhile: a few seconds are enough to see it fail.
BOB_TIMEOUT_MS=6000

# ---- diagnostics on failure ------------------------------------------------
dump_file() { # TITLE FILE
	diag "---- $1 ($2):"
	if [ -s "$2" ]; then
		tail -n 60 "$2" | sed 's/^/#   /'
	else
		diag "  (empty or missing)"
	fi
}
diagnose() {
	[ "$_tap_failed" -eq 0 ] && return 0
	dump_file "agent output" "$MF_TMP/agent.out"
	dump_file "redis-server output" "$MF_TMP/redis.out"
	local f
	for f in "$MF_TMP"/*.err "$MF_TMP"/*.json.out; do
		[ -e "$f" ] && dump_file "$(basename "$f")" "$f"
	done
	dump_file "mf audit --json" "$MF_TMP/audit.jsonl"
	dump_file "mf audit --json stderr" "$MF_TMP/audit.stderr"
}

# bail DESC: record a failure, show why, stop here.
bail() {
	ok 1 "$1"
	diagnose
	done_testing
	exit 1
}

# ---- a Redis server on a free loopback port ---------------------------------
free_port() {
	"$NODE" -e 'const s = require("net").createServer();
		s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

REDIS_PID=
PORT=
for attempt in 1 2 3; do
	PORT=$(free_port) || bail "find a free loopback port"
	redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$MF_TMP" --daemonize no >"$MF_TMP/redis.out" 2>&1 &
	REDIS_PID=$!
	kill_at_exit "$REDIS_PID"
	if wait_for redis-cli -h 127.0.0.1 -p "$PORT" ping; then
		break
	fi
	kill -KILL "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
done
[ -n "$REDIS_PID" ] || bail "redis-server answers on 127.0.0.1"
is "$(redis-cli -h 127.0.0.1 -p "$PORT" ping)" "PONG" "redis-server answers on 127.0.0.1:$PORT"
diag "redis-server pid $REDIS_PID on 127.0.0.1:$PORT"

# ---- the policy ---------------------------------------------------------------
cat >"$MF_TMP/policy.json" <<EOF
{ "version": 1, "mode": "enforce", "audit": {"allowed": "all"},
  "servers": { "redis": {} },
  "rules": [
    { "name": "alice-redis", "server": "redis", "who": ["alice@example.com"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [$PORT], "proto": "tcp" } ] },
    { "name": "bob-elsewhere", "server": "redis", "who": ["bob@example.com"],
      "allow": [ { "to": "127.0.0.9/32", "ports": [$PORT], "proto": "tcp" } ] } ] }
EOF

agent_start "$MF_TMP/policy.json" || bail "agent starts with the policy"
ok 0 "agent starts with the policy"

# ---- MCP calls through mcpfence run -----------------------------------------
# mcp_call NAME IDENTITY TIMEOUT_MS TOOL ARGS_JSON: runs the MCP client against
# the Redis MCP server launched by `mcpfence run` as IDENTITY. The client's
# JSON line goes to $MF_TMP/NAME.json.out, the server's stderr (and the CLI's)
# to $MF_TMP/NAME.err; sets MCP_RC (0 ok, 1 call failed, 2 client/protocol
# failure, 124/137 the outer timeout) and MCP_OUT.
mcp_call() {
	local name=$1 identity=$2 tmo=$3 tool=$4 args=$5
	local outer=$(((tmo + 999) / 1000 + 10))
	timeout -k 5 "$outer" "$NODE" "$CLIENT" --timeout "$tmo" --stderr "$MF_TMP/$name.err" \
		--call "$tool" --args "$args" -- \
		"$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --identity "$identity" --server redis -- \
		"$NODE" "$SERVER_JS" "redis://127.0.0.1:$PORT" \
		>"$MF_TMP/$name.json.out" 2>>"$MF_TMP/$name.err"
	MCP_RC=$?
	MCP_OUT=$(head -n 1 "$MF_TMP/$name.json.out")
	diag "$name ($identity $tool): rc=$MCP_RC $MCP_OUT"
}

# json_get JSON EXPR: a field of a JSON object (EXPR is a jq path like .text).
json_get() {
	if command -v jq >/dev/null; then
		printf '%s' "$1" | jq -r "$2 | if . == null then empty else . end" 2>/dev/null
	else
		printf '%s' "$1" | "$NODE" -e '
			let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
				try {
					const v = process.argv[1].split(".").filter(Boolean)
						.reduce((o, k) => (o == null ? undefined : o[k]), JSON.parse(s));
					if (v !== undefined && v !== null) console.log(typeof v === "object" ? JSON.stringify(v) : String(v));
				} catch { }
			});' "$2"
	fi
}

ALICE_KEY="mcpfence:e2e:alice:$$"
ALICE_VALUE="written-by-alice-$$"
BOB_KEY="mcpfence:e2e:bob:$$"

# Alice: set through MCP, then read it back through MCP.
mcp_call alice-set alice@example.com "$ALICE_TIMEOUT_MS" set \
	"{\"key\":\"$ALICE_KEY\",\"value\":\"$ALICE_VALUE\"}"
is "$MCP_RC" 0 "alice: MCP tools/call set succeeds through mcpfence run"
is "$(json_get "$MCP_OUT" .ok)" "true" "alice: set result is ok, not isError"
like "$(json_get "$MCP_OUT" .text)" "Successfully set key: $ALICE_KEY" "alice: set reports the key"

mcp_call alice-get alice@example.com "$ALICE_TIMEOUT_MS" get "{\"key\":\"$ALICE_KEY\"}"
is "$MCP_RC" 0 "alice: MCP tools/call get succeeds"
is "$(json_get "$MCP_OUT" .text)" "$ALICE_VALUE" "alice: get returns her value"

# Bob: his server's connection to 127.0.0.1:PORT is refused by the kernel.
mcp_call bob-set bob@example.com "$BOB_TIMEOUT_MS" set "{\"key\":\"$BOB_KEY\",\"value\":\"bob\"}"
is "$MCP_RC" 1 "bob: MCP tools/call set fails (call failed, not a client error)"
is "$(json_get "$MCP_OUT" .ok)" "false" "bob: set result is not ok"
grep -q "connect EPERM 127.0.0.1:$PORT" "$MF_TMP/bob-set.err"
ok $? "bob: his server's connect to 127.0.0.1:$PORT failed with EPERM"

mcp_call bob-get bob@example.com "$BOB_TIMEOUT_MS" get "{\"key\":\"$ALICE_KEY\"}"
is "$MCP_RC" 1 "bob: MCP tools/call get fails"
isnt_value=$(json_get "$MCP_OUT" .text)
[ "$isnt_value" != "$ALICE_VALUE" ]
ok $? "bob: get does not return alice's value"
grep -q "connect EPERM 127.0.0.1:$PORT" "$MF_TMP/bob-get.err"
ok $? "bob: get's connect failed with EPERM"

# ---- what really reached Redis -------------------------------------------------
is "$(redis-cli -h 127.0.0.1 -p "$PORT" get "$ALICE_KEY")" "$ALICE_VALUE" "redis holds alice's value"
is "$(redis-cli -h 127.0.0.1 -p "$PORT" exists "$BOB_KEY")" "0" "redis has no key from bob"

# ---- the audit log -----------------------------------------------------------------
# count_audit FILE IDENTITY VERDICT: records of a connect by IDENTITY to
# 127.0.0.1:PORT over TCP/IPv4 with VERDICT.
count_audit() {
	local file=$1 identity=$2 verdict=$3
	if command -v jq >/dev/null; then
		# -R + fromjson?: a line that is not JSON is skipped, not fatal.
		jq -R -c --arg id "$identity" --arg v "$verdict" --arg port "$PORT" '
			fromjson? | select(type == "object"
				and .identity == $id and .verdict == $v and .event == "connect"
				and .addr == "127.0.0.1" and ((.port | tostring) == $port)
				and .proto == "tcp" and .family == "ipv4")' "$file" 2>/dev/null | wc -l
	else
		"$NODE" -e '
			const [file, id, v, port] = process.argv.slice(1);
			let n = 0;
			for (const line of require("fs").readFileSync(file, "utf8").split("\n")) {
				let r; try { r = JSON.parse(line); } catch { continue; }
				if (r && r.identity === id && r.verdict === v && r.event === "connect" &&
				    r.addr === "127.0.0.1" && String(r.port) === port &&
				    r.proto === "tcp" && r.family === "ipv4") n++;
			}
			console.log(n);' "$file" "$identity" "$verdict" "$PORT"
	fi
}

# Audit records travel through a ring buffer: give them a moment.
audit_has_both() {
	timeout 10 "$MF_BUILD/mcpfence" --socket "$MF_SOCK" audit --json \
		>"$MF_TMP/audit.jsonl" 2>"$MF_TMP/audit.stderr" || return 1
	[ "$(count_audit "$MF_TMP/audit.jsonl" alice@example.com allow)" -ge 1 ] &&
		[ "$(count_audit "$MF_TMP/audit.jsonl" bob@example.com deny)" -ge 1 ]
}
wait_for audit_has_both
n_alice=$(count_audit "$MF_TMP/audit.jsonl" alice@example.com allow)
n_bob=$(count_audit "$MF_TMP/audit.jsonl" bob@example.com deny)
[ "${n_alice:-0}" -ge 1 ]
ok $? "audit: allow record for alice@example.com to 127.0.0.1:$PORT/tcp ($n_alice)"
[ "${n_bob:-0}" -ge 1 ]
ok $? "audit: deny record for bob@example.com to 127.0.0.1:$PORT/tcp ($n_bob)"
# No record allows bob there, nor denies alice.
is "$(count_audit "$MF_TMP/audit.jsonl" bob@example.com allow)" "0" "audit: nothing allowed bob to 127.0.0.1:$PORT"
is "$(count_audit "$MF_TMP/audit.jsonl" alice@example.com deny)" "0" "audit: nothing denied alice to 127.0.0.1:$PORT"

diagnose
done_testing
