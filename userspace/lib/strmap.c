// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "../../bpf/mcpfence_hash.h"

static uint64_t hash_str(const char *s)
{
	uint64_t h = MF_FNV1A_INIT;

	while (*s)
		h = mf_fnv1a_byte(h, (unsigned char)*s++);
	return h;
}

void mf_strmap_init(struct mf_strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void mf_strmap_free(struct mf_strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static struct mf_strmap_slot *find(const struct mf_strmap *m, const char *key)
{
	size_t i = hash_str(key) & (m->cap - 1);

	while (m->slots[i].key && strcmp(m->slots[i].key, key))
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

bool mf_strmap_get(const struct mf_strmap *m, const char *key, uint32_t *value)
{
	struct mf_strmap_slot *slot;

	if (!m->cap)
		return false;
	slot = find(m, key);
	if (!slot->key)
		return false;
	*value = slot->value;
	return true;
}

static int grow(struct mf_strmap *m)
{
	struct mf_strmap old = *m;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (!m->slots) {
		*m = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++) {
		if (old.slots[i].key)
			*find(m, old.slots[i].key) = old.slots[i];
	}
	free(old.slots);
	return 0;
}

int mf_strmap_put(struct mf_strmap *m, const char *key, uint32_t value)
{
	struct mf_strmap_slot *slot;

	/* Keep the load factor under 1/2 so probes stay short. */
	if ((m->len + 1) * 2 > m->cap && grow(m))
		return -ENOMEM;
	slot = find(m, key);
	if (!slot->key) {
		slot->key = strdup(key);
		if (!slot->key)
			return -ENOMEM;
		m->len++;
	}
	slot->value = value;
	return 0;
}
