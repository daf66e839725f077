#!/usr/bin/env bash
# `status` tells administrators what widens a governed process's reach beyond
# what the hooks judge: dev.tty.legacy_tiocsti=1, no Yama or ptrace_scope 0,
# and servers tagged at exec (no seccomp, no Landlock, no capability drop).
# Read from the host as it is: this test changes no sysctl.
. "$(dirname "$0")/../lib.sh"

user=mcpft$$w
useradd --no-create-home --shell /usr/sbin/nologin "$user" || skip_all "cannot create a test user"
at_exit "user_del $user"

cat >"$MF_TMP/exec.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {}, "web": { "exec": ["/usr/bin/true"] } }, "rules": [] }
JSON
agent_start policy/examples/fetch.json || exit 1

warnings() { mf status --json | jq -r '.warnings[]?'; }

tiocsti=$(cat /proc/sys/dev/tty/legacy_tiocsti 2>/dev/null || echo absent)
if [ "$tiocsti" = 1 ]; then
	like "$(warnings)" "dev.tty.legacy_tiocsti is 1" "legacy_tiocsti=1: warned"
else
	is "$(warnings | grep -c legacy_tiocsti)" 0 "legacy_tiocsti=$tiocsti: no warning"
fi
if [ ! -e /proc/sys/kernel/yama/ptrace_scope ]; then
	like "$(warnings)" "no Yama LSM" "no Yama: warned"
elif [ "$(cat /proc/sys/kernel/yama/ptrace_scope)" = 0 ]; then
	like "$(warnings)" "kernel.yama.ptrace_scope is 0" "ptrace_scope=0: warned"
else
	is "$(warnings | grep -c -i yama)" 0 "Yama with ptrace_scope > 0: no warning"
fi
is "$(warnings | grep -c 'tagged at exec')" 0 "no exec-tagged server in policy: no such warning"

mf policy load "$MF_TMP/exec.json" >/dev/null
like "$(warnings)" "1 server is tagged at exec \\(web\\): no seccomp filter, no Landlock domain" \
	"an exec-tagged server in policy: warned, by name"
like "$(mf status)" $'\nwarning: +1 server is tagged at exec \\(web\\)' "the human output shows the warnings too"
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_TMP/bin/"
is "$(runuser -u "$user" -- "$MF_TMP/bin/mcpfence" --socket "$MF_SOCK" status --json 2>/dev/null |
	jq -r '.warnings // "none"')" none "not for ordinary users: the host's weak spots are the admin's business"

done_testing
