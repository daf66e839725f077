// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where the cgroup programs are attached: --scope.
 *
 * host (the default): at the cgroup v2 root, or at --cgroup DIR. Every
 * process below passes through the hooks, governed or not; an ungoverned
 * one leaves them at the first look-up of its tag.
 *
 * launched: at a cgroup that holds governed processes only: --cgroup DIR,
 * else ROOT/mcpfence.governed, made if missing. The agent moves each process
 * it tags there before the tag is written (`run` before it execs the server,
 * an isolated server before it execs) and refuses the tag when the move
 * fails. No other process of the host has a hook on its path. What a tagged
 * process forks stays in its cgroup (a child starts in its parent's
 * css_set); exec matches are refused, since an exec-tagged process is
 * wherever it was started.
 *
 * Leaving a cgroup is writing one's pid into another cgroup.procs, which
 * takes write access to that file and to the cgroup.procs of the common
 * ancestor (cgroup_procs_write_permission; clone3's CLONE_INTO_CGROUP asks
 * the same). So the governed cgroup and every ancestor must be root's and
 * writable by root only, and no governed process may be root or hold a
 * capability (CAP_DAC_OVERRIDE passes the file's permission check, and
 * CAP_FOWNER or CAP_CHOWN would open it up): such tag requests are refused
 * in this scope (scope_tag_refusal).
 *
 * A socket belongs to the cgroup of the process that made it (taken at
 * creation, cgroup_sk_alloc), and the hooks that run are that cgroup's: a
 * socket made before the move (inherited) is not judged here. `run` and
 * the launcher refuse to start a server that holds one (mf_fd_unjudged_socket).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "control.h"
#include "proc.h"

#define GOVERNED_NAME "mcpfence.governed"

/* The cgroup v2 root: /sys/fs/cgroup on pure v2, /sys/fs/cgroup/unified on hybrid. */
static int find_cgroup2(char *path, size_t len)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2") == 0) {
			snprintf(path, len, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	}
	endmntent(f);
	return err;
}

/* The directory and its cgroup.procs: root's, writable by root only. */
/*
 * Hooks at a cgroup other than the root (--scope launched, or --cgroup DIR
 * in host scope): a governed process that leaves it passes no hook, so the
 * same rules hold in both: the cgroup and its ancestors root's alone, no
 * root or capable server, no exec matches. The option that asked for it,
 * for messages.
 */
static const char *confining_option(const struct agent *a)
{
	if (a->opt.scope_launched)
		return "--scope launched";
	return a->opt.cgroup_path ? "--cgroup" : NULL;
}

static int root_only(const char *dir)
{
	char procs[PATH_MAX + sizeof("/cgroup.procs")];
	struct stat st;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	if (stat(dir, &st) || st.st_uid != 0 || (st.st_mode & 022) || stat(procs, &st) ||
	    st.st_uid != 0 || (st.st_mode & 022)) {
		fprintf(stderr,
			"mcpfenced: %s is not root's alone (owner root, no group or other "
			"write): a governed process could leave the governed cgroup through "
			"it\n",
			dir);
		return -EPERM;
	}
	return 0;
}

/* The governed cgroup and each ancestor up to the hierarchy's root. */
static int check_ancestors(const char *dir, const char *root)
{
	char path[PATH_MAX];
	char *slash;
	int err;

	snprintf(path, sizeof(path), "%s", dir);
	for (;;) {
		err = root_only(path);
		if (err || strlen(path) <= strlen(root))
			return err;
		slash = strrchr(path, '/');
		if (!slash || slash == path)
			return 0;
		*slash = '\0';
	}
}

/* A pinned cgroup link of this pin directory attached elsewhere: a restart
 * with another scope or --cgroup would update it in place and keep it
 * there, so the start is refused instead. */
static int check_pinned_links(struct agent *a, uint64_t cgroup_id)
{
	DIR *d = opendir(a->opt.pin_dir);
	struct bpf_link_info info;
	char pin[PATH_MAX];
	struct dirent *e;
	uint32_t len;
	int fd, err = 0;

	if (!d)
		return 0;
	while (!err && (e = readdir(d))) {
		if (strncmp(e->d_name, "link_", 5))
			continue;
		snprintf(pin, sizeof(pin), "%s/%s", a->opt.pin_dir, e->d_name);
		fd = bpf_obj_get(pin);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id != cgroup_id) {
			fprintf(stderr,
				"mcpfenced: %s is attached at another cgroup (id %llu), not at %s: "
				"the scope or --cgroup changed since the last start; stop the "
				"governed servers and run `mcpfenced --uninstall` first\n",
				pin, (unsigned long long)info.cgroup.cgroup_id, a->cgroup_dir);
			err = -EEXIST;
		}
		close(fd);
	}
	closedir(d);
	return err;
}

int scope_setup(struct agent *a)
{
	char root[PATH_MAX];
	struct stat st;
	int n, err;

	if ((err = find_cgroup2(root, sizeof(root)))) {
		fprintf(stderr, "mcpfenced: no cgroup v2 hierarchy is mounted\n");
		return err;
	}
	snprintf(a->cgroup_root, sizeof(a->cgroup_root), "%s", root);
	if (a->opt.cgroup_path) {
		char real[PATH_MAX];
		size_t rn = strlen(root);

		/* As a path below the mount: what /proc/PID/cgroup is compared to.
		 * Launched scope makes it when missing: then as given. */
		if (!realpath(a->opt.cgroup_path, real))
			snprintf(real, sizeof(real), "%s",
				 errno == ENOENT && a->opt.scope_launched ? a->opt.cgroup_path :
									    "");
		if (strncmp(real, root, rn) || (real[rn] != '\0' && real[rn] != '/')) {
			fprintf(stderr, "mcpfenced: --cgroup %s is not a cgroup below %s\n",
				a->opt.cgroup_path, root);
			return -EINVAL;
		}
		n = snprintf(a->cgroup_dir, sizeof(a->cgroup_dir), "%s", real);
	} else if (a->opt.scope_launched)
		n = snprintf(a->cgroup_dir, sizeof(a->cgroup_dir), "%s/" GOVERNED_NAME, root);
	else
		n = snprintf(a->cgroup_dir, sizeof(a->cgroup_dir), "%s", root);
	if (n < 0 || (size_t)n >= sizeof(a->cgroup_dir)) {
		fprintf(stderr, "mcpfenced: the cgroup path is too long\n");
		return -ENAMETOOLONG;
	}
	if (a->opt.scope_launched && mkdir(a->cgroup_dir, 0755) == 0) {
		a->cgroup_created = true;
	} else if (a->opt.scope_launched && errno != EEXIST) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot create cgroup %s: %s\n", a->cgroup_dir,
			strerror(-err));
		return err;
	}
	if (confining_option(a)) {
		err = check_ancestors(a->cgroup_dir, root);
		if (err)
			return err;
	}
	a->cgroup_fd = open(a->cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->cgroup_fd < 0) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot open cgroup %s: %s\n", a->cgroup_dir,
			strerror(-err));
		return err;
	}
	/* On cgroup2 a directory's inode number is the cgroup's id. */
	if (fstat(a->cgroup_fd, &st)) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot stat cgroup %s: %s\n", a->cgroup_dir,
			strerror(-err));
		return err;
	}
	return check_pinned_links(a, st.st_ino);
}

void scope_teardown(struct agent *a, bool touched, bool detached)
{
	if (!a->opt.scope_launched || !a->cgroup_dir[0])
		return;
	/* A refused start made it: gone again (empty, nothing was moved in).
	 * Else only without pins (their links are attached there) and only
	 * the agent's own: an operator's --cgroup DIR stays. Not empty: EBUSY. */
	if ((!touched && a->cgroup_created) || (touched && detached && !a->opt.cgroup_path))
		rmdir(a->cgroup_dir);
}

void scope_uninstall(struct agent *a)
{
	char root[PATH_MAX], dir[PATH_MAX + sizeof(GOVERNED_NAME) + 1];

	if (!a->opt.scope_launched || a->opt.cgroup_path || find_cgroup2(root, sizeof(root)))
		return;
	snprintf(dir, sizeof(dir), "%s/" GOVERNED_NAME, root);
	if (rmdir(dir) && errno != ENOENT)
		fprintf(stderr, "mcpfenced: cannot remove cgroup %s: %s\n", dir, strerror(errno));
}

/*
 * Host scope at --cgroup DIR: the hooks judge only what runs below DIR, so a
 * process tagged elsewhere would run unjudged. 0 when pid is inside DIR
 * (its cgroup v2 path, /proc/PID/cgroup's "0::" line, is DIR's or below).
 */
static int host_inside(struct agent *a, pid_t pid, char *why, size_t len)
{
	const char *rel = a->cgroup_dir + strlen(a->cgroup_root);
	size_t n = strlen(rel);
	char cgroups[PATH_MAX * 2], *p = NULL;
	int err = -ENOENT;

	/* The cgroup v2 line: "0::PATH"; on a hybrid hierarchy after the v1 ones. */
	if (mf_proc_read(pid, "cgroup", cgroups, sizeof(cgroups)) > 0) {
		p = !strncmp(cgroups, "0::", 3) ? cgroups : strstr(cgroups, "\n0::");
		if (p) {
			p += p == cgroups ? 3 : 4;
			p[strcspn(p, "\n")] = '\0';
			/* The root's rel is "": every path is below it. */
			err = !strncmp(p, rel, n) && (p[n] == '\0' || p[n] == '/') ? 0 : -EPERM;
		}
	}
	if (err == -EPERM)
		snprintf(why, len,
			 "process %d is in cgroup %s, outside %s where the hooks are: its "
			 "connections would not be judged",
			 (int)pid, p, a->cgroup_dir);
	else if (err)
		snprintf(why, len, "cannot tell the cgroup of process %d", (int)pid);
	return err;
}

int scope_move(struct agent *a, pid_t pid, char *why, size_t len)
{
	char buf[32];
	int fd, n, err = 0;

	if (!a->opt.scope_launched)
		return a->opt.cgroup_path ? host_inside(a, pid, why, len) : 0;
	/* Close-on-exec: the kernel judges a write by the opener's
	 * credentials, so this descriptor must reach no one. */
	fd = openat(a->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	if (fd < 0 || write(fd, buf, n) != n)
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		snprintf(why, len, "cannot move process %d into the governed cgroup %s: %s",
			 (int)pid, a->cgroup_dir, strerror(-err));
	return err;
}

/* Any capability in a /proc/PID/status capability line (hex)? True when the
 * line is missing (closed). */
static bool has_caps(const char *status, const char *key)
{
	const char *v = mf_proc_status_field(status, key);

	if (!v)
		return true;
	while (*v == '\t' || *v == ' ' || *v == '0')
		v++;
	return *v != '\n' && *v != '\0';
}

const char *scope_tag_refusal(struct agent *a, const struct client *c, json_t *req, char *why,
			      size_t len)
{
	/* Up to NGROUPS_MAX (65536) groups of up to 11 bytes each come first. */
	size_t cap = 65536 * 11 + 4096;
	const char *refusal = NULL;
	char *status;

	const char *opt = confining_option(a);

	if (!opt)
		return NULL;
	if (c->cred.uid == 0 || json_is_true(json_object_get(req, "allow_root"))) {
		snprintf(why, len,
			 "a root server could leave the governed cgroup: refused with %s (run it "
			 "as another user, or the agent with hooks at the root)",
			 opt);
		return why;
	}
	/* Ambient capabilities survive exec: what run holds, the server will. */
	status = malloc(cap);
	if (!status || mf_proc_read(c->cred.pid, "status", status, cap) < 0 ||
	    has_caps(status, "CapPrm:") || has_caps(status, "CapAmb:")) {
		snprintf(why, len,
			 "a server holding capabilities could leave the governed cgroup: refused "
			 "with %s (drop them: no ambient or permitted capability)",
			 opt);
		refusal = why;
	}
	free(status);
	return refusal;
}

int scope_check_policy(const struct agent *a, const struct mf_policy *p, const char *source,
		       char *err, size_t len)
{
	const char *opt = confining_option(a);

	for (size_t i = 0; opt && p && i < p->nservers; i++) {
		if (p->servers[i].nexec || p->servers[i].nexec_args) {
			snprintf(err, len,
				 "%s: servers.%s.exec: exec matches are refused with %s (an "
				 "exec-tagged process may be outside the governed cgroup, where no "
				 "hook would judge it); start the server with `mcpfence run`, or "
				 "run the agent with hooks at the root",
				 source, p->servers[i].name, opt);
			return -EINVAL;
		}
	}
	return 0;
}

json_t *scope_status(const struct agent *a)
{
	return json_pack("{s:s, s:s}", "scope", a->opt.scope_launched ? "launched" : "host",
			 "cgroup", a->cgroup_dir);
}
