// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What `status` warns administrators about: host settings and policy choices
 * that widen what a governed process can do beyond what the hooks judge.
 * Servers started with `mcpfence run` carry a seccomp filter and a Landlock
 * domain against most of these; exec-tagged servers carry neither, so each
 * warning says which servers it concerns.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

/* The first integer of a /proc/sys file; -ENOENT when it does not exist. */
static int sysctl_int(const char *path, int *value)
{
	FILE *f = fopen(path, "re");
	int n, err = 0;

	if (!f)
		return -errno;
	n = fscanf(f, "%d", value);
	if (n != 1)
		err = -EINVAL;
	fclose(f);
	return err;
}

static void warn(json_t *warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(json_t *warnings, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(warnings, json_string(msg));
}

static size_t exec_tagged_servers(const struct mf_policy *p, char *names, size_t len)
{
	size_t n = 0, used = 0;

	names[0] = '\0';
	for (size_t i = 0; p && i < p->nservers; i++) {
		if (!p->servers[i].nexec && !p->servers[i].nexec_args)
			continue;
		if (used < len)
			used += snprintf(names + used, len - used, "%s%s", n ? ", " : "",
					 p->servers[i].name);
		n++;
	}
	return n;
}

json_t *host_warnings(struct agent *a)
{
	json_t *w = json_array();
	char names[256];
	size_t nexec;
	int v, err;

	if (!w)
		return NULL;
	nexec = exec_tagged_servers(a->current.policy, names, sizeof(names));
	if (sysctl_int("/proc/sys/dev/tty/legacy_tiocsti", &v) == 0 && v != 0)
		warn(w, "dev.tty.legacy_tiocsti is 1: a process may type commands into its "
			"controlling terminal (TIOCSTI) for the shell that launched it to run; "
			"`run`'s seccomp filter refuses it (set it to 0)");
	err = sysctl_int("/proc/sys/kernel/yama/ptrace_scope", &v);
	if (err == -ENOENT)
		warn(w, "no Yama LSM (no kernel.yama.ptrace_scope): a process may ptrace, and "
			"write the memory of, any process of its user; `run`'s seccomp filter "
			"and Landlock domain refuse it");
	else if (!err && v == 0)
		warn(w, "kernel.yama.ptrace_scope is 0: a process may ptrace, and write the "
			"memory of, any process of its user; `run`'s seccomp filter and "
			"Landlock domain refuse it (set it to 1 or more)");
	if (nexec)
		warn(w,
		     "%zu server%s tagged at exec (%s): no seccomp filter, no Landlock domain, "
		     "no capability drop; only the kernel hooks judge them (see policy/README.md)",
		     nexec, nexec == 1 ? " is" : "s are", names);
	return w;
}
