# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared by the end-to-end tests (tests/e2e/*.t): TAP output and a private
# agent (own socket, own bpffs pin directory, own audit log) that is always
# stopped and uninstalled when the test exits.
#
#   . "$(dirname "$0")/../lib.sh"
#   agent_start policy/examples/redis.json
#   mf run --identity alice --server redis -- true
#   is "$(probe connect tcp 127.0.0.1 6379)" "ECONNREFUSED" "alice may connect"

set -u

MF_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# MF_BUILD=build/san runs the same tests against the ASan+UBSan binaries.
MF_BUILD=${MF_BUILD:-$MF_SRC/build}
case "$MF_BUILD" in /*) ;; *) MF_BUILD=$MF_SRC/$MF_BUILD ;; esac
# Test helpers (probe, escape) are not under test: always the plain build.
MF_HELPERS=$MF_SRC/build/tests
# Under ASan, leaks are checked in the agent (agent_start) and not in CLI runs:
# LeakSanitizer needs ptrace, which `run` forbids to the governed processes.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
MF_TMP=$(mktemp -d /tmp/mcpfence-test.XXXXXX)
chmod 755 "$MF_TMP" # test users reach the socket in it
MF_SOCK=$MF_TMP/control.sock
MF_PIN_DIR=/sys/fs/bpf/mcpfence-test-$$
MF_AUDIT_LOG=$MF_TMP/audit.log
MF_AGENT_PID=
MF_CLEANUP_PIDS=()
MF_CLEANUP_CMDS=()
export MCPFENCE_SOCKET=$MF_SOCK
export MCPFENCE_STATE_DIR=$MF_TMP/state # private: the saved policy of this test's pins

_tap_n=0
_tap_failed=0

plan() { echo "1..$1"; }

diag() { printf '# %s\n' "$@"; }

# ok STATUS DESC: STATUS is an exit code (0 passes)
ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# is GOT WANT DESC
is() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $_tap_n - $3"
	else
		echo "not ok $_tap_n - $3"
		diag "got:  '$1'" "want: '$2'"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# like GOT REGEX DESC
like() {
	_tap_n=$((_tap_n + 1))
	if [[ "$1" =~ $2 ]]; then
		echo "ok $_tap_n - $3"
	else
		echo "not ok $_tap_n - $3"
		diag "got:  '$1'" "want match: '$2'"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# skip_all REASON: skip the rest of the file. Before any test point, the whole
# file ("1..0 # SKIP"); after some, one skipped point closes a valid plan.
skip_all() {
	_tap_done=1
	if [ "$_tap_n" -eq 0 ]; then
		echo "1..0 # SKIP $1"
	else
		_tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # SKIP $1"
		echo "1..$_tap_n"
	fi
	exit 0
}

mf() { "$MF_BUILD/mcpfence" --socket "$MF_SOCK" "$@"; }
probe() { "$MF_HELPERS/probe" "$@"; }

# user_del NAME: remove a test user, after its processes (userdel refuses a
# user that still runs something, and a test may leave a runuser child).
user_del() {
	local i
	pkill -KILL -u "$1" 2>/dev/null
	for i in $(seq 50); do
		pgrep -u "$1" >/dev/null || break
		sleep 0.1
	done
	userdel "$1"
}

# at_exit CMD...: run CMD (one string) during cleanup
at_exit() { MF_CLEANUP_CMDS+=("$1"); }
kill_at_exit() { MF_CLEANUP_PIDS+=("$1"); }

# agent_start POLICY [AGENT OPTIONS]: the agent detaches on exit unless
# MF_KEEP_PINS=1 (restart tests); the pins are removed at cleanup anyway.
agent_start() {
	local policy=$1 detach=--detach-on-exit
	shift
	[ "${MF_KEEP_PINS:-0}" = 1 ] && detach=
	ASAN_OPTIONS=detect_leaks=1 "$MF_BUILD/mcpfenced" --policy "$policy" --socket "$MF_SOCK" --pin-dir "$MF_PIN_DIR" \
		--audit-log "$MF_AUDIT_LOG" $detach "$@" >>"$MF_TMP/agent.out" 2>&1 &
	MF_AGENT_PID=$!
	local i
	for i in $(seq 100); do
		if mf status >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$MF_AGENT_PID" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	diag "agent did not start:"
	sed 's/^/#   /' "$MF_TMP/agent.out"
	return 1
}

# agent_stop: SIGTERM, then the agent must exit 0 (under ASan: no error, no
# leak). Checked as a test point, except during cleanup after the plan.
agent_stop() {
	local rc
	if [ -n "$MF_AGENT_PID" ]; then
		kill -TERM "$MF_AGENT_PID" 2>/dev/null
		wait "$MF_AGENT_PID" 2>/dev/null
		rc=$?
		MF_AGENT_PID=
		if [ -z "${_tap_done:-}" ]; then
			is "$rc" 0 "the agent exits cleanly on SIGTERM"
			[ "$rc" -eq 0 ] || sed 's/^/#   /' "$MF_TMP/agent.out" | tail -40
		fi
	fi
}

# agent_crash: SIGKILL, as an OOM kill or a crash: no teardown runs, what
# the agent pinned stays as it was.
agent_crash() {
	kill -KILL "$MF_AGENT_PID"
	wait "$MF_AGENT_PID" 2>/dev/null
	MF_AGENT_PID=
}

# wait_for CMD...: retry CMD for up to 5 s
wait_for() {
	local i
	for i in $(seq 100); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

_cleanup() {
	local p c
	for p in "${MF_CLEANUP_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for c in "${MF_CLEANUP_CMDS[@]}"; do
		eval "$c" >/dev/null 2>&1
	done
	agent_stop
	# The agent unpins on exit (--detach-on-exit); remove what a crash left.
	if [ -d "$MF_PIN_DIR" ]; then
		"$MF_BUILD/mcpfenced" --pin-dir "$MF_PIN_DIR" --uninstall >/dev/null 2>&1 ||
			rm -rf "$MF_PIN_DIR"
	fi
	rm -rf "$MF_TMP"
}

done_testing() {
	agent_stop
	_tap_done=1
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

trap _cleanup EXIT
trap 'exit 130' INT TERM
