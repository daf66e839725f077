// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Audit records: from the kernel's ring buffer (and from the agent itself)
 * to the log file, the recent-history ring and every subscriber.
 * Nothing is lost silently: the kernel counts what found the ring full, the
 * agent counts what did not reach the log (and says so on stderr, in status
 * and in the stream), and each subscriber is told its drops.
 *
 * Subscribers are reached through the sink that control.c registers: audit.c
 * calls nothing of control.c's.
 *
 * Kernel records are the hot path (every decision of a governed process):
 * they are written straight into a JSON line, without building a JSON
 * object, and subscribers are flushed once per batch, not once per record.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "jline.h"
#include "mcpfence.skel.h"

static void format_ts(int64_t real_ns, char *buf, size_t len)
{
	/* The date part changes once a second: format it once a second. */
	static time_t cached_sec = -1;
	static char date[32];
	time_t sec = real_ns / 1000000000;

	if (sec != cached_sec) {
		struct tm tm;

		gmtime_r(&sec, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = sec;
	}
	/* By hand: this runs for every record, and printf is most of its cost. */
	int ms = (int)((real_ns / 1000000) % 1000);
	size_t n = strlen(date);

	if (len < n + 6)
		return;
	memcpy(buf, date, n);
	buf[n] = '.';
	buf[n + 1] = '0' + ms / 100;
	buf[n + 2] = '0' + ms / 10 % 10;
	buf[n + 3] = '0' + ms % 10;
	buf[n + 4] = 'Z';
	buf[n + 5] = '\0';
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
	case MF_EV_SOCKOPT:
		return "sockopt";
	case MF_EV_SOURCE_ROUTE:
		return "source-route";
	case MF_EV_URING_SOCKET_KILL:
		return "uring-socket-kill";
	case MF_EV_URING_KILL:
		return "uring-kill";
	case MF_EV_ABI_KILL:
		return "abi-kill";
	case MF_EV_UNIX_CONNECT:
		return "unix-connect";
	case MF_EV_UNIX_SENDMSG:
		return "unix-sendmsg";
	case MF_EV_BIND:
		return "bind";
	case MF_EV_LISTEN:
		return "listen";
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

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : NULL;
}

/* A unix socket name as policy writes it: an abstract name with its "@". */
static void unix_name_fields(struct jline *j, const struct mf_event *e, size_t size)
{
	const struct mf_unix_event *u = (const struct mf_unix_event *)e;
	char name[MF_UNIX_PATH_MAX + 1];
	size_t len;

	if (size < sizeof(*u))
		return;
	len = u->len < MF_UNIX_PATH_MAX ? u->len : MF_UNIX_PATH_MAX;
	memcpy(name, u->name, len);
	if (len && name[0] == '\0')
		name[0] = '@';
	jl_strn(j, "path", name, len);
	jl_uint(j, "socket_type", e->aux);
	if (u->flags & MF_UNIX_FOREIGN_ROOT)
		jl_str(j, "reason", "another mount namespace or root");
}

/* "family", "proto" and "addr" of a record about an inet address. */
static void inet_fields(struct jline *j, const struct mf_event *e)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(e->family == MF_FAMILY_V4 ? AF_INET : AF_INET6, e->addr, addr, sizeof(addr));
	jl_str(j, "family", e->family == MF_FAMILY_V4 ? "ipv4" : "ipv6");
	if (proto_name(e->proto))
		jl_str(j, "proto", proto_name(e->proto));
	else
		jl_uint(j, "proto", e->proto);
	jl_str(j, "addr", addr);
}

/* Write a kernel record as a JSON line; false if it did not fit. */
static bool event_line(struct agent *a, const struct mf_event *e, size_t size,
		       struct audit_record *rec)
{
	char ts[64], rbuf[32];
	char comm[sizeof(e->comm) + 1];
	struct jline j = { .buf = "{", .len = 1 };

	memcpy(comm, e->comm, sizeof(e->comm));
	comm[sizeof(e->comm)] = '\0';
	char ident[MF_NAME_MAX];

	/* identity_name returns a table entry or ident: copy either (both are
	 * shorter than MF_NAME_MAX). */
	const char *name = identity_name(a, e->identity_id, ident, sizeof(ident));

	memcpy(rec->identity, name, strnlen(name, MF_NAME_MAX - 1) + 1);
	rec->identity[MF_NAME_MAX - 1] = '\0';
	rec->verdict = e->verdict;
	format_ts((int64_t)e->ts_ns + a->boot_to_real_ns, ts, sizeof(ts));
	jl_str(&j, "ts", ts);
	jl_uint(&j, "schema", MF_AUDIT_SCHEMA);
	jl_str(&j, "event", event_name(e->type));
	jl_str(&j, "verdict", verdict_name(e->verdict));
	jl_str(&j, "identity", rec->identity);
	jl_str(&j, "server", server_name(a, e->server_id));
	jl_uint(&j, "pid", e->tgid);
	jl_uint(&j, "tid", e->pid);
	jl_str(&j, "comm", comm);
	switch (e->type) {
	case MF_EV_CONNECT:
	case MF_EV_SENDMSG:
		inet_fields(&j, e);
		jl_uint(&j, "port", e->port);
		jl_str(&j, "rule", rule_name(a, e->generation, e->rule, rbuf, sizeof(rbuf)));
		/* By flow: the window's first decision (ts), or a summary of the
		 * window that began at ts: count decisions after the first. */
		if ((e->aux & MF_FLOW_MASK) == MF_FLOW_FIRST) {
			jl_str(&j, "flow", "first");
			jl_uint(&j, "count", 1);
		} else if ((e->aux & MF_FLOW_MASK) == MF_FLOW_SUMMARY) {
			jl_str(&j, "flow", "summary");
			jl_uint(&j, "count", e->count);
		}
		if (e->aux & MF_AUX_VIA_NAME) {
			/* allowed by an address learned from a name (dns_proxy.c) */
			const char *host =
				learned_name(a, e->identity_id, e->server_id, e->family, e->addr);

			jl_str(&j, "via", "name");
			if (host)
				jl_str(&j, "host", host);
		}
		break;
	case MF_EV_UNIX_CONNECT:
	case MF_EV_UNIX_SENDMSG:
		unix_name_fields(&j, e, size);
		break;
	case MF_EV_BIND:
	case MF_EV_SOURCE_ROUTE:
		/* bind: the local address and port; source-route: the packet's
		 * destination, which is the route's first hop. */
		inet_fields(&j, e);
		if (e->type == MF_EV_BIND)
			jl_uint(&j, "port", e->port);
		else
			/* IPv4: the option (131 LSRR, 137 SSRR); IPv6: routing type + 1;
			 * 255: headers that did not parse. */
			jl_uint(&j, "route", e->aux);
		break;
	case MF_EV_LISTEN:
		jl_str(&j, "family", e->family == MF_FAMILY_V4 ? "ipv4" : "ipv6");
		jl_str(&j, "proto", "tcp");
		jl_uint(&j, "port", e->port);
		break;
	case MF_EV_URING_KILL:
		jl_str(&j, "op", e->aux == MF_URING_SETUP ? "setup" : "enter");
		break;
	case MF_EV_ABI_KILL:
		jl_str(&j, "abi", e->proto == MF_ABI_IA32 ? "ia32" : "x32");
		jl_uint(&j, "syscall", e->aux);
		break;
	case MF_EV_SOCKOPT:
		jl_uint(&j, "level", e->proto);
		jl_uint(&j, "optname", e->aux);
		break;
	case MF_EV_SOCKET:
	case MF_EV_SOCKET_KILL:
	case MF_EV_URING_SOCKET_KILL:
		jl_uint(&j, "socket_family", e->family);
		jl_uint(&j, "socket_type", e->aux);
		jl_uint(&j, "protocol", e->proto);
		break;
	case MF_EV_TAG_LOST:
		if (e->aux)
			jl_uint(&j, "child", e->aux);
		break;
	}
	jl_raw(&j, "}\n", 2);
	if (j.overflow)
		return false;
	rec->line = malloc(j.len + 1);
	if (!rec->line)
		return false;
	memcpy(rec->line, j.buf, j.len);
	rec->line[j.len] = '\0';
	rec->len = j.len;
	return true;
}

/* Identity and verdict filters of `mcpfence audit`; NULL matches all. */
bool audit_filter_match(const struct audit_record *rec, const char *identity, const char *verdict)
{
	if (identity && strcmp(rec->identity, identity))
		return false;
	if (verdict && strcmp(verdict_name(rec->verdict), verdict))
		return false;
	return true;
}

void audit_set_sink(struct agent *a, const struct audit_sink *sink, void *ctx)
{
	a->sink = sink;
	a->sink_ctx = ctx;
}

/* A failed write cut the line at done: take the cut part back out of the
 * file, and return the bytes of whole lines written. */
static size_t log_uncut(struct audit_log *l, size_t done)
{
	size_t whole = done;
	struct stat st;

	while (whole && l->buf[whole - 1] != '\n')
		whole--;
	if (whole == done)
		return done;
	/* O_APPEND: the cut part is the end of the file. If it cannot be taken
	 * back, count it as written: the retry completes the line. */
	if (fstat(l->fd, &st) || st.st_size < (off_t)(done - whole) ||
	    ftruncate(l->fd, st.st_size - (done - whole)))
		return done;
	return whole;
}

/* Say that the log started or stopped failing: on stderr and in the stream.
 * Not from log_flush itself: it runs while a record is being delivered. */
static void log_report(struct agent *a)
{
	struct audit_log *l = &a->log;
	char since[64];

	if (l->failing == l->reported_failing)
		return;
	l->reported_failing = l->failing;
	format_ts(l->failing_since_ms * 1000000, since, sizeof(since));
	if (l->failing) {
		fprintf(stderr,
			"mcpfenced: cannot write audit log %s: %s; records wait in memory "
			"(up to %u KiB), then are lost\n",
			a->opt.audit_log, strerror(l->last_errno), MF_LOG_BUFFER >> 10);
		audit_emit(a, json_pack("{s:s, s:s, s:s, s:s}", "event", "audit-log-failing", "log",
					a->opt.audit_log, "error", strerror(l->last_errno), "since",
					since));
		return;
	}
	fprintf(stderr,
		"mcpfenced: audit log %s: written again (failing since %s, %llu records lost)\n",
		a->opt.audit_log, since, (unsigned long long)(l->lost - l->lost_at_failure));
	audit_emit(a, json_pack("{s:s, s:s, s:s, s:I}", "event", "audit-log-recovered", "log",
				a->opt.audit_log, "failing_since", since, "lost",
				(json_int_t)(l->lost - l->lost_at_failure)));
}

static int log_open(struct agent *a, uint64_t *size);

/* Bytes from buf + done to write before the file passes --audit-log-max-size:
 * whole lines, and at least one into an empty file; all without a limit. */
static size_t log_room(const struct agent *a, size_t done)
{
	const struct audit_log *l = &a->log;
	size_t end = done;

	if (!a->opt.audit_max_size)
		return l->len - done;
	while (end < l->len) {
		const char *nl = memchr(l->buf + end, '\n', l->len - end);
		size_t next = nl ? (size_t)(nl - l->buf) + 1 : l->len;

		if (l->size + (next - done) > a->opt.audit_max_size && (end > done || l->size))
			break;
		end = next;
	}
	return end - done;
}

/*
 * --audit-log-max-size: LOG.N-1 becomes LOG.N ... LOG becomes LOG.1 (LOG.N,
 * the oldest, replaced: N is --audit-log-keep), then LOG is opened anew. The
 * old file holds whole lines only, and what waits goes to the new one. If
 * this fails, the file in use goes on growing: nothing is lost.
 */
static int log_rotate(struct agent *a)
{
	const char *path = a->opt.audit_log;
	char from[PATH_MAX + 8], to[PATH_MAX + 8];
	uint64_t size;
	int fd;

	for (unsigned int i = a->opt.audit_keep; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", path);
		else
			snprintf(from, sizeof(from), "%s.%u", path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", path, i);
		if (rename(from, to) && (errno != ENOENT || i == 1))
			return -errno;
	}
	fd = log_open(a, &size);
	if (fd < 0)
		return fd;
	close(a->log.fd);
	a->log.fd = fd;
	a->log.size = size;
	a->log.rotated++;
	return 0;
}

/* Write buf[*done, end); -errno if a write failed. */
static int log_write(struct audit_log *l, size_t *done, size_t end)
{
	while (*done < end) {
		ssize_t n = write(l->fd, l->buf + *done, end - *done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		*done += n;
		l->size += n;
	}
	return 0;
}

/* Write the waiting records. Whole lines count as logged; the rest waits for
 * the next attempt, once per MF_LOG_RETRY_MS while writing fails. */
static void log_flush(struct agent *a, bool now)
{
	struct audit_log *l = &a->log;
	int64_t t = clock_ns(CLOCK_MONOTONIC) / 1000000;
	size_t done = 0, lines = 0, kept;
	int err = 0;

	if (!l->buf || !l->len || (l->failing && !now && t - l->last_try_ms < MF_LOG_RETRY_MS))
		return;
	l->last_try_ms = t;
	while (!err && done < l->len) {
		size_t end = done + log_room(a, done);

		if (end == done) {
			err = log_rotate(a);
			if (!err) {
				l->rotate_errno = 0;
				continue;
			}
			if (l->rotate_errno != -err)
				fprintf(stderr,
					"mcpfenced: cannot rotate audit log %s: %s; it grows\n",
					a->opt.audit_log, strerror(-err));
			l->rotate_errno = -err;
			end = l->len;
		}
		err = -log_write(l, &done, end);
	}
	if (err) {
		l->errors++;
		l->last_errno = err;
		kept = log_uncut(l, done);
		l->size -= done - kept;
		done = kept;
	}
	for (size_t i = 0; i < done; i++)
		lines += l->buf[i] == '\n';
	l->logged += lines;
	l->pending -= lines;
	memmove(l->buf, l->buf + done, l->len - done);
	l->len -= done;
	if (err && !l->failing) {
		l->failing_since_ms = clock_ns(CLOCK_REALTIME) / 1000000;
		l->lost_at_failure = l->lost;
	}
	l->failing = err != 0; /* said by log_report() */
}

static void log_append(struct agent *a, const struct audit_record *rec)
{
	struct audit_log *l = &a->log;

	if (!l->buf)
		return;
	if (l->len + rec->len > MF_LOG_BUFFER)
		log_flush(a, false);
	if (l->len + rec->len > MF_LOG_BUFFER) {
		l->lost++;
		return;
	}
	memcpy(l->buf + l->len, rec->line, rec->len);
	l->len += rec->len;
	l->pending++;
}

json_t *audit_log_status(struct agent *a)
{
	const struct audit_log *l = &a->log;
	char since[64];
	json_t *st;

	if (!l->buf)
		return json_pack("{s:s}", "state", "none");
	st = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "state",
		       l->failing ? "failing" : "ok", "logged", (json_int_t)l->logged, "waiting",
		       (json_int_t)l->pending, "lost", (json_int_t)l->lost, "errors",
		       (json_int_t)l->errors, "reopened", (json_int_t)l->reopened, "rotated",
		       (json_int_t)l->rotated);
	if (st && l->failing) {
		format_ts(l->failing_since_ms * 1000000, since, sizeof(since));
		json_object_set_new(st, "since", json_string(since));
	}
	if (st && l->last_errno)
		json_object_set_new(st, "last_error", json_string(strerror(l->last_errno)));
	return st ? st : json_object();
}

/* To the log, the subscribers and the history, which keeps the line. */
static void deliver(struct agent *a, struct audit_record *rec)
{
	struct audit_record *slot = &a->history[a->history_next];

	log_append(a, rec);
	audit_syslog_record(a, rec);
	if (a->sink)
		a->sink->record(a->sink_ctx, rec);
	free(slot->line);
	*slot = *rec;
	a->history_next = (a->history_next + 1) % MF_HISTORY_MAX;
}

void audit_emit(struct agent *a, json_t *record)
{
	struct audit_record rec = {};
	const char *v;

	if (!record) {
		a->log.lost++;
		return;
	}
	if (!json_object_get(record, "ts")) {
		char ts[64];

		audit_now_ts(ts, sizeof(ts));
		json_object_set_new(record, "ts", json_string(ts));
	}
	json_object_set_new(record, "schema", json_integer(MF_AUDIT_SCHEMA));
	v = json_string_value(json_object_get(record, "identity"));
	snprintf(rec.identity, sizeof(rec.identity), "%s", v ? v : "-");
	v = json_string_value(json_object_get(record, "verdict"));
	rec.verdict = v && !strcmp(v, "allow") ? MF_ALLOW : MF_DENY;
	rec.line = mf_json_line(record, &rec.len);
	json_decref(record);
	if (!rec.line) {
		a->log.lost++;
		return;
	}
	deliver(a, &rec);
}

/* Judged decisions, counted by (identity, server, verdict) for metrics. */
static void metrics_event(struct agent *a, const struct mf_event *e)
{
	switch (e->type) {
	case MF_EV_CONNECT:
	case MF_EV_SENDMSG:
	case MF_EV_UNIX_CONNECT:
	case MF_EV_UNIX_SENDMSG:
	case MF_EV_BIND:
		metrics_count(a, e->identity_id, e->server_id, e->verdict);
		break;
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct agent *a = ctx;
	struct audit_record rec = {};

	if (size < sizeof(struct mf_event))
		return 0;
	metrics_event(a, data);
	if (!event_line(a, data, size, &rec)) {
		a->log.lost++;
		return 0;
	}
	deliver(a, &rec);
	return 0;
}

/*
 * The log file: 0640, the agent's user's and --audit-group's (else the
 * agent's group), never readable by others. A regular file that another
 * user owns is refused: its owner could read it, or undo the mode. What is
 * not a regular file (a pipe, a terminal) is written as it is.
 */
static int log_secure(struct agent *a, int fd, uint64_t *size)
{
	mode_t want;
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	*size = S_ISREG(st.st_mode) ? st.st_size : 0;
	if (!S_ISREG(st.st_mode))
		return 0;
	if (st.st_uid != geteuid())
		return -EPERM;
	if (a->opt.audit_group && st.st_gid != a->opt.audit_gid &&
	    fchown(fd, (uid_t)-1, a->opt.audit_gid))
		return -errno;
	/* With a group, it must read; without, what is there, less the others'. */
	want = a->opt.audit_group ? 0640 : st.st_mode & 0640;
	if ((st.st_mode & 07777) != want && fchmod(fd, want))
		return -errno;
	return 0;
}

static int log_open(struct agent *a, uint64_t *size)
{
	int fd, err;

	/* "-": standard output, as it is (a container's log, a pipe). */
	if (!strcmp(a->opt.audit_log, "-")) {
		*size = 0;
		fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? -errno : fd;
	}
	fd = open(a->opt.audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot open audit log %s: %s\n", a->opt.audit_log,
			strerror(-err));
		return err;
	}
	err = log_secure(a, fd, size);
	if (err) {
		fprintf(stderr, "mcpfenced: audit log %s: %s\n", a->opt.audit_log,
			err == -EPERM ? "owned by another user: refused" : strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

/*
 * After logrotate renamed the log: what waits goes to the old file first,
 * then the name is opened anew. Until then records went on reaching the
 * renamed file, so none is lost. If the new file cannot be opened, the old
 * one is kept, and the failure said in the stream.
 */
int audit_reopen(struct agent *a)
{
	uint64_t size;
	int fd;

	if (!a->log.buf)
		return 0;
	/* Decisions made before the signal belong in the old file. */
	ring_buffer__consume(a->ringbuf);
	log_flush(a, true);
	fd = log_open(a, &size);
	if (fd < 0) {
		audit_emit(a,
			   json_pack("{s:s, s:s, s:s, s:s}", "event", "audit-log-reopen", "verdict",
				     "deny", "log", a->opt.audit_log, "error", strerror(-fd)));
		return fd;
	}
	close(a->log.fd);
	a->log.fd = fd;
	a->log.size = size;
	a->log.reopened++;
	/* The first record of the new file says where it comes from. */
	audit_emit(a, json_pack("{s:s, s:s, s:s, s:I}", "event", "audit-log-reopen", "verdict",
				"allow", "log", a->opt.audit_log, "logged_before",
				(json_int_t)a->log.logged));
	return 0;
}

int audit_setup(struct agent *a)
{
	int err;

	a->boot_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
	err = audit_syslog_open(a);
	if (err)
		return err;
	if (a->opt.audit_log) {
		a->log.fd = log_open(a, &a->log.size);
		if (a->log.fd < 0)
			return a->log.fd;
		a->log.buf = malloc(MF_LOG_BUFFER);
		if (!a->log.buf) {
			fprintf(stderr, "mcpfenced: out of memory for the audit log buffer\n");
			close(a->log.fd);
			return -ENOMEM;
		}
	}
	a->ringbuf = ring_buffer__new(bpf_map__fd(a->skel->maps.events), on_event, a, NULL);
	if (!a->ringbuf) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot open the audit ring buffer: %s\n",
			strerror(-err));
		return err;
	}
	return 0;
}

int audit_poll(struct agent *a)
{
	int n = ring_buffer__consume(a->ringbuf);

	log_flush(a, false);
	log_report(a);
	if (a->sink)
		a->sink->flush(a->sink_ctx);
	return n < 0 ? n : 0;
}

void audit_teardown(struct agent *a)
{
	if (a->ringbuf) {
		/* The flows' counts so far, then what is in the ring, reach the log
		 * (a flow that goes on opens a new window). */
		bpf_flows_sweep(a, true);
		audit_poll(a);
		ring_buffer__free(a->ringbuf);
		a->ringbuf = NULL;
	}
	if (a->log.buf) {
		/* A last attempt for what waits; what still cannot be written is lost. */
		log_flush(a, true);
		if (a->log.pending)
			fprintf(stderr, "mcpfenced: audit log %s: %zu records not written\n",
				a->opt.audit_log, a->log.pending);
		close(a->log.fd);
	}
	free(a->log.buf);
	a->log.buf = NULL;
	audit_syslog_close(a);
	for (size_t i = 0; i < MF_HISTORY_MAX; i++) {
		free(a->history[i].line);
		a->history[i].line = NULL;
	}
}
