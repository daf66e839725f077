#!/usr/bin/env bash
# The tag follows every descendant (fork, double fork + setsid, threads,
# exec) and is gone when the process is.
. "$(dirname "$0")/../lib.sh"

cat >"$MF_TMP/policy.json" <<'JSON'
{
  "version": 1,
  "servers": { "fetch": {} },
  "rules": [
    { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

P=$MF_HELPERS/probe
as() { local who=$1; shift; mf run --allow-root --identity "$who" --server fetch -- "$@"; }

is "$(as bob "$P" fork connect tcp 127.0.0.1 7000)" EPERM "child process of a governed one is judged"
is "$(as alice "$P" fork connect tcp 127.0.0.1 7000)" ECONNREFUSED "and judged by the same identity"
is "$(as bob "$P" daemon connect tcp 127.0.0.1 7000)" EPERM "double fork + setsid keeps the tag"
is "$(as bob "$P" thread connect tcp 127.0.0.1 7000)" EPERM "a thread is judged"
is "$(as bob "$P" fork thread fork connect udp 127.0.0.1 7000)" EPERM "fork, thread, fork: still judged"
is "$(as bob sh -c "exec $P connect tcp 127.0.0.1 7000")" EPERM "through exec of a shell and exec again"
is "$(as bob sh -c "$P daemon connect tcp ::1 7000; true")" EPERM "a shell's daemonized grandchild, over v6"
is "$(as bob "$P" leader-exit connect tcp 127.0.0.1 7000)" EPERM \
	"the tag outlives a main thread that called pthread_exit"
is "$(as alice "$P" leader-exit connect tcp 127.0.0.1 7000)" ECONNREFUSED \
	"with its identity intact"

# Exit removes the tag: a governed process that is gone leaves no entry.
count_tags() { bpftool map dump pinned "$MF_PIN_DIR/tags" -j | jq length; }
is "$(count_tags)" 0 "no tag is left behind by the runs above"
"$MF_BUILD/mcpfence" run --allow-root --identity bob --server fetch -- sleep 30 &
gpid=$!
kill_at_exit $gpid
wait_for sh -c "'$MF_BUILD/mcpfence' ps --json | grep -q '\"pid\":$gpid,'"
ok $? "a running governed process is listed by ps"
like "$(mf ps)" "$gpid +bob +fetch +launcher +sleep 30" "ps shows pid, identity, server, command"
like "$(mf ps --raw)" "^PID IDENTITY SERVER TAGGED-BY COMMAND
(.*
)*$gpid bob fetch launcher sleep.x2030" "ps --raw: one space between columns (within one, \\x20)"
# On a terminal (a private tmux server, 40 columns) the command is cut to fit.
tm() { tmux -L "mf-$$" -f /dev/null "$@"; }
at_exit "tmux -L 'mf-$$' kill-server"
tm new-session -d -s mf -x 40 -y 10 -c "$PWD"
tm send-keys -t mf "$MF_BUILD/mcpfence --socket $MF_SOCK ps; tmux -L mf-$$ wait-for -S done" Enter
timeout 5 tmux -L "mf-$$" wait-for done
line=$(tm capture-pane -p -t mf | grep "^ *$gpid ")
ok $((${#line} > 0 && ${#line} <= 40 ? 0 : 1)) "ps on a 40-column terminal fits it (${#line} columns)"
like "$line" "$gpid +bob +fetch +launcher +sl" "with every column there"
is "$(count_tags)" 1 "it has a tag"
kill $gpid
wait $gpid 2>/dev/null
is "$(count_tags)" 0 "its tag is gone once it exited"

done_testing
