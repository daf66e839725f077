#!/usr/bin/env bash
# IPv6 routing headers: the hooks approve the stated destination A, the
# kernel sends to the route's first hop B (fl6_update_dst). Set by
# setsockopt they are refused; on a socket that carries one already (set
# before the process was governed, or by another process), the packet is
# dropped at egress. A sniffer in the test's network namespace must see no
# packet to B; the same technique, ungoverned, shows that it reaches B.
. "$(dirname "$0")/lib.sh"

netns_setup || exit 1
# web32: a server tagged at exec, whose 32-bit syscalls meet the raw syscall
# tracepoint (launched servers are killed by seccomp on the first one).
cp "$MF_HELPERS/int80" "$MF_TMP/int80-server"
cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "servers": { "web": {}, "web32": { "exec": ["$MF_TMP/int80-server"] } },
  "rules": [
    { "name": "alice-a", "server": "web", "who": ["alice"],
      "allow": [ { "to": "$MF_NS_V6_A/128" }, { "to": "$MF_NS_V4_A/32" } ] },
    { "name": "web32-a", "server": "web32", "who": ["*"],
      "allow": [ { "to": "$MF_NS_V6_A/128" } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

A=$MF_NS_V6_A
B=$MF_NS_V6_B
sr() { nsx "$MF_HELPERS/srcroute" "$@"; }
as_alice() { mf_ns run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/srcroute" "$@"; }

# The technique works on this kernel: without the fence the packet goes to B.
sniff_start "$B"
is "$(sr rthdr udp "$B" "$A" 9)" OK "ungoverned: udp send to A with a routing header via B"
[ "$(sniff_stop)" -gt 0 ]
ok $? "ungoverned: the sniffer sees the packet reach B"

sniff_start "$B"
is "$(as_alice rthdr udp "$B" "$A" 9)" EPERM "governed: setsockopt IPV6_RTHDR is refused (udp)"
is "$(as_alice rthdr tcp "$B" "$A" 9)" EPERM "governed: setsockopt IPV6_RTHDR is refused (tcp)"
is "$(as_alice rthdr2292 udp "$B" "$A" 9)" EPERM "governed: setsockopt IPV6_2292RTHDR is refused"
is "$(as_alice pktoptions udp "$B" "$A" 9)" EPERM "governed: setsockopt IPV6_2292PKTOPTIONS is refused"
is "$(as_alice xfrm udp "$B" "$A" 9)" EPERM "governed: setsockopt IPV6_XFRM_POLICY is refused"
# Without CONFIG_IPV6_MIP6 the kernel itself refuses routing headers as
# ancillary data (EINVAL); with it, egress drops the packet (EPERM).
like "$(as_alice rthdr-cmsg udp "$B" "$A" 9)" "^(EINVAL|EPERM)$" \
	"governed: a routing header as ancillary data does not get out"
is "$(sr hand rthdr udp "$B" "$A" 9 \
	"$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --no-harden --identity alice --server web -- \
	"$MF_HELPERS/srcroute" fd3 udp "$A" 9)" EPERM \
	"governed: udp send on a socket that already carries a routing header: dropped (EPERM)"
sr hand rthdr tcp "$B" "$A" 9 "$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --no-harden --identity alice \
	--server web -- "$MF_HELPERS/srcroute" fd3 tcp "$A" 9 >/dev/null
# The 32-bit setsockopt does not run cgroup/setsockopt programs: it kills
# the process before the option is set (the socket handed over above shows
# egress holding for an option set where no hook saw it).
nsx "$MF_TMP/int80-server" rthdr udp "$B" "$A" 9 >/dev/null 2>&1
is "$?" 137 "governed (exec): IPV6_RTHDR by a 32-bit setsockopt kills the process"
sniff_check "governed: no packet reaches B by any of these paths (tcp SYN included)"

# Plain traffic of governed (marked) sockets still flows.
sniff_start "$A"
is "$(mf_ns run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/probe" sendto udp "$A" 9)" OK \
	"governed: a plain udp send to A is allowed"
[ "$(sniff_stop)" -gt 0 ]
ok $? "governed: the sniffer sees it reach A"

mf audit --json >"$MF_TMP/audit.json"
is "$(jq -r 'select(.event == "sockopt") | "\(.level)/\(.optname)"' "$MF_TMP/audit.json" | sort -u | tr '\n' ' ')" \
	"41/35 41/5 41/57 41/6 " "each refused option is audited (level/optname)"
is "$(jq -r 'select(.event == "source-route") | "\(.verdict) \(.addr) \(.route) \(.proto)"' "$MF_TMP/audit.json" | sort -u | tr '\n' ' ')" \
	"deny $B 5 tcp deny $B 5 udp " "the dropped packets are audited: first hop, routing type + 1, protocol"
is "$(mf status --json | jq ".counters.sockopts_refused")" 5 "each refused option is counted"
[ "$(mf status --json | jq '.counters.source_routed_dropped')" -ge 2 ]
ok $? "dropped packets are counted"

done_testing
