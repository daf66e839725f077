// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Walking the kernel's hash maps from userspace. bpf_map_get_next_key() from
 * a key that was deleted meanwhile starts over at the first key, so a walk
 * that deletes as it goes restarts after each deletion (quadratic): collect
 * first, then delete.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "agent.h"

int map_collect(int fd, size_t key_size, bool (*pick)(const void *key, const void *ctx),
		const void *ctx, void **out, size_t *nout)
{
	char key[MF_MAP_KEY_MAX], next[MF_MAP_KEY_MAX];
	char *keys = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	*out = NULL;
	*nout = 0;
	if (key_size > MF_MAP_KEY_MAX)
		return -EINVAL;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, key_size);
		prev = key;
		if (pick && !pick(key, ctx))
			continue;
		if (n == cap) {
			char *grown;

			cap = cap ? cap * 2 : 256;
			grown = realloc(keys, cap * key_size);
			if (!grown) {
				free(keys);
				return -ENOMEM;
			}
			keys = grown;
		}
		memcpy(keys + n++ * key_size, key, key_size);
	}
	*out = keys;
	*nout = n;
	return 0;
}

int map_delete_where(int fd, size_t key_size, bool (*doomed)(const void *key, const void *ctx),
		     const void *ctx, size_t *deleted)
{
	char *keys;
	size_t n, gone = 0;
	int err = map_collect(fd, key_size, doomed, ctx, (void **)&keys, &n);

	if (deleted)
		*deleted = 0;
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_delete_elem(fd, keys + i * key_size) == 0)
			gone++;
		else if (errno != ENOENT && !err)
			err = -errno;
	}
	if (deleted)
		*deleted = gone;
	free(keys);
	return err;
}

size_t map_count(int fd)
{
	char key[MF_MAP_KEY_MAX], next[MF_MAP_KEY_MAX];
	void *prev = NULL;
	size_t n = 0;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}
