#!/usr/bin/env bash
# `make install` honours PREFIX and DESTDIR, keeps an edited policy, and
# `make uninstall` removes what it installed (but the policy). The installed
# unit passes `systemd-analyze verify` and scores <= 4.0 in `security`.
. "$(dirname "$0")/../lib.sh"

dest=$MF_TMP/dest
mk() { make -s --no-print-directory -C "$MF_SRC" "$@" >"$MF_TMP/make.out" 2>&1; }

mk install DESTDIR="$dest" PREFIX=/usr
ok $? "make install DESTDIR PREFIX=/usr"
want="/etc/logrotate.d/mcpfence
/etc/mcpfence/policy.json
/usr/bin/mcpfence
/usr/lib/systemd/system/mcpfence-metrics.service
/usr/lib/systemd/system/mcpfence-metrics.timer
/usr/lib/systemd/system/mcpfenced.service
/usr/sbin/mcpfenced
/usr/share/bash-completion/completions/mcpfence
/usr/share/bash-completion/completions/mcpfenced
/usr/share/man/man5/mcpfence-policy.5
/usr/share/man/man8/mcpfence.8
/usr/share/man/man8/mcpfenced.8
/usr/share/mcpfence/audit-schema.json
/usr/share/mcpfence/default.json
/usr/share/mcpfence/examples/fetch.json
/usr/share/mcpfence/examples/gdrive-tenants.json
/usr/share/mcpfence/examples/github.json
/usr/share/mcpfence/examples/postgres.json
/usr/share/mcpfence/examples/redis.json
/usr/share/mcpfence/schema.json
/usr/share/zsh/vendor-completions/_mcpfence"
is "$(cd "$dest" && find . -type f | sed 's/^\.//' | sort)" "$want" "the expected files, no others"
is "$(stat -c %a "$dest/etc/mcpfence/policy.json")" 600 "the policy is root's only (0600)"
like "$("$dest/usr/sbin/mcpfenced" --version)" '^mcpfenced [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]+(-dirty)?, libbpf [0-9]+\.[0-9]+\)$' \
	"mcpfenced --version: version, commit, libbpf"
like "$("$dest/usr/bin/mcpfence" --version)" '^mcpfence [0-9.]+ \(commit [0-9a-f]+(-dirty)?, libbpf [0-9]+\.[0-9]+\)$' \
	"mcpfence --version: version, commit, libbpf"
grep -q '^ExecStart=/usr/sbin/mcpfenced --policy /etc/mcpfence/policy.json ' \
	"$dest/usr/lib/systemd/system/mcpfenced.service"
ok $? "the unit runs the installed agent with the installed policy"

echo '{ "version": 1, "servers": { "edited": {} }, "rules": [] }' >"$dest/etc/mcpfence/policy.json"
mk install DESTDIR="$dest" PREFIX=/usr
ok $? "a second make install"
grep -q edited "$dest/etc/mcpfence/policy.json"
ok $? "keeps the edited policy.json"

mk install DESTDIR="$MF_TMP/local"
ok $? "make install with the default PREFIX"
ok "$([ -x "$MF_TMP/local/usr/local/sbin/mcpfenced" ] &&
	grep -q '^ExecStart=/usr/local/sbin/mcpfenced ' \
		"$MF_TMP/local/usr/local/lib/systemd/system/mcpfenced.service"; echo $?)" \
	"PREFIX=/usr/local: the agent in /usr/local/sbin, and the unit says so"

# verify: the unit as installed, its ExecStart pointed into DESTDIR and its
# Documentation= pages found there (verify runs man on each).
if command -v systemd-analyze >/dev/null; then
	sed "s|^ExecStart=/usr/sbin/|ExecStart=$dest/usr/sbin/|" \
		"$dest/usr/lib/systemd/system/mcpfenced.service" >"$MF_TMP/mcpfenced.service"
	out=$(MANPATH=$dest/usr/share/man systemd-analyze verify "$MF_TMP/mcpfenced.service" 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify: no complaint"
	cp "$dest"/usr/lib/systemd/system/mcpfence-metrics.* "$MF_TMP/"
	sed -i "s|/usr/bin/mcpfence|$dest/usr/bin/mcpfence|" "$MF_TMP/mcpfence-metrics.service"
	out=$(cd "$MF_TMP" && MANPATH=$dest/usr/share/man systemd-analyze verify \
		mcpfence-metrics.service mcpfence-metrics.timer 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify: the metrics service and timer too"
	score=$(systemd-analyze security --offline=yes \
		"$dest/usr/lib/systemd/system/mcpfenced.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for mcpfenced.service: \([0-9.]*\).*/\1/p')
	diag "systemd-analyze security: $score"
	ok "$(awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 4.0) }'; echo $?)" \
		"systemd-analyze security scores <= 4.0 ($score)"
	# Booted under systemd 252: with ProtectKernelTunables= the pins'
	# directory stayed read-only and the agent could not start.
	ok "$(! grep -q '^ProtectKernelTunables=yes' "$dest/usr/lib/systemd/system/mcpfenced.service"; echo $?)" \
		"the unit leaves /sys/fs/bpf writable (no ProtectKernelTunables=)"
else
	ok 0 "# SKIP systemd-analyze not installed"
	ok 0 "# SKIP systemd-analyze not installed"
	ok 0 "# SKIP systemd-analyze not installed"
fi

if command -v logrotate >/dev/null; then
	out=$(logrotate -d -s "$MF_TMP/lr.state" "$dest/etc/logrotate.d/mcpfence" 2>&1)
	ok $? "logrotate -d accepts the logrotate file" || diag "$out"
else
	ok 0 "# SKIP logrotate not installed"
fi

mk uninstall DESTDIR="$dest" PREFIX=/usr
ok $? "make uninstall"
is "$(cd "$dest" && find . -type f | sed 's/^\.//')" "/etc/mcpfence/policy.json" \
	"uninstall leaves only the operator's policy"

done_testing
