// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Local sockets and inbound: the loader's part (program types libbpf 1.1
 * does not know) and the policy's part (the unix names and listen ports of
 * a policy slot, written like the bindings: into the inactive slot, before
 * the flip).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mcpfence.skel.h"

/* enum bpf_attach_type values of Linux 6.7+, for older uapi headers
 * (include/uapi/linux/bpf.h: after BPF_TRACE_UPROBE_MULTI = 48). */
#define MF_BPF_CGROUP_UNIX_CONNECT 49
#define MF_BPF_CGROUP_UNIX_SENDMSG 50

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

/* The agent's view of paths (see sees_host_paths() in the BPF program):
 * pathnames of a process with another mount namespace or root are refused. */
static int set_host_view(struct agent *a)
{
	struct statx stx;
	struct stat ns;

	int err;

	if (stat("/proc/self/ns/mnt", &ns)) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot stat /proc/self/ns/mnt: %s\n", strerror(-err));
		return err;
	}
	if (statx(AT_FDCWD, "/", 0, STATX_INO | STATX_MNT_ID, &stx)) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot statx /: %s\n", strerror(-err));
		return err;
	}
	if (!(stx.stx_mask & STATX_MNT_ID)) {
		fprintf(stderr, "mcpfenced: statx gives no mount id for /\n");
		return -EOPNOTSUPP;
	}
	a->skel->rodata->host_mnt_ns = ns.st_ino;
	a->skel->rodata->host_root_dev = mf_kernel_dev(stx.stx_dev_major, stx.stx_dev_minor);
	a->skel->rodata->host_root_ino = stx.stx_ino;
	a->skel->rodata->host_root_mnt_id = stx.stx_mnt_id;
	return 0;
}

/*
 * libbpf 1.1 does not know the sections cgroup/connect_unix and
 * cgroup/sendmsg_unix: set their program and attach types before load. The
 * generic loop of bpf_setup() then attaches them to the cgroup and pins
 * their links like every other cgroup program.
 */
int bpf_local_prepare(struct agent *a)
{
	static const struct {
		const char *name;
		int attach_type;
	} progs[] = {
		{ "mf_connect_unix", MF_BPF_CGROUP_UNIX_CONNECT },
		{ "mf_sendmsg_unix", MF_BPF_CGROUP_UNIX_SENDMSG },
	};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_program *prog =
			bpf_object__find_program_by_name(a->skel->obj, progs[i].name);
		int err;

		if (!prog) {
			fprintf(stderr, "mcpfenced: BPF object has no program %s\n", progs[i].name);
			return -ENOENT;
		}
		err = bpf_program__set_type(prog, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
		if (!err)
			err = bpf_program__set_expected_attach_type(
				prog, (enum bpf_attach_type)progs[i].attach_type);
		if (err) {
			fprintf(stderr, "mcpfenced: cannot set the type of %s: %s\n", progs[i].name,
				strerror(-err));
			return err;
		}
	}
	return set_host_view(a);
}

/* Keys of unix_allow and listen_ports start with their slot. */
_Static_assert(sizeof(struct mf_unix_key) <= MF_MAP_KEY_MAX, "walked by map_delete_where()");
_Static_assert(sizeof(struct mf_listen_key) <= MF_MAP_KEY_MAX, "walked by map_delete_where()");
static bool in_slot(const void *key, const void *slot)
{
	uint32_t key_slot;

	memcpy(&key_slot, key, sizeof(key_slot));
	return key_slot == *(const uint32_t *)slot;
}

/* Delete every key of map (key_size bytes, slot first) that belongs to slot. */
static int clear_slot(int fd, size_t key_size, uint32_t slot)
{
	return map_delete_where(fd, key_size, in_slot, &slot, NULL);
}

int local_clear(struct agent *a, uint32_t slot)
{
	int err =
		clear_slot(bpf_map__fd(a->skel->maps.unix_allow), sizeof(struct mf_unix_key), slot);
	int err2 = clear_slot(bpf_map__fd(a->skel->maps.listen_ports), sizeof(struct mf_listen_key),
			      slot);

	return err ? err : err2;
}

static int write_unix(int fd, uint32_t slot, uint32_t server, const char *name)
{
	struct mf_unix_key key = { .slot = slot, .server_id = server };
	uint32_t allow = MF_ALLOW;
	int len = mf_unix_name_bytes(name, key.name);

	if (len < 0)
		return -EINVAL; /* the parser let through a name it should not have */
	key.len = len;
	return bpf_map_update_elem(fd, &key, &allow, BPF_ANY) ? -errno : 0;
}

/*
 * A granted path is only as safe as the directories on its way: whoever may
 * write one of them can put a symlink or another socket under the granted
 * name. Say so for every directory not owned by root or writable by others.
 */
static void warn_replaceable(const char *where, const char *path, json_t *warnings)
{
	char dir[MF_UNIX_PATH_MAX + 1];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	while ((slash = strrchr(dir, '/'))) {
		slash[slash == dir] = '\0'; /* "/run/x" -> "/run" -> "/" */
		if (lstat(dir, &st) == 0 &&
		    (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))) {
			json_array_append_new(
				warnings,
				json_sprintf(
					"%s: %s: %s is writable by others than root: whoever can "
					"replace the socket chooses what the name reaches",
					where, path, dir));
			return;
		}
		if (slash == dir)
			return;
	}
}

static int write_local(struct agent *a, uint32_t slot, uint32_t server,
		       const struct mf_local *local, bool io_uring, const char *where,
		       json_t *warnings)
{
	struct mf_listen_key lkey = { .slot = slot, .server_id = server };
	struct mf_listen_val lval = {};
	int err;

	for (size_t i = 0; i < local->nunix; i++) {
		err = write_unix(bpf_map__fd(a->skel->maps.unix_allow), slot, server,
				 local->unix_names[i]);
		if (err)
			return err;
		if (local->unix_names[i][0] == '/')
			warn_replaceable(where, local->unix_names[i], warnings);
	}
	if (!local->nlisten && !io_uring)
		return 0;
	lval.flags = io_uring ? MF_SERVER_IO_URING : 0;
	lval.nranges = local->nlisten;
	for (size_t i = 0; i < local->nlisten; i++) {
		lval.ranges[i].lo = local->listen[i].lo;
		lval.ranges[i].hi = local->listen[i].hi;
	}
	return bpf_map_update_elem(bpf_map__fd(a->skel->maps.listen_ports), &lkey, &lval, BPF_ANY) ?
		       -errno :
		       0;
}

/*
 * The slot's unix names and listen ports: what each server names, what the
 * policy grants every server (or the defaults), and the agent's own control
 * socket, which judges each request itself (`whoami` from a governed
 * process). The slot is cleared first: nothing of an older policy stays.
 */
int local_write(struct agent *a, uint32_t slot, const struct mf_policy *p, json_t *warnings)
{
	int fd = bpf_map__fd(a->skel->maps.unix_allow);
	char where[MF_NAME_MAX + 16];
	uint32_t server;
	int err;

	err = local_clear(a, slot);
	if (!err && a->opt.socket_path && a->opt.socket_path[0] == '/' &&
	    strlen(a->opt.socket_path) <= MF_UNIX_PATH_MAX)
		err = write_unix(fd, slot, MF_ANY_SERVER, a->opt.socket_path);
	if (!err)
		err = write_local(a, slot, MF_ANY_SERVER, mf_local_any(p), false, "unix", warnings);
	for (size_t s = 0; !err && s < p->nservers; s++) {
		const struct mf_server *srv = &p->servers[s];

		if (!srv->local.nunix && !srv->local.nlisten && !srv->io_uring)
			continue;
		snprintf(where, sizeof(where), "servers.%s.unix", srv->name);
		err = server_id_get(a, srv->name, &server);
		if (!err)
			err = write_local(a, slot, server, &srv->local, srv->io_uring, where,
					  warnings);
	}
	return err;
}
