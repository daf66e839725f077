// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The "rules" of a policy: who, to which server, allow and deny lists of
 * addresses (CIDRs with ports and protocols) and of names (policy_hosts.c).
 * And the addresses as the decisions compare them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_parser.h"

/* ---- rules ---- */

/* A decimal number of 1..6 digits without sign or leading zero at *s, or -1. */
static long parse_decimal(const char **s)
{
	const char *start = *s;
	long n = 0;

	if (**s < '1' || **s > '9')
		return -1;
	while (**s >= '0' && **s <= '9' && *s - start < 6)
		n = n * 10 + *(*s)++ - '0';
	return n;
}

static int parse_port(struct parser *p, json_t *v, void *out)
{
	struct mf_port_range *range = out;
	const char *s, *str;
	long lo, hi;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 1 || json_integer_value(v) > 65535)
			return pol_fail(p, NULL, "port %lld out of range 1..65535",
					(long long)json_integer_value(v));
		range->lo = range->hi = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return pol_fail(p, NULL, "expected a port number or a \"LOW-HIGH\" string, got %s",
				pol_type_name(v));
	s = str = json_string_value(v);
	lo = hi = parse_decimal(&s);
	if (lo > 0 && *s == '-') {
		s++;
		hi = parse_decimal(&s);
	}
	if (lo < 0 || hi < 0 || *s)
		return pol_fail(p, NULL, "invalid port range '%s' (expected \"N\" or \"LOW-HIGH\")",
				pol_quote(str).s);
	if (lo > 65535 || hi > 65535)
		return pol_fail(p, NULL, "port %ld out of range 1..65535", lo > 65535 ? lo : hi);
	if (lo > hi)
		return pol_fail(p, NULL, "invalid port range '%s': %ld is above %ld", str, lo, hi);
	range->lo = lo;
	range->hi = hi;
	return 0;
}

static int parse_ports(struct parser *p, json_t *v, void *out)
{
	struct mf_dest *dest = out;
	size_t n;
	int err;

	err = pol_want_array(p, v, MF_MAX_PORT_RANGES, "ports", &n);
	if (!err && !n)
		err = pol_fail(p, NULL, "empty port list (leave \"ports\" out for all ports)");
	if (!err)
		err = pol_count(p, &p->nports, n, MF_MAX_PORT_RANGES, "port ranges");
	if (err)
		return err;
	dest->nports = n;
	return pol_parse_elements(p, v, n, sizeof(*dest->ports), parse_port, (void **)&dest->ports);
}

static int parse_proto(struct parser *p, json_t *v, void *out)
{
	static const char *const protos[] = { "tcp", "udp", "any", NULL };
	static const uint8_t bits[] = { MF_PROTO_TCP, MF_PROTO_UDP, MF_PROTO_TCP | MF_PROTO_UDP };
	int proto, err;

	err = pol_parse_word(p, v, "protocol", protos, "tcp, udp or any", &proto);
	if (!err)
		((struct mf_dest *)out)->protos = bits[proto];
	return err;
}

static bool is_v4_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

static void prefix_mask(uint8_t *addr, unsigned int plen, unsigned int bytes)
{
	unsigned int i;

	for (i = 0; i < bytes; i++) {
		if (plen >= 8 * (i + 1))
			continue;
		addr[i] &= plen > 8 * i ? (uint8_t)(0xff00 >> (plen - 8 * i)) : 0;
	}
}

static int parse_cidr(struct parser *p, json_t *v, void *out)
{
	struct mf_cidr *cidr = out, net;
	char buf[INET6_ADDRSTRLEN + 8], host[INET6_ADDRSTRLEN], shown[MF_CIDR_STRLEN];
	const char *str, *len_str = NULL;
	unsigned int max, bytes, i, n;
	char *slash;
	long plen;
	int err;

	err = pol_want_type(p, v, JSON_STRING);
	if (err)
		return err;
	str = json_string_value(v);
	if (strlen(str) >= sizeof(buf))
		return pol_fail(p, NULL, "invalid CIDR '%s'", pol_quote(str).s);
	strcpy(buf, str);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		len_str = slash + 1;
	}
	memset(cidr, 0, sizeof(*cidr));
	cidr->family = strchr(buf, ':') ? MF_FAMILY_V6 : MF_FAMILY_V4;
	if (inet_pton(cidr->family == MF_FAMILY_V6 ? AF_INET6 : AF_INET, buf, cidr->addr) != 1)
		return pol_fail(p, NULL, "invalid CIDR '%s'", pol_quote(str).s);
	max = cidr->family == MF_FAMILY_V6 ? 128 : 32;
	plen = max;
	if (len_str) {
		const char *s = len_str;

		if (!strcmp(s, "0"))
			plen = *s++ - '0';
		else
			plen = parse_decimal(&s);
		if (plen < 0 || *s || plen > max)
			return pol_fail(p, NULL, "invalid CIDR '%s': prefix length is not 0..%u",
					pol_quote(str).s, max);
	}
	cidr->plen = plen;
	if (cidr->family == MF_FAMILY_V6 && cidr->plen >= 96 && is_v4_mapped(cidr->addr)) {
		memmove(cidr->addr, cidr->addr + 12, 4);
		memset(cidr->addr + 4, 0, 12);
		cidr->family = MF_FAMILY_V4;
		cidr->plen -= 96;
	}
	bytes = cidr->family == MF_FAMILY_V6 ? 16 : 4;
	net = *cidr;
	prefix_mask(net.addr, net.plen, bytes);
	if (!memcmp(net.addr, cidr->addr, bytes))
		return 0;
	/* the host part, spelled out (inet_ntop would write ::1:0 as ::0.1.0.0) */
	for (i = 0; i < bytes; i++)
		cidr->addr[i] ^= net.addr[i];
	if (bytes == 4)
		inet_ntop(AF_INET, cidr->addr, host, sizeof(host));
	for (i = 0, n = 0; bytes == 16 && i < 16; i += 2)
		n += snprintf(host + n, sizeof(host) - n, "%s%x", i ? ":" : "",
			      cidr->addr[i] << 8 | cidr->addr[i + 1]);
	return pol_fail(p, NULL,
			"host bits set in '%s': %s lies outside the /%u prefix (the network is %s)",
			pol_quote(str).s, host, net.plen,
			mf_cidr_format(&net, shown, sizeof(shown)));
}

/* A destination by name, { "host": ..., "ports", "proto", "private" }: the
 * name is checked in policy_hosts.c. Only allow lists take one (rule). */
static int parse_host_entry(struct parser *p, json_t *elem, struct mf_rule *rule)
{
	static const char *const keys[] = { "host", "ports", "proto", "private", NULL };
	struct mf_dest ports = { .protos = MF_PROTO_TCP | MF_PROTO_UDP };
	struct mf_host *h;
	char msg[256];
	int err;

	if (!rule)
		return pol_fail(p, "host", "a \"deny\" entry takes addresses (\"to\"), not names");
	h = &rule->hosts[rule->nhosts++];
	err = pol_check_keys(p, elem, keys);
	if (!err && !json_is_string(json_object_get(elem, "host")))
		err = pol_fail(p, "host", "expected a host name string");
	if (!err) {
		err = mf_host_name_parse(json_string_value(json_object_get(elem, "host")), h, msg,
					 sizeof(msg));
		if (err == -EINVAL) {
			pol_path_push_key(p, "host");
			err = pol_fail(p, NULL, "%s", msg);
			pol_path_pop(p);
		} else if (err) {
			err = pol_fail_nomem(p);
		}
	}
	if (!err)
		err = pol_field(p, elem, "ports", false, parse_ports, &ports);
	if (!err)
		err = pol_field(p, elem, "proto", false, parse_proto, &ports);
	if (!err)
		err = pol_field(p, elem, "private", false, pol_parse_bool, &h->private_ok);
	h->protos = ports.protos;
	h->nports = ports.nports;
	h->ports = ports.ports;
	return err;
}

/* Entries with "to" go to dests; with "host" (rule given: an allow list) to
 * rule->hosts. */
static int parse_dests(struct parser *p, json_t *v, struct mf_dest **dests, size_t *ndests,
		       struct mf_rule *rule)
{
	static const char *const keys[] = { "to", "ports", "proto", NULL };
	json_t *elem;
	size_t i, n;
	int err;

	err = pol_want_array(p, v, MF_MAX_DESTS, "destinations", &n);
	if (!err)
		err = pol_count(p, &p->ndests, n, MF_MAX_DESTS, "allow and deny entries");
	if (err)
		return err;
	*dests = calloc(n, sizeof(**dests));
	if (n && !*dests)
		return pol_fail_nomem(p);
	if (rule && !(rule->hosts = calloc(n ? n : 1, sizeof(*rule->hosts))))
		return pol_fail_nomem(p);
	*ndests = 0;
	json_array_foreach(v, i, elem) {
		struct mf_dest *dest = &(*dests)[*ndests];

		pol_path_push_index(p, i);
		err = pol_want_type(p, elem, JSON_OBJECT);
		if (!err && json_object_get(elem, "host")) {
			err = parse_host_entry(p, elem, rule);
			pol_path_pop(p);
			if (err)
				return err;
			continue;
		}
		(*ndests)++;
		dest->protos = MF_PROTO_TCP | MF_PROTO_UDP;
		if (!err)
			err = pol_check_keys(p, elem, keys);
		if (!err)
			err = pol_field(p, elem, "to", true, parse_cidr, &dest->cidr);
		if (!err)
			err = pol_field(p, elem, "ports", false, parse_ports, dest);
		if (!err)
			err = pol_field(p, elem, "proto", false, parse_proto, dest);
		pol_path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

static int parse_allow(struct parser *p, json_t *v, void *out)
{
	struct mf_rule *rule = out;

	return parse_dests(p, v, &rule->allow, &rule->nallow, rule);
}

static int parse_deny(struct parser *p, json_t *v, void *out)
{
	struct mf_rule *rule = out;

	return parse_dests(p, v, &rule->deny, &rule->ndeny, NULL);
}

static int parse_rule_name(struct parser *p, json_t *v, void *out)
{
	json_t *first;
	int err;

	err = pol_parse_name(p, v, "rule name", out);
	if (err)
		return err;
	first = json_object_get(p->rules, json_string_value(v));
	if (first)
		return pol_fail(p, NULL, "duplicate rule name '%s' (first used by rules[%lld])",
				json_string_value(v), (long long)json_integer_value(first));
	if (json_object_set_new(p->rules, json_string_value(v), json_integer(p->rule)))
		return pol_fail_nomem(p);
	return 0;
}

static int parse_rule_server(struct parser *p, json_t *v, void *out)
{
	int err = pol_want_type(p, v, JSON_STRING);

	if (err)
		return err;
	if (!json_object_get(p->servers, json_string_value(v)))
		return pol_fail(p, NULL, "undeclared server '%s'",
				pol_quote(json_string_value(v)).s);
	return pol_dup_string(p, json_string_value(v), out);
}

static int parse_who_entry(struct parser *p, json_t *v, void *out)
{
	const char *s;
	int err;

	err = pol_want_type(p, v, JSON_STRING);
	if (err)
		return err;
	s = json_string_value(v);
	if (!strncmp(s, "group:", 6) && !json_object_get(p->groups, s + 6))
		return pol_fail(p, NULL, "undeclared group '%s'", pol_quote(s + 6).s);
	if (strcmp(s, "*") && strncmp(s, "group:", 6) && !mf_name_valid(s))
		return pol_fail(p, NULL, "invalid identity '%s': " NAME_RULES, pol_quote(s).s);
	return pol_dup_string(p, s, out);
}

static int parse_who(struct parser *p, json_t *v, void *out)
{
	struct mf_rule *rule = out;
	size_t n;
	int err;

	err = pol_want_array(p, v, MF_MAX_WHO, "identities", &n);
	if (!err && !n)
		err = pol_fail(p, NULL, "empty \"who\" list (use [\"*\"] for everyone)");
	if (!err)
		err = pol_count(p, &p->nwho, n, MF_MAX_WHO, "\"who\" entries");
	if (err)
		return err;
	rule->nwho = n;
	return pol_parse_elements(p, v, n, sizeof(*rule->who), parse_who_entry,
				  (void **)&rule->who);
}

int pol_parse_rules(struct parser *p, json_t *v, void *out)
{
	static const char *const keys[] = { "name", "server", "who", "allow", "deny", NULL };
	struct mf_policy *pol = p->policy;
	json_t *elem;
	size_t i, n;
	int err;

	err = pol_want_array(p, v, MF_MAX_RULES, "rules", &n);
	if (err)
		return err;
	pol->rules = calloc(n, sizeof(*pol->rules));
	if (n && !pol->rules)
		return pol_fail_nomem(p);
	pol->nrules = n;
	json_array_foreach(v, i, elem) {
		struct mf_rule *rule = &pol->rules[i];

		p->rule = i;
		pol_path_push_index(p, i);
		err = pol_want_type(p, elem, JSON_OBJECT);
		if (!err)
			err = pol_check_keys(p, elem, keys);
		if (!err)
			err = pol_field(p, elem, "name", true, parse_rule_name, &rule->name);
		if (!err)
			err = pol_field(p, elem, "server", true, parse_rule_server, &rule->server);
		if (!err)
			err = pol_field(p, elem, "who", true, parse_who, rule);
		if (!err)
			err = pol_field(p, elem, "allow", false, parse_allow, rule);
		if (!err)
			err = pol_field(p, elem, "deny", false, parse_deny, rule);
		if (!err && !rule->nallow && !rule->ndeny && !rule->nhosts)
			err = pol_fail(p, NULL, "rule '%s' has no allow or deny entry", rule->name);
		pol_path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

/* ---- addresses ---- */

uint8_t mf_dest_normalize(uint8_t family, const uint8_t *addr, uint8_t out[16])
{
	static const uint8_t zero[16];

	memset(out, 0, 16);
	if (family == MF_FAMILY_V6 && is_v4_mapped(addr)) {
		family = MF_FAMILY_V4;
		addr += 12;
	}
	if (family == MF_FAMILY_V4) {
		memcpy(out, addr, 4);
		if (!memcmp(out, zero, 4)) {
			out[0] = 127;
			out[3] = 1;
		}
		return family;
	}
	if (family != MF_FAMILY_V6)
		return 0;
	memcpy(out, addr, 16);
	if (!memcmp(out, zero, 16))
		out[15] = 1;
	return family;
}

bool mf_cidr_contains(const struct mf_cidr *cidr, const uint8_t *addr)
{
	unsigned int full = cidr->plen / 8, rest = cidr->plen % 8;

	if (memcmp(cidr->addr, addr, full))
		return false;
	return !rest || !((cidr->addr[full] ^ addr[full]) & (uint8_t)(0xff00 >> rest));
}

const char *mf_cidr_format(const struct mf_cidr *cidr, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(cidr->family == MF_FAMILY_V6 ? AF_INET6 : AF_INET, cidr->addr, addr,
		  sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, cidr->plen);
	return buf;
}
