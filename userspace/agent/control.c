// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The control socket's connections: JSON lines from the CLI, peers known by
 * SO_PEERCRED and SO_PEERPIDFD; each request goes to ops.c. A malformed message closes that
 * connection only. Output is queued per
 * client, bounded; a subscriber that does not read loses records, counted
 * and reported to it, and never blocks the agent.
 */
#include <errno.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "file.h"
#include "control.h"

static struct {
	enum watch_kind kind;
} listen_watch = { WATCH_LISTEN };

int control_setup(struct agent *a)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_watch };
	char dir[PATH_MAX];
	int fd, err;

	if (strlen(a->opt.socket_path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "mcpfenced: socket path too long: %s\n", a->opt.socket_path);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", a->opt.socket_path);
	if (mkdir(dirname(dir), 0755) && errno != EEXIST) {
		fprintf(stderr, "mcpfenced: cannot create %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	strcpy(addr.sun_path, a->opt.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
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
			strerror(errno));
		close(fd);
		return err;
	}
	/* Everyone may connect; what each peer may do is decided per request. */
	chmod(a->opt.socket_path, 0666);
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		err = -errno;
		close(fd);
		return err;
	}
	a->listen_fd = fd;
	return 0;
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

void control_teardown(struct agent *a)
{
	while (a->clients)
		client_free(a, a->clients);
	if (a->listen_fd >= 0) {
		close(a->listen_fd);
		unlink(a->opt.socket_path);
	}
	a->listen_fd = -1;
}

int control_accept(struct agent *a)
{
	socklen_t len = sizeof(struct ucred);
	struct epoll_event ev = { .events = EPOLLIN };
	struct client *c;
	int fd;

	fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN ? 0 : -errno;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->kind = WATCH_CLIENT;
	c->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len)) {
		close(fd);
		free(c);
		return 0;
	}
	mf_linebuf_init(&c->in, c->cred.uid == 0 ? MF_LINE_MAX_ROOT : MF_LINE_MAX_USER);
	ev.data.ptr = c;
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		free(c);
		return -errno;
	}
	/* The connecting process itself, not its pid: ops.c refuses requests
	 * once it is gone (its socket may live on in another process). */
	len = sizeof(c->pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &c->pidfd, &len))
		c->pidfd = -errno;
	c->next = a->clients;
	a->clients = c;
	return 0;
}

static void client_want_out(struct agent *a, struct client *c, bool want)
{
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out == want)
		return;
	c->want_out = want;
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
	if (!c->out_len)
		c->out_start = 0;
	client_want_out(a, c, c->out_len > 0);
	return true;
}

void client_queue(struct client *c, const char *line, size_t len, bool droppable)
{
	if (droppable && c->out_len + len > MF_SUBSCRIBER_QUEUE) {
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
}

void client_send_json(struct client *c, json_t *obj, bool droppable)
{
	size_t len;
	char *line = mf_json_line(obj, &len);

	if (line)
		client_queue(c, line, len, droppable);
	free(line);
	json_decref(obj);
}

void client_reply_error(struct client *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_send_json(c, json_pack("{s:b, s:s}", "ok", 0, "error", msg), false);
}

void client_report_drops(struct client *c)
{
	uint64_t n = c->dropped - c->dropped_reported;

	if (!n || c->out_len > MF_SUBSCRIBER_QUEUE / 2)
		return;
	c->dropped_reported = c->dropped;
	client_send_json(c, json_pack("{s:I, s:I}", "dropped", (json_int_t)n, "dropped_total",
				      (json_int_t)c->dropped),
			 false);
}

bool client_wants_record(const struct client *c, const struct audit_record *rec)
{
	if (c->own_identity && !audit_filter_match(rec, c->own_identity, NULL))
		return false;
	return audit_filter_match(rec, c->filter_identity, c->filter_verdict);
}

void control_broadcast(struct agent *a, const struct audit_record *rec)
{
	for (struct client *c = a->clients; c; c = c->next) {
		if (!c->subscribed || !client_wants_record(c, rec))
			continue;
		client_report_drops(c);
		client_queue(c, rec->line, rec->len, true);
	}
}

void control_flush_subscribers(struct agent *a)
{
	for (struct client *c = a->clients; c; c = c->next) {
		if (c->subscribed && c->out_len && !c->want_out && !client_flush(a, c))
			c->closing = true;
	}
}

int control_client_event(struct agent *a, struct client *c, uint32_t events)
{
	char err[256];
	char *line;
	size_t len;
	ssize_t n;
	int r;

	if (events & (EPOLLHUP | EPOLLERR) && !(events & EPOLLIN))
		goto close;
	if (events & EPOLLIN) {
		n = mf_linebuf_fill(&c->in, c->fd);
		if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR && n != -EMSGSIZE))
			goto close;
		while (!c->closing && (r = mf_linebuf_next(&c->in, &line, &len)) != 0) {
			json_t *req;

			if (r < 0 || n == -EMSGSIZE) {
				client_reply_error(c, "message too long (over %zu bytes)", c->in.max);
				c->closing = true;
				break;
			}
			req = mf_json_parse_object(line, len, err, sizeof(err));
			if (!req) {
				client_reply_error(c, "%s", err);
				c->closing = true;
				break;
			}
			ops_handle(a, c, req);
			json_decref(req);
		}
		if (n == -EMSGSIZE && !c->closing) {
			client_reply_error(c, "message too long (over %zu bytes)", c->in.max);
			c->closing = true;
		}
	}
	if (!client_flush(a, c))
		goto close;
	if (c->closing && c->out_len == 0)
		goto close;
	return 0;
close:
	client_free(a, c);
	return 0;
}

/* Clients marked closing by a broadcast are closed once flushed. */
void control_reap(struct agent *a)
{
	struct client *c = a->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->closing && (c->out_len == 0 || !client_flush(a, c) || c->out_len == 0))
			client_free(a, c);
	}
}
