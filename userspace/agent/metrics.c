// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prometheus text exposition (format 0.0.4) of the agent's numbers, for
 * `mcpfence metrics` (the admin-only "metrics" operation): the kernel's
 * counters, audit drops, governed processes, the policy's generation and
 * last load, the control socket's refusals, and decisions by identity,
 * server and verdict.
 *
 * Cardinality is bounded: the per-identity series are counted from the
 * audit records the agent receives (series.c), in a table of
 * MF_METRIC_SERIES_MAX (identity, server, verdict) series; records of further
 * combinations are counted in one series labelled identity="_other",
 * server="_other".
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "control.h"
#include "mcpfence.skel.h"
#include "mf_version.h"

#define MF_STR_(x) #x
#define MF_STR(x) MF_STR_(x)

/* The kernel's counters: name, labels, help. A counter another change adds
 * without a row here is still exported, by index. */
static const struct kernel_metric {
	const char *name;
	const char *labels;
	const char *help;
} kernel_metrics[MF_CNT_MAX] = {
	[MF_CNT_ALLOWED] = { "mcpfence_decisions_total", "verdict=\"allow\"",
			     "Connections and datagrams of governed processes, by verdict." },
	[MF_CNT_DENIED] = { "mcpfence_decisions_total", "verdict=\"deny\"", NULL },
	[MF_CNT_WOULD_DENY] = { "mcpfence_decisions_total", "verdict=\"would-deny\"", NULL },
	[MF_CNT_UNIX_ALLOWED] = { "mcpfence_unix_decisions_total", "verdict=\"allow\"",
				  "Connections and datagrams to unix sockets judged, by verdict." },
	[MF_CNT_UNIX_DENIED] = { "mcpfence_unix_decisions_total", "verdict=\"deny\"", NULL },
	[MF_CNT_AUDIT_DROPPED] = { "mcpfence_audit_ring_dropped_total", "",
				   "Audit records the kernel dropped: its ring buffer was full." },
	[MF_CNT_TAG_INHERITED] = { "mcpfence_tags_total", "how=\"fork\"",
				   "Processes tagged, by how." },
	[MF_CNT_TAG_EXEC] = { "mcpfence_tags_total", "how=\"exec\"", NULL },
	[MF_CNT_TAG_STALE] = { "mcpfence_tags_stale_removed_total", "",
			       "Stale tags of a reused pid removed at fork." },
	[MF_CNT_TAG_FAILED] = { "mcpfence_tag_failures_total", "",
				"Tags that could not be stored (the process was killed)." },
	[MF_CNT_SOCKET_REFUSED] = { "mcpfence_sockets_refused_total", "",
				    "Sockets of families or types the hooks cannot judge." },
	[MF_CNT_KILLED] = { "mcpfence_processes_killed_total", "",
			    "Governed processes killed (no tag, socket, io_uring)." },
	[MF_CNT_SOCKOPT_REFUSED] = { "mcpfence_sockopts_refused_total", "",
				     "Socket options that reroute packets, refused." },
	[MF_CNT_SOURCE_ROUTE_DROPPED] = { "mcpfence_source_routed_dropped_total", "",
					  "Source-routed packets of governed sockets dropped." },
	[MF_CNT_BIND_DENIED] = { "mcpfence_binds_denied_total", "",
				 "bind() to ports the server may not listen on, refused." },
	[MF_CNT_LISTEN_DROPPED] = { "mcpfence_listen_dropped_total", "",
				    "Segments to governed listeners on ungranted ports, dropped." },
	[MF_CNT_TAG_UNHARDENED] = { "mcpfence_tags_unhardened_inherited_total", "",
				    "Tags inherited from exec-tagged or unhardened parents." },
	[MF_CNT_FLOWS_FULL] = { "mcpfence_audit_flows_full_total", "",
				"Decisions recorded one by one: the flows map was full." },
	[MF_CNT_DNS_REDIRECTED] = { "mcpfence_dns_redirected_total", "",
				    "Port-53 connects and datagrams sent to the agent's resolver." },
	[MF_CNT_DNS_NO_RESOLVER] = { "mcpfence_dns_no_resolver_total", "",
				     "Port-53 traffic refused: no resolver was serving." },
	[MF_CNT_LEARNED_ALLOWED] = { "mcpfence_allowed_by_name_total", "",
				     "Decisions allowed by an address learned from a name." },
};

static const char *verdict_label(uint8_t verdict)
{
	return verdict == MF_ALLOW ? "allow" : verdict == MF_WOULD_DENY ? "would-deny" : "deny";
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void kernel_counters(struct agent *a, FILE *f)
{
	uint64_t c[MF_CNT_MAX] = {};

	if (bpf_read_counters(a, c))
		return; /* the scrape then lacks them: no zeros that look true */
	for (int i = 0; i < MF_CNT_MAX; i++) {
		const struct kernel_metric *m = &kernel_metrics[i];

		if (!m->name)
			continue;
		if (m->help)
			head(f, m->name, "counter", m->help);
		fprintf(f, "%s%s%s%s %llu\n", m->name, *m->labels ? "{" : "", m->labels,
			*m->labels ? "}" : "", (unsigned long long)c[i]);
	}
	/* A kernel counter added without a metric still shows, by index
	 * (tests/e2e/98-ops-metrics.t fails while one is unnamed). */
	head(f, "mcpfence_kernel_unnamed_total", "counter",
	     "Kernel counters without a metric of their own, by index.");
	for (int i = 0; i < MF_CNT_MAX; i++) {
		if (!kernel_metrics[i].name)
			fprintf(f, "mcpfence_kernel_unnamed_total{index=\"%d\"} %llu\n", i,
				(unsigned long long)c[i]);
	}
}

static void decision_series(struct agent *a, FILE *f)
{
	char ident[MF_NAME_MAX];

	head(f, "mcpfence_audited_decisions_total", "counter",
	     "Decisions received as audit records, by identity, server and verdict "
	     "(allowed ones only when the policy audits them; at most " MF_STR(
		     MF_METRIC_SERIES_MAX) " series, the rest under \"_other\").");
	for (size_t i = 0; i < MF_METRIC_SLOTS; i++) {
		const struct metric_series *s = &a->series[i];

		if (!s->used)
			continue;
		fputs("mcpfence_audited_decisions_total{identity=\"", f);
		put_label(f, identity_name(a, s->identity_id, ident, sizeof(ident)));
		fputs("\",server=\"", f);
		put_label(f, server_name(a, s->server_id));
		fprintf(f, "\",verdict=\"%s\"} %llu\n", verdict_label(s->verdict),
			(unsigned long long)s->n);
	}
	for (uint8_t v = 0; v <= MF_WOULD_DENY; v++) {
		if (a->series_other[v])
			fprintf(f,
				"mcpfence_audited_decisions_total{identity=\"_other\","
				"server=\"_other\",verdict=\"%s\"} %llu\n",
				verdict_label(v), (unsigned long long)a->series_other[v]);
	}
}

static void gauge(FILE *f, const char *name, const char *help, double v)
{
	head(f, name, "gauge", help);
	fprintf(f, "%s %.15g\n", name, v);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	head(f, name, "counter", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

static void policy_metrics(struct agent *a, FILE *f)
{
	const struct last_load *l = &a->last_load;

	gauge(f, "mcpfence_policy_generation", "Generation of the policy in force.",
	      a->current.generation);
	gauge(f, "mcpfence_policy_last_load_success",
	      "Whether the last load attempt (start, SIGHUP, policy load) succeeded.",
	      l->attempts ? l->ok : 1);
	gauge(f, "mcpfence_policy_last_success_timestamp_seconds",
	      "When the policy in force was loaded (0: it was adopted from pins).",
	      l->ok_at_ns / 1e9);
	gauge(f, "mcpfence_policy_load_duration_seconds",
	      "How long the last successful load took: parse, compile, write, flip.",
	      l->duration_ns / 1e9);
	head(f, "mcpfence_policy_loads_total", "counter", "Policy load attempts, by result.");
	fprintf(f, "mcpfence_policy_loads_total{result=\"ok\"} %llu\n",
		(unsigned long long)(l->attempts - l->failures));
	fprintf(f, "mcpfence_policy_loads_total{result=\"failed\"} %llu\n",
		(unsigned long long)l->failures);
}

static void audit_metrics(struct agent *a, FILE *f)
{
	const struct audit_log *l = &a->log;
	size_t subscribers = 0;

	for (struct client *c = a->clients; c; c = c->next)
		subscribers += c->subscribed;
	counter(f, "mcpfence_audit_log_records_total", "Audit records written to the log file.",
		l->logged);
	counter(f, "mcpfence_audit_records_lost_total",
		"Audit records the agent lost: not formatted, or the log buffer was full.",
		l->lost);
	counter(f, "mcpfence_audit_log_write_errors_total", "Failed writes to the audit log.",
		l->errors);
	gauge(f, "mcpfence_audit_log_failing", "Whether writing the audit log fails now.",
	      l->failing);
	counter(f, "mcpfence_audit_log_reopens_total", "Audit log reopened (SIGHUP, SIGUSR1).",
		l->reopened);
	head(f, "mcpfence_audit_syslog_records_total", "counter",
	     "Audit records sent to the journal or syslog (--audit-syslog), by outcome.");
	fprintf(f, "mcpfence_audit_syslog_records_total{outcome=\"sent\"} %llu\n",
		(unsigned long long)a->syslog.sent);
	fprintf(f, "mcpfence_audit_syslog_records_total{outcome=\"lost\"} %llu\n",
		(unsigned long long)a->syslog.lost);
	gauge(f, "mcpfence_audit_subscribers", "Clients following the audit stream.", subscribers);
}

/* The control socket's numbers, named as control_status() names them. */
static void client_metrics(struct agent *a, FILE *f)
{
	json_t *st = control_status(a), *v;
	const char *k;

	head(f, "mcpfence_control_clients", "gauge", "Control socket clients now, by kind.");
	fprintf(f, "mcpfence_control_clients{kind=\"users\"} %lld\n",
		(long long)json_integer_value(json_object_get(st, "users")));
	fprintf(f, "mcpfence_control_clients{kind=\"root\"} %lld\n",
		(long long)json_integer_value(json_object_get(st, "root")));
	head(f, "mcpfence_control_refused_total", "counter",
	     "Control socket connections refused, by reason.");
	json_object_foreach(json_object_get(st, "refused"), k, v)
		fprintf(f, "mcpfence_control_refused_total{reason=\"%s\"} %lld\n", k,
			(long long)json_integer_value(v));
	head(f, "mcpfence_control_closed_total", "counter",
	     "Control socket clients closed by the agent, by reason.");
	json_object_foreach(json_object_get(st, "closed"), k, v)
		fprintf(f, "mcpfence_control_closed_total{reason=\"%s\"} %lld\n", k,
			(long long)json_integer_value(v));
	json_decref(st);
}

/* The whole exposition, to free(); NULL when out of memory. */
char *metrics_text(struct agent *a, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	head(f, "mcpfence_build_info", "gauge", "The agent's version, commit and libbpf.");
	fprintf(f, "mcpfence_build_info{version=\"%s\",commit=\"%s\",libbpf=\"%u.%u\"} 1\n",
		MF_VERSION, MF_COMMIT, libbpf_major_version(), libbpf_minor_version());
	gauge(f, "mcpfence_governed_processes", "Processes tagged now.",
	      map_count(bpf_map__fd(a->skel->maps.tags)));
	kernel_counters(a, f);
	decision_series(a, f);
	policy_metrics(a, f);
	audit_metrics(a, f);
	client_metrics(a, f);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}
