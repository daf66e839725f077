#!/usr/bin/env bash
# Local deputies: Unix connects and datagram sends of governed processes are
# judged against the exact socket names the policy grants (servers.*.unix,
# and the top-level "unix" for every server), pathname and abstract alike.
# Denied ones fail with EPERM and are audited with the name.
. "$(dirname "$0")/../lib.sh"

abs=mcpfence-test-$$
cat >"$MF_TMP/policy.json" <<JSON
{
  "version": 1,
  "audit": { "allowed": "all" },
  "unix": [ "$MF_TMP/log.sock" ],
  "servers": {
    "web": { "unix": [ "$MF_TMP/ok.sock", "@$abs-ok", "$MF_TMP/sink.sock" ] },
    "db": {}
  },
  "rules": []
}
JSON
agent_start "$MF_TMP/policy.json" || exit 1

# Listeners (-u: socat only reads them): stream sockets, datagram sinks.
listen() {
	socat -u "$1" /dev/null >/dev/null 2>&1 &
	kill_at_exit $!
	disown $!
}
listen "UNIX-LISTEN:$MF_TMP/ok.sock,fork"
listen "UNIX-LISTEN:$MF_TMP/no.sock,fork"
listen "ABSTRACT-LISTEN:$abs-ok,fork"
listen "ABSTRACT-LISTEN:$abs-no,fork"
listen "UNIX-RECV:$MF_TMP/log.sock"
listen "UNIX-RECV:$MF_TMP/nolog.sock"
listen "UNIX-RECV:$MF_TMP/sink.sock"
wait_for test -S "$MF_TMP/nolog.sock" -a -S "$MF_TMP/ok.sock" -a -S "$MF_TMP/no.sock" \
	-a -S "$MF_TMP/log.sock" -a -S "$MF_TMP/sink.sock"
wait_for grep -q "@$abs-no" /proc/net/unix

web() { mf run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/probe" "$@"; }
# Launched servers also get a Landlock scope that refuses abstract sockets;
# without it the kernel hook is what decides.
web_raw() { mf run --allow-root --no-harden --identity alice --server web -- "$MF_HELPERS/probe" "$@" 2>/dev/null; }
db() { mf run --allow-root --no-harden --identity alice --server db -- "$MF_HELPERS/probe" "$@"; }

is "$(web unix-connect stream "$MF_TMP/ok.sock")" OK "a granted pathname socket: connect works"
is "$(web unix-connect stream "$MF_TMP/no.sock")" EPERM "another pathname socket: EPERM"
is "$(web_raw unix-connect stream "@$abs-ok")" OK "a granted abstract socket: connect works"
is "$(web_raw unix-connect stream "@$abs-no")" EPERM "another abstract socket: EPERM"
is "$(web_raw unix-connect stream "@$abs-ok-")" EPERM "an abstract name is exact (longer)"
is "$(web unix-sendto "$MF_TMP/log.sock")" OK "datagram to a name granted at the top level"
is "$(web unix-sendto "$MF_TMP/nolog.sock")" EPERM "datagram to another name: EPERM"
is "$(web unix-connect dgram "$MF_TMP/nolog.sock")" EPERM "datagram connect() is judged too"
is "$(web unix-connect seqpacket "$MF_TMP/nosuch.sock")" EPERM "seqpacket connect() is judged too"
is "$(probe unix-connect seqpacket "$MF_TMP/nosuch.sock")" ENOENT "(ungoverned: the kernel's own answer)"
# The name is what the kernel resolves: a path ends at its first NUL, or at
# the address length; an abstract name is every byte of the length.
is "$(web unix-connect-tail "$MF_TMP/ok.sock" "")" OK "a granted path without its NUL"
is "$(web unix-connect-tail "$MF_TMP/ok.sock" junk)" OK "a granted path, bytes after its NUL"
is "$(web unix-connect-tail "$MF_TMP/no.sock" "$MF_TMP/ok.sock")" EPERM \
	"a denied path with a granted one after its NUL"
is "$(web_raw unix-connect-tail "@$abs-ok" x)" EPERM "an abstract name with bytes after a NUL"
is "$(web unix-connect stream "$MF_TMP//ok.sock")" EPERM "names are exact: another spelling is denied"
is "$(cd "$MF_TMP" && web unix-connect stream ok.sock)" EPERM "a relative name is denied"
is "$(db unix-connect stream "$MF_TMP/ok.sock")" EPERM "a name granted to another server: EPERM"
is "$(db unix-sendto "$MF_TMP/log.sock")" OK "the top-level names hold for every server"
is "$(web fork unix-connect stream "$MF_TMP/no.sock")" EPERM "a child is judged like its parent"
like "$(mf run --allow-root --no-harden --identity alice --server web -- "$MF_BUILD/mcpfence" --socket "$MF_SOCK" whoami)" \
	alice "the agent's control socket stays reachable (whoami)"

# A pathname means what the policy says only in the agent's view of the
# filesystem: from another mount namespace or root, a granted name can be
# made to lead anywhere (as root here; a user namespace gives the same to
# an exec-tagged server of an ordinary user).
jail=$MF_TMP/jail
mkdir -p "$jail$MF_TMP"
listen "UNIX-LISTEN:$jail$MF_TMP/ok.sock,fork"
wait_for test -S "$jail$MF_TMP/ok.sock"
is "$(probe rebind "$MF_TMP/no.sock" "$MF_TMP/ok.sock" unix-connect stream "$MF_TMP/ok.sock")" \
	OK "ungoverned: a denied socket bind-mounted onto a granted name is reached"
is "$(web_raw rebind "$MF_TMP/no.sock" "$MF_TMP/ok.sock" unix-connect stream "$MF_TMP/ok.sock")" \
	EPERM "governed: pathnames from another mount namespace are refused"
is "$(probe chroot "$jail" unix-connect stream "$MF_TMP/ok.sock")" OK \
	"ungoverned: a granted name under another root leads elsewhere"
is "$(web_raw chroot "$jail" unix-connect stream "$MF_TMP/ok.sock")" EPERM \
	"governed: pathnames under another root are refused"
is "$(web_raw chroot "$jail" unix-connect stream "@$abs-ok")" OK \
	"abstract names do not depend on the root"
wait_for grep -q '"reason":"another mount namespace or root"' "$MF_AUDIT_LOG"
ok $? "the refusal says why"

# Ungoverned processes are not touched.
is "$(probe unix-connect stream "$MF_TMP/no.sock")" OK "ungoverned: pathname connect untouched"
is "$(probe unix-connect stream "@$abs-no")" OK "ungoverned: abstract connect untouched"
is "$(probe unix-sendto "$MF_TMP/nolog.sock")" OK "ungoverned: datagram untouched"

wait_for grep -q "\"path\":\"@$abs-no\"" "$MF_AUDIT_LOG"
like "$(grep '"event":"unix-connect"' "$MF_AUDIT_LOG" | grep '"verdict":"deny"' |
	grep -c "\"path\":\"$MF_TMP/no.sock\"")" '^[1-9]' "the denial is audited with the path"
like "$(grep "\"path\":\"@$abs-no\"" "$MF_AUDIT_LOG")" '"event":"unix-connect".*"verdict":"deny"' \
	"an abstract denial is audited with its @name"
like "$(grep '"event":"unix-sendmsg"' "$MF_AUDIT_LOG" | grep "nolog.sock")" '"verdict":"deny"' \
	"a datagram denial is audited"
like "$(grep "\"path\":\"$MF_TMP/ok.sock\"" "$MF_AUDIT_LOG")" '"verdict":"allow"' \
	"allowed connects are audited with audit.allowed all"
like "$(mf status)" 'unix_denied=[1-9]' "denials are counted"

like "$(mf policy load "$MF_TMP/policy.json" 2>&1)" \
	"servers.web.unix: $MF_TMP/ok.sock: /tmp is writable by others than root" \
	"a granted path under a directory others can write is warned about"

# Without a top-level "unix", the defaults: local log sinks, nothing else.
sed '/"unix": \[ "[^"]*log.sock" \],/d' "$MF_TMP/policy.json" >"$MF_TMP/defaults.json"
mf policy load "$MF_TMP/defaults.json" >/dev/null 2>&1 || diag "cannot load defaults.json"
is "$(web unix-sendto "$MF_TMP/log.sock")" EPERM "without top-level unix: only the defaults"
isnt_eperm=$(web unix-sendto /dev/log)
ok "$([ "$isnt_eperm" != EPERM ]; echo $?)" "the default /dev/log is not refused ($isnt_eperm)"
is "$(web unix-connect stream /run/nscd/socket)" EPERM "nscd is no default (a resolver deputy)"
is "$(web unix-connect stream /run/systemd/resolve/io.systemd.Resolve)" EPERM \
	"systemd-resolved's varlink socket is no default"

# No window: denials hold through policy reloads (each load writes the
# inactive slot, then flips it).
(
	for i in $(seq 20); do
		mf policy load "$MF_TMP/policy.json" >/dev/null 2>&1
		mf policy load "$MF_TMP/defaults.json" >/dev/null 2>&1
	done
) &
reloader=$!
outs= sends=
while kill -0 "$reloader" 2>/dev/null; do
	outs+=" $(web repeat 300 unix-connect stream "$MF_TMP/no.sock")"
	sends+=" $(web repeat 100 unix-sendto "$MF_TMP/sink.sock")"
done
wait "$reloader"
diag "connect batches during the reloads:$outs"
diag "send batches during the reloads:$sends"
is "$(echo $outs | tr ' ' '\n' | grep -vc '^EPERM=300$')" 0 \
	"a connect loop during 40 reloads is always denied"
like "$outs" 'EPERM=300' "(and it ran during the reloads)"
is "$(echo $sends | tr ' ' '\n' | grep -vc '^OK=100$')" 0 \
	"sends to a name both policies grant always pass"

done_testing
