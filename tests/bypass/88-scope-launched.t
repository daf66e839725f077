#!/usr/bin/env bash
# --scope launched: the socket hooks sit at a cgroup of governed processes
# only, and the agent moves each server there before it is tagged. What an
# attacker would try: leave the cgroup (write its pid elsewhere; as root,
# --allow-root), bring a socket made outside it (inherited), be tagged at
# exec outside it. And the promise: inside, the verdicts of host scope;
# outside, no hook at all.
. "$(dirname "$0")/../lib.sh"

command -v bpftool >/dev/null || skip_all "bpftool is missing"
root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$root" ] || skip_all "no cgroup v2 hierarchy is mounted"
cg=$root/mcpfence-test-$$
# Leaving: what is left goes back to the root, then the cgroup goes (the
# agent never removes a --cgroup DIR it was given).
at_exit "for p in \$(cat '$cg/cgroup.procs'); do echo \$p > '$root/cgroup.procs'; done; rmdir '$cg'"

user=mfscope$$
useradd --no-create-home --shell /usr/sbin/nologin "$user" || skip_all "cannot create a test user"
at_exit "user_del $user"
# Test users run copies in $MF_TMP: the checkout may sit under a private directory.
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_HELPERS/probe" "$MF_TMP/bin/"
M=$MF_TMP/bin/mcpfence

cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "servers": { "web": {}, "iso": { "isolate": true } },
  "rules": [ { "name": "web", "server": "web", "who": ["$user"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] },
                          { "to": "::1/128", "ports": [7000] } ] } ]
}
JSON
sed 's|"web": {}|"web": { "exec": ["/bin/true"] }|' "$MF_TMP/policy.json" >"$MF_TMP/exec.json"
chmod 644 "$MF_TMP"/*.json

# gov CMD...: CMD as the test user, started by `run` for server web
gov() { (cd "$MF_TMP" && runuser -u "$user" -- "$M" --socket "$MF_SOCK" run --identity "$user" --server web -- "$@"); }
# verdicts: one governed outcome per line, the same set in both scopes
verdicts() {
	local c
	for c in "connect tcp 127.0.0.1 7000" "connect tcp 127.0.0.1 7001" "sendto udp 127.0.0.1 7001" \
		"connect tcp ::1 7000" "connect tcp ::1 7001" "connect udp 127.0.0.2 7000" \
		"fork connect tcp 127.0.0.1 7001"; do
		echo "$c: $(gov "$MF_TMP/bin/probe" $c 2>&1)"
	done
}
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }

# ---- refused at start: exec matches ----
# (Bounded: an agent that wrongly starts is stopped, its pins removed.)
at_exit "'$MF_BUILD/mcpfenced' --pin-dir /sys/fs/bpf/mcpfence-test-$$-x --uninstall"
out=$(timeout 10 "$MF_BUILD/mcpfenced" --scope launched --cgroup "$cg" --policy "$MF_TMP/exec.json" \
	--socket "$MF_TMP/x.sock" --pin-dir "/sys/fs/bpf/mcpfence-test-$$-x" 2>&1)
is "$?" 1 "a policy with exec matches: the start is refused"
like "$out" "servers.web.exec: exec matches are refused with --scope launched" "and says why"
[ ! -e "/sys/fs/bpf/mcpfence-test-$$-x" ] && [ ! -e "$cg" ]
ok $? "the refused start leaves no pin directory and no cgroup"

# ---- launched scope ----
agent_start "$MF_TMP/policy.json" --scope launched --cgroup "$cg" \
	--uid-range 61940-61941 --tenants-dir "$MF_TMP/tenants" || exit 1
is "$(mf status --json | jq -r '"\(.scope.scope) \(.scope.cgroup)"')" "launched $cg" "status shows the scope and its cgroup"
like "$(mf status 2>&1)" "scope: +launched" "and so does the text form"

# The agent's cgroup links: all at the cgroup with inode (id) $1? Their
# program ids in $ids.
links_at() {
	local pin info bad=0
	ids=()
	for pin in "$MF_PIN_DIR"/link_*; do
		info=$(bpftool link show pinned "$pin" --json 2>/dev/null)
		[ "$(jq -r .type <<<"$info")" = cgroup ] || continue
		[ "$(jq -r .cgroup_id <<<"$info")" = "$1" ] || bad=1
		ids+=("$(jq -r .prog_id <<<"$info")")
	done
	[ ${#ids[@]} -ge 5 ] && [ $bad = 0 ]
}
# How many of them run for a socket of this (ungoverned) shell.
on_my_path() {
	local id n=0 mine
	mine=$(bpftool cgroup show "$root$(cgroup_of $$)" effective --json 2>/dev/null | jq -r '.[].id')
	for id in "${ids[@]}"; do grep -qx "$id" <<<"$mine" && n=$((n + 1)); done
	echo $n
}
links_at "$(stat -c %i "$cg")"
ok $? "all ${#ids[@]} cgroup links are attached at the governed cgroup"
is "$(on_my_path)" 0 "an ungoverned process has none of the agent's programs on its path"
is "$(probe connect tcp 127.0.0.1 7001)" ECONNREFUSED "an ungoverned connect is untouched"

is "$(gov sed -n 's/^0:://p' /proc/self/cgroup)" "${cg#"$root"}" "a governed server runs in the governed cgroup"
is "$(gov sh -c "sh -c \"sed -n 's/^0:://p' /proc/self/cgroup\"")" "${cg#"$root"}" "and so do its children"
# An isolated server (launched by the agent) too; stdio made outside is checked.
is "$(cd "$MF_TMP" && runuser -u "$user" -- "$M" --socket "$MF_SOCK" run --identity "$user" --server iso -- \
	sed -n 's/^0:://p' /proc/self/cgroup 2>&1)" "${cg#"$root"}" "an isolated server runs in the governed cgroup"
like "$(exec 0<>/dev/udp/127.0.0.1/7001 && cd "$MF_TMP" && runuser -u "$user" -- "$M" --socket "$MF_SOCK" run \
	--identity "$user" --server iso -- true 2>&1)" "descriptor 0 is an IPv4 socket, made outside the governed cgroup" \
	"an isolated server's inherited inet stdin is refused"
launched=$(verdicts)
like "$launched" "7001: EPERM" "governed connects are judged"

# Leaving: the root's cgroup.procs (the common ancestor of any move out) is
# root's alone.
is "$(gov sh -c "echo \$\$ >$root/cgroup.procs 2>/dev/null && echo moved; sed -n 's/^0:://p' /proc/self/cgroup" 2>/dev/null)" \
	"${cg#"$root"}" "a governed server cannot write itself into the root cgroup"
is "$(gov sh -c "echo \$\$ >$root$(cgroup_of $$)/cgroup.procs 2>/dev/null && echo moved; sed -n 's/^0:://p' /proc/self/cgroup" 2>/dev/null)" \
	"${cg#"$root"}" "nor into its launcher's cgroup"

# Root could: --allow-root (and a root client) is refused in this scope.
out=$(mf run --allow-root --identity alice --server web -- sh -c "echo \$\$ >$root/cgroup.procs && echo escaped" 2>&1)
is "$?" 1 "run --allow-root is refused"
like "$out" "a root server could leave the governed cgroup" "and says why"
! grep -q escaped <<<"$out"
ok $? "the root server never ran"

# Nor a user with ambient capabilities (CAP_DAC_OVERRIDE passes the
# permission check of cgroup.procs; they would survive run's exec).
out=$(cd "$MF_TMP" && setpriv --reuid "$user" --regid "$user" --clear-groups --inh-caps +dac_override \
	--ambient-caps +dac_override -- "$M" --socket "$MF_SOCK" run --identity "$user" --server web -- \
	sh -c "echo \$\$ >$root/cgroup.procs && echo escaped" 2>&1)
like "$out" "a server holding capabilities could leave the governed cgroup" \
	"a server with an ambient CAP_DAC_OVERRIDE is refused"
! grep -q escaped <<<"$out"
ok $? "it never ran"

# A socket made outside the cgroup would pass no hook: run refuses it.
socat -u UDP4-RECV:7001,bind=127.0.0.1 "OPEN:$MF_TMP/udp.out,creat,append" 2>/dev/null &
kill_at_exit $!
wait_for sh -c "ss -Hun 'sport = :7001' | grep -q ."
out=$(exec 3<>/dev/udp/127.0.0.1/7001 && gov sh -c 'echo leaked >&3; echo ran' 2>&1)
like "$out" "descriptor 3 is an IPv4 socket, made outside the governed cgroup" "run refuses an inherited inet socket"
! grep -qx ran <<<"$out"
ok $? "the server did not run"
sleep 0.2
is "$(cat "$MF_TMP/udp.out" 2>/dev/null)" "" "nothing reached the denied port"
# A connected Unix socket for stdio (a socketpair, as libuv makes) is fine.
is "$(python3 -c '
import socket, subprocess, sys
a, b = socket.socketpair()
sys.exit(subprocess.run(sys.argv[1:], stdin=b).returncode)' \
	runuser -u "$user" -- "$M" --socket "$MF_SOCK" run --identity "$user" --server web -- true 2>&1; echo $?)" 0 \
	"a connected Unix socket as stdin is accepted"

# Exec matches: refused by policy load too.
out=$(mf policy load "$MF_TMP/exec.json" 2>&1)
like "$out" "exec matches are refused with --scope launched" "policy load refuses exec matches"
agent_stop
[ -d "$cg" ]
ok $? "a --cgroup DIR given stays when the agent exits"

# ---- host scope: the same verdicts ----
agent_start "$MF_TMP/policy.json" || exit 1
is "$(mf status --json | jq -r .scope.scope)" host "host scope is the default"
links_at "$(stat -c %i "$root")"
ok $? "host scope: the links are at the root"
[ "$(on_my_path)" -gt 0 ]
ok $? "host scope: the programs are on an ungoverned process's path (the check above can see them)"
is "$(verdicts)" "$launched" "a governed server's verdicts are the same in both scopes"
agent_stop

# ---- a restart in another scope over pinned links: refused ----
# (Else the pinned links would be updated in place and stay at the governed
# cgroup, and a host-scope policy's exec-tagged processes would pass no hook.)
MF_KEEP_PINS=1 agent_start "$MF_TMP/policy.json" --scope launched --cgroup "$cg" || exit 1
agent_stop
out=$(timeout 10 "$MF_BUILD/mcpfenced" --policy "$MF_TMP/exec.json" --socket "$MF_SOCK" \
	--pin-dir "$MF_PIN_DIR" 2>&1)
is "$?" 1 "a host-scope restart over links pinned at the governed cgroup is refused"
like "$out" "attached at another cgroup.*the scope or --cgroup changed" "and says why"
MF_KEEP_PINS=1 agent_start "$MF_TMP/policy.json" --scope launched --cgroup "$cg" || exit 1
is "$(gov sed -n 's/^0:://p' /proc/self/cgroup)" "${cg#"$root"}" "the same scope restarts on its pins"
agent_stop
"$MF_BUILD/mcpfenced" --pin-dir "$MF_PIN_DIR" --uninstall

# ---- the default governed cgroup: made, then removed at exit when empty ----
if [ -e "$root/mcpfence.governed" ]; then
	diag "$root/mcpfence.governed exists (another agent in --scope launched): not tried"
else
	agent_start "$MF_TMP/policy.json" --scope launched || exit 1
	is "$(gov sed -n 's/^0:://p' /proc/self/cgroup)" /mcpfence.governed "by default servers go to /mcpfence.governed"
	agent_stop
	[ ! -e "$root/mcpfence.governed" ]
	ok $? "it is removed when the agent detaches"
fi

done_testing
