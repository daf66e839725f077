// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Identity and server names <-> the small ids the kernel stores in tags.
 * Ids are never reused: a tag may outlive the policy that named it. The
 * tables are mirrored in pinned maps so a restarted agent names old tags.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mcpfence.skel.h"

static int table_set(char ***table, uint32_t *len, uint32_t id, const char *name)
{
	if (id >= *len) {
		uint32_t new_len = id + 64;
		char **t = realloc(*table, new_len * sizeof(**table));

		if (!t)
			return -ENOMEM;
		memset(t + *len, 0, (new_len - *len) * sizeof(*t));
		*table = t;
		*len = new_len;
	}
	free((*table)[id]);
	(*table)[id] = strdup(name);
	return (*table)[id] ? 0 : -ENOMEM;
}

static int load_map(int fd, struct mf_strmap *ids, char ***table, uint32_t *len)
{
	char name[MF_NAME_MAX];
	uint32_t key, next;
	void *prev = NULL;
	int err;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, name))
			continue;
		name[MF_NAME_MAX - 1] = '\0';
		err = table_set(table, len, key, name);
		if (!err)
			err = mf_strmap_put(ids, name, key);
		if (err)
			return err;
	}
	return 0;
}

int names_load(struct agent *a)
{
	int err;

	err = load_map(bpf_map__fd(a->skel->maps.identity_names), &a->identity_ids,
		       &a->identity_by_id, &a->nidentity_ids);
	if (!err)
		err = load_map(bpf_map__fd(a->skel->maps.server_names), &a->server_ids,
			       &a->server_by_id, &a->nserver_ids);
	return err;
}

static int id_get(int map_fd, struct mf_strmap *ids, char ***table, uint32_t *len, uint32_t limit,
		  const char *name, uint32_t *id)
{
	char value[MF_NAME_MAX] = {};
	uint32_t next;
	int err;

	if (mf_strmap_get(ids, name, id))
		return 0;
	/* Ids start at 1 (0 is "any identity"); the next is past the highest. */
	next = 1;
	for (uint32_t i = *len; i > 0; i--) {
		if ((*table)[i - 1]) {
			next = i;
			break;
		}
	}
	if (next >= limit)
		return -ENOSPC;
	snprintf(value, sizeof(value), "%s", name);
	if (bpf_map_update_elem(map_fd, &next, value, BPF_NOEXIST))
		return -errno;
	err = table_set(table, len, next, name);
	if (!err)
		err = mf_strmap_put(ids, name, next);
	if (err)
		return err;
	*id = next;
	return 0;
}

int identity_id_get(struct agent *a, const char *name, uint32_t *id)
{
	return id_get(bpf_map__fd(a->skel->maps.identity_names), &a->identity_ids,
		      &a->identity_by_id, &a->nidentity_ids,
		      bpf_map__max_entries(a->skel->maps.identity_names), name, id);
}

int server_id_get(struct agent *a, const char *name, uint32_t *id)
{
	return id_get(bpf_map__fd(a->skel->maps.server_names), &a->server_ids, &a->server_by_id,
		      &a->nserver_ids, bpf_map__max_entries(a->skel->maps.server_names), name, id);
}

const char *server_name(struct agent *a, uint32_t id)
{
	if (id < a->nserver_ids && a->server_by_id[id])
		return a->server_by_id[id];
	return "?";
}

/* User names of uid identities: every audit record of an exec-tagged process
 * needs one, and getpwuid reads /etc/passwd. A small cache, refreshed when a
 * policy is loaded (names_forget_users). */
#define USER_CACHE 64

static struct {
	bool valid;
	uid_t uid;
	char name[MF_NAME_MAX];
} user_cache[USER_CACHE];

void names_forget_users(void)
{
	memset(user_cache, 0, sizeof(user_cache));
}

const char *identity_name(struct agent *a, uint32_t id, char *buf, size_t len)
{
	if (id & MF_UID_IDENTITY) {
		uid_t uid = id & ~MF_UID_IDENTITY;
		typeof(user_cache[0]) *slot = &user_cache[uid % USER_CACHE];

		if (!slot->valid || slot->uid != uid) {
			struct passwd *pw = getpwuid(uid);

			if (pw)
				snprintf(slot->name, sizeof(slot->name), "%s", pw->pw_name);
			else
				snprintf(slot->name, sizeof(slot->name), "uid:%u", uid);
			slot->uid = uid;
			slot->valid = true;
		}
		snprintf(buf, len, "%s", slot->name);
		return buf;
	}
	if (id < a->nidentity_ids && a->identity_by_id[id])
		return a->identity_by_id[id];
	snprintf(buf, len, "?%u", id);
	return buf;
}

void names_free(struct agent *a)
{
	for (uint32_t i = 0; i < a->nidentity_ids; i++)
		free(a->identity_by_id[i]);
	for (uint32_t i = 0; i < a->nserver_ids; i++)
		free(a->server_by_id[i]);
	free(a->identity_by_id);
	free(a->server_by_id);
	mf_strmap_free(&a->identity_ids);
	mf_strmap_free(&a->server_ids);
}
