#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# `make demo`: one real MCP server (@modelcontextprotocol/server-redis), one
# real MCP client, two identities. Alice's tool call reaches Redis; Bob's is
# refused by the kernel. Then the audit stream. Everything it starts it stops.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (sudo make demo): the agent loads BPF programs" >&2
	exit 1
fi
make -s --no-print-directory deps all || exit 1

TMP=$(mktemp -d /tmp/mcpfence-demo.XXXXXX)
export MCPFENCE_SOCKET=$TMP/control.sock
PIN_DIR=/sys/fs/bpf/mcpfence-demo-$$
AGENT_PID= REDIS_PID=

cleanup() {
	[ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
	[ -d "$PIN_DIR" ] && build/mcpfenced --uninstall --pin-dir "$PIN_DIR"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold=$(tput bold 2>/dev/null || true)
plain=$(tput sgr0 2>/dev/null || true)
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '%s$ %s%s\n' "$bold" "$*" "$plain"; }

# A private Redis on a free loopback port, and the example policy for it.
PORT=$(for p in $(seq 16379 16479); do
	(exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; break; }
done)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no >"$TMP/redis.out" 2>&1 &
REDIS_PID=$!
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
jq --argjson port "$PORT" '(.rules[].allow[].ports) = [$port]' policy/examples/redis.json \
	>"$TMP/redis.json"

step "1. Start the agent (embedded default policy: governed processes may reach nothing)"
show "mcpfenced --detach-on-exit &"
build/mcpfenced --pin-dir "$PIN_DIR" --audit-log "$TMP/audit.jsonl" --detach-on-exit \
	>"$TMP/agent.out" 2>&1 &
AGENT_PID=$!
for _ in $(seq 100); do build/mcpfence status >/dev/null 2>&1 && break; sleep 0.05; done
build/mcpfence status || { cat "$TMP/agent.out"; exit 1; }

step "2. Load the policy: alice@example.com may reach Redis at 127.0.0.1:$PORT, bob@example.com may not"
show "mcpfence policy load policy/examples/redis.json   # (port set to $PORT)"
build/mcpfence policy load "$TMP/redis.json" || exit 1

server=(node "$ROOT/tests/mcp/node_modules/@modelcontextprotocol/server-redis/dist/index.js"
	"redis://127.0.0.1:$PORT")
call() { # IDENTITY TOOL ARGS
	node tests/mcp/client.mjs --call "$2" --args "$3" --timeout 5000 --stderr "$TMP/$1.err" -- \
		build/mcpfence run --allow-root --identity "$1" --server redis -- "${server[@]}"
}

step "3. An MCP client calls the Redis server's 'set' tool, launched for alice"
show "mcpfence run --identity alice@example.com --server redis -- npx @modelcontextprotocol/server-redis redis://127.0.0.1:$PORT"
call alice@example.com set '{"key":"report","value":"alice-q3"}'
echo "-> exit $? (the tool call succeeded)"
show "redis-cli GET report"
redis-cli -p "$PORT" GET report

step "4. The same server and call, launched for bob"
show "mcpfence run --identity bob@example.com --server redis -- npx @modelcontextprotocol/server-redis ..."
call bob@example.com set '{"key":"report","value":"bob-was-here"}'
echo "-> exit $? (the server could not connect; its log says:)"
grep -m1 -o 'connect EPERM[^"]*' "$TMP/bob@example.com.err" | sed 's/^/   /'
show "redis-cli GET report"
redis-cli -p "$PORT" GET report

step "5. The audit stream"
show "mcpfence audit"
build/mcpfence audit

step "Done: cleaning up (agent detached, Redis stopped, pins removed)"
