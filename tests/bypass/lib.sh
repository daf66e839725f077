# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared by the bypass tests (tests/bypass/*.t): tests/lib.sh, plus a network
# namespace of the test's own and a sniffer that fails the test on any
# packet to a denied address.
#
#   . "$(dirname "$0")/lib.sh"
#   netns_setup
#   sniff_start "$MF_NS_V6_B"
#   nsx "$MF_BUILD/mcpfence" --socket "$MF_SOCK" run ... -- HELPER ...
#   sniff_check "no packet reaches the denied address"
#
# The namespace holds lo and a veth pair (mf0 <-> mf1). mf0 has 10.99.0.1/24
# and fd00::1/64; the addresses A (the test's allowed one) and B (denied)
# sit behind it with static neighbours, so a packet to either is put on the
# wire at once, where the sniffer sees it. Nothing leaves the namespace.

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

MF_NETNS=
MF_NS_V4_A=10.99.0.2
MF_NS_V4_B=10.99.0.3
MF_NS_V6_A=fd00::a
MF_NS_V6_B=fd00::b
MF_SNIFF_PID=
MF_SNIFF_OUT=

# nsx CMD...: run CMD inside the test's network namespace
nsx() { ip netns exec "$MF_NETNS" "$@"; }

# mf_ns ARGS...: the CLI inside the namespace (the control socket is a path:
# it is reached from any network namespace)
mf_ns() { nsx "$MF_BUILD/mcpfence" --socket "$MF_SOCK" "$@"; }

netns_setup() {
	MF_NETNS=mcpfence-test-$$
	ip netns add "$MF_NETNS" || return 1
	at_exit "ip netns del $MF_NETNS"
	nsx ip link set lo up &&
		nsx ip link add mf0 type veth peer name mf1 &&
		nsx ip link set mf0 up && nsx ip link set mf1 up &&
		nsx ip addr add 10.99.0.1/24 dev mf0 &&
		nsx ip -6 addr add fd00::1/64 dev mf0 nodad &&
		nsx ip neigh add "$MF_NS_V4_A" lladdr 02:00:00:00:00:0a dev mf0 nud permanent &&
		nsx ip neigh add "$MF_NS_V4_B" lladdr 02:00:00:00:00:0b dev mf0 nud permanent &&
		nsx ip -6 neigh add "$MF_NS_V6_A" lladdr 02:00:00:00:00:0a dev mf0 nud permanent &&
		nsx ip -6 neigh add "$MF_NS_V6_B" lladdr 02:00:00:00:00:0b dev mf0 nud permanent
}

# sniff_start ADDR...: count the namespace's packets to any ADDR from now on
sniff_start() {
	MF_SNIFF_OUT=$(mktemp "$MF_TMP/sniff.XXXXXX")
	ip netns exec "$MF_NETNS" "$MF_HELPERS/sniff" "$@" >"$MF_SNIFF_OUT" 2>&1 &
	MF_SNIFF_PID=$!
	kill_at_exit "$MF_SNIFF_PID"
	wait_for grep -qx ready "$MF_SNIFF_OUT"
}

_sniff_done() { [ "$(wc -l <"$MF_SNIFF_OUT")" -ge 2 ]; }

# sniff_stop: stop the sniffer and print how many packets it counted. Often
# run in a command substitution, where `wait` cannot reach the sniffer: the
# count is its second line of output.
sniff_stop() {
	[ -n "$MF_SNIFF_PID" ] || return 1
	sleep 0.1 # let the last packets through the stack
	kill -TERM "$MF_SNIFF_PID" 2>/dev/null
	wait_for _sniff_done || echo "sniffer did not stop"
	tail -n 1 "$MF_SNIFF_OUT"
}

# sniff_check DESC: a test point: the sniffer saw no packet to its addresses
sniff_check() {
	is "$(sniff_stop)" 0 "$1"
}
