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
 *
 * The syscall tracepoints are the exception to "every program": while one is
 * attached every task on the host takes the slow syscall path, so they are
 * attached (and pinned) only while a governed process may need them, and
 * unpinned (detached) when none does; a restart finds their pins and keeps
 * them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
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
		int err = -errno;

		fprintf(stderr, "mcpfenced: cannot mount %s on %s: %s\n", type, dir,
			strerror(-err));
		return err;
	}
	return 0;
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

/* Where attach_prog() pins a tracepoint's new link before the old pin goes. */
static void link_next_path(const char *pin, char *path, size_t len)
{
	snprintf(path, len, "%s_next", pin);
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

/* keep: where to leave the new link, attached and open (the syscall
 * tracepoints: destroying it detaches them); NULL: the pin alone holds it. */
static int attach_prog(struct agent *a, struct bpf_program *prog, struct bpf_link **keep)
{
	const char *name = bpf_program__name(prog);
	char pin[PATH_MAX], next[PATH_MAX + 8];
	struct bpf_link *link;
	int old_fd, err;

	link_pin_path(a, prog, pin, sizeof(pin));
	link_next_path(pin, next, sizeof(next));
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
	/*
	 * A tracepoint link cannot be updated in place: the new one runs
	 * already; it is pinned as PIN_next before the old pin goes (which
	 * detaches the old link), then as PIN, then PIN_next goes. A start cut
	 * short at any step leaves a pinned link attached, the old or the new,
	 * never none (the next start pins a PIN_next left alone as PIN first:
	 * links_next_adopt()).
	 */
	unlink(next);
	err = bpf_obj_pin(bpf_link__fd(link), next);
	if (err) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot pin link %s: %s\n", next, strerror(-err));
		bpf_link__destroy(link);
		if (old_fd >= 0)
			close(old_fd);
		return err;
	}
	if (old_fd >= 0) {
		unlink(pin);
		close(old_fd);
	}
	err = bpf_link__pin(link, pin);
	if (err) {
		fprintf(stderr, "mcpfenced: cannot pin link %s: %s\n", pin, strerror(-err));
		/* PIN_next holds it: attached, found by the next start. */
		bpf_link__disconnect(link);
		bpf_link__destroy(link);
		return err;
	}
	unlink(next);
	if (keep) {
		*keep = link;
		return 0;
	}
	/* The pin holds the link now; closing our fd must not detach it. */
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	return 0;
}

/* A start cut short between attach_prog()'s pins left a program's link
 * pinned as PIN_next alone: it is the attached one, pinned as PIN now. */
static void links_next_adopt(struct agent *a)
{
	char pin[PATH_MAX], next[PATH_MAX + 8];
	struct bpf_program *prog;
	struct stat st;
	int fd;

	bpf_object__for_each_program(prog, a->skel->obj) {
		link_pin_path(a, prog, pin, sizeof(pin));
		link_next_path(pin, next, sizeof(next));
		if (stat(pin, &st) == 0 || (fd = bpf_obj_get(next)) < 0)
			continue;
		if (bpf_obj_pin(fd, pin) == 0)
			unlink(next);
		else
			fprintf(stderr, "mcpfenced: cannot pin %s as %s: %s\n", next, pin,
				strerror(errno));
		close(fd);
	}
}

/* map_delete_where() picker: a tags key (a tgid) no process holds. */
static bool pid_gone(const void *key, const void *ctx)
{
	const uint32_t *tgid = key;

	(void)ctx;
	return kill((pid_t)*tgid, 0) && errno == ESRCH;
}

/*
 * Tags whose process is gone: the exit program was not attached when it
 * died (no agent's programs ran, or none had been). Only then, and before
 * any fork program is attached: between the liveness check and the delete,
 * a fork could give the pid to a governed process's child, whose fresh tag
 * the delete would take. With an exit program attached all along there is
 * nothing stale to remove (a stale entry at a reused pid is replaced or
 * removed at fork anyway).
 */
static void tags_drop_stale(struct agent *a)
{
	char pin[PATH_MAX];
	struct stat st;
	size_t dropped;

	link_pin_path(a, a->skel->progs.mf_exit, pin, sizeof(pin));
	if (stat(pin, &st) == 0)
		return; /* an exit program has been attached: none stale */
	map_delete_where(bpf_map__fd(a->skel->maps.tags), sizeof(uint32_t), pid_gone, NULL,
			 &dropped);
	if (dropped)
		fprintf(stderr,
			"mcpfenced: %zu stale tags removed (their processes died while no exit "
			"program ran)\n",
			dropped);
}

/* Programs the agent runs itself (BPF_PROG_TEST_RUN): never attached. */
static bool is_run_by_agent(const struct bpf_program *prog)
{
	return bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS;
}

/*
 * The tags map's size: pid_max (or --tag-capacity), unless a tags map is
 * pinned already: libbpf reuses a pinned map only of the same size, and
 * its tags are what governs the running servers. So a changed pid_max (or
 * option) keeps the pinned size, and says what that means (found by a
 * review: the agent refused to start, and the advice was to uninstall).
 */
static unsigned int tags_capacity(struct agent *a)
{
	unsigned int want = a->opt.tag_capacity ? a->opt.tag_capacity : read_pid_max();
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char pin[PATH_MAX];
	int fd;

	snprintf(pin, sizeof(pin), "%s/tags", a->opt.pin_dir);
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return want;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.max_entries) {
		close(fd);
		return want; /* libbpf says what does not fit */
	}
	close(fd);
	if (info.max_entries != want)
		fprintf(stderr,
			"mcpfenced: the pinned tags map holds %u processes, not %u (pid_max or "
			"--tag-capacity changed): kept; pids above it are looked up, and a "
			"process it cannot hold is killed at fork; `mcpfence uninstall` and a "
			"start resize it\n",
			info.max_entries, want);
	return info.max_entries;
}

/*
 * The programs that write tags (fork, exec, exit). Each agent's programs
 * have tag bits of their own (tag_bits.c): an older agent's hooks, which
 * trust theirs, must never run beside our fork or exec program, whose tags
 * set bits only in ours. So these go in after every program that reads tags:
 * until then the older writers keep the older hooks' bits, and our hooks
 * look every process up (tag_bits_ready is 0 until tag_bits_enable()).
 * A start cut short anywhere leaves a safe mix.
 */
static bool writes_tags(const struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);

	return !strcmp(name, "mf_fork") || !strcmp(name, "mf_exec") || !strcmp(name, "mf_exit");
}

/* Programs on the raw syscall tracepoint: attached on demand (see the top). */
static bool is_syscall_tp(const struct bpf_program *prog)
{
	return strcmp(bpf_program__section_name(prog), "tp_btf/sys_enter") == 0;
}

/* Each syscall tracepoint's slot in a->syscall_links, in program order. */
static int syscall_tp_slot(struct agent *a, const struct bpf_program *prog)
{
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, a->skel->obj) {
		if (p == prog)
			return n < MF_SYSCALL_TPS_MAX ? n : -1;
		if (is_syscall_tp(p))
			n++;
	}
	return -1;
}

/* Attach one (again): a link this agent still holds is replaced too. */
static int syscall_tp_attach(struct agent *a, struct bpf_program *prog)
{
	int slot = syscall_tp_slot(a, prog);
	struct bpf_link *link = NULL;
	int err;

	if (slot < 0)
		return -E2BIG; /* raise MF_SYSCALL_TPS_MAX */
	err = attach_prog(a, prog, &link);
	if (err)
		return err;
	/* The new link runs and holds the pin: the old one goes. */
	bpf_link__destroy(a->syscall_links[slot]);
	a->syscall_links[slot] = link;
	return 0;
}

int bpf_syscall_tps_attach(struct agent *a)
{
	struct bpf_program *prog;
	int err;

	if (a->syscall_tps)
		return 0;
	bpf_object__for_each_program(prog, a->skel->obj) {
		/* One that failed leaves the others attached: closed, retried next time. */
		if (is_syscall_tp(prog) && (err = syscall_tp_attach(a, prog)))
			return err;
	}
	a->syscall_tps = true;
	if (a->opt.verbose)
		fprintf(stderr, "mcpfenced: syscall tracepoints attached\n");
	return 0;
}

bool policy_has_exec(const struct mf_policy *p)
{
	for (size_t i = 0; p && i < p->nservers; i++) {
		if (p->servers[i].nexec || p->servers[i].nexec_args)
			return true;
	}
	return false;
}

static bool unhardened_tags_made(struct agent *a, uint64_t *n)
{
	uint64_t counters[MF_CNT_MAX];

	if (bpf_read_counters(a, counters))
		return false;
	*n = counters[MF_CNT_TAG_EXEC] + counters[MF_CNT_TAG_UNHARDENED];
	return true;
}

/*
 * May a governed process without the launcher's filter be alive? True when
 * the walk of the tags finds one, or cannot tell: a tag that was made during
 * the walk (by fork, or by an exec match still in flight) may sit where the
 * walk had already been, so the kernel's count of such tags must not move.
 * None made and none seen: none exists, since a new one needs a live one.
 */
static bool unhardened_tags(struct agent *a)
{
	int fd = bpf_map__fd(a->skel->maps.tags);
	uint32_t max = bpf_map__max_entries(a->skel->maps.tags);
	uint64_t before, after;
	uint32_t key, next, *prev = NULL;
	struct mf_tag tag;

	if (!unhardened_tags_made(a, &before))
		return true;
	/* A deleted key makes the walk start over: bounded all the same. */
	for (uint64_t steps = 0; bpf_map_get_next_key(fd, prev, &next) == 0; steps++) {
		if (steps > 2 * (uint64_t)max)
			return true;
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &tag))
			continue; /* gone since: it exited */
		if (tag.flags & (MF_TAG_EXEC | MF_TAG_UNHARDENED))
			return true;
	}
	if (errno != ENOENT || !unhardened_tags_made(a, &after))
		return true;
	return after != before;
}

void bpf_syscall_tps_sync(struct agent *a)
{
	struct bpf_program *prog;
	char pin[PATH_MAX];

	/* Without the policy's text (kept from before a restart) its exec
	 * matches are unknown: attached as found. */
	if (!a->syscall_tps || !a->current.policy || policy_has_exec(a->current.policy) ||
	    unhardened_tags(a))
		return;
	bpf_object__for_each_program(prog, a->skel->obj) {
		if (!is_syscall_tp(prog))
			continue;
		int slot = syscall_tp_slot(a, prog);

		/* The pin and our link are its only references: both go. */
		link_pin_path(a, prog, pin, sizeof(pin));
		if (unlink(pin) && errno != ENOENT) {
			fprintf(stderr, "mcpfenced: cannot detach %s: %s\n", pin, strerror(errno));
			return;
		}
		if (slot >= 0) {
			bpf_link__destroy(a->syscall_links[slot]);
			a->syscall_links[slot] = NULL;
		}
	}
	a->syscall_tps = false;
	if (a->opt.verbose)
		fprintf(stderr, "mcpfenced: syscall tracepoints detached\n");
}

void bpf_syscall_tps_tick(struct agent *a)
{
	int64_t now;

	if (!a->syscall_tps)
		return;
	now = clock_ms(CLOCK_MONOTONIC);
	if (now - a->syscall_tps_checked_ms < MF_SYSCALL_TPS_CHECK_MS)
		return;
	a->syscall_tps_checked_ms = now;
	bpf_syscall_tps_sync(a);
}

/* Links an older agent pinned for programs since replaced (the socket() and
 * io_uring_enter tracepoints, now mf_sys_enter): pinned, they stay attached. */
static const char *const retired_links[] = { "link_mf_socket_family", "link_mf_uring_enter" };

/* remove: unpin (detach) them; else: is any still pinned? */
static bool retired_links_pinned(struct agent *a, bool remove)
{
	char pin[PATH_MAX];
	bool found = false;
	struct stat st;

	for (size_t i = 0; i < sizeof(retired_links) / sizeof(retired_links[0]); i++) {
		snprintf(pin, sizeof(pin), "%s/%s", a->opt.pin_dir, retired_links[i]);
		if (stat(pin, &st))
			continue;
		found = true;
		if (remove && unlink(pin))
			fprintf(stderr, "mcpfenced: cannot detach %s: %s\n", pin, strerror(errno));
	}
	return found;
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
	if (mkdir(a->opt.pin_dir, 0700) == 0) {
		a->pin_dir_created = true;
	} else if (errno != EEXIST) {
		ret = -errno;
		fprintf(stderr, "mcpfenced: cannot create %s: %s\n", a->opt.pin_dir,
			strerror(-ret));
		return ret;
	}
	ret = mf_pin_dir_lock(a->opt.pin_dir, &holder, err, sizeof(err));
	if (ret >= 0) {
		a->pin_lock_fd = ret;
		ret = mf_pin_dir_check(a->pin_lock_fd, a->opt.pin_dir, err, sizeof(err));
		if (ret) {
			/* Not ours to use, so not ours to remove either, unless
			 * this start made it (empty, and locked by us). */
			if (a->pin_dir_created)
				rmdir(a->opt.pin_dir);
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

/*
 * Before segment tables, the rules map's values were the segments themselves
 * (264 bytes, not a 4-byte segtabs id): libbpf cannot reuse such a pinned map.
 * Its pin moves aside to rules_v1 (or is there from an attempt that stopped
 * early) and *old gets its fd for rulesets_migrate(); the previous agent's
 * programs keep the map, and enforce with it, until ours replace them.
 * *old is -1 when there is nothing to migrate.
 */
static int old_rules_aside(struct agent *a, int *old)
{
	char pin[PATH_MAX], aside[PATH_MAX];
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd;

	snprintf(pin, sizeof(pin), "%s/rules", a->opt.pin_dir);
	snprintf(aside, sizeof(aside), "%s/rules_v1", a->opt.pin_dir);
	*old = bpf_obj_get(aside);
	if (*old >= 0)
		return 0;
	fd = bpf_obj_get(pin);
	if (fd < 0)
		return 0; /* nothing pinned: a first start */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.value_size != sizeof(struct mf_rule_val)) {
		close(fd);
		return 0; /* ours, or unknown: libbpf says what does not fit */
	}
	/* bpffs has no rename (nor dots in names): pin again, drop the old name. */
	if (bpf_obj_pin(fd, aside) || unlink(pin)) {
		int err = -errno;

		fprintf(stderr,
			"mcpfenced: cannot move %s (a rules map of the layout before "
			"segment tables) aside to %s: %s\n",
			pin, aside, strerror(-err));
		close(fd);
		return err;
	}
	fprintf(stderr,
		"mcpfenced: %s has the layout before segment tables: its rulesets "
		"are copied into the new maps\n",
		pin);
	*old = fd;
	return 0;
}

int bpf_setup(struct agent *a)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = a->opt.pin_dir);
	char aside[PATH_MAX];
	struct bpf_program *prog;
	int err, old_rules = -1;
	unsigned int pids;
	bool retired;

	libbpf_set_print(libbpf_print);
	/* Tracepoints of the syscalls category are found through tracefs. */
	err = mount_if_missing(TRACEFS, "tracefs", TRACEFS_MAGIC);
	if (err)
		return err;

	err = old_rules_aside(a, &old_rules);
	if (err)
		return err;
	a->skel = mcpfence_bpf__open_opts(&opts);
	if (!a->skel) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot open BPF object: %s\n", strerror(-err));
		goto out;
	}
	/* One tag per possible process: the map cannot fill before the pid space;
	 * a bit for each (tag_bits.c). */
	pids = tags_capacity(a);
	bpf_map__set_max_entries(a->skel->maps.tags, pids);
	bpf_map__set_max_entries(a->skel->maps.tag_bits, (pids + 63) / 64);
	err = bpf_local_prepare(a);
	if (err)
		goto out;

	err = mcpfence_bpf__load(a->skel);
	if (err) {
		fprintf(stderr,
			"mcpfenced: cannot load BPF programs: %s\n"
			"  (pinned maps of an incompatible version under %s? remove them with "
			"`mcpfence uninstall`)\n",
			strerror(-err), a->opt.pin_dir);
		goto out;
	}
	err = tag_bits_setup(a);
	if (err)
		goto out;
	/* The old rulesets in the new maps before our programs read them. */
	if (old_rules >= 0) {
		err = rulesets_migrate(a, old_rules);
		if (err) {
			fprintf(stderr,
				"mcpfenced: cannot copy the rulesets of %s/rules_v1 into the new "
				"maps: %s\n  (the previous programs keep enforcing its policy; "
				"`mcpfence uninstall` removes it)\n",
				a->opt.pin_dir, strerror(-err));
			goto out;
		}
	}
	/* The older agent's syscall tracepoints were attached: so is ours,
	 * before theirs go. */
	links_next_adopt(a);
	retired = retired_links_pinned(a, false);
	/* Tags of processes that died while no exit program ran: removed now,
	 * while no fork program of ours can give one of their pids a fresh tag. */
	tags_drop_stale(a);
	/* Pass 0: every program but the tag writers; pass 1: those. */
	for (int pass = 0; pass < 2; pass++) {
		bpf_object__for_each_program(prog, a->skel->obj) {
			char pin[PATH_MAX];
			struct stat st;

			if (writes_tags(prog) != (pass == 1))
				continue;
			link_pin_path(a, prog, pin, sizeof(pin));
			/* A syscall tracepoint only if attached before (restart): the
			 * policy load that follows says whether it stays. */
			if ((is_syscall_tp(prog) && stat(pin, &st) && !retired) ||
			    is_run_by_agent(prog))
				continue;
			if (is_syscall_tp(prog)) {
				err = syscall_tp_attach(a, prog);
				a->syscall_tps = true;
			} else {
				err = attach_prog(a, prog, NULL);
			}
			if (err)
				goto out;
		}
	}
	if (retired)
		retired_links_pinned(a, true);
	err = tag_bits_enable(a);
	if (err)
		goto out;
	/* Processes without the launcher's filter left by the last agent (exec
	 * matches of a policy it died loading, say) get the syscall program
	 * whatever the policy this start restores. */
	if (!a->syscall_tps && unhardened_tags(a)) {
		err = bpf_syscall_tps_attach(a);
		if (err)
			goto out;
	}
	if (old_rules >= 0) {
		/* Our programs run: nothing reads the old map any more. */
		snprintf(aside, sizeof(aside), "%s/rules_v1", a->opt.pin_dir);
		unlink(aside);
	}
out:
	if (old_rules >= 0)
		close(old_rules);
	return err;
}

void bpf_teardown(struct agent *a)
{
	/* Pinned, they keep running after the agent; unpinned, this detaches. */
	for (int i = 0; i < MF_SYSCALL_TPS_MAX; i++) {
		if (a->syscall_links[i])
			bpf_link__disconnect(a->syscall_links[i]);
		bpf_link__destroy(a->syscall_links[i]);
		a->syscall_links[i] = NULL;
	}
	/* Left attached, our programs go on without an agent: they look every
	 * process up again, as an older agent's fork program may come next. */
	tag_bits_teardown(a);
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
	return err; /* libbpf 1.x: -errno */
}

json_t *bpf_attached_programs(struct agent *a)
{
	json_t *list = json_array();
	struct bpf_program *prog;
	char pin[PATH_MAX];
	struct stat st;

	bpf_object__for_each_program(prog, a->skel->obj) {
		if (is_run_by_agent(prog))
			continue;
		link_pin_path(a, prog, pin, sizeof(pin));
		/* on_demand: attached only while needed (a syscall tracepoint). */
		json_array_append_new(
			list, json_pack("{s:s, s:s, s:b, s:b}", "name", bpf_program__name(prog),
					"section", bpf_program__section_name(prog), "pinned",
					stat(pin, &st) == 0, "on_demand", is_syscall_tp(prog)));
	}
	return list;
}

/* Close a flow's window (mf_flow_sweep): 1 summarized, 0 not, or -errno. */
static int flow_sweep_one(struct agent *a, const struct mf_flow_key *key, uint64_t window_ns)
{
	struct mf_flow_sweep arg = { .key = *key, .window_ns = window_ns };
	char pkt[64] = {}; /* a packet for the test run: the program ignores it */
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof(pkt));
	uint32_t zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.flow_sweep_arg), &zero, &arg, BPF_ANY))
		return -errno;
	if (bpf_prog_test_run_opts(bpf_program__fd(a->skel->progs.mf_flow_sweep), &run))
		return -errno;
	return run.retval ? 1 : 0;
}

/*
 * Flows whose window is over (all: every flow, windows cut short): a flow
 * that stopped still gets its summary (and goes, once there is nothing left
 * to summarize). The keys are
 * gathered first: a deletion during the walk would restart it.
 */
void bpf_flows_sweep(struct agent *a, bool all)
{
	int fd = bpf_map__fd(a->skel->maps.flows);
	uint64_t window_ns, now;
	struct mf_flow_key *keys, *prev = NULL, next;
	struct mf_flow val;
	size_t n = 0;
	int err;

	window_ns = 0;
	if (a->current.policy && !all)
		window_ns = a->current.policy->audit_window_s * 1000000000ull;
	keys = calloc(MF_FLOWS_MAX, sizeof(*keys));
	if (!keys)
		return; /* the next tick tries again */
	now = clock_ns(CLOCK_BOOTTIME);
	while (n < MF_FLOWS_MAX && bpf_map_get_next_key(fd, prev, &next) == 0) {
		keys[n] = next;
		prev = &keys[n];
		/* Read without the lock: the program checks again under it. */
		if (bpf_map_lookup_elem(fd, &next, &val) == 0 && now - val.start_ns >= window_ns)
			n++;
	}
	for (size_t i = 0; i < n; i++) {
		err = flow_sweep_one(a, &keys[i], window_ns);
		if (err < 0) {
			fprintf(stderr, "mcpfenced: cannot sweep the audit flows: %s\n",
				strerror(-err));
			break;
		}
	}
	free(keys);
}

void bpf_flows_tick(struct agent *a)
{
	int64_t now = clock_ms(CLOCK_MONOTONIC);

	if (now - a->flows_swept_ms < MF_FLOW_SWEEP_MS)
		return;
	a->flows_swept_ms = now;
	bpf_flows_sweep(a, false);
}
