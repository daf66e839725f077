// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mcpfence: the control CLI. Every verb but `policy check` talks to the
 * agent over its control socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "audit_file.h"
#include "cmdline.h"
#include "explain.h"
#include "harden.h"
#include "ocsf.h"
#include "pins.h"
#include "file.h"
#include "policy.h"
#include "proto.h"
#include "version.h"

static const char *socket_opt;

static const struct cli_verb global, verbs[];

/* ---- talking to the agent ---- */

struct session {
	int fd;
	struct mf_linebuf lb;
};

static int session_open(struct session *s)
{
	const char *path = mf_socket_path(socket_opt);

	s->fd = mf_client_connect(path);
	if (s->fd < 0) {
		fprintf(stderr,
			"mcpfence: cannot reach the agent at %s: %s (is mcpfenced running?)\n",
			path, strerror(-s->fd));
		return -1;
	}
	mf_linebuf_init(&s->lb, MF_LINE_MAX_ROOT);
	return 0;
}

static void session_close(struct session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	mf_linebuf_free(&s->lb);
}

/* Send req (consumed) and return the reply when ok, else print the error.
 * With isolate: a refusal that says whether the server is isolated (a tag
 * of an isolated server, a launch of another) is not printed, and sets
 * *isolate (else -1). */
static json_t *session_call_isolate(struct session *s, json_t *req, int *isolate)
{
	json_t *reply = NULL;
	int err = mf_client_call(s->fd, &s->lb, req, &reply), code;
	const char *msg;

	json_decref(req);
	if (isolate)
		*isolate = -1;
	if (err) {
		fprintf(stderr, "mcpfence: no answer from the agent: %s\n", strerror(-err));
		return NULL;
	}
	if (json_is_true(json_object_get(reply, "ok")))
		return reply;
	code = mf_errcode_of(json_string_value(json_object_get(reply, "code")));
	if (isolate && (code == MF_E_ISOLATED || code == MF_E_NOT_ISOLATED)) {
		*isolate = code == MF_E_ISOLATED;
	} else {
		msg = json_string_value(json_object_get(reply, "error"));
		fprintf(stderr, "mcpfence: %s\n", msg ? msg : "the agent refused without a reason");
	}
	json_decref(reply);
	return NULL;
}

static json_t *session_call(struct session *s, json_t *req)
{
	return session_call_isolate(s, req, NULL);
}

/* One request, one reply, for the simple verbs. */
static json_t *call_once(json_t *req)
{
	struct session s;
	json_t *reply;

	if (session_open(&s)) {
		json_decref(req);
		return NULL;
	}
	reply = session_call(&s, req);
	session_close(&s);
	return reply;
}

static void print_json(const json_t *obj)
{
	char *line = mf_json_line(obj, NULL);

	if (line)
		fputs(line, stdout);
	free(line);
}

/* v's help: asked for (stdout, exit 0) or after a usage error (stderr, 2). */
static int verb_help(const struct cli_verb *v, bool error)
{
	char path[64];

	snprintf(path, sizeof(path), "%s", v->name);
	for (const struct cli_verb *p = verbs; p->name; p++) {
		for (const struct cli_verb *s = p->subs; s && s->name; s++) {
			if (s == v)
				snprintf(path, sizeof(path), "%s %s", p->name, s->name);
		}
	}
	cli_print_help(error ? stderr : stdout, path, v);
	return error ? 2 : 0;
}

/* The options of a verb that has only --help and nargs operands: -1 to go
 * on (the operands at argv[optind]), else the exit status. */
static int only_operands(const struct cli_verb *v, int argc, char **argv, int nargs)
{
	int opt;

	optind = 1;
	while ((opt = cli_getopt(v, argc, argv)) != -1)
		return verb_help(v, opt != 'h');
	if (argc - optind != nargs)
		return verb_help(v, true);
	return -1;
}

/* ---- policy ---- */

static int cmd_policy_check(const struct cli_verb *v, int argc, char **argv)
{
	int rc = only_operands(v, argc, argv, 1);
	const char *path = argv[optind];
	struct mf_compiled *compiled;
	struct mf_policy *policy;
	char err[MF_ERR_MAX];
	size_t entries = 0;

	if (rc >= 0)
		return rc;

	if (mf_policy_check_file(path, &policy, &compiled, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (size_t i = 0; i < compiled->nrulesets; i++)
		entries += compiled->rulesets[i].nentries;
	printf("%s: ok: %zu servers, %zu rules, %zu rulesets, %zu kernel entries\n", path,
	       policy->nservers, policy->nrules, compiled->nrulesets, entries);
	mf_compiled_free(compiled);
	mf_policy_free(policy);
	return 0;
}

static int cmd_policy_load(const struct cli_verb *v, int argc, char **argv)
{
	int rc = only_operands(v, argc, argv, 1);
	char abs[PATH_MAX], err[MF_ERR_MAX], *text = NULL;
	const char *path = argv[optind];
	json_t *reply, *w;
	size_t len, i;

	if (rc >= 0)
		return rc;

	/* Root's agent reads the file itself: a large policy is not encoded as
	 * a JSON string and decoded again. Others send the text (and are
	 * refused: only root loads policy). */
	if (geteuid() == 0 && realpath(path, abs)) {
		reply = call_once(json_pack("{s:s, s:s, s:s}", "op", "policy_load", "path", abs,
					    "source", path));
	} else {
		if (mf_read_regular(path, MF_POLICY_FILE_MAX, &text, &len, err, sizeof(err))) {
			fprintf(stderr, "mcpfence: %s\n", err);
			return 1;
		}
		reply = call_once(json_pack("{s:s, s:s%, s:s}", "op", "policy_load", "text", text,
					    len, "source", path));
		free(text);
	}
	if (!reply)
		return 1;
	json_array_foreach(json_object_get(reply, "warnings"), i, w)
		fprintf(stderr, "mcpfence: warning: %s\n", json_string_value(w));
	printf("policy loaded from %s (generation %lld)\n", path,
	       (long long)json_integer_value(json_object_get(reply, "generation")));
	json_decref(reply);
	return 0;
}

static int cmd_policy_show(const struct cli_verb *v, int argc, char **argv)
{
	int rc = only_operands(v, argc, argv, 0);
	json_t *reply;

	if (rc >= 0)
		return rc;
	reply = call_once(json_pack("{s:s}", "op", "policy_show"));
	if (!reply)
		return 1;
	fputs(json_string_value(json_object_get(reply, "text")), stdout);
	json_decref(reply);
	return 0;
}

static int cmd_policy_explain(const struct cli_verb *v, int argc, char **argv)
{
	return policy_explain(v, argc, argv, call_once);
}

/* ---- run ---- */

static const char run_text[] =
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

/* The launch request: who, what, and the environment that passes. */
static json_t *launch_request(const char *identity, const char *server, const char *ticket,
			      char **cmd)
{
	json_t *req = json_pack("{s:s, s:[], s:o}", "op", "launch", "argv", "env", launch_env());

	for (char **a = cmd; req && *a; a++)
		json_array_append_new(json_object_get(req, "argv"), json_string(*a));
	if (req && identity)
		json_object_set_new(req, "identity", json_string(identity));
	if (req && server)
		json_object_set_new(req, "server", json_string(server));
	if (req && ticket[0])
		json_object_set_new(req, "ticket", json_string(ticket));
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

/* Ask the agent to tag this process; says what will be applied, learns what
 * the policy allows the server. Frees h on failure. */
static int run_tag(const char *identity, const char *server, const char *ticket, bool harden,
		   bool root, struct mf_harden *h, const char *cmd)
{
	json_t *req, *reply;
	struct session s;
	int isolate;

	if (session_open(&s)) {
		fprintf(stderr, "mcpfence: refusing to start %s ungoverned\n", cmd);
		mf_harden_free(h);
		return 1;
	}
	req = json_pack("{s:s, s:b}", "op", "tag", "harden", harden);
	if (req && identity)
		json_object_set_new(req, "identity", json_string(identity));
	if (req && server)
		json_object_set_new(req, "server", json_string(server));
	if (req && ticket[0])
		json_object_set_new(req, "ticket", json_string(ticket));
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
	json_decref(reply);
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
		return verb_help(v, true);
	}
	if (!has_cmd) {
		fprintf(stderr, "mcpfence: run needs a command\n");
		return verb_help(v, true);
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

static int cmd_run(const struct cli_verb *v, int argc, char **argv)
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
			return verb_help(v, opt != 'h');
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

/* ---- ps, status, whoami ---- */

/* The start of ps, status and whoami: --help, --json, one request. The reply,
 * or NULL with the exit status in *rc (0 after --help). */
static json_t *simple_call(const struct cli_verb *v, int argc, char **argv, const char *op,
			   bool *json, int *rc)
{
	json_t *reply;
	int opt;

	*rc = 0;
	optind = 1;
	while ((opt = cli_getopt(v, argc, argv)) != -1) {
		if (opt != 'j') {
			*rc = verb_help(v, opt != 'h');
			return NULL;
		}
		*json = true;
	}
	if (optind < argc) {
		fprintf(stderr, "mcpfence: unexpected argument '%s'\n", argv[optind]);
		*rc = verb_help(v, true);
		return NULL;
	}
	reply = call_once(json_pack("{s:s}", "op", op));
	if (!reply)
		*rc = 1;
	return reply;
}

static const char ps_text[] = "List governed processes: pid, identity, server, how it was tagged,\n"
			      "command. Root sees all; other users their own processes.\n";

static int cmd_ps(const struct cli_verb *v, int argc, char **argv)
{
	bool json = false;
	int rc;
	json_t *reply, *p;
	size_t i;

	reply = simple_call(v, argc, argv, "ps", &json, &rc);
	if (!reply)
		return rc;
	if (json) {
		json_array_foreach(json_object_get(reply, "processes"), i, p)
			print_json(p);
	} else {
		printf("%-8s %-28s %-14s %-9s %s\n", "PID", "IDENTITY", "SERVER", "TAGGED-BY",
		       "COMMAND");
		json_array_foreach(json_object_get(reply, "processes"), i, p) {
			const char *cmd = json_string_value(json_object_get(p, "cmdline"));

			printf("%-8lld %-28s %-14s %-9s %s\n",
			       (long long)json_integer_value(json_object_get(p, "pid")),
			       json_string_value(json_object_get(p, "identity")),
			       json_string_value(json_object_get(p, "server")),
			       json_string_value(json_object_get(p, "tagged_by")),
			       cmd && *cmd ? cmd : json_string_value(json_object_get(p, "comm")));
		}
	}
	json_decref(reply);
	return 0;
}

/* The resolver of governed processes: serving (its ports) or why not. */
static void print_dns(json_t *dns)
{
	json_t *ports = json_object_get(dns, "ports"), *v;
	const char *key;

	if (!dns)
		return;
	if (!json_is_true(json_object_get(dns, "serving"))) {
		printf("dns:       NOT SERVING (%s): governed processes get no DNS\n",
		       json_string_value(json_object_get(dns, "error"))	      ?:
			       json_string_value(json_object_get(dns, "why")) ?:
										"unknown");
		return;
	}
	printf("dns:       serving on loopback, udp %lld/%lld tcp %lld/%lld (v4/v6), %lld pending\n",
	       (long long)json_integer_value(json_object_get(ports, "udp4")),
	       (long long)json_integer_value(json_object_get(ports, "udp6")),
	       (long long)json_integer_value(json_object_get(ports, "tcp4")),
	       (long long)json_integer_value(json_object_get(ports, "tcp6")),
	       (long long)json_integer_value(json_object_get(dns, "pending")));
	printf("dns:      ");
	json_object_foreach(json_object_get(dns, "counters"), key, v)
		printf(" %s=%lld", key, (long long)json_integer_value(v));
	printf("\n");
}

static const char status_text[] = "Is the agent up, which programs are attached and pinned, which\n"
				  "policy is active, and the counters (decisions, dropped audit\n"
				  "records, tags). For administrators, warnings about host\n"
				  "settings and policy choices that widen what governed processes\n"
				  "can do.\n"
				  "Exit 1 when the agent cannot be reached.\n";

static long long int_of(const json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}

/* The control socket's clients and the audit log's state (admin view). */
static void print_clients_and_log(const json_t *reply)
{
	const json_t *cl = json_object_get(reply, "clients");
	const json_t *log = json_object_get(reply, "log");
	const char *key, *state = json_string_value(json_object_get(log, "state"));
	json_t *v;

	if (cl) {
		printf("clients:   users %lld of %lld (%lld per uid), root %lld of %lld\n",
		       int_of(cl, "users"), int_of(cl, "users_limit"), int_of(cl, "per_uid_limit"),
		       int_of(cl, "root"), int_of(cl, "root_limit"));
		printf("refused:  ");
		json_object_foreach(json_object_get(cl, "refused"), key, v)
			printf(" %s=%lld", key, (long long)json_integer_value(v));
		printf("\nclosed:   ");
		json_object_foreach(json_object_get(cl, "closed"), key, v)
			printf(" %s=%lld", key, (long long)json_integer_value(v));
		printf("\n");
	}
	if (!state || !strcmp(state, "none"))
		return;
	printf("audit log: %s", state);
	if (!strcmp(state, "failing"))
		printf(" since %s (%s)", json_string_value(json_object_get(log, "since")),
		       json_string_value(json_object_get(log, "last_error")));
	printf(", %lld logged, %lld waiting, %lld lost\n", int_of(log, "logged"),
	       int_of(log, "waiting"), int_of(log, "lost"));
}

/* The last load attempt (start, SIGHUP or `policy load`), failed ones too. */
static void print_last_load(const json_t *l)
{
	const char *result = json_string_value(json_object_get(l, "result"));

	if (!result)
		return;
	printf("last load: %s %s by %s from %s", json_string_value(json_object_get(l, "ts")),
	       result, json_string_value(json_object_get(l, "trigger")),
	       json_string_value(json_object_get(l, "source")));
	if (strcmp(result, "ok"))
		printf(": %s", json_string_value(json_object_get(l, "error")));
	printf("\n");
}

static int cmd_status(const struct cli_verb *verb, int argc, char **argv)
{
	json_t *reply, *pol, *cnt, *progs, *v, *prog;
	bool json = false;
	int rc;
	const char *key;
	size_t i;

	reply = simple_call(verb, argc, argv, "status", &json, &rc);
	if (!reply)
		return rc;
	if (json) {
		print_json(reply);
		json_decref(reply);
		return 0;
	}
	pol = json_object_get(reply, "policy");
	cnt = json_object_get(reply, "counters");
	progs = json_object_get(reply, "programs");
	printf("agent:     running (pid %lld)\n",
	       (long long)json_integer_value(json_object_get(reply, "agent_pid")));
	if (!cnt) {
		/* Not an administrator: the agent says only that enforcement is up. */
		printf("policy:    %s, generation %lld\n",
		       json_is_true(json_object_get(pol, "loaded")) ? "loaded" : "none loaded",
		       (long long)json_integer_value(json_object_get(pol, "generation")));
		json_decref(reply);
		return 0;
	}
	printf("socket:    %s\n", json_string_value(json_object_get(reply, "socket")));
	printf("pins:      %s\n", json_string_value(json_object_get(reply, "pin_dir")));
	if (json_is_true(json_object_get(pol, "loaded")))
		printf("policy:    %s, generation %lld, mode %s, %lld rules\n",
		       json_string_value(json_object_get(pol, "source")),
		       (long long)json_integer_value(json_object_get(pol, "generation")),
		       json_string_value(json_object_get(pol, "mode")),
		       (long long)json_integer_value(json_object_get(pol, "rules")));
	else
		printf("policy:    none loaded (governed processes are denied everything)\n");
	print_last_load(json_object_get(reply, "last_load"));
	printf("governed:  %lld processes, %lld audit subscribers\n",
	       (long long)json_integer_value(json_object_get(reply, "governed_processes")),
	       (long long)json_integer_value(json_object_get(reply, "subscribers")));
	print_clients_and_log(reply);
	printf("programs: ");
	json_array_foreach(progs, i, prog) {
		const char *state = "(NOT PINNED)";

		if (json_is_true(json_object_get(prog, "pinned")))
			state = "";
		else if (json_is_true(json_object_get(prog, "on_demand")))
			state = "(off: not needed)";
		printf(" %s%s", json_string_value(json_object_get(prog, "section")), state);
	}
	printf("\ncounters: ");
	json_object_foreach(cnt, key, v)
		printf(" %s=%lld", key, (long long)json_integer_value(v));
	printf("\n");
	print_dns(json_object_get(reply, "dns"));
	json_array_foreach(json_object_get(reply, "warnings"), i, v)
		printf("warning:   %s\n", json_string_value(v));
	json_decref(reply);
	return 0;
}

static const char whoami_text[] =
	"Print the identity and server this process is governed as, from the kernel's\n"
	"tag (the agent finds the caller by its socket credentials), or 'ungoverned'.\n"
	"A server can use it to pick per-user credentials without trusting its input.\n";

static int cmd_whoami(const struct cli_verb *v, int argc, char **argv)
{
	bool json = false;
	int rc;
	json_t *reply;

	reply = simple_call(v, argc, argv, "whoami", &json, &rc);
	if (!reply)
		return rc;
	if (json)
		print_json(reply);
	else if (json_is_true(json_object_get(reply, "governed")))
		printf("%s %s\n", json_string_value(json_object_get(reply, "identity")),
		       json_string_value(json_object_get(reply, "server")));
	else
		printf("ungoverned\n");
	json_decref(reply);
	return 0;
}

static const char credential_text[] =
	"Inside an isolated server the agent launched: print its own credential NAME\n"
	"(the \"env\" name, else the \"as_file\" name of servers.SERVER.credentials) as\n"
	"the agent reads it now, for servers that re-read a token. The agent finds the\n"
	"caller by its tag and its uid; it answers nobody else.\n";

static int cmd_credential(const struct cli_verb *v, int argc, char **argv)
{
	int rc = only_operands(v, argc, argv, 1);
	const char *value;
	json_t *reply;

	if (rc >= 0)
		return rc;
	reply = call_once(json_pack("{s:s, s:s}", "op", "credential", "name", argv[optind]));
	if (!reply)
		return 1;
	value = json_string_value(json_object_get(reply, "value"));
	fwrite(value, 1, json_string_length(json_object_get(reply, "value")), stdout);
	json_decref(reply);
	return 0;
}

static const char metrics_text[] =
	"Print the agent's metrics in the Prometheus text exposition format: decisions\n"
	"(by verdict, and by identity, server and verdict), audit drops, governed\n"
	"processes, tags and tag failures, the policy's generation and last load, and\n"
	"the control socket's refusals. Root and the policy's admin_group only.\n";

static int cmd_metrics(const struct cli_verb *v, int argc, char **argv)
{
	int rc = only_operands(v, argc, argv, 0);
	json_t *reply;

	if (rc >= 0)
		return rc;
	reply = call_once(json_pack("{s:s}", "op", "metrics"));
	if (!reply)
		return 1;
	fputs(json_string_value(json_object_get(reply, "text")), stdout);
	json_decref(reply);
	return 0;
}

/* ---- audit ---- */

static const char audit_text[] =
	"Show the agent's recent audit records, one per line: time, verdict, identity,\n"
	"server, pid/command, destination, rule. With --follow, keep printing new ones.\n"
	"Root sees every record; other users only those of their own identity.\n"
	"With --since, --until or --file, read the records back from the audit log\n"
	"file instead (its whole history, as far as the caller may read the file).\n"
	"A time T is a duration before now (90s, 15m, 2h, 7d), @EPOCH, or a UTC time\n"
	"YYYY-MM-DD[THH:MM[:SS]][Z]. --color's default: on a terminal, unless NO_COLOR\n"
	"is set or TERM is dumb. --ocsf prints each record as an OCSF 1.3.0 event:\n"
	"Network Activity (4001) for connections, datagrams, binds and listens, DNS\n"
	"Activity (4003) for the resolver, Base Event (0) for the rest; the record\n"
	"whole under \"unmapped\".\n";

/* `audit` colours verdicts on a terminal (set_color). */
static bool use_color;

static const char *verdict_color(const char *verdict)
{
	if (!use_color)
		return "";
	if (!strcmp(verdict, "deny"))
		return "\033[1;31m";
	if (!strcmp(verdict, "would-deny"))
		return "\033[33m";
	if (!strcmp(verdict, "allow"))
		return "\033[32m";
	return "";
}

static void render_record(const json_t *r)
{
	const char *verdict;
	const char *event = json_string_value(json_object_get(r, "event"));
	const char *addr = json_string_value(json_object_get(r, "addr"));
	const char *family = json_string_value(json_object_get(r, "family"));
	const char *proto = json_string_value(json_object_get(r, "proto"));
	const char *rule = json_string_value(json_object_get(r, "rule"));
	const char *comm = json_string_value(json_object_get(r, "comm"));
	char dest[96], who[48];

	if (!event)
		event = "?";
	if (addr && strcmp(event, "source-route") == 0) {
		/* addr: the first hop the route would have sent the packet to */
		snprintf(dest, sizeof(dest), "source-route via %s", addr);
	} else if (addr) {
		bool v6 = family && strcmp(family, "ipv6") == 0;

		const char *flow = json_string_value(json_object_get(r, "flow"));
		char more[32] = "";

		/* A flow's summary: decisions since ts, after the first. */
		if (flow && strcmp(flow, "summary") == 0)
			snprintf(more, sizeof(more), " +%lld",
				 (long long)json_integer_value(json_object_get(r, "count")));
		snprintf(dest, sizeof(dest), "%s %s%s%s:%lld%s", proto ? proto : "?", v6 ? "[" : "",
			 addr, v6 ? "]" : "",
			 (long long)json_integer_value(json_object_get(r, "port")), more);
	} else if (strcmp(event, "socket") == 0 || strcmp(event, "socket-kill") == 0 ||
		   strcmp(event, "uring-socket-kill") == 0) {
		snprintf(dest, sizeof(dest), "%s family=%lld type=%lld proto=%lld", event,
			 (long long)json_integer_value(json_object_get(r, "socket_family")),
			 (long long)json_integer_value(json_object_get(r, "socket_type")),
			 (long long)json_integer_value(json_object_get(r, "protocol")));
	} else if (strcmp(event, "uring-kill") == 0) {
		const char *op = json_string_value(json_object_get(r, "op"));

		snprintf(dest, sizeof(dest), "uring-kill %s", op ? op : "?");
	} else if (strcmp(event, "abi-kill") == 0) {
		const char *abi = json_string_value(json_object_get(r, "abi"));

		snprintf(dest, sizeof(dest), "abi-kill %s syscall %lld", abi ? abi : "?",
			 (long long)json_integer_value(json_object_get(r, "syscall")));
	} else if (strcmp(event, "sockopt") == 0) {
		snprintf(dest, sizeof(dest), "sockopt level=%lld optname=%lld",
			 (long long)json_integer_value(json_object_get(r, "level")),
			 (long long)json_integer_value(json_object_get(r, "optname")));
	} else if (strcmp(event, "policy-load") == 0) {
		const char *e = json_string_value(json_object_get(r, "error"));

		snprintf(dest, sizeof(dest), "policy-load %s", e ? e : "");
		if (!e)
			snprintf(dest, sizeof(dest), "policy-load generation %lld",
				 (long long)json_integer_value(json_object_get(r, "generation")));
	} else {
		const char *reason = json_string_value(json_object_get(r, "reason"));

		snprintf(dest, sizeof(dest), "%s%s%s", event, reason ? ": " : "",
			 reason ? reason : "");
	}
	if (json_integer_value(json_object_get(r, "pid")))
		snprintf(who, sizeof(who), "%lld/%s",
			 (long long)json_integer_value(json_object_get(r, "pid")),
			 comm ? comm : "-");
	else
		snprintf(who, sizeof(who), "-");
	verdict = json_string_value(json_object_get(r, "verdict")) ?: "-";
	printf("%-24s %s%-10s%s %-24s %-12s %-22s %-28s %s\n",
	       json_string_value(json_object_get(r, "ts")) ?: "-", verdict_color(verdict), verdict,
	       use_color ? "\033[0m" : "", json_string_value(json_object_get(r, "identity")) ?: "-",
	       json_string_value(json_object_get(r, "server")) ?: "-", who, dest, rule ? rule : "");
}

/* --color=auto: a terminal, not TERM=dumb, and no NO_COLOR (no-color.org). */
static int set_color(const char *when)
{
	const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");

	if (!strcmp(when, "always"))
		use_color = true;
	else if (!strcmp(when, "never"))
		use_color = false;
	else if (!strcmp(when, "auto"))
		use_color = isatty(STDOUT_FILENO) && !(no_color && *no_color) &&
			    !(term && !strcmp(term, "dumb"));
	else
		return -1;
	return 0;
}

/* The next line from the agent; stdout is flushed before waiting for more,
 * so a follower sees records at once without a write per record. */
static int next_line(struct session *s, char **line, size_t *len)
{
	for (;;) {
		int r = mf_linebuf_next(&s->lb, line, len);
		ssize_t n;

		if (r)
			return r;
		fflush(stdout);
		n = mf_linebuf_fill(&s->lb, s->fd);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			return n;
	}
}

/* How `audit` prints a record: a line for people, the record's JSON, or its
 * OCSF event (ocsf.c). */
enum audit_form {
	AUDIT_HUMAN,
	AUDIT_JSON,
	AUDIT_OCSF
};

static void show_record(const json_t *rec, enum audit_form form)
{
	json_t *ev;

	switch (form) {
	case AUDIT_HUMAN:
		render_record(rec);
		break;
	case AUDIT_JSON:
		print_json(rec);
		break;
	case AUDIT_OCSF:
		ev = mf_ocsf_event(rec);
		if (ev)
			print_json(ev);
		else
			fprintf(stderr, "mcpfence: out of memory for an OCSF event\n");
		json_decref(ev);
		break;
	}
}

static void show_file_record(const json_t *rec, const char *line, size_t len, void *ctx)
{
	enum audit_form form = *(enum audit_form *)ctx;

	if (form == AUDIT_JSON) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
	} else {
		show_record(rec, form);
	}
}

/* The agent's --audit-log, from its status (administrators only). */
static char *agent_audit_log(void)
{
	json_t *reply = call_once(json_pack("{s:s}", "op", "status"));
	const char *path = json_string_value(json_object_get(reply, "audit_log"));
	char *dup = path ? strdup(path) : NULL;

	if (reply && !path)
		fprintf(stderr, "mcpfence: the agent writes no audit log (or only administrators "
				"may know where): pass --file\n");
	json_decref(reply);
	return dup;
}

/* audit --since/--until/--file: from the log file, not the agent's memory. */
static int audit_from_file(const char *file, const char *since, const char *until,
			   const char *identity, const char *verdict, enum audit_form form)
{
	struct audit_file_filter f = { .identity = identity, .verdict = verdict };
	char from[32], to[32], err[256];
	char *path = file ? strdup(file) : agent_audit_log();
	time_t now = time(NULL);
	size_t bad;
	int r = 1;

	if (!path)
		return 1;
	if (since && audit_parse_time(since, now, from, err, sizeof(err)))
		goto usage;
	if (until && audit_parse_time(until, now, to, err, sizeof(err)))
		goto usage;
	f.since = since ? from : NULL;
	f.until = until ? to : NULL;
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	r = audit_file_read(path, &f, show_file_record, &form, &bad);
	fflush(stdout);
	if (r)
		fprintf(stderr, "mcpfence: cannot read %s: %s\n", path, strerror(-r));
	else if (bad)
		fprintf(stderr, "mcpfence: %s: %zu lines are not records, skipped\n", path, bad);
	free(path);
	return r ? 1 : 0;
usage:
	fprintf(stderr, "mcpfence: %s\n", err);
	free(path);
	return 2;
}

/* audit without --since/--until/--file: the agent's history, then with
 * --follow its live stream. */
static int audit_from_agent(const char *identity, const char *verdict, bool follow,
			    enum audit_form form)
{
	char err[256], *line;
	struct session s;
	json_t *req, *reply, *rec;
	const char *type;
	bool ended = false; /* by an error reply, said already */
	size_t len;
	int r;

	req = json_pack("{s:s, s:b}", "op", "audit", "follow", follow);
	if (identity)
		json_object_set_new(req, "identity", json_string(identity));
	if (verdict)
		json_object_set_new(req, "verdict", json_string(verdict));
	if (session_open(&s)) {
		json_decref(req);
		return 1;
	}
	reply = session_call(&s, req);
	if (!reply) {
		session_close(&s);
		return 1;
	}
	json_decref(reply);
	/* Records are written in large blocks; next_line flushes before it waits. */
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	while ((r = next_line(&s, &line, &len)) > 0) {
		/* Records pass through as the agent wrote them; only protocol
		 * messages ("type": reply, dropped, end) are parsed. */
		if (form == AUDIT_JSON && !mf_is_message_line(line, len)) {
			fwrite(line, 1, len, stdout);
			putchar('\n');
			continue;
		}
		rec = mf_json_parse_object(line, len, err, sizeof(err));
		if (!rec) {
			r = -EPROTO;
			break;
		}
		type = json_string_value(json_object_get(rec, "type"));
		if (type && !strcmp(type, MF_TYPE_END)) {
			json_decref(rec);
			break;
		}
		if (type && !strcmp(type, MF_TYPE_REPLY) &&
		    !json_is_true(json_object_get(rec, "ok"))) {
			const char *why = json_string_value(json_object_get(rec, "error"));

			fprintf(stderr, "mcpfence: audit stream ended: %s\n",
				why ? why : "no reason given");
			json_decref(rec);
			ended = true;
			break;
		}
		if (type && !strcmp(type, MF_TYPE_DROPPED)) {
			fprintf(stderr,
				"mcpfence: %lld audit records were dropped for this reader\n",
				(long long)json_integer_value(json_object_get(rec, "dropped")));
		} else if (type) {
			/* Another message (a late reply): not a record. */
		} else {
			show_record(rec, form);
		}
		json_decref(rec);
	}
	fflush(stdout);
	session_close(&s);
	if (ended)
		return 1;
	if (r < 0) {
		fprintf(stderr, "mcpfence: audit stream broken: %s\n", strerror(-r));
		return 1;
	}
	if (r == 0 && follow) {
		fprintf(stderr, "mcpfence: the agent closed the audit stream\n");
		return 1;
	}
	return 0;
}

static int cmd_audit(const struct cli_verb *v, int argc, char **argv)
{
	const char *identity = NULL, *verdict = NULL, *since = NULL, *until = NULL, *file = NULL;
	enum audit_form form = AUDIT_HUMAN;
	bool follow = false;
	int opt;

	optind = 1;
	set_color("auto");
	while ((opt = cli_getopt(v, argc, argv)) != -1) {
		switch (opt) {
		case 'f':
			follow = true;
			break;
		case 'j':
		case 'o':
			if (form != AUDIT_HUMAN) {
				fprintf(stderr,
					"mcpfence: --json and --ocsf: one form at a time\n");
				return 2;
			}
			form = opt == 'j' ? AUDIT_JSON : AUDIT_OCSF;
			break;
		case 'i':
			identity = optarg;
			break;
		case 'v':
			verdict = optarg;
			break;
		case 'S':
			since = optarg;
			break;
		case 'U':
			until = optarg;
			break;
		case 'F':
			file = optarg;
			break;
		case 'C':
			if (set_color(optarg)) {
				fprintf(stderr, "mcpfence: --color takes never, always or auto\n");
				return 2;
			}
			break;
		default:
			return verb_help(v, opt != 'h');
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcpfence: unexpected argument '%s'\n", argv[optind]);
		return verb_help(v, true);
	}
	if (since || until || file) {
		if (follow) {
			fprintf(stderr, "mcpfence: --follow reads the agent's stream, not a file: "
					"it does not go with --since, --until or --file\n");
			return 2;
		}
		if (verdict && strcmp(verdict, "allow") && strcmp(verdict, "deny") &&
		    strcmp(verdict, "would-deny")) {
			fprintf(stderr, "mcpfence: --verdict takes allow, deny or would-deny\n");
			return 2;
		}
		return audit_from_file(file, since, until, identity, verdict, form);
	}
	return audit_from_agent(identity, verdict, follow, form);
}

/* ---- ticket ---- */

static const char ticket_text[] =
	"Ask the agent for a one-time ticket that lets one `mcpfence run --ticket-fd N`\n"
	"(or --ticket-env VAR) be tagged as ID on NAME, whoever runs it. Only root and\n"
	"the policy's launchers (within their may_assert patterns) obtain tickets for\n"
	"other identities. The ticket is printed on stdout; it expires after --ttl\n"
	"seconds (default 30, at most 60) and is accepted once.\n";

static int cmd_ticket(const struct cli_verb *v, int argc, char **argv)
{
	const char *identity = NULL, *server = NULL;
	long ttl = 30;
	json_t *reply;
	char *end;
	int opt;

	optind = 1;
	while ((opt = cli_getopt(v, argc, argv)) != -1) {
		switch (opt) {
		case 'i':
			identity = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 't':
			ttl = strtol(optarg, &end, 10);
			if (*end || ttl < 1 || ttl > 60) {
				fprintf(stderr, "mcpfence: --ttl takes 1..60 seconds\n");
				return 2;
			}
			break;
		default:
			return verb_help(v, opt != 'h');
		}
	}
	if (!identity || !server || optind < argc)
		return verb_help(v, true);
	reply = call_once(json_pack("{s:s, s:s, s:s, s:I}", "op", "ticket", "identity", identity,
				    "server", server, "ttl", (json_int_t)ttl));
	if (!reply)
		return 1;
	printf("%s\n", json_string_value(json_object_get(reply, "ticket")));
	json_decref(reply);
	return 0;
}

/* ---- uninstall ---- */

static const char uninstall_text[] =
	"Stop enforcing: the agent detaches its programs, removes its pins and exits.\n"
	"When no agent answers, the pins under DIR (default /sys/fs/bpf/mcpfence) are\n"
	"removed directly. Governed processes are no longer restricted afterwards.\n";

static int cmd_uninstall(const struct cli_verb *v, int argc, char **argv)
{
	const char *pin_dir = "/sys/fs/bpf/mcpfence";
	const char *path = mf_socket_path(socket_opt);
	json_t *reply;
	int fd, err, opt;

	optind = 1;
	while ((opt = cli_getopt(v, argc, argv)) != -1) {
		if (opt != 'p')
			return verb_help(v, opt != 'h');
		pin_dir = optarg;
	}
	if (optind < argc)
		return verb_help(v, true);
	fd = mf_client_connect(path);
	if (fd >= 0) {
		close(fd);
		reply = call_once(json_pack("{s:s}", "op", "uninstall"));
		if (!reply)
			return 1;
		json_decref(reply);
		printf("mcpfence: the agent detached and is exiting\n");
		return 0;
	}
	err = mf_unpin_dir(pin_dir);
	if (err) {
		fprintf(stderr, "mcpfence: cannot remove %s: %s\n", pin_dir, strerror(-err));
		return 1;
	}
	printf("mcpfence: removed %s\n", pin_dir);
	return 0;
}

/* ---- the table: verbs, subverbs and options (cmdline.h) ---- */

static const struct cli_opt json_opts[] = {
	CLI_FLAG("json", 'j', "one JSON object per line"),
	{},
};

static const struct cli_opt run_opts[] = {
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

static const struct cli_opt explain_opts[] = {
	CLI_VALUE("identity", 'i', "ID", "the identity asking"),
	CLI_VALUE("server", 's', "NAME", "the server it runs"),
	CLI_VALUE("to", 't', "DEST", "HOST_OR_IP[:PORT[/PROTO]]; IPv6 with a port: [::1]:443/tcp"),
	CLI_VALUE("policy", 'p', "FILE", "explain FILE instead of the active policy",
		  .complete = CLI_POLICY_FILE),
	{},
};

static const struct cli_verb policy_subs[] = {
	{
		.name = "check",
		.args = "FILE",
		.summary = "validate a policy file (no root needed)",
		.text = "Validate FILE; report errors as FILE:LINE:COL: message (exit 1). The\n"
			"format: policy/README.md.\n",
		.operands = CLI_POLICY_FILE,
		.run = cmd_policy_check,
	},
	{
		.name = "load",
		.args = "FILE",
		.summary = "replace the active policy, atomically (root)",
		.text = "Replace the agent's policy with FILE in one step: a policy that does not\n"
			"check changes nothing.\n",
		.operands = CLI_POLICY_FILE,
		.run = cmd_policy_load,
	},
	{
		.name = "show",
		.summary = "print the active policy (root)",
		.run = cmd_policy_show,
	},
	{
		.name = "explain",
		.args = "--identity ID --server NAME --to DEST [--policy FILE]",
		.summary = "the verdict for a destination, and the rule that gives it",
		.text = "Print the verdict for a destination and the rule that gives it, from FILE\n"
			"or the active policy (root). For a host name: the rules that grant it, and\n"
			"the addresses learned for it now (active policy).\n",
		.opts = explain_opts,
		.run = cmd_policy_explain,
	},
	{},
};

static const struct cli_opt audit_opts[] = {
	CLI_FLAG("follow", 'f', "keep the stream open"),
	CLI_FLAG("json", 'j', "one JSON object per record"),
	CLI_FLAG("ocsf", 'o', "one OCSF 1.3.0 event per record (for SIEMs)"),
	CLI_VALUE("identity", 'i', "ID", "only records of ID"),
	CLI_VALUE("verdict", 'v', "V", "only allow, deny or would-deny (audit mode) records",
		  .complete = CLI_WORDS, .words = "allow deny would-deny"),
	CLI_VALUE("since", 'S', "T", "only records at or after T"),
	CLI_VALUE("until", 'U', "T", "only records at or before T"),
	CLI_VALUE("file", 'F', "FILE", "the log to read (default: the log the agent writes)",
		  .complete = CLI_FILE),
	CLI_VALUE("color", 'C', "WHEN", "colour verdicts: never, always or auto",
		  .complete = CLI_WORDS, .words = "never always auto"),
	{},
};

static const struct cli_opt ticket_opts[] = {
	CLI_VALUE("identity", 'i', "ID", "the identity the ticket tags"),
	CLI_VALUE("server", 's', "NAME", "the server it tags"),
	CLI_VALUE("ttl", 't', "SECONDS", "seconds before it expires (default 30, at most 60)"),
	{},
};

static const struct cli_opt uninstall_opts[] = {
	CLI_VALUE("pin-dir", 'p', "DIR", "the pins to remove when no agent answers",
		  .complete = CLI_DIR),
	{},
};

static const struct cli_verb verbs[] = {
	{
		.name = "run",
		.args = "--identity ID --server NAME [--no-harden | --require-landlock]\n"
			" [--allow-root] [--] CMD [ARGS...]\n"
			"--ticket-fd N | --ticket-env VAR [--server NAME] [...] [--] CMD...",
		.summary = "run CMD governed as ID for server NAME",
		.text = run_text,
		.opts = run_opts,
		.operands = CLI_COMMAND,
		.stop_at_operand = true,
		.run = cmd_run,
	},
	{
		.name = "policy",
		.text = "check needs neither the agent nor root; load, show and explain (without\n"
			"--policy) ask the agent. `mcpfence policy SUBCOMMAND --help` for each.\n",
		.subs = policy_subs,
	},
	{
		.name = "ps",
		.args = "[--json]",
		.summary = "list governed processes",
		.text = ps_text,
		.opts = json_opts,
		.run = cmd_ps,
	},
	{
		.name = "audit",
		.args = "[--follow] [--json | --ocsf] [--identity ID] [--verdict V] [--color WHEN]\n"
			"[--since T] [--until T] [--file FILE] [--json | --ocsf] [--identity ID] [--verdict V]",
		.summary = "show audit records (recent ones, then new ones with --follow)",
		.text = audit_text,
		.opts = audit_opts,
		.run = cmd_audit,
	},
	{
		.name = "status",
		.args = "[--json]",
		.summary = "agent, programs, policy and counters",
		.text = status_text,
		.opts = json_opts,
		.run = cmd_status,
	},
	{
		.name = "metrics",
		.summary = "the agent's metrics, as Prometheus text (admins)",
		.text = metrics_text,
		.run = cmd_metrics,
	},
	{
		.name = "whoami",
		.args = "[--json]",
		.summary = "the identity and server of this process, if governed",
		.text = whoami_text,
		.opts = json_opts,
		.run = cmd_whoami,
	},
	{
		.name = "credential",
		.args = "NAME",
		.summary = "an isolated server's own credential (inside it)",
		.text = credential_text,
		.run = cmd_credential,
	},
	{
		.name = "ticket",
		.args = "--identity ID --server NAME [--ttl SECONDS]",
		.summary = "a one-time ticket for `run --ticket-fd` (trusted hosts)",
		.text = ticket_text,
		.opts = ticket_opts,
		.run = cmd_ticket,
	},
	{
		.name = "uninstall",
		.args = "[--pin-dir DIR]",
		.summary = "stop enforcing: detach programs and remove pins (root)",
		.text = uninstall_text,
		.opts = uninstall_opts,
		.run = cmd_uninstall,
	},
	{},
};

static const struct cli_opt global_opts[] = {
	CLI_VALUE("socket", 's', "PATH",
		  "agent control socket (default: $MCPFENCE_SOCKET, else " MF_DEFAULT_SOCKET ")",
		  .complete = CLI_FILE),
	CLI_FLAG("version", 'V', "print the version, the commit and libbpf's version"),
	/* The build runs it to write the installed completion scripts. */
	CLI_VALUE("completion", 'c', "SHELL", "print the completion script for bash or zsh",
		  .complete = CLI_WORDS, .words = "bash zsh", .hidden = true),
	{},
};

static const struct cli_verb global = {
	.name = "mcpfence",
	.args = "[--socket PATH] COMMAND [ARGS]",
	.text = "Per-identity, kernel-enforced egress control for MCP servers.\n"
		"`mcpfence COMMAND --help` for a command.\n",
	.opts = global_opts,
	.stop_at_operand = true,
};

/* argv[0], a verb of table (the subverbs of parent, if any): the exit status. */
static int dispatch(const struct cli_verb *parent, const struct cli_verb *table, int argc,
		    char **argv)
{
	for (const struct cli_verb *v = table; v->name; v++) {
		if (strcmp(argv[0], v->name))
			continue;
		if (v->run)
			return v->run(v, argc, argv);
		if (argc >= 2 && argv[1][0] != '-')
			return dispatch(v, v->subs, argc - 1, argv + 1);
		optind = 1;
		return verb_help(v, argc < 2 || cli_getopt(v, argc, argv) != 'h');
	}
	if (!parent) {
		fprintf(stderr, "mcpfence: unknown command '%s'\n", argv[0]);
		cli_print_usage(stderr, &global, verbs);
		return 2;
	}
	fprintf(stderr, "mcpfence: unknown %s subcommand '%s'\n", parent->name, argv[0]);
	return verb_help(parent, true);
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = cli_getopt(&global, argc, argv)) != -1) {
		switch (opt) {
		case 's':
			socket_opt = optarg;
			break;
		case 'h':
			cli_print_usage(stdout, &global, verbs);
			return 0;
		case 'V':
			mf_print_version(stdout, "mcpfence");
			return 0;
		case 'c':
			if (cli_print_completion(stdout, optarg, &global, verbs)) {
				fprintf(stderr, "mcpfence: --completion takes bash or zsh\n");
				return 2;
			}
			return 0;
		default:
			cli_print_usage(stderr, &global, verbs);
			return 2;
		}
	}
	if (optind >= argc) {
		cli_print_usage(stderr, &global, verbs);
		return 2;
	}
	return dispatch(NULL, verbs, argc - optind, argv + optind);
}
