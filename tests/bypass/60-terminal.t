#!/usr/bin/env bash
# No terminal to type into: a server started by `mcpfence run` cannot push
# input into its controlling terminal (TIOCSTI), where the ungoverned shell
# that launched it would read and run it; not through /dev/tty with its stdio
# redirected, not with the ioctl command's upper bits set. TIOCLINUX (console
# paste) likewise. Each case runs in a pty this test creates, never the
# session's terminal.
. "$(dirname "$0")/../lib.sh"

E=$MF_HELPERS/escape
[ -x "$E" ] || skip_all "build/tests/escape is not built (make)"
command -v python3 >/dev/null || skip_all "python3 is not installed"

user=mcpft$$t
useradd --no-create-home --shell /usr/sbin/nologin "$user" || skip_all "cannot create a test user"
at_exit "user_del $user"
mkdir -m 755 "$MF_TMP/bin"
cp "$MF_BUILD/mcpfence" "$E" "$MF_TMP/bin/"

agent_start policy/examples/fetch.json || exit 1

# pty-run MARKER SHELL-COMMAND: run the command as the session leader of a
# new pty (its controlling terminal), stdio redirected away from it; print the
# command's output, then "typed" if MARKER came back from the terminal (the
# echo of its input queue), else "clean".
cat >"$MF_TMP/pty-run" <<'PY'
import os, pty, select, sys
marker = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", sys.argv[2]])
echo = b""
while True:
    r, _, _ = select.select([fd], [], [], 10)
    if not r:
        break
    try:
        data = os.read(fd, 4096)
    except OSError:  # EIO: the command and its terminal are gone
        break
    if not data:
        break
    echo += data
os.waitpid(pid, 0)
print("typed" if marker in echo else "clean")
PY

n=0
# typed WHAT...: the escape as WHAT runs it, in a pty; "OUTCOME typed|clean"
typed() {
	local mark=mf$$x$n out=$MF_TMP/pty.$n
	n=$((n + 1))
	local echo
	echo=$(python3 "$MF_TMP/pty-run" "$mark" "cd $MF_TMP && $* tiocsti '$mark' ${HIGH:-} </dev/null >$out 2>/dev/null")
	echo "$(sed -n 1p "$out") $echo"
}
M=$MF_TMP/bin/mcpfence
ESC=$MF_TMP/bin/escape
root_run="$M --socket $MF_SOCK run --allow-root --identity alice --server fetch --"
user_run="runuser -u $user -- $M --socket $MF_SOCK run --identity $user --server fetch --"

is "$(typed "$ESC")" "OK typed" "ungoverned: TIOCSTI types into the terminal (the attack works here)"
is "$(typed "$M --socket $MF_SOCK run --allow-root --no-harden --identity alice --server fetch -- $ESC")" \
	"OK typed" "governed without hardening: it still does"
is "$(typed "$root_run $ESC")" "EPERM clean" "hardened root server: TIOCSTI refused, nothing typed"
is "$(HIGH=high typed "$root_run $ESC")" "EPERM clean" "with bits above the low 32 of the command too"
is "$(typed "runuser -u $user -- $ESC")" "OK typed" "ungoverned user: TIOCSTI types into the terminal"
is "$(typed "$user_run $ESC")" "EPERM clean" "hardened user server: TIOCSTI refused, nothing typed"
is "$(typed "$user_run sh -c '$ESC \"\$@\"' sh")" "EPERM clean" "and its descendants"

# TIOCLINUX: a pty is no console, the kernel answers ENOTTY or EINVAL; the
# filter answers first.
python3 "$MF_TMP/pty-run" none "$ESC tioclinux >$MF_TMP/lx.0 2>&1" >/dev/null
is "$(grep -c EPERM "$MF_TMP/lx.0")" 0 "ungoverned: TIOCLINUX on a pty is not refused with EPERM ($(head -1 "$MF_TMP/lx.0"))"
python3 "$MF_TMP/pty-run" none "$root_run $ESC tioclinux >$MF_TMP/lx.1 2>/dev/null" >/dev/null
is "$(head -1 "$MF_TMP/lx.1")" EPERM "hardened: TIOCLINUX refused (EPERM)"

# Other ioctls on the terminal still work: stty reads and sets modes.
python3 "$MF_TMP/pty-run" none "$root_run stty -echo 2>/dev/null && echo ok >$MF_TMP/stty.out" >/dev/null
is "$(cat "$MF_TMP/stty.out")" ok "hardened: other terminal ioctls (stty) still work"

done_testing
