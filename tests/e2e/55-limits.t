#!/usr/bin/env bash
# Policy limits (bpf/mcpfence_limits.h): a policy at the limits passes check,
# loads, and reloads into a policy of other names at the same limits, since
# each kernel map holds two policies; one past a limit is refused by check,
# naming it. At the limits here: MF_MAX_IDENTITIES identities bound by name,
# on 4 servers: MF_MAX_BINDINGS bindings; then MF_MAX_SEGTABS segment tables
# (prefixes of distinct port segments).
. "$(dirname "$0")/../lib.sh"

IDENTITIES=16384 # MF_MAX_IDENTITIES
SERVERS=4        # x IDENTITIES = MF_MAX_BINDINGS

# items FORMAT N: FORMAT (one %d) for 0..N-1, comma-separated
items() { printf "$1, " $(seq 0 $(($2 - 1))) | sed 's/, $//'; }

write_policy() { # FILE PREFIX IDENTITIES SERVERS
	local i
	{
		printf '{ "version": 1,\n  "groups": { "g": [%s] },\n' "$(items "\"$2%d\"" "$3")"
		printf '  "servers": { %s },\n  "rules": [\n' "$(items '"s%d": {}' "$4")"
		for ((i = 0; i < $4; i++)); do
			[ $i -eq 0 ] || printf ',\n'
			printf '    { "name": "r%d", "server": "s%d", "who": ["group:g"],\n' "$i" "$i"
			printf '      "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] }'
		done
		printf '\n  ]\n}\n'
	} >"$1"
}

write_policy "$MF_TMP/a.json" a "$IDENTITIES" "$SERVERS"
write_policy "$MF_TMP/b.json" b "$IDENTITIES" "$SERVERS"
write_policy "$MF_TMP/more-ids.json" a $((IDENTITIES + 1)) 1
write_policy "$MF_TMP/more-bindings.json" a "$IDENTITIES" $((SERVERS + 1))

out=$(mf policy check "$MF_TMP/a.json" 2>&1)
like "$out" "ok: $SERVERS servers" "a policy at the limits passes check"
out=$(mf policy check "$MF_TMP/more-ids.json" 2>&1)
where='[0-9]+:[0-9]+: rules\[[0-9]+\]: cannot compile policy:'
like "$out" "more-ids.json:$where more than $IDENTITIES identities bound by name \(MF_MAX_IDENTITIES" \
	"one identity more: check names MF_MAX_IDENTITIES, at the rule"
out=$(mf policy check "$MF_TMP/more-bindings.json" 2>&1)
like "$out" "more-bindings.json:$where more than $((IDENTITIES * SERVERS)) \(identity, server\) bindings \(MF_MAX_BINDINGS" \
	"one server more: check names MF_MAX_BINDINGS, at the rule"

agent_start "$MF_TMP/a.json" || exit 1
as() { # IDENTITY SERVER PORT [ADDRESS]
	mf run --allow-root --identity "$1" --server "$2" -- "$MF_HELPERS/probe" connect tcp "${4:-127.0.0.1}" "$3"
}
is "$(as a0 s0 7000)" ECONNREFUSED "loaded at the limits: a0 on s0 may connect"
is "$(as b0 s0 7000)" EPERM "and b0 may not"
out=$(mf policy load "$MF_TMP/b.json" 2>&1)
is "$?" 0 "a reload at the limits, with other names, loads ($out)"
is "$(as b$((IDENTITIES - 1)) s$((SERVERS - 1)) 7000)" ECONNREFUSED \
	"the new policy: its last identity on its last server may connect"
is "$(as a0 s0 7000)" EPERM "and the old one's identities may not"
out=$(mf policy load "$MF_TMP/a.json" 2>&1)
is "$?" 0 "and back ($out)"
is "$(as a0 s0 7000)" ECONNREFUSED "a0 may connect again"

TABLES=65536 # MF_MAX_SEGTABS
# segtab_policy FILE PORT0 N: N /32 prefixes of 127.1-2.x.y, each with its own
# port (PORT0 + 1 + i mod 32768), 32768 to a rule: N distinct segment tables.
segtab_policy() {
	awk -v port0="$2" -v n="$3" 'BEGIN {
		printf "{ \"version\": 1, \"servers\": { \"t\": {} }, \"rules\": [\n"
		for (i = 0; i < n; i++) {
			r = int(i / 32768); j = i % 32768
			if (j == 0)
				printf "%s  { \"name\": \"t%d\", \"server\": \"t\", \"who\": [\"u\"], \"allow\": [\n", r ? " ] },\n" : "", r
			printf "%s    { \"to\": \"127.%d.%d.%d/32\", \"ports\": [%d] }", j ? ",\n" : "",
				1 + r, int(j / 256), j % 256, port0 + 1 + j
		}
		printf " ] } ] }\n"
	}' >"$1"
}
segtab_policy "$MF_TMP/t-a.json" 0 $TABLES
segtab_policy "$MF_TMP/t-b.json" 20000 $TABLES
segtab_policy "$MF_TMP/t-more.json" 0 $((TABLES + 1))
out=$(mf policy check "$MF_TMP/t-a.json" 2>&1)
like "$out" "$TABLES kernel entries, $TABLES segment tables" "a policy at MF_MAX_SEGTABS passes check"
out=$(mf policy check "$MF_TMP/t-more.json" 2>&1)
like "$out" "t-more.json:$where more than $TABLES distinct port segment tables in all \(MF_MAX_SEGTABS" \
	"one table more: check names MF_MAX_SEGTABS, at the rule"
out=$(mf policy load "$MF_TMP/t-a.json" 2>&1)
is "$?" 0 "it loads ($out)"
is "$(as u t 1 127.1.0.0)" ECONNREFUSED "its first prefix allows its port"
is "$(as u t 2 127.1.0.0)" EPERM "and no other"
out=$(mf policy load "$MF_TMP/t-b.json" 2>&1)
is "$?" 0 "a reload with other tables at the limit loads ($out)"
is "$(as u t 52768 127.2.127.255)" ECONNREFUSED "the new policy's last prefix allows its port"
is "$(as u t 32768 127.2.127.255)" EPERM "the old one's port no more"
out=$(mf policy load "$MF_TMP/t-a.json" 2>&1)
is "$?" 0 "and back ($out)"
is "$(as u t 32768 127.2.127.255)" ECONNREFUSED "the old port again"

done_testing
