#!/usr/bin/env bash
# A tag that outlived its process (the agent tagged a pid that had died) is
# never inherited by the next process that gets the pid: at fork, a child of
# an ungoverned parent starts with no tag. The stale entry is planted with
# bpftool; clone3(set_tid) gives a new process exactly that pid.
. "$(dirname "$0")/../lib.sh"

cat >"$MF_TMP/policy.json" <<'JSON'
{
  "version": 1,
  "servers": { "web": {} },
  "rules": [
    { "name": "alice-web", "server": "web", "who": ["alice"],
      "allow": [ { "to": "127.0.0.1/32", "ports": [7000] } ] }
  ]
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

TAGS=$MF_PIN_DIR/tags
le32() { printf '%d %d %d %d' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
# free_pid: a pid no process holds now (none of them is likely to take it
# in the next instant: the kernel hands out pids in increasing order)
free_pid() {
	local max p
	max=$(cat /proc/sys/kernel/pid_max)
	for _ in $(seq 200); do
		p=$((max / 2 + RANDOM % (max / 2 - 1)))
		[ -e "/proc/$p" ] || { echo "$p"; return 0; }
	done
	return 1
}
# plant PID: a launcher tag (identity uid 0, server 1) for PID
plant() {
	at_exit "bpftool map delete pinned $TAGS key $(le32 "$1")"
	bpftool map update pinned "$TAGS" key $(le32 "$1") value $(le32 $((0x80000000))) $(le32 1) \
		$(le32 2) $(le32 0)
}
has_tag() { bpftool map lookup pinned "$TAGS" key $(le32 "$1") >/dev/null 2>&1; }

pid=$(free_pid) || exit 1
plant "$pid"
has_tag "$pid"
ok $? "a stale tag is planted for the free pid $pid"
is "$("$MF_HELPERS/setpid" "$pid" "$MF_BUILD/mcpfence" --socket "$MF_SOCK" whoami)" ungoverned \
	"the process that gets the pid is not governed (whoami)"

pid=$(free_pid) || exit 1
plant "$pid"
is "$("$MF_HELPERS/setpid" "$pid" "$MF_HELPERS/probe" connect tcp 127.0.0.66 7000)" ECONNREFUSED \
	"the process that gets the pid is not judged (a connect the tag would deny)"
is "$(mf status --json | jq '.counters.stale_tags_removed')" 2 "stale tags removed are counted"

done_testing
