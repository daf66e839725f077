// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mcpfence run: tag this process (or have the agent launch the server) and
 * exec the server, hardened. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cmdline.h"
#include "file.h"
#include "harden.h"
#include "policy.h"
#include "proto.h"
#include "session.h"
#include "verbs.h"

const char run_text[] =
	"Ask the agent to tag this process with ID and NAME, then exec CMD. The tag\n"
	"passes to every process CMD starts; the kernel judges each of their outbound\n"
	"connections by the policy for ID on NAME. stdin, stdout and stderr pass\n"
	"through untouched, so this fits an MCP host's \"command\"/\"args\".\n"
	"\n"
	"Refuses to start CMD when the agent is not reachable or refuses the tag (an\n"
	"identity you may not assert, an unknown server, or a process that is governed\n"
	"already). MCPFENCE_IDENTITY and MCPFENCE_SERVER are set for CMD, for\n"
	"information only: the kernel's tag is the authority. Root and policy launchers\n"
	"may assert any identity; other users only their own user name.\n"
	"\n"
	"A server the policy isolates (\"isolate\": true) is started by the agent instead:\n"
	"run passes it CMD, LANG, LANGUAGE, LC_*, TZ, TERM and NO_COLOR, and its stdin,\n"
	"stdout and stderr; the agent runs CMD under a uid of its own per identity and\n"
	"server, with its own HOME and TMPDIR, the hardening below, a Landlock filesystem\n"
	"scope and its credentials. run stays, forwards SIGINT, SIGTERM and SIGHUP, and\n"
	"exits with CMD's status (128 + N when signal N ended it); the flags below do\n"
	"not apply. If run goes away, CMD is killed. See policy/README.md.\n"
	"\n"
	"Hardening, after the tag and before exec (CMD and its descendants inherit it,\n"
	"none can undo it): no_new_privs; a seccomp filter that refuses ptrace,\n"
	"process_vm_readv/writev, pidfd_getfd, bpf, perf_event_open, setns and new user\n"
	"namespaces (EPERM; clone3 gets ENOSYS so libc falls back to clone), the\n"
	"terminal ioctls TIOCSTI and TIOCLINUX (EPERM), sockets of families other than\n"
	"Unix, IPv4, IPv6 and netlink (EAFNOSUPPORT), and io_uring_setup, _enter and\n"
	"_register (EPERM) unless the policy gives the server \"io_uring\": true; a\n"
	"Landlock domain that refuses signals to, and abstract Unix socket connections\n"
	"to, processes outside it. If it cannot be applied, CMD is not started.\n"
	"\n"
	"Without --allow-root, run refuses root (any of uid, euid, suid 0); with it,\n"
	"CMD runs as root without any capability: bounding, ambient and inheritable\n"
	"sets are emptied before exec (audited). --no-harden is for debugging: it skips\n"
	"the hardening, the capability drop included (audited); while such a server\n"
	"runs, the agent refuses its socket families with a syscall tracepoint, which\n"
	"slows every syscall on the host.\n";

#define TICKET_MAX 128

/* A ticket from a descriptor (closed after) or the environment (unset after),
 * so that the server does not inherit it. */
static int read_ticket(int fd, const char *env, char ticket[TICKET_MAX])
{
	size_t len = 0;

	if (env) {
		const char *v = getenv(env);

		if (!v || !*v) {
			fprintf(stderr, "mcpfence: --ticket-env: %s is not set\n", env);
			return -1;
		}
		snprintf(ticket, TICKET_MAX, "%s", v);
		unsetenv(env);
	} else {
		while (len < TICKET_MAX - 1) {
			ssize_t n = read(fd, ticket + len, TICKET_MAX - 1 - len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				fprintf(stderr, "mcpfence: --ticket-fd %d: %s\n", fd,
					strerror(errno));
				return -1;
			}
			if (n == 0)
				break;
			len += n;
		}
		ticket[len] = '\0';
		close(fd);
	}
	ticket[strcspn(ticket, "\r\n")] = '\0';
	if (!ticket[0]) {
		fprintf(stderr, "mcpfence: the ticket is empty\n");
		return -1;
	}
	return 0;
}

/* Root in any of uid, euid, suid: a setresuid away from euid 0. */
static bool running_as_root(void)
{
	uid_t r, e, s;

	return getresuid(&r, &e, &s) || r == 0 || e == 0 || s == 0;
}

/* After the tag, before exec: capabilities, then the hardening. */
static int run_harden(struct mf_harden *h, bool harden, bool root, const char *cmd)
{
	char err[256];
	int r = 0;

	if (harden && root) {
		r = mf_harden_drop_caps(err, sizeof(err));
		if (!r)
			fprintf(stderr,
				"mcpfence: --allow-root: %s runs as root with no capabilities\n",
				cmd);
	}
	if (harden && !r)
		r = mf_harden_apply(h, err, sizeof(err));
	mf_harden_free(h);
	if (r)
		fprintf(stderr,
			"mcpfence: %s; refusing to start %s (--no-harden skips hardening)\n", err,
			cmd);
	return r;
}

/* run_tag and run_launch: the server is (not) isolated, so the other applies. */
#define RUN_ISOLATED 200
#define RUN_NOT_ISOLATED 201

/* The launcher's variables an isolated server gets (the agent filters
 * again): locale and terminal, nothing that changes what runs. */
static json_t *launch_env(void)
{
	static const char *const names[] = { "LANG", "LANGUAGE", "TZ", "TERM", "NO_COLOR", NULL };
	extern char **environ;
	json_t *env = json_object();

	for (char **e = environ; env && *e; e++) {
		const char *eq = strchr(*e, '=');
		bool pass = eq && !strncmp(*e, "LC_", 3);
		char name[64];

		if (!eq || (size_t)(eq - *e) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
		for (size_t i = 0; !pass && names[i]; i++)
			pass = !strcmp(name, names[i]);
		if (pass)
			json_object_set_new(env, name, json_string(eq + 1));
	}
	return env;
}

/* Who a tag or launch request names: identity and server, or a ticket. */
static void request_who(json_t *req, const char *identity, const char *server, const char *ticket)
{
	if (req && identity)
		json_object_set_new(req, "identity", json_string(identity));
	if (req && server)
		json_object_set_new(req, "server", json_string(server));
	if (req && ticket[0])
		json_object_set_new(req, "ticket", json_string(ticket));
}

/* The launch request: who, what, and the environment that passes. */
static json_t *launch_request(const char *identity, const char *server, const char *ticket,
			      char **cmd)
{
	json_t *req = json_pack("{s:s, s:[], s:o}", "op", "launch", "argv", "env", launch_env());

	for (char **a = cmd; req && *a; a++)
		json_array_append_new(json_object_get(req, "argv"), json_string(*a));
	request_who(req, identity, server, ticket);
	return req;
}

/* The server's exit as run's: its status, or 128 + the signal that ended it. */
static int launch_exit_code(const json_t *ev, const char *cmd)
{
	const char *error = json_string_value(json_object_get(ev, "error"));
	json_t *sig = json_object_get(ev, "signal");

	if (error)
		fprintf(stderr, "mcpfence: %s: %s\n", cmd, error);
	if (sig)
		return 128 + (int)json_integer_value(sig);
	return (int)json_integer_value(json_object_get(ev, "status"));
}

/* Until the server exits: forward SIGINT, SIGTERM and SIGHUP to it, then
 * return its exit code. */
static int launch_wait(struct session *s, const sigset_t *mask, const char *cmd)
{
	struct pollfd pfd[2] = { { .fd = s->fd, .events = POLLIN }, { .events = POLLIN } };
	struct signalfd_siginfo si;
	char err[256], *line;
	size_t len;
	json_t *msg;
	int r;

	pfd[1].fd = signalfd(-1, mask, SFD_CLOEXEC);
	for (;;) {
		while ((r = mf_linebuf_next(&s->lb, &line, &len)) > 0) {
			msg = mf_json_parse_object(line, len, err, sizeof(err));
			if (msg && !strcmp(json_string_value(json_object_get(msg, "event")) ?: "",
					   "exit")) {
				r = launch_exit_code(msg, cmd);
				json_decref(msg);
				return r;
			}
			json_decref(msg); /* a signal's acknowledgement */
		}
		if (poll(pfd, pfd[1].fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN && read(pfd[1].fd, &si, sizeof(si)) == sizeof(si)) {
			char req[64];
			int n = snprintf(req, sizeof(req), "{\"op\":\"signal\",\"signal\":%u}\n",
					 si.ssi_signo);

			if (mf_write_all(s->fd, req, n))
				break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP) && mf_linebuf_fill(&s->lb, s->fd) <= 0)
			break;
	}
	fprintf(stderr, "mcpfence: lost the agent while %s ran: its exit status is unknown\n", cmd);
	return 1;
}

/*
 * Hand cmd to the agent: it starts the isolated server with this process's
 * stdin, stdout and stderr, as a uid of its own. Stays until the server
 * exits, and exits as it did. RUN_NOT_ISOLATED when the server is not.
 */
static int run_launch(const char *identity, const char *server, const char *ticket, char **cmd)
{
	const int stdio[3] = { 0, 1, 2 };
	json_t *req = launch_request(identity, server, ticket, cmd), *reply = NULL;
	struct session s;
	sigset_t mask;
	int err, rc, null, code;

	/* From now on a signal waits to be forwarded: the server may run
	 * before the reply arrives. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN); /* an agent gone is said, not died of */
	if (session_open(&s)) {
		json_decref(req);
		fprintf(stderr, "mcpfence: refusing to start %s ungoverned\n", cmd[0]);
		return 1;
	}
	err = req ? mf_client_call_fds(s.fd, &s.lb, req, stdio, 3, &reply) : -ENOMEM;
	json_decref(req);
	if (err || !json_is_true(json_object_get(reply, "ok"))) {
		const char *msg = json_string_value(json_object_get(reply, "error"));

		code = mf_errcode_of(json_string_value(json_object_get(reply, "code")));
		rc = code == MF_E_NOT_ISOLATED ? RUN_NOT_ISOLATED : 1;
		if (rc == 1)
			fprintf(stderr, "mcpfence: refusing to start %s: %s\n", cmd[0],
				err ? strerror(-err) :
				msg ? msg :
				      "the agent refused");
		json_decref(reply);
		session_close(&s);
		return rc;
	}
	json_decref(reply);
	/* The server has them now: end of file reaches it, not this process. */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	rc = launch_wait(&s, &mask, cmd[0]);
	session_close(&s);
	return rc;
}

/*
 * --scope launched: the agent moved this process into the governed cgroup,
 * where the hooks are; a socket made before (inherited) belongs to the
 * cgroup it was made in, and none of its connects or sends would be judged.
 * Such a descriptor refuses the start: 1, said on stderr.
 */
static int run_unjudged_sockets(const char *cmd)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char why[256];
	int rc = 0, fd;

	if (!d) {
		fprintf(stderr, "mcpfence: cannot list descriptors: %s; refusing to start %s\n",
			strerror(errno), cmd);
		return 1;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd == dirfd(d) || !mf_fd_unjudged_socket(fd, why, sizeof(why)))
			continue;
		fprintf(stderr,
			"mcpfence: descriptor %d is %s, made outside the governed cgroup: its "
			"traffic would not be judged (the agent runs with --scope launched); "
			"refusing to start %s\n",
			fd, why, cmd);
		rc = 1;
	}
	closedir(d);
	return rc;
}

/* Ask the agent to tag this process; says what will be applied, learns what
 * the policy allows the server. Frees h on failure. */
static int run_tag(const char *identity, const char *server, const char *ticket, bool harden,
		   bool root, struct mf_harden *h, const char *cmd)
{
	json_t *req, *reply;
	struct session s;
	bool launched;
	int isolate;

	if (session_open(&s)) {
		fprintf(stderr, "mcpfence: refusing to start %s ungoverned\n", cmd);
		mf_harden_free(h);
		return 1;
	}
	req = json_pack("{s:s, s:b}", "op", "tag", "harden", harden);
	request_who(req, identity, server, ticket);
	if (req && harden)
		json_object_set_new(req, "landlock", json_boolean(mf_harden_has_landlock(h)));
	if (req && root)
		json_object_set_new(req, "allow_root", json_true());
	reply = session_call_isolate(&s, req, &isolate);
	session_close(&s);
	if (isolate == 1) {
		mf_harden_free(h);
		return RUN_ISOLATED;
	}
	if (!reply) {
		fprintf(stderr, "mcpfence: refusing to start %s\n", cmd);
		mf_harden_free(h);
		return 1;
	}
	/* The agent names what it tagged (a ticket's identity and server); for
	 * information only, the kernel's tag is the authority. */
	setenv("MCPFENCE_IDENTITY", json_string_value(json_object_get(reply, "identity")) ?: "", 1);
	setenv("MCPFENCE_SERVER", json_string_value(json_object_get(reply, "server")) ?: "", 1);
	h->io_uring = json_is_true(json_object_get(reply, "io_uring"));
	launched = !strcmp(json_string_value(json_object_get(reply, "scope")) ?: "", "launched");
	json_decref(reply);
	if (launched && run_unjudged_sockets(cmd)) {
		mf_harden_free(h);
		return 1;
	}
	return 0;
}

/* Tag this process and exec cmd, hardened; or hand it to the agent when the
 * server is isolated. */
static int run_local(const char *identity, const char *server, const char *ticket, bool harden,
		     bool require_landlock, bool root, char **cmd)
{
	struct mf_harden h = { .ruleset_fd = -1 };
	char err[256];
	int rc;

	/* Everything that can fail before the tag does; the tag request says
	 * what will be applied, so the audit record tells. */
	if (harden && mf_harden_prepare(&h, err, sizeof(err))) {
		fprintf(stderr,
			"mcpfence: %s; refusing to start %s (--no-harden skips hardening)\n", err,
			cmd[0]);
		return 1;
	}
	if (!harden)
		fprintf(stderr,
			"mcpfence: warning: --no-harden: %s runs without launcher hardening%s\n",
			cmd[0], root ? ", as root with all its capabilities" : "");
	if (harden && !mf_harden_has_landlock(&h)) {
		fprintf(stderr,
			"mcpfence: %s: the kernel's Landlock ABI is %d, scopes need %d: %s may "
			"signal and reach abstract Unix sockets of ungoverned processes\n",
			require_landlock ? "error" : "warning", h.landlock_abi,
			MF_LANDLOCK_ABI_SCOPES, cmd[0]);
		if (require_landlock) {
			fprintf(stderr, "mcpfence: refusing to start %s (--require-landlock)\n",
				cmd[0]);
			return 1;
		}
	}
	rc = run_tag(identity, server, ticket, harden, root, &h, cmd[0]);
	if (rc == RUN_ISOLATED)
		return run_launch(identity, server, ticket, cmd);
	if (rc)
		return 1;
	if (run_harden(&h, harden, root, cmd[0]))
		return 1;
	execvp(cmd[0], cmd);
	fprintf(stderr, "mcpfence: cannot run %s: %s\n", cmd[0], strerror(errno));
	return 127;
}

/* What cmd_run was given, checked, and the ticket read: -1 to go on, else
 * the exit status. */
static int run_check_args(const struct cli_verb *v, const char *identity, const char *server,
			  int ticket_fd, const char *ticket_env, char ticket[TICKET_MAX],
			  bool harden, bool require_landlock, bool has_cmd)
{
	if (ticket_fd >= 0 && ticket_env) {
		fprintf(stderr, "mcpfence: give one of --ticket-fd and --ticket-env\n");
		return 2;
	}
	if (ticket_fd >= 0 || ticket_env) {
		if (read_ticket(ticket_fd, ticket_env, ticket))
			return 1;
	} else if (!identity || !server) {
		fprintf(stderr, "mcpfence: run needs --identity and --server, or a ticket\n");
		return cli_verb_help(v, true);
	}
	if (!has_cmd) {
		fprintf(stderr, "mcpfence: run needs a command\n");
		return cli_verb_help(v, true);
	}
	if ((identity && !mf_name_valid(identity)) || (server && !mf_name_valid(server))) {
		fprintf(stderr,
			"mcpfence: invalid %s '%s': use 1-127 of A-Z a-z 0-9 . _ @ + -, "
			"not only dots\n",
			identity && !mf_name_valid(identity) ? "identity" : "server",
			identity && !mf_name_valid(identity) ? identity : server);
		return 2;
	}
	if (!harden && require_landlock) {
		fprintf(stderr, "mcpfence: --no-harden and --require-landlock contradict\n");
		return 2;
	}
	return -1;
}

int cmd_run(const struct cli_verb *v, int argc, char **argv)
{
	const char *identity = NULL, *server = NULL, *ticket_env = NULL;
	char ticket[TICKET_MAX] = "";
	int ticket_fd = -1;
	bool harden = true, require_landlock = false, allow_root = false, root;
	int opt, rc;

	optind = 1;
	while ((opt = cli_getopt(v, argc, argv)) != -1) {
		switch (opt) {
		case 'i':
			identity = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 'N':
			harden = false;
			break;
		case 'L':
			require_landlock = true;
			break;
		case 'R':
			allow_root = true;
			break;
		case 'T': {
			char *end;

			ticket_fd = (int)strtol(optarg, &end, 10);
			if (*end || ticket_fd < 0) {
				fprintf(stderr,
					"mcpfence: --ticket-fd takes a file descriptor number\n");
				return 2;
			}
			break;
		}
		case 'E':
			ticket_env = optarg;
			break;
		default:
			return cli_verb_help(v, opt != 'h');
		}
	}
	rc = run_check_args(v, identity, server, ticket_fd, ticket_env, ticket, harden,
			    require_landlock, optind < argc);
	if (rc >= 0)
		return rc;
	root = running_as_root();
	if (root && !allow_root) {
		/* An isolated server never runs as root: the agent may launch it. */
		rc = run_launch(identity, server, ticket, argv + optind);
		if (rc != RUN_NOT_ISOLATED)
			return rc;
		fprintf(stderr,
			"mcpfence: refusing to start %s as root: a root server can undo what "
			"fences it. Run it as an ordinary user (e.g. `runuser -u USER -- mcpfence "
			"run ...`), or pass --allow-root to run it as root without capabilities\n",
			argv[optind]);
		return 1;
	}
	return run_local(identity, server, ticket, harden, require_landlock, root, argv + optind);
}

const struct cli_opt run_opts[] = {
	CLI_VALUE("identity", 'i', "ID", "the user the server works for"),
	CLI_VALUE("server", 's', "NAME", "a server declared in the policy"),
	CLI_VALUE("ticket-fd", 'T', "N",
		  "read a one-time ticket (from `mcpfence ticket`) from descriptor N and close "
		  "it; the tag is the ticket's identity and server"),
	CLI_VALUE("ticket-env", 'E', "VAR", "the same, from variable VAR (removed before exec)"),
	CLI_FLAG("require-landlock", 'L',
		 "refuse to start CMD when the kernel lacks Landlock scopes (ABI 6, Linux 6.12) "
		 "instead of warning"),
	CLI_FLAG("allow-root", 'R', "start CMD even as root, without any capability"),
	CLI_FLAG("no-harden", 'N', "for debugging: skip the hardening (audited)"),
	{},
};
