// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mcpfence: the control CLI. Every verb but `policy check` talks to the
 * agent over its control socket.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "explain.h"
#include "harden.h"
#include "pins.h"
#include "file.h"
#include "policy.h"
#include "proto.h"

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
	"  whoami [--json]        the identity and server of this process, if governed\n"
	"  ticket --identity ID --server NAME [--ttl S]\n"
	"                         a one-time ticket for `run --ticket-fd` (trusted hosts)\n"
	"  uninstall [--pin-dir DIR]\n"
	"                         stop enforcing: detach programs and remove pins (root)\n"
	"\n"
	"Options:\n"
	"  --socket PATH          agent control socket (default: $MCPFENCE_SOCKET, else\n"
	"                         " MF_DEFAULT_SOCKET ")\n"
	"  -h, --help             show help; `mcpfence COMMAND --help` for a command\n";

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
		fprintf(stderr, "mcpfence: cannot reach the agent at %s: %s (is mcpfenced running?)\n",
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

/* Send req (consumed) and return the reply when ok, else print the error. */
static json_t *session_call(struct session *s, json_t *req)
{
	json_t *reply = NULL;
	int err = mf_client_call(s->fd, &s->lb, req, &reply);

	json_decref(req);
	if (err) {
		fprintf(stderr, "mcpfence: no answer from the agent: %s\n", strerror(-err));
		return NULL;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *msg = json_string_value(json_object_get(reply, "error"));

		fprintf(stderr, "mcpfence: %s\n", msg ? msg : "the agent refused without a reason");
		json_decref(reply);
		return NULL;
	}
	return reply;
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

static const char policy_help[] = "usage: mcpfence policy check FILE\n"
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
	"                  drop of --allow-root included (audited)\n"
	"\n"
	"Hardening, after the tag and before exec (CMD and its descendants inherit it,\n"
	"none can undo it): no_new_privs; a seccomp filter that refuses ptrace,\n"
	"process_vm_readv/writev, pidfd_getfd, bpf, perf_event_open, setns and new user\n"
	"namespaces (EPERM; clone3 gets ENOSYS so libc falls back to clone), the\n"
	"terminal ioctls TIOCSTI and TIOCLINUX (EPERM), sockets of families other than\n"
	"Unix, IPv4, IPv6 and netlink (EAFNOSUPPORT), and io_uring_setup (EPERM) unless\n"
	"the policy gives the server \"io_uring\": true; a Landlock domain that refuses\n"
	"signals to, and abstract Unix socket connections to, processes outside it. If\n"
	"it cannot be applied, CMD is not started.\n";

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
				fprintf(stderr, "mcpfence: --ticket-fd %d: %s\n", fd, strerror(errno));
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
				"mcpfence: --allow-root: %s runs as root with no capabilities\n", cmd);
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

/* Ask the agent to tag this process; says what will be applied, learns what
 * the policy allows the server. Frees h on failure. */
static int run_tag(const char *identity, const char *server, const char *ticket, bool harden,
		   bool root, struct mf_harden *h, const char *cmd)
{
	json_t *req, *reply;
	struct session s;

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
	reply = session_call(&s, req);
	session_close(&s);
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
	struct mf_harden h = { .ruleset_fd = -1 };
	char err[256];
	int opt;

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
				fprintf(stderr, "mcpfence: --ticket-fd takes a file descriptor number\n");
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
	if (optind >= argc) {
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
	root = running_as_root();
	if (root && !allow_root) {
		fprintf(stderr,
			"mcpfence: refusing to start %s as root: a root server can undo what "
			"fences it. Run it as an ordinary user (e.g. `runuser -u USER -- mcpfence "
			"run ...`), or pass --allow-root to run it as root without capabilities\n",
			argv[optind]);
		return 1;
	}
	/* Everything that can fail before the tag does; the tag request says
	 * what will be applied, so the audit record tells. */
	if (harden && mf_harden_prepare(&h, err, sizeof(err))) {
		fprintf(stderr,
			"mcpfence: %s; refusing to start %s (--no-harden skips hardening)\n", err,
			argv[optind]);
		return 1;
	}
	if (!harden)
		fprintf(stderr,
			"mcpfence: warning: --no-harden: %s runs without launcher hardening%s\n",
			argv[optind], root ? ", as root with all its capabilities" : "");
	if (harden && !mf_harden_has_landlock(&h)) {
		fprintf(stderr,
			"mcpfence: %s: the kernel's Landlock ABI is %d, scopes need %d: %s may "
			"signal and reach abstract Unix sockets of ungoverned processes\n",
			require_landlock ? "error" : "warning", h.landlock_abi,
			MF_LANDLOCK_ABI_SCOPES, argv[optind]);
		if (require_landlock) {
			fprintf(stderr, "mcpfence: refusing to start %s (--require-landlock)\n",
				argv[optind]);
			return 1;
		}
	}
	if (run_tag(identity, server, ticket, harden, root, &h, argv[optind]))
		return 1;
	if (run_harden(&h, harden, root, argv[optind]))
		return 1;
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "mcpfence: cannot run %s: %s\n", argv[optind], strerror(errno));
	return 127;
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
		json_array_foreach(json_object_get(reply, "processes"), i, p)
		{
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
		       json_string_value(json_object_get(dns, "error")) ?:
			       json_string_value(json_object_get(dns, "why")) ?: "unknown");
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

static int cmd_status(int argc, char **argv)
{
	json_t *reply, *pol, *cnt, *progs, *v, *prog;
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
	if (json_is_true(json_object_get(pol, "loaded")))
		printf("policy:    %s, generation %lld, mode %s, %lld rules\n",
		       json_string_value(json_object_get(pol, "source")),
		       (long long)json_integer_value(json_object_get(pol, "generation")),
		       json_string_value(json_object_get(pol, "mode")),
		       (long long)json_integer_value(json_object_get(pol, "rules")));
	else
		printf("policy:    none loaded (governed processes are denied everything)\n");
	printf("governed:  %lld processes, %lld audit subscribers\n",
	       (long long)json_integer_value(json_object_get(reply, "governed_processes")),
	       (long long)json_integer_value(json_object_get(reply, "subscribers")));
	print_clients_and_log(reply);
	printf("programs: ");
	json_array_foreach(progs, i, prog)
		printf(" %s%s", json_string_value(json_object_get(prog, "section")),
		       json_is_true(json_object_get(prog, "pinned")) ? "" : "(NOT PINNED)");
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

/* ---- audit ---- */

static const char audit_help[] =
	"usage: mcpfence audit [--follow] [--json] [--identity ID] [--verdict V]\n"
	"\n"
	"Show the agent's recent audit records, one per line: time, verdict, identity,\n"
	"server, pid/command, destination, rule. With --follow, keep printing new ones.\n"
	"Root sees every record; other users only those of their own identity.\n"
	"\n"
	"  --follow         keep the stream open\n"
	"  --json           one JSON object per record\n"
	"  --identity ID    only records of ID\n"
	"  --verdict V      only allow, deny or would-deny (audit mode) records\n";

static void render_record(const json_t *r)
{
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

		snprintf(dest, sizeof(dest), "%s %s%s%s:%lld", proto ? proto : "?",
			 v6 ? "[" : "", addr, v6 ? "]" : "",
			 (long long)json_integer_value(json_object_get(r, "port")));
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
			 (long long)json_integer_value(json_object_get(r, "pid")), comm ? comm : "-");
	else
		snprintf(who, sizeof(who), "-");
	printf("%-24s %-10s %-24s %-12s %-22s %-28s %s\n",
	       json_string_value(json_object_get(r, "ts")) ?: "-",
	       json_string_value(json_object_get(r, "verdict")) ?: "-",
	       json_string_value(json_object_get(r, "identity")) ?: "-",
	       json_string_value(json_object_get(r, "server")) ?: "-", who, dest, rule ? rule : "");
}

static bool is_control_line(const char *line)
{
	return !strncmp(line, "{\"ok\"", 5) || !strncmp(line, "{\"dropped\"", 10) ||
	       !strncmp(line, "{\"end\"", 6);
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

static int cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },    { "json", no_argument, NULL, 'j' },
		{ "identity", required_argument, NULL, 'i' },
		{ "verdict", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },      {},
	};
	const char *identity = NULL, *verdict = NULL;
	bool follow = false, json = false;
	char err[256], *line;
	struct session s;
	json_t *req, *reply, *rec;
	size_t len;
	int opt, r;

	optind = 1;
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
		/* Records pass through as the agent wrote them; only control
		 * messages ({"ok"..., {"dropped"..., {"end"...) are parsed. */
		if (json && !is_control_line(line)) {
			fwrite(line, 1, len, stdout);
			putchar('\n');
			continue;
		}
		rec = mf_json_parse_object(line, len, err, sizeof(err));
		if (!rec) {
			r = -EPROTO;
			break;
		}
		if (json_is_true(json_object_get(rec, "end"))) {
			json_decref(rec);
			break;
		}
		if (json_object_get(rec, "dropped")) {
			fprintf(stderr, "mcpfence: %lld audit records were dropped for this reader\n",
				(long long)json_integer_value(json_object_get(rec, "dropped")));
		} else if (json) {
			print_json(rec);
		} else {
			render_record(rec);
		}
		json_decref(rec);
	}
	fflush(stdout);
	session_close(&s);
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
	{ "run", cmd_run },       { "policy", cmd_policy }, { "ps", cmd_ps },
	{ "audit", cmd_audit },   { "status", cmd_status }, { "whoami", cmd_whoami },
	{ "ticket", cmd_ticket }, { "uninstall", cmd_uninstall },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
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
