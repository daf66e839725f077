// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Processes that were there before the agent (or before a policy that names
 * their executable): the kernel tags at exec and fork, so what started
 * earlier is found in /proc. A process whose executable (and arguments, for
 * an interpreter) an exec rule matches is tagged with its Unix user, and so
 * are all its descendants. Tags of processes that no longer exist go.
 *
 * A process that forks while the scan runs may have a child the scan did not
 * see yet: the scan repeats until a pass tags nothing new.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "proc.h"
#include "mcpfence.skel.h"

#define SCAN_PASSES_MAX 8

struct proc_info {
	pid_t pid, ppid;
	uid_t uid;
	bool has_exe;
	struct mf_exec_key exe;
};

static bool read_ppid_uid(pid_t pid, pid_t *ppid, uid_t *uid)
{
	char status[1024]; /* PPid and Uid come before Groups, which may be long */
	const char *v;

	if (mf_proc_read(pid, "status", status, sizeof(status)) < 0)
		return false;
	v = mf_proc_status_field(status, "PPid:");
	if (!v || sscanf(v, "%d", ppid) != 1)
		return false;
	v = mf_proc_status_field(status, "Uid:");
	return v && sscanf(v, "%u", uid) == 1; /* real uid first */
}

static size_t list_processes(struct proc_info **out)
{
	struct proc_info *procs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct proc_info p = {};
		char path[64];
		struct stat st;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		p.pid = atoi(de->d_name);
		if (!read_ppid_uid(p.pid, &p.ppid, &p.uid))
			continue; /* gone */
		snprintf(path, sizeof(path), "/proc/%d/exe", p.pid);
		/* stat follows the link to the executable; kernel threads have none. */
		if (stat(path, &st) == 0) {
			p.has_exe = true;
			p.exe.ino = st.st_ino;
			p.exe.dev = mf_kernel_dev(major(st.st_dev), minor(st.st_dev));
		}
		if (n == cap) {
			struct proc_info *grown;

			cap = cap ? cap * 2 : 1024;
			grown = realloc(procs, cap * sizeof(*procs));
			if (!grown)
				break;
			procs = grown;
		}
		procs[n++] = p;
	}
	closedir(d);
	*out = procs;
	return n;
}

/* argv[1..] of a process, as the kernel hashes them at exec. */
static uint32_t match_args(struct agent *a, pid_t pid, const struct mf_exec_key *exe)
{
	struct mf_exec_args_key akey = { .ino = exe->ino, .dev = exe->dev };
	char buf[MF_EXEC_ARGS_BYTES];
	char *args[MF_EXEC_ARGS_MAX];
	struct mf_exec_val val;
	uint32_t server = 0;
	ssize_t r = mf_proc_read(pid, "cmdline", buf, sizeof(buf));
	size_t len = r > 0 ? r : 0, nargs = 0;

	/* Skip argv[0]; take the arguments that end inside what was read. */
	for (size_t i = strnlen(buf, len) + 1; i < len && nargs < MF_EXEC_ARGS_MAX;) {
		size_t alen = strnlen(buf + i, len - i);

		if (i + alen >= len)
			break;
		args[nargs++] = buf + i;
		i += alen + 1;
	}
	for (size_t k = 1; k <= nargs; k++) {
		akey.nargs = k;
		akey.hash = mf_exec_args_hash(args, k);
		if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.exec_args), &akey, &val) == 0)
			server = val.server_id; /* the longest match wins, as in the kernel */
	}
	return server;
}

static void audit_scan_tag(struct agent *a, pid_t pid, const struct mf_tag *tag, const char *how)
{
	char ident[MF_NAME_MAX], comm[64];

	mf_proc_text(pid, "comm", comm, sizeof(comm));
	audit_emit(a, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "event", "tag-scan",
				"verdict", "allow", "identity",
				identity_name(a, tag->identity_id, ident, sizeof(ident)), "server",
				server_name(a, tag->server_id), "pid", (json_int_t)pid, "comm",
				comm, "reason", how));
}

/* One pass: tag matches, then descendants until nothing changes. */
static size_t scan_pass(struct agent *a)
{
	int tags_fd = bpf_map__fd(a->skel->maps.tags);
	int exec_fd = bpf_map__fd(a->skel->maps.exec_servers);
	struct proc_info *procs = NULL;
	size_t n = list_processes(&procs), tagged = 0;
	bool changed = true;

	for (size_t i = 0; i < n; i++) {
		struct proc_info *p = &procs[i];
		struct mf_tag tag = { .flags = MF_TAG_EXEC };
		struct mf_exec_val val;

		if (!p->has_exe || bpf_map_lookup_elem(tags_fd, &p->pid, &tag) == 0)
			continue;
		if (bpf_map_lookup_elem(exec_fd, &p->exe, &val))
			continue;
		tag.server_id = val.flags & MF_EXEC_MATCH_ARGS ? match_args(a, p->pid, &p->exe) :
								 val.server_id;
		if (!tag.server_id)
			continue;
		tag.identity_id = MF_UID_IDENTITY | p->uid;
		tag.flags = MF_TAG_EXEC;
		if (tag_insert(a, p->pid, &tag) == 0) {
			tagged++;
			audit_scan_tag(a, p->pid, &tag, "executable started before the agent");
		}
	}
	while (changed) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			struct mf_tag tag;

			if (bpf_map_lookup_elem(tags_fd, &procs[i].pid, &tag) == 0 ||
			    bpf_map_lookup_elem(tags_fd, &procs[i].ppid, &tag))
				continue;
			if (tag_insert(a, procs[i].pid, &tag) == 0) {
				tagged++;
				changed = true;
				audit_scan_tag(
					a, procs[i].pid, &tag,
					"child of a governed process, started before the agent");
			}
		}
	}
	free(procs);
	return tagged;
}

void scan_processes(struct agent *a)
{
	size_t tagged = 0, n;

	for (int pass = 0; pass < SCAN_PASSES_MAX; pass++) {
		n = scan_pass(a);
		tagged += n;
		if (!n)
			break;
	}
	if (tagged)
		fprintf(stderr, "mcpfenced: process scan: %zu tagged\n", tagged);
}
