#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The MCP round trip by name: the official Redis MCP server reaches its Redis
# as redis://redis.test:PORT, resolved through getaddrinfo (node) and the
# agent's resolver, with a policy written only with names. redis.test is
# served by a dnsmasq on loopback and answers 127.0.0.1: alice's destination
# says "private": true, bob's does not (DNS rebinding), so only alice's
# server gets through, on its first connect. glibc reads a private
# resolv.conf (a mount namespace of the test); the host's is not changed.
#
# Needs: root, node, redis-server, redis-cli, dnsmasq, tests/mcp/node_modules.
. "$(dirname "$0")/../lib.sh"

MCP_DIR=$MF_SRC/tests/mcp
CLIENT=$MCP_DIR/client.mjs
SERVER_JS=$MCP_DIR/node_modules/@modelcontextprotocol/server-redis/dist/index.js
NODE=$(command -v node) || skip_all "node is not installed (make deps)"
command -v redis-server >/dev/null || skip_all "redis-server is not installed (make deps)"
command -v dnsmasq >/dev/null || skip_all "dnsmasq is not installed (make deps)"
[ -f "$SERVER_JS" ] || skip_all "tests/mcp/node_modules is missing (make deps)"

PORT=$("$NODE" -e 'const s = require("net").createServer();
	s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$MF_TMP" \
	--daemonize no >"$MF_TMP/redis.out" 2>&1 &
kill_at_exit $!
disown $!
UP=$((5200 + $$ % 100)) # dnsmasq's port (by pid: test runs may overlap)
dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=$UP --pid-file= --conf-file=/dev/null --user=root \
	--host-record=redis.test,127.0.0.1 >"$MF_TMP/dnsmasq.out" 2>&1 &
kill_at_exit $!
disown $!
wait_for redis-cli -h 127.0.0.1 -p "$PORT" ping || { diag "redis did not start"; exit 1; }

cat >"$MF_TMP/policy.json" <<JSON
{ "version": 1, "audit": { "allowed": "all" },
  "dns": { "upstream": ["127.0.0.1:$UP"] },
  "servers": { "redis": {} },
  "rules": [
    { "name": "alice-redis", "server": "redis", "who": ["alice@example.com"],
      "allow": [ { "host": "redis.test", "ports": [$PORT], "proto": "tcp", "private": true } ] },
    { "name": "bob-redis", "server": "redis", "who": ["bob@example.com"],
      "allow": [ { "host": "redis.test", "ports": [$PORT], "proto": "tcp" } ] } ] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1
echo "nameserver 127.0.0.53" >"$MF_TMP/resolv.conf"

# mcp_call NAME IDENTITY TIMEOUT_MS TOOL ARGS_JSON: the MCP client drives the
# server under `mcpfence run`, in a mount namespace with the private resolv.conf.
mcp_call() {
	unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$MF_TMP/resolv.conf" \
		timeout -k 5 30 "$NODE" "$CLIENT" --timeout "$3" --stderr "$MF_TMP/$1.err" \
		--call "$4" --args "$5" -- \
		"$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --identity "$2" \
		--server redis -- "$NODE" "$SERVER_JS" "redis://redis.test:$PORT" \
		>"$MF_TMP/$1.out" 2>>"$MF_TMP/$1.err"
	MCP_RC=$?
	MCP_OUT=$(head -n 1 "$MF_TMP/$1.out")
}

mcp_call alice alice@example.com 20000 set '{"key":"k-alice","value":"by-name"}'
is "$MCP_RC" 0 "alice's server reaches redis.test through the name's grant"
is "$(redis-cli -h 127.0.0.1 -p "$PORT" get k-alice)" by-name "redis holds alice's value"
like "$(grep '"identity":"alice@example.com"' "$MF_AUDIT_LOG" | grep '"event":"connect"' |
	grep "\"port\":$PORT" | head -1)" '"verdict":"allow".*"via":"name","host":"redis.test"' \
	"its first connect was allowed through the name"
is "$(grep '"identity":"alice@example.com"' "$MF_AUDIT_LOG" | grep '"event":"connect"' |
	grep "\"port\":$PORT" | grep -c '"verdict":"deny"')" 0 "no connect of alice's was refused"

mcp_call bob bob@example.com 6000 set '{"key":"k-bob","value":"x"}'
is "$MCP_RC" 1 "bob's server: the loopback answer is not installed without \"private\""
grep -q "connect EPERM 127.0.0.1:$PORT" "$MF_TMP/bob.err"
ok $? "its connect to 127.0.0.1:$PORT got EPERM"
is "$(redis-cli -h 127.0.0.1 -p "$PORT" exists k-bob)" 0 "redis has no key from bob"

done_testing
