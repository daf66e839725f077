// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The agent's copy of dns_learned: what it installed, from which name, for
 * whom. Audit records name the host an address was learned from, `policy
 * explain` lists them, a policy load checks each against the new policy,
 * and each (identity, server) keeps at most MF_LEARNED_PER_ASKER: the next
 * evicts its own oldest, so that one flood of names fills only its share of
 * the map. The resolver (dns_proxy.c) and /etc/hosts fill it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mcpfence.skel.h"

#define LEARNED_BUCKETS 16384
#define ASKER_BUCKETS 1024 /* (identity, server) pairs, each with its quota */

/* What the agent installed into dns_learned, with the name it came from:
 * audit records show it, and a policy load checks it again. */
struct learned {
	struct learned *next;	       /* in its bucket */
	struct learned *older, *newer; /* of its (identity, server) */
	struct mf_learned_key key;
	uint64_t expires_ns;
	bool drop; /* not granted by the policy being loaded */
	char name[];
};

/* The entries of one (identity, server), oldest first: at most
 * MF_LEARNED_PER_ASKER; the next evicts the oldest. */
struct asker {
	struct asker *next; /* in its bucket */
	uint32_t identity_id, server_id;
	size_t n;
	struct learned *oldest, *newest;
};

struct learned_table {
	struct learned *buckets[LEARNED_BUCKETS];
	size_t n;
	struct asker *askers[ASKER_BUCKETS];
	uint64_t evicted; /* entries that made room for their pair's newer ones */
};

static struct learned **bucket(struct learned_table *t, const struct mf_learned_key *k)
{
	uint32_t h = 2166136261u;
	const uint8_t *b = (const uint8_t *)k;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 16777619u;
	return &t->buckets[h % LEARNED_BUCKETS];
}

static struct learned *learned_find(struct learned_table *t, const struct mf_learned_key *k)
{
	for (struct learned *l = *bucket(t, k); l; l = l->next)
		if (!memcmp(&l->key, k, sizeof(*k)))
			return l;
	return NULL;
}

static struct asker **asker_bucket(struct learned_table *t, uint32_t identity_id,
				   uint32_t server_id)
{
	return &t->askers[(identity_id * 2654435761u ^ server_id) % ASKER_BUCKETS];
}

static struct asker *asker_find(struct learned_table *t, uint32_t identity_id, uint32_t server_id)
{
	for (struct asker *s = *asker_bucket(t, identity_id, server_id); s; s = s->next)
		if (s->identity_id == identity_id && s->server_id == server_id)
			return s;
	return NULL;
}

static void chain_in(struct asker *s, struct learned *l)
{
	l->older = s->newest;
	l->newer = NULL;
	if (s->newest)
		s->newest->newer = l;
	else
		s->oldest = l;
	s->newest = l;
	s->n++;
}

static void chain_out(struct asker *s, struct learned *l)
{
	if (l->older)
		l->older->newer = l->newer;
	else
		s->oldest = l->newer;
	if (l->newer)
		l->newer->older = l->older;
	else
		s->newest = l->older;
	l->older = l->newer = NULL;
	s->n--;
}

/* Append l, the newest, to its (identity, server)'s list. */
static int asker_append(struct learned_table *t, struct learned *l)
{
	struct asker *s = asker_find(t, l->key.identity_id, l->key.server_id), **b;

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->identity_id = l->key.identity_id;
		s->server_id = l->key.server_id;
		b = asker_bucket(t, s->identity_id, s->server_id);
		s->next = *b;
		*b = s;
	}
	chain_in(s, l);
	return 0;
}

static void asker_unlink(struct learned_table *t, struct learned *l)
{
	struct asker *s = asker_find(t, l->key.identity_id, l->key.server_id);

	if (!s)
		return;
	chain_out(s, l);
	if (s->n)
		return;
	for (struct asker **ps = asker_bucket(t, s->identity_id, s->server_id); *ps;
	     ps = &(*ps)->next)
		if (*ps == s) {
			*ps = s->next;
			break;
		}
	free(s);
}

/* Forget l; from dns_learned too unless it is about to be written again. */
static void learned_remove(struct agent *a, struct learned *l, bool from_kernel)
{
	struct learned_table *t = a->learned;

	if (from_kernel)
		bpf_map_delete_elem(bpf_map__fd(a->skel->maps.dns_learned), &l->key);
	for (struct learned **pl = bucket(t, &l->key); *pl; pl = &(*pl)->next)
		if (*pl == l) {
			*pl = l->next;
			break;
		}
	asker_unlink(t, l);
	free(l);
	t->n--;
}

/* Forget what expired (the kernel ignores it already) and, with all, what
 * is marked drop: from the table and from dns_learned. */
void learned_prune(struct agent *a, bool drop_marked)
{
	struct learned_table *t = a->learned;
	uint64_t now = clock_ns(CLOCK_BOOTTIME);

	for (size_t i = 0; i < LEARNED_BUCKETS; i++)
		for (struct learned *l = t->buckets[i], *next; l; l = next) {
			next = l->next;
			if (l->expires_ns <= now || (drop_marked && l->drop))
				learned_remove(a, l, true);
		}
}

/*
 * Remember that k was installed from name until expires_ns. An (identity,
 * server) at its quota makes room by evicting its own oldest entry, from
 * the table and from dns_learned: a flood of names fills only its own share.
 */
int learned_note(struct agent *a, const struct mf_learned_key *k, const char *name,
		 uint64_t expires_ns)
{
	struct learned_table *t = a->learned;
	struct learned *l = learned_find(t, k), **b;
	struct asker *s = asker_find(t, k->identity_id, k->server_id);
	size_t n = strlen(name) + 1;

	if (l && !strcmp(l->name, name)) {
		/* Learned again: now its pair's newest. */
		if (expires_ns > l->expires_ns)
			l->expires_ns = expires_ns;
		chain_out(s, l);
		chain_in(s, l);
		return 0;
	}
	if (l) {
		/* Another name for the address: the last one names it. */
		learned_remove(a, l, false);
		s = asker_find(t, k->identity_id, k->server_id);
	}
	if (s && s->n >= MF_LEARNED_PER_ASKER) {
		learned_remove(a, s->oldest, true);
		t->evicted++;
	}
	if (t->n >= MF_LEARNED_MAX)
		learned_prune(a, false);
	if (t->n >= MF_LEARNED_MAX)
		return -ENOSPC;
	l = malloc(sizeof(*l) + n);
	if (!l)
		return -ENOMEM;
	l->key = *k;
	l->expires_ns = expires_ns;
	l->drop = false;
	memcpy(l->name, name, n);
	if (asker_append(t, l)) {
		free(l);
		return -ENOMEM;
	}
	b = bucket(t, k);
	l->next = *b;
	*b = l;
	t->n++;
	return 0;
}

const char *learned_name(struct agent *a, uint32_t identity_id, uint32_t server_id, uint8_t family,
			 const uint8_t *addr)
{
	struct mf_learned_key k = { .identity_id = identity_id,
				    .server_id = server_id,
				    .family = family };
	struct learned *l;

	if (!a->learned)
		return NULL;
	memcpy(k.addr, addr, sizeof(k.addr));
	l = learned_find(a->learned, &k);
	return l && l->name[0] ? l->name : NULL;
}

/*
 * dns_learned is pinned: what an agent before this one installed is still
 * there. What the kernel would still honour (the policy kept across the
 * restart, not yet expired) goes into the table, without its name (only that
 * agent knew it), so that it counts toward its pair's quota and goes when it
 * expires or at the next policy load; the rest is deleted now, or it would
 * take room in the map for good.
 */
static void learned_adopt(struct agent *a)
{
	int fd = bpf_map__fd(a->skel->maps.dns_learned);
	uint32_t gen = a->current.generation;
	struct mf_learned_key k, next;
	struct mf_learned_val v;
	uint64_t now = clock_ns(CLOCK_BOOTTIME);
	bool more = !bpf_map_get_next_key(fd, NULL, &k);

	while (more) {
		/* The next key first: k may be deleted. */
		more = !bpf_map_get_next_key(fd, &k, &next);
		if (bpf_map_lookup_elem(fd, &k, &v) || v.expires_ns <= now || !gen ||
		    (v.generation != gen && v.generation_next != gen) ||
		    learned_note(a, &k, "", v.expires_ns))
			bpf_map_delete_elem(fd, &k);
		k = next;
	}
}

/* An installed entry as `policy explain` shows it, or NULL when it is gone. */
static json_t *learned_json(struct agent *a, const struct learned *l, uint64_t now)
{
	char addr[INET6_ADDRSTRLEN];
	struct mf_learned_val v;
	json_t *ports;

	if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.dns_learned), &l->key, &v) ||
	    v.expires_ns <= now)
		return NULL;
	ports = json_array();
	for (uint32_t k = 0; k < v.nsegs && k < MF_LEARNED_SEGS; k++) {
		const struct mf_seg *g = &v.segs[k];
		const char *proto = g->protos == MF_PROTO_TCP ? "tcp" :
				    g->protos == MF_PROTO_UDP ? "udp" :
								"any";

		json_array_append_new(ports, json_pack("{s:i, s:i, s:s}", "lo", g->lo, "hi", g->hi,
						       "proto", proto));
	}
	inet_ntop(l->key.family == MF_FAMILY_V4 ? AF_INET : AF_INET6, l->key.addr, addr,
		  sizeof(addr));
	return json_pack("{s:s, s:I, s:o}", "addr", addr, "expires_in_s",
			 (json_int_t)((v.expires_ns - now) / 1000000000ull), "ports", ports);
}

json_t *learned_list(struct agent *a, const char *identity, const char *server, const char *name)
{
	json_t *list = json_array(), *e;
	uint64_t now = clock_ns(CLOCK_BOOTTIME);

	if (!a->learned || !list)
		return list;
	for (size_t i = 0; i < LEARNED_BUCKETS; i++) {
		for (struct learned *l = a->learned->buckets[i]; l; l = l->next) {
			char ibuf[MF_NAME_MAX];
			const char *who = identity_name(a, l->key.identity_id, ibuf, sizeof(ibuf));

			if (strcmp(l->name, name) || strcmp(who, identity) ||
			    strcmp(server_name(a, l->key.server_id), server))
				continue;
			e = learned_json(a, l, now);
			if (e)
				json_array_append_new(list, e);
		}
	}
	return list;
}

/* The segments of segs that apply to an address: all of them for a public
 * one, those of "private" destinations for the others. */
uint32_t learned_segs_for(const struct mf_learned_key *k, const struct mf_seg *segs,
			  const bool *priv, size_t n, struct mf_seg *out)
{
	bool is_private = mf_addr_private(k->family, k->addr);
	uint32_t m = 0;

	for (size_t i = 0; i < n && m < MF_LEARNED_SEGS; i++)
		if (!is_private || priv[i])
			out[m++] = segs[i];
	return m;
}

/*
 * A policy is about to replace the current one (generation next): what was
 * learned stays allowed across the flip where the new policy grants its
 * name too (with the new policy's ports), and is dropped after it where not.
 * Entries valid under both generations for that moment hold only what the
 * new policy allows.
 */
void learned_policy_loading(struct agent *a, const struct mf_policy *next, uint32_t next_gen)
{
	struct learned_table *t = a->learned;
	int fd;

	if (!t || !a->skel)
		return;
	fd = bpf_map__fd(a->skel->maps.dns_learned);
	for (size_t i = 0; i < LEARNED_BUCKETS; i++) {
		for (struct learned *l = t->buckets[i]; l; l = l->next) {
			struct mf_learned_val v;
			struct mf_seg segs[MF_LEARNED_SEGS];
			bool priv[MF_LEARNED_SEGS];
			char ibuf[MF_NAME_MAX];
			const char *who = identity_name(a, l->key.identity_id, ibuf, sizeof(ibuf));
			const char *srv = server_name(a, l->key.server_id);
			size_t n;

			n = mf_policy_host_segs(next, who, srv, l->name, segs, priv,
						MF_LEARNED_SEGS);
			if (bpf_map_lookup_elem(fd, &l->key, &v) ||
			    !(v.nsegs = learned_segs_for(&l->key, segs, priv, n, v.segs))) {
				l->drop = true;
				continue;
			}
			v.generation_next = next_gen;
			l->drop = bpf_map_update_elem(fd, &l->key, &v, BPF_EXIST) != 0;
		}
	}
}

int learned_setup(struct agent *a)
{
	a->learned = calloc(1, sizeof(*a->learned));
	if (!a->learned)
		return -ENOMEM;
	learned_adopt(a);
	return 0;
}

size_t learned_count(struct agent *a)
{
	return a->learned ? a->learned->n : 0;
}

uint64_t learned_evicted(struct agent *a)
{
	return a->learned ? a->learned->evicted : 0;
}

/* What is installed stays until it expires (pinned, checked by the kernel);
 * only the agent's copy goes. */
void learned_teardown(struct agent *a)
{
	struct learned_table *t = a->learned;

	if (!t)
		return;
	for (size_t i = 0; i < LEARNED_BUCKETS; i++)
		for (struct learned *l = t->buckets[i], *next; l; l = next) {
			next = l->next;
			free(l);
		}
	for (size_t i = 0; i < ASKER_BUCKETS; i++)
		for (struct asker *s = t->askers[i], *next; s; s = next) {
			next = s->next;
			free(s);
		}
	free(t);
	a->learned = NULL;
}
