// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * escape: one attempt of a governed process to act through an ungoverned
 * one or to undo enforcement, its outcome on stdout ("OK" or the errno
 * name), for tests/e2e/70-harden.t. And the ungoverned side of it.
 *
 *   escape hold NAME               (ungoverned) listen on abstract @NAME, print
 *                                  "PID FD ADDR" (socket fd, a writable buffer),
 *                                  accept and close until killed
 *   escape ptrace-attach PID       PTRACE_ATTACH, wait for the stop, detach
 *   escape ptrace-seize PID        PTRACE_SEIZE, interrupt, wait, detach
 *   escape vm-write PID ADDR       process_vm_writev of 8 bytes at ADDR
 *   escape vm-read PID ADDR        process_vm_readv of 8 bytes at ADDR
 *   escape proc-mem PID ADDR       open /proc/PID/mem read-write, write at ADDR
 *   escape getfd PID FD            pidfd_open then pidfd_getfd
 *   escape unshare-userns          unshare(CLONE_NEWUSER)
 *   escape clone-userns            clone(CLONE_NEWUSER | SIGCHLD)
 *   escape clone3                  clone3 of a plain child
 *   escape setns                   setns(/proc/self/ns/net, CLONE_NEWNET)
 *   escape bpf                     BPF_PROG_LOAD of "return 0" (socket filter)
 *   escape perf                    perf_event_open of a software clock on itself
 *   escape kill PID SIG            kill(PID, SIG)
 *   escape connect-abstract NAME   connect to abstract @NAME
 *   escape fork-signal             fork a child, SIGTERM it, reap it
 *   escape thread                  pthread_create and join
 *   escape rename DIR              rename and link a file across two directories
 *   escape int80                   getpid through the i386 ABI (int 0x80)
 *   escape x32                     getpid through the x32 ABI number
 *   escape no-landlock CMD...      (ungoverned) exec CMD where landlock_create_ruleset
 *                                  fails with ENOSYS, as on a kernel without it
 *   escape tiocsti TEXT [high]     type TEXT into the controlling terminal (/dev/tty)
 *                                  with TIOCSTI; high: the command with bits set above
 *                                  the 32 the kernel keeps
 *   escape tioclinux               TIOCLINUX TIOCL_PASTESEL on /dev/tty
 *   escape socket FAMILY TYPE [high]
 *                                  socket(FAMILY, TYPE, 0) (numbers); high: FAMILY with
 *                                  bits set above the 32 the kernel keeps
 *   escape socketpair FAMILY TYPE  socketpair(FAMILY, TYPE, 0)
 *   escape io-uring                io_uring_setup of a 4-entry ring
 *   escape peer-request SOCK JSON reap|zombie
 *                                  a child connects to the agent at SOCK and exits
 *                                  (reaped, or left a zombie); this process then sends
 *                                  JSON on the connection; prints the child's pid and
 *                                  the reply
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char target_buf[64] = "untouched";

static int report(int err)
{
	const char *name = err ? strerrorname_np(err) : "OK";

	printf("%s\n", name ? name : strerror(err));
	return 0;
}

/* Result of a call returning -1 and errno. */
static int outcome(long ret)
{
	return report(ret < 0 ? errno : 0);
}

static int abstract_addr(const char *name, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	strncpy(sun->sun_path + 1, name, sizeof(sun->sun_path) - 2);
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sun->sun_path + 1);
}

static int cmd_hold(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(name, &sun);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, len) || listen(fd, 16)) {
		perror("escape hold");
		return 1;
	}
	printf("%d %d %p\n", getpid(), fd, (void *)target_buf);
	fflush(stdout);
	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c >= 0)
			close(c);
	}
}

static int cmd_ptrace(pid_t pid, bool seize)
{
	int status;

	if (ptrace(seize ? PTRACE_SEIZE : PTRACE_ATTACH, pid, 0, 0))
		return outcome(-1);
	if (seize && ptrace(PTRACE_INTERRUPT, pid, 0, 0))
		return outcome(-1);
	if (waitpid(pid, &status, __WALL) < 0)
		return outcome(-1);
	return outcome(ptrace(PTRACE_DETACH, pid, 0, 0));
}

static int cmd_vm(pid_t pid, const char *addr, bool write)
{
	char buf[8] = "escaped";
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = { (void *)strtoul(addr, NULL, 0), sizeof(buf) };

	if (write)
		return outcome(process_vm_writev(pid, &local, 1, &remote, 1, 0));
	return outcome(process_vm_readv(pid, &local, 1, &remote, 1, 0));
}

static int cmd_proc_mem(pid_t pid, const char *addr)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return outcome(-1);
	return outcome(pwrite(fd, "escaped", 8, (off_t)strtoul(addr, NULL, 0)) == 8 ? 0 : -1);
}

static int cmd_getfd(pid_t pid, int fd)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);

	if (pidfd < 0) {
		printf("pidfd_open: ");
		return outcome(-1);
	}
	return outcome(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

/* Reap a child that exits 0 at once; -1 with errno when it did not. */
static long reap(pid_t pid)
{
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		errno = ECHILD;
		return -1;
	}
	return 0;
}

static int cmd_clone_userns(void)
{
	/* Raw clone without a new stack: the child runs on a copy of ours. */
	return outcome(reap(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)));
}

static int cmd_clone3(void)
{
	struct clone_args args = { .exit_signal = SIGCHLD };

	return outcome(reap(syscall(SYS_clone3, &args, sizeof(args))));
}

static int cmd_setns(void)
{
	int fd = open("/proc/self/ns/net", O_RDONLY);

	if (fd < 0)
		return outcome(-1);
	return outcome(setns(fd, CLONE_NEWNET));
}

static int cmd_bpf(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr = {
		.prog_type = BPF_PROG_TYPE_SOCKET_FILTER,
		.insns = (uintptr_t)insns,
		.insn_cnt = 2,
		.license = (uintptr_t) "GPL",
	};

	return outcome(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)));
}

static int cmd_perf(void)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.disabled = 1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};

	return outcome(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

static int cmd_connect_abstract(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_addr(name, &sun);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return outcome(-1);
	return outcome(connect(fd, (struct sockaddr *)&sun, len));
}

static int cmd_fork_signal(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return outcome(-1);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	if (kill(pid, SIGTERM))
		return outcome(-1);
	if (waitpid(pid, &status, 0) < 0)
		return outcome(-1);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) {
		printf("child status %#x\n", status);
		return 0;
	}
	return report(0);
}

static void *thread_main(void *arg)
{
	return arg;
}

static int cmd_thread(void)
{
	pthread_t t;
	int err = pthread_create(&t, NULL, thread_main, NULL);

	if (!err)
		err = pthread_join(t, NULL);
	return report(err);
}

static int cmd_rename(const char *dir)
{
	char a[512], b[512], f[600], g[600], l[600];
	int fd;

	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(f, sizeof(f), "%s/file", a);
	snprintf(g, sizeof(g), "%s/file", b);
	snprintf(l, sizeof(l), "%s/link", a);
	if ((mkdir(a, 0700) && errno != EEXIST) || (mkdir(b, 0700) && errno != EEXIST))
		return outcome(-1);
	fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0)
		return outcome(-1);
	close(fd);
	if (rename(f, g))
		return outcome(-1);
	return outcome(link(g, l));
}

static int cmd_int80(void)
{
#ifdef __x86_64__
	long ret;

	/* i386 getpid is 20; a 64-bit process may still enter the i386 ABI. */
	__asm__ volatile("int $0x80" : "=a"(ret) : "0"(20L) : "memory");
	if (ret != getpid()) {
		printf("int80 returned %ld\n", ret);
		return 0;
	}
	return report(0);
#else
	printf("not x86_64\n");
	return 0;
#endif
}

static int cmd_x32(void)
{
	long ret = syscall(0x40000000L | SYS_getpid);

	return outcome(ret);
}

/* Pretend Landlock is absent: landlock_create_ruleset fails with ENOSYS. */
static int cmd_no_landlock(char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_landlock_create_ruleset, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		perror("escape no-landlock");
		return 1;
	}
	execvp(argv[0], argv);
	perror("escape no-landlock: exec");
	return 127;
}

/* Input typed into the terminal: the shell that reads it runs it. Through
 * /dev/tty, so that redirected stdio does not help. */
static int cmd_tiocsti(const char *text, bool high)
{
	unsigned long cmd = TIOCSTI | (high ? 0x100000000UL : 0);
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY);

	if (fd < 0) {
		printf("open /dev/tty: ");
		return outcome(-1);
	}
	for (; *text; text++) {
		if (syscall(SYS_ioctl, fd, cmd, text))
			return outcome(-1);
	}
	return report(0);
}

static int cmd_tioclinux(void)
{
	char subcode = 3; /* TIOCL_PASTESEL */
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY);

	if (fd < 0) {
		printf("open /dev/tty: ");
		return outcome(-1);
	}
	return outcome(ioctl(fd, TIOCLINUX, &subcode));
}

static int cmd_socket(const char *family, const char *type, bool high)
{
	unsigned long f = strtoul(family, NULL, 0) | (high ? 0x100000000UL : 0);

	return outcome(syscall(SYS_socket, f, strtoul(type, NULL, 0), 0));
}

static int cmd_socketpair(const char *family, const char *type)
{
	int sv[2];

	return outcome(socketpair(atoi(family), atoi(type), 0, sv));
}

static int cmd_io_uring(void)
{
	struct io_uring_params params = {};

	return outcome(syscall(SYS_io_uring_setup, 4, &params));
}

/* A request on a connection made by a child that is gone: the agent must not
 * take it for the child's (ungoverned, or reused) pid. */
static int cmd_peer_request(const char *path, const char *json, bool reap)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), pipefd[2];
	char reply[4096], c;
	ssize_t n, len = 0;
	pid_t pid;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || pipe(pipefd)) {
		perror("escape peer-request");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("escape peer-request: fork");
		return 1;
	}
	if (pid == 0) {
		/* The connection's credentials are the child's. */
		close(pipefd[0]);
		_exit(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ? 1 : 0);
	}
	close(pipefd[1]);
	if (reap) {
		waitpid(pid, NULL, 0);
	} else {
		/* EOF once the child exited: a zombie, not reaped. */
		while (read(pipefd[0], &c, 1) > 0)
			;
	}
	if (write(fd, json, strlen(json)) < 0 || write(fd, "\n", 1) < 0) {
		perror("escape peer-request: write");
		return 1;
	}
	while (len < (ssize_t)sizeof(reply) - 1 && (n = read(fd, reply + len, 1)) == 1 &&
	       reply[len] != '\n')
		len++;
	reply[len] = '\0';
	printf("%d %s\n", pid, reply);
	return 0;
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(op, "hold") && argc == 3)
		return cmd_hold(argv[2]);
	if (!strcmp(op, "ptrace-attach") && argc == 3)
		return cmd_ptrace(atoi(argv[2]), false);
	if (!strcmp(op, "ptrace-seize") && argc == 3)
		return cmd_ptrace(atoi(argv[2]), true);
	if (!strcmp(op, "vm-write") && argc == 4)
		return cmd_vm(atoi(argv[2]), argv[3], true);
	if (!strcmp(op, "vm-read") && argc == 4)
		return cmd_vm(atoi(argv[2]), argv[3], false);
	if (!strcmp(op, "proc-mem") && argc == 4)
		return cmd_proc_mem(atoi(argv[2]), argv[3]);
	if (!strcmp(op, "getfd") && argc == 4)
		return cmd_getfd(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(op, "unshare-userns") && argc == 2)
		return outcome(unshare(CLONE_NEWUSER));
	if (!strcmp(op, "clone-userns") && argc == 2)
		return cmd_clone_userns();
	if (!strcmp(op, "clone3") && argc == 2)
		return cmd_clone3();
	if (!strcmp(op, "setns") && argc == 2)
		return cmd_setns();
	if (!strcmp(op, "bpf") && argc == 2)
		return cmd_bpf();
	if (!strcmp(op, "perf") && argc == 2)
		return cmd_perf();
	if (!strcmp(op, "kill") && argc == 4)
		return outcome(kill(atoi(argv[2]), atoi(argv[3])));
	if (!strcmp(op, "connect-abstract") && argc == 3)
		return cmd_connect_abstract(argv[2]);
	if (!strcmp(op, "fork-signal") && argc == 2)
		return cmd_fork_signal();
	if (!strcmp(op, "thread") && argc == 2)
		return cmd_thread();
	if (!strcmp(op, "rename") && argc == 3)
		return cmd_rename(argv[2]);
	if (!strcmp(op, "int80") && argc == 2)
		return cmd_int80();
	if (!strcmp(op, "x32") && argc == 2)
		return cmd_x32();
	if (!strcmp(op, "tiocsti") && (argc == 3 || argc == 4))
		return cmd_tiocsti(argv[2], argc == 4 && !strcmp(argv[3], "high"));
	if (!strcmp(op, "tioclinux") && argc == 2)
		return cmd_tioclinux();
	if (!strcmp(op, "socket") && (argc == 4 || argc == 5))
		return cmd_socket(argv[2], argv[3], argc == 5 && !strcmp(argv[4], "high"));
	if (!strcmp(op, "socketpair") && argc == 4)
		return cmd_socketpair(argv[2], argv[3]);
	if (!strcmp(op, "io-uring") && argc == 2)
		return cmd_io_uring();
	if (!strcmp(op, "peer-request") && argc == 5)
		return cmd_peer_request(argv[2], argv[3], !strcmp(argv[4], "reap"));
	if (!strcmp(op, "no-landlock") && argc >= 3)
		return cmd_no_landlock(argv + 2);
	fprintf(stderr, "usage: see the comment at the top of tests/helpers/escape.c\n");
	return 2;
}
