// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"

void mf_linebuf_init(struct mf_linebuf *lb, size_t max)
{
	memset(lb, 0, sizeof(*lb));
	lb->max = max;
}

void mf_linebuf_free(struct mf_linebuf *lb)
{
	free(lb->buf);
	memset(lb, 0, sizeof(*lb));
}

/* Room for a read at the end of lb: 0, -EMSGSIZE or -ENOMEM. */
static int linebuf_room(struct mf_linebuf *lb)
{
	/* Drop consumed bytes before growing. */
	if (lb->start) {
		memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
		lb->len -= lb->start;
		lb->start = 0;
	}
	if (lb->cap - lb->len < 4096) {
		size_t cap = lb->cap ? lb->cap * 2 : 65536; /* few reads for a fast stream */
		char *buf;

		/* One line of max bytes, its '\n' and room for a read. */
		if (cap > lb->max + 8192)
			cap = lb->max + 8192;
		if (cap <= lb->len)
			return -EMSGSIZE;
		buf = realloc(lb->buf, cap);
		if (!buf)
			return -ENOMEM;
		lb->buf = buf;
		lb->cap = cap;
	}
	return 0;
}

ssize_t mf_linebuf_fill(struct mf_linebuf *lb, int fd)
{
	int err = linebuf_room(lb);
	ssize_t n;

	if (err)
		return err;
	n = read(fd, lb->buf + lb->len, lb->cap - lb->len);
	if (n < 0)
		return -errno;
	lb->len += n;
	return n;
}

ssize_t mf_linebuf_fill_fds(struct mf_linebuf *lb, int fd, int *fds, size_t max, size_t *nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MF_FDS_MAX)];
	} ctl;
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	int err = linebuf_room(lb);
	struct cmsghdr *cm;
	ssize_t n;

	if (err)
		return err;
	iov.iov_base = lb->buf + lb->len;
	iov.iov_len = lb->cap - lb->len;
	/* More descriptors than fit are closed by the kernel (MSG_CTRUNC). */
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int got;

			memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds < max)
				fds[(*nfds)++] = got;
			else
				close(got);
		}
	}
	lb->len += n;
	return n;
}

int mf_send_fds(int fd, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MF_FDS_MAX)];
	} ctl = {};
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (nfds > MF_FDS_MAX || !len)
		return -EINVAL;
	if (nfds) {
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* The descriptors went with the first byte; the rest as plain data. */
	return mf_write_all(fd, (const char *)buf + n, len - n);
}

int mf_linebuf_next(struct mf_linebuf *lb, char **line, size_t *len)
{
	char *begin = lb->buf + lb->start;
	size_t avail = lb->len - lb->start;
	char *nl = avail ? memchr(begin, '\n', avail) : NULL;

	if (!nl)
		return avail > lb->max ? -EMSGSIZE : 0;
	if ((size_t)(nl - begin) > lb->max)
		return -EMSGSIZE;
	*nl = '\0';
	*line = begin;
	*len = nl - begin;
	lb->start += *len + 1;
	return 1;
}

void mf_linebuf_shrink(struct mf_linebuf *lb)
{
	size_t held = lb->len - lb->start;
	char *buf;

	if (!held) {
		free(lb->buf);
		lb->buf = NULL;
		lb->start = lb->len = lb->cap = 0;
		return;
	}
	/* A line being received fills its buffer at least half: leave it be. */
	if (lb->cap <= 8192 || held > lb->cap / 4)
		return;
	buf = malloc(held + 4096); /* and room for one read */
	if (!buf)
		return;
	memcpy(buf, lb->buf + lb->start, held);
	free(lb->buf);
	lb->buf = buf;
	lb->start = 0;
	lb->len = held;
	lb->cap = held + 4096;
}

char *mf_json_line(const json_t *obj, size_t *len)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	size_t n;
	char *line;

	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return line;
}

json_t *mf_json_parse_object(const char *line, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!obj) {
		snprintf(err, errlen, "malformed message at column %d: %s", jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		snprintf(err, errlen, "malformed message: not a JSON object");
		return NULL;
	}
	return obj;
}

int mf_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		/* A socket the agent closed (a refused connection) must give EPIPE,
		 * not kill the CLI with SIGPIPE before it reads the agent's reason. */
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

const char *mf_socket_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path)
		return explicit_path;
	env = getenv(MF_SOCKET_ENV);
	if (env && *env)
		return env;
	return MF_DEFAULT_SOCKET;
}

int mf_client_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int mf_client_read(int fd, struct mf_linebuf *lb, json_t **obj)
{
	char err[256];
	char *line;
	size_t len;
	ssize_t n;
	int r;

	for (;;) {
		r = mf_linebuf_next(lb, &line, &len);
		if (r < 0)
			return r;
		if (r > 0)
			break;
		n = mf_linebuf_fill(lb, fd);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		if (n == 0)
			return 0;
	}
	*obj = mf_json_parse_object(line, len, err, sizeof(err));
	return *obj ? 1 : -EPROTO;
}

int mf_client_call(int fd, struct mf_linebuf *lb, const json_t *req, json_t **reply)
{
	return mf_client_call_fds(fd, lb, req, NULL, 0, reply);
}

int mf_client_call_fds(int fd, struct mf_linebuf *lb, const json_t *req, const int *fds,
		       size_t nfds, json_t **reply)
{
	size_t len;
	char *line = mf_json_line(req, &len);
	int err, r;

	if (!line)
		return -ENOMEM;
	err = nfds ? mf_send_fds(fd, line, len, fds, nfds) : mf_write_all(fd, line, len);
	free(line);
	/* A refused connection was told why and closed: read why. */
	if (err && err != -EPIPE && err != -ECONNRESET)
		return err;
	r = mf_client_read(fd, lb, reply);
	if (r > 0)
		return 0;
	return err ? err : r == 0 ? -ECONNRESET : r;
}

static const char *const errcode_names[MF_E_COUNT] = {
	[MF_E_INVALID_REQUEST] = "invalid-request",
	[MF_E_PERMISSION_DENIED] = "permission-denied",
	[MF_E_GOVERNED] = "governed",
	[MF_E_NOT_GOVERNED] = "not-governed",
	[MF_E_PEER_GONE] = "peer-gone",
	[MF_E_NOT_FOUND] = "not-found",
	[MF_E_LIMIT] = "limit",
	[MF_E_REFUSED] = "refused",
	[MF_E_INVALID_POLICY] = "invalid-policy",
	[MF_E_ISOLATED] = "isolated",
	[MF_E_NOT_ISOLATED] = "not-isolated",
	[MF_E_FAILED] = "failed",
};

const char *mf_errcode_name(enum mf_errcode code)
{
	if ((unsigned)code >= MF_E_COUNT || !errcode_names[code])
		return errcode_names[MF_E_FAILED];
	return errcode_names[code];
}

int mf_errcode_of(const char *name)
{
	for (int i = 0; name && i < MF_E_COUNT; i++) {
		if (errcode_names[i] && strcmp(errcode_names[i], name) == 0)
			return i;
	}
	return -1;
}

bool mf_is_message_line(const char *line, size_t len)
{
	static const char prefix[] = "{\"type\":";

	return len >= sizeof(prefix) - 1 && memcmp(line, prefix, sizeof(prefix) - 1) == 0;
}
