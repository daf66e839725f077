/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * jline: the JSON line of a kernel audit record, written in place (audit.c's
 * hot path) with the bytes jansson's json_dumps(JSON_COMPACT) writes for the
 * same fields (tests/fuzz/fuzz_jline.c checks it).
 */
#ifndef MF_JLINE_H
#define MF_JLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A JSON line written in place; what does not fit marks it overflowed. */
struct jline {
	char buf[1024];
	size_t len;
	bool overflow;
};

void jl_raw(struct jline *j, const char *s, size_t n);
/* ,"key":"value" with the n bytes of val: valid UTF-8 as it is, each byte of
 * what is not valid UTF-8 as U+FFFD, control characters escaped. */
void jl_strn(struct jline *j, const char *key, const char *val, size_t n);
void jl_str(struct jline *j, const char *key, const char *val);
void jl_uint(struct jline *j, const char *key, uint64_t val);

#endif
