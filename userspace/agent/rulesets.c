// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rulesets in the kernel's rules map (an LPM trie keyed by ruleset id), and
 * their segment tables in the segtabs map (what a prefix's value names).
 *
 * A ruleset is written once under a fresh id and never changed, so a policy
 * slot that points at it always sees it whole. A load reuses a ruleset the
 * active policy already has when its content is the same (a large ruleset
 * reloaded unchanged costs no write), and writes the others. Rulesets that
 * neither slot uses any more are garbage: the main loop deletes them a batch
 * at a time after the load has answered, so a load waits only for its own
 * writes.
 *
 * A ruleset owns its segment tables (its prefixes of the same segments share
 * one, see share_tables() in compile.c). Tables are written before the
 * prefixes that name them and deleted after the last of those: a verdict
 * finds a prefix's table unless the prefix is garbage already.
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
	size_t ntabs, tabs_deleted;
	uint32_t *tabs; /* segtabs ids */
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

/* Write a segment table under an unused id. */
static int segtab_write(struct agent *a, const struct mf_rule_val *val, uint32_t *id)
{
	int fd = bpf_map__fd(a->skel->maps.segtabs);

	for (;;) {
		if (!++a->next_segtab_id)
			continue; /* 0 is never one */
		if (!bpf_map_update_elem(fd, &a->next_segtab_id, val, BPF_NOEXIST))
			break;
		if (errno != EEXIST)
			return -errno;
	}
	*id = a->next_segtab_id;
	return 0;
}

/* Write rs under id, each table before the prefixes naming it. keys and tabs
 * (nentries and ntables long) get what was written, *nkeys and *ntabs how
 * much, also on failure: the collector deletes that. */
static int write_entries(struct agent *a, const struct mf_ruleset *rs, uint32_t id,
			 struct mf_rule_key *keys, size_t *nkeys, uint32_t *tabs, size_t *ntabs)
{
	int fd = bpf_map__fd(a->skel->maps.rules);
	uint32_t *tab_id = calloc(rs->nentries ? rs->nentries : 1, sizeof(*tab_id));
	int err = 0;

	if (!tab_id)
		return -ENOMEM;
	for (size_t i = 0; i < rs->nentries; i++) {
		uint32_t t = rs->table_of[i]; /* <= i: a table is its first entry's */

		if (t == i) {
			err = segtab_write(a, &rs->entries[i].val, &tab_id[i]);
			if (err)
				break;
			tabs[(*ntabs)++] = tab_id[i];
		}
		key_of(&rs->entries[i], id, &keys[i]);
		if (bpf_map_update_elem(fd, &keys[i], &tab_id[t], BPF_ANY)) {
			err = -errno;
			break;
		}
		*nkeys = i + 1;
	}
	free(tab_id);
	return err;
}

/* Write one ruleset under a fresh id; on failure the collector deletes what
 * was written. */
static int ruleset_write(struct agent *a, const struct mf_ruleset *rs, uint64_t digest,
			 struct kernel_ruleset **out)
{
	struct kernel_ruleset *k;
	uint32_t id = fresh_id(a);
	int err;

	k = ruleset_add(a, id);
	if (!k)
		return -ENOMEM;
	k->keys = calloc(rs->nentries ? rs->nentries : 1, sizeof(*k->keys));
	k->tabs = calloc(rs->ntables ? rs->ntables : 1, sizeof(*k->tabs));
	if (!k->keys || !k->tabs) {
		free(k->keys);
		free(k->tabs);
		a->nrulesets--;
		return -ENOMEM;
	}
	err = write_entries(a, rs, id, k->keys, &k->nkeys, k->tabs, &k->ntabs);
	if (err)
		return err; /* slots 0: garbage */
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
	int tfd = bpf_map__fd(a->skel->maps.segtabs);
	size_t i = 0;

	while (i < a->nrulesets && budget) {
		struct kernel_ruleset *k = &a->rulesets[i];

		if (k->slots) {
			i++;
			continue;
		}
		for (; k->deleted < k->nkeys && budget; k->deleted++, budget--)
			bpf_map_delete_elem(fd, &k->keys[k->deleted]);
		/* No prefix names the tables any more. */
		for (; k->deleted == k->nkeys && k->tabs_deleted < k->ntabs && budget;
		     k->tabs_deleted++, budget--)
			bpf_map_delete_elem(tfd, &k->tabs[k->tabs_deleted]);
		if (k->deleted < k->nkeys || k->tabs_deleted < k->ntabs)
			break;
		free(k->keys);
		free(k->tabs);
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

static int cmp_u32(const void *x, const void *y)
{
	uint32_t p = *(const uint32_t *)x, q = *(const uint32_t *)y;

	return p < q ? -1 : p > q;
}

/* The tables that k's prefixes name, each once. */
static int restore_tabs(struct agent *a, struct kernel_ruleset *k)
{
	int fd = bpf_map__fd(a->skel->maps.rules);
	size_t n = 0;

	k->tabs = calloc(k->nkeys ? k->nkeys : 1, sizeof(*k->tabs));
	if (!k->tabs)
		return -ENOMEM;
	for (size_t i = 0; i < k->nkeys; i++) {
		if (!bpf_map_lookup_elem(fd, &k->keys[i], &k->tabs[n]))
			n++;
	}
	if (n)
		qsort(k->tabs, n, sizeof(*k->tabs), cmp_u32);
	for (size_t i = 0; i < n; i++) {
		if (!k->ntabs || k->tabs[k->ntabs - 1] != k->tabs[i])
			k->tabs[k->ntabs++] = k->tabs[i];
	}
	return 0;
}

/* Tables that no prefix names (an agent stopped between writing a table and
 * its prefixes) are read by no verdict: delete them. */
static int restore_segtabs(struct agent *a)
{
	int fd = bpf_map__fd(a->skel->maps.segtabs);
	uint32_t *ids, *known;
	size_t n, nknown = 0;
	int err;

	for (size_t i = 0; i < a->nrulesets; i++)
		nknown += a->rulesets[i].ntabs;
	known = malloc((nknown ? nknown : 1) * sizeof(*known));
	if (!known)
		return -ENOMEM;
	nknown = 0;
	for (size_t i = 0; i < a->nrulesets; i++) {
		if (a->rulesets[i].ntabs)
			memcpy(known + nknown, a->rulesets[i].tabs,
			       a->rulesets[i].ntabs * sizeof(*known));
		nknown += a->rulesets[i].ntabs;
	}
	if (nknown)
		qsort(known, nknown, sizeof(*known), cmp_u32);
	err = map_collect(fd, sizeof(*ids), NULL, NULL, (void **)&ids, &n);
	if (err) {
		free(known);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		if (ids[i] > a->next_segtab_id)
			a->next_segtab_id = ids[i];
		if (!bsearch(&ids[i], known, nknown, sizeof(*known), cmp_u32))
			bpf_map_delete_elem(fd, &ids[i]);
	}
	free(ids);
	free(known);
	return 0;
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
		if (restore_tabs(a, k)) {
			free(all);
			return -ENOMEM;
		}
		i = j;
	}
	free(all);
	err = restore_segtabs(a);
	if (err)
		return err;

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
	for (size_t i = 0; i < a->nrulesets; i++) {
		free(a->rulesets[i].keys);
		free(a->rulesets[i].tabs);
	}
	free(a->rulesets);
	a->rulesets = NULL;
	a->nrulesets = a->rulesets_cap = 0;
}

/*
 * The rules map of an agent before segment tables held the segments in each
 * prefix's value. Copy its rulesets, under their ids (the bindings name them),
 * into the rules and segtabs maps, before the programs that read those run.
 */
int rulesets_migrate(struct agent *a, int old_fd)
{
	struct mf_rule_key *all, *keys = NULL;
	uint32_t *tabs = NULL;
	struct mf_ruleset rs = { 0 };
	size_t n;
	int err = map_collect(old_fd, sizeof(*all), NULL, NULL, (void **)&all, &n);

	if (err)
		return err;
	if (n)
		qsort(all, n, sizeof(*all), cmp_key_by_id);
	for (size_t i = 0, j; i < n && !err; i = j) {
		size_t nkeys = 0, ntabs = 0;

		for (j = i; j < n && all[j].ruleset_id == all[i].ruleset_id; j++)
			;
		free(rs.entries);
		free(keys);
		free(tabs);
		rs.nentries = j - i;
		rs.entries = calloc(rs.nentries, sizeof(*rs.entries));
		keys = calloc(rs.nentries, sizeof(*keys));
		tabs = calloc(rs.nentries, sizeof(*tabs));
		if (!rs.entries || !keys || !tabs) {
			err = -ENOMEM;
			break;
		}
		for (size_t e = 0; e < rs.nentries && !err; e++) {
			struct mf_flat_entry *fe = &rs.entries[e];
			const struct mf_rule_key *key = &all[i + e];

			fe->family = key->family;
			fe->plen = key->prefixlen - MF_RULE_KEY_FIXED_BITS;
			memcpy(fe->addr, key->addr, sizeof(fe->addr));
			if (bpf_map_lookup_elem(old_fd, key, &fe->val))
				err = -errno;
		}
		if (!err)
			err = mf_ruleset_share_tables(&rs);
		if (!err)
			err = write_entries(a, &rs, all[i].ruleset_id, keys, &nkeys, tabs, &ntabs);
	}
	free(rs.entries);
	free(rs.table_of);
	free(keys);
	free(tabs);
	free(all);
	return err;
}
