// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

ssize_t mf_proc_read(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	size_t n = 0;
	int fd, err;

	if (!len)
		return -EINVAL;
	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* /proc files give their text in several reads past a page. */
	while (n < len - 1) {
		ssize_t r = read(fd, buf + n, len - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			close(fd);
			buf[0] = '\0';
			return err;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	return n;
}

void mf_proc_text(pid_t pid, const char *what, char *buf, size_t len)
{
	ssize_t r = mf_proc_read(pid, what, buf, len);
	size_t n = r > 0 ? r : 0;

	/* cmdline: NUL-separated arguments; comm: trailing newline. */
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\0')
			buf[i] = ' ';
	}
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\n'))
		buf[--n] = '\0';
}

const char *mf_proc_status_field(const char *status, const char *key)
{
	size_t klen = strlen(key);

	for (const char *line = status; line && *line;) {
		if (strncmp(line, key, klen) == 0)
			return line + klen;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

bool mf_proc_status_has_group(const char *status, gid_t gid)
{
	const char *p = mf_proc_status_field(status, "Groups:");

	while (p) {
		char *end;
		unsigned long g;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return false; /* the line's end */
		g = strtoul(p, &end, 10);
		if (*end != ' ' && *end != '\t' && *end != '\n')
			return false; /* cut by the end of what was read, or not a number */
		if (g == gid)
			return true;
		p = end;
	}
	return false;
}

#define MF_PF_EXITING 0x00000004 /* include/linux/sched.h */

bool mf_proc_exiting(pid_t pid)
{
	char stat[1024], state;
	unsigned long flags;
	const char *p;

	if (mf_proc_read(pid, "stat", stat, sizeof(stat)) <= 0)
		return true;
	/* "PID (COMM) STATE PPID PGRP SESSION TTY TPGID FLAGS ...": comm may
	 * hold anything, ')' included, so read from its last ')'. */
	p = strrchr(stat, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return true;
	return state == 'Z' || state == 'X' || state == 'x' || (flags & MF_PF_EXITING);
}
