#!/usr/bin/env bash
# Clients of the control socket are bounded (limits in userspace/agent/control.h):
# one that pipelines requests without reading replies is no longer read; partial
# lines are closed after a while; connections are capped per uid and for root.
# Through all of it the agent's RSS stays under MF_RSS_BOUND and `status` answers.
. "$(dirname "$0")/../lib.sh"

# The documented bound (README: control socket limits). ASan's shadow memory
# and quarantine make its RSS meaningless: there the bound is only reported.
MF_RSS_BOUND_KIB=$((64 * 1024))
san=0
[[ "$MF_BUILD" == */san ]] && san=1
PIPELINED=${PIPELINED:-$((san ? 200000 : 1000000))}
PARTIAL=${PARTIAL:-5000}

cat >"$MF_TMP/policy.json" <<'JSON'
{ "version": 1, "servers": { "fetch": {} }, "rules": [] }
JSON
agent_start "$MF_TMP/policy.json" || exit 1

user=mcpft$$l
other=mcpft$$m
for u in "$user" "$other"; do
	useradd --no-create-home --shell /usr/sbin/nologin "$u" || skip_all "cannot create test users"
	at_exit "user_del $u"
done

# Test users run copies: the checkout may be out of their reach (a clone
# under mktemp -d is 0700).
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_HELPERS/clients" "$MF_TMP/bin/"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$MF_AGENT_PID/status"; }
# under_bound WHAT: the agent's RSS is under the bound (reported under ASan)
under_bound() {
	local kib
	kib=$(rss)
	diag "agent RSS $((kib / 1024)) MiB $1"
	if [ "$san" = 1 ]; then
		ok 0 "RSS $1 (not checked under ASan)"
	else
		ok $((kib < MF_RSS_BOUND_KIB ? 0 : 1)) "RSS under $((MF_RSS_BOUND_KIB / 1024)) MiB $1"
	fi
}
admin_status() { mf status --json; }
user_status() { runuser -u "$user" -- "$MF_TMP/bin/mcpfence" --socket "$MF_SOCK" status; }
other_status() { runuser -u "$other" -- "$MF_TMP/bin/mcpfence" --socket "$MF_SOCK" status --json; }

# helper_start NAME AS CMD...: run the clients helper as user AS (root or
# $user) with a fifo on stdin, fd HELPER_FD_<NAME> to say "go"; output in NAME.out
helper_start() {
	local name=$1 as=$2
	shift 2
	mkfifo "$MF_TMP/$name.in"
	if [ "$as" = root ]; then
		"$MF_HELPERS/clients" "$@" <"$MF_TMP/$name.in" >"$MF_TMP/$name.out" 2>&1 &
	else
		runuser -u "$as" -- "$MF_TMP/bin/clients" "$@" <"$MF_TMP/$name.in" \
			>"$MF_TMP/$name.out" 2>&1 &
	fi
	kill_at_exit $!
	eval "exec {HELPER_FD_$name}>'$MF_TMP/$name.in'"
}
helper_go() { local fd="HELPER_FD_$1"; echo go >&"${!fd}"; }
# helper_line NAME REGEX: wait (up to 60 s) for a line of NAME's output
helper_line() {
	local i
	for i in $(seq 600); do
		grep -E "$2" "$MF_TMP/$1.out" && return 0
		sleep 0.1
	done
	diag "$1 said: $(cat "$MF_TMP/$1.out")"
	return 1
}

base=$(rss)
diag "agent RSS at start $((base / 1024)) MiB"

# 1. One user pipelines requests without reading a reply.
helper_start pipe "$user" pipeline "$MF_SOCK" "$PIPELINED"
sent=$(helper_line pipe '^sent' | awk '/^sent/ { print $2 }')
sent=${sent:-0} # the helper said nothing: a failed point, not a crash
diag "sent $sent of $PIPELINED requests before the agent stopped reading"
ok $((sent > 0 && sent < PIPELINED / 10 ? 0 : 1)) \
	"the agent stops reading a client that does not read its replies"
under_bound "while the pipelining client stalls"
start=$(date +%s%N)
is "$(admin_status | jq '.clients.users')" 1 "status answers meanwhile (one user client)"
diag "status answered in $((($(date +%s%N) - start) / 1000000)) ms"
helper_go pipe
is "$(helper_line pipe '^replies')" "replies $PIPELINED" \
	"once it reads, every one of $PIPELINED requests is answered"
under_bound "after $PIPELINED pipelined requests"

# 2. Partial lines, as a user and as root at once: the user is capped per uid,
# root by its own pool, and what is held is closed when its line stalls.
helper_start upart "$user" partial "$MF_SOCK" "$PARTIAL"
helper_start rpart root partial "$MF_SOCK" "$PARTIAL"
held_user=$(helper_line upart '^held' | awk '{ print $2 }')
held_root=$(helper_line rpart '^held' | awk '{ print $2 }')
is "$held_user" 32 "a user holds at most MF_CLIENTS_PER_UID connections"
is "$held_root" 256 "root holds at most MF_CLIENTS_ROOT connections"
under_bound "with $PARTIAL + $PARTIAL partial-line clients"
like "$(user_status 2>&1)" "uid $(id -u "$user") holds 32 connections to the agent, its limit" \
	"a refused client is told why"
# Root's pool and the user's share are full: another user still gets an answer.
is "$(other_status | jq .ok)" true "status answers another user meanwhile"
helper_go upart
helper_go rpart
is "$(helper_line upart '^closed')" "closed 32 of 32" "the user's partial lines are closed"
is "$(helper_line rpart '^closed')" "closed 256 of 256" "root's partial lines are closed"

st=$(admin_status)
is "$(jq -c '.clients.refused' <<<"$st")" \
	"{\"users_limit\":0,\"uid_limit\":$((PARTIAL - 32 + 1)),\"root_limit\":$((PARTIAL - 256))}" \
	"status counts the refusals by reason (and the refused status above)"
is "$(jq '.clients.closed.partial_line' <<<"$st")" 288 "and the partial lines closed"
is "$(jq -c '[.clients.users, .clients.root]' <<<"$st")" "[0,1]" \
	"no client is left but the one asking"
under_bound "after the clients left"
after=$(rss)
diag "agent RSS after the clients left $((after / 1024)) MiB (at start $((base / 1024)) MiB)"
if [ "$san" = 0 ]; then
	ok $((after < base + 8192 ? 0 : 1)) "memory is given back after the clients leave"
fi

done_testing
