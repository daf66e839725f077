#!/usr/bin/env bash
# `make deb`: a Debian package that depends on runtime libraries only, keeps
# the policy root's and a conffile, installs, upgrades (keeping an edited
# policy), and on purge leaves nothing: no files, no pins, no state.
# The install cycle runs only where no mcpfence is installed or running.
. "$(dirname "$0")/../lib.sh"

command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
	skip_all "dpkg-buildpackage and debhelper are not installed"
out=$MF_TMP/deb
make -s --no-print-directory -C "$MF_SRC" deb OUTPUT="$out" >"$MF_TMP/make.out" 2>&1
rc=$?
ok $rc "make deb"
[ $rc -eq 0 ] || sed 's/^/# /' "$MF_TMP/make.out"
deb=$(ls "$out"/deb/mcpfence_*_amd64.deb 2>/dev/null | head -1)
is "$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/ *(.*//; s/^ //' | sort | tr '\n' ' ')" \
	"libbpf1 libc6 libjansson4 libsmartcols1 " "depends on runtime libraries only"
is "$(dpkg-deb -c "$deb" | awk '$6 == "./etc/mcpfence/policy.json" { print $1 }')" "-rw-------" \
	"the policy is 0600"
dpkg-deb -e "$deb" "$MF_TMP/ctl"
is "$(cat "$MF_TMP/ctl/conffiles" | tr '\n' ' ')" "/etc/logrotate.d/mcpfence /etc/mcpfence/policy.json " \
	"the policy and the logrotate file are conffiles"
want="./lib/systemd/system/mcpfenced.service ./usr/bin/mcpfence ./usr/sbin/mcpfenced ./usr/share/bash-completion/completions/mcpfence ./usr/share/bash-completion/completions/mcpfenced ./usr/share/man/man5/mcpfence-policy.5.gz ./usr/share/man/man8/mcpfence.8.gz ./usr/share/man/man8/mcpfenced.8.gz ./usr/share/zsh/vendor-completions/_mcpfence "
is "$(dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -v '/$' | grep -E 'sbin|bin/|man|completion|mcpfenced.service' | sort | tr '\n' ' ')" \
	"$want" "binaries, unit, man pages, completion"

if dpkg -s mcpfence >/dev/null 2>&1 || [ -e /sys/fs/bpf/mcpfence ] || [ -e /run/mcpfence ] ||
	[ -e /var/lib/mcpfence ]; then
	ok 0 "# SKIP mcpfence is installed or running here: no install cycle"
	done_testing
	exit
fi
at_exit "dpkg --purge mcpfence; rm -rf /sys/fs/bpf/mcpfence; rmdir /run/mcpfence"
dpkg -i "$deb" >"$MF_TMP/dpkg.out" 2>&1
ok $? "dpkg -i"
like "$(/usr/sbin/mcpfenced --version)" '^mcpfenced [0-9.]+ ' "the installed agent runs"
echo '{ "version": 1, "servers": { "edited": {} }, "rules": [] }' >/etc/mcpfence/policy.json
# The next version: the same tree, one changelog entry up.
src=$(ls -d "$out"/deb/mcpfence-*/)
sed -i '1s/(\([0-9.]*\))/(\1.1)/' "$src/debian/changelog"
(cd "$src" && COMMIT=test dpkg-buildpackage -b -us -uc >"$MF_TMP/build2.out" 2>&1)
dpkg -i "$(ls "$out"/deb/mcpfence_*.1_amd64.deb)" >"$MF_TMP/dpkg.out" 2>&1
ok $? "an upgrade installs"
like "$(dpkg-query -W -f '${Version}' mcpfence)" '\.1$' "to the new version"
grep -q edited /etc/mcpfence/policy.json
ok $? "and keeps the edited policy"
# Pins left by an agent: removal takes them away with it.
# As the unit runs it: default socket, pins and state (not this test's).
sys() { env -u MCPFENCE_SOCKET -u MCPFENCE_STATE_DIR "$@"; }
# Not through sys(): $! would be the function's subshell, and SIGTERM to it
# would leave the agent running (with its lock, so removal keeps the pins).
env -u MCPFENCE_SOCKET -u MCPFENCE_STATE_DIR /usr/sbin/mcpfenced --policy /etc/mcpfence/policy.json \
	>"$MF_TMP/sys-agent.out" 2>&1 &
sys_agent=$!
kill_at_exit $sys_agent
wait_for /usr/bin/mcpfence --socket /run/mcpfence/control.sock status
kill -TERM $sys_agent
wait $sys_agent
ok "$([ -d /sys/fs/bpf/mcpfence ]; echo $?)" "an agent left its pins"
sys dpkg --purge mcpfence >"$MF_TMP/dpkg.out" 2>&1
ok $? "dpkg --purge"
left=$(ls -d /etc/mcpfence /var/lib/mcpfence /var/log/mcpfence /usr/sbin/mcpfenced \
	/sys/fs/bpf/mcpfence /etc/systemd/system/multi-user.target.wants/mcpfenced.service 2>/dev/null)
is "$left" "" "nothing left: files, state, pins, enablement"
rmdir /run/mcpfence 2>/dev/null # the agent's, without systemd to remove it

done_testing
