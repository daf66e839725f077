#!/usr/bin/env bash
# IPv4 source routes (LSRR/SSRR options): the hooks approve the stated
# destination A, UDP and TCP send to the route's first hop B (opt.faddr).
# IP_OPTIONS is refused to governed processes; a route given as ancillary
# data (IP_RETOPTS) or carried by a socket from elsewhere is dropped at
# egress. A sniffer in the test's network namespace must see no packet to
# B; the same technique, ungoverned, shows that it reaches B.
. "$(dirname "$0")/lib.sh"

netns_setup || exit 1
cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "servers": { "web": {} },
  "rules": [
    { "name": "alice-a", "server": "web", "who": ["alice"],
      "allow": [ { "to": "$MF_NS_V4_A/32" } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

A=$MF_NS_V4_A
B=$MF_NS_V4_B
sr() { nsx "$MF_HELPERS/srcroute" "$@"; }
as_alice() { mf_ns run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/srcroute" "$@"; }
handed() { # MODE PROTO: a socket with MODE's route, used by a governed process
	sr hand "$1" "$2" "$B" "$A" 9 "$MF_BUILD/mcpfence" --socket "$MF_SOCK" run --allow-root --no-harden \
		--identity alice --server web -- "$MF_HELPERS/srcroute" fd3 "$2" "$A" 9
}

sniff_start "$B"
is "$(sr lsrr-cmsg udp "$B" "$A" 9)" OK "ungoverned: udp send to A with a source route via B"
[ "$(sniff_stop)" -gt 0 ]
ok $? "ungoverned: the sniffer sees the packet reach B"

sniff_start "$B"
is "$(as_alice lsrr udp "$B" "$A" 9)" EPERM "governed: setsockopt IP_OPTIONS is refused (udp)"
is "$(as_alice lsrr tcp "$B" "$A" 9)" EPERM "governed: setsockopt IP_OPTIONS is refused (tcp)"
is "$(as_alice lsrr-cmsg udp "$B" "$A" 9)" EPERM \
	"governed: a source route as ancillary data (IP_RETOPTS): dropped at egress, sendmsg fails"
is "$(handed lsrr udp)" EPERM "governed: udp send on a socket that already carries a source route"
handed lsrr tcp >/dev/null
is "$(sr xfrm udp "$B" "$A" 9)" EINVAL "ungoverned: IP_XFRM_POLICY reaches the kernel (which refuses this one)"
is "$(as_alice xfrm udp "$B" "$A" 9)" EPERM "governed: setsockopt IP_XFRM_POLICY (per-socket IPsec tunnel) is refused"
sniff_check "governed: no packet reaches B by any of these paths (tcp SYN included)"

sniff_start "$A"
is "$(as_alice rr-cmsg udp "$B" "$A" 9)" OK "governed: options that do not route (record route) pass"
[ "$(sniff_stop)" -gt 0 ]
ok $? "governed: the sniffer sees that packet reach A"
sniff_start "$A"
is "$(mf_ns run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/probe" sendto udp "$A" 9)" OK \
	"governed: a plain udp send to A is allowed"
[ "$(sniff_stop)" -gt 0 ]
ok $? "governed: the sniffer sees it reach A"

mf audit --json >"$MF_TMP/audit.json"
is "$(jq -r 'select(.event == "sockopt") | "\(.level)/\(.optname)"' "$MF_TMP/audit.json" | sort -u | tr '\n' ' ')" \
	"0/17 0/4 " "each refused option is audited (level/optname)"
is "$(jq -r 'select(.event == "source-route") | "\(.verdict) \(.addr) \(.route)"' "$MF_TMP/audit.json" | sort -u)" \
	"deny $B 131" "the dropped packets are audited with their first hop and option (LSRR)"
is "$(mf status --json | jq '.counters.sockopts_refused')" 3 "each refused option is counted"
[ "$(mf status --json | jq '.counters.source_routed_dropped')" -ge 3 ]
ok $? "dropped packets are counted"

done_testing
