#!/usr/bin/env bash
# Upgrade from the rules map of the layout before segment tables (each trie
# value the 264-byte segments, not a 4-byte segtabs id): libbpf cannot reuse
# that pin, so the agent moves it aside, copies its rulesets into the new maps
# before its programs replace the old ones, says so, and removes it. What the
# old agent enforced holds throughout, for processes it governed too.
# MF_OLD_BUILD: a build of that layout; by default the test builds one from
# OLD_REV, the last commit of main before segment tables (git archive, then
# make: about a minute).
. "$(dirname "$0")/../lib.sh"

OLD_REV=7fec127445c561fa907821231c536458456ce858
if [ -z "${MF_OLD_BUILD:-}" ]; then
	git -C "$MF_SRC" cat-file -e "$OLD_REV^{commit}" 2>/dev/null ||
		skip_all "no git history to build the old layout from (set MF_OLD_BUILD)"
	mkdir "$MF_TMP/old"
	git -C "$MF_SRC" archive "$OLD_REV" | tar -x -C "$MF_TMP/old" || exit 1
	make -C "$MF_TMP/old" -s -j2 COMMIT=old build/mcpfenced build/mcpfence >"$MF_TMP/old.log" 2>&1 ||
		{ diag "cannot build $OLD_REV: $(tail -5 "$MF_TMP/old.log")"; exit 1; }
	MF_OLD_BUILD=$MF_TMP/old/build
fi
case "$MF_OLD_BUILD" in /*) ;; *) MF_OLD_BUILD=$MF_SRC/$MF_OLD_BUILD ;; esac
[ -x "$MF_OLD_BUILD/mcpfenced" ] || skip_all "no $MF_OLD_BUILD/mcpfenced"

# 200 denied prefixes share one segment table; 7000 and 7002 each have theirs.
{
	printf '{ "version": 1, "servers": { "fetch": {} }, "rules": [\n'
	printf '  { "name": "alice-fetch", "server": "fetch", "who": ["alice"],\n'
	printf '    "allow": [ { "to": "127.0.0.1/32", "ports": [7000] },\n'
	printf '               { "to": "127.0.0.3/32", "ports": [7002] } ],\n'
	printf '    "deny": [ { "to": "127.0.0.2/32" }'
	for i in $(seq 0 199); do printf ', { "to": "10.%d.0.0/16" }' "$i"; done
	printf ' ] } ] }\n'
} >"$MF_TMP/a.json"
value_size() { bpftool map show pinned "$MF_PIN_DIR/$1" -j 2>/dev/null | jq .bytes_value; }
as_alice() { "$1/mcpfence" --socket "$MF_SOCK" run --allow-root --identity alice --server fetch -- \
	"$MF_HELPERS/probe" "${@:2}"; }

MF_KEEP_PINS=1
MF_BUILD_NEW=$MF_BUILD
MF_BUILD=$MF_OLD_BUILD agent_start "$MF_TMP/a.json" || exit 1
is "$(value_size rules)" 264 "the old agent pins a rules map of 264-byte values"
is "$(as_alice "$MF_OLD_BUILD" connect tcp 127.0.0.1 7000)" ECONNREFUSED "old agent: 7000 allowed"

# Governed by the old agent, probing while it stops and the new one starts
# (a denied connect takes ~13 us, an allowed one ~50 us here: enough of
# each to outlast the swap, ~2 s, on a fast machine too).
as_alice "$MF_OLD_BUILD" repeat 200000 connect tcp 127.0.0.1 7000 >"$MF_TMP/allow.out" &
allow_looper=$!
kill_at_exit $allow_looper
as_alice "$MF_OLD_BUILD" repeat 1000000 connect tcp 127.0.0.2 7000 >"$MF_TMP/deny.out" &
deny_looper=$!
kill_at_exit $deny_looper
sleep 0.3
agent_stop
"$MF_BUILD_NEW/mcpfenced" --socket "$MF_SOCK" --pin-dir "$MF_PIN_DIR" >"$MF_TMP/agent.out" 2>&1 &
MF_AGENT_PID=$!
wait_for mf status || sed 's/^/#   /' "$MF_TMP/agent.out"
kill -0 $allow_looper && kill -0 $deny_looper
ok $? "the governed probes outlast the upgrade"
like "$(cat "$MF_TMP/agent.out")" "rules has the layout before segment tables: its rulesets are copied" \
	"the new agent says it migrates the old rules map"
is "$(value_size rules)" 4 "the rules map has 4-byte values now"
# The saved policy, loaded again at start, is in the other slot: 3 tables each.
is "$(bpftool map dump pinned "$MF_PIN_DIR/segtabs" -j | jq length)" 6 \
	"the 203 prefixes of each slot share 3 segment tables"
[ ! -e "$MF_PIN_DIR/rules_v1" ]
ok $? "the old map's pin is gone"
is "$(as_alice "$MF_BUILD_NEW" connect tcp 127.0.0.1 7000)" ECONNREFUSED "new agent: 7000 allowed"
is "$(as_alice "$MF_BUILD_NEW" connect tcp 127.0.0.3 7002)" ECONNREFUSED "new agent: 7002 allowed"
is "$(as_alice "$MF_BUILD_NEW" connect tcp 127.0.0.1 7001)" EPERM "new agent: 7001 denied"
is "$(as_alice "$MF_BUILD_NEW" connect tcp 10.7.0.1 80)" EPERM "new agent: 10.7/16 denied"
wait $allow_looper
is "$(cat "$MF_TMP/allow.out")" "ECONNREFUSED=200000" "every allowed connect through the upgrade allowed"
wait $deny_looper
is "$(cat "$MF_TMP/deny.out")" "EPERM=1000000" "every denied connect through the upgrade denied"

# A reload after the upgrade replaces the migrated rulesets and their tables.
sed 's/7002/7003/' "$MF_TMP/a.json" >"$MF_TMP/b.json"
mf policy load "$MF_TMP/b.json" >/dev/null
is "$(as_alice "$MF_BUILD_NEW" connect tcp 127.0.0.3 7003)" ECONNREFUSED "reloaded: 7003 allowed"
is "$(as_alice "$MF_BUILD_NEW" connect tcp 127.0.0.3 7002)" EPERM "and 7002 no more"
wait_for sh -c "[ \$(bpftool map dump pinned '$MF_PIN_DIR/segtabs' -j | jq length) -eq 6 ] &&
	[ \$(bpftool map dump pinned '$MF_PIN_DIR/rules' -j | jq length) -eq 406 ]"
ok $? "the migrated ruleset and its tables are collected: two slots' remain"

MF_KEEP_PINS=0
done_testing
