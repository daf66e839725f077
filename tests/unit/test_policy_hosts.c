// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Destinations by name (policy_hosts.c): "host" entries, wildcards, case and
 * trailing dots, which rules grant a name to whom, the top-level "dns" key,
 * the ranges never installed from a name without "private", and every error
 * message. Printed as TAP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_errors.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define POLICY(rules, dns)                                                          \
	"{\n  \"version\": 1,\n  \"servers\": { \"gh\": {}, \"other\": {} },\n" dns \
	"  \"rules\": [\n" rules "\n  ]\n}"
#define RULE(who, allow) RULE_NAMED("r" who, who, allow)
#define RULE_NAMED(name, who, allow)                                                 \
	"    { \"name\": \"" name "\", \"server\": \"gh\", \"who\": [\"" who "\"], " \
	"\"allow\": [ " allow " ] }"

static struct mf_policy *parse(const char *text)
{
	struct mf_policy *pol = NULL;
	char err[MF_ERR_MAX] = "";

	if (mf_policy_parse(text, strlen(text), "p.json", &pol, err, sizeof(err)))
		fail_at(__FILE__, __LINE__, "parse: %s", err);
	return pol;
}

static void test_parse(void)
{
	static const char text[] = POLICY(
		RULE("alice", "{ \"host\": \"API.GitHub.com.\", \"ports\": [443], \"proto\": "
			      "\"tcp\" }, { \"host\": \"*.googleapis.com\" }, { \"to\": "
			      "\"10.0.0.0/8\" }, { \"host\": \"db.corp\", \"private\": true }"),
		"  \"dns\": { \"upstream\": [\"127.0.0.1:5353\", \"[::1]:53\", \"10.0.0.2\"], "
		"\"min_ttl\": 1, \"max_ttl\": 30, \"refuse\": \"refused\" },\n");
	struct mf_policy *pol;

	subtest_start("host entries beside CIDR entries, and the dns key");
	pol = parse(text);
	if (pol && ASSERT_EQ(pol->nrules, 1, "rules")) {
		const struct mf_rule *r = &pol->rules[0];

		ASSERT_EQ(r->nallow, 1, "CIDR entries");
		if (ASSERT_EQ(r->nhosts, 3, "host entries")) {
			ASSERT_STREQ(r->hosts[0].name, "api.github.com", "lowercase, no dot");
			ASSERT_EQ(r->hosts[0].protos, MF_PROTO_TCP, "proto");
			ASSERT_EQ(r->hosts[0].nports, 1, "ports");
			ASSERT_STREQ(r->hosts[1].name, "googleapis.com", "wildcard base");
			ASSERT_TRUE(r->hosts[1].wildcard, "wildcard");
			ASSERT_EQ(r->hosts[1].protos, MF_PROTO_TCP | MF_PROTO_UDP, "any proto");
			ASSERT_TRUE(r->hosts[2].private_ok && !r->hosts[0].private_ok, "private");
		}
		ASSERT_EQ(pol->dns.nupstream, 3, "upstreams");
		ASSERT_EQ(pol->dns.upstream[0].port, 5353, "port");
		ASSERT_EQ(pol->dns.upstream[1].family, MF_FAMILY_V6, "v6");
		ASSERT_EQ(pol->dns.upstream[2].port, 53, "default port");
		ASSERT_EQ(pol->dns.min_ttl, 1, "min_ttl");
		ASSERT_EQ(pol->dns.max_ttl, 30, "max_ttl");
		ASSERT_TRUE(pol->dns.refuse_refused, "refuse");
	}
	mf_policy_free(pol);
	pol = parse(POLICY(RULE("bob", "{ \"to\": \"10.0.0.0/8\" }"), ""));
	if (pol) {
		ASSERT_EQ(pol->dns.min_ttl, MF_DNS_MIN_TTL, "default min_ttl");
		ASSERT_EQ(pol->dns.max_ttl, MF_DNS_MAX_TTL, "default max_ttl");
		ASSERT_EQ(pol->dns.nupstream, 0, "resolv.conf");
		ASSERT_TRUE(!pol->dns.refuse_refused, "nxdomain");
	}
	mf_policy_free(pol);
	subtest_end();
}

static void test_grants(void)
{
	static const char text[] = POLICY(
		RULE("alice",
		     "{ \"host\": \"api.github.com\", \"ports\": [443, \"8000-8001\"] }, "
		     "{ \"host\": \"*.example.com\", \"private\": true }") ",\n" RULE_NAMED("any",
											    "*",
											    "{ \"host\": \"pypi.org\", \"proto\": \"udp\" }"),
		"");
	struct mf_policy *pol = parse(text);
	struct mf_seg segs[8];
	bool priv[8];

	subtest_start("which names a rule grants, to whom, on which server");
	if (!pol)
		goto out;
	ASSERT_EQ(mf_policy_host_segs(pol, "alice", "gh", "api.github.com", segs, priv, 8), 2,
		  "two port ranges");
	ASSERT_EQ(segs[1].lo, 8000, "range lo");
	ASSERT_EQ(segs[1].hi, 8001, "range hi");
	ASSERT_EQ(segs[0].rule, 0, "rule index");
	ASSERT_EQ(mf_policy_host_segs(pol, "alice", "gh", "api.github.com", segs, priv, 1), 1,
		  "capped");
	ASSERT_EQ(mf_policy_host_segs(pol, "bob", "gh", "api.github.com", segs, priv, 8), 0,
		  "not bob's");
	ASSERT_EQ(mf_policy_host_segs(pol, "alice", "other", "api.github.com", segs, priv, 8), 0,
		  "not on another server");
	ASSERT_EQ(mf_policy_host_segs(pol, "alice", "gh", "a.b.example.com", segs, priv, 8), 1,
		  "wildcard, two labels");
	ASSERT_TRUE(priv[0], "private from its destination");
	ASSERT_EQ(segs[0].lo, 1, "all ports");
	ASSERT_EQ(mf_policy_host_segs(pol, "alice", "gh", "example.com", segs, priv, 8), 0,
		  "wildcard: not the apex");
	ASSERT_EQ(mf_policy_host_segs(pol, "alice", "gh", "xexample.com", segs, priv, 8), 0,
		  "wildcard: a label boundary");
	ASSERT_EQ(mf_policy_host_segs(pol, NULL, "gh", "pypi.org", segs, priv, 8), 1,
		  "\"*\" rules for anyone");
	ASSERT_EQ(segs[0].protos, MF_PROTO_UDP, "proto");
	ASSERT_EQ(segs[0].rule, 1, "second rule");
out:
	mf_policy_free(pol);
	subtest_end();
}

static void test_names(void)
{
	char q1[] = "WWW.Example.COM.", q2[] = "a..b", q3[] = "-a.b", q4[] = "x_y.example";

	subtest_start("queried names are normalized and checked");
	ASSERT_TRUE(mf_qname_normalize(q1), "upper case and trailing dot");
	ASSERT_STREQ(q1, "www.example.com", "normalized");
	ASSERT_TRUE(!mf_qname_normalize(q2), "empty label");
	ASSERT_TRUE(!mf_qname_normalize(q3), "leading hyphen");
	ASSERT_TRUE(mf_qname_normalize(q4), "underscore");
	subtest_end();
}

static void test_private(void)
{
	static const struct {
		const char *addr;
		bool private_;
	} cases[] = {
		{ "127.0.0.1", true },
		{ "10.1.2.3", true },
		{ "100.64.0.1", true },
		{ "169.254.169.254", true },
		{ "172.16.0.1", true },
		{ "192.168.1.1", true },
		{ "0.0.0.0", true },
		{ "255.255.255.255", true },
		{ "8.8.8.8", false },
		{ "140.82.112.3", false },
		{ "172.32.0.1", false },
		{ "::1", true },
		{ "::", true },
		{ "fd00::1", true },
		{ "fe80::1", true },
		{ "::ffff:10.0.0.1", true },
		{ "::ffff:8.8.8.8", false },
		{ "64:ff9b::7f00:1", true },
		{ "2606:4700::1111", false },
		{ "ff02::1", true },
		/* IPv6 forms that embed an IPv4 address: judged by it */
		{ "::ffff:0:a00:1", true }, /* IPv4-translated 10.0.0.1 */
		{ "::ffff:0:808:808", false },
		{ "::10.0.0.1", true }, /* IPv4-compatible (deprecated) */
		{ "::127.0.0.1", true },
		{ "::8.8.8.8", false },
		{ "64:ff9b::a9fe:a9fe", true }, /* NAT64 169.254.169.254 */
		{ "64:ff9b::808:808", false },
		{ "2002:a00:1::1", true }, /* 6to4 10.0.0.1 */
		{ "2002:7f00:1::", true },
		{ "2002:c0a8:101:1::1", true },
		{ "2002:808:808::1", false },
		/* special-purpose IPv6 ranges */
		{ "64:ff9b:1::8.8.8.8", true }, /* NAT64 local-use */
		{ "64:ff9b:1:ffff::1", true },
		{ "64:ff9b:2::1", false },
		{ "2001::1", true }, /* Teredo */
		{ "2001:0:ffff:ffff::1", true },
		{ "2001:1::1", false }, /* PCP anycast: public */
		{ "100::1", true },	/* discard-only */
		{ "100::ffff:ffff:ffff:ffff", true },
		{ "100:0:0:1::1", true }, /* dummy prefix */
		{ "100:0:0:2::1", false },
		{ "2001:db8::1", true }, /* documentation */
		{ "2001:db8:ffff::1", true },
		{ "2001:db9::1", false },
		{ "3fff::1", true }, /* documentation */
		{ "3fff:fff::1", true },
		{ "3fff:1000::1", false },
		{ "2001:20::1", true }, /* ORCHIDv2 */
		{ "2001:2f:ffff::1", true },
		{ "2001:30::1", false }, /* drone remote ID: public */
		{ "2001:10::1", true },	 /* ORCHID (deprecated) */
		{ "2001:2::1", true },	 /* benchmarking */
		{ "2001:2:0:ffff::1", true },
		{ "2001:2:1::1", false },
		{ "5f00::1", true }, /* SRv6 segment identifiers */
		{ "fec0::1", true }, /* site-local (deprecated) */
		{ "fe7f::1", false },
		{ "fbff::1", false },
	};

	subtest_start("ranges never installed from a name without \"private\"");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t a[16] = {};
		bool v6 = strchr(cases[i].addr, ':');

		inet_pton(v6 ? AF_INET6 : AF_INET, cases[i].addr, a);
		if (mf_addr_private(v6 ? MF_FAMILY_V6 : MF_FAMILY_V4, a) != cases[i].private_)
			fail_at(__FILE__, __LINE__, "%s: expected %s", cases[i].addr,
				cases[i].private_ ? "private" : "public");
	}
	subtest_end();
}

static const struct policy_error_case error_cases[] = {
	{ "wildcard in the middle", POLICY(RULE("a", "{ \"host\": \"api.*.com\" }"), ""),
	  "p.json:5:72: rules[0].allow[0].host: invalid host name 'api.*.com': '*' is allowed "
	  "only as the whole first label" },
	{ "empty label", POLICY(RULE("a", "{ \"host\": \"a..com\" }"), ""),
	  "p.json:5:72: rules[0].allow[0].host: invalid host name 'a..com': an empty label" },
	{ "unicode", POLICY(RULE("a", "{ \"host\": \"b\\u00fccher.de\" }"), ""),
	  "p.json:5:72: rules[0].allow[0].host: invalid host name 'b\xc3\xbc"
	  "cher.de': a "
	  "character other than a-z 0-9 - _ (write internationalized names in punycode, xn--)" },
	{ "hyphen", POLICY(RULE("a", "{ \"host\": \"a-.com\" }"), ""),
	  "p.json:5:72: rules[0].allow[0].host: invalid host name 'a-.com': a label that starts "
	  "or ends with '-'" },
	{ "long label",
	  POLICY(RULE("a",
		      "{ \"host\": "
		      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\" }"),
		 ""),
	  "p.json:5:72: rules[0].allow[0].host: invalid host name "
	  "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com': a label longer "
	  "than 63 characters" },
	{ "only a star", POLICY(RULE("a", "{ \"host\": \"*\" }"), ""),
	  "p.json:5:72: rules[0].allow[0].host: invalid host name '*': '*' is allowed only as "
	  "the whole first label" },
	{ "host not a string", POLICY(RULE("a", "{ \"host\": 1 }"), ""),
	  "p.json:5:64: rules[0].allow[0]: expected a host name string" },
	{ "host and to", POLICY(RULE("a", "{ \"host\": \"a.com\", \"to\": \"1.2.3.4/32\" }"), ""),
	  "p.json:5:81: rules[0].allow[0]: unknown key 'to'" },
	{ "host in deny",
	  POLICY("    { \"name\": \"r\", \"server\": \"gh\", \"who\": [\"a\"], \"deny\": [ { "
		 "\"host\": \"a.com\" } ] }",
		 ""),
	  "p.json:5:62: rules[0].deny[0]: a \"deny\" entry takes addresses (\"to\"), not names" },
	{ "private not a boolean", POLICY(RULE("a", "{ \"host\": \"a.com\", \"private\": 1 }"), ""),
	  "p.json:5:92: rules[0].allow[0].private: expected true or false, got an integer" },
	{ "bad upstream",
	  POLICY(RULE("a", "{ \"host\": \"a.com\" }"),
		 "  \"dns\": { \"upstream\": [\"1.2.3.4:0\"] },\n"),
	  "p.json:4:25: dns.upstream[0]: expected an address, \"ADDR\", \"ADDR:PORT\" or "
	  "\"[V6ADDR]:PORT\"" },
	{ "ttl order",
	  POLICY(RULE("a", "{ \"host\": \"a.com\" }"),
		 "  \"dns\": { \"min_ttl\": 60, \"max_ttl\": 30 },\n"),
	  "p.json:4:38: dns.max_ttl: max_ttl is below min_ttl (60)" },
	{ "ttl zero",
	  POLICY(RULE("a", "{ \"host\": \"a.com\" }"), "  \"dns\": { \"min_ttl\": 0 },\n"),
	  "p.json:4:23: dns.min_ttl: expected seconds, 1..86400" },
	{ "refuse word",
	  POLICY(RULE("a", "{ \"host\": \"a.com\" }"), "  \"dns\": { \"refuse\": \"drop\" },\n"),
	  "p.json:4:22: dns.refuse: expected \"nxdomain\" or \"refused\"" },
	{ "dns unknown key",
	  POLICY(RULE("a", "{ \"host\": \"a.com\" }"), "  \"dns\": { \"upstreams\": [] },\n"),
	  "p.json:4:10: dns: unknown key 'upstreams'" },
};

static void test_errors(void)
{
	check_policy_errors(error_cases, ARRAY_SIZE(error_cases));
}

int main(void)
{
	test_parse();
	test_grants();
	test_names();
	test_private();
	test_errors();
	return tap_done();
}
