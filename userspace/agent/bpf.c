// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loader: opens the BPF object with its maps pinned under the pin directory
 * (reusing them when they are already there, so tags and policy survive an
 * agent restart), attaches every program and pins its link there too, so
 * enforcement outlives the agent.
 *
 * On restart a pinned cgroup link is switched to the new program in place
 * (bpf_link_update): there is no instant without a hook. Tracepoint links
 * cannot be updated: the new one is attached before the old pin goes, so for
 * a moment both run, which is harmless (their work is idempotent).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "agent.h"
#include "pins.h"
#include "mcpfence.skel.h"

#define TRACEFS "/sys/kernel/tracing"

static int mount_if_missing(const char *dir, const char *type, unsigned long magic)
{
	struct statfs st;

	if (statfs(dir, &st) == 0 && (unsigned long)st.f_type == magic)
		return 0;
	if (mount(type, dir, type, 0, NULL)) {
		fprintf(stderr, "mcpfenced: cannot mount %s on %s: %s\n", type, dir, strerror(errno));
		return -errno;
	}
	return 0;
}

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

static unsigned int read_pid_max(void)
{
	unsigned int pid_max = 32768;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");

	if (f) {
		if (fscanf(f, "%u", &pid_max) != 1)
			pid_max = 32768;
		fclose(f);
	}
	/* Bounded: 4M is the kernel's own limit. */
	if (pid_max < 1024)
		pid_max = 1024;
	if (pid_max > 4194304)
		pid_max = 4194304;
	return pid_max;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !getenv("MCPFENCE_BPF_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void link_pin_path(const struct agent *a, const struct bpf_program *prog, char *path,
			  size_t len)
{
	snprintf(path, len, "%s/link_%s", a->opt.pin_dir, bpf_program__name(prog));
}

static bool is_cgroup_prog(const struct bpf_program *prog)
{
	switch (bpf_program__type(prog)) {
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
	case BPF_PROG_TYPE_CGROUP_SOCK:
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
	case BPF_PROG_TYPE_CGROUP_SKB:
		return true;
	default:
		return false;
	}
}

static int attach_prog(struct agent *a, struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);
	char pin[PATH_MAX];
	struct bpf_link *link;
	int old_fd, err;

	link_pin_path(a, prog, pin, sizeof(pin));
	old_fd = bpf_obj_get(pin);
	if (old_fd >= 0 && is_cgroup_prog(prog)) {
		/* Swap the program under the pinned link: no gap. */
		err = bpf_link_update(old_fd, bpf_program__fd(prog), NULL);
		close(old_fd);
		if (err) {
			fprintf(stderr, "mcpfenced: cannot update pinned link %s: %s\n", pin,
				strerror(-err));
			return err;
		}
		return 0;
	}

	if (is_cgroup_prog(prog))
		link = bpf_program__attach_cgroup(prog, a->cgroup_fd);
	else
		link = bpf_program__attach(prog);
	if (!link) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot attach %s: %s\n", name, strerror(-err));
		if (old_fd >= 0)
			close(old_fd);
		return err;
	}
	if (old_fd >= 0) {
		/* The new link runs already; dropping the old pin detaches the old one. */
		unlink(pin);
		close(old_fd);
	}
	err = bpf_link__pin(link, pin);
	if (err) {
		fprintf(stderr, "mcpfenced: cannot pin link %s: %s\n", pin, strerror(-err));
		bpf_link__destroy(link);
		return err;
	}
	/* The pin holds the link now; closing our fd must not detach it. */
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	return 0;
}

/* Before any pinned object is opened: one agent per pin directory. A second
 * agent would reuse the maps, swap the links to its programs and flip the
 * policy slot of the running one; it must stop here, having changed nothing. */
int bpf_claim_pin_dir(struct agent *a)
{
	char err[PATH_MAX + 128];
	pid_t holder;
	int ret;

	ret = mount_if_missing("/sys/fs/bpf", "bpf", BPF_FS_MAGIC);
	if (ret)
		return ret;
	if (mkdir(a->opt.pin_dir, 0700) && errno != EEXIST) {
		ret = -errno;
		fprintf(stderr, "mcpfenced: cannot create %s: %s\n", a->opt.pin_dir, strerror(errno));
		return ret;
	}
	ret = mf_pin_dir_lock(a->opt.pin_dir, &holder, err, sizeof(err));
	if (ret >= 0) {
		a->pin_lock_fd = ret;
		ret = mf_pin_dir_check(a->pin_lock_fd, a->opt.pin_dir, err, sizeof(err));
		if (ret) {
			/* Not ours to use, so not ours to remove either. */
			close(a->pin_lock_fd);
			a->pin_lock_fd = -1;
		}
	}
	if (ret < 0) {
		fprintf(stderr, "mcpfenced: %s\n", err);
		return ret;
	}
	return 0;
}

int bpf_setup(struct agent *a)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = a->opt.pin_dir);
	char cgroup[PATH_MAX];
	struct bpf_program *prog;
	int err;

	libbpf_set_print(libbpf_print);
	/* Tracepoints of the syscalls category are found through tracefs. */
	err = mount_if_missing(TRACEFS, "tracefs", TRACEFS_MAGIC);
	if (err)
		return err;

	if (a->opt.cgroup_path) {
		snprintf(cgroup, sizeof(cgroup), "%s", a->opt.cgroup_path);
	} else if ((err = find_cgroup2(cgroup, sizeof(cgroup)))) {
		fprintf(stderr, "mcpfenced: no cgroup v2 hierarchy is mounted\n");
		return err;
	}
	a->cgroup_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->cgroup_fd < 0) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot open cgroup %s: %s\n", cgroup, strerror(errno));
		return err;
	}

	a->skel = mcpfence_bpf__open_opts(&opts);
	if (!a->skel) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot open BPF object: %s\n", strerror(-err));
		return err;
	}
	/* One tag per possible process: the map cannot fill before the pid space. */
	bpf_map__set_max_entries(a->skel->maps.tags,
				 a->opt.tag_capacity ? a->opt.tag_capacity : read_pid_max());
	err = bpf_local_prepare(a);
	if (err)
		return err;

	err = mcpfence_bpf__load(a->skel);
	if (err) {
		fprintf(stderr,
			"mcpfenced: cannot load BPF programs: %s\n"
			"  (pinned maps of an incompatible version under %s? remove them with "
			"`mcpfence uninstall`)\n",
			strerror(-err), a->opt.pin_dir);
		return err;
	}
	bpf_object__for_each_program(prog, a->skel->obj)
	{
		err = attach_prog(a, prog);
		if (err)
			return err;
	}
	return 0;
}

void bpf_teardown(struct agent *a)
{
	if (a->skel)
		mcpfence_bpf__destroy(a->skel);
	a->skel = NULL;
	if (a->cgroup_fd >= 0)
		close(a->cgroup_fd);
	a->cgroup_fd = -1;
}

int bpf_read_counters(struct agent *a, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *percpu;
	int err = 0;

	if (ncpu <= 0)
		return -EINVAL;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (uint32_t i = 0; i < MF_CNT_MAX; i++) {
		out[i] = 0;
		err = bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.counters), &i, percpu);
		if (err)
			break;
		for (int c = 0; c < ncpu; c++)
			out[i] += percpu[c];
	}
	free(percpu);
	return err ? -errno : 0;
}

json_t *bpf_attached_programs(struct agent *a)
{
	json_t *list = json_array();
	struct bpf_program *prog;
	char pin[PATH_MAX];
	struct stat st;

	bpf_object__for_each_program(prog, a->skel->obj)
	{
		link_pin_path(a, prog, pin, sizeof(pin));
		json_array_append_new(
			list, json_pack("{s:s, s:s, s:b}", "name", bpf_program__name(prog), "section",
					bpf_program__section_name(prog), "pinned",
					stat(pin, &st) == 0));
	}
	return list;
}
