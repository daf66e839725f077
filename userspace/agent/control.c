// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The control socket's connections: JSON lines from the CLI, peers known by
 * SO_PEERCRED and SO_PEERPIDFD; each request goes to ops.c. A malformed
 * message closes that connection only. Every client is bounded (limits in
 * control.h): so many connections per uid and in all; a client whose replies
 * pile up is not read until it drains them; one that idles or holds half a
 * line is closed. A subscriber that does not read loses records, counted and
 * reported to it within a second, and never blocks the agent.
 */
#include <errno.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "file.h"
#include "control.h"

static struct {
	enum watch_kind kind;
} listen_watch = { WATCH_LISTEN };

/* Bytes queued for all clients (audit records stop at MF_CLIENTS_QUEUED). */
static size_t queued_total;

static const char *const refusal_names[REFUSED_MAX] = {
	[REFUSED_USERS] = "users_limit",
	[REFUSED_UID] = "uid_limit",
	[REFUSED_ROOT] = "root_limit",
};

static const char *const closing_names[CLOSED_MAX] = {
	[CLOSED_IDLE] = "idle",
	[CLOSED_PARTIAL_LINE] = "partial_line",
	[CLOSED_QUEUE] = "queue_cap",
};

static void control_sink_record(void *ctx, const struct audit_record *rec);
static void control_sink_flush(void *ctx);

static const struct audit_sink control_sink = {
	.record = control_sink_record,
	.flush = control_sink_flush,
};

/* Who besides root may write the directory st describes; NULL: nobody. */
static const char *dir_writers(const struct stat *st)
{
	if (st->st_uid != 0)
		return "its owner";
	if (st->st_mode & S_IWOTH)
		return "others";
	if (st->st_gid != 0 && (st->st_mode & S_IWGRP))
		return "its group";
	return NULL;
}

/* The socket's directory, made 0755 if missing. Whoever else may write it
 * could replace the socket with their own and answer root's CLI: refused,
 * like a live agent on the socket, before any BPF object is touched. */
int control_check_dir(struct agent *a)
{
	struct sockaddr_un addr;
	char dir[PATH_MAX];
	struct stat st;
	int fd, err;

	if (strlen(a->opt.socket_path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "mcpfenced: socket path too long: %s\n", a->opt.socket_path);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", a->opt.socket_path);
	dirname(dir);
	if (mkdir(dir, 0755) == 0) {
		/* Whatever the umask: every user may reach the socket. */
		chmod(dir, 0755);
	} else if (errno != EEXIST) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot create %s: %s\n", dir, strerror(-err));
		return err;
	}
	if (stat(dir, &st)) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot stat %s: %s\n", dir, strerror(-err));
		return err;
	}
	if (dir_writers(&st)) {
		fprintf(stderr,
			"mcpfenced: socket directory %s is writable by %s (owner uid %u, group %u, "
			"mode %04o): use a directory only root can write, such as /run/mcpfence\n",
			dir, dir_writers(&st), st.st_uid, st.st_gid, st.st_mode & 07777);
		return -EPERM;
	}
	fd = mf_client_connect(a->opt.socket_path);
	if (fd >= 0) {
		close(fd);
		fprintf(stderr, "mcpfenced: another agent serves %s\n", a->opt.socket_path);
		return -EADDRINUSE;
	}
	return 0;
}

int control_setup(struct agent *a, const struct control_hooks *hooks)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_watch };
	int fd, err;

	strcpy(addr.sun_path, a->opt.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot create the control socket: %s\n",
			strerror(-err));
		return err;
	}
	/* A stale socket from a crashed agent: answer nobody, so replace it. */
	if (mf_client_connect(a->opt.socket_path) >= 0) {
		fprintf(stderr, "mcpfenced: another agent serves %s\n", a->opt.socket_path);
		close(fd);
		return -EADDRINUSE;
	}
	unlink(a->opt.socket_path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 64)) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot listen on %s: %s\n", a->opt.socket_path,
			strerror(-err));
		close(fd);
		return err;
	}
	/* Everyone may connect; what each peer may do is decided per request. */
	chmod(a->opt.socket_path, 0666);
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot watch %s: %s\n", a->opt.socket_path,
			strerror(-err));
		close(fd);
		return err;
	}
	a->listen_fd = fd;
	a->control_hooks = hooks;
	audit_set_sink(a, &control_sink, a);
	return 0;
}

/* Descriptors a request passed that no operation took. */
static void client_drop_fds(struct client *c)
{
	for (size_t i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	c->nfds = 0;
}

static void client_free(struct agent *a, struct client *c)
{
	struct client **pp;

	for (pp = &a->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->cred.uid == 0)
		a->client_counts.root--;
	else
		a->client_counts.users--;
	a->client_counts.freed++;
	queued_total -= c->out_len;
	client_drop_fds(c);
	if (a->control_hooks)
		a->control_hooks->gone(a, c);
	epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	mf_linebuf_free(&c->in);
	free(c->out);
	free(c->filter_identity);
	free(c->filter_verdict);
	free(c->own_identity);
	free(c);
}

static void client_close(struct agent *a, struct client *c, enum client_closing why)
{
	a->client_counts.closed[why]++;
	client_free(a, c);
}

void control_teardown(struct agent *a)
{
	audit_set_sink(a, NULL, NULL);
	while (a->clients)
		client_free(a, a->clients);
	if (a->listen_fd >= 0) {
		close(a->listen_fd);
		unlink(a->opt.socket_path);
	}
	a->listen_fd = -1;
}

/* Is there room for one more connection of this peer? If not, why (in why).
 * Root has a pool of its own: users filling theirs never lock root out. */
static bool client_admit(struct agent *a, const struct ucred *cred, char *why, size_t len)
{
	struct client_counts *n = &a->client_counts;
	unsigned int same_uid = 0;
	enum client_refusal refusal;

	if (cred->uid == 0) {
		if (n->root < MF_CLIENTS_ROOT)
			return true;
		refusal = REFUSED_ROOT;
		snprintf(why, len, "root holds %u connections to the agent, its limit",
			 MF_CLIENTS_ROOT);
	} else if (n->users >= MF_CLIENTS_USERS) {
		refusal = REFUSED_USERS;
		snprintf(why, len, "users hold %u connections to the agent, their limit",
			 MF_CLIENTS_USERS);
	} else {
		for (struct client *c = a->clients; c; c = c->next)
			same_uid += c->cred.uid == cred->uid;
		if (same_uid < MF_CLIENTS_PER_UID)
			return true;
		refusal = REFUSED_UID;
		snprintf(why, len, "uid %u holds %u connections to the agent, its limit", cred->uid,
			 MF_CLIENTS_PER_UID);
	}
	n->refused[refusal]++;
	return false;
}

/* Say why, and close: the socket is new and its buffer empty, so the short
 * write neither blocks nor is cut. */
static void client_refuse(int fd, const char *why)
{
	json_t *msg = json_pack("{s:s, s:b, s:s, s:s}", "type", MF_TYPE_REPLY, "ok", 0, "error",
				why, "code", mf_errcode_name(MF_E_LIMIT));
	size_t len;
	char *line = msg ? mf_json_line(msg, &len) : NULL;

	if (line && write(fd, line, len) < 0) {
		/* The peer is gone already: nothing to tell. */
	}
	free(line);
	json_decref(msg);
	close(fd);
}

int control_accept(struct agent *a)
{
	socklen_t len = sizeof(struct ucred);
	struct epoll_event ev = { .events = EPOLLIN };
	struct ucred cred;
	struct client *c;
	char why[128];
	int fd;

	fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		close(fd);
		return 0;
	}
	/* Refused connections are closed at once, with the reason. */
	if (!client_admit(a, &cred, why, sizeof(why))) {
		client_refuse(fd, why);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->kind = WATCH_CLIENT;
	c->fd = fd;
	c->cred = cred;
	c->events = ev.events;
	c->active_ms = clock_ms(CLOCK_MONOTONIC);
	mf_linebuf_init(&c->in, c->cred.uid == 0 ? MF_LINE_MAX_ROOT : MF_LINE_MAX_USER);
	ev.data.ptr = c;
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		close(fd);
		free(c);
		return err;
	}
	if (c->cred.uid == 0)
		a->client_counts.root++;
	else
		a->client_counts.users++;
	/* The connecting process itself, not its pid: ops.c refuses requests
	 * once it is gone (its socket may live on in another process). */
	len = sizeof(c->pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &c->pidfd, &len))
		c->pidfd = -errno;
	c->next = a->clients;
	a->clients = c;
	return 0;
}

/* Read from a client only while its replies stay under the soft limit and no
 * line read already waits; write while anything is queued. */
static void client_watch(struct agent *a, struct client *c)
{
	struct epoll_event ev = { .data.ptr = c };

	if (!c->eof && !c->closing && !c->backlog && c->out_len < MF_CLIENT_OUT_SOFT)
		ev.events |= EPOLLIN;
	if (c->out_len)
		ev.events |= EPOLLOUT;
	if (ev.events == c->events)
		return;
	c->events = ev.events;
	epoll_ctl(a->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what is queued; false when the peer is gone. */
static bool client_flush(struct agent *a, struct client *c)
{
	size_t done = 0;

	while (done < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_start + done, c->out_len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return false;
		}
		done += n;
	}
	/* Advance, don't move: a slow reader would make every flush copy the queue. */
	c->out_start += done;
	c->out_len -= done;
	queued_total -= done;
	if (!c->out_len) {
		/* Drained: an idle client holds no buffer. */
		free(c->out);
		c->out = NULL;
		c->out_start = c->out_cap = 0;
	}
	client_watch(a, c);
	return true;
}

void client_queue(struct client *c, const char *line, size_t len, bool droppable)
{
	if (droppable &&
	    (c->out_len + len > MF_SUBSCRIBER_QUEUE || queued_total + len > MF_CLIENTS_QUEUED)) {
		c->dropped++;
		return;
	}
	if (c->out_start + c->out_len + len > c->out_cap && c->out_start) {
		/* Out of room at the end: move what is pending to the front, once. */
		memmove(c->out, c->out + c->out_start, c->out_len);
		c->out_start = 0;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *out;

		while (cap < c->out_len + len)
			cap *= 2;
		out = realloc(c->out, cap);
		if (!out) {
			c->dropped++;
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_start + c->out_len, line, len);
	c->out_len += len;
	queued_total += len;
}
/* A reply says so first ("type", proto.h): a subscriber tells it from the
 * records around it by the start of the line. */
static json_t *typed(json_t *obj)
{
	json_t *t;

	if (!obj || json_object_get(obj, "type") || !json_object_get(obj, "ok"))
		return obj;
	t = json_pack("{s:s}", "type", MF_TYPE_REPLY);
	if (!t || json_object_update(t, obj)) {
		json_decref(t);
		return obj;
	}
	json_decref(obj);
	return t;
}

void client_send_json(struct client *c, json_t *obj, bool droppable)
{
	size_t len;
	char *line;

	obj = typed(obj);
	line = mf_json_line(obj, &len);

	if (line)
		client_queue(c, line, len, droppable);
	free(line);
	json_decref(obj);
}

void client_reply_error(struct client *c, enum mf_errcode code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_send_json(c,
			 json_pack("{s:s, s:b, s:s, s:s}", "type", MF_TYPE_REPLY, "ok", 0, "error",
				   msg, "code", mf_errcode_name(code)),
			 false);
}

void client_report_drops(struct client *c)
{
	uint64_t n = c->dropped - c->dropped_reported;

	if (!n || c->out_len > MF_SUBSCRIBER_QUEUE / 2)
		return;
	c->dropped_reported = c->dropped;
	client_send_json(c,
			 json_pack("{s:s, s:I, s:I}", "type", MF_TYPE_DROPPED, "dropped",
				   (json_int_t)n, "dropped_total", (json_int_t)c->dropped),
			 false);
}

bool client_wants_record(const struct client *c, const struct audit_record *rec)
{
	if (c->own_identity && !audit_filter_match(rec, c->own_identity, NULL))
		return false;
	return audit_filter_match(rec, c->filter_identity, c->filter_verdict);
}

static void control_sink_record(void *ctx, const struct audit_record *rec)
{
	struct agent *a = ctx;

	for (struct client *c = a->clients; c; c = c->next) {
		if (!c->subscribed || !client_wants_record(c, rec))
			continue;
		client_report_drops(c);
		client_queue(c, rec->line, rec->len, true);
	}
}

static void control_sink_flush(void *ctx)
{
	struct agent *a = ctx;

	for (struct client *c = a->clients; c; c = c->next) {
		if (c->subscribed && c->out_len && !(c->events & EPOLLOUT) && !client_flush(a, c))
			c->closing = true;
	}
}

/* Answer the complete lines read, while the replies fit under the soft limit. */
static void client_handle_lines(struct agent *a, struct client *c, int64_t now)
{
	bool answered = false;
	char err[256];
	char *line;
	size_t len;
	int r = 0;

	c->backlog = false;
	while (!c->closing) {
		json_t *req;

		if (c->out_len >= MF_CLIENT_OUT_SOFT) {
			c->backlog = true;
			break;
		}
		r = mf_linebuf_next(&c->in, &line, &len);
		if (r == 0)
			break;
		if (r < 0) {
			client_reply_error(c, MF_E_LIMIT, "message too long (over %zu bytes)",
					   c->in.max);
			c->closing = true;
			break;
		}
		answered = true;
		c->active_ms = now;
		req = mf_json_parse_object(line, len, err, sizeof(err));
		if (!req) {
			client_reply_error(c, MF_E_INVALID_REQUEST, "%s", err);
			c->closing = true;
			break;
		}
		a->control_hooks->request(a, c, req);
		json_decref(req);
		client_drop_fds(c);
	}
	if (c->eof && !c->backlog)
		c->closing = true;
	/* The partial-line clock starts with the line's first byte held. */
	if (c->in.len == c->in.start)
		c->line_ms = 0;
	else if (answered || !c->line_ms)
		c->line_ms = now;
	/* Give back what a finished or stalled line held. */
	if (!answered && !c->backlog)
		mf_linebuf_shrink(&c->in);
}

/* Read what the client sent: false when it is to be closed now. */
static bool client_read(struct client *c)
{
	ssize_t n = mf_linebuf_fill_fds(&c->in, c->fd, c->fds, MF_FDS_MAX, &c->nfds);

	if (n == 0) {
		c->eof = true;
		return true;
	}
	if (n == -EMSGSIZE) {
		client_reply_error(c, MF_E_LIMIT, "message too long (over %zu bytes)", c->in.max);
		c->closing = true;
		return true;
	}
	return n > 0 || n == -EAGAIN || n == -EINTR;
}

int control_client_event(struct agent *a, struct client *c, uint32_t events)
{
	int64_t now = clock_ms(CLOCK_MONOTONIC);

	if (events & (EPOLLHUP | EPOLLERR) && !(events & EPOLLIN))
		goto close;
	if (events & EPOLLIN && !c->backlog && !c->closing && !client_read(c))
		goto close;
	/* Answer and send until the lines read are done or the peer stops
	 * reading: it is read again once it has drained its replies. */
	do {
		client_handle_lines(a, c, now);
		if (!client_flush(a, c))
			goto close;
	} while (c->backlog && !c->closing && c->out_len < MF_CLIENT_OUT_SOFT);
	if (c->out_len > (c->cred.uid == 0 ? MF_CLIENT_OUT_HARD_ROOT : MF_CLIENT_OUT_HARD)) {
		client_close(a, c, CLOSED_QUEUE);
		return 0;
	}
	if (c->closing && c->out_len == 0)
		goto close;
	return 0;
close:
	client_free(a, c);
	return 0;
}

/* Once a second: close idle clients and stalled lines, tell subscribers of
 * their drops without waiting for a record, and give memory back. */
static void control_tick(struct agent *a, int64_t now)
{
	struct client *c = a->clients, *next;

	for (; c; c = next) {
		next = c->next;
		/* A launcher waits for its server's exit: not idle. */
		if (!c->subscribed && !c->launch && now - c->active_ms >= MF_CLIENT_IDLE_S * 1000) {
			client_close(a, c, CLOSED_IDLE);
			continue;
		}
		/* Lines waiting on the agent (backlog) are no fault of the peer. */
		if (c->line_ms && !c->backlog && now - c->line_ms >= MF_CLIENT_LINE_S * 1000) {
			client_close(a, c, CLOSED_PARTIAL_LINE);
			continue;
		}
		if (c->subscribed && c->dropped != c->dropped_reported) {
			client_report_drops(c);
			if (!client_flush(a, c))
				c->closing = true;
		}
		if (!c->backlog)
			mf_linebuf_shrink(&c->in);
	}
	if (a->client_counts.freed >= MF_CLIENTS_TRIM_AFTER) {
		malloc_trim(0);
		a->client_counts.freed = 0;
	}
}

void control_reap(struct agent *a)
{
	static int64_t last_tick;
	struct client *c = a->clients, *next;
	int64_t now = clock_ms(CLOCK_MONOTONIC);

	for (; c; c = next) {
		next = c->next;
		if (c->closing && (c->out_len == 0 || !client_flush(a, c) || c->out_len == 0))
			client_free(a, c);
	}
	if (now - last_tick >= 1000) {
		last_tick = now;
		control_tick(a, now);
	}
}

json_t *control_status(struct agent *a)
{
	const struct client_counts *n = &a->client_counts;
	json_t *refused = json_object(), *closed = json_object();

	for (int i = 0; i < REFUSED_MAX; i++)
		json_object_set_new(refused, refusal_names[i], json_integer(n->refused[i]));
	for (int i = 0; i < CLOSED_MAX; i++)
		json_object_set_new(closed, closing_names[i], json_integer(n->closed[i]));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "users", (json_int_t)n->users,
			 "users_limit", (json_int_t)MF_CLIENTS_USERS, "per_uid_limit",
			 (json_int_t)MF_CLIENTS_PER_UID, "root", (json_int_t)n->root, "root_limit",
			 (json_int_t)MF_CLIENTS_ROOT, "queued_bytes", (json_int_t)queued_total,
			 "refused", refused, "closed", closed);
}
