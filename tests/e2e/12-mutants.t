#!/usr/bin/env bash
# Security decisions that an earlier mutation run found unchecked (issue 12;
# tests/MUTATIONS.md lists each mutation and the line here that kills it):
# the "this host" address forms, ring-buffer drops counted, a group-only
# launcher, and a non-admin's `ps`.
. "$(dirname "$0")/../lib.sh"

user=mcpft$$m
member=mcpft$$n
group=mcpft$$h
groupadd "$group" || skip_all "cannot create a test group"
at_exit "groupdel $group"
for u in "$user" "$member"; do
	useradd --no-create-home --shell /usr/sbin/nologin "$u" || skip_all "cannot create test users"
	at_exit "user_del $u"
done
usermod -a -G "$group" "$member"
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_HELPERS/probe" "$MF_HELPERS/escape" "$MF_TMP/bin/"
P=$MF_TMP/bin/probe
as_user() {
	local u=$1
	shift
	(cd "$MF_TMP" && runuser -u "$u" -- "$@")
}

# Everything is allowed on port 7100 but loopback: 0.0.0.0 and :: are loopback.
cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "audit": { "window": 0 },
  "launchers": [ { "group": "$group", "may_assert": ["alice"] } ],
  "servers": { "web": {} },
  "rules": [
    { "name": "all-but-loopback", "server": "web", "who": ["alice", "$user"],
      "allow": [ { "to": "0.0.0.0/0", "ports": [7100] }, { "to": "::/0", "ports": [7100] } ],
      "deny":  [ { "to": "127.0.0.0/8" }, { "to": "::1/128" } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

as_alice() { as_user "$member" "$MF_TMP/bin/mcpfence" run --identity alice --server web -- "$P" "$@"; }

# "This host" spelled as an unspecified address must meet the loopback deny.
is "$(as_alice connect tcp 0.0.0.0 7100)" EPERM "0.0.0.0 meets the loopback deny (tcp)"
is "$(as_alice sendto udp 0.0.0.0 7100)" EPERM "0.0.0.0 meets the loopback deny (udp)"
is "$(as_alice connect tcp ::ffff:0.0.0.0 7100)" EPERM "::ffff:0.0.0.0 meets the loopback deny"
is "$(as_alice connect tcp :: 7100)" EPERM ":: meets the ::1 deny (tcp)"
is "$(as_alice sendto udp :: 7100)" EPERM ":: meets the ::1 deny (udp)"

# Launchers by group only: a member may assert, anyone else may not.
out=$(as_user "$user" "$MF_TMP/bin/mcpfence" run --identity alice --server web -- true 2>&1)
is "$?" 1 "a non-member of the launcher group may not assert alice"
like "$out" "may only run servers as $user" "with the reason"

# A non-admin's ps lists only their own governed processes.
as_user "$member" "$MF_TMP/bin/mcpfence" run --identity alice --server web -- sleep 30 &
kill_at_exit $!
as_user "$user" "$MF_TMP/bin/mcpfence" run --identity "$user" --server web -- sleep 30 &
kill_at_exit $!
wait_for sh -c "[ \"\$('$MF_BUILD/mcpfence' --socket '$MF_SOCK' ps --json | wc -l)\" = 2 ]"
is "$(mf ps --json | jq -rs '[.[].identity] | sort | join(",")')" "alice,$user" \
	"root's ps lists both governed processes"
is "$(as_user "$user" "$MF_TMP/bin/mcpfence" ps --json | jq -rs '[.[].identity] | join(",")')" \
	"$user" "a non-admin's ps lists only their own"

# The seccomp filter alone refuses ptrace (Landlock, which would refuse it
# too, is made unavailable): each layer holds by itself.
as_user "$member" sleep 30 &
kill_at_exit $!
wait_for pgrep -u "$member" -x sleep
sleeper=$(pgrep -u "$member" -x sleep | head -1)
kill_at_exit "$sleeper"
is "$(as_user "$member" "$MF_TMP/bin/escape" no-landlock "$MF_TMP/bin/mcpfence" run --identity alice \
	--server web --no-harden -- "$MF_TMP/bin/escape" ptrace-attach "$sleeper" 2>/dev/null)" \
	OK "control: unhardened, ptrace of a same-user process works"
is "$(as_user "$member" "$MF_TMP/bin/escape" no-landlock "$MF_TMP/bin/mcpfence" run --identity alice \
	--server web -- "$MF_TMP/bin/escape" ptrace-attach "$sleeper" 2>/dev/null)" \
	EPERM "without Landlock, seccomp alone refuses ptrace of a same-user process"

# Ring-buffer drops are counted: with the agent stopped, more denials than
# the ring holds; afterwards logged + dropped = sent, and dropped > 0.
sent=40000
mkfifo "$MF_TMP/go"
chmod 666 "$MF_TMP/go"
# Tagged first (the launch needs the agent), then held until the agent is stopped.
as_user "$member" "$MF_TMP/bin/mcpfence" run --identity alice --server web -- \
	sh -c "read go <'$MF_TMP/go'; exec '$P' repeat $sent sendto udp 127.0.0.1 7100" >"$MF_TMP/flood.out" &
flood=$!
kill_at_exit $flood
wait_for sh -c "[ \"\$('$MF_BUILD/mcpfence' --socket '$MF_SOCK' ps --json | wc -l)\" = 3 ]"
before=$(mf status --json | jq '.counters.audit_dropped')
logged_before=$(grep -c '"event":"sendmsg"' "$MF_AUDIT_LOG")
kill -STOP "$MF_AGENT_PID"
at_exit "kill -CONT $MF_AGENT_PID"
echo go >"$MF_TMP/go"
wait $flood
kill -CONT "$MF_AGENT_PID"
is "$(cat "$MF_TMP/flood.out")" "EPERM=$sent" "every datagram of the flood was denied"
wait_for sh -c "mf() { '$MF_BUILD/mcpfence' --socket '$MF_SOCK' \"\$@\"; };
	d=\$(mf status --json | jq '.counters.audit_dropped');
	l=\$(grep -c '\"event\":\"sendmsg\"' '$MF_AUDIT_LOG');
	[ \$((d - $before + l - $logged_before)) -eq $sent ]"
dropped=$(($(mf status --json | jq '.counters.audit_dropped') - before))
logged=$(($(grep -c '"event":"sendmsg"' "$MF_AUDIT_LOG") - logged_before))
diag "sent $sent, logged $logged, dropped $dropped"
ok $((dropped > 0 ? 0 : 1)) "the ring overflowed and its drops were counted"
is "$((logged + dropped))" "$sent" "logged + dropped = sent"

done_testing
