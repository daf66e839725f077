// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rulesets in the kernel's rules map (an LPM trie keyed by ruleset id).
 *
 * A ruleset is written once under a fresh id and never changed, so a policy
 * slot that points at it always sees it whole. A load reuses a ruleset the
 * active policy already has when its content is the same (a large ruleset
 * reloaded unchanged costs no write), and writes the others. Rulesets that
 * neither slot uses any more are garbage: the main loop deletes them a batch
 * at a time after the load has answered, so a load waits only for its own
 * writes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "../../bpf/mcpfence_hash.h"
#include "mcpfence.skel.h"

/* slots: bit 0 and 1 for the policy slots whose bindings use the ruleset,
 * SLOT_NEW for the load in progress; none: garbage. */
#define SLOT_NEW 0x4

struct kernel_ruleset {
	uint32_t id;
	uint8_t slots;
	bool reusable;	 /* digest known (false for rulesets found at start) */
	uint64_t digest; /* of keys and values, with keys compared in full too */
	size_t nkeys;
	size_t deleted; /* garbage: keys deleted so far */
	struct mf_rule_key *keys;
};

static void key_of(const struct mf_flat_entry *e, uint32_t id, struct mf_rule_key *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen = MF_RULE_KEY_FIXED_BITS + e->plen;
	key->ruleset_id = id;
	key->family = e->family;
	memcpy(key->addr, e->addr, sizeof(key->addr));
}

static uint64_t digest_of(const struct mf_ruleset *rs)
{
	uint64_t h = MF_FNV1A_INIT;

	for (size_t i = 0; i < rs->nentries; i++) {
		const struct mf_flat_entry *e = &rs->entries[i];

		h = mf_fnv1a(h, &e->family, sizeof(e->family));
		h = mf_fnv1a(h, &e->plen, sizeof(e->plen));
		h = mf_fnv1a(h, e->addr, sizeof(e->addr));
		h = mf_fnv1a(h, &e->val, sizeof(e->val));
	}
	return h;
}

static bool same_content(const struct kernel_ruleset *k, const struct mf_ruleset *rs,
			 uint64_t digest)
{
	struct mf_rule_key key;

	if (!k->reusable || !k->slots || k->digest != digest || k->nkeys != rs->nentries)
		return false;
	for (size_t i = 0; i < rs->nentries; i++) {
		key_of(&rs->entries[i], k->id, &key);
		if (memcmp(&key, &k->keys[i], sizeof(key)))
			return false;
	}
	return true;
}

static struct kernel_ruleset *ruleset_add(struct agent *a, uint32_t id)
{
	struct kernel_ruleset *k;

	if (a->nrulesets == a->rulesets_cap) {
		size_t cap = a->rulesets_cap ? a->rulesets_cap * 2 : 16;
		struct kernel_ruleset *grown = realloc(a->rulesets, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		a->rulesets = grown;
		a->rulesets_cap = cap;
	}
	k = &a->rulesets[a->nrulesets++];
	memset(k, 0, sizeof(*k));
	k->id = id;
	return k;
}

static bool id_in_use(const struct agent *a, uint32_t id)
{
	for (size_t i = 0; i < a->nrulesets; i++) {
		if (a->rulesets[i].id == id)
			return true;
	}
	return false;
}

static uint32_t fresh_id(struct agent *a)
{
	/* Ids only grow; 0 is never one (wrapping needs 4 billion loads). */
	do {
		a->next_ruleset_id++;
	} while (!a->next_ruleset_id || id_in_use(a, a->next_ruleset_id));
	return a->next_ruleset_id;
}

/* Write one ruleset under a fresh id; on failure delete what was written. */
static int ruleset_write(struct agent *a, const struct mf_ruleset *rs, uint64_t digest,
			 struct kernel_ruleset **out)
{
	int fd = bpf_map__fd(a->skel->maps.rules);
	struct kernel_ruleset *k;
	uint32_t id = fresh_id(a);
	int err = 0;

	k = ruleset_add(a, id);
	if (!k)
		return -ENOMEM;
	k->keys = calloc(rs->nentries ? rs->nentries : 1, sizeof(*k->keys));
	if (!k->keys) {
		a->nrulesets--;
		return -ENOMEM;
	}
	for (size_t i = 0; i < rs->nentries; i++) {
		key_of(&rs->entries[i], id, &k->keys[i]);
		if (bpf_map_update_elem(fd, &k->keys[i], &rs->entries[i].val, BPF_ANY)) {
			err = -errno;
			k->nkeys = i; /* what exists, for the collector */
			k->slots = 0;
			return err;
		}
	}
	k->nkeys = rs->nentries;
	k->digest = digest;
	k->reusable = true;
	*out = k;
	return 0;
}

int rulesets_place(struct agent *a, const struct mf_compiled *c, uint32_t *ids)
{
	/* Room first: garbage still in the map counts against its size. */
	rulesets_collect(a, SIZE_MAX);
	for (size_t r = 0; r < c->nrulesets; r++) {
		const struct mf_ruleset *rs = &c->rulesets[r];
		uint64_t digest = digest_of(rs);
		struct kernel_ruleset *k = NULL;
		int err;

		for (size_t i = 0; i < a->nrulesets && !k; i++) {
			if (same_content(&a->rulesets[i], rs, digest))
				k = &a->rulesets[i];
		}
		if (!k) {
			err = ruleset_write(a, rs, digest, &k);
			if (err)
				return err;
		}
		k->slots |= SLOT_NEW;
		ids[r] = k->id;
	}
	return 0;
}

void rulesets_commit(struct agent *a, uint32_t slot)
{
	for (size_t i = 0; i < a->nrulesets; i++) {
		struct kernel_ruleset *k = &a->rulesets[i];

		k->slots &= ~(1u << slot);
		if (k->slots & SLOT_NEW)
			k->slots = (k->slots & ~SLOT_NEW) | (1u << slot);
	}
}

void rulesets_abort(struct agent *a, uint32_t slot)
{
	for (size_t i = 0; i < a->nrulesets; i++)
		a->rulesets[i].slots &= ~(SLOT_NEW | (1u << slot));
}

bool rulesets_collect(struct agent *a, size_t budget)
{
	int fd = bpf_map__fd(a->skel->maps.rules);
	size_t i = 0;

	while (i < a->nrulesets && budget) {
		struct kernel_ruleset *k = &a->rulesets[i];

		if (k->slots) {
			i++;
			continue;
		}
		for (; k->deleted < k->nkeys && budget; k->deleted++, budget--)
			bpf_map_delete_elem(fd, &k->keys[k->deleted]);
		if (k->deleted < k->nkeys)
			break;
		free(k->keys);
		a->rulesets[i] = a->rulesets[--a->nrulesets];
	}
	for (i = 0; i < a->nrulesets; i++) {
		if (!a->rulesets[i].slots)
			return true;
	}
	return false;
}

_Static_assert(sizeof(struct mf_rule_key) <= MF_MAP_KEY_MAX, "walked by map_collect()");

static int cmp_key_by_id(const void *x, const void *y)
{
	const struct mf_rule_key *p = x, *q = y;

	return p->ruleset_id < q->ruleset_id ? -1 : p->ruleset_id > q->ruleset_id;
}

/* After a restart: the rulesets in the map, and which slot uses which. */
int rulesets_restore(struct agent *a)
{
	int rules_fd = bpf_map__fd(a->skel->maps.rules);
	int bind_fd = bpf_map__fd(a->skel->maps.bindings);
	struct mf_binding_key bkey, bnext;
	struct mf_rule_key *all;
	void *prev = NULL;
	size_t n;
	int err = map_collect(rules_fd, sizeof(*all), NULL, NULL, (void **)&all, &n);

	if (err)
		return err;
	if (n)
		qsort(all, n, sizeof(*all), cmp_key_by_id);
	for (size_t i = 0; i < n;) {
		struct kernel_ruleset *k = ruleset_add(a, all[i].ruleset_id);
		size_t j = i;

		while (j < n && all[j].ruleset_id == all[i].ruleset_id)
			j++;
		if (!k || !(k->keys = malloc((j - i) * sizeof(*k->keys)))) {
			free(all);
			return -ENOMEM;
		}
		memcpy(k->keys, &all[i], (j - i) * sizeof(*k->keys));
		k->nkeys = j - i;
		if (k->id > a->next_ruleset_id)
			a->next_ruleset_id = k->id;
		i = j;
	}
	free(all);

	prev = NULL;
	while (bpf_map_get_next_key(bind_fd, prev, &bnext) == 0) {
		struct mf_binding b;

		bkey = bnext;
		prev = &bkey;
		if (bpf_map_lookup_elem(bind_fd, &bkey, &b) || bkey.slot > 1)
			continue;
		for (size_t i = 0; i < a->nrulesets; i++) {
			if (a->rulesets[i].id == b.ruleset_id)
				a->rulesets[i].slots |= 1u << bkey.slot;
		}
	}
	return 0;
}

void rulesets_free(struct agent *a)
{
	for (size_t i = 0; i < a->nrulesets; i++)
		free(a->rulesets[i].keys);
	free(a->rulesets);
	a->rulesets = NULL;
	a->nrulesets = a->rulesets_cap = 0;
}
