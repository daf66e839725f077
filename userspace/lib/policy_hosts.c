// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Destinations by name: the "host" entries of allow lists and the top-level
 * "dns" key. The parser (policy.c, policy_rules.c) calls in here and turns
 * an error into its FILE:LINE:COL message; nothing here calls back into it.
 *
 * Names are compared as DNS does: case-insensitive, a trailing dot ignored.
 * Internationalized names are written in their ASCII (punycode, "xn--")
 * form: no IDNA mapping is done, so what is written is what is compared.
 * "*.example.com" matches one or more labels below example.com, never
 * example.com itself (list it too to grant it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define LABEL_MAX 63

static int fail(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Why name (lowercase, no trailing dot) is not a host name, or NULL. */
static const char *name_problem(const char *name)
{
	const char *label = name, *c;
	size_t n = strlen(name);

	if (n == 0)
		return "empty name";
	if (n > MF_HOST_MAX)
		return "longer than 253 characters";
	for (c = name;; c++) {
		if (*c && *c != '.') {
			if (!label_char(*c))
				return *c == '*' ? "'*' is allowed only as the whole first label" :
						   "a character other than a-z 0-9 - _ (write "
						   "internationalized names in punycode, xn--)";
			continue;
		}
		if (c == label)
			return "an empty label";
		if (c - label > LABEL_MAX)
			return "a label longer than 63 characters";
		if (*label == '-' || c[-1] == '-')
			return "a label that starts or ends with '-'";
		if (!*c)
			return NULL;
		label = c + 1;
	}
}

int mf_host_name_parse(const char *text, struct mf_host *h, char *msg, size_t len)
{
	char buf[MF_HOST_MAX + 4];
	const char *problem;
	size_t n = strlen(text), i;

	if (n >= sizeof(buf))
		return fail(msg, len, "invalid host name: longer than 253 characters");
	for (i = 0; i <= n; i++)
		buf[i] = text[i] >= 'A' && text[i] <= 'Z' ? text[i] - 'A' + 'a' : text[i];
	if (n > 1 && buf[n - 1] == '.')
		buf[--n] = '\0';
	h->wildcard = !strncmp(buf, "*.", 2);
	problem = name_problem(buf + (h->wildcard ? 2 : 0));
	if (problem)
		return fail(msg, len, "invalid host name '%.100s': %s", text, problem);
	h->name = strdup(buf + (h->wildcard ? 2 : 0));
	return h->name ? 0 : -ENOMEM;
}

bool mf_qname_normalize(char *name)
{
	size_t n = strlen(name);

	for (char *c = name; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 'a' - 'A';
	if (n > 1 && name[n - 1] == '.')
		name[n - 1] = '\0';
	return name_problem(name) == NULL;
}

bool mf_host_matches(const struct mf_host *h, const char *qname)
{
	size_t nq = strlen(qname), nh = strlen(h->name);

	if (!h->wildcard)
		return !strcmp(qname, h->name);
	return nq > nh + 1 && qname[nq - nh - 1] == '.' && !strcmp(qname + nq - nh, h->name);
}

/* "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53" */
static bool parse_upstream(const char *s, struct mf_dns_upstream *u)
{
	char buf[INET6_ADDRSTRLEN + 8], *port = NULL, *end, *host = buf;
	unsigned long p = 53;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	if (buf[0] == '[') {
		end = strchr(buf, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		*end = '\0';
		host = buf + 1;
		port = end[1] ? end + 2 : NULL;
	} else if (strchr(buf, ':') == strrchr(buf, ':') && strchr(buf, ':')) {
		port = strchr(buf, ':');
		*port++ = '\0';
	}
	if (port) {
		p = strtoul(port, &end, 10);
		if (!*port || *end || p < 1 || p > 65535 || port[0] == '0')
			return false;
	}
	u->port = p;
	if (inet_pton(AF_INET, host, u->addr) == 1) {
		u->family = MF_FAMILY_V4;
		return true;
	}
	u->family = MF_FAMILY_V6;
	return inet_pton(AF_INET6, host, u->addr) == 1;
}

/* At least a second: an address that expired when it was installed would
 * fail the connect that follows the lookup. */
static int parse_ttl(json_t *dns, const char *key, uint32_t *out, struct mf_local_error *e)
{
	json_t *v = json_object_get(dns, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > MF_DNS_TTL_LIMIT)
		return mf_local_fail(e, key, -1, "expected seconds, 1..%d", MF_DNS_TTL_LIMIT);
	*out = json_integer_value(v);
	return 0;
}

int mf_dns_parse(json_t *root, struct mf_dns *out, struct mf_local_error *e)
{
	static const char *const keys[] = { "upstream", "min_ttl", "max_ttl", "refuse", NULL };
	json_t *dns = json_object_get(root, "dns"), *v, *elem;
	const char *key, *refuse;
	size_t i, k;
	int err;

	memset(out, 0, sizeof(*out));
	out->min_ttl = MF_DNS_MIN_TTL;
	out->max_ttl = MF_DNS_MAX_TTL;
	if (!dns)
		return 0;
	if (!json_is_object(dns))
		return mf_local_fail(e, "dns", -1, "expected an object");
	json_object_foreach(dns, key, v) {
		for (k = 0; keys[k] && strcmp(keys[k], key); k++)
			;
		if (!keys[k])
			return mf_local_fail(e, "dns", -1, "unknown key '%.60s'", key);
	}
	v = json_object_get(dns, "upstream");
	if (v &&
	    (!json_is_array(v) || !json_array_size(v) || json_array_size(v) > MF_DNS_MAX_UPSTREAM))
		return mf_local_fail(e, "upstream", -1, "expected an array of 1..%d addresses",
				     MF_DNS_MAX_UPSTREAM);
	json_array_foreach(v, i, elem) {
		if (!json_is_string(elem) ||
		    !parse_upstream(json_string_value(elem), &out->upstream[i]))
			return mf_local_fail(e, "upstream", i,
					     "expected an address, \"ADDR\", \"ADDR:PORT\" or "
					     "\"[V6ADDR]:PORT\"");
		out->nupstream = i + 1;
	}
	err = parse_ttl(dns, "min_ttl", &out->min_ttl, e);
	if (!err)
		err = parse_ttl(dns, "max_ttl", &out->max_ttl, e);
	if (err)
		return err;
	if (out->min_ttl > out->max_ttl)
		return mf_local_fail(e, "max_ttl", -1, "max_ttl is below min_ttl (%u)",
				     out->min_ttl);
	v = json_object_get(dns, "refuse");
	refuse = json_string_value(v);
	if (v && (!refuse || (strcmp(refuse, "nxdomain") && strcmp(refuse, "refused"))))
		return mf_local_fail(e, "refuse", -1, "expected \"nxdomain\" or \"refused\"");
	out->refuse_refused = refuse && !strcmp(refuse, "refused");
	return 0;
}

static bool in_v4(const uint8_t *a, uint32_t net, unsigned int plen)
{
	uint32_t x = (uint32_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];

	return plen == 0 || (x >> (32 - plen)) == (net >> (32 - plen));
}

static bool in_v6(const uint8_t *a, const uint16_t *net, unsigned int plen)
{
	for (unsigned int bit = 0; bit < plen; bit += 16) {
		uint16_t x = (uint16_t)(a[bit / 8] << 8 | a[bit / 8 + 1]);
		unsigned int n = plen - bit < 16 ? plen - bit : 16;

		if ((x ^ net[bit / 16]) >> (16 - n))
			return false;
	}
	return true;
}

/*
 * The ranges of the IANA special-purpose registries that no public name
 * should answer with, and the IPv6 forms that embed an IPv4 address (judged
 * as that address: ::ffff:10.0.0.1 reaches 10.0.0.1). IPv4's documentation
 * ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are left public.
 */
bool mf_addr_private(uint8_t family, const uint8_t *a)
{
	static const struct {
		uint32_t net;
		unsigned int plen;
	} v4[] = {
		{ 0x00000000, 8 },  /* "this network" */
		{ 0x0a000000, 8 },  /* private */
		{ 0x64400000, 10 }, /* CGNAT */
		{ 0x7f000000, 8 },  /* loopback */
		{ 0xa9fe0000, 16 }, /* link-local, cloud metadata 169.254.169.254 */
		{ 0xac100000, 12 }, /* private */
		{ 0xc0000000, 24 }, /* IETF protocol assignments */
		{ 0xc0a80000, 16 }, /* private */
		{ 0xc6120000, 15 }, /* benchmarking */
		{ 0xe0000000, 3 },  /* multicast, reserved, broadcast */
	};
	static const struct {
		uint16_t net[8];
		unsigned int plen;
		unsigned int v4_at; /* 0: private; else the byte where its IPv4 address is */
	} v6[] = {
		{ { 0 }, 128, 0 },			/* :: unspecified */
		{ { 0, 0, 0, 0, 0, 0, 0, 1 }, 128, 0 }, /* ::1 loopback */
		{ { 0, 0, 0, 0, 0, 0xffff }, 96, 12 },	/* ::ffff:a.b.c.d IPv4-mapped */
		{ { 0, 0, 0, 0, 0xffff, 0 }, 96, 12 },	/* ::ffff:0:a.b.c.d IPv4-translated */
		{ { 0 }, 96, 12 },			/* ::a.b.c.d IPv4-compatible (deprecated) */
		{ { 0x64, 0xff9b }, 96, 12 },		/* NAT64 well-known prefix */
		{ { 0x64, 0xff9b, 1 }, 48, 0 },		/* NAT64 local-use */
		{ { 0x100 }, 64, 0 },			/* discard-only */
		{ { 0x100, 0, 0, 1 }, 64, 0 },		/* dummy prefix (RFC 9780) */
		{ { 0x2001 }, 32, 0 },			/* Teredo: tunnels to anything */
		{ { 0x2001, 0x2 }, 48, 0 },		/* benchmarking */
		{ { 0x2001, 0x10 }, 28, 0 },		/* ORCHID (deprecated) */
		{ { 0x2001, 0x20 }, 28, 0 },		/* ORCHIDv2 */
		{ { 0x2001, 0xdb8 }, 32, 0 },		/* documentation */
		{ { 0x2002 }, 16, 2 },			/* 6to4: 2002:AABB:CCDD:: */
		{ { 0x3fff }, 20, 0 },			/* documentation */
		{ { 0x5f00 }, 16, 0 },			/* SRv6 segment identifiers */
		{ { 0xfc00 }, 7, 0 },			/* unique local */
		{ { 0xfe80 }, 10, 0 },			/* link-local */
		{ { 0xfec0 }, 10, 0 },			/* site-local (deprecated) */
		{ { 0xff00 }, 8, 0 },			/* multicast */
	};

	if (family == MF_FAMILY_V4) {
		for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
			if (in_v4(a, v4[i].net, v4[i].plen))
				return true;
		return false;
	}
	/* The first range that holds it decides. */
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
		if (in_v6(a, v6[i].net, v6[i].plen))
			return !v6[i].v4_at || mf_addr_private(MF_FAMILY_V4, a + v6[i].v4_at);
	return false;
}

void mf_hosts_free(struct mf_host *hosts, size_t n)
{
	for (size_t i = 0; hosts && i < n; i++) {
		free(hosts[i].name);
		free(hosts[i].ports);
	}
	free(hosts);
}
