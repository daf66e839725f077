#!/usr/bin/env bash
# Policy life cycle: check, load, bad input changes nothing, reload without
# a window, tagging at exec, and enforcement that survives an agent restart.
. "$(dirname "$0")/../lib.sh"

P=$MF_HELPERS/probe
# A copy of probe stands for an MCP server binary tagged at exec.
cp "$P" "$MF_TMP/mcp-exec-server"

write_policy() { # FILE PORT
	cat >"$1" <<JSON
{
  "version": 1,
  "servers": { "fetch": {}, "tool": { "exec": ["$MF_TMP/mcp-exec-server"] } },
  "rules": [
    { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [$2] } ] },
    { "name": "root-tool", "server": "tool", "who": ["root"],
      "allow": [ { "to": "127.0.0.3/32", "ports": [7000], "proto": "tcp" } ] }
  ]
}
JSON
}
write_policy "$MF_TMP/a.json" 7000
write_policy "$MF_TMP/b.json" 7001

# policy check: no agent, no root needed.
out=$(mf policy check "$MF_TMP/a.json")
is "$?" 0 "policy check accepts a good policy"
like "$out" "ok: 2 servers, 2 rules" "and summarizes it"
sed 's/"ports": \[7000\] }/"ports": [7000], "alow": 1 }/' "$MF_TMP/a.json" >"$MF_TMP/bad.json"
out=$(mf policy check "$MF_TMP/bad.json" 2>&1)
is "$?" 1 "policy check rejects an unknown key"
like "$out" "^$MF_TMP/bad.json:6:[0-9]+: rules\\[0\\]\\.allow\\[0\\]: unknown key .alow." "as FILE:LINE:COL naming the field"

MF_KEEP_PINS=1 # the restart test below needs the pins to outlive the agent
agent_start "$MF_TMP/a.json" || exit 1
as_alice() { mf run --allow-root --identity alice --server fetch -- "$P" "$@"; }

is "$(as_alice connect tcp 127.0.0.1 7000)" ECONNREFUSED "policy a: port 7000 allowed"
is "$(as_alice connect tcp 127.0.0.1 7001)" EPERM "policy a: port 7001 denied"

# Bad input changes nothing.
gen=$(mf status --json | jq .policy.generation)
out=$(mf policy load "$MF_TMP/bad.json" 2>&1)
is "$?" 1 "loading a malformed policy fails"
like "$out" "bad.json:6:[0-9]+: rules\\[0\\]\\.allow\\[0\\]: unknown key .alow." "with the file, line and field"
printf '{"version": 1, "servers": {' >"$MF_TMP/truncated.json"
mf policy load "$MF_TMP/truncated.json" 2>/dev/null
is "$?" 1 "loading a truncated policy fails"
is "$(mf status --json | jq .policy.generation)" "$gen" "the active generation is unchanged"
is "$(as_alice connect tcp 127.0.0.1 7000)" ECONNREFUSED "and so are the verdicts (allow)"
is "$(as_alice connect tcp 127.0.0.1 7001)" EPERM "and so are the verdicts (deny)"

# A good load takes effect at once.
mf policy load "$MF_TMP/b.json" >/dev/null
is "$(as_alice connect tcp 127.0.0.1 7001)" ECONNREFUSED "policy b: port 7001 allowed"
is "$(as_alice connect tcp 127.0.0.1 7000)" EPERM "policy b: port 7000 denied"
like "$(mf policy show)" '"ports": \[7001\]' "policy show prints the active policy"

# No window: while policies a and b alternate, what both deny stays denied.
as_alice repeat 3000 connect tcp 127.0.0.2 7000 >"$MF_TMP/window.out" &
looper=$!
for i in $(seq 10); do
	mf policy load "$MF_TMP/a.json" >/dev/null && mf policy load "$MF_TMP/b.json" >/dev/null
done
wait $looper
is "$(cat "$MF_TMP/window.out")" "EPERM=3000" "20 reloads during 3000 connects: every one denied"
as_alice repeat 2000 connect tcp 127.0.0.1 7001 >"$MF_TMP/window2.out" &
looper=$!
for i in $(seq 10); do
	mf policy load "$MF_TMP/b.json" >/dev/null
done
wait $looper
is "$(cat "$MF_TMP/window2.out")" "ECONNREFUSED=2000" \
	"reloading the same policy never denies what it allows"

# Rulesets no slot uses any more are deleted after the loads: the rules map
# holds at most the two slots' entries, however many different policies came.
entries() { mf policy check "$1" | sed -n 's/.*rulesets, \([0-9]*\) kernel entries.*/\1/p'; }
tables() { mf policy check "$1" | sed -n 's/.*entries, \([0-9]*\) segment tables/\1/p'; }
for port in $(seq 7100 7109); do
	write_policy "$MF_TMP/c.json" $port
	mf policy load "$MF_TMP/c.json" >/dev/null
done
bound=$((2 * $(entries "$MF_TMP/c.json")))
wait_for sh -c "[ \$(bpftool map dump pinned '$MF_PIN_DIR/rules' -j | jq length) -le $bound ]"
ok $? "after 10 different policies the rules map holds at most two slots' entries ($bound)"
bound=$((2 * $(tables "$MF_TMP/c.json")))
wait_for sh -c "[ \$(bpftool map dump pinned '$MF_PIN_DIR/segtabs' -j | jq length) -le $bound ]"
ok $? "and the segtabs map at most two slots' segment tables ($bound)"
is "$(as_alice connect tcp 127.0.0.1 7109)" ECONNREFUSED "and the last one is in force"
is "$(as_alice connect tcp 127.0.0.1 7108)" EPERM "the one before is not"
mf policy load "$MF_TMP/b.json" >/dev/null

# Tagging at exec: the kernel tags the server binary before it runs, as its Unix user.
is "$("$MF_TMP/mcp-exec-server" connect tcp 127.0.0.3 7000)" ECONNREFUSED \
	"exec-tagged server: allowed destination for its user"
is "$("$MF_TMP/mcp-exec-server" connect tcp 127.0.0.4 7000)" EPERM \
	"exec-tagged server: anything else denied"
is "$("$MF_TMP/mcp-exec-server" fork connect tcp 127.0.0.4 7000)" EPERM "and its children too"
is "$(mf audit --json | jq -r 'select(.event == "tag-exec") | "\(.identity) \(.server)"' | tail -1)" \
	"root tool" "the exec tag is audited with the user's name"

# Enforcement outlives the agent, and a restarted agent keeps the tags.
"$MF_BUILD/mcpfence" run --allow-root --identity alice --server fetch -- \
	sh -c "sleep 1; exec $P connect tcp 127.0.0.9 7001" >"$MF_TMP/while-down.out" &
survivor=$!
kill_at_exit $survivor
wait_for sh -c "'$MF_BUILD/mcpfence' ps --json | grep -q '\"pid\":$survivor,'"
agent_stop
wait $survivor
is "$(cat "$MF_TMP/while-down.out")" EPERM "with the agent stopped, a governed process is still judged"
ls "$MF_PIN_DIR"/link_* >/dev/null 2>&1
ok $? "the links stay pinned"
"$MF_BUILD/mcpfenced" --socket "$MF_SOCK" --pin-dir "$MF_PIN_DIR" --audit-log "$MF_AUDIT_LOG" \
	>>"$MF_TMP/agent.out" 2>&1 &
MF_AGENT_PID=$!
wait_for mf status
ok $? "the agent restarts on its pins"
is "$(as_alice connect tcp 127.0.0.1 7001)" ECONNREFUSED "it keeps the active policy"
"$MF_BUILD/mcpfence" run --allow-root --identity alice --server fetch -- sleep 30 &
sleeper=$!
kill_at_exit $sleeper
wait_for sh -c "'$MF_BUILD/mcpfence' ps --json | grep -q '\"pid\":$sleeper,'"
agent_stop
"$MF_BUILD/mcpfenced" --socket "$MF_SOCK" --pin-dir "$MF_PIN_DIR" --audit-log "$MF_AUDIT_LOG" \
	--detach-on-exit >>"$MF_TMP/agent.out" 2>&1 &
MF_AGENT_PID=$!
wait_for mf status
is "$(mf ps --json | jq -r "select(.pid == $sleeper) | .identity")" alice \
	"a process governed before the restart keeps its identity"

# A prefix whose segment table is gone (never so while the agent runs) denies.
is "$(as_alice connect tcp 127.0.0.1 7001)" ECONNREFUSED "allowed before its tables go"
bpftool map dump pinned "$MF_PIN_DIR/segtabs" -j | jq -r '.[].key | join(" ")' | while read -r key; do
	bpftool map delete pinned "$MF_PIN_DIR/segtabs" key $key
done
is "$(bpftool map dump pinned "$MF_PIN_DIR/segtabs" -j | jq length)" 0 "segment tables deleted by hand"
is "$(as_alice connect tcp 127.0.0.1 7001)" EPERM "a prefix without its segment table denies"

done_testing
