// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "policy.h"

int mf_read_fd(int fd, size_t max, char **text, size_t *len)
{
	size_t cap, n = 0;
	struct stat st;
	char *buf;
	int err;

	/* Sized by fstat when it can be; grown when the size is not known. */
	cap = fstat(fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	if (cap > max + 1)
		cap = max + 1;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *grown;

			if (cap > max) {
				err = -EFBIG;
				goto fail;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			grown = realloc(buf, cap + 1);
			if (!grown) {
				err = -ENOMEM;
				goto fail;
			}
			buf = grown;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto fail;
		}
		if (got == 0)
			break;
		n += got;
	}
	if (n > max) {
		err = -EFBIG;
		goto fail;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	return err;
}

static const char *file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "fifo";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	case S_IFDIR:
		return "directory";
	case S_IFSOCK:
		return "socket";
	default:
		return "unknown type";
	}
}

/* Open path for reading only if it is a regular file. Looked at first
 * through an O_PATH fd, which opens nothing: no FIFO waits for a writer, no
 * device runs its open. Then reopened through /proc/self/fd, the same inode
 * whatever the path names by then. */
static int open_regular(const char *path, char *err, size_t errlen)
{
	struct stat st, again;
	char proc[64];
	int pfd, fd, e;

	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &st)) {
		e = errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		close(pfd);
		snprintf(err, errlen, "cannot read %s: not a regular file (%s)", path,
			 file_type(st.st_mode));
		return -EINVAL;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	/* Without /proc: the path again, checked below to be the same file. */
	if (fd < 0 && errno == ENOENT)
		fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		goto fail;
	}
	close(pfd);
	if (fstat(fd, &again) || !S_ISREG(again.st_mode) || again.st_dev != st.st_dev ||
	    again.st_ino != st.st_ino) {
		close(fd);
		snprintf(err, errlen, "cannot read %s: it changed while being opened", path);
		return -EAGAIN;
	}
	return fd;
fail:
	if (pfd >= 0)
		close(pfd);
	snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
	return -e;
}

int mf_read_regular(const char *path, size_t max, char **text, size_t *len, char *err,
		    size_t errlen)
{
	struct stat st;
	int fd, ret;

	fd = open_regular(path, err, errlen);
	if (fd < 0)
		return fd;
	/* Too large is said before a byte is read. */
	ret = fstat(fd, &st) ? -errno : (size_t)st.st_size > max ? -EFBIG : 0;
	if (!ret)
		ret = mf_read_fd(fd, max, text, len);
	close(fd);
	if (ret == -EFBIG)
		snprintf(err, errlen, "cannot read %s: larger than %zu bytes", path, max);
	else if (ret)
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
	return ret;
}

int mf_policy_check_file(const char *path, struct mf_policy **policy, struct mf_compiled **compiled,
			 char *err, size_t errlen)
{
	size_t len;
	char *text;
	int ret;

	*policy = NULL;
	*compiled = NULL;
	ret = mf_read_regular(path, MF_POLICY_FILE_MAX, &text, &len, err, errlen);
	if (ret)
		return ret;
	ret = mf_policy_parse(text, len, path, policy, err, errlen);
	if (!ret)
		ret = mf_policy_compile(*policy, compiled, err, errlen);
	free(text);
	if (ret) {
		mf_compiled_free(*compiled);
		mf_policy_free(*policy);
		*compiled = NULL;
		*policy = NULL;
	}
	return ret;
}

bool mf_fd_unjudged_socket(int fd, char *why, size_t len)
{
	int domain, type, listening;
	socklen_t olen = sizeof(int);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct stat st;

	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode))
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &olen) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen)) {
		snprintf(why, len, "a socket that cannot be told apart: %s", strerror(errno));
		return true;
	}
	if (domain == AF_INET || domain == AF_INET6) {
		snprintf(why, len, "an IPv%d socket", domain == AF_INET ? 4 : 6);
		return true;
	}
	if (domain != AF_UNIX || listening)
		return false;
	if (type == SOCK_DGRAM) {
		snprintf(why, len, "a Unix datagram socket");
		return true;
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &plen)) {
		snprintf(why, len, "an unconnected Unix socket");
		return true;
	}
	return false;
}
