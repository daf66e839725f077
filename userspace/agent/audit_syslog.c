// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --audit-syslog: every audit record also to the journal, with structured
 * fields, or to syslog where there is no journal.
 *
 * Journal: the native protocol of systemd-journald.socket (documented in
 * systemd's "Native Journal Protocol"): one datagram of FIELD=value lines to
 * /run/systemd/journal/socket; a value that holds a newline goes as FIELD,
 * '\n', its length (64-bit little endian), the bytes and '\n'. Each record
 * gives MESSAGE (a one-line summary), PRIORITY (warning for denials, info
 * otherwise), SYSLOG_IDENTIFIER, MCPFENCE_RECORD (the JSON line as the log
 * has it) and MCPFENCE_<KEY> for each key of the record:
 * `journalctl MCPFENCE_VERDICT=deny MCPFENCE_IDENTITY=alice`.
 *
 * Syslog: RFC 3164 datagrams to /dev/log, as syslog(3) writes them, with
 * the record as a CEE payload ("@cee: {...}") that rsyslog's mmjsonparse
 * and syslog-ng's json-parser turn into fields.
 *
 * The socket is non-blocking, so a slow journal never stalls the agent. A
 * datagram the receiver has no room for (EAGAIN: its queue holds
 * net.unix.max_dgram_qlen datagrams, 10 by default where systemd's sysctl.d
 * does not raise it) waits in a bounded backlog, in order, retried on every
 * turn of the agent's loop (audit_syslog_tick); only what the backlog has no
 * room for is lost, and counted (status and metrics).
 * MCPFENCE_JOURNAL_SOCKET and MCPFENCE_SYSLOG_SOCKET name other sockets
 * (containers, tests).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define SYSLOG_SOCKET "/dev/log"
#define SYSLOG_DGRAM_MAX 8192	       /* a record is ~300 bytes; larger ones are cut by syslog */
#define SYSLOG_BACKLOG_BYTES (1 << 20) /* datagrams waiting for the receiver, at most */

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

static int dgram_socket(const char *path, struct sockaddr_un *addr)
{
	int fd;

	if (strlen(path) >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	strcpy(addr->sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

/* The journal where its socket exists, else syslog. */
int audit_syslog_open(struct agent *a)
{
	struct audit_syslog *s = &a->syslog;
	const char *journal = env_or("MCPFENCE_JOURNAL_SOCKET", JOURNAL_SOCKET);
	struct stat st;

	s->fd = -1;
	if (!a->opt.audit_syslog)
		return 0;
	s->journal = stat(journal, &st) == 0 && S_ISSOCK(st.st_mode);
	s->path = s->journal ? journal : env_or("MCPFENCE_SYSLOG_SOCKET", SYSLOG_SOCKET);
	s->fd = dgram_socket(s->path, &s->addr);
	if (s->fd < 0) {
		fprintf(stderr, "mcpfenced: --audit-syslog: cannot open a socket for %s: %s\n",
			s->path, strerror(-s->fd));
		return s->fd;
	}
	s->buf = malloc(SYSLOG_DGRAM_MAX);
	if (!s->buf) {
		close(s->fd);
		s->fd = -1;
		return -ENOMEM;
	}
	if (a->opt.verbose)
		fprintf(stderr, "mcpfenced: audit records to the %s at %s\n",
			s->journal ? "journal" : "syslog", s->path);
	return 0;
}

/* Datagrams waiting for room at the receiver: a FIFO bounded in count and bytes. */
static bool backlog_push(struct audit_syslog *s, const char *p, size_t n)
{
	struct syslog_dgram *q;

	if (s->backlog_count == MF_SYSLOG_BACKLOG || s->backlog_bytes + n > SYSLOG_BACKLOG_BYTES)
		return false;
	q = &s->backlog[(s->backlog_head + s->backlog_count) % MF_SYSLOG_BACKLOG];
	q->data = malloc(n);
	if (!q->data)
		return false;
	memcpy(q->data, p, n);
	q->len = n;
	s->backlog_count++;
	s->backlog_bytes += n;
	return true;
}

static void backlog_pop(struct audit_syslog *s)
{
	struct syslog_dgram *q = &s->backlog[s->backlog_head];

	s->backlog_bytes -= q->len;
	free(q->data);
	q->data = NULL;
	s->backlog_head = (s->backlog_head + 1) % MF_SYSLOG_BACKLOG;
	s->backlog_count--;
}

/* 1 sent, 0 no room now (EAGAIN), -1 failed (counted lost). */
static int send_dgram(struct audit_syslog *s, const char *p, size_t n)
{
	if (sendto(s->fd, p, n, MSG_NOSIGNAL, (struct sockaddr *)&s->addr, sizeof(s->addr)) < 0) {
		if (errno == EAGAIN)
			return 0;
		s->lost++;
		s->last_errno = errno;
		return -1;
	}
	s->sent++;
	return 1;
}

/* Sends what waits, oldest first, until the receiver has no room. */
void audit_syslog_tick(struct agent *a)
{
	struct audit_syslog *s = &a->syslog;

	while (s->fd >= 0 && s->backlog_count) {
		const struct syslog_dgram *q = &s->backlog[s->backlog_head];

		if (send_dgram(s, q->data, q->len) == 0)
			return;
		backlog_pop(s);
	}
}

void audit_syslog_close(struct agent *a)
{
	audit_syslog_tick(a);
	if (a->syslog.backlog_count)
		fprintf(stderr, "mcpfenced: --audit-syslog: %zu records not sent to %s\n",
			a->syslog.backlog_count, a->syslog.path);
	a->syslog.lost += a->syslog.backlog_count;
	while (a->syslog.backlog_count)
		backlog_pop(&a->syslog);
	if (a->syslog.fd >= 0)
		close(a->syslog.fd);
	a->syslog.fd = -1;
	free(a->syslog.buf);
	a->syslog.buf = NULL;
}

/* A growing datagram; what does not fit marks it cut. */
struct dgram {
	char *buf;
	size_t len;
	bool cut;
};

static void put(struct dgram *d, const void *p, size_t n)
{
	if (d->len + n > SYSLOG_DGRAM_MAX) {
		d->cut = true;
		return;
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
}

/* One journal field; a value with a newline in the binary form. */
static void field(struct dgram *d, const char *key, const char *val, size_t n)
{
	put(d, key, strlen(key));
	if (!memchr(val, '\n', n)) {
		put(d, "=", 1);
		put(d, val, n);
	} else {
		unsigned char le[8];
		uint64_t len = n;

		for (int i = 0; i < 8; i++)
			le[i] = len >> (8 * i);
		put(d, "\n", 1);
		put(d, le, sizeof(le));
		put(d, val, n);
	}
	put(d, "\n", 1);
}

/* MCPFENCE_<KEY>: letters upper-cased, anything else '_' (journal field
 * names are [A-Z0-9_]). */
static void record_fields(struct dgram *d, const json_t *rec)
{
	char name[64], num[32];
	const char *key, *v;
	json_t *val;

	json_object_foreach((json_t *)rec, key, val) {
		size_t i = 0;
		int n = snprintf(name, sizeof(name), "MCPFENCE_");

		for (; key[i] && n < (int)sizeof(name) - 1; i++) {
			unsigned char k = key[i];

			name[n++] = isalnum(k) ? toupper(k) : '_';
		}
		name[n] = '\0';
		if (json_is_string(val)) {
			v = json_string_value(val);
			field(d, name, v, json_string_length(val));
		} else if (json_is_integer(val)) {
			n = snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(val));
			field(d, name, num, n);
		} else if (json_is_boolean(val)) {
			v = json_is_true(val) ? "true" : "false";
			field(d, name, v, strlen(v));
		}
	}
}

static const char *str(const json_t *rec, const char *key)
{
	const char *v = json_string_value(json_object_get(rec, key));

	return v ? v : "-";
}

static void journal_message(struct dgram *d, const struct audit_record *r, const json_t *rec)
{
	char msg[512];
	int n;

	n = snprintf(msg, sizeof(msg), "%s %s identity=%s server=%s pid=%lld", str(rec, "verdict"),
		     str(rec, "event"), str(rec, "identity"), str(rec, "server"),
		     (long long)json_integer_value(json_object_get(rec, "pid")));
	if (json_object_get(rec, "addr") && n < (int)sizeof(msg))
		n += snprintf(msg + n, sizeof(msg) - n, " to %s port %lld", str(rec, "addr"),
			      (long long)json_integer_value(json_object_get(rec, "port")));
	if (json_object_get(rec, "rule") && n < (int)sizeof(msg))
		n += snprintf(msg + n, sizeof(msg) - n, " rule=%s", str(rec, "rule"));
	if (n >= (int)sizeof(msg))
		n = sizeof(msg) - 1;
	field(d, "MESSAGE", msg, n);
	field(d, "PRIORITY", r->verdict == MF_ALLOW ? "6" : "4", 1);
	field(d, "SYSLOG_IDENTIFIER", "mcpfenced", 9);
	field(d, "MCPFENCE_RECORD", r->line, r->len - 1); /* without its '\n' */
	record_fields(d, rec);
}

/* <PRI>Mmm dd hh:mm:ss mcpfenced[PID]: @cee: {...}, facility authpriv. */
static void syslog_message(struct dgram *d, const struct audit_record *r)
{
	int pri = (10 << 3) | (r->verdict == MF_ALLOW ? 6 : 4);
	char head[64], date[32];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%h %e %T", &tm);
	n = snprintf(head, sizeof(head), "<%d>%s mcpfenced[%d]: @cee: ", pri, date, getpid());
	put(d, head, n);
	put(d, r->line, r->len - 1);
}

void audit_syslog_record(struct agent *a, const struct audit_record *r)
{
	struct audit_syslog *s = &a->syslog;
	struct dgram d = { .buf = s->buf };
	json_t *rec;

	if (s->fd < 0)
		return;
	if (s->journal) {
		rec = json_loadb(r->line, r->len, 0, NULL);
		if (!rec) {
			s->lost++;
			return;
		}
		journal_message(&d, r, rec);
		json_decref(rec);
	} else {
		syslog_message(&d, r);
	}
	if (d.cut && s->journal) {
		s->lost++; /* a journal entry cut in a field is worse than none */
		return;
	}
	/* Behind what already waits, or waiting itself when there is no room. */
	if (s->backlog_count || send_dgram(s, d.buf, d.len) == 0) {
		if (!backlog_push(s, d.buf, d.len)) {
			s->lost++;
			s->last_errno = EAGAIN;
		}
	}
}

json_t *audit_syslog_status(struct agent *a)
{
	const struct audit_syslog *s = &a->syslog;
	json_t *st;

	if (s->fd < 0)
		return json_pack("{s:s}", "state", "none");
	st = json_pack("{s:s, s:s, s:I, s:I, s:I}", "to", s->journal ? "journal" : "syslog",
		       "socket", s->path, "sent", (json_int_t)s->sent, "waiting",
		       (json_int_t)s->backlog_count, "lost", (json_int_t)s->lost);
	if (st && s->last_errno)
		json_object_set_new(st, "last_error", json_string(strerror(s->last_errno)));
	return st ? st : json_object();
}
