#!/usr/bin/env bash
# Tenants apart: an isolated server is launched by the agent under a uid of
# its (identity, server), with its own HOME and TMPDIR, a Landlock filesystem
# scope and its identity's credential, which the launcher never receives.
# Two identities at once: each reads its own credential and nothing of the
# other's (credential file, /proc entries, HOME, TMPDIR), nor signals it.
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"
command -v strace >/dev/null || skip_all "needs strace"

CRED=$MF_TMP/cred/gdrive
TEN=$MF_TMP/tenants
# Tenant uids (and nobody) run these: copies in $MF_TMP, since the checkout
# may sit under a private directory (mktemp -d).
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$MF_HELPERS/fsprobe" "$MF_TMP/bin/"
P=$MF_TMP/bin/fsprobe
M=$MF_TMP/bin/mcpfence
mkdir -p "$CRED"
chmod 700 "$MF_TMP/cred"
printf 'alice-token-5f1c\n' >"$CRED/alice"
printf 'bob-token-9d2e\n' >"$CRED/bob"
chmod 600 "$CRED"/*
cat >"$MF_TMP/p.json" <<JSON
{ "version": 1,
  "servers": {
    "gdrive": { "isolate": true, "filesystem": { "read": ["$MF_TMP/bin"] },
                "credentials": [ { "env": "GDRIVE_TOKEN", "as_file": "token",
                                   "file": "$CRED/{identity}" } ] },
    "plain": {} },
  "rules": [] }
JSON
agent_start "$MF_TMP/p.json" --uid-range 61900-61909 --tenants-dir "$TEN" || exit 1

gd() { # IDENTITY CMD...: an isolated gdrive server for IDENTITY
	local id=$1
	shift
	mf run --identity "$id" --server gdrive -- "$@"
}

# In the background: run itself, with SIGINT as a terminal would have it
# (bash starts background commands with SIGINT ignored).
gd_bg() {
	local id=$1
	shift
	exec env --default-signal=INT "$M" --socket "$MF_SOCK" run --identity "$id" \
		--server gdrive -- "$@"
}

# A uid some process has already is nobody's to give out.
setpriv --reuid 61900 --regid 61900 --clear-groups sleep 30 &
SQUAT=$!
kill_at_exit $SQUAT
wait_for grep -q '^Uid:.61900' /proc/$SQUAT/status

# alice's server stays up, printing its pid, while bob's probes it.
gd_bg alice sh -c "'$P' shm-create 61977 >/dev/null; echo \$\$; exec sleep 60" >"$MF_TMP/alice.out" 2>&1 &
ALICE_RUN=$!
kill_at_exit $ALICE_RUN
wait_for grep -q . "$MF_TMP/alice.out"
APID=$(head -1 "$MF_TMP/alice.out")
AUID=$(awk '/^Uid:/ { print $2 }' /proc/"$APID"/status)
like "$AUID" '^6190[1-9]$' "alice's server runs under a uid of the range, not one in use"
kill -KILL $SQUAT
wait $SQUAT 2>/dev/null
is "$(awk '/^Gid:/ { print $2 }' /proc/"$APID"/status)" "$AUID" "with a gid of the same number"
is "$(awk '/^Groups:/ { print $2 }' /proc/"$APID"/status)" "" "and no supplementary group"
is "$(awk '/^CapEff:/ { print $2 }' /proc/"$APID"/status)" 0000000000000000 "and no capability"
is "$(awk '/^CapBnd:/ { print $2 }' /proc/"$APID"/status)" 0000000000000000 \
	"not even in its bounding set"
is "$(awk '/^NoNewPrivs:/ { print $2 }' /proc/"$APID"/status)" 1 "no_new_privs"
is "$(awk '/^Seccomp:/ { print $2 }' /proc/"$APID"/status)" 2 "under run's seccomp filter"
like "$(mf ps --json)" "\"pid\":$APID,\"identity\":\"alice\",\"server\":\"gdrive\"" \
	"tagged as alice on gdrive"
like "$(mf status --json)" '"isolated_servers":1[,}]' "status counts it"
is "$(stat -c '%u %a' "$TEN/$AUID/home" "$TEN/$AUID/tmp" | sort -u)" "$AUID 700" \
	"its HOME and TMPDIR are its own, 0700"

# bob's server, at the same time: its own uid, its own credential.
out=$(gd bob sh -c 'id -u; echo "$GDRIVE_TOKEN"; cat "$HOME/token"; echo "$USER $HOME $TMPDIR";
	ASAN_OPTIONS=detect_leaks=0 '"'$M'"' credential GDRIVE_TOKEN')
BUID=$(echo "$out" | sed -n 1p)
like "$BUID" '^619[0-9][0-9]$' "bob's server runs under a uid of the range"
[ "$BUID" != "$AUID" ]
ok $? "not alice's ($AUID vs $BUID)"
is "$(echo "$out" | sed -n 2p)" bob-token-9d2e "bob's server gets bob's credential in its environment"
is "$(echo "$out" | sed -n 3p)" bob-token-9d2e "and as a file in its HOME"
is "$(echo "$out" | sed -n 4p)" "mcpfence-$BUID $TEN/$BUID/home $TEN/$BUID/tmp" \
	"USER, HOME and TMPDIR name its uid"
is "$(echo "$out" | sed -n 5p)" bob-token-9d2e "mcpfence credential returns its own credential"
is "$(gd bob id -u)" "$BUID" "bob's uid is the same at the next launch"
is "$(gd bob sh -c 'echo x >"$TMPDIR/f"; stat -c %a "$TMPDIR/f"')" 600 \
	"what a server writes is its own (umask 077)"
like "$(grep -c "\"event\":\"credential\".*\"identity\":\"bob\".*\"credential\":\"GDRIVE_TOKEN\"" \
	"$MF_AUDIT_LOG")" '^[3-9]$' "each credential handed out is audited"
is "$(grep -c 'token-' "$MF_AUDIT_LOG")" 0 "never with its value"

# What bob's server can do to alice's: nothing.
bob_probe() { gd bob "$P" "$@"; }
is "$(bob_probe read "$CRED/alice")" EACCES "bob cannot read alice's credential file"
is "$(bob_probe read "$CRED/bob")" EACCES "nor his own: the agent reads it for him"
is "$(bob_probe read /proc/"$APID"/environ)" EACCES "nor alice's /proc/PID/environ"
is "$(bob_probe read /proc/"$APID"/mem)" EACCES "nor /proc/PID/mem"
is "$(bob_probe readlink /proc/"$APID"/fd/0)" EACCES "nor /proc/PID/fd/N"
is "$(bob_probe read "$TEN/$AUID/home/token")" EACCES "nor the token in alice's HOME"
is "$(bob_probe list "$TEN/$AUID/home")" EACCES "nor list alice's HOME"
is "$(bob_probe write "$TEN/$AUID/tmp/x")" EACCES "nor write in alice's TMPDIR"
is "$(bob_probe kill "$APID" 15)" EPERM "nor signal alice's server"
is "$(bob_probe kill "$APID" 0)" EPERM "nor learn that it lives by signal 0"
is "$(bob_probe shm-get 61977)" ENOENT "nor find the System V segment alice's server made for all"
# Landlock: refused where the uid alone would be allowed.
is "$(bob_probe write /dev/shm/mf-tenant-$$)" EACCES "/dev/shm is out of reach"
is "$(bob_probe write /tmp/mf-tenant-$$)" EACCES "so is /tmp"
chmod 755 "$TEN/$AUID/home"
is "$(bob_probe list "$TEN/$AUID/home")" EACCES "alice's HOME stays closed when alice opens it"
chmod 700 "$TEN/$AUID/home"
is "$(bob_probe write "$TEN/$BUID/tmp/x")" OK "bob writes in his own TMPDIR"
kill -0 "$APID"
ok $? "alice's server lives through it all"

# A credential is asked for by the server itself only.
is "$(mf credential GDRIVE_TOKEN 2>&1)" \
	"mcpfence: credential: refused: only a governed server may ask, for itself" \
	"an ungoverned process gets no credential"
like "$(mf run --allow-root --identity alice --server plain -- "$M" credential \
	GDRIVE_TOKEN 2>&1)" "server plain has no credential 'GDRIVE_TOKEN'" \
	"a governed process of another server neither"

# The launcher never holds a credential: trace what run reads and receives.
strace -f -qq -e trace=read,recvmsg,recvfrom -s 4096 -o "$MF_TMP/trace" \
	"$M" --socket "$MF_SOCK" run --identity alice --server gdrive -- \
	sh -c 'test -n "$GDRIVE_TOKEN"' </dev/null
is "$?" 0 "a traced launch runs (the server has its credential)"
grep -q 'event\\":\\"exit' "$MF_TMP/trace"
ok $? "the trace holds the agent's messages"
is "$(grep -c 'token-' "$MF_TMP/trace")" 0 "none of them holds a credential value"

# Who launches: the identity rules of tag; an identity without a credential.
is "$(runuser -u nobody -- "$M" --socket "$MF_SOCK" run --identity alice \
	--server gdrive -- true 2>&1 | grep -c 'may only run servers as nobody')" 1 \
	"another user may not launch as alice"
like "$(gd bob sh -c "ASAN_OPTIONS=detect_leaks=0 '$M' run --identity alice \
	--server gdrive -- true" 2>&1)" "refused: the caller is governed \(identity bob, server gdrive\)" \
	"a governed server may not launch another (nor as another identity)"
like "$(gd alice true </ 2>&1)" "descriptor 0 is not a stream" "a directory is refused as stdio"
like "$(gd carol true 2>&1)" "no credential GDRIVE_TOKEN for identity carol: .*carol: No such file" \
	"an identity without a credential file is refused the launch, saying so"

# Credential files with loose modes are refused at load.
cp "$MF_TMP/p.json" "$MF_TMP/p2.json"
chmod 644 "$CRED/bob"
like "$(mf policy load "$MF_TMP/p2.json" 2>&1)" "credential file $CRED/bob must be a root-owned .* mode 0644" \
	"a credential file of mode 0644 is refused at load"
like "$(gd bob true 2>&1)" "must be a root-owned regular file of mode 0600" "and at launch"
chmod 600 "$CRED/bob"
chown nobody "$CRED/bob"
like "$(mf policy load "$MF_TMP/p2.json" 2>&1)" "credential file $CRED/bob must be a root-owned" \
	"one owned by another user too"
chown root "$CRED/bob"
like "$(mf policy load "$MF_TMP/p2.json" 2>&1)" "policy loaded" "mended, the policy loads"

# Exit status, signals and stdio pass through run.
gd alice sh -c 'exit 7'
is "$?" 7 "run exits with the server's status"
gd alice sh -c 'kill -KILL $$'
is "$?" 137 "and 128 + the signal that killed it"
is "$(printf 'one\ntwo\n' | gd alice sh -c 'while read -r l; do echo "got $l"; done')" \
	"got one
got two" "stdin and stdout reach the server"
is "$(gd alice sh -c 'echo oops >&2' 2>&1 >/dev/null)" oops "and stderr"
gd_bg alice sh -c 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done' \
	>"$MF_TMP/sig.out" &
SIG_RUN=$!
kill_at_exit $SIG_RUN
wait_for grep -q ready "$MF_TMP/sig.out"
kill -TERM $SIG_RUN
wait $SIG_RUN
is "$?" 42 "SIGTERM reaches the server, and its exit comes back"
gd_bg alice sh -c 'echo ready; exec sleep 60' >"$MF_TMP/int.out" &
SIG_RUN=$!
kill_at_exit $SIG_RUN
wait_for grep -q ready "$MF_TMP/int.out"
kill -INT $SIG_RUN
wait $SIG_RUN
is "$?" 130 "SIGINT too"

left=$(gd alice sh -c 'sleep 60 >/dev/null 2>&1 & echo $!')
wait_for sh -c "! kill -0 $left"
ok $? "what the server started in its process group ends with it"

# Its processes stay in the session and group the agent ends with it: a child
# that could call setsid would outlive the session with the credential.
is "$(gd alice sh -c 'setsid true 2>/dev/null; echo $?')" 1 "an isolated server cannot setsid (seccomp)"
is "$(gd alice sh -c 'python3 -c "import os; os.setpgid(0, 0)" 2>&1 | grep -o "Operation not permitted"')" \
	"Operation not permitted" "nor setpgid"
is "$(mf run --allow-root --identity alice --server plain -- sh -c 'setsid true; echo $?')" 0 \
	"control: a server run locally may (only isolated servers are held in their group)"

# A launcher that goes away takes its server with it.
{
	kill -KILL $ALICE_RUN
	wait $ALICE_RUN
} 2>/dev/null # bash reports the kill
wait_for sh -c "! kill -0 $APID"
ok $? "alice's server ends with its launcher"
is "$(ps -eo uid= | awk -v a="$AUID" -v b="$BUID" '$1 == a || $1 == b' | wc -l)" 0 \
	"no process of either uid is left"

# The agent going away takes the servers it launched, and run says so.
gd_bg alice sh -c 'echo $$; exec sleep 60' >"$MF_TMP/last.out" 2>&1 &
LAST=$!
kill_at_exit $LAST
wait_for grep -q . "$MF_TMP/last.out"
LPID=$(head -1 "$MF_TMP/last.out")
agent_stop
wait $LAST
is "$?" 1 "run exits 1 when the agent stops under it"
like "$(cat "$MF_TMP/last.out")" "lost the agent while sh ran" "saying so"
kill -0 "$LPID" 2>/dev/null
is "$?" 1 "and the server is gone with the agent"

done_testing
