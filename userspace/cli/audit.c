// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mcpfence audit: records from the agent (recent, then followed) or from the
 * log file, for people, as JSON or as OCSF events. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit_file.h"
#include "cmdline.h"
#include "ocsf.h"
#include "proto.h"
#include "session.h"
#include "verbs.h"

const char audit_text[] =
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

int cmd_audit(const struct cli_verb *v, int argc, char **argv)
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
			return cli_verb_help(v, opt != 'h');
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcpfence: unexpected argument '%s'\n", argv[optind]);
		return cli_verb_help(v, true);
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

const struct cli_opt audit_opts[] = {
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
