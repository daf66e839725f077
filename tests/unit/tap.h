/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TAP for the unit tests, in the shape of the kernel's test_progs.h: each
 * subtest is one test point; assertions log actual vs expected as "# "
 * lines, fail the running subtest and return whether they held.
 */
#ifndef MCPFENCE_TAP_H
#define MCPFENCE_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tests_run, tests_failed;
static bool subtest_failed;
static char subtest_name[256];

__attribute__((format(printf, 1, 2), unused)) static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

__attribute__((format(printf, 1, 2), unused)) static void subtest_start(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(subtest_name, sizeof(subtest_name), fmt, ap);
	va_end(ap);
	subtest_failed = false;
}

__attribute__((unused)) static void subtest_end(void)
{
	tests_run++;
	if (subtest_failed)
		tests_failed++;
	printf("%sok %d - %s\n", subtest_failed ? "not " : "", tests_run, subtest_name);
	fflush(stdout);
}

/* An assertion failed at file:line: log why and fail the running subtest. */
__attribute__((format(printf, 3, 4), unused)) static void fail_at(const char *file, int line,
								  const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	subtest_failed = true;
}

/* The plan, a summary line, and the exit status. */
__attribute__((unused)) static int tap_done(void)
{
	printf("1..%d\n", tests_run);
	diag("%d passed, %d failed", tests_run - tests_failed, tests_failed);
	return tests_failed ? 1 : 0;
}

#define ASSERT_TRUE(cond, what)                                                                 \
	({                                                                                      \
		bool ok__ = (cond);                                                             \
		if (!ok__)                                                                      \
			fail_at(__FILE__, __LINE__, "%s: unexpectedly false: %s", what, #cond); \
		ok__;                                                                           \
	})

#define ASSERT_EQ(actual, expected, what)                                                          \
	({                                                                                         \
		long long a__ = (actual), e__ = (expected);                                        \
		bool ok__ = a__ == e__;                                                            \
		if (!ok__)                                                                         \
			fail_at(__FILE__, __LINE__, "%s: actual %lld != expected %lld", what, a__, \
				e__);                                                              \
		ok__;                                                                              \
	})

#define ASSERT_STREQ(actual, expected, what)                                                     \
	({                                                                                       \
		const char *a__ = (actual), *e__ = (expected);                                   \
		bool ok__ = a__ && e__ ? !strcmp(a__, e__) : a__ == e__;                         \
		if (!ok__)                                                                       \
			fail_at(__FILE__, __LINE__, "%s:\n#   actual   '%s'\n#   expected '%s'", \
				what, a__ ? a__ : "(null)", e__ ? e__ : "(null)");               \
		ok__;                                                                            \
	})

#endif /* MCPFENCE_TAP_H */
