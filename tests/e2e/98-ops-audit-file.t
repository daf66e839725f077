#!/usr/bin/env bash
# `mcpfence audit --since/--until/--file` reads the records back from the
# audit log file, past what the agent keeps in memory.
. "$(dirname "$0")/../lib.sh"

log=$MF_TMP/old.jsonl
cat >"$log" <<'EOF2'
{"ts":"2026-01-01T10:00:00.000Z","event":"connect","verdict":"allow","identity":"alice","server":"fetch","pid":1,"tid":1,"comm":"a","family":"ipv4","proto":"tcp","addr":"127.0.0.1","port":1,"rule":"r"}
{"ts":"2026-01-01T11:00:00.000Z","event":"connect","verdict":"deny","identity":"bob","server":"fetch","pid":2,"tid":2,"comm":"b","family":"ipv4","proto":"tcp","addr":"127.0.0.1","port":2,"rule":"(default)"}
{"ts":"2026-01-01T11:00:00.5
{"ts":"2026-01-01T12:00:00.000Z","event":"connect","verdict":"deny","identity":"alice","server":"fetch","pid":3,"tid":3,"comm":"c","family":"ipv4","proto":"tcp","addr":"127.0.0.1","port":3,"rule":"(default)"}
{"ts":"2026-01-02T00:00:00.000Z","event":"policy-load","verdict":"allow","trigger":"sighup","source":"p.json","generation":2}
EOF2
ports() { mf audit --file "$log" --json "$@" 2>/dev/null | jq -r '.port // .event' | tr '\n' ' '; }
is "$(ports)" "1 2 3 policy-load " "--file: every record"
is "$(ports --since 2026-01-01T11:00:00Z)" "2 3 policy-load " "--since a time: from it, inclusive"
is "$(ports --since '2026-01-01 10:30' --until 2026-01-01T12:00)" "2 3 " "--since and --until"
is "$(ports --until 2026-01-01)" "" "--until a date: midnight"
is "$(ports --since @1767265200 --until @1767268799)" "2 " "@EPOCH bounds (11:00:00 to 11:59:59 UTC)"
is "$(ports --identity alice --verdict deny)" "3 " "--identity and --verdict filter too"
is "$(ports --since 1h)" "" "--since a duration: none of these is that recent"
out=$(mf audit --file "$log" --since 2026-01-02 2>&1 >/dev/null)
is "$out" "mcpfence: $log: 1 lines are not records, skipped" "a cut line is skipped, and said"
like "$(mf audit --file "$log" --since yesterday 2>&1)" "^mcpfence: cannot parse time 'yesterday': " \
	"an unknown time is refused"
is "$(mf audit --file "$log" --follow >/dev/null 2>&1; echo $?)" 2 "--follow does not read files"
like "$(mf audit --file "$log" --until 2026-01-01T10:00:00Z 2>/dev/null)" \
	'^2026-01-01T10:00:00.000Z +allow +alice +fetch +1/a +tcp 127.0.0.1:1 +r$' "rendered as the stream is"

# Colours: on a terminal (a private tmux server), unless NO_COLOR or --color=never.
tm() { tmux -L "mf-$$" -f /dev/null "$@"; }
at_exit "tmux -L 'mf-$$' kill-server"
pane() { # WINDOW ENV ARGS: run audit in a new window, print what it showed, escapes kept
	local w=$1
	shift
	tm new-window -d -n $w 2>/dev/null || tm new-session -d -s mf -n $w -x 200 -y 20
	tm send-keys -t mf:$w "env TERM=xterm $1 $MF_BUILD/mcpfence audit --file $log --until 2026-01-01T11:00Z $2; tmux -L mf-$$ wait-for -S $w" Enter
	timeout 5 tmux -L "mf-$$" wait-for $w
	tm capture-pane -p -e -t mf:$w
}
# (tmux may re-encode "ESC[1;31m" as "ESC[1mESC[31m".)
out=$(pane w1 "" "")
like "$out" $'\e\\[32mallow' "a terminal: allow in green"
like "$out" $'\e\\[(1;)?31mdeny' "and deny in red"
out=$(pane w2 NO_COLOR=1 "")
like "$out" $'\n2026-01-01T10:00:00.000Z allow +alice' "NO_COLOR=1: the records..."
unlike() { [[ "$1" =~ $2 ]]; ok $((! $?)) "$3"; }
unlike "$out" $'\e\\[[0-9;]*m(allow|deny)' "... without colour"
unlike "$(pane w3 "" --color=never)" $'\e\\[[0-9;]*m(allow|deny)' "--color=never on a terminal: none"
like "$(mf audit --file "$log" --color=always 2>/dev/null | head -1)" $'\e\\[32mallow' \
	"--color=always into a pipe: colours"
unlike "$(mf audit --file "$log" 2>/dev/null)" $'\e' "auto into a pipe: none"

# The agent's own log, found through status.
cat >"$MF_TMP/p.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {} },
  "rules": [ { "name": "alice-fetch", "server": "fetch", "who": ["alice"],
               "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] } ] }
JSON
agent_start "$MF_TMP/p.json" || exit 1
mf run --allow-root --identity alice --server fetch -- "$MF_HELPERS/probe" connect tcp 127.0.0.1 7001 \
	>/dev/null 2>&1
wait_for grep -q '"port":7001' "$MF_AUDIT_LOG"
is "$(mf audit --since 10m --json | jq -r 'select(.event == "connect") | "\(.port) \(.verdict)"')" \
	"7001 deny" "--since 10m: the agent's log, found through status"
is "$(mf audit --until 10m --json | wc -l)" 0 "--until 10m: nothing that old"

done_testing
