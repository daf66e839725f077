// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness: the name rules (mf_name_valid: identities, servers,
 * groups, users) and the glob of a launcher's may_assert patterns
 * (mf_pattern_match, as userspace/agent/trust.c calls it), in
 * userspace/lib/policy_parser.c and policy.c.
 *
 * Input: a pattern and a name, split at the first NUL byte. Each function is
 * compared with a plain reference written from its contract:
 * - a name is 1..127 bytes of [A-Za-z0-9._@+-], not starting with '-', not
 *   only dots;
 * - '*' matches any run of characters (empty included), every other byte
 *   itself, and the whole name must be matched (dynamic programming here,
 *   backtracking there).
 * Also: a name that is valid fits MF_NAME_MAX with its NUL, as every fixed
 * buffer of the agent and the kernel's maps assume.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "fuzz.h"

#define DP_MAX 512 /* longest pattern and name compared with the reference */

static bool ref_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 127 || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-",
			    s[i]))
			return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '.')
			return true;
	return false;
}

/* m[j]: does the pattern so far match the first j bytes of the name? */
static bool ref_match(const char *pat, const char *name)
{
	size_t n = strlen(name);
	bool m[DP_MAX + 1], next[DP_MAX + 1];

	m[0] = true;
	for (size_t j = 1; j <= n; j++)
		m[j] = false;
	for (; *pat; pat++) {
		if (*pat == '*') {
			/* any run: a prefix matched before, extended by anything */
			next[0] = m[0];
			for (size_t j = 1; j <= n; j++)
				next[j] = next[j - 1] || m[j];
		} else {
			next[0] = false;
			for (size_t j = 1; j <= n; j++)
				next[j] = m[j - 1] && name[j - 1] == *pat;
		}
		memcpy(m, next, (n + 1) * sizeof(*m));
	}
	return m[n];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	char *pattern = strndup((const char *)data, plen);
	char *name = strndup(nul ? (const char *)nul + 1 : "", nul ? size - plen - 1 : 0);
	bool valid, match;

	if (!pattern || !name)
		die("out of memory");
	valid = mf_name_valid(name);
	if (valid != ref_name_valid(name))
		die("mf_name_valid('%s') is %d", name, valid);
	if (valid && strlen(name) + 1 > MF_NAME_MAX)
		die("a valid name of %zu bytes does not fit MF_NAME_MAX", strlen(name));
	if (mf_name_valid(pattern) != ref_name_valid(pattern))
		die("mf_name_valid('%s') is wrong", pattern);
	if (strlen(pattern) <= DP_MAX && strlen(name) <= DP_MAX) {
		match = mf_pattern_match(pattern, name);
		if (match != ref_match(pattern, name))
			die("mf_pattern_match('%s', '%s') is %d", pattern, name, match);
	}
	free(pattern);
	free(name);
	return 0;
}
