// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Audit records: from the kernel's ring buffer (and from the agent itself)
 * to the log file, the recent-history ring and every subscriber.
 * Nothing is lost silently: the kernel counts what found the ring full, the
 * agent counts failed log writes, and each subscriber is told its drops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mcpfence.skel.h"

static int64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void format_ts(int64_t real_ns, char *buf, size_t len)
{
	time_t sec = real_ns / 1000000000;
	struct tm tm;
	char date[32];

	gmtime_r(&sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", date, (int)((real_ns / 1000000) % 1000));
}

void audit_now_ts(char *buf, size_t len)
{
	format_ts(clock_ns(CLOCK_REALTIME), buf, len);
}

static const char *event_name(uint8_t type)
{
	switch (type) {
	case MF_EV_CONNECT:
		return "connect";
	case MF_EV_SENDMSG:
		return "sendmsg";
	case MF_EV_SOCKET:
		return "socket";
	case MF_EV_SOCKET_KILL:
		return "socket-kill";
	case MF_EV_TAG_EXEC:
		return "tag-exec";
	case MF_EV_TAG_LOST:
		return "tag-lost";
	default:
		return "unknown";
	}
}

static const char *verdict_name(uint8_t verdict)
{
	switch (verdict) {
	case MF_ALLOW:
		return "allow";
	case MF_WOULD_DENY:
		return "would-deny";
	default:
		return "deny";
	}
}

/* The rule that decided, named from the policy generation that decided. */
static const char *rule_name(struct agent *a, uint32_t generation, uint16_t rule, char *buf,
			     size_t len)
{
	const struct loaded_policy *lp = NULL;

	if (rule == MF_RULE_DEFAULT)
		return "(default)";
	if (a->current.policy && a->current.generation == generation)
		lp = &a->current;
	else if (a->previous.policy && a->previous.generation == generation)
		lp = &a->previous;
	if (lp && rule < lp->policy->nrules)
		return lp->policy->rules[rule].name;
	snprintf(buf, len, "#%u@%u", rule, generation);
	return buf;
}

static json_t *event_to_json(struct agent *a, const struct mf_event *e)
{
	char ts[64], ident[MF_NAME_MAX], rbuf[32], addr[INET6_ADDRSTRLEN];
	char comm[sizeof(e->comm) + 1];
	json_t *rec;

	memcpy(comm, e->comm, sizeof(e->comm));
	comm[sizeof(e->comm)] = '\0';
	format_ts((int64_t)e->ts_ns + a->boot_to_real_ns, ts, sizeof(ts));
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "ts", ts, "event",
			event_name(e->type), "verdict", verdict_name(e->verdict), "identity",
			identity_name(a, e->identity_id, ident, sizeof(ident)), "server",
			server_name(a, e->server_id), "pid", (json_int_t)e->tgid, "tid",
			(json_int_t)e->pid, "comm", comm);
	if (!rec)
		return NULL;
	switch (e->type) {
	case MF_EV_CONNECT:
	case MF_EV_SENDMSG:
		inet_ntop(e->family == MF_FAMILY_V4 ? AF_INET : AF_INET6, e->addr, addr,
			  sizeof(addr));
		json_object_set_new(rec, "family",
				    json_string(e->family == MF_FAMILY_V4 ? "ipv4" : "ipv6"));
		json_object_set_new(rec, "proto",
				    e->proto == IPPROTO_TCP ? json_string("tcp") :
				    e->proto == IPPROTO_UDP ? json_string("udp") :
							      json_integer(e->proto));
		json_object_set_new(rec, "addr", json_string(addr));
		json_object_set_new(rec, "port", json_integer(e->port));
		json_object_set_new(rec, "rule",
				    json_string(rule_name(a, e->generation, e->rule, rbuf,
							  sizeof(rbuf))));
		break;
	case MF_EV_SOCKET:
	case MF_EV_SOCKET_KILL:
		json_object_set_new(rec, "socket_family", json_integer(e->family));
		json_object_set_new(rec, "socket_type", json_integer(e->aux));
		json_object_set_new(rec, "protocol", json_integer(e->proto));
		break;
	case MF_EV_TAG_LOST:
		if (e->aux)
			json_object_set_new(rec, "child", json_integer(e->aux));
		break;
	}
	return rec;
}

/* Identity and verdict filters of `mcpfence audit`; NULL matches all. */
bool audit_filter_match(const json_t *record, const char *identity, const char *verdict)
{
	const char *v;

	if (identity) {
		v = json_string_value(json_object_get(record, "identity"));
		if (!v || strcmp(v, identity))
			return false;
	}
	if (verdict) {
		v = json_string_value(json_object_get(record, "verdict"));
		if (!v || strcmp(v, verdict))
			return false;
	}
	return true;
}

void audit_emit(struct agent *a, json_t *record)
{
	size_t len;
	char *line;

	if (!json_object_get(record, "ts")) {
		char ts[64];

		audit_now_ts(ts, sizeof(ts));
		json_object_set_new(record, "ts", json_string(ts));
	}
	line = mf_json_line(record, &len);
	if (!line) {
		a->log_errors++;
		json_decref(record);
		return;
	}
	if (a->audit_log) {
		if (fwrite(line, 1, len, a->audit_log) != len)
			a->log_errors++;
		else
			a->records_logged++;
	}
	control_broadcast(a, record, line, len);
	free(line);

	/* History keeps the record itself (for filtering on replay). */
	json_decref(a->history[a->history_next]);
	a->history[a->history_next] = record;
	a->history_next = (a->history_next + 1) % MF_HISTORY_MAX;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;
	json_t *rec;

	if (size < sizeof(struct mf_event))
		return 0;
	rec = event_to_json(a, data);
	if (!rec) {
		a->log_errors++;
		return 0;
	}
	audit_emit(a, rec);
	return 0;
}

int audit_setup(struct agent *a)
{
	a->boot_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
	if (a->opt.audit_log) {
		a->audit_log = fopen(a->opt.audit_log, "ae");
		if (!a->audit_log) {
			fprintf(stderr, "mcpfenced: cannot open audit log %s: %s\n",
				a->opt.audit_log, strerror(errno));
			return -errno;
		}
	}
	a->ringbuf = ring_buffer__new(bpf_map__fd(a->skel->maps.events), on_event, a, NULL);
	if (!a->ringbuf) {
		fprintf(stderr, "mcpfenced: cannot open the audit ring buffer: %s\n",
			strerror(errno));
		return -errno;
	}
	return 0;
}

int audit_poll(struct agent *a)
{
	int n = ring_buffer__consume(a->ringbuf);

	if (a->audit_log && fflush(a->audit_log))
		a->log_errors++;
	return n < 0 ? n : 0;
}

void audit_teardown(struct agent *a)
{
	if (a->ringbuf) {
		/* What is in the ring now still reaches the log. */
		audit_poll(a);
		ring_buffer__free(a->ringbuf);
		a->ringbuf = NULL;
	}
	if (a->audit_log)
		fclose(a->audit_log);
	a->audit_log = NULL;
	for (size_t i = 0; i < MF_HISTORY_MAX; i++) {
		json_decref(a->history[i]);
		a->history[i] = NULL;
	}
}
