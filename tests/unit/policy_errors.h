/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policies the parser must refuse, each with the exact FILE:LINE:COL message
 * it must give: one subtest per case. Shared by the unit tests of the policy
 * sub-parsers (test_policy_hosts.c, test_policy_local.c); test_policy.c
 * runs its cases through the compiler too, with hooks of its own.
 */
#ifndef MCPFENCE_TEST_POLICY_ERRORS_H
#define MCPFENCE_TEST_POLICY_ERRORS_H

#include <errno.h>
#include <string.h>

#include "policy.h"
#include "tap.h"

struct policy_error_case {
	const char *what;
	const char *text; /* parsed as "p.json" */
	const char *err;
};

static inline void check_policy_errors(const struct policy_error_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct policy_error_case *t = &cases[i];
		struct mf_policy *pol = NULL;
		char err[MF_ERR_MAX] = "";
		int ret;

		subtest_start("error: %s", t->what);
		ret = mf_policy_parse(t->text, strlen(t->text), "p.json", &pol, err, sizeof(err));
		ASSERT_EQ(ret, -EINVAL, "parse fails");
		ASSERT_STREQ(err, t->err, "message");
		ASSERT_TRUE(pol == NULL, "no policy on error");
		if (!ret)
			mf_policy_free(pol);
		subtest_end();
	}
}

#endif /* MCPFENCE_TEST_POLICY_ERRORS_H */
