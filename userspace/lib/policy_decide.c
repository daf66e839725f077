// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reference decision, straight from a parsed policy: for addresses
 * (mf_policy_decide, what the compiled form must agree with) and for names
 * (mf_policy_host_segs, the ports a name's answers get: for the DNS proxy
 * and `policy explain`).
 */
#include <stdbool.h>
#include <string.h>

#include "policy.h"

static bool group_has(const struct mf_policy *policy, const char *group, const char *identity)
{
	size_t g, m;

	for (g = 0; g < policy->ngroups; g++) {
		if (strcmp(policy->groups[g].name, group))
			continue;
		for (m = 0; m < policy->groups[g].nmembers; m++)
			if (!strcmp(policy->groups[g].members[m], identity))
				return true;
	}
	return false;
}

bool mf_rule_applies(const struct mf_policy *policy, const struct mf_rule *rule,
		     const char *identity)
{
	size_t i;

	for (i = 0; i < rule->nwho; i++) {
		const char *who = rule->who[i];

		if (!strcmp(who, "*"))
			return true;
		if (!identity)
			continue;
		if (!strncmp(who, "group:", 6) ? group_has(policy, who + 6, identity) :
						 !strcmp(who, identity))
			return true;
	}
	return false;
}

static bool dest_holds(const struct mf_dest *dest, uint8_t family, const uint8_t *addr,
		       uint8_t proto_bit, uint16_t port)
{
	size_t i;

	if (dest->cidr.family != family || !(dest->protos & proto_bit) ||
	    !mf_cidr_contains(&dest->cidr, addr))
		return false;
	for (i = 0; i < dest->nports; i++)
		if (port >= dest->ports[i].lo && port <= dest->ports[i].hi)
			return true;
	return !dest->nports;
}

int mf_policy_decide(const struct mf_policy *policy, const char *identity, const char *server,
		     uint8_t family, const uint8_t *addr, uint8_t proto_bit, uint16_t port,
		     uint16_t *rule)
{
	int best_plen = -1, verdict = MF_DENY;
	uint16_t best_rule = MF_RULE_DEFAULT;
	uint8_t a[16];
	size_t r, i;

	family = mf_dest_normalize(family, addr, a);
	for (r = 0; family && r < policy->nrules; r++) {
		const struct mf_rule *ru = &policy->rules[r];

		if (strcmp(ru->server, server) || !mf_rule_applies(policy, ru, identity))
			continue;
		/* rules come in index order: a later rule wins only when strictly better */
		for (i = 0; i < ru->ndeny; i++) {
			const struct mf_dest *d = &ru->deny[i];

			if (dest_holds(d, family, a, proto_bit, port) &&
			    (d->cidr.plen > best_plen ||
			     (d->cidr.plen == best_plen && verdict == MF_ALLOW))) {
				best_plen = d->cidr.plen;
				best_rule = r;
				verdict = MF_DENY;
			}
		}
		for (i = 0; i < ru->nallow; i++) {
			const struct mf_dest *d = &ru->allow[i];

			if (dest_holds(d, family, a, proto_bit, port) && d->cidr.plen > best_plen) {
				best_plen = d->cidr.plen;
				best_rule = r;
				verdict = MF_ALLOW;
			}
		}
	}
	if (rule)
		*rule = best_rule;
	return verdict;
}

size_t mf_policy_host_segs(const struct mf_policy *policy, const char *identity, const char *server,
			   const char *qname, struct mf_seg *segs, bool *private_ok, size_t max)
{
	size_t n = 0;

	for (size_t r = 0; r < policy->nrules; r++) {
		const struct mf_rule *ru = &policy->rules[r];

		if (!ru->nhosts || strcmp(ru->server, server) ||
		    !mf_rule_applies(policy, ru, identity))
			continue;
		for (size_t i = 0; i < ru->nhosts; i++) {
			const struct mf_host *h = &ru->hosts[i];
			size_t k = 0;

			if (!mf_host_matches(h, qname))
				continue;
			do {
				if (n == max)
					return n; /* the rest is left out: less is allowed */
				segs[n] = (struct mf_seg){
					.lo = h->nports ? h->ports[k].lo : 1,
					.hi = h->nports ? h->ports[k].hi : 65535,
					.protos = h->protos,
					.verdict = MF_ALLOW,
					.rule = (uint16_t)r,
				};
				private_ok[n++] = h->private_ok;
			} while (++k < h->nports);
		}
	}
	return n;
}
