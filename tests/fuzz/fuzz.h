/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every harness shares: die() when an oracle check fails. */
#ifndef MCPFENCE_FUZZ_H
#define MCPFENCE_FUZZ_H

#include <errno.h> /* program_invocation_short_name (_GNU_SOURCE) */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* "fuzz_NAME: what went wrong", then abort(): libFuzzer keeps the input. */
__attribute__((format(printf, 1, 2), noreturn, unused)) static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

#endif /* MCPFENCE_FUZZ_H */
