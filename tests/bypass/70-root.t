#!/usr/bin/env bash
# A root server can undo the fence (policy, pins, the agent, netfilter...):
# `mcpfence run` refuses to start one unless --allow-root, and then the server
# runs without any capability (bounding, ambient, inheritable, permitted,
# effective sets empty, exec grants none back), says so, and the tag's audit
# record shows allow_root.
. "$(dirname "$0")/../lib.sh"

user=mcpft$$r
useradd --no-create-home --shell /usr/sbin/nologin "$user" || skip_all "cannot create a test user"
at_exit "user_del $user"
agent_start policy/examples/fetch.json || exit 1

caps() { grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' | awk '{print $1 $2}' | tr '\n' ' '; }

out=$(mf run --identity alice --server fetch -- echo started 2>&1)
is "$?" 1 "root without --allow-root: refused"
like "$out" "refusing to start echo as root: .*--allow-root" "with what to do"
[[ "$out" != *started* ]]
ok $? "the server did not start"
is "$(mf audit --json | jq -r 'select(.event == "tag") | .pid' | wc -l)" 0 "and nothing was tagged"

out=$(mf run --allow-root --identity alice --server fetch -- cat /proc/self/status 2>"$MF_TMP/err")
is "$(caps <<<"$out")" "CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:0000000000000000 CapAmb:0000000000000000 NoNewPrivs:1 " \
	"--allow-root: every capability set is empty, no_new_privs is set"
like "$(cat "$MF_TMP/err")" "--allow-root: cat runs as root with no capabilities" "and run says so on stderr"
is "$(mf run --allow-root --identity alice --server fetch -- sh -c 'cat /proc/self/status' 2>/dev/null | caps)" \
	"CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:0000000000000000 CapAmb:0000000000000000 NoNewPrivs:1 " \
	"a descendant's exec (root's exec) grants none back"
# A root process with its capabilities: the server cannot read its memory.
sleep 1000 &
sleeper=$!
kill_at_exit "$sleeper"
cat "/proc/$sleeper/environ" >/dev/null
ok $? "ungoverned root reads another root process's environment"
mf run --allow-root --identity alice --server fetch -- cat "/proc/$sleeper/environ" >/dev/null 2>&1
is "$?" 1 "the capability-less root server cannot (no CAP_SYS_PTRACE)"
# A setuid-root program gives nothing back either.
if su_bin=$(command -v su) && [ -u "$su_bin" ]; then
	out=$(mf run --allow-root --identity alice --server fetch -- "$su_bin" -c 'grep CapEff /proc/self/status' root 2>&1 </dev/null)
	[[ "$out" != *"CapEff:	000001ff"* ]]
	ok $? "su inside gets no capabilities back"
else
	ok 0 "# SKIP no setuid su"
fi

is "$(mf audit --json | jq -r 'select(.event == "tag" and .allow_root == true) | .identity' | sort -u)" alice \
	"the tag's audit record shows allow_root"
is "$(mf run --allow-root --no-harden --identity alice --server fetch -- grep CapEff /proc/self/status 2>/dev/null | awk '{print $2}')" \
	"$(grep CapEff /proc/self/status | awk '{print $2}')" "--no-harden skips the drop, and says so (for debugging)"
# Not root: --allow-root changes nothing.
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_TMP/bin/"
is "$(cd "$MF_TMP" && runuser -u "$user" -- "$MF_TMP/bin/mcpfence" --socket "$MF_SOCK" run \
	--allow-root --identity "$user" --server fetch -- echo started 2>&1)" started \
	"an ordinary user's run, with or without --allow-root, starts the server"

done_testing
