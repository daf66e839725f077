// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy parser (policy.c) and compiler (compile.c) tests, printed as TAP.
 *
 * Every subtest is one TAP test point; assertions log actual and expected as
 * "# " lines and fail the subtest they run in. The randomized test compares
 * the compiled form (what the kernel looks up) with the reference semantics;
 * its seed is printed and MF_SEED repeats a run. MF_SRCDIR locates policy/.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "policy_ref.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Parse text as "p.json"; a failure is logged with the parser's message. */
#define ASSERT_PARSE(text, policy)                                                        \
	({                                                                                \
		char err__[MF_ERR_MAX] = "";                                              \
		int ret__ = mf_policy_parse(text, strlen(text), "p.json", policy, err__,  \
					    sizeof(err__));                               \
		if (ret__)                                                                \
			fail_at(__FILE__, __LINE__, "parse: error %d: %s", ret__, err__); \
		!ret__;                                                                   \
	})

#define ASSERT_COMPILE(policy, compiled)                                                    \
	({                                                                                  \
		char err__[MF_ERR_MAX] = "";                                                \
		int ret__ = mf_policy_compile(policy, compiled, err__, sizeof(err__));      \
		if (ret__)                                                                  \
			fail_at(__FILE__, __LINE__, "compile: error %d: %s", ret__, err__); \
		!ret__;                                                                     \
	})

/* ---- isolated servers ---- */

static void test_isolation(void)
{
	static const char text[] =
		"{ \"version\": 1, \"servers\": { \"gdrive\": { \"isolate\": true,\n"
		"  \"filesystem\": { \"read\": [\"/opt/gdrive\"] },\n"
		"  \"credentials\": [ { \"env\": \"GDRIVE_TOKEN\", \"file\": "
		"\"/etc/c/gdrive/{identity}\" },\n"
		"    { \"as_file\": \"key.json\", \"file\": \"/etc/c/{identity}/key\" } ] },\n"
		"  \"plain\": {} } }";
	struct mf_policy *pol = NULL;
	char path[64];

	subtest_start("isolated servers: filesystem and credentials");
	if (ASSERT_PARSE(text, &pol)) {
		const struct mf_isolation *iso = &pol->servers[0].iso;

		ASSERT_TRUE(iso->isolate, "isolate: true");
		ASSERT_TRUE(!pol->servers[1].iso.isolate, "isolate: false when absent");
		if (ASSERT_EQ(iso->nfs_read, 1, "filesystem.read"))
			ASSERT_STREQ(iso->fs_read[0], "/opt/gdrive", "read path");
		if (ASSERT_EQ(iso->ncreds, 2, "credentials")) {
			ASSERT_STREQ(mf_credential_name(&iso->creds[0]), "GDRIVE_TOKEN",
				     "env name");
			ASSERT_STREQ(mf_credential_name(&iso->creds[1]), "key.json", "file name");
			ASSERT_TRUE(mf_credential_path(&iso->creds[0], "alice@x.org", path,
						       sizeof(path)),
				    "path");
			ASSERT_STREQ(path, "/etc/c/gdrive/alice@x.org", "identity in the path");
			ASSERT_TRUE(mf_credential_path(&iso->creds[1], "bob", path, sizeof(path)),
				    "path, inner component");
			ASSERT_STREQ(path, "/etc/c/bob/key", "identity as a directory");
			ASSERT_TRUE(!mf_credential_path(&iso->creds[1], "bob", path, 8),
				    "too long for the buffer");
		}
	}
	mf_policy_free(pol);
	subtest_end();
}

/* ---- launchers, exec matches with arguments, patterns ---- */

static void test_trust(void)
{
	static const char text[] =
		"{ \"version\": 1, \"admin_group\": \"mcpadmin\",\n"
		"  \"launchers\": [ { \"exe\": \"/usr/bin/gateway\", \"may_assert\": "
		"[\"*@example.com\", \"svc-*\"] } ],\n"
		"  \"servers\": { \"fs\": { \"exec\": [ \"/opt/fs\", { \"path\": \"/usr/bin/node\", "
		"\"args\": [\"/opt/mcp/fs.js\", \"--root\"] } ], \"io_uring\": true },\n"
		"  \"plain\": {} } }";
	struct mf_policy *pol = NULL;
	char *args[] = { "a", "bc" };

	subtest_start("launchers with exe and may_assert, exec matches with arguments");
	if (ASSERT_PARSE(text, &pol)) {
		ASSERT_STREQ(pol->admin_group, "mcpadmin", "admin_group");
		ASSERT_STREQ(pol->launchers[0].exe, "/usr/bin/gateway", "launcher exe");
		if (ASSERT_EQ(pol->launchers[0].nmay_assert, 2, "patterns"))
			ASSERT_STREQ(pol->launchers[0].may_assert[1], "svc-*", "pattern");
		ASSERT_EQ(pol->servers[0].nexec, 1, "plain exec paths");
		if (ASSERT_EQ(pol->servers[0].nexec_args, 1, "exec matches with arguments")) {
			ASSERT_STREQ(pol->servers[0].exec_args[0].path, "/usr/bin/node", "path");
			ASSERT_EQ(pol->servers[0].exec_args[0].nargs, 2, "nargs");
			ASSERT_STREQ(pol->servers[0].exec_args[0].args[1], "--root", "arg");
		}
		ASSERT_TRUE(pol->servers[0].io_uring, "io_uring: true");
		ASSERT_TRUE(!pol->servers[1].io_uring, "io_uring: false when absent");
	}
	mf_policy_free(pol);
	subtest_end();

	subtest_start("identity patterns");
	ASSERT_TRUE(mf_pattern_match("*@example.com", "alice@example.com"), "suffix");
	ASSERT_TRUE(!mf_pattern_match("*@example.com", "alice@example.com.evil"), "suffix only");
	ASSERT_TRUE(!mf_pattern_match("*@example.com", "alice@exampleXcom"), "no regex dot");
	ASSERT_TRUE(mf_pattern_match("svc-*-prod", "svc-a-b-prod"), "inner star");
	ASSERT_TRUE(!mf_pattern_match("svc-*-prod", "svc-prod"), "inner star needs its parts");
	ASSERT_TRUE(mf_pattern_match("alice", "alice") && !mf_pattern_match("alice", "alice2"),
		    "no star: exact");
	ASSERT_TRUE(mf_pattern_match("*", "anyone"), "star alone");
	subtest_end();

	subtest_start("exec argument hash: FNV-1a 64 over each argument and its NUL");
	/* FNV-1a of "a\0bc\0", computed by hand from the definition. */
	{
		uint64_t h = 0xcbf29ce484222325ull;
		const unsigned char bytes[] = { 'a', 0, 'b', 'c', 0 };

		for (size_t i = 0; i < sizeof(bytes); i++)
			h = (h ^ bytes[i]) * 0x100000001b3ull;
		ASSERT_TRUE(mf_exec_args_hash(args, 2) == h, "hash of a, bc");
		ASSERT_TRUE(mf_exec_args_hash(args, 1) != h, "a prefix hashes differently");
	}
	subtest_end();
}

/* ---- helpers ---- */

static const char EXAMPLE[] =
	"{\n"
	"  \"version\": 1,\n"
	"  \"mode\": \"enforce\",\n"
	"  \"audit\": { \"allowed\": \"all\" },\n"
	"  \"launchers\": [ { \"user\": \"mcphost\" } ],\n"
	"  \"groups\": { \"finance\": [\"alice@example.com\", \"carol@example.com\"] },\n"
	"  \"servers\": {\n"
	"    \"db\":  {},\n"
	"    \"web\": { \"exec\": [\"/opt/mcp/bin/web-server\"] }\n"
	"  },\n"
	"  \"rules\": [\n"
	"    { \"name\": \"finance-db\", \"server\": \"db\", \"who\": [\"group:finance\"],\n"
	"      \"allow\": [ { \"to\": \"127.0.0.2/32\", \"ports\": [5432], \"proto\": \"tcp\" } ] },\n"
	"    { \"name\": \"web-public\", \"server\": \"web\", \"who\": [\"*\"],\n"
	"      \"allow\": [ { \"to\": \"0.0.0.0/0\", \"ports\": [80, 443] }, { \"to\": \"::/0\", "
	"\"ports\": [\"443\"] } ],\n"
	"      \"deny\":  [ { \"to\": \"10.0.0.0/8\" }, { \"to\": \"127.0.0.0/8\" } ] }\n"
	"  ]\n"
	"}\n";

/* A destination given as text: "10.0.0.1" or "2001:db8::1". */
struct dest {
	uint8_t family;
	uint8_t addr[16];
};

static struct dest dest_of(const char *text)
{
	struct dest d = { .family = strchr(text, ':') ? MF_FAMILY_V6 : MF_FAMILY_V4 };

	if (inet_pton(d.family == MF_FAMILY_V6 ? AF_INET6 : AF_INET, text, d.addr) != 1)
		fail_at(__FILE__, __LINE__, "bad address in the test: %s", text);
	return d;
}

/*
 * Assert the decision for (identity, server, address, proto, port): by the
 * reference and by the compiled form, verdict and rule.
 */
static void check_decision(const struct mf_policy *pol, const struct mf_compiled *c, int line,
			   const char *identity, const char *server, const char *addr,
			   uint8_t proto, uint16_t port, int verdict, uint16_t rule)
{
	struct dest d = dest_of(addr);
	uint16_t got_rule;
	int got;

	got = mf_policy_decide(pol, identity, server, d.family, d.addr, proto, port, &got_rule);
	if (got != verdict || got_rule != rule)
		fail_at(__FILE__, line,
			"reference: %s %s %s %s/%u: actual %s rule %u, expected %s rule %u",
			identity ? identity : "(any)", server, addr,
			proto == MF_PROTO_TCP ? "tcp" : "udp", port, got ? "allow" : "deny",
			got_rule, verdict ? "allow" : "deny", rule);
	got = compiled_decide(c, identity, server, d.family, d.addr, proto, port, &got_rule);
	if (got != verdict || got_rule != rule)
		fail_at(__FILE__, line,
			"compiled: %s %s %s %s/%u: actual %s rule %u, expected %s rule %u",
			identity ? identity : "(any)", server, addr,
			proto == MF_PROTO_TCP ? "tcp" : "udp", port, got ? "allow" : "deny",
			got_rule, verdict ? "allow" : "deny", rule);
}

#define DECIDE(id, server, addr, proto, port, verdict, rule) \
	check_decision(pol, comp, __LINE__, id, server, addr, proto, port, verdict, rule)
#define TCP MF_PROTO_TCP
#define UDP MF_PROTO_UDP
#define DEF MF_RULE_DEFAULT

/* ---- parsing ---- */

static void test_example_parses(void)
{
	struct mf_policy *pol = NULL;
	const struct mf_dest *d;

	subtest_start("the example policy parses");
	if (!ASSERT_PARSE(EXAMPLE, &pol))
		goto out;
	ASSERT_EQ(pol->version, 1, "version");
	ASSERT_EQ(pol->audit_only, false, "audit_only");
	ASSERT_EQ(pol->audit_allowed, true, "audit_allowed");
	if (ASSERT_EQ(pol->nlaunchers, 1, "launchers")) {
		ASSERT_STREQ(pol->launchers[0].user, "mcphost", "launcher user");
		ASSERT_STREQ(pol->launchers[0].group, NULL, "launcher group");
	}
	if (ASSERT_EQ(pol->ngroups, 1, "groups") &&
	    ASSERT_EQ(pol->groups[0].nmembers, 2, "members"))
		ASSERT_STREQ(pol->groups[0].members[1], "carol@example.com", "member");
	if (ASSERT_EQ(pol->nservers, 2, "servers")) {
		ASSERT_STREQ(pol->servers[0].name, "db", "server 0");
		ASSERT_EQ(pol->servers[0].nexec, 0, "db exec");
		if (ASSERT_EQ(pol->servers[1].nexec, 1, "web exec"))
			ASSERT_STREQ(pol->servers[1].exec[0], "/opt/mcp/bin/web-server", "exec");
	}
	if (!ASSERT_EQ(pol->nrules, 2, "rules"))
		goto out;
	ASSERT_STREQ(pol->rules[0].name, "finance-db", "rule 0 name");
	ASSERT_STREQ(pol->rules[0].who[0], "group:finance", "rule 0 who");
	d = &pol->rules[0].allow[0];
	ASSERT_EQ(d->cidr.family, MF_FAMILY_V4, "family");
	ASSERT_EQ(d->cidr.plen, 32, "plen");
	ASSERT_EQ(d->cidr.addr[3], 2, "address");
	ASSERT_EQ(d->protos, MF_PROTO_TCP, "protos");
	if (ASSERT_EQ(d->nports, 1, "ports"))
		ASSERT_EQ(d->ports[0].lo * 100000 + d->ports[0].hi, 543205432, "port range");
	if (ASSERT_EQ(pol->rules[1].nallow, 2, "allow") &&
	    ASSERT_EQ(pol->rules[1].ndeny, 2, "deny")) {
		d = &pol->rules[1].allow[1];
		ASSERT_EQ(d->cidr.family, MF_FAMILY_V6, "::/0 family");
		ASSERT_EQ(d->cidr.plen, 0, "::/0 plen");
		ASSERT_EQ(d->protos, MF_PROTO_TCP | MF_PROTO_UDP, "no proto: any");
		if (ASSERT_EQ(d->nports, 1, "ports"))
			ASSERT_EQ(d->ports[0].lo * 100000 + d->ports[0].hi, 44300443, "\"443\"");
		ASSERT_EQ(pol->rules[1].deny[0].nports, 0, "no ports: all");
	}
out:
	mf_policy_free(pol);
	subtest_end();
}

static void test_defaults(void)
{
	const char *min = "{ \"version\": 1 }";
	const char *audit = "{ \"version\": 1, \"mode\": \"audit\", \"audit\": { \"allowed\": "
			    "\"none\" }, \"servers\": { \"x\": {} }, \"rules\": [] }";
	struct mf_policy *pol = NULL;

	subtest_start("defaults: enforce, audit allowed, no servers; audit mode and empty rules");
	if (ASSERT_PARSE(min, &pol)) {
		ASSERT_EQ(pol->audit_only, false, "mode");
		ASSERT_EQ(pol->audit_allowed, true, "audit.allowed");
		ASSERT_EQ(pol->audit_each, false, "audit.allowed: flows");
		ASSERT_EQ(pol->audit_window_s, 10, "audit.window");
		ASSERT_EQ(pol->nservers + pol->nrules + pol->ngroups + pol->nlaunchers, 0, "empty");
	}
	mf_policy_free(pol);
	pol = NULL;
	if (ASSERT_PARSE(audit, &pol)) {
		ASSERT_EQ(pol->audit_only, true, "mode");
		ASSERT_EQ(pol->audit_allowed, false, "audit.allowed");
		ASSERT_EQ(pol->nservers, 1, "servers");
		ASSERT_EQ(pol->nrules, 0, "rules");
	}
	mf_policy_free(pol);
	pol = NULL;
	if (ASSERT_PARSE("{ \"version\": 1, \"audit\": { \"allowed\": \"all\", \"window\": 0 } }",
			 &pol)) {
		ASSERT_EQ(pol->audit_allowed && pol->audit_each, true, "audit.allowed: all");
		ASSERT_EQ(pol->audit_window_s, 0, "audit.window 0");
	}
	mf_policy_free(pol);
	subtest_end();
}

static void test_v4_mapped(void)
{
	const char *text = "{ \"version\": 1, \"servers\": { \"s\": {} }, \"rules\": [ { \"name\": "
			   "\"r\", \"server\": \"s\", \"who\": [\"*\"], \"allow\": [ { \"to\": "
			   "\"::ffff:10.0.0.0/104\" }, { \"to\": \"::ffff:1.2.3.4\" }, { \"to\": "
			   "\"::fffe:0:0/95\" }, { \"to\": \"2001:db8::/32\" }, { \"to\": "
			   "\"::ffff:0.0.0.0/96\" } ] } ] }";
	struct mf_policy *pol = NULL;
	const struct mf_dest *a;
	char buf[MF_CIDR_STRLEN];

	subtest_start("v4-mapped prefixes of length >= 96 are stored as IPv4");
	if (!ASSERT_PARSE(text, &pol))
		goto out;
	a = pol->rules[0].allow;
	ASSERT_STREQ(mf_cidr_format(&a[0].cidr, buf, sizeof(buf)), "10.0.0.0/8", "/104");
	ASSERT_EQ(a[0].cidr.family, MF_FAMILY_V4, "/104 family");
	ASSERT_STREQ(mf_cidr_format(&a[1].cidr, buf, sizeof(buf)), "1.2.3.4/32", "bare");
	ASSERT_EQ(a[1].cidr.family, MF_FAMILY_V4, "bare family");
	ASSERT_STREQ(mf_cidr_format(&a[2].cidr, buf, sizeof(buf)), "::fffe:0:0/95", "/95 stays");
	ASSERT_EQ(a[2].cidr.family, MF_FAMILY_V6, "/95 family");
	ASSERT_STREQ(mf_cidr_format(&a[3].cidr, buf, sizeof(buf)), "2001:db8::/32", "v6");
	ASSERT_STREQ(mf_cidr_format(&a[4].cidr, buf, sizeof(buf)), "0.0.0.0/0", "/96: all IPv4");
	ASSERT_EQ(a[4].cidr.family, MF_FAMILY_V4, "/96 family");
out:
	mf_policy_free(pol);
	subtest_end();
}

/* Policies around one rule line (line 6); the rule may use group "finance". */
#define HEAD                                                        \
	"{\n"                                                       \
	"  \"version\": 1,\n"                                       \
	"  \"groups\": { \"finance\": [\"alice@example.com\"] },\n" \
	"  \"servers\": { \"db\": {} },\n"                          \
	"  \"rules\": [\n"
#define TAIL "\n  ]\n}\n"
#define RULE(rest) HEAD "    { \"name\": \"r\", \"server\": \"db\", " rest " }" TAIL

/* Texts too large to write out, for the compiler's limits. */
static char *many_identities(void);
static char *many_bindings(void);
static void rename_server(struct mf_policy *pol);
static void rename_group(struct mf_policy *pol);

/* Ports 1, 3, ..., 63: 33 segments with the udp-only rule before it. */
#define PORTS32                                                                               \
	"1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 43, " \
	"45, 47, 49, 51, 53, 55, 57, 59, 61, 63"

/*
 * A policy that parses is compiled too: the compiler's errors are placed at
 * the rule or entry they concern like the parser's. A row without text has
 * its text made by a hook (error_hooks[], by what).
 */
static const struct error_case {
	const char *what;
	const char *text;
	const char *err;
} error_cases[] = {
	{ "unknown key in a rule",
	  RULE("\"who\": [\"*\"],\n      \"alow\": [ { \"to\": \"10.0.0.0/8\" } ]"),
	  "p.json:7:7: rules[0]: unknown key 'alow'" },
	{ "unknown top-level key", "{\n  \"version\": 1,\n  \"server\": {}\n}",
	  "p.json:3:3: unknown key 'server'" },
	{ "unknown key in a destination",
	  RULE("\"who\": [\"*\"], \"allow\": [ { \"to\": \"10.0.0.0/8\", \"port\": [1] } ]"),
	  "p.json:6:83: rules[0].allow[0]: unknown key 'port'" },
	{ "invalid CIDR", RULE("\"who\": [\"*\"], \"allow\": [ { \"to\": \"10.0.0.300/8\" } ]"),
	  "p.json:6:69: rules[0].allow[0].to: invalid CIDR '10.0.0.300/8'" },
	{ "invalid prefix length",
	  RULE("\"who\": [\"*\"], \"deny\": [ { \"to\": \"10.0.0.0/33\" } ]"),
	  "p.json:6:68: rules[0].deny[0].to: invalid CIDR '10.0.0.0/33': prefix length is not "
	  "0..32" },
	{ "octal-looking address",
	  RULE("\"who\": [\"*\"], \"deny\": [ { \"to\": \"010.0.0.0/8\" } ]"),
	  "p.json:6:68: rules[0].deny[0].to: invalid CIDR '010.0.0.0/8'" },
	{ "host bits set", RULE("\"who\": [\"*\"], \"allow\": [ { \"to\": \"10.0.0.1/8\" } ]"),
	  "p.json:6:69: rules[0].allow[0].to: host bits set in '10.0.0.1/8': 0.0.0.1 lies outside "
	  "the /8 prefix (the network is 10.0.0.0/8)" },
	{ "IPv6 host bits set",
	  RULE("\"who\": [\"*\"], \"allow\": [ { \"to\": \"2001:db8::1:0/96\" } ]"),
	  "p.json:6:69: rules[0].allow[0].to: host bits set in '2001:db8::1:0/96': 0:0:0:0:0:0:1:0 lies "
	  "outside the /96 prefix (the network is 2001:db8::/96)" },
	{ "port range high below low",
	  RULE("\"who\": [\"*\"],\n      \"allow\": [ { \"to\": \"10.0.0.0/8\", \"ports\": [22, "
	       "\"90-80\"] } ]"),
	  "p.json:7:54: rules[0].allow[0].ports[1]: invalid port range '90-80': 90 is above 80" },
	{ "port out of range",
	  RULE("\"who\": [\"*\"],\n      \"allow\": [ { \"to\": \"10.0.0.0/8\", \"ports\": [70000] "
	       "} ]"),
	  "p.json:7:50: rules[0].allow[0].ports[0]: port 70000 out of range 1..65535" },
	{ "port 0",
	  RULE("\"who\": [\"*\"],\n      \"allow\": [ { \"to\": \"::/0\", \"ports\": [0] } ]"),
	  "p.json:7:44: rules[0].allow[0].ports[0]: port 0 out of range 1..65535" },
	{ "port string out of range",
	  RULE("\"who\": [\"*\"],\n      \"allow\": [ { \"to\": \"::/0\", \"ports\": [\"1-65536\"] } ]"),
	  "p.json:7:44: rules[0].allow[0].ports[0]: port 65536 out of range 1..65535" },
	{ "port garbage",
	  RULE("\"who\": [\"*\"],\n      \"allow\": [ { \"to\": \"::/0\", \"ports\": [\"http\"] } ]"),
	  "p.json:7:44: rules[0].allow[0].ports[0]: invalid port range 'http' (expected \"N\" or "
	  "\"LOW-HIGH\")" },
	{ "empty port list",
	  RULE("\"who\": [\"*\"],\n      \"allow\": [ { \"to\": \"::/0\", \"ports\": [] } ]"),
	  "p.json:7:43: rules[0].allow[0].ports: empty port list (leave \"ports\" out for all "
	  "ports)" },
	{ "bad protocol",
	  RULE("\"who\": [\"*\"],\n      \"deny\": [ { \"to\": \"::/0\", \"proto\": \"icmp\" } ]"),
	  "p.json:7:42: rules[0].deny[0].proto: unknown protocol 'icmp' (expected tcp, udp or any)" },
	{ "undeclared server",
	  HEAD "    { \"name\": \"r\", \"server\": \"dbx\", \"who\": [\"*\"] }" TAIL,
	  "p.json:6:30: rules[0].server: undeclared server 'dbx'" },
	{ "undeclared group",
	  RULE("\"who\": [\"alice\", \"group:fin\"], \"deny\": [ { \"to\": "
	       "\"::/0\" } ]"),
	  "p.json:6:53: rules[0].who[1]: undeclared group 'fin'" },
	{ "duplicate rule name",
	  HEAD "    { \"name\": \"r\", \"server\": \"db\", \"who\": [\"*\"], \"deny\": [ { \"to\": "
	       "\"::/0\" } ] },\n"
	       "    { \"name\": \"r\", \"server\": \"db\", \"who\": [\"*\"], \"deny\": [ { \"to\": "
	       "\"::/0\" } ] }" TAIL,
	  "p.json:7:15: rules[1].name: duplicate rule name 'r' (first used by rules[0])" },
	{ "version 2", "{\n  \"version\": 2,\n  \"future\": true\n}",
	  "p.json:2:14: version: unsupported version 2 (this mcpfence reads version 1)" },
	{ "version as a string", "{ \"version\": \"1\" }",
	  "p.json:1:14: version: expected an integer, got a string" },
	{ "missing version", "{\n  \"servers\": {}\n}", "p.json:1:1: missing key 'version'" },
	{ "not an object", "[1]", "p.json:1:1: expected the policy object, got an array" },
	{ "audit window too long", "{ \"version\": 1, \"audit\": { \"window\": 3601 } }",
	  "p.json:1:38: audit.window: expected seconds, an integer 0..3600 (0: a record per "
	  "decision)" },
	{ "JSON syntax error",
	  "{\n  \"version\": 1,\n  \"servers\": { \"db\": {} }\n  \"rules\": []\n}",
	  "p.json:4:9: invalid JSON: '}' expected near '\"rules\"'" },
	{ "duplicate JSON key", "{\n  \"version\": 1,\n  \"version\": 1\n}",
	  "p.json:3:11: invalid JSON: duplicate object key near '\"version\"'" },
	{ "identity with a space",
	  RULE("\"who\": [\"alice smith\"], \"deny\": [ { \"to\": "
	       "\"::/0\" } ]"),
	  "p.json:6:44: rules[0].who[0]: invalid identity 'alice smith': names are 1..127 "
	  "characters of A-Z a-z 0-9 . _ @ + -, not starting with '-', not only dots" },
	{ "identity starting with '-'",
	  RULE("\"who\": [\"-rf\"], \"deny\": [ { \"to\": \"::/0\" } ]"),
	  "p.json:6:44: rules[0].who[0]: invalid identity '-rf': names are 1..127 characters of "
	  "A-Z a-z 0-9 . _ @ + -, not starting with '-', not only dots" },
	{ "control character in a message",
	  RULE("\"who\": [\"a\\u001bb\"], \"deny\": [ { \"to\": \"::/0\" } ]"),
	  "p.json:6:44: rules[0].who[0]: invalid identity 'a\\x1bb': names are 1..127 characters "
	  "of A-Z a-z 0-9 . _ @ + -, not starting with '-', not only dots" },
	{ "empty who", RULE("\"who\": [], \"deny\": [ { \"to\": \"::/0\" } ]"),
	  "p.json:6:43: rules[0].who: empty \"who\" list (use [\"*\"] for everyone)" },
	{ "who not an array", RULE("\"who\": \"alice\", \"deny\": [ { \"to\": \"::/0\" } ]"),
	  "p.json:6:43: rules[0].who: expected an array, got a string" },
	{ "rule without entries", RULE("\"who\": [\"*\"], \"allow\": []"),
	  "p.json:6:5: rules[0]: rule 'r' has no allow or deny entry" },
	{ "missing rule name", HEAD "    { \"server\": \"db\", \"who\": [\"*\"] }" TAIL,
	  "p.json:6:5: rules[0]: missing key 'name'" },
	{ "missing to", RULE("\"who\": [\"*\"], \"deny\": [ { \"ports\": [1] } ]"),
	  "p.json:6:60: rules[0].deny[0]: missing key 'to'" },
	{ "bad mode", "{ \"version\": 1, \"mode\": \"enforcing\" }",
	  "p.json:1:25: mode: unknown mode 'enforcing' (expected enforce or audit)" },
	{ "bad audit value", "{ \"version\": 1, \"audit\": { \"allowed\": true } }",
	  "p.json:1:39: audit.allowed: expected a string, got a boolean" },
	{ "launcher without user or group", "{ \"version\": 1, \"launchers\": [ {} ] }",
	  "p.json:1:32: launchers[0]: a launcher needs a \"user\", a \"group\" or an \"exe\"" },
	{ "launcher with a bad identity pattern",
	  "{ \"version\": 1, \"launchers\": [ { \"user\": \"h\", \"may_assert\": [\"a b*\"] } ] }",
	  "p.json:1:62: launchers[0].may_assert[0]: invalid identity pattern 'a b*': names are "
	  "1..127 characters of A-Z a-z 0-9 . _ @ + -, not starting with '-', not only dots, and '*'" },
	{ "exec path matched with and without arguments",
	  "{ \"version\": 1,\n  \"servers\": { \"a\": { \"exec\": [\"/bin/node\", "
	  "{ \"path\": \"/bin/node\", \"args\": [\"/s.js\"] }] } } }",
	  "p.json:2:45: servers.a.exec[1]: '/bin/node' is matched both with and without arguments: "
	  "a plain path tags every process that runs it" },
	{ "exec match with too many arguments",
	  "{ \"version\": 1, \"servers\": { \"a\": { \"exec\": [ { \"path\": \"/bin/node\", "
	  "\"args\": [\"1\", \"2\", \"3\", \"4\", \"5\"] } ] } } }",
	  "p.json:1:78: servers.a.exec[0].args: too many arguments: 5 (limit 4)" },
	{ "exec match with an empty argument",
	  "{ \"version\": 1, \"servers\": { \"a\": { \"exec\": [ { \"path\": \"/bin/node\", "
	  "\"args\": [\"\"] } ] } } }",
	  "p.json:1:79: servers.a.exec[0].args[0]: an argument is 1..255 bytes, without NUL" },
	{ "relative exec path",
	  "{ \"version\": 1,\n  \"servers\": { \"a\": {}, \"b\": { \"exec\": "
	  "[\"/bin/x\", \"bin/y\"] } } }",
	  "p.json:2:51: servers.b.exec[1]: invalid executable path 'bin/y': not an absolute path" },
	{ "exec path with ..",
	  "{ \"version\": 1,\n  \"servers\": { \"b\": { \"exec\": "
	  "[\"/opt/../bin/y\"] } } }",
	  "p.json:2:32: servers.b.exec[0]: invalid executable path '/opt/../bin/y': has a '.' or "
	  "'..' component" },
	{ "exec path of two servers",
	  "{ \"version\": 1,\n  \"servers\": { \"a\": { \"exec\": "
	  "[\"/bin/x\"] }, \"b\": { \"exec\": [\"/bin/x\"] } } }",
	  "p.json:2:61: servers.b.exec[0]: '/bin/x' is already an executable of server 'a'" },
	{ "credentials without isolate",
	  "{ \"version\": 1,\n  \"servers\": { \"a\": { \"credentials\": [ { \"env\": \"T\", "
	  "\"file\": \"/c/{identity}\" } ] } } }",
	  "p.json:2:38: servers.a.credentials: a server with credentials must be isolated: add "
	  "\"isolate\": true" },
	{ "credential file without its identity",
	  "{ \"version\": 1,\n  \"servers\": { \"a\": { \"isolate\": true, \"credentials\": [ { "
	  "\"env\": \"T\", \"file\": \"/c/token\" } ] } } }",
	  "p.json:2:57: servers.a.credentials[0]: \"file\": '/c/token' must hold \"{identity}\" "
	  "once, as a whole path component (one file per identity)" },
	{ "credential replacing PATH",
	  "{ \"version\": 1,\n  \"servers\": { \"a\": { \"isolate\": true, \"credentials\": [ { "
	  "\"env\": \"PATH\", \"file\": \"/c/{identity}\" } ] } } }",
	  "p.json:2:57: servers.a.credentials[0]: \"env\": expected a variable name of A-Z 0-9 _ "
	  "(at most 64), not one the agent sets (HOME, PATH, MCPFENCE_*, LD_*, ...)" },
	{ "isolated server tagged at exec",
	  "{ \"version\": 1,\n  \"servers\": { \"a\": { \"isolate\": true, \"exec\": [\"/x\"] } } }",
	  "p.json:2:34: servers.a.isolate: an isolated server is started by the agent only: it has "
	  "no \"exec\" matches" },
	{ "io_uring not a boolean",
	  "{ \"version\": 1,\n  \"servers\": { \"a\": { \"io_uring\": 1 } } }",
	  "p.json:2:35: servers.a.io_uring: expected true or false, got an integer" },
	{ "invalid server name", "{ \"version\": 1,\n  \"servers\": { \"a b\": {} } }",
	  "p.json:2:16: servers: invalid server name 'a b': names are 1..127 characters of A-Z "
	  "a-z 0-9 . _ @ + -, not starting with '-', not only dots" },
	{ "server named ..", "{ \"version\": 1,\n  \"servers\": { \"..\": {} } }",
	  "p.json:2:16: servers: invalid server name '..': names are 1..127 characters of A-Z "
	  "a-z 0-9 . _ @ + -, not starting with '-', not only dots" },
	{ "identity .", RULE("\"who\": [\".\"], \"deny\": [ { \"to\": \"::/0\" } ]"),
	  "p.json:6:44: rules[0].who[0]: invalid identity '.': names are 1..127 characters of "
	  "A-Z a-z 0-9 . _ @ + -, not starting with '-', not only dots" },
	{ "invalid group member", "{ \"version\": 1,\n  \"groups\": { \"g\": [\"ok\", \"*\"] } }",
	  "p.json:2:27: groups.g[1]: invalid identity '*': names are 1..127 characters of A-Z "
	  "a-z 0-9 . _ @ + -, not starting with '-', not only dots" },
	{ "escaped keys are found",
	  RULE("\"who\": [\"*\"], \"\\u0061llow\": [ { \"t\\u006f\": \"1.2.3.4/33\" } ]"),
	  "p.json:6:79: rules[0].allow[0].to: invalid CIDR '1.2.3.4/33': prefix length is not "
	  "0..32" },
	{ "error deep in a later rule",
	  HEAD "    { \"name\": \"a\", \"server\": \"db\", \"who\": [\"*\"], \"deny\": [ { \"to\": "
	       "\"::/0\" } ] },\n"
	       "    { \"name\": \"b\", \"server\": \"db\", \"who\": [\"*\"],\n"
	       "      \"allow\": [ { \"to\": \"::/0\" },\n"
	       "                 { \"to\": \"::/0\", \"ports\": [1, \"2-3\", [4]] } ] }" TAIL,
	  "p.json:9:54: rules[1].allow[1].ports[2]: expected a port number or a \"LOW-HIGH\" "
	  "string, got an array" },
	{ "compile: too many port segments, at the entry",
	  HEAD "    { \"name\": \"base\", \"server\": \"db\", \"who\": [\"*\"],\n"
	       "      \"allow\": [ { \"to\": \"10.0.0.0/8\", \"proto\": \"udp\" } ] },\n"
	       "    { \"name\": \"many\", \"server\": \"db\", \"who\": [\"*\"],\n"
	       "      \"deny\": [ { \"to\": \"::/0\" } ],\n"
	       "      \"allow\": [ { \"to\": \"::/0\" },\n"
	       "        { \"to\": \"10.1.0.0/16\", \"proto\": \"tcp\", \"ports\": [" PORTS32
	       "] } ] }" TAIL,
	  "p.json:11:9: rules[1].allow[1]: cannot compile policy: server 'db': prefix 10.1.0.0/16 "
	  "needs 33 port segments, more than 32; rules involved: 'base', 'many'" },
	{ "compile: too many identities", NULL,
	  "p.json:2:1: rules[0]: cannot compile policy: more than 16384 identities bound by name "
	  "(MF_MAX_IDENTITIES: the kernel's identity_names map holds those of two policies)" },
	{ "compile: too many bindings", NULL,
	  "p.json:9:3: rules[4]: cannot compile policy: more than 65536 (identity, server) "
	  "bindings (MF_MAX_BINDINGS: the kernel's bindings map holds two policies of that many, "
	  "with the twins of Unix users)" },
	{ "compile: undeclared server",
	  RULE("\"who\": [\"*\"], \"deny\": [ { \"to\": \"::/0\" } ]"),
	  "p.json:6:5: rules[0]: cannot compile policy: rule 'r' names undeclared server 'gone'" },
	{ "compile: undeclared group",
	  RULE("\"who\": [\"group:finance\"], \"deny\": [ { \"to\": \"::/0\" } ]"),
	  "p.json:6:5: rules[0]: cannot compile policy: rule 'r' names undeclared group 'gone'" },
};

/* make gives a text too large to write out; edit changes the parsed policy
 * before it is compiled (what the parser refuses, the compiler checks again). */
static const struct error_hook {
	const char *what;
	char *(*make)(void);
	void (*edit)(struct mf_policy *pol);
} error_hooks[] = {
	{ "compile: too many identities", many_identities, NULL },
	{ "compile: too many bindings", many_bindings, NULL },
	{ "compile: undeclared server", NULL, rename_server },
	{ "compile: undeclared group", NULL, rename_group },
};

static char *many_identities(void)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	fprintf(f, "{ \"version\": 1, \"servers\": { \"db\": {} }, \"rules\": [\n"
		   "{ \"name\": \"r\", \"server\": \"db\", \"deny\": [ { \"to\": \"::/0\" } ], "
		   "\"who\": [");
	for (int i = 0; i <= MF_MAX_IDENTITIES; i++)
		fprintf(f, "%s\"u%d\"", i ? ", " : "", i);
	fprintf(f, "] } ] }\n");
	fclose(f);
	return text;
}

/* A group of MF_MAX_IDENTITIES members bound to 5 servers, one rule each:
 * the fifth rule crosses MF_MAX_BINDINGS. */
static char *many_bindings(void)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	int i;

	fprintf(f, "{ \"version\": 1,\n  \"groups\": { \"g\": [");
	for (i = 0; i < MF_MAX_IDENTITIES; i++)
		fprintf(f, "%s\"u%d\"", i ? ", " : "", i);
	fprintf(f, "] },\n  \"servers\": { ");
	for (i = 0; i < 5; i++)
		fprintf(f, "%s\"s%d\": {}", i ? ", " : "", i);
	fprintf(f, " },\n  \"rules\": [\n");
	for (i = 0; i < 5; i++)
		fprintf(f,
			"  { \"name\": \"r%d\", \"server\": \"s%d\", \"who\": [\"group:g\"], "
			"\"deny\": [ { \"to\": \"::/0\" } ] }%s\n",
			i, i, i < 4 ? "," : "");
	fprintf(f, "] }\n");
	fclose(f);
	return text;
}

static void rename_server(struct mf_policy *pol)
{
	free(pol->rules[0].server);
	pol->rules[0].server = strdup("gone");
}

static void rename_group(struct mf_policy *pol)
{
	free(pol->rules[0].who[0]);
	pol->rules[0].who[0] = strdup("group:gone");
}

static void test_errors(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *t = &error_cases[i];
		struct mf_policy *pol = (struct mf_policy *)1;
		char err[MF_ERR_MAX] = "";
		int ret;

		const struct error_hook *hook = NULL;
		struct mf_compiled *comp = NULL;
		char *text;

		for (size_t k = 0; k < ARRAY_SIZE(error_hooks); k++)
			if (!strcmp(error_hooks[k].what, t->what))
				hook = &error_hooks[k];
		text = hook && hook->make ? hook->make() : (char *)t->text;

		subtest_start("error: %s", t->what);
		ret = mf_policy_parse(text, strlen(text), "p.json", &pol, err, sizeof(err));
		if (!ret) {
			if (hook && hook->edit)
				hook->edit(pol);
			ret = mf_policy_compile(pol, &comp, err, sizeof(err));
			ASSERT_TRUE(ret == 0 || comp == NULL, "nothing compiled on error");
			mf_compiled_free(comp);
			mf_policy_free(pol);
			pol = NULL;
		}
		ASSERT_EQ(ret, -EINVAL, "return value");
		ASSERT_STREQ(err, t->err, "message");
		ASSERT_TRUE(pol == NULL, "no policy on error");
		if (hook && hook->make)
			free(text);
		subtest_end();
	}
}

static void test_names(void)
{
	char long_name[200];

	subtest_start("mf_name_valid");
	memset(long_name, 'a', sizeof(long_name));
	long_name[128] = '\0';
	ASSERT_TRUE(!mf_name_valid(long_name), "128 bytes");
	long_name[127] = '\0';
	ASSERT_TRUE(mf_name_valid(long_name), "127 bytes");
	ASSERT_TRUE(mf_name_valid("alice@example.com"), "email");
	ASSERT_TRUE(mf_name_valid("a.b_c+d-e"), "punctuation");
	ASSERT_TRUE(!mf_name_valid(""), "empty");
	ASSERT_TRUE(!mf_name_valid(NULL), "NULL");
	ASSERT_TRUE(!mf_name_valid("-x"), "leading -");
	ASSERT_TRUE(!mf_name_valid("group:x"), "colon");
	ASSERT_TRUE(!mf_name_valid("*"), "star");
	ASSERT_TRUE(!mf_name_valid("caf\xc3\xa9"), "non-ASCII");
	/* Path components: names are used in paths ({identity} of a credential). */
	ASSERT_TRUE(!mf_name_valid("."), "dot");
	ASSERT_TRUE(!mf_name_valid(".."), "dot dot");
	ASSERT_TRUE(!mf_name_valid("..."), "only dots");
	ASSERT_TRUE(!mf_name_valid("/"), "slash");
	ASSERT_TRUE(!mf_name_valid("../x"), "a path");
	ASSERT_TRUE(mf_name_valid(".x"), "leading dot");
	ASSERT_TRUE(mf_name_valid("..x"), "dots and more");
	ASSERT_TRUE(mf_name_valid("x.."), "trailing dots");
	subtest_end();
}

/* ---- decisions ---- */

static void test_example_decisions(void)
{
	struct mf_policy *pol = NULL;
	struct mf_compiled *comp = NULL;
	uint32_t alice, carol;

	subtest_start("decisions on the example: groups, ports, protocols, specificity");
	if (!ASSERT_PARSE(EXAMPLE, &pol) || !ASSERT_COMPILE(pol, &comp))
		goto out;
	DECIDE("alice@example.com", "db", "127.0.0.2", TCP, 5432, MF_ALLOW, 0);
	DECIDE("carol@example.com", "db", "127.0.0.2", TCP, 5432, MF_ALLOW, 0);
	DECIDE("alice@example.com", "db", "127.0.0.2", UDP, 5432, MF_DENY, DEF);
	DECIDE("alice@example.com", "db", "127.0.0.2", TCP, 5433, MF_DENY, DEF);
	DECIDE("alice@example.com", "db", "127.0.0.3", TCP, 5432, MF_DENY, DEF);
	DECIDE("dave@example.com", "db", "127.0.0.2", TCP, 5432, MF_DENY, DEF);
	DECIDE(NULL, "db", "127.0.0.2", TCP, 5432, MF_DENY, DEF);
	DECIDE("alice@example.com", "web", "127.0.0.2", TCP, 5432, MF_DENY, 1);
	DECIDE("dave@example.com", "web", "93.184.216.34", TCP, 443, MF_ALLOW, 1);
	DECIDE("dave@example.com", "web", "93.184.216.34", UDP, 80, MF_ALLOW, 1);
	DECIDE(NULL, "web", "93.184.216.34", TCP, 22, MF_DENY, DEF);
	/* most specific wins: 10/8 deny under 0/0 allow */
	DECIDE(NULL, "web", "10.1.2.3", TCP, 443, MF_DENY, 1);
	/* ::/0 does not match IPv4, IPv4-mapped included; 0/0 does not match IPv6 */
	DECIDE(NULL, "web", "2001:db8::1", TCP, 443, MF_ALLOW, 1);
	DECIDE(NULL, "web", "2001:db8::1", TCP, 80, MF_DENY, DEF);
	DECIDE(NULL, "web", "::ffff:10.1.2.3", TCP, 443, MF_DENY, 1);
	DECIDE(NULL, "web", "::ffff:93.184.216.34", TCP, 80, MF_ALLOW, 1);
	/* 0.0.0.0 is judged as 127.0.0.1, :: as ::1 */
	DECIDE(NULL, "web", "0.0.0.0", TCP, 443, MF_DENY, 1);
	DECIDE(NULL, "web", "::", TCP, 443, MF_ALLOW, 1);
	DECIDE(NULL, "nosuch", "93.184.216.34", TCP, 443, MF_DENY, DEF);

	/* bindings: one shared ruleset for the finance group, "*" only for web */
	ASSERT_EQ(comp->nbindings, 3, "bindings");
	ASSERT_EQ(comp->nrulesets, 2, "rulesets");
	if (ASSERT_TRUE(find_binding(comp, "alice@example.com", "db", &alice), "alice binding") &&
	    ASSERT_TRUE(find_binding(comp, "carol@example.com", "db", &carol), "carol binding"))
		ASSERT_EQ(alice, carol, "shared ruleset");
	ASSERT_TRUE(!find_binding(comp, "dave@example.com", "db", &alice), "no binding for dave");
out:
	mf_compiled_free(comp);
	mf_policy_free(pol);
	subtest_end();
}

static void test_ties(void)
{
	const char *text =
		"{ \"version\": 1, \"servers\": { \"s\": {} }, \"rules\": [\n"
		"  { \"name\": \"allow-10\", \"server\": \"s\", \"who\": [\"*\"], \"allow\": [\n"
		"    { \"to\": \"10.0.0.0/8\" }, { \"to\": \"10.1.0.0/16\", \"ports\": [443] } ] },\n"
		"  { \"name\": \"deny-10\", \"server\": \"s\", \"who\": [\"*\"], \"deny\": [\n"
		"    { \"to\": \"10.0.0.0/8\", \"ports\": [\"1-1024\"], \"proto\": \"tcp\" } ] },\n"
		"  { \"name\": \"deny-10-again\", \"server\": \"s\", \"who\": [\"bob\"], \"deny\": [\n"
		"    { \"to\": \"10.0.0.0/8\" } ],\n"
		"    \"allow\": [ { \"to\": \"10.1.0.0/16\", \"ports\": [443] } ] }\n"
		"] }";
	struct mf_policy *pol = NULL;
	struct mf_compiled *comp = NULL;

	subtest_start("ties: deny wins at equal length, lowest rule reported");
	if (!ASSERT_PARSE(text, &pol) || !ASSERT_COMPILE(pol, &comp))
		goto out;
	DECIDE(NULL, "s", "10.2.0.1", TCP, 80, MF_DENY, 1);
	DECIDE(NULL, "s", "10.2.0.1", UDP, 80, MF_ALLOW, 0);
	DECIDE(NULL, "s", "10.2.0.1", TCP, 8080, MF_ALLOW, 0);
	DECIDE("bob", "s", "10.2.0.1", UDP, 80, MF_DENY, 2);
	DECIDE("bob", "s", "10.2.0.1", TCP, 80, MF_DENY, 1);
	/* the /16 allow is more specific than both denials */
	DECIDE(NULL, "s", "10.1.0.1", TCP, 443, MF_ALLOW, 0);
	DECIDE("bob", "s", "10.1.0.1", TCP, 443, MF_ALLOW, 0);
	/* its other ports fall back to the /8 */
	DECIDE(NULL, "s", "10.1.0.1", TCP, 444, MF_DENY, 1);
	DECIDE(NULL, "s", "10.1.0.1", UDP, 444, MF_ALLOW, 0);
	DECIDE(NULL, "s", "11.0.0.1", TCP, 443, MF_DENY, DEF);
out:
	mf_compiled_free(comp);
	mf_policy_free(pol);
	subtest_end();
}

static void test_flattened_segments(void)
{
	struct mf_policy *pol = NULL;
	struct mf_compiled *comp = NULL;
	const struct mf_ruleset *rs;
	uint32_t web;
	size_t i;

	subtest_start("flattened entries of the example's web ruleset");
	if (!ASSERT_PARSE(EXAMPLE, &pol) || !ASSERT_COMPILE(pol, &comp) ||
	    !ASSERT_TRUE(find_binding(comp, NULL, "web", &web), "web binding"))
		goto out;
	rs = &comp->rulesets[web];
	if (!ASSERT_EQ(rs->nentries, 4, "entries"))
		goto out;
	for (i = 0; i < rs->nentries; i++) {
		const struct mf_flat_entry *e = &rs->entries[i];
		const struct mf_seg *s = e->val.segs;

		if (e->family == MF_FAMILY_V4 && e->plen == 0) {
			ASSERT_EQ(e->val.nsegs, 2, "0/0 segments");
			ASSERT_EQ(s[0].lo * 100000 + s[0].hi, 8000080, "0/0 first");
			ASSERT_EQ(s[1].lo * 100000 + s[1].hi, 44300443, "0/0 second");
			ASSERT_EQ(s[0].protos, MF_PROTO_TCP | MF_PROTO_UDP, "shared by both");
			ASSERT_EQ(s[1].verdict, MF_ALLOW, "verdict");
		} else if (e->family == MF_FAMILY_V4) {
			ASSERT_EQ(e->val.nsegs, 1, "deny segments");
			ASSERT_EQ(s[0].lo * 100000 + s[0].hi, 65535, "all ports");
			ASSERT_EQ(s[0].verdict, MF_DENY, "explicit deny kept");
			ASSERT_EQ(s[0].rule, 1, "deny rule");
		} else {
			ASSERT_EQ(e->val.nsegs, 1, "::/0 segments");
		}
	}
	ASSERT_TRUE(segments_well_formed(comp), "segment tables well formed");
	ASSERT_EQ(rs->ntables, 3, "the two deny prefixes share one segment table");
out:
	mf_compiled_free(comp);
	mf_policy_free(pol);
	subtest_end();
}

static void test_too_many_segments(void)
{
	char *text = NULL, err[MF_ERR_MAX] = "";
	struct mf_policy *pol = NULL;
	struct mf_compiled *comp = NULL;
	size_t len;
	FILE *f;
	int i;

	subtest_start("more than MF_MAX_SEGS segments for one prefix: a clear error");
	f = open_memstream(&text, &len);
	fprintf(f, "{ \"version\": 1, \"servers\": { \"s\": {} }, \"rules\": [\n"
		   "{ \"name\": \"base\", \"server\": \"s\", \"who\": [\"*\"], "
		   "\"allow\": [ { \"to\": \"10.0.0.0/8\", \"proto\": \"udp\" } ] },\n"
		   "{ \"name\": \"many\", \"server\": \"s\", \"who\": [\"*\"], "
		   "\"allow\": [ { \"to\": \"10.1.0.0/16\", \"proto\": \"tcp\", \"ports\": [");
	for (i = 0; i < MF_MAX_SEGS; i++)
		fprintf(f, "%s%d", i ? ", " : "", 2 * i + 1);
	fprintf(f, "] } ] } ] }");
	fclose(f);
	if (ASSERT_PARSE(text, &pol)) {
		ASSERT_EQ(mf_policy_compile(pol, &comp, err, sizeof(err)), -EINVAL, "compile");
		ASSERT_STREQ(err,
			     "p.json:3:59: rules[1].allow[0]: cannot compile policy: server 's': "
			     "prefix 10.1.0.0/16 needs 33 port segments, more than 32; rules "
			     "involved: 'base', 'many'",
			     "message");
		ASSERT_TRUE(comp == NULL, "nothing compiled");
	}
	mf_compiled_free(comp);
	mf_policy_free(pol);
	free(text);
	subtest_end();
}

/* ---- the files in policy/ ---- */

static char *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	FILE *f = fopen(path, "r");
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc(n + 1);
		if (buf && fread(buf, 1, n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = '\0';
			*len = n;
		}
	}
	fclose(f);
	return buf;
}

static int json_files(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

static void test_policy_dir(const char *srcdir, const char *dir)
{
	struct dirent **names;
	char path[4096];
	int n, i;

	snprintf(path, sizeof(path), "%s/%s", srcdir, dir);
	n = scandir(path, &names, json_files, alphasort);
	subtest_start("%s has policy files", dir);
	if (!ASSERT_TRUE(n > 0, "scandir found .json files"))
		diag("%s: %s (set MF_SRCDIR to the source tree)", path,
		     n < 0 ? strerror(errno) : "none");
	subtest_end();
	for (i = 0; i < n; i++) {
		struct mf_policy *pol = NULL;
		struct mf_compiled *comp = NULL;
		char err[MF_ERR_MAX] = "";
		size_t len = 0;
		char *text;

		snprintf(path, sizeof(path), "%s/%s/%s", srcdir, dir, names[i]->d_name);
		text = read_file(path, &len);
		if (!strcmp(dir, "policy") && !strcmp(names[i]->d_name, "schema.json")) {
			/* not a policy: the JSON Schema of the format */
			json_t *schema = text ? json_loadb(text, len, 0, NULL) : NULL;

			subtest_start("%s/schema.json is a JSON Schema document", dir);
			ASSERT_TRUE(json_is_string(json_object_get(schema, "$schema")), "$schema");
			json_decref(schema);
		} else {
			subtest_start("%s/%s parses and compiles", dir, names[i]->d_name);
			if (ASSERT_TRUE(text != NULL, "read") &&
			    !ASSERT_EQ(mf_policy_parse(text, len, path, &pol, err, sizeof(err)), 0,
				       "parse"))
				diag("%s", err);
			if (pol && !ASSERT_EQ(mf_policy_compile(pol, &comp, err, sizeof(err)), 0,
					      "compile"))
				diag("%s", err);
		}
		subtest_end();
		mf_compiled_free(comp);
		mf_policy_free(pol);
		free(text);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

static bool load_policy(const char *srcdir, const char *file, struct mf_policy **pol,
			struct mf_compiled **comp)
{
	char path[4096], err[MF_ERR_MAX] = "";
	size_t len = 0;
	char *text;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", srcdir, file);
	text = read_file(path, &len);
	if (!ASSERT_TRUE(text != NULL, "read the policy")) {
		diag("%s: %s", path, strerror(errno));
		return false;
	}
	ret = mf_policy_parse(text, len, path, pol, err, sizeof(err));
	free(text);
	if (ret || mf_policy_compile(*pol, comp, err, sizeof(err))) {
		fail_at(__FILE__, __LINE__, "%s", err);
		return false;
	}
	return true;
}

static void test_example_files(const char *srcdir)
{
	struct mf_policy *pol = NULL;
	struct mf_compiled *comp = NULL;

	subtest_start("policy/examples/redis.json: alice reaches redis, bob does not");
	if (load_policy(srcdir, "policy/examples/redis.json", &pol, &comp)) {
		DECIDE("alice@example.com", "redis", "127.0.0.1", TCP, 6379, MF_ALLOW, 0);
		DECIDE("alice@example.com", "redis", "127.0.0.1", UDP, 6379, MF_DENY, DEF);
		DECIDE("alice@example.com", "redis", "127.0.0.1", TCP, 6380, MF_DENY, DEF);
		DECIDE("bob@example.com", "redis", "127.0.0.1", TCP, 6379, MF_DENY, DEF);
		DECIDE("bob@example.com", "redis", "127.0.0.9", TCP, 6379, MF_ALLOW, 1);
		DECIDE("carol@example.com", "redis", "127.0.0.1", TCP, 6379, MF_DENY, DEF);
	}
	mf_compiled_free(comp);
	mf_policy_free(pol);
	subtest_end();

	pol = NULL;
	comp = NULL;
	subtest_start("policy/examples/fetch.json: public HTTPS only");
	if (load_policy(srcdir, "policy/examples/fetch.json", &pol, &comp)) {
		DECIDE("anyone", "fetch", "93.184.216.34", TCP, 443, MF_ALLOW, 0);
		DECIDE("anyone", "fetch", "2606:4700::1111", TCP, 443, MF_ALLOW, 0);
		DECIDE("anyone", "fetch", "93.184.216.34", TCP, 80, MF_DENY, DEF);
		DECIDE("anyone", "fetch", "93.184.216.34", UDP, 443, MF_DENY, DEF);
		DECIDE("anyone", "fetch", "10.0.0.1", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "172.31.255.255", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "192.168.1.1", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "127.0.0.1", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "0.0.0.0", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "169.254.169.254", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "100.64.0.1", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "::ffff:10.0.0.1", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "fd00::1", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "fe80::1", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "::1", TCP, 443, MF_DENY, 0);
		DECIDE("anyone", "fetch", "::", TCP, 443, MF_DENY, 0);
	}
	mf_compiled_free(comp);
	mf_policy_free(pol);
	subtest_end();

	pol = NULL;
	comp = NULL;
	subtest_start("policy/examples/postgres.json and github.json: who reaches what");
	if (load_policy(srcdir, "policy/examples/postgres.json", &pol, &comp)) {
		DECIDE("alice@example.com", "postgres", "192.0.2.10", TCP, 5432, MF_ALLOW, 0);
		DECIDE("dave@example.com", "postgres", "2001:db8::10", TCP, 5432, MF_ALLOW, 0);
		DECIDE("dave@example.com", "postgres", "192.0.2.11", TCP, 5432, MF_DENY, DEF);
		DECIDE("bob@example.com", "postgres", "192.0.2.10", TCP, 5432, MF_DENY, DEF);
	}
	mf_compiled_free(comp);
	mf_policy_free(pol);
	pol = NULL;
	comp = NULL;
	if (load_policy(srcdir, "policy/examples/github.json", &pol, &comp)) {
		DECIDE("anyone", "github", "140.82.121.6", TCP, 443, MF_ALLOW, 0);
		DECIDE("anyone", "github", "2606:50c0:8000::154", TCP, 443, MF_ALLOW, 0);
		DECIDE("anyone", "github", "140.82.128.1", TCP, 443, MF_DENY, DEF);
		DECIDE("anyone", "github", "140.82.121.6", TCP, 22, MF_DENY, DEF);
	}
	mf_compiled_free(comp);
	mf_policy_free(pol);
	subtest_end();
}

/* ---- randomized: compiled form == reference semantics ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned int rnd(unsigned int n)
{
	return rng() % n;
}

/* Random bits of addr beyond plen (up to the family's length), kept below it. */
static void randomize_host(uint8_t family, uint8_t *addr, unsigned int plen)
{
	unsigned int bits = family == MF_FAMILY_V4 ? 32 : 128, i;

	for (i = plen; i < bits; i++) {
		uint8_t bit = 0x80 >> (i % 8);

		if (rnd(2))
			addr[i / 8] |= bit;
		else
			addr[i / 8] &= ~bit;
	}
}

static void clear_host(struct mf_cidr *c)
{
	unsigned int bits = c->family == MF_FAMILY_V4 ? 32 : 128, i;

	for (i = c->plen; i < bits; i++)
		c->addr[i / 8] &= ~(0x80 >> (i % 8));
}

#define POOL 48

/* Prefixes nested on purpose: roots, then children of random pool members. */
static void make_pool(struct mf_cidr *pool)
{
	static const char *const roots[] = { "0.0.0.0", "10.0.0.0",   "192.168.0.0",
					     "::",	"2001:db8::", "fc00::" };
	static const uint8_t plens[] = { 0, 8, 16, 0, 32, 7 };
	size_t i;

	for (i = 0; i < POOL; i++) {
		struct mf_cidr *c = &pool[i], parent;
		unsigned int max;

		if (i < ARRAY_SIZE(roots)) {
			struct dest d = dest_of(roots[i]);

			*c = (struct mf_cidr){ .family = d.family, .plen = plens[i] };
			memcpy(c->addr, d.addr, 16);
			continue;
		}
		parent = pool[rnd(i)];
		max = parent.family == MF_FAMILY_V4 ? 32 : 128;
		*c = parent;
		c->plen += 1 + rnd(parent.family == MF_FAMILY_V4 ? 8 : 24);
		if (c->plen > max)
			c->plen = max;
		randomize_host(c->family, c->addr, parent.plen);
		clear_host(c);
	}
}

static const char *const port_items[] = { "22",		"53",	       "80", "443", "\"1000-2000\"",
					  "\"1-1024\"", "\"443-8443\"" };
static const uint16_t port_probes[] = { 0,    1,    21,	  22,	23,   52,   53,	  54,
					79,   80,   81,	  442,	443,  444,  999,  1000,
					1024, 1025, 2000, 2001, 8443, 8444, 65535 };
#define NIDENT 8 /* u6 and u7 are named by no rule */

static void print_cidr(FILE *f, const struct mf_cidr *c)
{
	char buf[INET6_ADDRSTRLEN];

	/* IPv4 sometimes written as IPv4-mapped IPv6, to be normalized back */
	if (c->family == MF_FAMILY_V4 && !rnd(4)) {
		inet_ntop(AF_INET, c->addr, buf, sizeof(buf));
		fprintf(f, "\"::ffff:%s/%u\"", buf, c->plen + 96);
		return;
	}
	inet_ntop(c->family == MF_FAMILY_V4 ? AF_INET : AF_INET6, c->addr, buf, sizeof(buf));
	fprintf(f, "\"%s/%u\"", buf, c->plen);
}

static void print_dests(FILE *f, const char *key, const struct mf_cidr *pool, unsigned int n)
{
	static const char *const protos[] = { "", ", \"proto\": \"tcp\"", ", \"proto\": \"udp\"",
					      ", \"proto\": \"any\"" };
	unsigned int i, k, nports;

	fprintf(f, ", \"%s\": [", key);
	for (i = 0; i < n; i++) {
		fprintf(f, "%s{ \"to\": ", i ? ", " : "");
		print_cidr(f, &pool[rnd(POOL)]);
		nports = rnd(2) ? 0 : 1 + rnd(3);
		for (k = 0; k < nports; k++)
			fprintf(f, "%s%s", k ? ", " : ", \"ports\": [",
				port_items[rnd(ARRAY_SIZE(port_items))]);
		fprintf(f, "%s%s }", nports ? "]" : "", protos[rnd(4)]);
	}
	fprintf(f, "]");
}

static char *random_policy(const struct mf_cidr *pool)
{
	static const char *const who[] = { "\"u0\"",	   "\"u1\"",	   "\"u2\"",
					   "\"u3\"",	   "\"u4\"",	   "\"u5\"",
					   "\"group:g0\"", "\"group:g1\"", "\"*\"" };
	unsigned int nrules = 4 + rnd(12), r, k, nwho, nallow;
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	fprintf(f, "{ \"version\": 1, \"groups\": { \"g0\": [\"u0\", \"u1\", \"u2\"], "
		   "\"g1\": [\"u2\", \"u3\"] },\n  \"servers\": { \"s0\": {}, \"s1\": {}, "
		   "\"s2\": {} },\n  \"rules\": [\n");
	for (r = 0; r < nrules; r++) {
		fprintf(f, "%s    { \"name\": \"r%u\", \"server\": \"s%u\", \"who\": [",
			r ? ",\n" : "", r, rnd(3) ? 0 : 1 + rnd(2));
		nwho = 1 + rnd(3);
		for (k = 0; k < nwho; k++)
			fprintf(f, "%s%s", k ? ", " : "", who[rnd(ARRAY_SIZE(who))]);
		fprintf(f, "]");
		nallow = rnd(30);
		if (nallow)
			print_dests(f, "allow", pool, nallow);
		if (!nallow || rnd(3))
			print_dests(f, "deny", pool, 1 + rnd(15));
		fprintf(f, " }");
	}
	fprintf(f, "\n  ]\n}\n");
	fclose(f);
	return text;
}

/* A destination: mostly inside a pool prefix, sometimes anywhere or special. */
static struct dest random_dest(const struct mf_cidr *pool)
{
	const struct mf_cidr *c = &pool[rnd(POOL)];
	struct dest d = { .family = c->family };

	memcpy(d.addr, c->addr, 16);
	switch (rnd(10)) {
	case 0: /* anywhere */
		d.family = rnd(2) ? MF_FAMILY_V4 : MF_FAMILY_V6;
		randomize_host(d.family, d.addr, 0);
		break;
	case 1: /* the network address itself */
		break;
	case 2: /* unspecified */
		memset(d.addr, 0, 16);
		break;
	default:
		randomize_host(d.family, d.addr, c->plen);
	}
	if (d.family == MF_FAMILY_V4) {
		memset(d.addr + 4, 0, 12);
		if (!rnd(5)) { /* as IPv4-mapped IPv6 */
			memmove(d.addr + 12, d.addr, 4);
			memset(d.addr, 0, 10);
			d.addr[10] = d.addr[11] = 0xff;
			d.family = MF_FAMILY_V6;
		}
	}
	return d;
}

static void test_random(uint64_t seed)
{
	const int npolicies = 40, ndests = 3000;
	static const char *const idents[] = { "u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7" };
	static const char *const servers[] = { "s0", "s1", "s2", "s3" };
	unsigned long checked = 0, mismatches = 0, allowed = 0, by_rule = 0;
	struct mf_cidr pool[POOL];
	int p, i;

	subtest_start("random policies: compiled decisions equal the reference (seed %llu)",
		      (unsigned long long)seed);
	rng_state = seed ? seed : 1;
	for (p = 0; p < npolicies; p++) {
		struct mf_policy *pol = NULL;
		struct mf_compiled *comp = NULL;
		char *text;

		make_pool(pool);
		text = random_policy(pool);
		if (!ASSERT_PARSE(text, &pol) || !ASSERT_COMPILE(pol, &comp)) {
			diag("policy:\n%s", text);
			free(text);
			mf_policy_free(pol);
			break;
		}
		ASSERT_TRUE(segments_well_formed(comp), "segments well formed");
		for (i = 0; i < ndests; i++) {
			struct dest d = random_dest(pool);
			const char *id = rnd(10) ? idents[rnd(NIDENT)] : NULL;
			const char *server = servers[rnd(10) ? rnd(3) : 3];
			uint8_t proto = rnd(2) ? MF_PROTO_TCP : MF_PROTO_UDP;
			uint16_t port = rnd(4) ? port_probes[rnd(ARRAY_SIZE(port_probes))] : rng();
			uint16_t want_rule, got_rule;
			int want, got;
			char addr[INET6_ADDRSTRLEN];

			want = mf_policy_decide(pol, id, server, d.family, d.addr, proto, port,
						&want_rule);
			got = compiled_decide(comp, id, server, d.family, d.addr, proto, port,
					      &got_rule);
			checked++;
			allowed += want == MF_ALLOW;
			by_rule += want_rule != MF_RULE_DEFAULT;
			if (got == want && got_rule == want_rule)
				continue;
			if (mismatches++ < 5) {
				inet_ntop(d.family == MF_FAMILY_V4 ? AF_INET : AF_INET6, d.addr,
					  addr, sizeof(addr));
				fail_at(__FILE__, __LINE__,
					"policy %d: %s %s %s %s/%u: compiled %d rule %u, "
					"reference %d rule %u",
					p, id ? id : "(any)", server, addr,
					proto == MF_PROTO_TCP ? "tcp" : "udp", port, got, got_rule,
					want, want_rule);
			}
		}
		mf_compiled_free(comp);
		mf_policy_free(pol);
		free(text);
	}
	ASSERT_EQ(mismatches, 0, "mismatches");
	/* the generator must exercise both outcomes, not only default denials */
	ASSERT_TRUE(allowed > checked / 20, "enough allowed decisions");
	ASSERT_TRUE(by_rule - allowed > checked / 20, "enough denials by a rule");
	diag("%lu decisions checked: %lu allowed, %lu denied by a rule, %lu by default", checked,
	     allowed, by_rule - allowed, checked - by_rule);
	subtest_end();
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_large(void)
{
	const int nentries = 100000;
	struct mf_policy *pol = NULL;
	struct mf_compiled *comp = NULL;
	double t0, t1, t2;
	uint32_t ruleset;
	char *text = NULL;
	size_t len, mismatches = 0;
	int i;
	FILE *f;

	subtest_start("100000 entries in one ruleset compile (timing below)");
	f = open_memstream(&text, &len);
	fprintf(f, "{ \"version\": 1, \"servers\": { \"s\": {} }, \"rules\": [\n"
		   "{ \"name\": \"big\", \"server\": \"s\", \"who\": [\"*\"], \"allow\": [\n");
	for (i = 0; i < nentries; i++) {
		struct mf_cidr c = { .family = rnd(8) ? MF_FAMILY_V4 : MF_FAMILY_V6 };
		char buf[INET6_ADDRSTRLEN];

		c.plen = c.family == MF_FAMILY_V4 ? 8 + rnd(25) : 16 + rnd(113);
		randomize_host(c.family, c.addr, 0);
		clear_host(&c);
		inet_ntop(c.family == MF_FAMILY_V4 ? AF_INET : AF_INET6, c.addr, buf, sizeof(buf));
		fprintf(f, "%s{ \"to\": \"%s/%u\", \"ports\": [%s]%s }", i ? ",\n" : "", buf,
			c.plen, port_items[rnd(4)], rnd(2) ? ", \"proto\": \"tcp\"" : "");
	}
	fprintf(f, "],\n\"deny\": [ { \"to\": \"10.0.0.0/8\", \"ports\": [443] } ] } ] }\n");
	fclose(f);

	t0 = now_ms();
	if (!ASSERT_PARSE(text, &pol))
		goto out;
	t1 = now_ms();
	if (!ASSERT_COMPILE(pol, &comp))
		goto out;
	t2 = now_ms();
	if (!ASSERT_TRUE(find_binding(comp, NULL, "s", &ruleset), "binding"))
		goto out;
	diag("parse %.1f ms, compile %.1f ms: %zu prefix entries", t1 - t0, t2 - t1,
	     comp->rulesets[ruleset].nentries);
	/* spot checks against the reference, inside the entries' prefixes */
	for (i = 0; i < 200; i++) {
		const struct mf_dest *e = &pol->rules[0].allow[rnd(nentries)];
		uint16_t port = port_probes[rnd(ARRAY_SIZE(port_probes))], want_rule, got_rule;
		uint8_t proto = rnd(2) ? MF_PROTO_TCP : MF_PROTO_UDP;
		struct dest d = { .family = e->cidr.family };
		int want, got;

		memcpy(d.addr, e->cidr.addr, 16);
		randomize_host(d.family, d.addr, e->cidr.plen);
		want = mf_policy_decide(pol, NULL, "s", d.family, d.addr, proto, port, &want_rule);
		got = mf_compiled_decide(comp, ruleset, d.family, d.addr, proto, port, &got_rule);
		mismatches += got != want || got_rule != want_rule;
	}
	ASSERT_EQ(mismatches, 0, "spot check mismatches");
out:
	mf_compiled_free(comp);
	mf_policy_free(pol);
	free(text);
	subtest_end();
}

int main(void)
{
	const char *srcdir = getenv("MF_SRCDIR"), *seed_env = getenv("MF_SEED");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 20250601;

	if (!srcdir || !*srcdir)
		srcdir = ".";
	diag("seed %llu (set MF_SEED to repeat a run)", (unsigned long long)seed);
	rng_state = seed ? seed : 1;

	test_example_parses();
	test_defaults();
	test_v4_mapped();
	test_errors();
	test_names();
	test_example_decisions();
	test_ties();
	test_flattened_segments();
	test_too_many_segments();
	test_policy_dir(srcdir, "policy");
	test_policy_dir(srcdir, "policy/examples");
	test_example_files(srcdir);
	test_trust();
	test_isolation();
	test_random(seed);
	test_large();

	return tap_done();
}
