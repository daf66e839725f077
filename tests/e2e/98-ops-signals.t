#!/usr/bin/env bash
# The agent as a service: READY=1 on $NOTIFY_SOCKET only once the control
# socket answers; SIGHUP reloads the policy and reopens the audit log
# (logrotate loses nothing), between RELOADING=1 and READY=1, and says how it
# went in the stream and in `status`, as `policy load` does; SIGUSR1 reopens
# the log; no other catchable signal stops it; the capabilities it needs
# are named when missing, and the minimal set is enough.
. "$(dirname "$0")/../lib.sh"

# A service manager's notify socket: each datagram on one line, and on
# READY=1 whether the control socket answered a request at that moment.
NOTIFY=$MF_TMP/notify.sock
python3 - "$NOTIFY" "$MF_SOCK" >>"$MF_TMP/notify.log" <<'PY' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode().replace("\n", "|")
    if "READY=1" in msg:
        c = socket.socket(socket.AF_UNIX)
        try:
            c.connect(sys.argv[2]); c.sendall(b'{"op":"whoami"}\n')
            msg += " answered=" + str(json.loads(c.recv(4096).split(b"\n")[0])["ok"])
        except OSError as e:
            msg += " answered=" + type(e).__name__
    print(msg, flush=True)
PY
kill_at_exit $!
wait_for test -S "$NOTIFY"

policy() { # PORT: alice may reach 127.0.0.1:PORT
	cat <<JSON
{ "version": 1, "servers": { "fetch": {} },
  "rules": [ { "name": "alice-$1", "server": "fetch", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [$1] } ] } ] }
JSON
}
policy 7000 >"$MF_TMP/live.json"
NOTIFY_SOCKET=$NOTIFY agent_start "$MF_TMP/live.json" || exit 1
as_alice() { mf run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" "$@"; }
st() { mf status --json | jq -r "$1"; }

wait_for grep -q READY=1 "$MF_TMP/notify.log"
like "$(head -1 "$MF_TMP/notify.log")" '^READY=1\|STATUS=ready: enforcing policy generation 1 from .*live.json answered=True$' \
	"READY=1 once, when the control socket answers, with the policy in STATUS="
is "$(st '.last_load | "\(.trigger) \(.result)"')" "start ok" "status: the start's load"

for sig in USR1 USR2 ALRM VTALRM PROF IO PWR STKFLT XCPU XFSZ TSTP TTIN TTOU URG \
	RTMIN RTMIN+5 RTMAX QUIT; do
	[ $sig = QUIT ] && continue # default on purpose: a core dump
	kill -s $sig "$MF_AGENT_PID"
done
sleep 0.2
ok "$(kill -0 "$MF_AGENT_PID" && timeout 2 "$MF_BUILD/mcpfence" status >/dev/null; echo $?)" \
	"USR1 USR2 ALRM VTALRM PROF IO PWR STKFLT XCPU XFSZ TSTP TTIN TTOU URG and RT signals: still serving"
is "$(awk '{print $3}' /proc/"$MF_AGENT_PID"/stat)" S "and not stopped by SIGTSTP/SIGTTIN/SIGTTOU"
is "$(st .log.reopened)" 1 "SIGUSR1 reopened the audit log"

# logrotate: rename, then SIGHUP. Records before go to the renamed file,
# those after to the new one; none is lost.
is "$(as_alice connect tcp 127.0.0.1 7000)" ECONNREFUSED "alice reaches port 7000"
mv "$MF_AUDIT_LOG" "$MF_AUDIT_LOG.1"
as_alice connect tcp 127.0.0.1 7001 >/dev/null # denied: its record goes to the old file
policy 7001 >"$MF_TMP/live.json"
: >"$MF_TMP/notify.log"
kill -HUP "$MF_AGENT_PID"
wait_for grep -q READY=1 "$MF_TMP/notify.log"
like "$(tr '\n' ' ' <"$MF_TMP/notify.log")" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|STATUS=reloading READY=1\|STATUS=ready: enforcing policy generation 2 ' \
	"SIGHUP: RELOADING=1, then READY=1 with the new generation"
is "$(as_alice connect tcp 127.0.0.1 7000) $(as_alice connect tcp 127.0.0.1 7001)" \
	"EPERM ECONNREFUSED" "SIGHUP loaded the changed policy"
is "$(st '.last_load | "\(.trigger) \(.result) \(.error)"') $(st .policy.generation)" \
	"sighup ok null 2" "status: the last load was SIGHUP's, and it worked"
wait_for grep -q '"port":7000' "$MF_AUDIT_LOG"
is "$(jq -r 'select(.event == "connect") | "\(.port) \(.verdict)"' "$MF_AUDIT_LOG.1" | tr '\n' ' ')" \
	"7000 allow 7001 deny " "the renamed log has the records before the reload"
is "$(jq -r '.event + (if .trigger then ":" + .trigger else "" end)' "$MF_AUDIT_LOG" | head -2 | tr '\n' ' ')" \
	"audit-log-reopen policy-load:sighup " "the new log starts with the reopen and the reload"
is "$(jq -r 'select(.event == "connect") | "\(.port) \(.verdict)"' "$MF_AUDIT_LOG" | tr '\n' ' ')" \
	"7000 deny 7001 allow " "and has the records after it"
is "$(st .log.lost)" 0 "no record lost"

# A failed reload: reported in the stream and in status like a failed
# `policy load`, and the policy in force stays.
echo '{ "version": 1, "rules": [ { "nme": 1 } ] }' >"$MF_TMP/live.json"
: >"$MF_TMP/notify.log"
kill -HUP "$MF_AGENT_PID"
wait_for grep -q READY=1 "$MF_TMP/notify.log"
like "$(cat "$MF_TMP/notify.log")" 'STATUS=last load failed: enforcing policy generation 2 from .*live.json: .*' \
	"STATUS= says the reload failed and what is enforced"
is "$(st '.last_load | "\(.trigger) \(.result)"') $(st .policy.generation)" "sighup failed 2" \
	"status: the SIGHUP failed, generation 2 stays"
like "$(st .last_load.error)" 'live.json:1:.*' "status: with the parser's error"
is "$(as_alice connect tcp 127.0.0.1 7001)" ECONNREFUSED "the old policy is still enforced"
wait_for grep -q '"trigger":"sighup".*"error"' "$MF_AUDIT_LOG"
hup=$(jq -c 'select(.event == "policy-load" and .verdict == "deny") | del(.ts)' "$MF_AUDIT_LOG" | tail -1)
mf policy load "$MF_TMP/live.json" 2>/dev/null
is "$(st '.last_load | "\(.trigger) \(.result)"')" "control failed" "status: the failed policy load"
wait_for grep -q '"trigger":"control"' "$MF_AUDIT_LOG"
cli=$(jq -c 'select(.event == "policy-load" and .verdict == "deny") | del(.ts)' "$MF_AUDIT_LOG" | tail -1)
is "$(jq -c 'del(.uid, .trigger)' <<<"$cli")" "$(jq -c 'del(.trigger)' <<<"$hup")" \
	"policy load and SIGHUP report a failure with the same record"

# Capabilities: the minimal set starts; one fewer is named.
start_capped() { # BOUNDING-SET DIR
	setpriv --bounding-set=-all,"$1" --inh-caps=-all -- "$MF_BUILD/mcpfenced" \
		--socket "$2/s" --pin-dir "$MF_PIN_DIR-caps" --state-dir "$2/st" --detach-on-exit \
		>"$2/out" 2>&1 &
}
mkdir -m 755 "$MF_TMP/c1" "$MF_TMP/c2"
at_exit "'$MF_BUILD/mcpfenced' --uninstall --pin-dir '$MF_PIN_DIR-caps' --state-dir '$MF_TMP/c1/st'"
start_capped +bpf,+perfmon,+sys_ptrace "$MF_TMP/c2"
wait $!
is "$?:$(head -2 "$MF_TMP/c2/out")" \
	"1:mcpfenced: missing capabilities: CAP_NET_ADMIN
mcpfenced:   CAP_NET_ADMIN is needed to load and attach the cgroup socket and packet programs" \
	"without CAP_NET_ADMIN: refused, naming it and what for"
start_capped +bpf,+perfmon,+net_admin,+sys_ptrace "$MF_TMP/c1"
capped=$!
kill_at_exit $capped
wait_for "$MF_BUILD/mcpfence" --socket "$MF_TMP/c1/s" status
ok $? "CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_PTRACE are enough"
kill -TERM $capped
wait $capped
ok $? "and it exits cleanly"

done_testing
