// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy keys of local sockets and inbound (policy_local.c): servers.*.unix,
 * servers.*.listen and the top-level unix, their defaults, the bytes a name
 * stands for in sun_path, and every error message. Printed as TAP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy_errors.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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
	static const char text[] =
		"{ \"version\": 1, \"unix\": [\"/run/a.sock\"],\n"
		"  \"servers\": { \"pg\": { \"unix\": [\"/run/postgresql/.s.PGSQL.5432\", "
		"\"@some-abstract\"],\n"
		"                         \"listen\": [8080, \"9000-9010\"] },\n"
		"               \"none\": {} } }";
	struct mf_policy *pol;

	subtest_start("unix names and listen ports of a server, top-level unix names");
	pol = parse(text);
	if (pol && ASSERT_EQ(pol->nservers, 2, "servers")) {
		const struct mf_local *l = &pol->servers[0].local;

		if (ASSERT_EQ(l->nunix, 2, "unix names")) {
			ASSERT_STREQ(l->unix_names[0], "/run/postgresql/.s.PGSQL.5432", "path");
			ASSERT_STREQ(l->unix_names[1], "@some-abstract", "abstract");
		}
		if (ASSERT_EQ(l->nlisten, 2, "listen ranges")) {
			ASSERT_EQ(l->listen[0].lo, 8080, "port lo");
			ASSERT_EQ(l->listen[0].hi, 8080, "port hi");
			ASSERT_EQ(l->listen[1].lo, 9000, "range lo");
			ASSERT_EQ(l->listen[1].hi, 9010, "range hi");
		}
		ASSERT_EQ(pol->servers[1].local.nunix + pol->servers[1].local.nlisten, 0, "none");
		if (ASSERT_EQ(mf_local_any(pol)->nunix, 1, "top-level names replace the defaults"))
			ASSERT_STREQ(mf_local_any(pol)->unix_names[0], "/run/a.sock", "top-level");
		ASSERT_EQ(pol->nunix, 3, "names counted");
	}
	mf_policy_free(pol);
	subtest_end();

	subtest_start("defaults: local log sinks, no resolver or bus");
	pol = parse("{ \"version\": 1 }");
	if (pol) {
		const struct mf_local *any = mf_local_any(pol);
		bool devlog = false;

		for (size_t i = 0; i < any->nunix; i++) {
			devlog |= !strcmp(any->unix_names[i], "/dev/log");
			ASSERT_TRUE(!strstr(any->unix_names[i], "nscd") &&
					    !strstr(any->unix_names[i], "resolve") &&
					    !strstr(any->unix_names[i], "dbus"),
				    "no network deputy among the defaults");
		}
		ASSERT_TRUE(devlog, "/dev/log is a default");
	}
	mf_policy_free(pol);
	pol = parse("{ \"version\": 1, \"unix\": [] }");
	if (pol)
		ASSERT_EQ(mf_local_any(pol)->nunix, 0, "\"unix\": [] grants nothing");
	mf_policy_free(pol);
	subtest_end();
}

static void test_name_bytes(void)
{
	uint8_t b[MF_UNIX_PATH_MAX];
	char longest[MF_UNIX_PATH_MAX + 2];

	subtest_start("the bytes of a name in sun_path");
	ASSERT_EQ(mf_unix_name_bytes("/dev/log", b), 8, "path length (no NUL)");
	ASSERT_TRUE(!memcmp(b, "/dev/log\0\0", 10), "path bytes, zero after");
	ASSERT_EQ(mf_unix_name_bytes("@abc", b), 4, "abstract length: NUL and name");
	ASSERT_TRUE(!memcmp(b, "\0abc\0", 5), "abstract bytes: leading NUL");
	ASSERT_EQ(mf_unix_name_bytes("@", b), -1, "empty abstract name");
	ASSERT_EQ(mf_unix_name_bytes("rel", b), -1, "relative path");
	memset(longest, 'a', sizeof(longest));
	longest[0] = '/';
	longest[MF_UNIX_PATH_MAX] = '\0';
	ASSERT_EQ(mf_unix_name_bytes(longest, b), MF_UNIX_PATH_MAX, "108 bytes fit");
	longest[MF_UNIX_PATH_MAX] = 'a';
	longest[MF_UNIX_PATH_MAX + 1] = '\0';
	ASSERT_EQ(mf_unix_name_bytes(longest, b), -1, "109 bytes do not");
	subtest_end();
}

#define SERVER(body) "{\n  \"version\": 1,\n  \"servers\": { \"s\": { " body " } }\n}"

static const struct policy_error_case error_cases[] = {
	{ "unix not an array", SERVER("\"unix\": \"/dev/log\""),
	  "p.json:3:31: servers.s.unix: expected an array of socket names" },
	{ "unix name not a string", SERVER("\"unix\": [\"/a\", 1]"),
	  "p.json:3:38: servers.s.unix[1]: expected a socket path or \"@abstract-name\"" },
	{ "relative unix path", SERVER("\"unix\": [\"run/x.sock\"]"),
	  "p.json:3:32: servers.s.unix[0]: 'run/x.sock' is neither an absolute path nor an "
	  "\"@abstract\" name" },
	{ "empty abstract name", SERVER("\"unix\": [\"@\"]"),
	  "p.json:3:32: servers.s.unix[0]: socket name '@' is empty or longer than 108 bytes" },
	{ "path with ..", SERVER("\"unix\": [\"/run/../x.sock\"]"),
	  "p.json:3:32: servers.s.unix[0]: socket path '/run/../x.sock' is not written plainly "
	  "(no '//', '.', '..' or trailing '/')" },
	{ "path with //", SERVER("\"unix\": [\"/run//x.sock\"]"),
	  "p.json:3:32: servers.s.unix[0]: socket path '/run//x.sock' is not written plainly "
	  "(no '//', '.', '..' or trailing '/')" },
	{ "top-level unix", "{ \"version\": 1, \"unix\": [\"x\"] }",
	  "p.json:1:26: unix[0]: 'x' is neither an absolute path nor an \"@abstract\" name" },
	{ "listen not an array", SERVER("\"listen\": 80"),
	  "p.json:3:33: servers.s.listen: expected an array of ports and port ranges" },
	{ "listen port 0", SERVER("\"listen\": [0]"),
	  "p.json:3:34: servers.s.listen[0]: port 0 out of range 1..65535 (binding port 0 is "
	  "always allowed)" },
	{ "listen port too high", SERVER("\"listen\": [\"80-65536\"]"),
	  "p.json:3:34: servers.s.listen[0]: port 65536 out of range 1..65535 (binding port 0 "
	  "is always allowed)" },
	{ "listen range reversed", SERVER("\"listen\": [\"90-80\"]"),
	  "p.json:3:34: servers.s.listen[0]: invalid port range: 90 is above 80" },
	{ "listen garbage", SERVER("\"listen\": [\"80x\"]"),
	  "p.json:3:34: servers.s.listen[0]: invalid port range '80x' (expected \"N\" or "
	  "\"LOW-HIGH\")" },
	{ "listen not a port", SERVER("\"listen\": [true]"),
	  "p.json:3:34: servers.s.listen[0]: expected a port number or a \"LOW-HIGH\" string" },
	{ "listen at the top level", "{ \"version\": 1, \"listen\": [80] }",
	  "p.json:1:17: unknown key 'listen'" },
};

static void test_errors(void)
{
	check_policy_errors(error_cases, ARRAY_SIZE(error_cases));
}

static void test_limits(void)
{
	size_t cap = 64 + (MF_MAX_UNIX + 1) * 16 + (MF_LISTEN_MAX_RANGES + 1) * 8;
	char *text = malloc(cap), err[MF_ERR_MAX] = "";
	struct mf_policy *pol = NULL;
	size_t n;

	subtest_start("limits: unix names of a policy, listen ranges of a server");
	if (!ASSERT_TRUE(text != NULL, "memory"))
		goto out;
	n = snprintf(text, cap, "{ \"version\": 1, \"unix\": [");
	for (int i = 0; i <= MF_MAX_UNIX; i++)
		n += snprintf(text + n, cap - n, "%s\"/s%d\"", i ? "," : "", i);
	snprintf(text + n, cap - n, "] }");
	ASSERT_EQ(mf_policy_parse(text, strlen(text), "p.json", &pol, err, sizeof(err)), -EINVAL,
		  "one name too many");
	ASSERT_TRUE(strstr(err, "too many unix socket names in the policy (limit 4096)") != NULL,
		    "message");
	n = snprintf(text, cap, "{ \"version\": 1, \"servers\": { \"s\": { \"listen\": [");
	for (int i = 0; i <= MF_LISTEN_MAX_RANGES; i++)
		n += snprintf(text + n, cap - n, "%s%d", i ? "," : "", 1000 + i);
	snprintf(text + n, cap - n, "] } } }");
	ASSERT_EQ(mf_policy_parse(text, strlen(text), "p.json", &pol, err, sizeof(err)), -EINVAL,
		  "one range too many");
	ASSERT_TRUE(strstr(err, "too many listen ports: 33 (limit 32)") != NULL, "message");
out:
	free(text);
	subtest_end();
}

int main(void)
{
	test_parse();
	test_name_bytes();
	test_errors();
	test_limits();
	return tap_done();
}
