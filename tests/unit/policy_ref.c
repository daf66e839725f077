// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The compiled form as the kernel looks it up: see policy_ref.h. */
#include <string.h>

#include "policy_ref.h"

bool find_binding(const struct mf_compiled *c, const char *identity, const char *server,
		  uint32_t *ruleset)
{
	const struct mf_compiled_binding *any = NULL;
	size_t i;

	for (i = 0; i < c->nbindings; i++) {
		const struct mf_compiled_binding *b = &c->bindings[i];

		if (strcmp(b->server, server))
			continue;
		if (!b->identity)
			any = b;
		else if (identity && !strcmp(b->identity, identity))
			any = b, i = c->nbindings;
	}
	if (any)
		*ruleset = any->ruleset;
	return any;
}

int compiled_decide(const struct mf_compiled *c, const char *identity, const char *server,
		    uint8_t family, const uint8_t *addr, uint8_t proto, uint16_t port,
		    uint16_t *rule)
{
	uint32_t ruleset;

	if (!find_binding(c, identity, server, &ruleset)) {
		*rule = MF_RULE_DEFAULT;
		return MF_DENY;
	}
	return mf_compiled_decide(c, ruleset, family, addr, proto, port, rule);
}

/* Each entry's table holds its segments; the tables are distinct. */
static bool tables_well_formed(const struct mf_ruleset *rs)
{
	size_t e, f, n = 0;

	for (e = 0; e < rs->nentries; e++) {
		uint32_t t = rs->table_of[e];

		if (t > e || rs->table_of[t] != t ||
		    memcmp(&rs->entries[t].val, &rs->entries[e].val, sizeof(rs->entries[e].val)))
			return false;
		if (t != e)
			continue;
		n++;
		for (f = 0; f < e && rs->nentries <= 4096; f++) {
			if (rs->table_of[f] == f &&
			    !memcmp(&rs->entries[f].val, &rs->entries[e].val,
				    sizeof(rs->entries[e].val)))
				return false;
		}
	}
	return n == rs->ntables;
}

bool segments_well_formed(const struct mf_compiled *comp)
{
	size_t r, e, i, j;

	for (r = 0; r < comp->nrulesets; r++) {
		if (!tables_well_formed(&comp->rulesets[r]))
			return false;
		for (e = 0; e < comp->rulesets[r].nentries; e++) {
			const struct mf_rule_val *v = &comp->rulesets[r].entries[e].val;

			if (v->nsegs > MF_MAX_SEGS)
				return false;
			for (i = 0; i < v->nsegs; i++) {
				const struct mf_seg *a = &v->segs[i];

				if (a->lo > a->hi || !a->protos || (a->protos & ~3) ||
				    (i && a->lo < v->segs[i - 1].lo))
					return false;
				for (j = i + 1; j < v->nsegs; j++) {
					const struct mf_seg *b = &v->segs[j];

					if ((a->protos & b->protos) && a->hi >= b->lo &&
					    b->hi >= a->lo)
						return false;
					if (a->protos == b->protos && a->hi + 1 == b->lo &&
					    a->verdict == b->verdict && a->rule == b->rule)
						return false;
				}
			}
		}
	}
	return true;
}
