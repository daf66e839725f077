// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mcpfence: the control CLI. Every verb but `policy check` talks to the
 * agent over its control socket.
 */
#include <errno.h>
#include <libsmartcols.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "explain.h"
#include "file.h"
#include "pins.h"
#include "policy.h"
#include "proto.h"
#include "session.h"
#include "verbs.h"
#include "version.h"

static const struct cli_verb global, verbs[];

/* ---- policy ---- */

static int cmd_policy_check(const struct cli_verb *v, int argc, char **argv)
{
	int rc = cli_only_operands(v, argc, argv, 1);
	const char *path = argv[optind];
	struct mf_compiled *compiled;
	struct mf_policy *policy;
	char err[MF_ERR_MAX];
	size_t entries = 0, tables = 0;

	if (rc >= 0)
		return rc;

	if (mf_policy_check_file(path, &policy, &compiled, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (size_t i = 0; i < compiled->nrulesets; i++) {
		entries += compiled->rulesets[i].nentries;
		tables += compiled->rulesets[i].ntables;
	}
	printf("%s: ok: %zu servers, %zu rules, %zu rulesets, %zu kernel entries, %zu segment "
	       "tables\n",
	       path, policy->nservers, policy->nrules, compiled->nrulesets, entries, tables);
	mf_compiled_free(compiled);
	mf_policy_free(policy);
	return 0;
}

static int cmd_policy_load(const struct cli_verb *v, int argc, char **argv)
{
	int rc = cli_only_operands(v, argc, argv, 1);
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
	int rc = cli_only_operands(v, argc, argv, 0);
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
			*rc = cli_verb_help(v, opt != 'h');
			return NULL;
		}
		*json = true;
	}
	if (optind < argc) {
		fprintf(stderr, "mcpfence: unexpected argument '%s'\n", argv[optind]);
		*rc = cli_verb_help(v, true);
		return NULL;
	}
	reply = call_once(json_pack("{s:s}", "op", op));
	if (!reply)
		*rc = 1;
	return reply;
}

static const char ps_text[] = "List governed processes: pid, identity, server, how it was tagged,\n"
			      "command. Root sees all; other users their own processes.\n";

/* One line per process, by libsmartcols: columns sized to the content, the
 * command truncated to the terminal's width, or (raw) one space between
 * columns for scripts. */
static int ps_table(json_t *procs, bool raw)
{
	static const struct {
		const char *name;
		double width; /* a hint, as a fraction of the terminal's */
		int flags;
	} cols[] = {
		{ "PID", 0.08, SCOLS_FL_RIGHT },
		{ "IDENTITY", 0.2, 0 },
		{ "SERVER", 0.12, 0 },
		{ "TAGGED-BY", 0.08, 0 },
		{ "COMMAND", 0.5, SCOLS_FL_TRUNC },
	};
	struct libscols_table *tb = scols_new_table();
	json_t *p;
	size_t i;
	int err = 0;

	if (!tb)
		return -ENOMEM;
	scols_table_enable_raw(tb, raw);
	for (i = 0; i < sizeof(cols) / sizeof(cols[0]) && !err; i++)
		if (!scols_table_new_column(tb, cols[i].name, cols[i].width, cols[i].flags))
			err = -ENOMEM;
	json_array_foreach(procs, i, p) {
		struct libscols_line *ln = err ? NULL : scols_table_new_line(tb, NULL);
		const char *cmd = json_string_value(json_object_get(p, "cmdline"));
		char pid[24];

		if (!ln) {
			err = -ENOMEM;
			break;
		}
		snprintf(pid, sizeof(pid), "%lld",
			 (long long)json_integer_value(json_object_get(p, "pid")));
		if (scols_line_set_data(ln, 0, pid) ||
		    scols_line_set_data(ln, 1, json_string_value(json_object_get(p, "identity"))) ||
		    scols_line_set_data(ln, 2, json_string_value(json_object_get(p, "server"))) ||
		    scols_line_set_data(ln, 3,
					json_string_value(json_object_get(p, "tagged_by"))) ||
		    scols_line_set_data(
			    ln, 4,
			    cmd && *cmd ? cmd : json_string_value(json_object_get(p, "comm"))))
			err = -ENOMEM;
	}
	if (!err)
		err = scols_print_table(tb);
	scols_unref_table(tb);
	return err;
}

static int cmd_ps(const struct cli_verb *v, int argc, char **argv)
{
	bool json = false, raw = false;
	json_t *reply, *p, *procs;
	int opt, err;
	size_t i;

	optind = 1;
	while ((opt = cli_getopt(v, argc, argv)) != -1) {
		if (opt == 'j')
			json = true;
		else if (opt == 'r')
			raw = true;
		else
			return cli_verb_help(v, opt != 'h');
	}
	if (optind < argc) {
		fprintf(stderr, "mcpfence: unexpected argument '%s'\n", argv[optind]);
		return cli_verb_help(v, true);
	}
	reply = call_once(json_pack("{s:s}", "op", "ps"));
	if (!reply)
		return 1;
	procs = json_object_get(reply, "processes");
	err = 0;
	if (json) {
		json_array_foreach(procs, i, p)
			print_json(p);
	} else {
		err = ps_table(procs, raw);
		if (err)
			fprintf(stderr, "mcpfence: cannot print the table: %s\n", strerror(-err));
	}
	json_decref(reply);
	return err ? 1 : 0;
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
	json_t *reply, *pol, *cnt, *progs, *v, *prog, *scope;
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
	int rc = cli_only_operands(v, argc, argv, 1);
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
	int rc = cli_only_operands(v, argc, argv, 0);
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
			return cli_verb_help(v, opt != 'h');
		}
	}
	if (!identity || !server || optind < argc)
		return cli_verb_help(v, true);
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
	const char *path = mf_socket_path(session_socket_opt);
	json_t *reply;
	int fd, err, opt;

	optind = 1;
	while ((opt = cli_getopt(v, argc, argv)) != -1) {
		if (opt != 'p')
			return cli_verb_help(v, opt != 'h');
		pin_dir = optarg;
	}
	if (optind < argc)
		return cli_verb_help(v, true);
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

static const struct cli_opt ps_opts[] = {
	CLI_FLAG("json", 'j', "one JSON object per line"),
	CLI_FLAG("raw", 'r', "columns separated by one space, nothing truncated (for scripts)"),
	{},
};

static const struct cli_opt json_opts[] = {
	CLI_FLAG("json", 'j', "one JSON object per line"),
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
		.args = "[--json | --raw]",
		.summary = "list governed processes",
		.text = ps_text,
		.opts = ps_opts,
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
		return cli_verb_help(v, argc < 2 || cli_getopt(v, argc, argv) != 'h');
	}
	if (!parent) {
		fprintf(stderr, "mcpfence: unknown command '%s'\n", argv[0]);
		cli_print_usage(stderr, &global, verbs);
		return 2;
	}
	fprintf(stderr, "mcpfence: unknown %s subcommand '%s'\n", parent->name, argv[0]);
	return cli_verb_help(parent, true);
}

int main(int argc, char **argv)
{
	int opt;

	cli_set_verbs(verbs);
	while ((opt = cli_getopt(&global, argc, argv)) != -1) {
		switch (opt) {
		case 's':
			session_socket_opt = optarg;
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
