// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * setpid: run a command as a process with a chosen pid (clone3 set_tid,
 * root only), for the test of stale tags on a reused pid.
 *
 *   setpid PID CMD...
 *
 * Exits with the command's status; 125 if the pid could not be had.
 */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	pid_t want, pid;
	int status;

	if (argc < 3 || (want = atoi(argv[1])) <= 1) {
		fprintf(stderr, "usage: setpid PID CMD...\n");
		return 2;
	}
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)&want,
		.set_tid_size = 1,
	};
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		fprintf(stderr, "setpid: cannot create pid %d: %s\n", want, strerror(errno));
		return 125;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "setpid: cannot run %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return 125;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
