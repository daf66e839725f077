// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mcpfence: the control CLI. Every verb but `policy check` talks to the
 * agent over its control socket.
 */
#include <dirent.h>
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
#include "explain.h"
#include "harden.h"
#include "pins.h"
#include "file.h"
#include "policy.h"
#include "proto.h"
#include "version.h"

static const char *socket_opt;

static const char usage[] =
	"usage: mcpfence [--socket PATH] COMMAND [ARGS]\n"
	"\n"
	"Per-identity, kernel-enforced egress control for MCP servers.\n"
	"\n"
	"Commands:\n"
	"  run --identity ID --server NAME -- CMD [ARGS...]\n"
	"                         run CMD governed as ID for server NAME\n"
	"  policy check FILE      validate a policy file (no root needed)\n"
	"  policy load FILE       replace the active policy, atomically (root)\n"
	"  policy show            print the active policy (root)\n"
	"  ps [--json]            list governed processes\n"
	"  audit [--follow] [--json] [--identity ID] [--verdict allow|deny|would-deny]\n"
	"                         show audit records (recent ones, then new ones with --follow)\n"
	"  status [--json]        agent, programs, policy and counters\n"
	"  metrics                the agent's metrics, as Prometheus text (admins)\n"
	"  whoami [--json]        the identity and server of this process, if governed\n"
	"  credential NAME        an isolated server's own credential (inside it)\n"
	"  ticket --identity ID --server NAME [--ttl S]\n"
	"                         a one-time ticket for `run --ticket-fd` (trusted hosts)\n"
	"  uninstall [--pin-dir DIR]\n"
	"                         stop enforcing: detach programs and remove pins (root)\n"
	"\n"
	"Options:\n"
	"  --socket PATH          agent control socket (default: $MCPFENCE_SOCKET, else\n"
	"                         " MF_DEFAULT_SOCKET ")\n"
	"  -h, --help             show help; `mcpfence COMMAND --help` for a command\n"
	"  --version              print the version, the commit and libbpf's version\n";

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

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

/* Parse the only flag most verbs take. */
static int parse_json_flag(int argc, char **argv, const char *help, bool *json)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			*json = true;
			continue;
		}
		fprintf(stderr, "mcpfence: unexpected argument '%s'\n%s", argv[i], help);
		return -1;
	}
	return 0;
}

/* ---- policy ---- */

static const char policy_help[] =
	"usage: mcpfence policy check FILE\n"
	"       mcpfence policy load FILE\n"
	"       mcpfence policy show\n"
	"       mcpfence policy explain --identity ID --server NAME --to DEST\n"
	"\n"
	"check validates FILE and reports errors as FILE:LINE:COL: message\n"
	"(exit 1). load replaces the agent's policy in one step: a policy\n"
	"that does not check changes nothing. show prints the active one.\n"
	"The format: policy/README.md.\n";

static int policy_check(const char *path)
{
	struct mf_compiled *compiled;
	struct mf_policy *policy;
	char err[MF_ERR_MAX];
	size_t entries = 0;

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

static int policy_load(const char *path)
{
	char abs[PATH_MAX], err[MF_ERR_MAX], *text = NULL;
	json_t *reply, *w;
	size_t len, i;

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

static int cmd_policy(int argc, char **argv)
{
	json_t *reply;

	if (argc >= 2 && strcmp(argv[1], "explain") == 0)
		return policy_explain(argc - 1, argv + 1, call_once);
	if (wants_help(argc, argv)) {
		fputs(policy_help, stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return policy_check(argv[2]);
	if (argc == 3 && strcmp(argv[1], "load") == 0)
		return policy_load(argv[2]);
	if (argc == 2 && strcmp(argv[1], "show") == 0) {
		reply = call_once(json_pack("{s:s}", "op", "policy_show"));
		if (!reply)
			return 1;
		fputs(json_string_value(json_object_get(reply, "text")), stdout);
		json_decref(reply);
		return 0;
	}
	fputs(policy_help, stderr);
	return 2;
}

/* ---- run ---- */

static const char run_help[] =
	"usage: mcpfence run --identity ID --server NAME [--no-harden | --require-landlock]\n"
	"                    [--allow-root] [--] CMD [ARGS...]\n"
	"       mcpfence run --ticket-fd N | --ticket-env VAR [--server NAME] [...] [--] CMD...\n"
	"\n"
	"Ask the agent to tag this process with ID and NAME, then exec CMD. The tag\n"
	"passes to every process CMD starts; the kernel judges each of their outbound\n"
	"connections by the policy for ID on NAME. stdin, stdout and stderr pass\n"
	"through untouched, so this fits an MCP host's \"command\"/\"args\".\n"
	"\n"
	"Refuses to start CMD when the agent is not reachable or refuses the tag (an\n"
	"identity you may not assert, an unknown server, or a process that is governed\n"
	"already). MCPFENCE_IDENTITY and MCPFENCE_SERVER are set for CMD, for\n"
	"information only: the kernel's tag is the authority.\n"
	"\n"
	"  --identity ID   the user the server works for (root and policy launchers may\n"
	"                  assert anyone; other users only their own user name)\n"
	"  --server NAME   a server declared in the policy\n"
	"  --ticket-fd N   read a one-time ticket (from `mcpfence ticket`, issued to a\n"
	"                  trusted host) from file descriptor N, and close it; the tag is\n"
	"                  the ticket's identity and server\n"
	"  --ticket-env VAR\n"
	"                  the same, from environment variable VAR (removed before exec)\n"
	"  --require-landlock\n"
	"                  refuse to start CMD when the kernel lacks Landlock scopes\n"
	"                  (ABI 6, Linux 6.12) instead of warning\n"
	"  --allow-root    start CMD even as root (any of uid, euid, suid 0), without\n"
	"                  any capability: bounding, ambient and inheritable sets are\n"
	"                  emptied before exec (audited). Without it run refuses root\n"
	"  --no-harden     for debugging: skip the hardening below, the capability\n"
	"                  drop of --allow-root included (audited); while such a server\n"
	"                  runs, the agent refuses its socket families with a syscall\n"
	"                  tracepoint, which slows every syscall on the host\n"
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
	"to, processes outside it. If it cannot be applied, CMD is not started.\n";

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
static int run_check_args(const char *identity, const char *server, int ticket_fd,
			  const char *ticket_env, char ticket[TICKET_MAX], bool harden,
			  bool require_landlock, bool has_cmd)
{
	if (ticket_fd >= 0 && ticket_env) {
		fprintf(stderr, "mcpfence: give one of --ticket-fd and --ticket-env\n");
		return 2;
	}
	if (ticket_fd >= 0 || ticket_env) {
		if (read_ticket(ticket_fd, ticket_env, ticket))
			return 1;
	} else if (!identity || !server) {
		fprintf(stderr, "mcpfence: run needs --identity and --server, or a ticket\n%s",
			run_help);
		return 2;
	}
	if (!has_cmd) {
		fprintf(stderr, "mcpfence: run needs a command\n%s", run_help);
		return 2;
	}
	if ((identity && !mf_name_valid(identity)) || (server && !mf_name_valid(server))) {
		fprintf(stderr, "mcpfence: invalid %s '%s': use 1-127 of A-Z a-z 0-9 . _ @ + -\n",
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

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 's' },
		{ "no-harden", no_argument, NULL, 'N' },
		{ "require-landlock", no_argument, NULL, 'L' },
		{ "allow-root", no_argument, NULL, 'R' },
		{ "ticket-fd", required_argument, NULL, 'T' },
		{ "ticket-env", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *identity = NULL, *server = NULL, *ticket_env = NULL;
	char ticket[TICKET_MAX] = "";
	int ticket_fd = -1;
	bool harden = true, require_landlock = false, allow_root = false, root;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
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
		case 'h':
			fputs(run_help, stdout);
			return 0;
		default:
			fputs(run_help, stderr);
			return 2;
		}
	}
	rc = run_check_args(identity, server, ticket_fd, ticket_env, ticket, harden,
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
static json_t *simple_call(int argc, char **argv, const char *help, const char *op, bool *json,
			   int *rc)
{
	json_t *reply;

	*rc = 0;
	if (wants_help(argc, argv)) {
		fputs(help, stdout);
		return NULL;
	}
	if (parse_json_flag(argc, argv, help, json)) {
		*rc = 2;
		return NULL;
	}
	reply = call_once(json_pack("{s:s}", "op", op));
	if (!reply)
		*rc = 1;
	return reply;
}

static const char ps_help[] = "usage: mcpfence ps [--json]\n"
			      "\n"
			      "List governed processes: pid, identity, server, how it was tagged,\n"
			      "command. Root sees all; other users their own processes.\n";

static int cmd_ps(int argc, char **argv)
{
	bool json = false;
	int rc;
	json_t *reply, *p;
	size_t i;

	reply = simple_call(argc, argv, ps_help, "ps", &json, &rc);
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

static const char status_help[] = "usage: mcpfence status [--json]\n"
				  "\n"
				  "Is the agent up, which programs are attached and pinned, which\n"
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

static int cmd_status(int argc, char **argv)
{
	json_t *reply, *pol, *cnt, *progs, *v, *prog, *scope;
	bool json = false;
	int rc;
	const char *key;
	size_t i;

	reply = simple_call(argc, argv, status_help, "status", &json, &rc);
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
	scope = json_object_get(reply, "scope");
	if (scope)
		printf("scope:     %s, hooks at %s\n",
		       json_string_value(json_object_get(scope, "scope")),
		       json_string_value(json_object_get(scope, "cgroup")));
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

static const char whoami_help[] =
	"usage: mcpfence whoami [--json]\n"
	"\n"
	"Print the identity and server this process is governed as, from the kernel's\n"
	"tag (the agent finds the caller by its socket credentials), or 'ungoverned'.\n"
	"A server can use it to pick per-user credentials without trusting its input.\n";

static int cmd_whoami(int argc, char **argv)
{
	bool json = false;
	int rc;
	json_t *reply;

	reply = simple_call(argc, argv, whoami_help, "whoami", &json, &rc);
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

static const char credential_help[] =
	"usage: mcpfence credential NAME\n"
	"\n"
	"Inside an isolated server the agent launched: print its own credential NAME\n"
	"(the \"env\" name, else the \"as_file\" name of servers.SERVER.credentials) as\n"
	"the agent reads it now, for servers that re-read a token. The agent finds the\n"
	"caller by its tag and its uid; it answers nobody else.\n";

static int cmd_credential(int argc, char **argv)
{
	const char *value;
	json_t *reply;

	if (wants_help(argc, argv)) {
		fputs(credential_help, stdout);
		return 0;
	}
	if (argc != 2) {
		fputs(credential_help, stderr);
		return 2;
	}
	reply = call_once(json_pack("{s:s, s:s}", "op", "credential", "name", argv[1]));
	if (!reply)
		return 1;
	value = json_string_value(json_object_get(reply, "value"));
	fwrite(value, 1, json_string_length(json_object_get(reply, "value")), stdout);
	json_decref(reply);
	return 0;
}

static const char metrics_help[] =
	"usage: mcpfence metrics\n"
	"\n"
	"Print the agent's metrics in the Prometheus text exposition format: decisions\n"
	"(by verdict, and by identity, server and verdict), audit drops, governed\n"
	"processes, tags and tag failures, the policy's generation and last load, and\n"
	"the control socket's refusals. Root and the policy's admin_group only.\n";

static int cmd_metrics(int argc, char **argv)
{
	json_t *reply;

	if (wants_help(argc, argv)) {
		fputs(metrics_help, stdout);
		return 0;
	}
	if (argc != 1) {
		fputs(metrics_help, stderr);
		return 2;
	}
	reply = call_once(json_pack("{s:s}", "op", "metrics"));
	if (!reply)
		return 1;
	fputs(json_string_value(json_object_get(reply, "text")), stdout);
	json_decref(reply);
	return 0;
}

/* ---- audit ---- */

static const char audit_help[] =
	"usage: mcpfence audit [--follow] [--json] [--identity ID] [--verdict V] [--color WHEN]\n"
	"       mcpfence audit [--since T] [--until T] [--file FILE] [--json] [--identity ID]\n"
	"                      [--verdict V]\n"
	"\n"
	"Show the agent's recent audit records, one per line: time, verdict, identity,\n"
	"server, pid/command, destination, rule. With --follow, keep printing new ones.\n"
	"Root sees every record; other users only those of their own identity.\n"
	"With --since, --until or --file, read the records back from the audit log\n"
	"file instead (its whole history, as far as the caller may read the file).\n"
	"\n"
	"  --follow         keep the stream open\n"
	"  --json           one JSON object per record\n"
	"  --identity ID    only records of ID\n"
	"  --verdict V      only allow, deny or would-deny (audit mode) records\n"
	"  --since T        only records at or after T: a duration before now (90s, 15m,\n"
	"                   2h, 7d), @EPOCH, or a UTC time YYYY-MM-DD[THH:MM[:SS]][Z]\n"
	"  --until T        only records at or before T\n"
	"  --file FILE      the log to read (default: the log the agent writes)\n"
	"  --color WHEN     colour verdicts: never, always or auto (default: on a\n"
	"                   terminal, unless NO_COLOR is set or TERM is dumb)\n";

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

static void show_file_record(const json_t *rec, const char *line, size_t len, void *ctx)
{
	if (*(bool *)ctx) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
	} else {
		render_record(rec);
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
			   const char *identity, const char *verdict, bool json)
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
	r = audit_file_read(path, &f, show_file_record, &json, &bad);
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
static int audit_from_agent(const char *identity, const char *verdict, bool follow, bool json)
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
		if (json && !mf_is_message_line(line, len)) {
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
		} else if (json) {
			print_json(rec);
		} else {
			render_record(rec);
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

static int cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "identity", required_argument, NULL, 'i' },
		{ "verdict", required_argument, NULL, 'v' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "file", required_argument, NULL, 'F' },
		{ "color", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *identity = NULL, *verdict = NULL, *since = NULL, *until = NULL, *file = NULL;
	bool follow = false, json = false;
	int opt;

	optind = 1;
	set_color("auto");
	while ((opt = getopt_long(argc, argv, "fjh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			follow = true;
			break;
		case 'j':
			json = true;
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
		case 'h':
			fputs(audit_help, stdout);
			return 0;
		default:
			fputs(audit_help, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcpfence: unexpected argument '%s'\n%s", argv[optind], audit_help);
		return 2;
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
		return audit_from_file(file, since, until, identity, verdict, json);
	}
	return audit_from_agent(identity, verdict, follow, json);
}

/* ---- ticket ---- */

static const char ticket_help[] =
	"usage: mcpfence ticket --identity ID --server NAME [--ttl SECONDS]\n"
	"\n"
	"Ask the agent for a one-time ticket that lets one `mcpfence run --ticket-fd N`\n"
	"(or --ticket-env VAR) be tagged as ID on NAME, whoever runs it. Only root and\n"
	"the policy's launchers (within their may_assert patterns) obtain tickets for\n"
	"other identities. The ticket is printed on stdout; it expires after --ttl\n"
	"seconds (default 30, at most 60) and is accepted once.\n";

static int cmd_ticket(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "server", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *identity = NULL, *server = NULL;
	long ttl = 30;
	json_t *reply;
	char *end;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
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
		case 'h':
			fputs(ticket_help, stdout);
			return 0;
		default:
			fputs(ticket_help, stderr);
			return 2;
		}
	}
	if (!identity || !server || optind < argc) {
		fputs(ticket_help, stderr);
		return 2;
	}
	reply = call_once(json_pack("{s:s, s:s, s:s, s:I}", "op", "ticket", "identity", identity,
				    "server", server, "ttl", (json_int_t)ttl));
	if (!reply)
		return 1;
	printf("%s\n", json_string_value(json_object_get(reply, "ticket")));
	json_decref(reply);
	return 0;
}

/* ---- uninstall ---- */

static const char uninstall_help[] =
	"usage: mcpfence uninstall [--pin-dir DIR]\n"
	"\n"
	"Stop enforcing: the agent detaches its programs, removes its pins and exits.\n"
	"When no agent answers, the pins under DIR (default /sys/fs/bpf/mcpfence) are\n"
	"removed directly. Governed processes are no longer restricted afterwards.\n";

static int cmd_uninstall(int argc, char **argv)
{
	const char *pin_dir = "/sys/fs/bpf/mcpfence";
	const char *path = mf_socket_path(socket_opt);
	json_t *reply;
	int fd, err;

	if (wants_help(argc, argv)) {
		fputs(uninstall_help, stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--pin-dir") == 0) {
		pin_dir = argv[2];
	} else if (argc != 1) {
		fputs(uninstall_help, stderr);
		return 2;
	}
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

static const struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
} verbs[] = {
	{ "run", cmd_run },
	{ "policy", cmd_policy },
	{ "ps", cmd_ps },
	{ "audit", cmd_audit },
	{ "status", cmd_status },
	{ "whoami", cmd_whoami },
	{ "ticket", cmd_ticket },
	{ "uninstall", cmd_uninstall },
	{ "credential", cmd_credential },
	{ "metrics", cmd_metrics },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_opt = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			mf_print_version(stdout, "mcpfence");
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[optind], verbs[i].name) == 0)
			return verbs[i].run(argc - optind, argv + optind);
	}
	fprintf(stderr, "mcpfence: unknown command '%s'\n%s", argv[optind], usage);
	return 2;
}
