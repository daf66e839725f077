// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's private state: what must survive a restart (the active
 * policy's text) lives in a directory only root may enter (--state-dir,
 * default /var/lib/mcpfence), never beside the socket, where other users
 * or another agent could read, replace or redirect it. Files are named
 * after the pin directory, so agents on different pins may share the
 * state directory and keep their own policies.
 *
 * A file is trusted only when it is a regular file of root's with mode
 * 0600 reached without a symlink. It is written at a private name (random
 * suffix, O_EXCL | O_NOFOLLOW), synced, renamed over the old one, and the
 * directory synced: after a crash it holds the old text or the new one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "file.h"

#define STATE_POLICY ".policy.json"
#define STATE_TMP ".tmp." /* after KEY and the file's suffix */
#define STATE_KEY_MAX 200 /* leaves room for the suffixes within NAME_MAX */

/* The pin directory as a file name, escaped as systemd-escape --path does
 * but for '.', escaped too, so that a key never holds the '.' that starts
 * the suffixes: "/sys/fs/bpf/mcpfence-x.y" -> "sys-fs-bpf-mcpfence\x2dx\x2ey". */
static int state_key(const char *pin_dir, char **out)
{
	char real[PATH_MAX], key[STATE_KEY_MAX + 8];
	const char *p = realpath(pin_dir, real) ? real : pin_dir;
	size_t n = 0;

	while (*p == '/')
		p++;
	for (; *p; p++) {
		unsigned char ch = *p;

		if (n > STATE_KEY_MAX)
			return -ENAMETOOLONG;
		if (ch == '/') {
			while (p[1] == '/')
				p++;
			if (p[1])
				key[n++] = '-';
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '_' || ch == ':') {
			key[n++] = ch;
		} else {
			n += snprintf(key + n, sizeof(key) - n, "\\x%02x", ch);
		}
	}
	if (n == 0)
		key[n++] = '-';
	key[n] = '\0';
	*out = strdup(key);
	return *out ? 0 : -ENOMEM;
}

static int check_dir(int fd, const char *dir)
{
	static const char *const who[] = { "", "others", "its group", "its group and others" };
	struct stat st;
	int open_to;

	if (fstat(fd, &st)) {
		fprintf(stderr, "mcpfenced: cannot stat %s: %m\n", dir);
		return -EIO;
	}
	if (st.st_uid != 0) {
		fprintf(stderr,
			"mcpfenced: state directory %s is owned by uid %u, not root: "
			"chown root %s\n",
			dir, st.st_uid, dir);
		return -EPERM;
	}
	open_to = (st.st_mode & 007 ? 1 : 0) | (st.st_mode & 070 ? 2 : 0);
	if (open_to) {
		fprintf(stderr,
			"mcpfenced: state directory %s is open to %s (mode %04o): chmod 0700 %s\n",
			dir, who[open_to], st.st_mode & 07777, dir);
		return -EPERM;
	}
	return 0;
}

/* Temporary files a crashed agent left: the directory is private and the pin
 * lock is ours, so nobody else writes files of this key. */
static void sweep_tmp(struct agent *a)
{
	size_t len = strlen(a->state_key);
	int fd = openat(a->state_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, a->state_key, len) == 0 && de->d_name[len] == '.' &&
		    strstr(de->d_name + len, STATE_TMP))
			unlinkat(a->state_fd, de->d_name, 0);
	}
	closedir(d);
}

int state_open(struct agent *a, bool create)
{
	const char *dir = a->opt.state_dir;
	int err;

	err = state_key(a->opt.pin_dir, &a->state_key);
	if (err) {
		fprintf(stderr, "mcpfenced: cannot name the state of %s: %s\n", a->opt.pin_dir,
			strerror(-err));
		return err;
	}
	if (create && mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot create %s: %s\n", dir, strerror(-err));
		return err;
	}
	a->state_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->state_fd < 0) {
		err = -errno;
		if (!create && err == -ENOENT)
			return 0;
		fprintf(stderr, "mcpfenced: cannot open state directory %s: %s\n", dir,
			strerror(-err));
		return err;
	}
	err = check_dir(a->state_fd, dir);
	if (err) {
		close(a->state_fd);
		a->state_fd = -1;
		return err;
	}
	if (create)
		sweep_tmp(a);
	return 0;
}

void state_policy_path(const struct agent *a, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s" STATE_POLICY, a->opt.state_dir, a->state_key);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= w;
	}
	return 0;
}

static int write_tmp(int dfd, const char *tmp, const char *text, size_t len)
{
	int fd, err;

	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* The umask may have taken bits away: the reader wants exactly 0600. */
	err = fchmod(fd, 0600) ? -errno : 0;
	if (!err)
		err = write_all(fd, text, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

/* KEY + suffix, replaced in one step by text. */
int state_write(struct agent *a, const char *suffix, const char *text, size_t len)
{
	char name[NAME_MAX + 1], tmp[NAME_MAX + 1];
	unsigned char rnd[8];
	int err;

	if (a->state_fd < 0)
		return -EBADF;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -errno;
	snprintf(name, sizeof(name), "%s%s", a->state_key, suffix);
	snprintf(tmp, sizeof(tmp), "%s%s.tmp.%02x%02x%02x%02x%02x%02x%02x%02x", a->state_key,
		 suffix, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	err = write_tmp(a->state_fd, tmp, text, len);
	if (!err && renameat(a->state_fd, tmp, a->state_fd, name))
		err = -errno;
	if (err) {
		unlinkat(a->state_fd, tmp, 0);
	} else if (fsync(a->state_fd)) {
		err = -errno;
	}
	return err;
}

int state_save_policy(struct agent *a, const char *text, size_t len)
{
	char path[PATH_MAX + NAME_MAX];
	int err = state_write(a, STATE_POLICY, text, len);

	if (err) {
		state_policy_path(a, path, sizeof(path));
		fprintf(stderr, "mcpfenced: cannot save the active policy to %s: %s\n", path,
			strerror(-err));
	}
	return err;
}

int state_load_policy(struct agent *a, char **text, size_t *len)
{
	return state_read(a, STATE_POLICY, MF_POLICY_FILE_MAX, text, len);
}

int state_read(struct agent *a, const char *suffix, size_t max, char **text, size_t *len)
{
	char name[NAME_MAX + 1], path[PATH_MAX + NAME_MAX];
	struct stat st;
	int fd, err;

	if (a->state_fd < 0)
		return -ENOENT;
	snprintf(name, sizeof(name), "%s%s", a->state_key, suffix);
	snprintf(path, sizeof(path), "%s/%s", a->opt.state_dir, name);
	fd = openat(a->state_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (err == -ELOOP)
			fprintf(stderr, "mcpfenced: not using %s: it is a symbolic link\n", path);
		else if (err != -ENOENT)
			fprintf(stderr, "mcpfenced: not using %s: %s\n", path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 07777) != 0600 ||
		   st.st_nlink != 1) {
		fprintf(stderr,
			"mcpfenced: not using %s: not a root-owned regular file of mode 0600 "
			"(uid %u, mode %06o, %ju links)\n",
			path, st.st_uid, st.st_mode, (uintmax_t)st.st_nlink);
		close(fd);
		return -EPERM;
	} else {
		err = mf_read_fd(fd, max, text, len);
	}
	if (err)
		fprintf(stderr, "mcpfenced: cannot read %s: %s\n", path, strerror(-err));
	close(fd);
	return err;
}

void state_remove(struct agent *a)
{
	char name[NAME_MAX + 1];

	if (a->state_fd < 0)
		return;
	snprintf(name, sizeof(name), "%s" STATE_POLICY, a->state_key);
	unlinkat(a->state_fd, name, 0);
	snprintf(name, sizeof(name), "%s" STATE_TENANTS, a->state_key);
	unlinkat(a->state_fd, name, 0);
	sweep_tmp(a);
}

void state_close(struct agent *a)
{
	if (a->state_fd >= 0)
		close(a->state_fd);
	a->state_fd = -1;
	free(a->state_key);
	a->state_key = NULL;
}
