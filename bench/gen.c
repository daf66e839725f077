// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mfbench gen: one ruleset of N CIDR entries, written as an mcpfence policy
 * and as the nftables rules an administrator would write for the same
 * decision, so that both are measured on exactly the same prefixes.
 *
 * The decision, for identity "bench" on server "bench" (mcpfence) or for
 * sockets of one uid (nftables):
 *   - 127.0.0.1 port P (TCP and UDP) is allowed;
 *   - 127.0.0.0/8 and N-2 random non-overlapping prefixes (half IPv4 from
 *     1.0.0.0-223.255.255.255 less 127/8, half IPv6 from 2000::/3) are denied;
 *   - everything else is denied (mcpfence's default; nftables' last rule).
 *
 * mcpfence: rule "bench-allow" allows 127.0.0.1/32 port P; rule "bench-deny"
 * denies the prefixes; the longest prefix wins, so the /32 beats the /8.
 *
 * nftables (inet table, output hook, `meta skuid UID jump uid_*`): the
 * prefixes are checked first, so that allowed and denied packets both pay
 * for the lookup, as they do in mcpfence: 127.0.0.0/8 is written less
 * 127.0.0.1 (127.0.0.0 and 127.0.0.2-127.255.255.255), then the allow rules,
 * then a final reject. Denied packets jump to chain "blocked": TCP gets a
 * reset (a plain drop would leave connect() retrying its SYN for minutes;
 * with the reset it fails at once with ECONNREFUSED), UDP is dropped (sendto
 * fails with EPERM). Two forms: uid_set_TAG looks the prefixes up in two
 * interval sets; uid_chain_TAG has one rule per prefix, IPv4 rules first
 * (127/8 last of them, so a denied 127.0.0.2 walks every IPv4 rule), then the
 * IPv6 rules, then the allow rules: an allowed packet walks them all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint8_t addr[16]; /* network order */
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static void mask(struct prefix *p)
{
	int bytes = p->family == 4 ? 4 : 16;

	for (int i = 0; i < bytes; i++) {
		int keep = p->len - i * 8;

		if (keep >= 8)
			continue;
		p->addr[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
}

static void random_prefix(struct prefix *p, int family)
{
	uint64_t r = rnd(), r2 = rnd();

	memset(p, 0, sizeof(*p));
	p->family = family;
	if (family == 4) {
		uint8_t first;

		do {
			first = (uint8_t)(rnd() % 223) + 1; /* 1..223 */
		} while (first == 127);
		p->len = 16 + (uint8_t)(r % 17); /* 16..32 */
		p->addr[0] = first;
		p->addr[1] = r >> 8;
		p->addr[2] = r >> 16;
		p->addr[3] = r >> 24;
	} else {
		p->len = 32 + (uint8_t)(r % 33); /* 32..64 */
		for (int i = 0; i < 8; i++)
			p->addr[i] = r2 >> (8 * i);
		p->addr[0] = 0x20 | (p->addr[0] & 0x1f); /* 2000::/3 */
	}
	mask(p);
}

static int cmp_prefix(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	if (c)
		return c;
	return (int)x->len - (int)y->len; /* the wider first */
}

/* Is b inside a (same family, a sorted before b)? */
static bool contains(const struct prefix *a, const struct prefix *b)
{
	struct prefix t = *b;

	if (a->len > b->len)
		return false;
	t.len = a->len;
	mask(&t);
	return memcmp(t.addr, a->addr, 16) == 0;
}

/* n random prefixes of a family, none inside another. */
static struct prefix *random_set(int family, size_t n, size_t *out_n)
{
	struct prefix *v = NULL;
	size_t len = 0;

	while (len < n) {
		size_t want = (n - len) + (n - len) / 4 + 16, kept = 0;
		struct prefix *nv = realloc(v, (len + want) * sizeof(*v));

		if (!nv) {
			free(v);
			return NULL;
		}
		v = nv;
		for (size_t i = 0; i < want; i++)
			random_prefix(&v[len + i], family);
		len += want;
		qsort(v, len, sizeof(*v), cmp_prefix);
		for (size_t i = 0; i < len; i++) {
			if (kept && contains(&v[kept - 1], &v[i]))
				continue;
			v[kept++] = v[i];
		}
		len = kept;
	}
	/* Shuffle, then keep n: policy and chain order is random. */
	for (size_t i = len - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		struct prefix t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
	*out_n = n;
	return v;
}

static const char *prefix_str(const struct prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
	return buf;
}

static int write_policy(const char *path, const struct prefix *v4, size_t n4,
			const struct prefix *v6, size_t n6, unsigned port, bool audit_allowed)
{
	FILE *f = fopen(path, "w");
	char buf[64];

	if (!f) {
		fprintf(stderr, "mfbench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* "listen": a governed worker binds its own listeners and receivers
	 * (worker.c), which a server may only do on the ports it is granted. */
	fprintf(f,
		"{\n  \"version\": 1,\n  \"mode\": \"enforce\",\n"
		"  \"audit\": { \"allowed\": \"%s\" },\n"
		"  \"servers\": { \"bench\": { \"listen\": [%u] } },\n  \"rules\": [\n"
		"    { \"name\": \"bench-allow\", \"server\": \"bench\", \"who\": [\"bench\"],\n"
		"      \"allow\": [ { \"to\": \"127.0.0.1/32\", \"ports\": [%u] } ] },\n"
		"    { \"name\": \"bench-deny\", \"server\": \"bench\", \"who\": [\"bench\"],\n"
		"      \"deny\": [\n        { \"to\": \"127.0.0.0/8\" }",
		audit_allowed ? "flows" : "none", port, port);
	/* Interleave the families, as a hand-written list would mix them. */
	for (size_t i = 0; i < n4 || i < n6; i++) {
		if (i < n4)
			fprintf(f, ",\n        { \"to\": \"%s\" }", prefix_str(&v4[i], buf, sizeof(buf)));
		if (i < n6)
			fprintf(f, ",\n        { \"to\": \"%s\" }", prefix_str(&v6[i], buf, sizeof(buf)));
	}
	fprintf(f, "\n      ] }\n  ]\n}\n");
	if (fclose(f)) {
		fprintf(stderr, "mfbench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_nft(const char *path, const char *table, const char *tag,
		     const struct prefix *v4, size_t n4, const struct prefix *v6, size_t n6,
		     unsigned port, bool chain)
{
	static const char *const lo4[] = { "127.0.0.0", "127.0.0.2-127.255.255.255" };
	FILE *f = fopen(path, "w");
	char buf[64];

	if (!f) {
		fprintf(stderr, "mfbench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "table inet %s {\n", table);
	if (!chain) {
		fprintf(f, "  set deny4_%s {\n    type ipv4_addr; flags interval;\n"
			   "    elements = {\n      %s,\n      %s",
			tag, lo4[0], lo4[1]);
		for (size_t i = 0; i < n4; i++)
			fprintf(f, ",\n      %s", prefix_str(&v4[i], buf, sizeof(buf)));
		fprintf(f, "\n    }\n  }\n");
		fprintf(f, "  set deny6_%s {\n    type ipv6_addr; flags interval;\n    elements = {",
			tag);
		for (size_t i = 0; i < n6; i++)
			fprintf(f, "%s\n      %s", i ? "," : "", prefix_str(&v6[i], buf, sizeof(buf)));
		fprintf(f, "\n    }\n  }\n");
		fprintf(f,
			"  chain uid_set_%s {\n"
			"    ip daddr @deny4_%s jump blocked\n"
			"    ip6 daddr @deny6_%s jump blocked\n",
			tag, tag, tag);
	} else {
		fprintf(f, "  chain uid_chain_%s {\n", tag);
		for (size_t i = 0; i < n4; i++)
			fprintf(f, "    ip daddr %s jump blocked\n",
				prefix_str(&v4[i], buf, sizeof(buf)));
		fprintf(f, "    ip daddr %s jump blocked\n    ip daddr %s jump blocked\n", lo4[0],
			lo4[1]);
		for (size_t i = 0; i < n6; i++)
			fprintf(f, "    ip6 daddr %s jump blocked\n",
				prefix_str(&v6[i], buf, sizeof(buf)));
	}
	fprintf(f,
		"    ip daddr 127.0.0.1 tcp dport %u accept\n"
		"    ip daddr 127.0.0.1 udp dport %u accept\n"
		"    jump blocked\n  }\n}\n",
		port, port);
	if (fclose(f)) {
		fprintf(stderr, "mfbench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static const char gen_usage[] =
	"usage: mfbench gen --entries N --port P [--seed S] [--policy FILE]\n"
	"                   [--policy-no-audit FILE] [--nft-set FILE] [--nft-chain FILE]\n"
	"                   [--nft-table NAME] [--tag TAG]\n";

int gen_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "entries", required_argument, NULL, 'n' },
		{ "port", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "policy", required_argument, NULL, 'o' },
		{ "policy-no-audit", required_argument, NULL, 'O' },
		{ "nft-set", required_argument, NULL, 'S' },
		{ "nft-chain", required_argument, NULL, 'C' },
		{ "nft-table", required_argument, NULL, 'T' },
		{ "tag", required_argument, NULL, 't' },
		{},
	};
	const char *policy = NULL, *policy_na = NULL, *nft_set = NULL, *nft_chain = NULL;
	const char *table = "mcpfence_bench", *tag = "x";
	struct prefix *v4 = NULL, *v6 = NULL;
	size_t entries = 0, n4, n6, got4 = 0, got6 = 0;
	unsigned port = 0;
	int opt, ret = 1;

	rng_state = 0x6d63706665ULL;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			entries = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			port = strtoul(optarg, NULL, 10);
			break;
		case 's':
			rng_state ^= strtoull(optarg, NULL, 10) * 0x9E3779B97F4A7C15ULL;
			break;
		case 'o':
			policy = optarg;
			break;
		case 'O':
			policy_na = optarg;
			break;
		case 'S':
			nft_set = optarg;
			break;
		case 'C':
			nft_chain = optarg;
			break;
		case 'T':
			table = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		default:
			fputs(gen_usage, stderr);
			return 2;
		}
	}
	if (entries < 4 || entries > 1000000 || port == 0 || port > 65535) {
		fputs(gen_usage, stderr);
		return 2;
	}
	if (!rng_state)
		rng_state = 1;
	/* The allowed /32 and 127.0.0.0/8 are two of the entries. */
	n4 = (entries - 2) / 2;
	n6 = entries - 2 - n4;
	v4 = random_set(4, n4, &got4);
	v6 = random_set(6, n6, &got6);
	if (!v4 || !v6) {
		fprintf(stderr, "mfbench: out of memory\n");
		goto out;
	}
	if (policy && write_policy(policy, v4, got4, v6, got6, port, true))
		goto out;
	if (policy_na && write_policy(policy_na, v4, got4, v6, got6, port, false))
		goto out;
	if (nft_set && write_nft(nft_set, table, tag, v4, got4, v6, got6, port, false))
		goto out;
	if (nft_chain && write_nft(nft_chain, table, tag, v4, got4, v6, got6, port, true))
		goto out;
	ret = 0;
out:
	free(v4);
	free(v6);
	return ret;
}
