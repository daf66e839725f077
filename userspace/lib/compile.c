// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy compiler: from a parsed policy to bindings and flattened rulesets.
 *
 * A ruleset is the set of rules that apply to some (identity, server). The
 * kernel decides with ONE longest-prefix lookup in it, so each distinct prefix
 * of the ruleset's entries becomes one entry whose port segments already hold
 * the verdict of the reference semantics (mf_policy_decide) for addresses whose
 * longest stored prefix it is. Those addresses have exactly that prefix and its
 * ancestors as candidates, hence
 *
 *	flat(P) = P's own entries, overlaid on flat(parent of P)
 *
 * where P's own entries rank deny before allow, then by rule index. Entries
 * sorted by (family, address, length) list every prefix after its ancestors,
 * and a stack of the current chain of ancestors gives each one its parent.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "../../bpf/mcpfence_hash.h"

#define PROTOS (MF_PROTO_TCP | MF_PROTO_UDP)
#define STACK_DEPTH 130 /* nested prefixes of one family: lengths 0..128 */

/* One allow or deny entry of a ruleset, as sorted for flattening. */
struct item {
	const struct mf_dest *dest;
	uint16_t rule;
	uint8_t verdict;
};

/* A port range of one protocol and its verdict; hi inclusive. */
struct range {
	uint32_t lo, hi;
	uint16_t rule;
	uint8_t verdict;
};

/* Rules of one server that apply to an identity, in increasing order. */
struct rule_list {
	const char *identity;
	uint32_t *rules;
	size_t n, cap;
};

struct compiler {
	const struct mf_policy *policy;
	struct mf_compiled *out;
	char *err;
	size_t errlen;
	size_t work, nflat, ntables, rulesets_cap, bindings_cap;
	uint32_t rule;	    /* the rule being compiled, where a crossed limit is reported */
	json_t *identities; /* identities bound by name, all servers together */
	json_t *rulesets;   /* "rule,rule,..." -> ruleset index */
	json_t *groups;	    /* group name -> index */
	char *key;
	size_t key_cap;
	/* scratch space of flatten() */
	struct range *ranges, *pieces[2];
	struct mf_seg *segs;
	uint32_t *bounds, *next;
	int32_t *owner;
	size_t scratch_cap;
};

/*
 * An error at rule r, or at its entry dest (an allow or deny entry, as
 * verdict says) when given: "FILE:LINE:COL: PATH: cannot compile policy:
 * message", placed as the parser places its errors. Returns -EINVAL.
 */
__attribute__((format(printf, 5, 6))) static int fail_at(struct compiler *c, uint32_t r,
							 uint8_t verdict,
							 const struct mf_dest *dest,
							 const char *fmt, ...)
{
	const char *file = c->policy->file ? c->policy->file : "<policy>";
	char msg[MF_ERR_MAX], where[96] = "";
	struct mf_pos pos = { 0 };
	va_list ap;

	if (!c->err || !c->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r < c->policy->nrules) {
		const struct mf_rule *rule = &c->policy->rules[r];
		const struct mf_dest *first = verdict == MF_DENY ? rule->deny : rule->allow;

		pos = dest ? dest->pos : rule->pos;
		if (dest)
			snprintf(where, sizeof(where), "rules[%u].%s[%zu]", r,
				 verdict == MF_DENY ? "deny" : "allow", (size_t)(dest - first));
		else
			snprintf(where, sizeof(where), "rules[%u]", r);
	}
	if (pos.line)
		snprintf(c->err, c->errlen, "%s:%u:%u: %s: cannot compile policy: %s", file,
			 pos.line, pos.col, where, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s%scannot compile policy: %s", file, where,
			 where[0] ? ": " : "", msg);
	return -EINVAL;
}

/* An error at the rule the compiler is at (limits crossed on its way). */
#define fail_here(c, ...) fail_at(c, (c)->rule, 0, NULL, __VA_ARGS__)

static int fail_nomem(struct compiler *c)
{
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "cannot compile policy: out of memory");
	return -ENOMEM;
}

/* Makes room for want elements of size in *buf; *cap counts elements. */
static int grow(void *buf, size_t *cap, size_t want, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *p;

	if (want <= *cap)
		return 0;
	while (n < want)
		n *= 2;
	p = realloc(*(void **)buf, n * size);
	if (!p)
		return -ENOMEM;
	*(void **)buf = p;
	*cap = n;
	return 0;
}

static int add_work(struct compiler *c, size_t n)
{
	c->work += n;
	if (c->work > MF_MAX_COMPILE_WORK)
		return fail_here(c,
				 "more than %d (identity, rule) pairs and entries to flatten "
				 "(MF_MAX_COMPILE_WORK); use fewer groups or rules per server",
				 MF_MAX_COMPILE_WORK);
	return 0;
}

/* ---- flattening ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int d;

	if (x->dest->cidr.family != y->dest->cidr.family)
		return x->dest->cidr.family - y->dest->cidr.family;
	d = memcmp(x->dest->cidr.addr, y->dest->cidr.addr, 16);
	if (d)
		return d;
	if (x->dest->cidr.plen != y->dest->cidr.plen)
		return x->dest->cidr.plen - y->dest->cidr.plen;
	if (x->verdict != y->verdict)
		return x->verdict == MF_DENY ? -1 : 1;
	return x->rule - y->rule;
}

static bool same_prefix(const struct mf_cidr *a, const struct mf_cidr *b)
{
	return a->family == b->family && a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

static size_t lower_bound(const uint32_t *b, size_t n, uint32_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First piece at or after k that is not painted yet (union-find, path halving). */
static size_t unpainted(uint32_t *next, size_t k)
{
	while (next[k] != k) {
		next[k] = next[next[k]];
		k = next[k];
	}
	return k;
}

/*
 * Paint the ports of one protocol with ranges, earlier ranges first: a port
 * takes the verdict of the first range that holds it. Writes the painted
 * pieces, sorted and merged, to out (room for 2 * n) and returns their count.
 */
static size_t paint(struct compiler *c, const struct range *in, size_t n, struct range *out)
{
	uint32_t *b = c->bounds, *next = c->next;
	int32_t *owner = c->owner;
	size_t nb = 0, i, k, end, nout = 0;

	for (i = 0; i < n; i++) {
		b[nb++] = in[i].lo;
		b[nb++] = in[i].hi + 1;
	}
	qsort(b, nb, sizeof(*b), cmp_u32);
	for (i = 0, k = 0; i < nb; i++)
		if (!k || b[i] != b[k - 1])
			b[k++] = b[i];
	nb = k;
	/* piece k: ports b[k] .. b[k + 1] - 1; the last bound is a sentinel */
	for (k = 0; k < nb; k++) {
		owner[k] = -1;
		next[k] = k;
	}
	for (i = 0; i < n; i++) {
		end = lower_bound(b, nb, in[i].hi + 1);
		for (k = unpainted(next, lower_bound(b, nb, in[i].lo)); k < end;
		     k = unpainted(next, k + 1)) {
			owner[k] = i;
			next[k] = k + 1;
		}
	}
	for (k = 0; k + 1 < nb; k++) {
		struct range *last = nout ? &out[nout - 1] : NULL;
		const struct range *r;

		if (owner[k] < 0)
			continue;
		r = &in[owner[k]];
		if (last && last->hi + 1 == b[k] && last->verdict == r->verdict &&
		    last->rule == r->rule)
			last->hi = b[k + 1] - 1;
		else
			out[nout++] = (struct range){ b[k], b[k + 1] - 1, r->rule, r->verdict };
	}
	return nout;
}

static struct mf_seg seg_of(const struct range *r, uint8_t protos)
{
	return (struct mf_seg){
		.lo = r->lo, .hi = r->hi, .protos = protos, .verdict = r->verdict, .rule = r->rule
	};
}

/* Merge the pieces of TCP (t) and UDP (u) into segments sorted by lo; a
 * piece that both have alike becomes one segment of both protocols. */
static size_t pair(const struct range *t, size_t nt, const struct range *u, size_t nu,
		   struct mf_seg *out)
{
	size_t i = 0, j = 0, n = 0;

	while (i < nt || j < nu) {
		if (j == nu || (i < nt && t[i].lo < u[j].lo)) {
			out[n++] = seg_of(&t[i++], MF_PROTO_TCP);
		} else if (i == nt || u[j].lo < t[i].lo) {
			out[n++] = seg_of(&u[j++], MF_PROTO_UDP);
		} else if (t[i].hi == u[j].hi && t[i].verdict == u[j].verdict &&
			   t[i].rule == u[j].rule) {
			out[n++] = seg_of(&t[i++], PROTOS);
			j++;
		} else {
			out[n++] = seg_of(&t[i++], MF_PROTO_TCP);
		}
	}
	return n;
}

static int too_many_segs(struct compiler *c, const char *server, const struct item *first,
			 size_t nsegs)
{
	char cidr[MF_CIDR_STRLEN], rules[256] = "";
	uint32_t *ids = c->bounds;
	size_t i, n = 0, len = 0;

	/* the rules whose verdicts the segments carry, each once */
	for (i = 0; i < nsegs; i++)
		if (c->segs[i].rule != MF_RULE_DEFAULT)
			ids[n++] = c->segs[i].rule;
	qsort(ids, n, sizeof(*ids), cmp_u32);
	for (i = 0; i < n && len < sizeof(rules); i++) {
		if (i && ids[i] == ids[i - 1])
			continue;
		len += snprintf(rules + len, sizeof(rules) - len, "%s'%s'", len ? ", " : "",
				c->policy->rules[ids[i]].name);
	}
	return fail_at(c, first->rule, first->verdict, first->dest,
		       "server '%s': prefix %s needs %zu port segments, more than %d; rules "
		       "involved: %s",
		       server, mf_cidr_format(&first->dest->cidr, cidr, sizeof(cidr)), nsegs,
		       MF_MAX_SEGS, rules);
}

static int resize(void *buf, size_t n, size_t size)
{
	void *p = realloc(*(void **)buf, n * size);

	if (!p)
		return -ENOMEM;
	*(void **)buf = p;
	return 0;
}

/* Scratch space for n ranges of one protocol: pieces and bounds take up to
 * 2 per range, segments 4 (bounds also hold the rule list of too_many_segs). */
static int reserve_scratch(struct compiler *c, size_t n)
{
	size_t cap = c->scratch_cap ? c->scratch_cap : 64;

	if (n <= c->scratch_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if (resize(&c->ranges, cap, sizeof(*c->ranges)) ||
	    resize(&c->pieces[0], 2 * cap, sizeof(*c->pieces[0])) ||
	    resize(&c->pieces[1], 2 * cap, sizeof(*c->pieces[1])) ||
	    resize(&c->bounds, 4 * cap, sizeof(*c->bounds)) ||
	    resize(&c->next, 2 * cap, sizeof(*c->next)) ||
	    resize(&c->owner, 2 * cap, sizeof(*c->owner)) ||
	    resize(&c->segs, 4 * cap, sizeof(*c->segs)))
		return -ENOMEM;
	c->scratch_cap = cap;
	return 0;
}

/*
 * Flatten prefix P: own holds its entries (deny first, then by rule), parent is
 * the flattened nearest ancestor or NULL. Writes the segments into val.
 */
static int flatten(struct compiler *c, const char *server, const struct item *own, size_t nown,
		   const struct mf_rule_val *parent, struct mf_rule_val *val)
{
	size_t nranges = parent ? parent->nsegs : 0, npieces[2], nsegs, i, k, p;

	for (i = 0; i < nown; i++)
		nranges += own[i].dest->nports ? own[i].dest->nports : 1;
	if (reserve_scratch(c, nranges) < 0)
		return fail_nomem(c);

	for (p = 0; p < 2; p++) {
		uint8_t bit = p ? MF_PROTO_UDP : MF_PROTO_TCP;
		size_t n = 0;

		for (i = 0; i < nown; i++) {
			const struct mf_dest *d = own[i].dest;
			struct range all = { 0, 65535, own[i].rule, own[i].verdict };

			if (!(d->protos & bit))
				continue;
			if (!d->nports)
				c->ranges[n++] = all;
			for (k = 0; k < d->nports; k++)
				c->ranges[n++] = (struct range){ d->ports[k].lo, d->ports[k].hi,
								 own[i].rule, own[i].verdict };
		}
		for (k = 0; parent && k < parent->nsegs; k++) {
			const struct mf_seg *s = &parent->segs[k];

			if (s->protos & bit)
				c->ranges[n++] =
					(struct range){ s->lo, s->hi, s->rule, s->verdict };
		}
		npieces[p] = paint(c, c->ranges, n, c->pieces[p]);
	}
	nsegs = pair(c->pieces[0], npieces[0], c->pieces[1], npieces[1], c->segs);
	if (nsegs > MF_MAX_SEGS)
		return too_many_segs(c, server, &own[0], nsegs);
	memset(val, 0, sizeof(*val));
	val->nsegs = nsegs;
	memcpy(val->segs, c->segs, nsegs * sizeof(*c->segs));
	return 0;
}

static uint64_t segs_digest(const struct mf_rule_val *val)
{
	uint32_t n = val->nsegs < MF_MAX_SEGS ? val->nsegs : MF_MAX_SEGS;

	return mf_fnv1a(mf_fnv1a(MF_FNV1A_INIT, &val->nsegs, sizeof(val->nsegs)), val->segs,
			n * sizeof(val->segs[0]));
}

int mf_ruleset_share_tables(struct mf_ruleset *rs)
{
	size_t cap = 16, mask, i;
	uint32_t *slots; /* entry index + 1 of each table, 0: free */

	while (cap < 2 * rs->nentries)
		cap *= 2;
	mask = cap - 1;
	free(rs->table_of);
	rs->ntables = 0;
	slots = calloc(cap, sizeof(*slots));
	rs->table_of = calloc(rs->nentries ? rs->nentries : 1, sizeof(*rs->table_of));
	if (!slots || !rs->table_of) {
		free(slots);
		return -ENOMEM;
	}
	/* flatten() zeroes what follows the segments: whole values compare */
	for (i = 0; i < rs->nentries; i++) {
		const struct mf_rule_val *val = &rs->entries[i].val;
		size_t h = segs_digest(val) & mask;

		while (slots[h] && memcmp(&rs->entries[slots[h] - 1].val, val, sizeof(*val)))
			h = (h + 1) & mask;
		if (!slots[h]) {
			slots[h] = i + 1;
			rs->ntables++;
		}
		rs->table_of[i] = slots[h] - 1;
	}
	free(slots);
	return 0;
}

static int share_tables(struct compiler *c, struct mf_ruleset *rs)
{
	if (mf_ruleset_share_tables(rs))
		return fail_nomem(c);
	c->ntables += rs->ntables;
	if (c->ntables > MF_MAX_SEGTABS)
		return fail_here(
			c,
			"more than %d distinct port segment tables in all (MF_MAX_SEGTABS: "
			"the kernel's segtabs map holds two policies of that many)",
			MF_MAX_SEGTABS);
	return 0;
}

/* Build the flattened entries of the ruleset made of rules (increasing). */
static int compile_ruleset(struct compiler *c, const char *server, const uint32_t *rules,
			   size_t nrules, struct mf_ruleset *rs)
{
	struct {
		const struct mf_cidr *cidr;
		size_t entry;
	} stack[STACK_DEPTH];
	size_t nitems = 0, nentries = 0, sp = 0, i, j, k;
	struct item *items;
	int err = 0;

	for (i = 0; i < nrules; i++)
		nitems += c->policy->rules[rules[i]].nallow + c->policy->rules[rules[i]].ndeny;
	if (nrules)
		c->rule = rules[nrules - 1];
	err = add_work(c, nitems);
	if (err)
		return err;
	items = calloc(nitems ? nitems : 1, sizeof(*items));
	if (!items)
		return fail_nomem(c);
	for (i = 0, k = 0; i < nrules; i++) {
		const struct mf_rule *r = &c->policy->rules[rules[i]];

		for (j = 0; j < r->ndeny; j++)
			items[k++] = (struct item){ &r->deny[j], rules[i], MF_DENY };
		for (j = 0; j < r->nallow; j++)
			items[k++] = (struct item){ &r->allow[j], rules[i], MF_ALLOW };
	}
	qsort(items, nitems, sizeof(*items), cmp_item);

	for (i = 0; i < nitems; i++)
		if (!i || !same_prefix(&items[i].dest->cidr, &items[i - 1].dest->cidr))
			nentries++;
	c->nflat += nentries;
	if (c->nflat > MF_MAX_FLAT_ENTRIES) {
		err = fail_here(c,
				"more than %d prefix entries in all (MF_MAX_FLAT_ENTRIES: the "
				"kernel's rules map holds two policies of that many)",
				MF_MAX_FLAT_ENTRIES);
		goto free_items;
	}
	rs->entries = calloc(nentries ? nentries : 1, sizeof(*rs->entries));
	if (!rs->entries) {
		err = fail_nomem(c);
		goto free_items;
	}
	rs->nentries = nentries;

	for (i = 0, k = 0; i < nitems; i = j, k++) {
		const struct mf_cidr *cidr = &items[i].dest->cidr;
		struct mf_flat_entry *e = &rs->entries[k];

		for (j = i + 1; j < nitems && same_prefix(&items[j].dest->cidr, cidr); j++)
			;
		e->family = cidr->family;
		e->plen = cidr->plen;
		memcpy(e->addr, cidr->addr, sizeof(e->addr));
		/* pop what is not an ancestor: it is none of the prefixes to come */
		while (sp && (stack[sp - 1].cidr->family != cidr->family ||
			      !mf_cidr_contains(stack[sp - 1].cidr, cidr->addr)))
			sp--;
		err = flatten(c, server, items + i, j - i,
			      sp ? &rs->entries[stack[sp - 1].entry].val : NULL, &e->val);
		if (err)
			goto free_items;
		if (sp < STACK_DEPTH) {
			stack[sp].cidr = cidr;
			stack[sp++].entry = k;
		}
	}
	err = share_tables(c, rs);
free_items:
	free(items);
	return err;
}

/* ---- rulesets and bindings ---- */

static int push_rule(struct compiler *c, struct rule_list *l, uint32_t rule)
{
	if (l->n && l->rules[l->n - 1] == rule)
		return 0;
	c->rule = rule;
	if (grow(&l->rules, &l->cap, l->n + 1, sizeof(*l->rules)) < 0)
		return fail_nomem(c);
	l->rules[l->n++] = rule;
	return add_work(c, 1);
}

/* Index of the ruleset of rules (increasing), compiled on first use. */
static int ruleset_of(struct compiler *c, const char *server, const uint32_t *rules, size_t n,
		      uint32_t *index)
{
	struct mf_compiled *out = c->out;
	size_t i, len = 0;
	json_t *known;
	int err;

	if (grow(&c->key, &c->key_cap, n * 6 + 1, 1) < 0)
		return fail_nomem(c);
	c->key[0] = '\0';
	for (i = 0; i < n; i++)
		len += snprintf(c->key + len, c->key_cap - len, "%x,", rules[i]);
	known = json_object_get(c->rulesets, c->key);
	if (known) {
		*index = json_integer_value(known);
		return 0;
	}
	if (grow(&out->rulesets, &c->rulesets_cap, out->nrulesets + 1, sizeof(*out->rulesets)) < 0)
		return fail_nomem(c);
	memset(&out->rulesets[out->nrulesets], 0, sizeof(*out->rulesets));
	*index = out->nrulesets++;
	err = compile_ruleset(c, server, rules, n, &out->rulesets[*index]);
	if (err)
		return err;
	if (json_object_set_new(c->rulesets, c->key, json_integer(*index)))
		return fail_nomem(c);
	return 0;
}

static int add_binding(struct compiler *c, const char *identity, const char *server,
		       const uint32_t *rules, size_t n)
{
	struct mf_compiled *out = c->out;
	uint32_t ruleset;
	int err;

	if (n)
		c->rule = rules[n - 1];
	if (out->nbindings >= MF_MAX_BINDINGS)
		return fail_here(c,
				 "more than %d (identity, server) bindings (MF_MAX_BINDINGS: the "
				 "kernel's bindings map holds two policies of that many, with the "
				 "twins of Unix users)",
				 MF_MAX_BINDINGS);
	err = ruleset_of(c, server, rules, n, &ruleset);
	if (err)
		return err;
	if (grow(&out->bindings, &c->bindings_cap, out->nbindings + 1, sizeof(*out->bindings)) < 0)
		return fail_nomem(c);
	out->bindings[out->nbindings++] = (struct mf_compiled_binding){ .identity = identity,
									.server = server,
									.ruleset = ruleset };
	return 0;
}

/* The rule list of identity in lists (found through index), added if new. */
static struct rule_list *list_of(struct compiler *c, json_t *index, struct rule_list **lists,
				 size_t *n, size_t *cap, const char *identity)
{
	json_t *known = json_object_get(index, identity);

	if (known)
		return &(*lists)[json_integer_value(known)];
	if (grow(lists, cap, *n + 1, sizeof(**lists)) < 0 ||
	    json_object_set_new(index, identity, json_integer(*n)))
		return NULL;
	(*lists)[*n] = (struct rule_list){ .identity = identity };
	return &(*lists)[(*n)++];
}

/* Count an identity bound by name, all servers together, against its limit. */
static int count_identity(struct compiler *c, const struct rule_list *l)
{
	if (json_object_get(c->identities, l->identity))
		return 0;
	if (json_object_set_new(c->identities, l->identity, json_true()))
		return fail_nomem(c);
	c->rule = l->rules[l->n - 1];
	if (json_object_size(c->identities) > MF_MAX_IDENTITIES)
		return fail_here(c,
				 "more than %d identities bound by name (MF_MAX_IDENTITIES: the "
				 "kernel's identity_names map holds those of two policies)",
				 MF_MAX_IDENTITIES);
	return 0;
}

/* Union of two increasing lists into out (room for na + nb). */
static size_t merge(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *out)
{
	size_t i = 0, j = 0, n = 0;

	while (i < na || j < nb) {
		if (j == nb || (i < na && a[i] < b[j]))
			out[n++] = a[i++];
		else if (i == na || b[j] < a[i])
			out[n++] = b[j++];
		else
			out[n++] = b[j++], i++;
	}
	return n;
}

/* Bindings of one server, given its rules in increasing order. */
static int compile_server(struct compiler *c, const char *server, const uint32_t *rules,
			  size_t nrules)
{
	const struct mf_policy *pol = c->policy;
	struct rule_list any = { 0 }, *lists = NULL, *l;
	size_t nlists = 0, cap = 0, i, w, m;
	uint32_t *merged = NULL;
	size_t merged_cap = 0;
	json_t *index = json_object();
	int err = index ? 0 : fail_nomem(c);

	for (i = 0; !err && i < nrules; i++) {
		const struct mf_rule *r = &pol->rules[rules[i]];

		for (w = 0; !err && w < r->nwho; w++) {
			const char *who = r->who[w];
			const struct mf_group *g;
			json_t *gi;

			if (!strcmp(who, "*")) {
				err = push_rule(c, &any, rules[i]);
				continue;
			}
			if (strncmp(who, "group:", 6)) {
				l = list_of(c, index, &lists, &nlists, &cap, who);
				err = l ? push_rule(c, l, rules[i]) : fail_nomem(c);
				continue;
			}
			gi = json_object_get(c->groups, who + 6);
			if (!gi) {
				err = fail_at(c, rules[i], 0, NULL,
					      "rule '%s' names undeclared group '%s'", r->name,
					      who + 6);
				break;
			}
			g = &pol->groups[json_integer_value(gi)];
			for (m = 0; !err && m < g->nmembers; m++) {
				l = list_of(c, index, &lists, &nlists, &cap, g->members[m]);
				err = l ? push_rule(c, l, rules[i]) : fail_nomem(c);
			}
		}
	}
	for (i = 0; !err && i < nlists; i++)
		err = count_identity(c, &lists[i]);
	/* any identity: the "*" rules; none, no binding: the kernel denies all */
	if (!err && any.n)
		err = add_binding(c, NULL, server, any.rules, any.n);
	for (i = 0; !err && i < nlists; i++) {
		l = &lists[i];
		err = add_work(c, any.n);
		if (!err && grow(&merged, &merged_cap, l->n + any.n, sizeof(*merged)) < 0)
			err = fail_nomem(c);
		if (!err)
			err = add_binding(c, l->identity, server, merged,
					  merge(l->rules, l->n, any.rules, any.n, merged));
	}
	for (i = 0; i < nlists; i++)
		free(lists[i].rules);
	free(lists);
	free(any.rules);
	free(merged);
	json_decref(index);
	return err;
}

int mf_policy_compile(const struct mf_policy *policy, struct mf_compiled **out, char *err,
		      size_t errlen)
{
	struct compiler c = { .policy = policy, .err = err, .errlen = errlen };
	size_t *start, *fill, i;
	uint32_t *order;
	json_t *servers = json_object();
	int ret = 0;

	*out = NULL;
	c.out = calloc(1, sizeof(*c.out));
	c.rulesets = json_object();
	c.groups = json_object();
	c.identities = json_object();
	start = calloc(policy->nservers + 1, sizeof(*start));
	fill = calloc(policy->nservers + 1, sizeof(*fill));
	order = calloc(policy->nrules + 1, sizeof(*order));
	if (!c.out || !c.rulesets || !c.groups || !c.identities || !servers || !start || !fill ||
	    !order) {
		ret = fail_nomem(&c);
		goto out;
	}
	for (i = 0; !ret && i < policy->ngroups; i++)
		if (json_object_set_new(c.groups, policy->groups[i].name, json_integer(i)))
			ret = fail_nomem(&c);
	for (i = 0; !ret && i < policy->nservers; i++)
		if (json_object_set_new(servers, policy->servers[i].name, json_integer(i)))
			ret = fail_nomem(&c);

	/* rules grouped by server in order[], server s owning start[s]..start[s + 1] */
	for (i = 0; !ret && i < policy->nrules; i++) {
		json_t *s = json_object_get(servers, policy->rules[i].server);

		if (!s)
			ret = fail_at(&c, i, 0, NULL, "rule '%s' names undeclared server '%s'",
				      policy->rules[i].name, policy->rules[i].server);
		else
			start[json_integer_value(s) + 1]++;
	}
	for (i = 0; !ret && i < policy->nservers; i++)
		start[i + 1] += start[i];
	memcpy(fill, start, policy->nservers * sizeof(*fill));
	for (i = 0; !ret && i < policy->nrules; i++) {
		json_t *s = json_object_get(servers, policy->rules[i].server);

		order[fill[json_integer_value(s)]++] = i;
	}

	for (i = 0; !ret && i < policy->nservers; i++)
		ret = compile_server(&c, policy->servers[i].name, order + start[i],
				     start[i + 1] - start[i]);
out:
	if (ret)
		mf_compiled_free(c.out);
	else
		*out = c.out;
	free(c.ranges);
	free(c.pieces[0]);
	free(c.pieces[1]);
	free(c.segs);
	free(c.bounds);
	free(c.next);
	free(c.owner);
	free(c.key);
	free(order);
	free(fill);
	free(start);
	json_decref(servers);
	json_decref(c.groups);
	json_decref(c.identities);
	json_decref(c.rulesets);
	return ret;
}

void mf_compiled_free(struct mf_compiled *compiled)
{
	size_t i;

	if (!compiled)
		return;
	for (i = 0; i < compiled->nrulesets; i++) {
		free(compiled->rulesets[i].entries);
		free(compiled->rulesets[i].table_of);
	}
	free(compiled->rulesets);
	free(compiled->bindings);
	free(compiled);
}

int mf_compiled_decide(const struct mf_compiled *compiled, uint32_t ruleset, uint8_t family,
		       const uint8_t *addr, uint8_t proto_bit, uint16_t port, uint16_t *rule)
{
	const struct mf_flat_entry *best = NULL;
	const struct mf_ruleset *rs;
	uint8_t a[16];
	size_t i;

	if (rule)
		*rule = MF_RULE_DEFAULT;
	family = mf_dest_normalize(family, addr, a);
	if (!compiled || ruleset >= compiled->nrulesets || !family)
		return MF_DENY;
	rs = &compiled->rulesets[ruleset];
	for (i = 0; i < rs->nentries; i++) {
		const struct mf_flat_entry *e = &rs->entries[i];
		struct mf_cidr prefix = { .family = e->family, .plen = e->plen };

		if (e->family != family || (best && e->plen <= best->plen))
			continue;
		memcpy(prefix.addr, e->addr, sizeof(prefix.addr));
		if (mf_cidr_contains(&prefix, a))
			best = e;
	}
	for (i = 0; best && i < best->val.nsegs; i++) {
		const struct mf_seg *s = &best->val.segs[i];

		if ((s->protos & proto_bit) && port >= s->lo && port <= s->hi) {
			if (rule)
				*rule = s->rule;
			return s->verdict;
		}
	}
	return MF_DENY;
}
