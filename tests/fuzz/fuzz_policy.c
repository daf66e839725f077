// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness: the policy parser (policy.c) and compiler (compile.c).
 *
 * The input is a policy text, or, when its first byte is 0xff, bytes that
 * make one (make_policy: rules over nested prefixes, ports, protocols,
 * identities and groups from small pools, so that entries meet and tie
 * often). Whatever the text:
 * - an error names its place, "p.json:LINE:COL: " (parse and compile alike);
 * - a policy that compiles has well-formed segments, and its compiled form,
 *   looked up as the kernel does (tests/unit/policy_ref.c), decides every
 *   probe as the reference semantics (mf_policy_decide) does, verdict and
 *   rule. Probes are the edges of every entry's prefix and port ranges, for
 *   each identity the policy names, "no identity", and each server.
 * A failed check aborts with what differed: libFuzzer keeps the input.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_ref.h"
#include "fuzz.h"

#define MAX_PROBES 256 /* decisions compared per input: keeps executions fast */

struct probe_ctx {
	const struct mf_policy *pol;
	const struct mf_compiled *comp;
	size_t done, limit; /* decisions compared, and how many may be */
};

/* "FILE:LINE:COL: " with LINE and COL from 1. */
static bool placed(const char *err)
{
	unsigned int line = 0, col = 0;
	int n = 0;

	return sscanf(err, "p.json:%u:%u: %n", &line, &col, &n) == 2 && n > 0 && line && col;
}

static void compare(struct probe_ctx *x, const char *identity, const char *server, uint8_t family,
		    const uint8_t *addr, uint8_t proto, uint16_t port)
{
	uint16_t want_rule, got_rule;
	char shown[INET6_ADDRSTRLEN], what[256];
	int want, got;

	if (x->done >= x->limit)
		return;
	x->done++;
	want = mf_policy_decide(x->pol, identity, server, family, addr, proto, port, &want_rule);
	got = compiled_decide(x->comp, identity, server, family, addr, proto, port, &got_rule);
	if (want == got && want_rule == got_rule)
		return;
	inet_ntop(family == MF_FAMILY_V4 ? AF_INET : AF_INET6, addr, shown, sizeof(shown));
	snprintf(what, sizeof(what), "%s %s/%u: compiled %d rule %u, reference %d rule %u", shown,
		 proto == MF_PROTO_TCP ? "tcp" : "udp", port, got, got_rule, want, want_rule);
	die("compiled form differs from the reference: %s on %s: %s", identity ? identity : "(any)",
	    server, what);
}

/* Ports at the edges of dest's ranges, and beyond them. */
static size_t edge_ports(const struct mf_dest *d, uint16_t *out, size_t max)
{
	size_t n = 0;

	out[n++] = 0;
	out[n++] = 65535;
	for (size_t i = 0; i < d->nports && n + 4 <= max; i++) {
		out[n++] = d->ports[i].lo;
		out[n++] = d->ports[i].hi;
		out[n++] = d->ports[i].lo - 1;
		out[n++] = d->ports[i].hi + 1;
	}
	return n;
}

/* The first and last address of the prefix, and the addresses just outside. */
static void probe_dest(struct probe_ctx *x, const char *identity, const char *server,
		       const struct mf_dest *d)
{
	unsigned int bytes = d->cidr.family == MF_FAMILY_V6 ? 16 : 4;
	uint8_t addrs[4][16];
	uint16_t ports[34];
	size_t nports = edge_ports(d, ports, sizeof(ports) / sizeof(ports[0]));

	for (int k = 0; k < 4; k++) {
		memcpy(addrs[k], d->cidr.addr, 16);
		for (unsigned int bit = d->cidr.plen; k % 2 && bit < 8 * bytes; bit++)
			addrs[k][bit / 8] |= 0x80 >> (bit % 8); /* last address */
	}
	/* just before the first, just after the last (with carry) */
	for (int i = bytes - 1; i >= 0 && addrs[2][i]-- == 0; i--)
		;
	for (int i = bytes - 1; i >= 0 && ++addrs[3][i] == 0; i--)
		;
	for (int k = 0; k < 4 && x->done < x->limit; k++)
		for (size_t p = 0; p < nports; p++)
			for (uint8_t proto = MF_PROTO_TCP; proto <= MF_PROTO_UDP; proto <<= 1)
				compare(x, identity, server, d->cidr.family, addrs[k], proto,
					ports[p]);
}

/* Every entry of every rule, as seen by identity on every server. */
static void probe_identity(struct probe_ctx *x, const char *identity)
{
	const struct mf_policy *pol = x->pol;

	for (size_t s = 0; s < pol->nservers; s++)
		for (size_t r = 0; r < pol->nrules && x->done < x->limit; r++) {
			const struct mf_rule *rule = &pol->rules[r];

			for (size_t i = 0; i < rule->nallow; i++)
				probe_dest(x, identity, pol->servers[s].name, &rule->allow[i]);
			for (size_t i = 0; i < rule->ndeny; i++)
				probe_dest(x, identity, pol->servers[s].name, &rule->deny[i]);
		}
}

static void check_decisions(const struct mf_policy *pol, const struct mf_compiled *comp)
{
	struct probe_ctx x = { .pol = pol, .comp = comp, .limit = MAX_PROBES * 3 / 4 };

	/* named identities first, they see the most rules; then "no identity" */
	for (size_t r = 0; r < pol->nrules && x.done < x.limit; r++)
		for (size_t w = 0; w < pol->rules[r].nwho; w++)
			if (strcmp(pol->rules[r].who[w], "*") &&
			    strncmp(pol->rules[r].who[w], "group:", 6))
				probe_identity(&x, pol->rules[r].who[w]);
	for (size_t g = 0; g < pol->ngroups && x.done < x.limit; g++)
		for (size_t m = 0; m < pol->groups[g].nmembers; m++)
			probe_identity(&x, pol->groups[g].members[m]);
	x.limit = x.done + MAX_PROBES / 4;
	probe_identity(&x, NULL);
}

/* ---- policies made from bytes ---- */

static const char *const prefixes[] = {
	"0.0.0.0/0",   "10.0.0.0/8",	"10.1.0.0/16",	"10.1.2.0/24",
	"10.1.2.3/32", "127.0.0.0/8",	"127.0.0.1/32", "::/0",
	"::1/128",     "2001:db8::/32", "0.0.0.0/32",	"2001:db8::/64",
	"10.1.2.2/31", "10.128.0.0/9",	"::/128",	"::ffff:10.0.0.0/104",
};
static const char *const ports[] = { "22",	    "53",	 "80",	       "443",
				     "1",	    "65535",	 "\"1-1023\"", "\"1000-2000\"",
				     "\"1-65535\"", "\"80-80\"", "\"79-81\"",  "\"443-8443\"" };
static const char *const protos[] = { "", ", \"proto\": \"tcp\"", ", \"proto\": \"udp\"",
				      ", \"proto\": \"any\"" };
static const char *const whos[] = { "\"*\"",  "\"u0\"",	      "\"u1\"",
				    "\"u2\"", "\"group:g0\"", "\"group:g1\"" };

struct bytes {
	const uint8_t *p;
	size_t n;
};

static unsigned int take(struct bytes *b, unsigned int range)
{
	if (!b->n)
		return 0;
	b->n--;
	return *b->p++ % range;
}

#define PICK(b, pool) (pool)[take(b, sizeof(pool) / sizeof((pool)[0]))]

static void make_dests(FILE *f, struct bytes *b, const char *key)
{
	unsigned int n = take(b, 4);

	fprintf(f, ", \"%s\": [", key);
	for (unsigned int i = 0; i < n + 1; i++) {
		unsigned int np = take(b, 4);

		fprintf(f, "%s{ \"to\": \"%s\"%s", i ? ", " : "", PICK(b, prefixes),
			PICK(b, protos));
		for (unsigned int k = 0; k < np; k++)
			fprintf(f, "%s%s", k ? ", " : ", \"ports\": [", PICK(b, ports));
		fprintf(f, "%s }", np ? "]" : "");
	}
	fprintf(f, "]");
}

/* A policy text from the bytes: up to 8 rules on two servers. */
static char *make_policy(const uint8_t *data, size_t size, size_t *len)
{
	struct bytes b = { data, size };
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	unsigned int nrules;

	if (!f)
		return NULL;
	fprintf(f, "{ \"version\": 1, \"groups\": { \"g0\": [\"u0\", \"u1\"], \"g1\": [\"u1\"] },\n"
		   "  \"servers\": { \"s0\": {}, \"s1\": {} },\n  \"rules\": [\n");
	nrules = 1 + take(&b, 8);
	for (unsigned int r = 0; r < nrules; r++) {
		unsigned int nwho = 1 + take(&b, 3), kind = take(&b, 3);

		fprintf(f, "%s    { \"name\": \"r%u\", \"server\": \"s%u\", \"who\": [",
			r ? ",\n" : "", r, take(&b, 2));
		for (unsigned int w = 0; w < nwho; w++)
			fprintf(f, "%s%s", w ? ", " : "", PICK(&b, whos));
		fprintf(f, "]");
		if (kind != 1)
			make_dests(f, &b, "allow");
		if (kind != 0)
			make_dests(f, &b, "deny");
		fprintf(f, " }");
	}
	fprintf(f, "\n  ]\n}\n");
	fclose(f);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mf_compiled *comp = NULL;
	struct mf_policy *pol = NULL;
	char err[MF_ERR_MAX] = "", *made = NULL;
	int ret;

	if (size && data[0] == 0xff) {
		made = make_policy(data + 1, size - 1, &size);
		if (!made)
			return 0;
		data = (const uint8_t *)made;
	}
	ret = mf_policy_parse((const char *)data, size, "p.json", &pol, err, sizeof(err));
	if (ret) {
		if (pol)
			die("a policy returned with a parse error");
		if (!placed(err))
			die("a parse error without its place: '%s'", err);
		if (made)
			die("a made policy does not parse: %s\n%s", err, made);
		return 0;
	}
	ret = mf_policy_compile(pol, &comp, err, sizeof(err));
	if (ret) {
		if (comp)
			die("a compiled form returned with an error");
		if (!placed(err))
			die("a compile error without its place: '%s'", err);
	} else {
		if (!segments_well_formed(comp))
			die("malformed segments");
		check_decisions(pol, comp);
	}
	mf_compiled_free(comp);
	mf_policy_free(pol);
	free(made);
	return 0;
}
