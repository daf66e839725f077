// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mcpfenced: the root agent. Loads and pins the kernel programs, compiles
 * policy into maps, serves the control socket and fans audit records out.
 * Enforcement is pinned in bpffs and outlives the agent unless it is told
 * to detach (--detach-on-exit, `mcpfence uninstall`).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "control.h"
#include "file.h"
#include "pins.h"
#include "version.h"

extern const char mf_default_policy[];

static const char usage[] =
	"usage: mcpfenced [OPTIONS]\n"
	"\n"
	"The mcpfence agent (run as root). Loads the kernel programs, attaches them at the\n"
	"cgroup v2 root (or at a cgroup of governed processes: --scope launched), pins\n"
	"them under the pin directory, loads policy and serves the control socket that\n"
	"`mcpfence` talks to. Runs in the foreground; stop it with\n"
	"SIGINT or SIGTERM. Enforcement stays pinned after it exits unless told otherwise.\n"
	"\n"
	"  --policy FILE      policy to load at start (default: keep the active policy,\n"
	"                     or the embedded default when there is none)\n"
	"  --watch-policy     reload the --policy file when it changes (inotify on its\n"
	"                     directory: an edit, a rename over it, a ConfigMap update)\n"
	"  --socket PATH      control socket (default: $MCPFENCE_SOCKET, else\n"
	"                     " MF_DEFAULT_SOCKET ")\n"
	"  --pin-dir DIR      bpffs directory for pinned maps and links\n"
	"                     (default: " MF_DEFAULT_PIN_DIR "); one agent per directory\n"
	"  --state-dir DIR    root-only (0700) directory for state kept across restarts\n"
	"                     (default: $MCPFENCE_STATE_DIR, else " MF_DEFAULT_STATE_DIR ")\n"
	"  --audit-log FILE   append every audit record to FILE as a JSON line\n"
	"                     (docs/audit-schema.json); created 0640, never readable by others;\n"
	"                     \"-\": standard output (a container's log)\n"
	"  --audit-group GROUP  the audit log's group (name or gid), which may read it\n"
	"  --audit-log-max-size BYTES  rotate the log before it passes BYTES (suffix K, M\n"
	"                     or G): FILE becomes FILE.1, FILE.1 FILE.2, ... (whole lines)\n"
	"  --audit-log-keep N  rotated files kept (default 5, at most 999)\n"
	"  --audit-syslog     also send every record to the journal, with MCPFENCE_*\n"
	"                     fields, or to syslog (/dev/log) where there is no journal\n"
	"  --scope host|launched  where the socket hooks are. host (default): at the cgroup\n"
	"                     v2 root, on every process's path. launched: at a cgroup of\n"
	"                     governed processes only (--cgroup DIR, else ROOT/mcpfence.governed),\n"
	"                     where each server is moved before it is tagged; other\n"
	"                     processes pay nothing. Refused in this scope: exec matches,\n"
	"                     servers run as root or with capabilities, servers holding\n"
	"                     inherited inet sockets\n"
	"  --cgroup DIR       attach at this cgroup v2 directory instead of the root (with\n"
	"                     --scope launched: the governed cgroup, made if missing)\n"
	"  --detach-on-exit   remove programs, pins and saved state when the agent exits\n"
	"  --tag-capacity N   governed processes the kernel can track (default: pid_max,\n"
	"                     so it cannot fill; a process that cannot be tagged is killed)\n"
	"  --uid-range A-B    uids for isolated servers, one per (identity, server)\n"
	"                     (default: 61000-61999); no user of this host may have one\n"
	"  --tenants-dir DIR  isolated servers' HOME and TMPDIR: DIR/UID/home, DIR/UID/tmp\n"
	"                     (default: " MF_DEFAULT_TENANTS_DIR ")\n"
	"  --uninstall        remove the programs, pins and saved state of --pin-dir, then\n"
	"                     exit (refused while an agent runs on it)\n"
	"  -v, --verbose      say more on stderr\n"
	"  -h, --help         show this help\n"
	"  --version          print the version, the commit and libbpf's version\n"
	"\n"
	"SIGHUP reloads the --policy file and reopens the audit log; SIGUSR1 reopens\n"
	"the audit log only. Under systemd (Type=notify) readiness is sent on\n"
	"$NOTIFY_SOCKET once the control socket listens and the policy is in force.\n";

/* Check the policy file before anything touches the kernel. */
static int check_policy_file(const struct agent *a, const char *path)
{
	struct mf_compiled *compiled;
	struct mf_policy *policy;
	char err[MF_ERR_MAX];
	int ret;

	ret = mf_policy_check_file(path, &policy, &compiled, err, sizeof(err));
	if (!ret)
		ret = scope_check_policy(a, policy, path, err, sizeof(err));
	if (ret)
		fprintf(stderr, "mcpfenced: %s\n", err);
	mf_compiled_free(compiled);
	mf_policy_free(policy);
	return ret;
}

static int load_policy(struct agent *a, const char *text, size_t len, const char *source,
		       const char *trigger)
{
	json_t *warnings = json_array();
	char err[MF_ERR_MAX];
	size_t i;
	json_t *w;
	int ret;

	ret = policy_load_text(a, text, len, source, err, sizeof(err), warnings);
	if (ret)
		fprintf(stderr, "mcpfenced: %s\n", err);
	json_array_foreach(warnings, i, w)
		fprintf(stderr, "mcpfenced: warning: %s\n", json_string_value(w));
	policy_load_report(a, trigger, source, ret, err, NULL);
	json_decref(warnings);
	return ret;
}

/* --policy at start and on SIGHUP: a FIFO or device is refused, not waited on. */
static int load_policy_file(struct agent *a, const char *path, const char *trigger)
{
	char err[MF_ERR_MAX];
	size_t len;
	char *text;
	int ret;

	ret = mf_read_regular(path, MF_POLICY_FILE_MAX, &text, &len, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "mcpfenced: %s\n", err);
		policy_load_report(a, trigger, path, ret, err, NULL);
		return ret;
	}
	ret = load_policy(a, text, len, path, trigger);
	free(text);
	return ret;
}

/* At start without --policy: keep what is active (its text is saved in the
 * state directory), or load the embedded default when nothing is. */
static int load_initial_policy(struct agent *a)
{
	char saved[PATH_MAX + NAME_MAX];
	json_t *warnings;
	char err[MF_ERR_MAX];
	size_t len;
	char *text;
	int ret;

	if (a->opt.policy_path)
		return load_policy_file(a, a->opt.policy_path, "start");
	if (a->current.generation && state_load_policy(a, &text, &len) == 0) {
		state_policy_path(a, saved, sizeof(saved));
		ret = load_policy(a, text, len, saved, "start");
		free(text);
		return ret;
	}
	if (a->current.generation) {
		fprintf(stderr,
			"mcpfenced: keeping the active policy (generation %u); its text "
			"is not available\n",
			a->current.generation);
		scan_processes(a);
		return 0;
	}
	warnings = json_array();
	ret = policy_load_text(a, mf_default_policy, strlen(mf_default_policy), "(default)", err,
			       sizeof(err), warnings);
	json_decref(warnings);
	policy_load_report(a, "start", "(default)", ret, err, NULL);
	if (ret)
		fprintf(stderr, "mcpfenced: embedded default policy: %s\n", err);
	return ret;
}

/*
 * Every catchable signal, deliberately. Through the signalfd: SIGTERM and
 * SIGINT stop, SIGHUP reloads the --policy file and reopens the audit log,
 * SIGUSR1 only reopens the log (logrotate's postrotate). Ignored: what a
 * terminal, a timer or a stray kill would otherwise end or stop the agent
 * with (enforcement stays pinned, but tag requests would go unanswered),
 * and SIGXFSZ, so that a log past RLIMIT_FSIZE fails a write (counted)
 * instead of killing. Left at their default: the faults (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS: a core, as for any bug),
 * SIGQUIT (a core on request), SIGCHLD, SIGCONT and SIGWINCH (ignored or
 * harmless by default).
 */
static const int handled_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD };
static const int ignored_signals[] = {
	SIGPIPE,   SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO,	  SIGPWR,
	SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGTSTP,	SIGTTIN, SIGTTOU, SIGURG,
};

static int setup_signals(struct agent *a)
{
	static struct {
		enum watch_kind kind;
	} signal_watch = { WATCH_SIGNAL };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &signal_watch };
	sigset_t mask;

	for (size_t i = 0; i < sizeof(ignored_signals) / sizeof(ignored_signals[0]); i++)
		signal(ignored_signals[i], SIG_IGN);
	/* Real-time signals end a process by default; glibc keeps the first
	 * two for itself (SIGRTMIN is past them). */
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		signal(sig, SIG_IGN);
	sigemptyset(&mask);
	for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
		sigaddset(&mask, handled_signals[i]);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == 0)
		a->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->signal_fd < 0 || epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->signal_fd, &ev)) {
		int err = -errno;

		fprintf(stderr, "mcpfenced: cannot watch signals: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

static void notify_status(struct agent *a, const char *prefix)
{
	notify("%sSTATUS=%s: enforcing policy generation %u from %s%s%s", prefix,
	       a->last_load.ok ? "ready" : "last load failed", a->current.generation,
	       a->current.source ? a->current.source : "(none)", a->last_load.ok ? "" : ": ",
	       a->last_load.ok ? "" : a->last_load.error);
}

/* SIGHUP: reload the --policy file (if any) and reopen the log, between
 * RELOADING=1 and READY=1 for the service manager. */
static void reload(struct agent *a)
{
	notify_reloading();
	audit_reopen(a);
	if (a->opt.policy_path)
		load_policy_file(a, a->opt.policy_path, "sighup");
	else
		audit_emit(a, json_pack("{s:s, s:s, s:s}", "event", "reload", "verdict", "allow",
					"policy", "kept: the agent was started without --policy"));
	notify_status(a, "READY=1\n");
}

static void on_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD: /* isolated servers' exits (launch.c) */
			launch_reap(a);
			break;
		case SIGHUP:
			reload(a);
			break;
		case SIGUSR1:
			audit_reopen(a);
			break;
		default:
			a->stop = true;
			notify("STOPPING=1\nSTATUS=stopping on signal %u", si.ssi_signo);
			break;
		}
	}
}

/* --watch-policy: the file changed (policy_watch.c); loaded as SIGHUP would. */
static void on_policy_change(struct agent *a)
{
	char *text;
	size_t len;

	if (!policy_watch_changed(a, &text, &len))
		return;
	load_policy(a, text, len, a->opt.policy_path, "watch");
	free(text);
}

static int run(struct agent *a)
{
	static struct {
		enum watch_kind kind;
	} ringbuf_watch = { WATCH_RINGBUF };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ringbuf_watch };
	struct epoll_event events[64];

	bool garbage = true;

	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(a->ringbuf), &ev)) {
		int err = -errno;

		fprintf(stderr, "mcpfenced: cannot watch the audit ring buffer: %s\n",
			strerror(-err));
		return err;
	}

	while (!a->stop) {
		/* Unused rulesets are deleted a batch per turn, between events. */
		int n = epoll_wait(a->epoll_fd, events, 64, garbage ? 0 : MF_AUDIT_POLL_MS);

		if (n < 0) {
			int err = -errno;

			if (err == -EINTR)
				continue;
			fprintf(stderr, "mcpfenced: cannot wait for events: %s\n", strerror(-err));
			return err;
		}
		for (int i = 0; i < n && !a->stop; i++) {
			enum watch_kind *kind = events[i].data.ptr;

			switch (*kind) {
			case WATCH_SIGNAL:
				on_signal(a);
				break;
			case WATCH_LISTEN:
				control_accept(a);
				break;
			case WATCH_RINGBUF:
				audit_poll(a);
				break;
			case WATCH_DNS:
				dns_event(a, kind, events[i].events);
				break;
			case WATCH_POLICY:
				on_policy_change(a);
				break;
			case WATCH_CLIENT:
				control_client_event(a, (struct client *)kind, events[i].events);
				/* A client freed here may appear later in events: stop the batch. */
				i = n;
				break;
			}
		}
		/* Records below the kernel's wakeup batch, on the timer or after any
		 * event; this also flushes what requests produced to subscribers. */
		audit_poll(a);
		audit_syslog_tick(a);
		control_reap(a);
		bpf_syscall_tps_tick(a);
		bpf_flows_tick(a);
		dns_tick(a);
		garbage = rulesets_collect(a, MF_COLLECT_BATCH);
	}
	return 0;
}

/* --uid-range A-B: at most MF_UID_RANGE_MAX uids, none of them root's. */
static int parse_uid_range(const char *arg, struct agent_options *o)
{
	unsigned long lo, hi;
	char *end;

	lo = strtoul(arg, &end, 10);
	if (*end == '-') {
		hi = strtoul(end + 1, &end, 10);
		if (!*end && lo >= 1000 && hi >= lo && hi < 4294967295UL &&
		    hi - lo < MF_UID_RANGE_MAX) {
			o->uid_min = lo;
			o->uid_max = hi;
			return 0;
		}
	}
	fprintf(stderr, "mcpfenced: --uid-range takes A-B: 1000 <= A <= B, at most %d uids\n",
		MF_UID_RANGE_MAX);
	return -1;
}

/* The agent's long options (getopt_long). */
enum {
	OPT_POLICY = 256,
	OPT_SOCKET,
	OPT_PIN_DIR,
	OPT_STATE_DIR,
	OPT_AUDIT_LOG,
	OPT_CGROUP,
	OPT_DETACH,
	OPT_UNINSTALL,
	OPT_TAG_CAPACITY,
	OPT_UID_RANGE,
	OPT_TENANTS_DIR,
	OPT_VERSION,
	OPT_AUDIT_SYSLOG,
	OPT_AUDIT_GROUP,
	OPT_AUDIT_MAX_SIZE,
	OPT_AUDIT_KEEP,
	OPT_WATCH_POLICY,
	OPT_SCOPE
};
static const struct option longopts[] = {
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "audit-log", required_argument, NULL, OPT_AUDIT_LOG },
	{ "audit-syslog", no_argument, NULL, OPT_AUDIT_SYSLOG },
	{ "audit-group", required_argument, NULL, OPT_AUDIT_GROUP },
	{ "audit-log-max-size", required_argument, NULL, OPT_AUDIT_MAX_SIZE },
	{ "audit-log-keep", required_argument, NULL, OPT_AUDIT_KEEP },
	{ "watch-policy", no_argument, NULL, OPT_WATCH_POLICY },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "scope", required_argument, NULL, OPT_SCOPE },
	{ "detach-on-exit", no_argument, NULL, OPT_DETACH },
	{ "uninstall", no_argument, NULL, OPT_UNINSTALL },
	{ "tag-capacity", required_argument, NULL, OPT_TAG_CAPACITY },
	{ "uid-range", required_argument, NULL, OPT_UID_RANGE },
	{ "tenants-dir", required_argument, NULL, OPT_TENANTS_DIR },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{},
};

/* --audit-group (0), --audit-log-max-size (1), --audit-log-keep (2). */
static int parse_audit_option(struct agent_options *o, int which, const char *arg)
{
	static const char *const names[] = { "--audit-group", "--audit-log-max-size",
					     "--audit-log-keep" };
	bool number;
	unsigned long long n;
	struct group *gr;
	char *end;
	int shift;

	errno = 0;
	n = strtoull(arg, &end, 10);
	number = end != arg && !errno && arg[0] != '-';
	if (which == 0) {
		/* A name, else a gid (as chgrp takes them). */
		gr = getgrnam(arg);
		if (!gr && (!number || *end || n >= (gid_t)-1)) {
			fprintf(stderr, "mcpfenced: --audit-group: no group '%s'\n", arg);
			return -1;
		}
		o->audit_gid = gr ? gr->gr_gid : (gid_t)n;
		o->audit_group = true;
		return 0;
	}
	if (which == 1 && number) {
		shift = !*end		  ? 0 :
			!strcmp(end, "K") ? 10 :
			!strcmp(end, "M") ? 20 :
			!strcmp(end, "G") ? 30 :
					    -1;
		if (shift >= 0 && n >= 1 && n <= (1ULL << 50) >> shift) {
			o->audit_max_size = n << shift;
			return 0;
		}
	}
	if (which == 2 && number && !*end && n >= 1 && n <= MF_LOG_KEEP_MAX) {
		o->audit_keep = n;
		return 0;
	}
	fprintf(stderr, "mcpfenced: %s takes %s, not '%s'\n", names[which],
		which == 1 ? "a size in bytes (suffix K, M or G)" : "1..999", arg);
	return -1;
}

/* Options into a->opt; returns -1 to go on, else the exit code. */
static int parse_options(struct agent *a, int argc, char **argv, bool *uninstall_only)
{
	const char *env_state = getenv("MCPFENCE_STATE_DIR");
	int opt;

	a->opt.pin_dir = MF_DEFAULT_PIN_DIR;
	a->opt.tenants_dir = MF_DEFAULT_TENANTS_DIR;
	a->opt.uid_min = MF_DEFAULT_UID_MIN;
	a->opt.uid_max = MF_DEFAULT_UID_MAX;
	a->opt.state_dir = env_state && *env_state ? env_state : MF_DEFAULT_STATE_DIR;
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_POLICY:
			a->opt.policy_path = optarg;
			break;
		case OPT_SOCKET:
			a->opt.socket_path = optarg;
			break;
		case OPT_PIN_DIR:
			a->opt.pin_dir = optarg;
			break;
		case OPT_STATE_DIR:
			a->opt.state_dir = optarg;
			break;
		case OPT_AUDIT_LOG:
			a->opt.audit_log = optarg;
			break;
		case OPT_AUDIT_SYSLOG:
			a->opt.audit_syslog = true;
			break;
		case OPT_WATCH_POLICY:
			a->opt.watch_policy = true;
			break;
		case OPT_AUDIT_GROUP:
		case OPT_AUDIT_MAX_SIZE:
		case OPT_AUDIT_KEEP:
			if (parse_audit_option(&a->opt, opt - OPT_AUDIT_GROUP, optarg))
				return 2;
			break;
		case OPT_CGROUP:
			a->opt.cgroup_path = optarg;
			break;
		case OPT_SCOPE:
			if (strcmp(optarg, "host") && strcmp(optarg, "launched")) {
				fprintf(stderr,
					"mcpfenced: --scope takes host or launched, not '%s'\n",
					optarg);
				return 2;
			}
			a->opt.scope_launched = !strcmp(optarg, "launched");
			break;
		case OPT_DETACH:
			a->opt.detach_on_exit = true;
			break;
		case OPT_UNINSTALL:
			*uninstall_only = true;
			break;
		case OPT_TAG_CAPACITY: {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || n < 1 || n > 4194304) {
				fprintf(stderr, "mcpfenced: --tag-capacity takes 1..4194304\n");
				return 2;
			}
			a->opt.tag_capacity = n;
			break;
		}
		case OPT_UID_RANGE:
			if (parse_uid_range(optarg, &a->opt))
				return 2;
			break;
		case OPT_TENANTS_DIR:
			if (optarg[0] != '/') {
				fprintf(stderr,
					"mcpfenced: --tenants-dir takes an absolute path\n");
				return 2;
			}
			a->opt.tenants_dir = optarg;
			break;
		case 'v':
			a->opt.verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case OPT_VERSION:
			mf_print_version(stdout, "mcpfenced");
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcpfenced: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	if (!a->opt.audit_log &&
	    (a->opt.audit_group || a->opt.audit_max_size || a->opt.audit_keep)) {
		fprintf(stderr, "mcpfenced: --audit-group and --audit-log-* need --audit-log\n");
		return 2;
	}
	if (!a->opt.audit_keep)
		a->opt.audit_keep = MF_LOG_KEEP_DEFAULT;
	if (a->opt.watch_policy && !a->opt.policy_path) {
		fprintf(stderr, "mcpfenced: --watch-policy needs --policy\n");
		return 2;
	}
	if (a->opt.audit_max_size && a->opt.audit_log && !strcmp(a->opt.audit_log, "-")) {
		fprintf(stderr, "mcpfenced: --audit-log - (stdout) is not rotated\n");
		return 2;
	}
	a->opt.socket_path = mf_socket_path(a->opt.socket_path);
	return -1;
}

/* Remove the pins and the saved state of a pin directory; refused while an
 * agent runs on it. */
static int uninstall(struct agent *a)
{
	char why[PATH_MAX + 128];
	pid_t holder;
	int ret = 0, err;

	if (access(a->opt.pin_dir, F_OK) == 0) {
		a->pin_lock_fd = mf_pin_dir_lock(a->opt.pin_dir, &holder, why, sizeof(why));
		if (a->pin_lock_fd < 0) {
			fprintf(stderr, "mcpfenced: %s\n", why);
			return 1;
		}
	}
	if (state_open(a, false) == 0)
		state_remove(a);
	else
		ret = 1;
	if (a->pin_lock_fd >= 0) {
		err = mf_unpin_dir(a->opt.pin_dir);
		if (err) {
			fprintf(stderr, "mcpfenced: cannot remove %s: %s\n", a->opt.pin_dir,
				strerror(-err));
			ret = 1;
		}
		close(a->pin_lock_fd);
	}
	scope_uninstall(a);
	state_close(a);
	return ret;
}

/* Everything that could refuse the start comes before the first BPF object
 * is touched (*touched): a refused start changes nothing and removes nothing,
 * not even with --detach-on-exit. */
/* What the control socket calls above it (ops.c). */
static const struct control_hooks control_hooks = { .request = ops_handle,
						    .gone = ops_client_gone };

static int start(struct agent *a, bool *touched)
{
	int err = bpf_claim_pin_dir(a);

	if (!err)
		err = scope_setup(a);
	if (!err)
		err = state_open(a, true);
	if (!err)
		err = control_check_dir(a);
	if (!err) {
		a->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
		if (a->epoll_fd < 0) {
			err = -errno;
			fprintf(stderr, "mcpfenced: cannot create an epoll instance: %s\n",
				strerror(-err));
		}
	}
	if (!err)
		err = setup_signals(a);
	if (err)
		return err;
	*touched = true;
	err = bpf_setup(a);
	if (!err)
		err = names_load(a);
	if (!err)
		err = policy_restore(a);
	if (!err)
		err = audit_setup(a);
	if (!err)
		err = policy_watch_setup(a);
	if (!err)
		err = load_initial_policy(a);
	if (!err)
		err = control_setup(a, &control_hooks);
	if (!err)
		err = dns_setup(a);
	return err;
}

/* Pins and state go only with the lock held: never another agent's. */
static void detach(struct agent *a)
{
	int err;

	if (a->pin_lock_fd < 0)
		return;
	state_remove(a);
	err = mf_unpin_dir(a->opt.pin_dir);
	if (err)
		fprintf(stderr, "mcpfenced: cannot remove %s: %s\n", a->opt.pin_dir,
			strerror(-err));
	else if (a->opt.verbose)
		fprintf(stderr, "mcpfenced: detached, %s removed\n", a->opt.pin_dir);
}

int main(int argc, char **argv)
{
	struct agent a = {
		.cgroup_fd = -1,
		.epoll_fd = -1,
		.signal_fd = -1,
		.listen_fd = -1,
		.pin_lock_fd = -1,
		.state_fd = -1,
		.syslog.fd = -1,
		.watch_fd = -1,
	};
	bool uninstall_only = false, touched = false, started = false, detaching;
	int err;

	err = parse_options(&a, argc, argv, &uninstall_only);
	if (err >= 0)
		return err;
	if (uninstall_only)
		return uninstall(&a);
	if (caps_check() || pidns_check())
		return 1;
	if (a.opt.policy_path && check_policy_file(&a, a.opt.policy_path))
		return 1;

	err = start(&a, &touched);
	started = !err;
	if (!err) {
		fprintf(stderr, "mcpfenced: enforcing (policy generation %u), control socket %s\n",
			a.current.generation, a.opt.socket_path);
		/* The socket listens and the policy is in force: launches may start. */
		notify_status(&a, "READY=1\n");
		err = run(&a);
	}

	launch_stop_all(&a);
	control_teardown(&a);
	tenants_free(&a);
	dns_teardown(&a);
	if (a.skel)
		audit_teardown(&a);
	bpf_teardown(&a);
	/* A start that failed over pins it did not make (an agent that crashed,
	 * restarted by its supervisor) leaves them: they enforce the last
	 * policy until a start succeeds. */
	detaching = touched && (a.opt.detach_on_exit || a.uninstall_requested);
	if (detaching && !started && !a.pin_dir_created) {
		fprintf(stderr,
			"mcpfenced: the start failed: %s stays pinned (enforcing as it was), not "
			"detached\n",
			a.opt.pin_dir);
		detaching = false;
	}
	if (detaching)
		detach(&a);
	scope_teardown(&a, touched, detaching);
	policy_free_all(&a);
	names_free(&a);
	state_close(&a);
	/* Refused before any BPF object was touched: as it was, without the
	 * directory this start made (empty; rmdir refuses anything else). Only
	 * with the lock held: another agent may have taken it meanwhile. */
	if (!touched && a.pin_dir_created && a.pin_lock_fd >= 0)
		rmdir(a.opt.pin_dir);
	if (a.pin_lock_fd >= 0)
		close(a.pin_lock_fd);
	policy_watch_teardown(&a);
	if (a.signal_fd >= 0)
		close(a.signal_fd);
	if (a.epoll_fd >= 0)
		close(a.epoll_fd);
	return err ? 1 : 0;
}
