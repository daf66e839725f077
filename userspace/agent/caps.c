// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The capabilities the agent needs, checked at start instead of euid 0: it
 * runs as root under a bounded set (packaging/mcpfenced.service) or with
 * exactly these as ambient capabilities. Measured on Linux 6.18 by starting
 * the agent under `setpriv --bounding-set`: without CAP_NET_ADMIN the
 * cgroup programs do not load, without CAP_PERFMON the tracepoint programs
 * do not. CAP_SYS_ADMIN stands in for the first three (the kernel's
 * bpf_capable(), perfmon_capable() and bpf_net_capable() accept it).
 * Not needed: CAP_SYS_RESOURCE (BPF memory is charged to the memory cgroup,
 * not RLIMIT_MEMLOCK, since 5.11), CAP_KILL (the kernel side sends the
 * kills; kill(pid, 0) tells ESRCH apart without it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "agent.h"

static const struct needed_cap {
	int cap;
	const char *name;
	bool sys_admin_will_do;
	const char *why;
} needed_caps[] = {
	{ CAP_BPF, "CAP_BPF", true, "create maps and load programs" },
	{ CAP_PERFMON, "CAP_PERFMON", true,
	  "load and attach the fork, exec and exit tracepoint programs" },
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN", true,
	  "load and attach the cgroup socket and packet programs" },
	/* Without it the start-up scan does not see other users' executables:
	 * a process started before the agent would escape its exec rule. */
	{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE", false,
	  "read /proc/PID/exe of other users' processes (exec rules at start, launchers' exe)" },
};

static bool has_cap(const struct __user_cap_data_struct *data, int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

/* 0 when every needed capability is effective; else says which are missing
 * and what for, and returns -EPERM. */
int caps_check(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	char missing[256] = "";
	size_t len = 0;

	if (syscall(SYS_capget, &hdr, data)) {
		int err = -errno;

		fprintf(stderr, "mcpfenced: cannot read own capabilities: %s\n", strerror(-err));
		return err;
	}
	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		const struct needed_cap *n = &needed_caps[i];

		if (has_cap(data, n->cap) || (n->sys_admin_will_do && has_cap(data, CAP_SYS_ADMIN)))
			continue;
		len += snprintf(missing + len, sizeof(missing) - len, "%s%s", len ? " " : "",
				n->name);
		if (len >= sizeof(missing))
			len = sizeof(missing) - 1;
	}
	if (!len)
		return 0;
	fprintf(stderr, "mcpfenced: missing capabilities: %s\n", missing);
	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		const struct needed_cap *n = &needed_caps[i];

		if (strstr(missing, n->name))
			fprintf(stderr, "mcpfenced:   %s is needed to %s\n", n->name, n->why);
	}
	return -EPERM;
}

/*
 * The kernel side keys tags by pids of the initial PID namespace
 * (bpf_get_current_pid_tgid), the agent by the pids it sees: in another
 * namespace (systemd-nspawn, a pod without hostPID) every tag it wrote would
 * name some other process, and its servers would run unjudged. The initial
 * namespace has a fixed inode (PROC_PID_INIT_INO, include/linux/proc_ns.h).
 */
#define PROC_PID_INIT_INO 0xEFFFFFFCU

int pidns_check(void)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st)) {
		int err = -errno;

		fprintf(stderr, "mcpfenced: cannot stat /proc/self/ns/pid: %s\n", strerror(-err));
		return err;
	}
	if (st.st_ino == PROC_PID_INIT_INO)
		return 0;
	fprintf(stderr,
		"mcpfenced: running in a PID namespace other than the host's: the kernel's pids would "
		"not match the agent's and no server would be judged; run it in the host's PID "
		"namespace (Kubernetes: hostPID: true)\n");
	return -EPERM;
}
