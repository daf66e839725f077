// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The policy parser's machinery, beneath the sections (policy.c,
 * policy_servers.c, policy_rules.c) and calling none of them.
 *
 * jansson parses the text. Validation then walks the json_t tree and keeps the
 * JSON path of the value at hand ("rules[2].allow[0].to"), so that an error can
 * name it and, through a small scanner over the original text, point at its
 * line and column: jansson keeps no positions for values.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_parser.h"

#define NOT_FOUND ((size_t)-1)

/* ---- locating a value in the text ---- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && is_ws(s[i]))
		i++;
	return i;
}

/* i is at an opening quote; returns the offset after the closing one */
static size_t skip_string(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i < len ? i + 1 : len;
}

/* i is at the start of a value; returns the offset after it */
static size_t skip_value(const char *s, size_t len, size_t i)
{
	int depth = 0;

	if (i < len && s[i] == '"')
		return skip_string(s, len, i);
	if (i < len && s[i] != '{' && s[i] != '[') {
		while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_ws(s[i]))
			i++;
		return i;
	}
	while (i < len) {
		if (s[i] == '"') {
			i = skip_string(s, len, i);
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return i;
}

/* Whether the quoted JSON string at s (n bytes, quotes included) is name. */
static bool key_equals(const char *s, size_t n, const char *name)
{
	json_t *key;
	bool eq;

	if (!memchr(s, '\\', n))
		return n == strlen(name) + 2 && !memcmp(s + 1, name, n - 2);
	key = json_loadb(s, n, JSON_DECODE_ANY, NULL);
	eq = json_is_string(key) && !strcmp(json_string_value(key), name);
	json_decref(key);
	return eq;
}

/* Offset of the value of member name of the object at i; *key_at: of its key. */
static size_t find_member(const char *s, size_t len, size_t i, const char *name, size_t *key_at)
{
	if (i >= len || s[i] != '{')
		return NOT_FOUND;
	i = skip_ws(s, len, i + 1);
	while (i < len && s[i] == '"') {
		size_t key = i, val;

		i = skip_ws(s, len, skip_string(s, len, i)); /* at ':' */
		val = skip_ws(s, len, i + 1);
		if (key_equals(s + key, i - key, name)) {
			*key_at = key;
			return val;
		}
		i = skip_ws(s, len, skip_value(s, len, val));
		if (i < len && s[i] == ',')
			i = skip_ws(s, len, i + 1);
	}
	return NOT_FOUND;
}

/* Offset of element index of the array at i. */
static size_t find_element(const char *s, size_t len, size_t i, size_t index)
{
	size_t k;

	if (i >= len || s[i] != '[')
		return NOT_FOUND;
	i = skip_ws(s, len, i + 1);
	for (k = 0; i < len && s[i] != ']'; k++) {
		if (k == index)
			return i;
		i = skip_ws(s, len, skip_value(s, len, i));
		if (i < len && s[i] == ',')
			i = skip_ws(s, len, i + 1);
	}
	return NOT_FOUND;
}

/*
 * Offset of the value at the parser's current path, or, when key is given, of
 * that key inside it. The text is known to be valid JSON. Falls back to the
 * deepest value found.
 */
static size_t locate(const struct parser *p, const char *key)
{
	size_t at = skip_ws(p->text, p->len, 0), next, key_at = 0;
	int d;

	for (d = 0; d < p->depth; d++) {
		if (p->path[d].key)
			next = find_member(p->text, p->len, at, p->path[d].key, &key_at);
		else
			next = find_element(p->text, p->len, at, p->path[d].index);
		if (next == NOT_FOUND)
			return at;
		at = next;
	}
	if (key && find_member(p->text, p->len, at, key, &key_at) != NOT_FOUND)
		return key_at;
	return at;
}

/* 1-based line and column; columns count characters, as jansson does. */
static void line_col(const char *s, size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)s[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

/* Line and column of offsets visited in increasing order, counted once. */
struct cursor {
	const char *text;
	size_t off;
	int line, col;
};

static struct mf_pos cursor_at(struct cursor *c, size_t off)
{
	for (; c->off < off; c->off++) {
		if (c->text[c->off] == '\n') {
			c->line++;
			c->col = 1;
		} else if (((unsigned char)c->text[c->off] & 0xc0) != 0x80) {
			c->col++;
		}
	}
	return (struct mf_pos){ c->line, c->col };
}

/* Offset of the element after the one at i, or NOT_FOUND past the last. */
static size_t next_element(const char *s, size_t len, size_t i)
{
	i = skip_ws(s, len, skip_value(s, len, i));
	return i < len && s[i] == ',' ? skip_ws(s, len, i + 1) : NOT_FOUND;
}

/* Record where each entry of the array at i starts, counting from cursor from. */
static void entry_positions(const char *s, size_t len, size_t i, struct cursor from,
			    struct mf_dest *dests, size_t n)
{
	i = find_element(s, len, i, 0);
	for (size_t k = 0; k < n && i != NOT_FOUND; k++, i = next_element(s, len, i))
		dests[k].pos = cursor_at(&from, i);
}

/*
 * Record where each rule and allow or deny entry starts, for the compiler's
 * messages: one pass over the text, which is known to hold the policy just
 * parsed from it (locate() per rule would scan the text once per rule).
 */
void pol_record_positions(const char *s, size_t len, struct mf_policy *pol)
{
	struct cursor cur = { .text = s, .line = 1, .col = 1 };
	size_t i, key_at, allow, deny;

	i = find_member(s, len, skip_ws(s, len, 0), "rules", &key_at);
	if (i != NOT_FOUND)
		i = find_element(s, len, i, 0);
	for (size_t r = 0; r < pol->nrules && i != NOT_FOUND; r++, i = next_element(s, len, i)) {
		struct mf_rule *rule = &pol->rules[r];

		rule->pos = cursor_at(&cur, i);
		allow = find_member(s, len, i, "allow", &key_at);
		deny = find_member(s, len, i, "deny", &key_at);
		if (allow != NOT_FOUND)
			entry_positions(s, len, allow, cur, rule->allow, rule->nallow);
		if (deny != NOT_FOUND)
			entry_positions(s, len, deny, cur, rule->deny, rule->ndeny);
	}
}

/* ---- errors ---- */

void pol_path_push_key(struct parser *p, const char *key)
{
	if (p->depth < PATH_DEPTH)
		p->path[p->depth].key = key;
	p->depth++;
}

void pol_path_push_index(struct parser *p, size_t index)
{
	if (p->depth < PATH_DEPTH) {
		p->path[p->depth].key = NULL;
		p->path[p->depth].index = index;
	}
	p->depth++;
}

void pol_path_pop(struct parser *p)
{
	p->depth--;
}

static void path_format(const struct parser *p, char *buf, size_t len)
{
	size_t n = 0;
	int d;

	buf[0] = '\0';
	for (d = 0; d < p->depth && d < PATH_DEPTH && n < len; d++) {
		if (p->path[d].key)
			n += snprintf(buf + n, len - n, "%s%s", d ? "." : "", p->path[d].key);
		else
			n += snprintf(buf + n, len - n, "[%zu]", p->path[d].index);
	}
}

struct quoted pol_quote(const char *str)
{
	struct quoted q;
	size_t n = 0;

	for (; *str && n < sizeof(q.s) - 8; str++) {
		unsigned char c = *str;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			n += snprintf(q.s + n, sizeof(q.s) - n, "\\x%02x", c);
		else
			q.s[n++] = c;
	}
	if (*str)
		n += snprintf(q.s + n, sizeof(q.s) - n, "...");
	q.s[n] = '\0';
	return q;
}

/*
 * Report an error on the value at the current path, or on the member key of
 * it when key is given: "FILE:LINE:COL: PATH: message". Returns -EINVAL.
 */
int pol_fail(struct parser *p, const char *key, const char *fmt, ...)
{
	char msg[MF_ERR_MAX], where[256];
	int line, col;
	va_list ap;

	if (!p->err || !p->errlen)
		return -EINVAL;
	line_col(p->text, locate(p, key), &line, &col);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	path_format(p, where, sizeof(where));
	snprintf(p->err, p->errlen, "%s:%d:%d: %s%s%s", p->file, line, col, where,
		 where[0] ? ": " : "", msg);
	return -EINVAL;
}

int pol_fail_nomem(struct parser *p)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s: out of memory", p->file);
	return -ENOMEM;
}

/* A sub-parser's error (policy_local.c, policy_tenants.c, policy_hosts.c)
 * at its place below the current one: e->key (none when NULL), then
 * e->index when there is one. */
int pol_fail_local(struct parser *p, const struct mf_local_error *e)
{
	int depth = p->depth;
	int err;

	if (e->key)
		pol_path_push_key(p, e->key);
	if (e->index >= 0)
		pol_path_push_index(p, e->index);
	err = pol_fail(p, NULL, "%s", e->msg);
	p->depth = depth;
	return err;
}

/* ---- typed access ---- */

const char *pol_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

int pol_want_type(struct parser *p, const json_t *v, json_type type)
{
	static const char *const names[] = {
		[JSON_OBJECT] = "an object",
		[JSON_ARRAY] = "an array",
		[JSON_STRING] = "a string",
		[JSON_INTEGER] = "an integer",
	};

	if (json_typeof(v) == type)
		return 0;
	return pol_fail(p, NULL, "expected %s, got %s", names[type], pol_type_name(v));
}

int pol_check_keys(struct parser *p, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(obj, key, v) {
		for (i = 0; allowed[i] && strcmp(allowed[i], key); i++)
			;
		if (!allowed[i])
			return pol_fail(p, key, "unknown key '%s'", pol_quote(key).s);
	}
	return 0;
}

/* Parse member key of obj with fn, its path pushed; absent: error if required. */
int pol_field(struct parser *p, json_t *obj, const char *key, bool required, field_fn fn, void *out)
{
	json_t *v = json_object_get(obj, key);
	int err;

	if (!v)
		return required ? pol_fail(p, NULL, "missing key '%s'", key) : 0;
	pol_path_push_key(p, key);
	err = fn(p, v, out);
	pol_path_pop(p);
	return err;
}

int pol_dup_string(struct parser *p, const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : pol_fail_nomem(p);
}

bool mf_name_valid(const char *name)
{
	size_t i;

	if (!name || !name[0] || name[0] == '-')
		return false;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (i >= MF_NAME_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._@+-", c)))
			return false;
	}
	/* Names are path components ({identity} in a credential's file, a
	 * server's per-user files): ".", ".." and the like never are one. */
	return strspn(name, ".") != i;
}

/* A string value that is a valid name; what names it in messages. */
int pol_parse_name(struct parser *p, json_t *v, const char *what, char **out)
{
	int err = pol_want_type(p, v, JSON_STRING);

	if (err)
		return err;
	if (!mf_name_valid(json_string_value(v)))
		return pol_fail(p, NULL, "invalid %s '%s': " NAME_RULES, what,
				pol_quote(json_string_value(v)).s);
	return pol_dup_string(p, json_string_value(v), out);
}

/* One of the words in choices (NULL-terminated); *out gets its index. */
int pol_parse_word(struct parser *p, json_t *v, const char *what, const char *const *choices,
		   const char *expected, int *out)
{
	int err = pol_want_type(p, v, JSON_STRING);

	if (err)
		return err;
	for (*out = 0; choices[*out]; (*out)++)
		if (!strcmp(choices[*out], json_string_value(v)))
			return 0;
	return pol_fail(p, NULL, "unknown %s '%s' (expected %s)", what,
			pol_quote(json_string_value(v)).s, expected);
}

int pol_parse_bool(struct parser *p, json_t *v, void *out)
{
	if (!json_is_boolean(v))
		return pol_fail(p, NULL, "expected true or false, got %s", pol_type_name(v));
	*(bool *)out = json_is_true(v);
	return 0;
}

/* An array of at most max elements, whose size goes to *n. */
int pol_want_array(struct parser *p, json_t *v, size_t max, const char *what, size_t *n)
{
	int err = pol_want_type(p, v, JSON_ARRAY);

	if (err)
		return err;
	*n = json_array_size(v);
	if (*n > max)
		return pol_fail(p, NULL, "too many %s: %zu (limit %zu)", what, *n, max);
	return 0;
}

/* Parse the n elements of array v with fn, each into its item of a fresh
 * array (*items, item_size bytes each); an element's index joins the path of
 * its errors. On failure the items parsed so far stay for the caller to free. */
int pol_parse_elements(struct parser *p, json_t *v, size_t n, size_t item_size, element_fn fn,
		       void **items)
{
	json_t *elem;
	size_t i;
	int err;

	*items = calloc(n ? n : 1, item_size);
	if (!*items)
		return pol_fail_nomem(p);
	json_array_foreach(v, i, elem) {
		pol_path_push_index(p, i);
		err = fn(p, elem, (char *)*items + i * item_size);
		pol_path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

/* Adds count to a policy-wide counter, failing past the limit. */
int pol_count(struct parser *p, size_t *counter, size_t add, size_t limit, const char *what)
{
	*counter += add;
	if (*counter > limit)
		return pol_fail(p, NULL, "too many %s in the policy (limit %zu)", what, limit);
	return 0;
}
