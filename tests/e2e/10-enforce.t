#!/usr/bin/env bash
# Egress verdicts for governed processes: TCP and UDP, IPv4, IPv6 and
# IPv4-mapped IPv6, ports and ranges, the forms an escaping server would try.
# Allowed connects to closed loopback ports end in ECONNREFUSED; denied
# ones in EPERM from the cgroup hook.
. "$(dirname "$0")/../lib.sh"

cat >"$MF_TMP/policy.json" <<'JSON'
{
  "version": 1,
  "audit": { "allowed": "all" },
  "servers": { "web": {}, "db": {} },
  "rules": [
    { "name": "alice-web", "server": "web", "who": ["alice"],
      "allow": [ { "to": "127.0.0.0/8", "ports": ["7000-7010"], "proto": "tcp" },
                 { "to": "127.0.0.1/32", "ports": [5353], "proto": "udp" },
                 { "to": "::1/128", "ports": [7000] } ],
      "deny":  [ { "to": "127.0.0.66/32" }, { "to": "127.0.0.0/8", "ports": [7005] } ] },
    { "name": "db-all", "server": "db", "who": ["*"],
      "allow": [ { "to": "127.0.0.5/32", "ports": [5432], "proto": "tcp" } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

# As root with its capabilities and no seccomp filter (--no-harden): the
# kernel's hooks answer, not the capability checks nor the launcher's filter.
as_alice() { mf run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/probe" "$@" 2>/dev/null; }

is "$(as_alice connect tcp 127.0.0.1 7000)" ECONNREFUSED "tcp v4 to an allowed port"
is "$(as_alice connect tcp 127.0.0.9 7010)" ECONNREFUSED "tcp v4, top of an allowed port range"
is "$(as_alice connect tcp 127.0.0.1 7011)" EPERM "tcp v4, just past the range"
is "$(as_alice connect tcp 127.0.0.1 6999)" EPERM "tcp v4, just below the range"
is "$(as_alice connect tcp 127.0.0.66 7000)" EPERM "a more specific deny beats the allow"
is "$(as_alice connect tcp 127.0.0.1 7005)" EPERM "deny wins a tie of the same prefix"
is "$(as_alice connect udp 127.0.0.1 7000)" EPERM "udp connect where only tcp is allowed"
is "$(as_alice sendto udp 127.0.0.1 5353)" OK "udp sendto to an allowed port"
is "$(as_alice sendto udp 127.0.0.1 5354)" EPERM "udp sendto to another port"
is "$(as_alice sendto udp 127.0.0.2 5353)" EPERM "udp sendto to another address"
is "$(as_alice sendmsg-connected 127.0.0.2 5353)" EPERM "udp connect+send to a denied address"
is "$(as_alice connect tcp ::1 7000)" ECONNREFUSED "tcp v6 to an allowed address"
is "$(as_alice sendto udp ::1 7000)" OK "udp v6 sendto to an allowed address"
is "$(as_alice connect tcp ::1 7001)" EPERM "tcp v6 to another port"
is "$(as_alice connect tcp ::ffff:127.0.0.1 7000)" ECONNREFUSED "v4-mapped v6 is judged as v4 (allowed)"
is "$(as_alice connect tcp ::ffff:127.0.0.66 7000)" EPERM "v4-mapped v6 is judged as v4 (denied)"
is "$(as_alice sendto udp ::ffff:127.0.0.2 5353)" EPERM "v4-mapped v6 udp sendto is judged as v4"
is "$(as_alice connect tcp 0.0.0.0 7005)" EPERM "0.0.0.0 is judged as 127.0.0.1"
is "$(as_alice connect tcp :: 7001)" EPERM ":: is judged as ::1"
is "$(as_alice fastopen 127.0.0.2 9)" EPERM "TCP fast open sendto is judged as a connect"
is "$(as_alice socket raw)" EPERM "raw sockets are refused"
# ICMP datagram (ping) sockets need the caller's group in ping_group_range.
old_range=$(cat /proc/sys/net/ipv4/ping_group_range)
at_exit "echo '$old_range' > /proc/sys/net/ipv4/ping_group_range"
echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range
is "$(probe socket icmp)" OK "ungoverned: ICMP datagram socket allowed"
is "$(as_alice socket icmp)" EPERM "ICMP datagram sockets are refused"
echo "$old_range" >/proc/sys/net/ipv4/ping_group_range
is "$(as_alice socket udplite)" EPERM "UDP-Lite sockets are refused"
is "$(as_alice socket mptcp)" EPERM "MPTCP sockets are refused"
as_alice socket packet >/dev/null 2>&1
is "$?" 137 "a packet socket kills the process (SIGKILL)"

# Identities and servers without a grant: default deny.
is "$(mf run --allow-root --identity bob --server web -- "$MF_HELPERS/probe" connect tcp 127.0.0.1 7000)" \
	EPERM "an identity with no rule on this server is denied"
is "$(mf run --allow-root --identity bob --server db -- "$MF_HELPERS/probe" connect tcp 127.0.0.5 5432)" \
	ECONNREFUSED "\"*\" grants any identity"
is "$(mf run --allow-root --identity bob --server db -- "$MF_HELPERS/probe" connect tcp 127.0.0.5 5433)" \
	EPERM "\"*\" grants only what it names"

# Ungoverned processes are not touched.
is "$(probe connect tcp 127.0.0.66 7000)" ECONNREFUSED "ungoverned process: not judged"
is "$(probe socket raw)" OK "ungoverned process: raw socket allowed"

mf run --allow-root --identity alice --server nope -- true 2>"$MF_TMP/err"
is "$?" 1 "run refuses an undeclared server"
like "$(cat "$MF_TMP/err")" "unknown server 'nope'" "with a clear message"

done_testing
