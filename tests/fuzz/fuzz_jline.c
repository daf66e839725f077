// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness, differential: the hand-written writer of kernel audit
 * records (userspace/agent/jline.c) against jansson, which writes the agent's
 * own records. Both must give the same bytes for the same record.
 *
 * Input: fields one after the other, each a tag byte then its value: an even
 * tag, a string of (next byte % 128) raw bytes (any byte: NUL, control bytes,
 * cut or invalid UTF-8, as a comm or a socket name may hold); an odd tag, an
 * integer of the next 8 bytes (below 2^63: jansson's integers are signed).
 * Keys are f0, f1, ... Checked for each input:
 * - jansson parses the writer's line (valid JSON, valid UTF-8);
 * - jansson's json_dumps(JSON_COMPACT) of what it parsed is the same bytes;
 * - each string that is valid UTF-8 comes back unchanged, each that is not
 *   comes back with U+FFFD where bytes were not valid; each integer unchanged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "jline.h"
#include "fuzz.h"

#define FIELDS_MAX 24

struct field {
	bool is_str;
	const char *s;
	size_t len;
	uint64_t n;
};

static size_t parse_fields(const uint8_t *data, size_t size, struct field *f)
{
	size_t nf = 0, i = 0;

	while (i < size && nf < FIELDS_MAX) {
		uint8_t tag = data[i++];

		if (!(tag & 1)) {
			size_t len = i < size ? data[i++] % 128 : 0;

			if (len > size - i)
				len = size - i;
			f[nf] = (struct field){ .is_str = true, .len = len };
			f[nf].s = (const char *)data + i;
			i += len;
		} else {
			uint64_t n = 0;

			for (int k = 0; k < 8 && i < size; k++)
				n = n << 8 | data[i++];
			f[nf] = (struct field){ .n = n & INT64_MAX };
		}
		nf++;
	}
	return nf;
}

/* What came back for a string: itself if it is valid UTF-8 (jansson says). */
static void check_string(size_t i, const struct field *f, const json_t *v)
{
	json_t *orig = json_stringn(f->s, f->len);
	const char *got = json_string_value(v);
	size_t got_len = json_string_length(v);

	if (!got)
		die("f%zu: not a string", i);
	if (orig) {
		if (got_len != f->len || memcmp(got, f->s, f->len))
			die("f%zu: valid UTF-8 changed", i);
		json_decref(orig);
		return;
	}
	/* Not valid: each bad byte became the 3 bytes of U+FFFD. */
	if (!memmem(got, got_len, "\xef\xbf\xbd", 3))
		die("f%zu: invalid UTF-8 without a replacement character", i);
	if (got_len < f->len)
		die("f%zu: shorter than its bytes (%zu < %zu)", i, got_len, f->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct field f[FIELDS_MAX];
	struct jline j = { .buf = "{", .len = 1 };
	size_t nf = parse_fields(data, size, f);
	json_error_t err;
	char key[8];
	json_t *obj;
	char *dump;

	for (size_t i = 0; i < nf; i++) {
		snprintf(key, sizeof(key), "f%zu", i);
		if (f[i].is_str)
			jl_strn(&j, key, f[i].s, f[i].len);
		else
			jl_uint(&j, key, f[i].n);
	}
	jl_raw(&j, "}", 1);
	if (j.overflow)
		return 0;
	obj = json_loadb(j.buf, j.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (!obj)
		die("jansson cannot parse the line: %s: %.*s", err.text, (int)j.len, j.buf);
	dump = json_dumps(obj, JSON_COMPACT);
	if (!dump || strlen(dump) != j.len || memcmp(dump, j.buf, j.len))
		die("jansson writes other bytes:\n  writer:  %.*s\n  jansson: %s", (int)j.len,
		    j.buf, dump ? dump : "(null)");
	for (size_t i = 0; i < nf; i++) {
		json_t *v;

		snprintf(key, sizeof(key), "f%zu", i);
		v = json_object_get(obj, key);
		if (f[i].is_str)
			check_string(i, &f[i], v);
		else if (!json_is_integer(v) || (uint64_t)json_integer_value(v) != f[i].n)
			die("f%zu: integer %llu changed", i, (unsigned long long)f[i].n);
	}
	free(dump);
	json_decref(obj);
	return 0;
}
