#!/usr/bin/env bash
# Inbound without a bind hook: listen() on an unbound socket (or after
# binding port 0) takes an ephemeral port that no bind hook judged. A
# governed listener on a port its server may not listen on accepts nothing:
# the cgroup ingress program drops what reaches it (a SYN finds the listener
# as its socket), so no reply can leave over an accepted connection.
. "$(dirname "$0")/../lib.sh"

read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "audit": { "allowed": "none" },
  "servers": { "closed": { "listen": [47280] }, "open": { "listen": ["$eph_lo-$eph_hi"] } },
  "rules": []
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

# listen_case SERVER MODE: a governed listener, an ungoverned client;
# prints "server-outcome client-outcome".
listen_case() {
	local out=$MF_TMP/listen.$1.$2 port i client
	mf run --allow-root --no-harden --identity alice --server "$1" -- "$MF_HELPERS/probe" listen-accept "$2" 3000 \
		>"$out.res" 2>"$out.err" &
	local pid=$!
	for i in $(seq 100); do
		port=$(sed -n 's/^PORT //p' "$out.err")
		[ -n "$port" ] && break
		sleep 0.05
	done
	client=$(probe connect-wait 127.0.0.1 "${port:-1}" 1500)
	wait $pid
	echo "$(cat "$out.res") $client"
}

is "$(listen_case closed unbound)" "ETIMEDOUT ETIMEDOUT" \
	"listen() without bind on an ungranted port: nothing is accepted, the client gets no answer"
is "$(listen_case closed port0)" "ETIMEDOUT ETIMEDOUT" \
	"listen() after binding port 0: the same"
is "$(listen_case open unbound)" "OK OK" \
	"control: where the ephemeral range is granted, the connection is accepted"
is "$(probe listen-accept unbound 100 2>/dev/null)" ETIMEDOUT \
	"ungoverned listeners are untouched (nobody connects: the helper's own timeout)"

wait_for grep -q '"event":"listen"' "$MF_AUDIT_LOG"
like "$(grep '"event":"listen"' "$MF_AUDIT_LOG" | head -1)" \
	'"verdict":"deny","identity":"alice","server":"closed".*"proto":"tcp","port":[0-9]+' \
	"the dropped connection is audited with the listener's identity, server and port"
like "$(mf status)" 'listen_dropped=[1-9]' "and counted"

done_testing
