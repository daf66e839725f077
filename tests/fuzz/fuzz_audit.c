// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness, differential: whole kernel audit records. The input is
 * an mf_event (or an mf_unix_event) as the ring buffer would deliver it, any
 * bytes (comm with control bytes, non-ASCII and cut UTF-8, socket names with
 * NULs, any type, verdict, family); userspace/agent/audit.c writes its JSON
 * line by hand (jline.c), and jansson must find in it a valid JSON object
 * that it writes back as the same bytes (json_dumps, JSON_COMPACT: how the
 * agent writes its own records). Also: the line is one line, "schema" is 1,
 * and a comm that is valid UTF-8 comes back unchanged.
 *
 * audit.c is linked whole; what it calls of the rest of the agent and of
 * libbpf is stood in for here: the ring buffer's callback is captured by the
 * stand-in of ring_buffer__new, and records are caught by a sink.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mcpfence.skel.h"
#include "fuzz.h"

/* ---- stand-ins ---- */
static ring_buffer_sample_fn captured;
static void *captured_ctx;

struct ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx,
				     const struct ring_buffer_opts *opts)
{
	static char rb;

	(void)map_fd;
	(void)opts;
	captured = sample_cb;
	captured_ctx = ctx;
	return (struct ring_buffer *)&rb;
}
int ring_buffer__consume(struct ring_buffer *rb)
{
	(void)rb;
	return 0;
}
void ring_buffer__free(struct ring_buffer *rb)
{
	(void)rb;
}
int bpf_map__fd(const struct bpf_map *map)
{
	(void)map;
	return -1;
}
int audit_syslog_open(struct agent *a)
{
	(void)a;
	return 0;
}
void audit_syslog_close(struct agent *a)
{
	(void)a;
}
void audit_syslog_record(struct agent *a, const struct audit_record *rec)
{
	(void)a;
	(void)rec;
}
void metrics_count(struct agent *a, uint32_t identity, uint32_t server, uint8_t verdict)
{
	(void)a;
	(void)identity;
	(void)server;
	(void)verdict;
}
void bpf_flows_sweep(struct agent *a, bool all)
{
	(void)a;
	(void)all;
}
/* Names as the policy allows them, and one that a process cannot choose. */
const char *server_name(struct agent *a, uint32_t id)
{
	(void)a;
	return id % 2 ? "fetch" : "(unknown)";
}
const char *identity_name(struct agent *a, uint32_t id, char *buf, size_t len)
{
	(void)a;
	snprintf(buf, len, "alice+%u@example.com", id);
	return buf;
}
const char *learned_name(struct agent *a, uint32_t identity_id, uint32_t server_id, uint8_t family,
			 const uint8_t *addr)
{
	(void)a;
	(void)identity_id;
	(void)server_id;
	(void)family;
	return addr[0] % 2 ? "api.example.com" : NULL;
}

/* ---- the sink: the last record's line ---- */
static char line[2048];
static size_t line_len;

static void sink_record(void *ctx, const struct audit_record *rec)
{
	(void)ctx;
	if (rec->len >= sizeof(line))
		die("a record of %zu bytes", rec->len);
	memcpy(line, rec->line, rec->len);
	line_len = rec->len;
}
static void sink_flush(void *ctx)
{
	(void)ctx;
}
static const struct audit_sink sink = { .record = sink_record, .flush = sink_flush };

static struct agent *agent(void)
{
	static struct agent *a;
	static struct mcpfence_bpf skel;

	if (a)
		return a;
	a = calloc(1, sizeof(*a));
	if (!a)
		abort();
	a->skel = &skel;
	if (audit_setup(a))
		die("audit_setup failed");
	audit_set_sink(a, &sink, NULL);
	return a;
}

/* The comm as the kernel leaves it: up to its first NUL. */
static void check_comm(const json_t *rec, const struct mf_event *e)
{
	size_t n = strnlen(e->comm, sizeof(e->comm));
	json_t *orig = json_stringn(e->comm, n);
	const json_t *got = json_object_get(rec, "comm");

	if (!json_is_string(got))
		die("no comm");
	if (orig && !json_equal(orig, got))
		die("a comm in valid UTF-8 changed");
	json_decref(orig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent *a = agent();
	struct mf_unix_event u = {};
	struct audit_record *kept;
	json_error_t err;
	json_t *rec;
	char *dump;

	if (size < sizeof(struct mf_event))
		return 0;
	if (size > sizeof(u))
		size = sizeof(u);
	memcpy(&u, data, size);
	/* CLOCK_BOOTTIME, as the kernel gives it: below 2^62 ns (146 years). */
	u.ev.ts_ns &= (1ULL << 62) - 1;
	line_len = 0;
	captured(captured_ctx, &u, size);
	/* The history keeps each line: give it back, or libFuzzer's leak check
	 * runs after every input. */
	kept = &a->history[(a->history_next + MF_HISTORY_MAX - 1) % MF_HISTORY_MAX];
	free(kept->line);
	kept->line = NULL;
	if (!line_len)
		return 0; /* did not fit a line: counted as lost, not written */
	if (line[line_len - 1] != '\n' || memchr(line, '\n', line_len - 1))
		die("not one line: %.*s", (int)line_len, line);
	rec = json_loadb(line, line_len - 1, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (!rec)
		die("jansson cannot parse the record: %s: %.*s", err.text, (int)line_len, line);
	dump = json_dumps(rec, JSON_COMPACT);
	if (!dump || strlen(dump) != line_len - 1 || memcmp(dump, line, line_len - 1))
		die("jansson writes other bytes:\n  writer:  %.*s  jansson: %s", (int)line_len,
		    line, dump ? dump : "(null)");
	if (json_integer_value(json_object_get(rec, "schema")) != MF_AUDIT_SCHEMA)
		die("no schema %d", MF_AUDIT_SCHEMA);
	check_comm(rec, &u.ev);
	free(dump);
	json_decref(rec);
	return 0;
}
