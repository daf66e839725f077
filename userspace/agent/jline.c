// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The JSON writer of kernel audit records (see jline.h). A comm or a socket
 * name is whatever the process chose: any bytes, NUL included, and a comm
 * the kernel cut at 15 bytes may end inside a character. Valid UTF-8 is
 * written as it is (as jansson writes it: no \u escapes but for control
 * characters); a byte that does not start a valid sequence is written as
 * U+FFFD, so that the line is valid UTF-8 and a name is never mojibake.
 */
#include <stdio.h>
#include <string.h>

#include "jline.h"

void jl_raw(struct jline *j, const char *s, size_t n)
{
	if (j->len + n >= sizeof(j->buf)) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

static void jl_key(struct jline *j, const char *key)
{
	if (j->len > 1)
		jl_raw(j, ",", 1);
	jl_raw(j, "\"", 1);
	jl_raw(j, key, strlen(key));
	jl_raw(j, "\":", 2);
}

/* Written as it is: printable ASCII but for the two JSON escapes (DEL too,
 * as jansson writes it). */
static bool plain_char(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Length of the valid UTF-8 sequence at c (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF), 0 if it is not one. */
static size_t utf8_len(const unsigned char *c, size_t avail)
{
	size_t n;
	uint32_t cp;

	if (*c >= 0xc2 && *c <= 0xdf) {
		n = 2;
		cp = *c & 0x1f;
	} else if (*c >= 0xe0 && *c <= 0xef) {
		n = 3;
		cp = *c & 0x0f;
	} else if (*c >= 0xf0 && *c <= 0xf4) {
		n = 4;
		cp = *c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((c[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (c[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* One byte (or sequence) that is not plain: its escape; returns bytes used. */
static size_t jl_special(struct jline *j, const unsigned char *c, size_t avail)
{
	static const char short_esc[] = {
		['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'
	};
	char esc[8];
	size_t n;

	if (*c == '"' || *c == '\\') {
		esc[0] = '\\';
		esc[1] = *c;
		jl_raw(j, esc, 2);
		return 1;
	}
	if (*c < 0x20) {
		if (*c < sizeof(short_esc) && short_esc[*c]) {
			esc[0] = '\\';
			esc[1] = short_esc[*c];
			jl_raw(j, esc, 2);
		} else {
			snprintf(esc, sizeof(esc), "\\u%04X", *c);
			jl_raw(j, esc, 6);
		}
		return 1;
	}
	n = utf8_len(c, avail);
	if (n) {
		jl_raw(j, (const char *)c, n);
		return n;
	}
	jl_raw(j, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
	return 1;
}

void jl_strn(struct jline *j, const char *key, const char *val, size_t n)
{
	const unsigned char *c = (const unsigned char *)val, *end = c + n;

	jl_key(j, key);
	jl_raw(j, "\"", 1);
	while (c < end) {
		const unsigned char *run = c;

		while (c < end && plain_char(*c))
			c++;
		jl_raw(j, (const char *)run, c - run);
		if (c < end)
			c += jl_special(j, c, end - c);
	}
	jl_raw(j, "\"", 1);
}

void jl_str(struct jline *j, const char *key, const char *val)
{
	jl_strn(j, key, val, strlen(val));
}

void jl_uint(struct jline *j, const char *key, uint64_t val)
{
	char num[24];
	int i = sizeof(num);

	do {
		num[--i] = '0' + val % 10;
		val /= 10;
	} while (val);
	jl_key(j, key);
	jl_raw(j, num + i, sizeof(num) - i);
}
