// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fsprobe: one file or process operation, its outcome on stdout ("OK" or
 * the errno name), for the tenant tests: what one isolated server can do to
 * another's files and processes.
 *
 *   fsprobe read PATH        open(O_RDONLY) and read one byte
 *   fsprobe write PATH       open(O_WRONLY | O_CREAT) (the file is removed after)
 *   fsprobe list DIR         opendir and readdir
 *   fsprobe readlink PATH    readlink (for /proc/PID/fd/N)
 *   fsprobe kill PID SIG     kill(PID, SIG)
 *   fsprobe shm-create KEY   shmget(KEY, IPC_CREAT, 0666): a segment open to all
 *   fsprobe shm-get KEY      shmget(KEY) of a segment made before
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

static int outcome(int err)
{
	puts(err ? strerrorname_np(err) : "OK");
	return 0;
}

int main(int argc, char **argv)
{
	char buf[256];
	DIR *d;
	int fd;

	if (argc == 3 && !strcmp(argv[1], "read")) {
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return outcome(errno);
		return outcome(read(fd, buf, 1) < 0 ? errno : 0);
	}
	if (argc == 3 && !strcmp(argv[1], "write")) {
		fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return outcome(errno);
		unlink(argv[2]);
		return outcome(0);
	}
	if (argc == 3 && !strcmp(argv[1], "list")) {
		d = opendir(argv[2]);
		if (!d)
			return outcome(errno);
		errno = 0;
		readdir(d);
		return outcome(errno);
	}
	if (argc == 3 && !strcmp(argv[1], "readlink"))
		return outcome(readlink(argv[2], buf, sizeof(buf)) < 0 ? errno : 0);
	if (argc == 4 && !strcmp(argv[1], "kill"))
		return outcome(kill(atoi(argv[2]), atoi(argv[3])) ? errno : 0);
	if (argc == 3 && !strcmp(argv[1], "shm-create"))
		return outcome(shmget(atoi(argv[2]), 4096, IPC_CREAT | 0666) < 0 ? errno : 0);
	if (argc == 3 && !strcmp(argv[1], "shm-get"))
		return outcome(shmget(atoi(argv[2]), 0, 0) < 0 ? errno : 0);
	fprintf(stderr, "usage: fsprobe read|write|list|readlink PATH, fsprobe kill PID SIG, "
			"fsprobe shm-create|shm-get KEY\n");
	return 2;
}
