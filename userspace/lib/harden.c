// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Launcher hardening: what `mcpfence run` applies to itself after the agent
 * tagged it and before it execs the server, so that every governed process
 * inherits it and none can remove it.
 *
 * - no_new_privs: needed by both layers below for an unprivileged caller;
 *   also keeps setuid binaries from raising the governed tree's privileges.
 * - seccomp: refuses the calls that let a governed process act through an
 *   ungoverned one, undo enforcement, or reach the kernel by paths the
 *   hooks cannot judge; see harden_syscalls[].
 *   Syscalls of a foreign ABI (i386 int 0x80, x32) kill the process: the
 *   table speaks of native numbers only.
 * - Landlock (ABI >= 6): a domain that handles no filesystem or network
 *   right, only the scopes: no connect to abstract Unix sockets and no
 *   signal to processes outside the domain. Any Landlock domain also limits
 *   ptrace-mode access (ptrace, /proc/PID/mem, /proc/PID/fd, ...) to
 *   processes inside it: a second wall behind the seccomp filter.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harden.h"

/* Landlock ABI 6/7 names, for headers older than the running kernel. */
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
#ifndef LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON
#define LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON (1U << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6; older headers lack the last two. */
struct mf_landlock_ruleset_attr {
	__u64 handled_access_fs;
	__u64 handled_access_net;
	__u64 scoped;
};

#if defined(__x86_64__)
#define MF_AUDIT_ARCH AUDIT_ARCH_X86_64
#define MF_X32_SYSCALL_BIT 0x40000000U
#elif defined(__aarch64__)
#define MF_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

enum harden_check {
	REFUSE_ALWAYS,		/* whatever the arguments */
	REFUSE_NEWUSER,		/* when the flags in argument 0 hold CLONE_NEWUSER */
	REFUSE_ARG1,		/* when argument 1 (its low 32 bits) is arg: an ioctl command */
	REFUSE_FAMILY,		/* when argument 0 is none of socket_families[] */
	REFUSE_UNLESS_IO_URING, /* always, unless the policy lets the server use io_uring */
	REFUSE_IF_ISOLATED,	/* always, for isolated servers (launched by the agent) */
};

/* The families the kernel hooks judge (inet) or that carry no traffic out
 * (Unix: judged by its own rules; netlink: the kernel's, getaddrinfo needs
 * it). Any other (packet, ALG, vsock, Bluetooth, ...) is refused at socket(),
 * where the hooks would see nothing. */
static const __u32 socket_families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };

/*
 * What the filter refuses, and why. Allowed on purpose:
 * - kcmp: compares two processes' kernel objects, acts on neither; the
 *   kernel asks for ptrace-read access, which Landlock limits to the domain.
 * - kill, tgkill, pidfd_send_signal, rt_sigqueueinfo: the filter cannot see
 *   whom a pidfd names, and refusing one path while kill() stays open buys
 *   nothing; Landlock's signal scope judges them all alike.
 * - pidfd_open: a pidfd gives nothing by itself; what it could be used for
 *   (pidfd_getfd, setns) is refused.
 */
static const struct harden_syscall {
	const char *name;
	int nr;
	enum harden_check check;
	__u32 arg; /* REFUSE_ARG1 */
	int err;
	const char *why;
} harden_syscalls[] = {
	{ "ptrace", __NR_ptrace, REFUSE_ALWAYS, 0, EPERM,
	  "controls another process: make an ungoverned one connect for us" },
	{ "process_vm_readv", __NR_process_vm_readv, REFUSE_ALWAYS, 0, EPERM,
	  "reads another process's memory (its secrets, its tokens)" },
	{ "process_vm_writev", __NR_process_vm_writev, REFUSE_ALWAYS, 0, EPERM,
	  "writes another process's memory: code or data of an ungoverned one" },
	{ "pidfd_getfd", __NR_pidfd_getfd, REFUSE_ALWAYS, 0, EPERM,
	  "copies another process's descriptor: its connected sockets" },
	{ "bpf", __NR_bpf, REFUSE_ALWAYS, 0, EPERM,
	  "loads programs and edits maps: with privilege, the tags and the policy" },
	{ "perf_event_open", __NR_perf_event_open, REFUSE_ALWAYS, 0, EPERM,
	  "attaches BPF programs, observes other processes" },
	{ "setns", __NR_setns, REFUSE_ALWAYS, 0, EPERM,
	  "joins another namespace; the type argument may be 0 (any), so all of it" },
	{ "unshare", __NR_unshare, REFUSE_NEWUSER, 0, EPERM,
	  "a new user namespace grants capabilities inside it: raw and packet "
	  "sockets, tun, netfilter, mounts, and most kernel exploits' first step" },
	{ "clone", __NR_clone, REFUSE_NEWUSER, 0, EPERM, "the same, for a new child" },
	{ "clone3", __NR_clone3, REFUSE_ALWAYS, 0, ENOSYS,
	  "its flags sit in a struct the filter cannot read: ENOSYS makes libc "
	  "fall back to clone, whose flags it can" },
	/* The kernel truncates ioctl's command to unsigned int: the low 32 bits. */
	{ "ioctl", __NR_ioctl, REFUSE_ARG1, TIOCSTI, EPERM,
	  "TIOCSTI types into a terminal: the ungoverned shell that launched us runs it "
	  "(through /dev/tty even with stdio redirected)" },
	{ "ioctl", __NR_ioctl, REFUSE_ARG1, TIOCLINUX, EPERM,
	  "TIOCLINUX pastes the console selection as input: the same, on a VT" },
	{ "socket", __NR_socket, REFUSE_FAMILY, 0, EAFNOSUPPORT,
	  "a family the hooks cannot judge (packet, ALG, vsock, ...); EAFNOSUPPORT, as "
	  "from a kernel without it, so programs fall back instead of failing" },
	{ "socketpair", __NR_socketpair, REFUSE_FAMILY, 0, EAFNOSUPPORT, "the same" },
	{ "io_uring_setup", __NR_io_uring_setup, REFUSE_UNLESS_IO_URING, 0, EPERM,
	  "io_uring starts operations (sockets, connects, sends) in the kernel, past this "
	  "filter; allowed only by \"io_uring\": true on the server in the policy" },
	{ "io_uring_enter", __NR_io_uring_enter, REFUSE_UNLESS_IO_URING, 0, EPERM,
	  "the same, on a ring set up before the launch (inherited, or passed over a "
	  "socket); refused here, the kernel side needs no syscall tracepoint for it" },
	{ "io_uring_register", __NR_io_uring_register, REFUSE_UNLESS_IO_URING, 0, EPERM,
	  "the same: registers files and buffers with such a ring" },
	{ "setsid", __NR_setsid, REFUSE_IF_ISOLATED, 0, EPERM,
	  "an isolated server's process would leave the session and process group the "
	  "agent ends with the server, and outlive it with its credential" },
	{ "setpgid", __NR_setpgid, REFUSE_IF_ISOLATED, 0, EPERM, "the same, for a new group" },
};

#define MF_FILTER_MAX 128

#define ARG_LO(n) \
	(offsetof(struct seccomp_data, args[n]) + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0))

#define STMT(code, k) ((struct sock_filter)BPF_STMT(code, k))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP(code, k, jt, jf))
#define NFAMILIES (sizeof(socket_families) / sizeof(socket_families[0]))

/* One entry's instructions at f; the accumulator holds the syscall number
 * before, and after when the entry does not decide. Returns their count. */
static size_t filter_entry(struct sock_filter *f, const struct harden_syscall *s, bool io_uring,
			   bool isolated)
{
	__u32 refuse = SECCOMP_RET_ERRNO | (s->err & SECCOMP_RET_DATA);
	size_t n = 0;

	switch (s->check) {
	case REFUSE_UNLESS_IO_URING:
		if (io_uring)
			return 0;
		/* fall through */
	case REFUSE_IF_ISOLATED:
		if (s->check == REFUSE_IF_ISOLATED && !isolated)
			return 0;
		/* fall through */
	case REFUSE_ALWAYS:
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, s->nr, 0, 1);
		f[n++] = STMT(BPF_RET | BPF_K, refuse);
		break;
	case REFUSE_NEWUSER:
		/* Only the low 32 bits of clone/unshare flags count. */
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, s->nr, 0, 4);
		f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0));
		f[n++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1);
		f[n++] = STMT(BPF_RET | BPF_K, refuse);
		f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		break;
	case REFUSE_ARG1:
		/* Not decisive: other entries may judge the same call. */
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, s->nr, 0, 4);
		f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1));
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, s->arg, 0, 1);
		f[n++] = STMT(BPF_RET | BPF_K, refuse);
		f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
		break;
	case REFUSE_FAMILY:
		/* The family is an int: its low 32 bits. A listed one jumps to allow. */
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, s->nr, 0, NFAMILIES + 3);
		f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0));
		for (size_t k = 0; k < NFAMILIES; k++)
			f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, socket_families[k], NFAMILIES - k,
				      0);
		f[n++] = STMT(BPF_RET | BPF_K, refuse);
		f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		break;
	}
	return n;
}

#define MF_ENTRY_MAX (NFAMILIES + 4) /* the longest filter_entry */

/* The filter: architecture check, then the entries of harden_syscalls. */
static int filter_build(struct sock_filter *f, size_t cap, bool io_uring, bool isolated)
{
#ifndef MF_AUDIT_ARCH
	(void)harden_syscalls;
	(void)filter_entry;
	return -EOPNOTSUPP; /* the table holds native syscall numbers: know the arch */
#else
	size_t n = 0;

	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, MF_AUDIT_ARCH, 1, 0);
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef MF_X32_SYSCALL_BIT
	f[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, MF_X32_SYSCALL_BIT, 0, 1);
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
	for (size_t i = 0; i < sizeof(harden_syscalls) / sizeof(harden_syscalls[0]); i++) {
		if (n + MF_ENTRY_MAX > cap - 1)
			return -E2BIG;
		n += filter_entry(f + n, &harden_syscalls[i], io_uring, isolated);
	}
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return (int)n;
#endif
}

static int landlock_abi(void)
{
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	/* ENOSYS: not built; EOPNOTSUPP: built but not enabled at boot. */
	return abi < 0 ? 0 : (int)abi;
}

int mf_harden_prepare(struct mf_harden *h, char *err, size_t errlen)
{
	struct mf_landlock_ruleset_attr attr = {
		.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL,
	};
	struct sock_filter f[MF_FILTER_MAX];
	int n;

	h->ruleset_fd = -1;
	h->landlock_abi = landlock_abi();
	n = filter_build(f, MF_FILTER_MAX, false, true); /* the longest filter */
	if (n < 0) {
		snprintf(err, errlen, "cannot build the seccomp filter: %s", strerror(-n));
		return n;
	}
	if (h->landlock_abi < MF_LANDLOCK_ABI_SCOPES)
		return 0;
	h->ruleset_fd = syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (h->ruleset_fd < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot create the Landlock ruleset (ABI %d): %s",
			 h->landlock_abi, strerror(e));
		return -e;
	}
	return 0;
}

/* The filesystem rights Landlock handles at each ABI. */
#define FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define FS_REFER (1ULL << 13)	   /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15)  /* ABI 5 */
/* The rights that apply to a file (the rest apply to directories). */
#define FS_FILE_RIGHTS                                                \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	 LANDLOCK_ACCESS_FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)
#define FS_READ_RIGHTS \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

static __u64 fs_handled(int abi)
{
	__u64 r = FS_ABI1;

	if (abi >= 2)
		r |= FS_REFER;
	if (abi >= 3)
		r |= FS_TRUNCATE;
	if (abi >= 5)
		r |= FS_IOCTL_DEV;
	return r;
}

/* Grant one path its rights; a missing path that is not required is skipped. */
static int fs_rule(int ruleset_fd, __u64 handled, const struct mf_fs_path *p, char *err,
		   size_t errlen)
{
	struct landlock_path_beneath_attr rule = { .parent_fd = -1 };
	struct stat st;
	int e = 0;

	rule.parent_fd = open(p->path, O_PATH | O_CLOEXEC);
	if (rule.parent_fd < 0) {
		e = errno;
		if (e == ENOENT && !p->required)
			return 0;
		snprintf(err, errlen, "cannot open %s for the Landlock ruleset: %s", p->path,
			 strerror(e));
		return -e;
	}
	rule.allowed_access = p->access == MF_FS_READ ? FS_READ_RIGHTS : handled;
	/* Directory rights on a file are refused (EINVAL): only the file's. */
	if (fstat(rule.parent_fd, &st) == 0 && !S_ISDIR(st.st_mode))
		rule.allowed_access &= FS_FILE_RIGHTS;
	rule.allowed_access &= handled;
	if (syscall(__NR_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0)) {
		e = errno;
		snprintf(err, errlen, "cannot add %s to the Landlock ruleset: %s", p->path,
			 strerror(e));
	}
	close(rule.parent_fd);
	return -e;
}

int mf_harden_prepare_fs(struct mf_harden *h, const struct mf_fs_path *paths, size_t npaths,
			 char *err, size_t errlen)
{
	struct mf_landlock_ruleset_attr attr = {
		.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL,
	};
	int r;

	h->ruleset_fd = -1;
	h->landlock_abi = landlock_abi();
	if (h->landlock_abi < MF_LANDLOCK_ABI_SCOPES) {
		snprintf(err, errlen,
			 "Landlock ABI %d: an isolated server needs ABI %d (Linux 6.12) or later",
			 h->landlock_abi, MF_LANDLOCK_ABI_SCOPES);
		return -EOPNOTSUPP;
	}
	attr.handled_access_fs = fs_handled(h->landlock_abi);
	h->ruleset_fd = syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (h->ruleset_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create the Landlock ruleset (ABI %d): %s",
			 h->landlock_abi, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < npaths; i++) {
		r = fs_rule(h->ruleset_fd, attr.handled_access_fs, &paths[i], err, errlen);
		if (r) {
			mf_harden_free(h);
			return r;
		}
	}
	return 0;
}

int mf_harden_apply(struct mf_harden *h, char *err, size_t errlen)
{
	struct sock_filter f[MF_FILTER_MAX];
	struct sock_fprog prog = { .filter = f };
	__u32 flags = 0;
	int n;

	n = filter_build(f, MF_FILTER_MAX, h->io_uring, h->isolated);
	if (n < 0) {
		snprintf(err, errlen, "cannot build the seccomp filter: %s", strerror(-n));
		return n;
	}
	prog.len = (unsigned short)n;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		n = errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(n));
		return -n;
	}
	if (h->ruleset_fd >= 0) {
		/* ABI 7: log the server's denials to the kernel audit log too. */
		if (h->landlock_abi >= 7)
			flags |= LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON;
		if (syscall(__NR_landlock_restrict_self, h->ruleset_fd, flags)) {
			n = errno;
			snprintf(err, errlen, "cannot enter the Landlock domain: %s", strerror(n));
			return -n;
		}
	}
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		n = errno;
		snprintf(err, errlen, "cannot install the seccomp filter: %s", strerror(n));
		return -n;
	}
	return 0;
}

/*
 * `run --allow-root`: no capability survives exec. Emptying the bounding set
 * is what counts: root's exec grants only what it holds. Ambient and
 * inheritable are cleared, the securebits stop root's exec and ambient raises
 * from granting any, locked; last this process's own sets go. Root's uid
 * stays, and with it every file root owns: why root is refused by default.
 */
int mf_harden_drop_bounding(char *err, size_t errlen)
{
	const char *what = NULL;
	int cap;

	/* EINVAL past the last capability this kernel knows. */
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
			what = "drop a capability from the bounding set";
			goto fail;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) {
		what = "clear the ambient capabilities";
		goto fail;
	}
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0)) {
		what = "set the securebits";
		goto fail;
	}
	return 0;
fail:
	cap = errno;
	snprintf(err, errlen, "cannot %s: %s", what, strerror(cap));
	return -cap;
}

int mf_harden_drop_caps(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
	int r = mf_harden_drop_bounding(err, errlen);

	if (r)
		return r;
	if (syscall(__NR_capset, &hdr, none)) {
		r = errno;
		snprintf(err, errlen, "cannot clear the capability sets: %s", strerror(r));
		return -r;
	}
	return 0;
}

void mf_harden_free(struct mf_harden *h)
{
	if (h->ruleset_fd >= 0)
		close(h->ruleset_fd);
	h->ruleset_fd = -1;
}
