#!/usr/bin/env bash
# Inbound: a governed process may bind (and so listen and accept) only on the
# ports its server's "listen" grants; IPv4 and IPv6 alike. Binding port 0 (an
# ephemeral port, as clients do) stays allowed. Replies to an accepted
# connection pass no connect hook: the bind is where inbound is judged.
. "$(dirname "$0")/../lib.sh"

cat >"$MF_TMP/policy.json" <<'JSON'
{
  "version": 1,
  "audit": { "allowed": "none" },
  "servers": {
    "web": { "listen": [47180, "47190-47195"] },
    "db": {}
  },
  "rules": []
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

web() { mf run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/probe" "$@"; }
db() { mf run --allow-root --no-harden --identity alice --server db -- "$MF_HELPERS/probe" "$@"; }

is "$(web bind tcp 127.0.0.1 47180)" OK "tcp v4 bind+listen on a granted port"
is "$(web bind tcp 127.0.0.1 47195)" OK "tcp v4, top of a granted range"
is "$(web bind tcp 127.0.0.1 47181)" EPERM "tcp v4 on another port: EPERM"
is "$(web bind tcp 0.0.0.0 47196)" EPERM "tcp v4 wildcard, just past the range: EPERM"
is "$(web bind udp 127.0.0.1 47190)" OK "udp v4 on a granted port"
is "$(web bind udp 127.0.0.1 47189)" EPERM "udp v4, just below the range: EPERM"
is "$(web bind tcp ::1 47180)" OK "tcp v6 on a granted port"
is "$(web bind tcp ::1 47181)" EPERM "tcp v6 on another port: EPERM"
is "$(web bind udp :: 47197)" EPERM "udp v6 wildcard on another port: EPERM"
is "$(web bind tcp ::ffff:127.0.0.1 47182)" EPERM "v4-mapped v6 bind is judged too"
is "$(web bind tcp 127.0.0.1 0)" OK "port 0 (ephemeral) stays allowed, tcp"
is "$(web bind udp ::1 0)" OK "port 0 (ephemeral) stays allowed, udp v6"
is "$(db bind tcp 127.0.0.1 47180)" EPERM "a server without listen ports binds none"
is "$(web fork bind tcp 127.0.0.1 47183)" EPERM "a child is judged like its parent"
is "$(probe bind tcp 127.0.0.1 47181)" OK "ungoverned: bind untouched"

wait_for grep -q '"port":47183' "$MF_AUDIT_LOG"
like "$(grep '"event":"bind"' "$MF_AUDIT_LOG" | grep '"port":47181')" \
	'"verdict":"deny".*"family":"ipv4","proto":"tcp","addr":"127.0.0.1"' \
	"the denial is audited with address and port"
like "$(grep '"event":"bind"' "$MF_AUDIT_LOG" | grep '"port":47197')" \
	'"family":"ipv6","proto":"udp","addr":"::"' "an IPv6 denial too"
like "$(mf status)" 'binds_denied=[1-9]' "denials are counted"

# Audit mode: a denied bind is recorded as would-deny and not enforced.
sed 's/"version": 1,/"version": 1, "mode": "audit",/' "$MF_TMP/policy.json" >"$MF_TMP/audit.json"
mf policy load "$MF_TMP/audit.json" >/dev/null || diag "cannot load audit.json"
is "$(web bind tcp 127.0.0.1 47184)" OK "audit mode: not enforced"
wait_for grep -q '"port":47184' "$MF_AUDIT_LOG"
like "$(grep '"port":47184' "$MF_AUDIT_LOG")" '"verdict":"would-deny"' "but recorded as would-deny"

done_testing
