// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/magic.h>

#include "pins.h"

static int unlink_entries(const char *dir, int links)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((strncmp(de->d_name, "link_", 5) == 0) != links)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	closedir(d);
	return err;
}

int mf_unpin_dir(const char *dir)
{
	int err = unlink_entries(dir, 1);

	if (!err)
		err = unlink_entries(dir, 0);
	if (!err && rmdir(dir) && errno != ENOENT)
		err = -errno;
	return err;
}

/* The pid holding a flock on (dev, ino), from /proc/locks; 0 if not found.
 * Lines look like "1: FLOCK  ADVISORY  WRITE 4242 00:27:114854 0 EOF";
 * waiters are listed as "1: -> FLOCK ..." and skipped. */
static pid_t flock_holder(dev_t dev, ino_t ino)
{
	FILE *f = fopen("/proc/locks", "re");
	unsigned int maj, min;
	unsigned long lino;
	char line[256], type[16];
	pid_t pid = 0, p;
	int n;

	if (!f)
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		n = sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%lu", type, &p, &maj, &min, &lino);
		if (n != 5)
			continue;
		if (strcmp(type, "FLOCK") == 0 && maj == major(dev) && min == minor(dev) &&
		    lino == ino)
			pid = p;
	}
	fclose(f);
	return pid;
}

/* A pin directory another user could write is not ours: they could unlink
 * the link pins (detaching enforcement) or plant their own. /sys/fs/bpf is
 * world-writable and sticky on some systems, so the directory may have been
 * made by anyone before the agent first ran. */
int mf_pin_dir_check(int fd, const char *dir, char *err, size_t errlen)
{
	struct statfs sfs;
	struct stat st;

	if (fstat(fd, &st) || fstatfs(fd, &sfs)) {
		int e = errno;

		snprintf(err, errlen, "cannot stat %s: %s", dir, strerror(e));
		return -e;
	}
	if ((unsigned long)sfs.f_type != BPF_FS_MAGIC) {
		snprintf(err, errlen, "%s is not on a bpf filesystem", dir);
		return -EINVAL;
	}
	if (st.st_uid != 0) {
		snprintf(err, errlen, "%s is owned by uid %u, not root: remove it", dir, st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
			 "%s is writable by users other than root (mode %04o): chmod 0700 %s", dir,
			 st.st_mode & 07777, dir);
		return -EPERM;
	}
	return 0;
}

static int lock_once(const char *dir, pid_t *holder, char *err, size_t errlen)
{
	struct stat st, now;
	int fd, ret;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		if (ret != -EWOULDBLOCK) {
			snprintf(err, errlen, "cannot lock %s: %s", dir, strerror(-ret));
			goto fail;
		}
		if (fstat(fd, &st) == 0)
			*holder = flock_holder(st.st_dev, st.st_ino);
		if (*holder)
			snprintf(err, errlen, "another agent (pid %d) runs on %s", *holder, dir);
		else
			snprintf(err, errlen, "another agent runs on %s", dir);
		ret = -EBUSY;
		goto fail;
	}
	/* The directory may have been removed (an agent detaching) and made
	 * again between open and flock: the lock must be on the one the path names. */
	if (fstat(fd, &st) || stat(dir, &now) || st.st_dev != now.st_dev ||
	    st.st_ino != now.st_ino) {
		ret = -EAGAIN;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return ret;
}

int mf_pin_dir_lock(const char *dir, pid_t *holder, char *err, size_t errlen)
{
	int ret = -EAGAIN;

	*holder = 0;
	for (int i = 0; i < 3 && ret == -EAGAIN; i++)
		ret = lock_once(dir, holder, err, errlen);
	if (ret == -EAGAIN)
		snprintf(err, errlen, "cannot lock %s: it keeps being replaced", dir);
	return ret;
}
