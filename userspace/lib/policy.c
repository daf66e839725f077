// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy parser and validator (the reference decision: policy_decide.c).
 *
 * jansson parses the text. Validation then walks the json_t tree and keeps the
 * JSON path of the value at hand ("rules[2].allow[0].to"), so that an error can
 * name it and, through a small scanner over the original text, point at its
 * line and column: jansson keeps no positions for values.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "../../bpf/mcpfence_hash.h"

#define PATH_DEPTH 8
#define NOT_FOUND ((size_t)-1)
#define NAME_RULES                                                                               \
	"names are 1..127 characters of A-Z a-z 0-9 . _ @ + -, not starting with '-', not only " \
	"dots"

struct path_elem {
	const char *key; /* NULL: an array element */
	size_t index;
};

struct parser {
	const char *text;
	size_t len;
	const char *file;
	char *err;
	size_t errlen;
	struct path_elem path[PATH_DEPTH];
	int depth;
	struct mf_policy *policy;
	json_t *servers;    /* name -> index */
	json_t *groups;	    /* name -> index */
	json_t *rules;	    /* name -> index */
	json_t *execs;	    /* path (+ args) -> server index */
	json_t *exec_kinds; /* path -> true if matched with args, false if plain */
	size_t rule;	    /* index of the rule being parsed */
	size_t server;	    /* index of the server being parsed */
	size_t nmembers, nwho, ndests, nports, nexec;
};

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
static void record_positions(const char *s, size_t len, struct mf_policy *pol)
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

static void path_push_key(struct parser *p, const char *key)
{
	if (p->depth < PATH_DEPTH)
		p->path[p->depth].key = key;
	p->depth++;
}

static void path_push_index(struct parser *p, size_t index)
{
	if (p->depth < PATH_DEPTH) {
		p->path[p->depth].key = NULL;
		p->path[p->depth].index = index;
	}
	p->depth++;
}

static void path_pop(struct parser *p)
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

/* A user-given string made safe and short for a message. */
struct quoted {
	char s[100];
};

static struct quoted quote(const char *str)
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
__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, const char *key,
						      const char *fmt, ...)
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

static int fail_nomem(struct parser *p)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s: out of memory", p->file);
	return -ENOMEM;
}

/* ---- typed access ---- */

static const char *type_name(const json_t *v)
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

static int want_type(struct parser *p, const json_t *v, json_type type)
{
	static const char *const names[] = {
		[JSON_OBJECT] = "an object",
		[JSON_ARRAY] = "an array",
		[JSON_STRING] = "a string",
		[JSON_INTEGER] = "an integer",
	};

	if (json_typeof(v) == type)
		return 0;
	return fail(p, NULL, "expected %s, got %s", names[type], type_name(v));
}

static int check_keys(struct parser *p, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(obj, key, v) {
		for (i = 0; allowed[i] && strcmp(allowed[i], key); i++)
			;
		if (!allowed[i])
			return fail(p, key, "unknown key '%s'", quote(key).s);
	}
	return 0;
}

typedef int (*field_fn)(struct parser *p, json_t *v, void *out);

/* Parse member key of obj with fn, its path pushed; absent: error if required. */
static int field(struct parser *p, json_t *obj, const char *key, bool required, field_fn fn,
		 void *out)
{
	json_t *v = json_object_get(obj, key);
	int err;

	if (!v)
		return required ? fail(p, NULL, "missing key '%s'", key) : 0;
	path_push_key(p, key);
	err = fn(p, v, out);
	path_pop(p);
	return err;
}

static int dup_string(struct parser *p, const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : fail_nomem(p);
}

/* A string value that is a valid name; what names it in messages. */
static int parse_name(struct parser *p, json_t *v, const char *what, char **out)
{
	int err = want_type(p, v, JSON_STRING);

	if (err)
		return err;
	if (!mf_name_valid(json_string_value(v)))
		return fail(p, NULL, "invalid %s '%s': " NAME_RULES, what,
			    quote(json_string_value(v)).s);
	return dup_string(p, json_string_value(v), out);
}

/* One of the words in choices (NULL-terminated); *out gets its index. */
static int parse_word(struct parser *p, json_t *v, const char *what, const char *const *choices,
		      const char *expected, int *out)
{
	int err = want_type(p, v, JSON_STRING);

	if (err)
		return err;
	for (*out = 0; choices[*out]; (*out)++)
		if (!strcmp(choices[*out], json_string_value(v)))
			return 0;
	return fail(p, NULL, "unknown %s '%s' (expected %s)", what, quote(json_string_value(v)).s,
		    expected);
}

/* An array of at most max elements, whose size goes to *n. */
static int want_array(struct parser *p, json_t *v, size_t max, const char *what, size_t *n)
{
	int err = want_type(p, v, JSON_ARRAY);

	if (err)
		return err;
	*n = json_array_size(v);
	if (*n > max)
		return fail(p, NULL, "too many %s: %zu (limit %zu)", what, *n, max);
	return 0;
}

typedef int (*element_fn)(struct parser *p, json_t *elem, void *item);

/* Parse the n elements of array v with fn, each into its item of a fresh
 * array (*items, item_size bytes each); an element's index joins the path of
 * its errors. On failure the items parsed so far stay for the caller to free. */
static int parse_elements(struct parser *p, json_t *v, size_t n, size_t item_size, element_fn fn,
			  void **items)
{
	json_t *elem;
	size_t i;
	int err;

	*items = calloc(n ? n : 1, item_size);
	if (!*items)
		return fail_nomem(p);
	json_array_foreach(v, i, elem) {
		path_push_index(p, i);
		err = fn(p, elem, (char *)*items + i * item_size);
		path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

/* Adds count to a policy-wide counter, failing past the limit. */
static int count(struct parser *p, size_t *counter, size_t add, size_t limit, const char *what)
{
	*counter += add;
	if (*counter > limit)
		return fail(p, NULL, "too many %s in the policy (limit %zu)", what, limit);
	return 0;
}

/* ---- top level fields ---- */

static int parse_version(struct parser *p, json_t *v, void *out)
{
	int err = want_type(p, v, JSON_INTEGER);

	if (err)
		return err;
	if (json_integer_value(v) != MF_POLICY_VERSION)
		return fail(p, NULL, "unsupported version %lld (this mcpfence reads version %d)",
			    (long long)json_integer_value(v), MF_POLICY_VERSION);
	*(int *)out = MF_POLICY_VERSION;
	return 0;
}

static int parse_mode(struct parser *p, json_t *v, void *out)
{
	static const char *const modes[] = { "enforce", "audit", NULL };
	int mode, err;

	err = parse_word(p, v, "mode", modes, "enforce or audit", &mode);
	if (!err)
		*(bool *)out = mode == 1;
	return err;
}

static int parse_audit_allowed(struct parser *p, json_t *v, void *out)
{
	static const char *const values[] = { "all", "flows", "none", NULL };
	struct mf_policy *pol = out;
	int value, err;

	err = parse_word(p, v, "value", values, "all, flows or none", &value);
	if (!err) {
		pol->audit_allowed = value != 2;
		pol->audit_each = value == 0;
	}
	return err;
}

static int parse_audit_window(struct parser *p, json_t *v, void *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > MF_AUDIT_WINDOW_MAX)
		return fail(p, NULL,
			    "expected seconds, an integer 0..%d (0: a record per decision)",
			    MF_AUDIT_WINDOW_MAX);
	*(uint32_t *)out = (uint32_t)json_integer_value(v);
	return 0;
}

static int parse_audit(struct parser *p, json_t *v, void *out)
{
	static const char *const keys[] = { "allowed", "window", NULL };
	struct mf_policy *pol = out;
	int err;

	err = want_type(p, v, JSON_OBJECT);
	if (!err)
		err = check_keys(p, v, keys);
	if (!err)
		err = field(p, v, "allowed", false, parse_audit_allowed, pol);
	if (!err)
		err = field(p, v, "window", false, parse_audit_window, &pol->audit_window_s);
	return err;
}

static int parse_launcher_user(struct parser *p, json_t *v, void *out)
{
	return parse_name(p, v, "user name", out);
}

static int parse_launcher_group(struct parser *p, json_t *v, void *out)
{
	return parse_name(p, v, "group name", out);
}

/* Why path is not a clean absolute path, or NULL. */
static const char *exec_path_problem(const char *path)
{
	const char *c, *end;

	if (path[0] != '/')
		return "not an absolute path";
	if (strlen(path) > MF_EXEC_PATH_MAX)
		return "longer than 4095 bytes";
	for (c = path + 1;; c = end + 1) {
		end = strchrnul(c, '/');
		if (end == c)
			return "has an empty component";
		if ((end - c == 1 && c[0] == '.') || (end - c == 2 && !strncmp(c, "..", 2)))
			return "has a '.' or '..' component";
		if (!*end)
			return NULL;
	}
}

/* An executable's path (a launcher's exe, a server's exec): out is a char **. */
static int parse_exec_path(struct parser *p, json_t *v, void *out)
{
	const char *problem;
	int err = want_type(p, v, JSON_STRING);

	if (!err && (problem = exec_path_problem(json_string_value(v))))
		err = fail(p, NULL, "invalid executable path '%s': %s",
			   quote(json_string_value(v)).s, problem);
	if (!err)
		err = dup_string(p, json_string_value(v), out);
	return err;
}

/* Identity patterns: name characters and '*'. */
static int parse_may_assert(struct parser *p, json_t *v, void *out)
{
	struct mf_launcher *l = out;
	json_t *elem;
	size_t i;
	int err;

	err = want_array(p, v, MF_MAX_MAY_ASSERT, "identity patterns", &l->nmay_assert);
	if (err)
		return err;
	l->may_assert = calloc(l->nmay_assert, sizeof(*l->may_assert));
	if (l->nmay_assert && !l->may_assert) {
		l->nmay_assert = 0;
		return fail_nomem(p);
	}
	json_array_foreach(v, i, elem) {
		char probe[MF_NAME_MAX];
		const char *pat;
		size_t k = 0;

		path_push_index(p, i);
		err = want_type(p, elem, JSON_STRING);
		if (!err) {
			/* Valid when the pattern with its stars replaced is a valid name. */
			pat = json_string_value(elem);
			for (; pat[k] && k < sizeof(probe) - 1; k++)
				probe[k] = pat[k] == '*' ? 'x' : pat[k];
			probe[k] = '\0';
			if (pat[k] || !mf_name_valid(probe))
				err = fail(p, NULL,
					   "invalid identity pattern '%s': " NAME_RULES ", and '*'",
					   quote(pat).s);
		}
		if (!err)
			err = dup_string(p, json_string_value(elem), &l->may_assert[i]);
		path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

static int parse_launchers(struct parser *p, json_t *v, void *out)
{
	static const char *const keys[] = { "user", "group", "exe", "may_assert", NULL };
	struct mf_policy *pol = p->policy;
	json_t *elem;
	size_t i, n;
	int err;

	err = want_array(p, v, MF_MAX_LAUNCHERS, "launchers", &n);
	if (err)
		return err;
	pol->launchers = calloc(n, sizeof(*pol->launchers));
	if (n && !pol->launchers)
		return fail_nomem(p);
	pol->nlaunchers = n;
	json_array_foreach(v, i, elem) {
		struct mf_launcher *l = &pol->launchers[i];

		path_push_index(p, i);
		err = want_type(p, elem, JSON_OBJECT);
		if (!err)
			err = check_keys(p, elem, keys);
		if (!err)
			err = field(p, elem, "user", false, parse_launcher_user, &l->user);
		if (!err)
			err = field(p, elem, "group", false, parse_launcher_group, &l->group);
		if (!err)
			err = field(p, elem, "exe", false, parse_exec_path, &l->exe);
		if (!err)
			err = field(p, elem, "may_assert", false, parse_may_assert, l);
		if (!err && !l->user && !l->group && !l->exe)
			err = fail(p, NULL,
				   "a launcher needs a \"user\", a \"group\" or an \"exe\"");
		path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

static int parse_member(struct parser *p, json_t *v, void *out)
{
	return parse_name(p, v, "identity", out);
}

static int parse_groups(struct parser *p, json_t *v, void *out)
{
	struct mf_policy *pol = p->policy;
	const char *name;
	json_t *members;
	size_t g = 0;
	int err;

	err = want_type(p, v, JSON_OBJECT);
	if (err)
		return err;
	if (json_object_size(v) > MF_MAX_GROUPS)
		return fail(p, NULL, "too many groups: %zu (limit %d)", json_object_size(v),
			    MF_MAX_GROUPS);
	pol->groups = calloc(json_object_size(v), sizeof(*pol->groups));
	if (json_object_size(v) && !pol->groups)
		return fail_nomem(p);
	pol->ngroups = json_object_size(v);
	json_object_foreach(v, name, members) {
		struct mf_group *grp = &pol->groups[g];

		if (!mf_name_valid(name))
			return fail(p, name, "invalid group name '%s': " NAME_RULES, quote(name).s);
		err = dup_string(p, name, &grp->name);
		if (err)
			return err;
		if (json_object_set_new(p->groups, name, json_integer(g)))
			return fail_nomem(p);
		path_push_key(p, grp->name);
		err = want_array(p, members, MF_MAX_MEMBERS, "members", &grp->nmembers);
		if (!err)
			err = count(p, &p->nmembers, grp->nmembers, MF_MAX_MEMBERS,
				    "group members");
		if (!err)
			err = parse_elements(p, members, grp->nmembers, sizeof(*grp->members),
					     parse_member, (void **)&grp->members);
		path_pop(p);
		if (err)
			return err;
		g++;
	}
	return 0;
}

/* Claim an executable for the server being parsed: one server per key, and a
 * path is either matched plainly or only with arguments, never both. */
static int claim_exec(struct parser *p, const char *path, const char *key, bool with_args)
{
	json_t *owner = json_object_get(p->execs, key);
	json_t *kind = json_object_get(p->exec_kinds, path);

	if (owner)
		return fail(p, NULL, "'%s' is already an executable of server '%s'", quote(path).s,
			    p->policy->servers[json_integer_value(owner)].name);
	if (kind && json_is_true(kind) != with_args)
		return fail(p, NULL,
			    "'%s' is matched both with and without arguments: a plain path tags "
			    "every process that runs it",
			    quote(path).s);
	if (json_object_set_new(p->execs, key, json_integer(p->server)) ||
	    json_object_set_new(p->exec_kinds, path, json_boolean(with_args)))
		return fail_nomem(p);
	return 0;
}

static int parse_exec_arg_list(struct parser *p, json_t *v, void *out)
{
	struct mf_exec_args *ea = out;
	json_t *elem;
	size_t i;
	int err;

	err = want_array(p, v, MF_EXEC_ARGS_MAX, "arguments", &ea->nargs);
	if (err)
		return err;
	ea->args = calloc(ea->nargs, sizeof(*ea->args));
	if (ea->nargs && !ea->args) {
		ea->nargs = 0;
		return fail_nomem(p);
	}
	json_array_foreach(v, i, elem) {
		const char *arg;

		path_push_index(p, i);
		err = want_type(p, elem, JSON_STRING);
		arg = err ? NULL : json_string_value(elem);
		if (arg && (!arg[0] || json_string_length(elem) > MF_EXEC_ARG_MAX ||
			    strlen(arg) != json_string_length(elem)))
			err = fail(p, NULL, "an argument is 1..%d bytes, without NUL",
				   MF_EXEC_ARG_MAX);
		if (!err)
			err = dup_string(p, arg, &ea->args[i]);
		path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

/* { "path": "/usr/bin/node", "args": ["/opt/mcp/server.js"] } */
static int parse_exec_args(struct parser *p, json_t *v, struct mf_exec_args *ea)
{
	static const char *const keys[] = { "path", "args", NULL };
	char key[MF_EXEC_PATH_MAX + MF_EXEC_ARGS_MAX * (MF_EXEC_ARG_MAX + 1) + 2];
	size_t off;
	int err;

	err = check_keys(p, v, keys);
	if (!err)
		err = field(p, v, "path", true, parse_exec_path, &ea->path);
	if (!err)
		err = field(p, v, "args", true, parse_exec_arg_list, ea);
	if (err)
		return err;
	/* The key of the match: the path and each argument, NUL-separated. */
	off = snprintf(key, sizeof(key), "%s", ea->path);
	for (size_t i = 0; i < ea->nargs; i++)
		off += snprintf(key + off, sizeof(key) - off, "\x1f%s", ea->args[i]);
	return claim_exec(p, ea->path, key, true);
}

static int parse_exec(struct parser *p, json_t *v, void *out)
{
	struct mf_server *srv = &p->policy->servers[p->server];
	json_t *elem;
	size_t i, n;
	int err;

	err = want_array(p, v, MF_MAX_EXEC, "exec paths", &n);
	if (!err)
		err = count(p, &p->nexec, n, MF_MAX_EXEC, "exec paths");
	if (err)
		return err;
	/* Sized for either form; nexec and nexec_args count what was used. */
	srv->exec = calloc(n, sizeof(*srv->exec));
	srv->exec_args = calloc(n, sizeof(*srv->exec_args));
	if (n && (!srv->exec || !srv->exec_args))
		return fail_nomem(p);
	json_array_foreach(v, i, elem) {
		path_push_index(p, i);
		if (json_is_object(elem)) {
			err = parse_exec_args(p, elem, &srv->exec_args[srv->nexec_args++]);
		} else if (json_is_string(elem)) {
			err = parse_exec_path(p, elem, &srv->exec[srv->nexec]);
			if (!err)
				srv->nexec++;
			if (!err)
				err = claim_exec(p, srv->exec[srv->nexec - 1],
						 srv->exec[srv->nexec - 1], false);
		} else {
			err = fail(p, NULL,
				   "expected an executable path, or an object with \"path\" and "
				   "\"args\", got %s",
				   type_name(elem));
		}
		path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

/* The "unix" and "listen" keys of obj (a server, or the top level): policy_local.c. */
static int parse_local(struct parser *p, json_t *obj, bool server, struct mf_local *out)
{
	struct mf_local_error e = { .index = -1 };
	int err = mf_local_parse(obj, server, out, &p->policy->nunix, &e);

	if (err != -EINVAL)
		return err ? fail_nomem(p) : 0;
	path_push_key(p, e.key);
	if (e.index >= 0)
		path_push_index(p, e.index);
	err = fail(p, NULL, "%s", e.msg);
	p->depth -= e.index >= 0 ? 2 : 1;
	return err;
}

/* "isolate", "filesystem" and "credentials" of a server: policy_tenants.c. */
static int parse_isolation(struct parser *p, json_t *srv, struct mf_isolation *out)
{
	struct mf_local_error e = { .index = -1 };
	int err = mf_isolation_parse(srv, out, &e);

	if (err != -EINVAL)
		return err ? fail_nomem(p) : 0;
	path_push_key(p, e.key);
	if (e.index >= 0)
		path_push_index(p, e.index);
	err = fail(p, NULL, "%s", e.msg);
	p->depth -= e.index >= 0 ? 2 : 1;
	return err;
}

static int parse_bool(struct parser *p, json_t *v, void *out)
{
	if (!json_is_boolean(v))
		return fail(p, NULL, "expected true or false, got %s", type_name(v));
	*(bool *)out = json_is_true(v);
	return 0;
}

/* The top-level "dns" key: policy_hosts.c. */
static int parse_dns(struct parser *p, json_t *root, struct mf_dns *out)
{
	struct mf_local_error e = { .index = -1 };
	int err = mf_dns_parse(root, out, &e);
	int depth = p->depth;

	if (!err)
		return 0;
	path_push_key(p, "dns");
	if (strcmp(e.key, "dns"))
		path_push_key(p, e.key);
	if (e.index >= 0)
		path_push_index(p, e.index);
	err = fail(p, NULL, "%s", e.msg);
	p->depth = depth;
	return err;
}

static int parse_servers(struct parser *p, json_t *v, void *out)
{
	static const char *const keys[] = { "exec",    "unix",	     "listen",	    "io_uring",
					    "isolate", "filesystem", "credentials", NULL };
	struct mf_policy *pol = p->policy;
	const char *name;
	json_t *srv;
	int err;

	err = want_type(p, v, JSON_OBJECT);
	if (err)
		return err;
	if (json_object_size(v) > MF_MAX_SERVERS)
		return fail(p, NULL, "too many servers: %zu (limit %d)", json_object_size(v),
			    MF_MAX_SERVERS);
	pol->servers = calloc(json_object_size(v), sizeof(*pol->servers));
	if (json_object_size(v) && !pol->servers)
		return fail_nomem(p);
	json_object_foreach(v, name, srv) {
		if (!mf_name_valid(name))
			return fail(p, name, "invalid server name '%s': " NAME_RULES,
				    quote(name).s);
		p->server = pol->nservers++;
		err = dup_string(p, name, &pol->servers[p->server].name);
		if (err)
			return err;
		if (json_object_set_new(p->servers, name, json_integer(p->server)))
			return fail_nomem(p);
		path_push_key(p, pol->servers[p->server].name);
		err = want_type(p, srv, JSON_OBJECT);
		if (!err)
			err = check_keys(p, srv, keys);
		if (!err)
			err = field(p, srv, "exec", false, parse_exec, NULL);
		if (!err)
			err = parse_local(p, srv, true, &pol->servers[p->server].local);
		if (!err)
			err = field(p, srv, "io_uring", false, parse_bool,
				    &pol->servers[p->server].io_uring);
		if (!err)
			err = parse_isolation(p, srv, &pol->servers[p->server].iso);
		path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

/* ---- rules ---- */

/* A decimal number of 1..6 digits without sign or leading zero at *s, or -1. */
static long parse_decimal(const char **s)
{
	const char *start = *s;
	long n = 0;

	if (**s < '1' || **s > '9')
		return -1;
	while (**s >= '0' && **s <= '9' && *s - start < 6)
		n = n * 10 + *(*s)++ - '0';
	return n;
}

static int parse_port(struct parser *p, json_t *v, void *out)
{
	struct mf_port_range *range = out;
	const char *s, *str;
	long lo, hi;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 1 || json_integer_value(v) > 65535)
			return fail(p, NULL, "port %lld out of range 1..65535",
				    (long long)json_integer_value(v));
		range->lo = range->hi = json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return fail(p, NULL, "expected a port number or a \"LOW-HIGH\" string, got %s",
			    type_name(v));
	s = str = json_string_value(v);
	lo = hi = parse_decimal(&s);
	if (lo > 0 && *s == '-') {
		s++;
		hi = parse_decimal(&s);
	}
	if (lo < 0 || hi < 0 || *s)
		return fail(p, NULL, "invalid port range '%s' (expected \"N\" or \"LOW-HIGH\")",
			    quote(str).s);
	if (lo > 65535 || hi > 65535)
		return fail(p, NULL, "port %ld out of range 1..65535", lo > 65535 ? lo : hi);
	if (lo > hi)
		return fail(p, NULL, "invalid port range '%s': %ld is above %ld", str, lo, hi);
	range->lo = lo;
	range->hi = hi;
	return 0;
}

static int parse_ports(struct parser *p, json_t *v, void *out)
{
	struct mf_dest *dest = out;
	size_t n;
	int err;

	err = want_array(p, v, MF_MAX_PORT_RANGES, "ports", &n);
	if (!err && !n)
		err = fail(p, NULL, "empty port list (leave \"ports\" out for all ports)");
	if (!err)
		err = count(p, &p->nports, n, MF_MAX_PORT_RANGES, "port ranges");
	if (err)
		return err;
	dest->nports = n;
	return parse_elements(p, v, n, sizeof(*dest->ports), parse_port, (void **)&dest->ports);
}

static int parse_proto(struct parser *p, json_t *v, void *out)
{
	static const char *const protos[] = { "tcp", "udp", "any", NULL };
	static const uint8_t bits[] = { MF_PROTO_TCP, MF_PROTO_UDP, MF_PROTO_TCP | MF_PROTO_UDP };
	int proto, err;

	err = parse_word(p, v, "protocol", protos, "tcp, udp or any", &proto);
	if (!err)
		((struct mf_dest *)out)->protos = bits[proto];
	return err;
}

static bool is_v4_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, prefix, sizeof(prefix));
}

static void prefix_mask(uint8_t *addr, unsigned int plen, unsigned int bytes)
{
	unsigned int i;

	for (i = 0; i < bytes; i++) {
		if (plen >= 8 * (i + 1))
			continue;
		addr[i] &= plen > 8 * i ? (uint8_t)(0xff00 >> (plen - 8 * i)) : 0;
	}
}

static int parse_cidr(struct parser *p, json_t *v, void *out)
{
	struct mf_cidr *cidr = out, net;
	char buf[INET6_ADDRSTRLEN + 8], host[INET6_ADDRSTRLEN], shown[MF_CIDR_STRLEN];
	const char *str, *len_str = NULL;
	unsigned int max, bytes, i, n;
	char *slash;
	long plen;
	int err;

	err = want_type(p, v, JSON_STRING);
	if (err)
		return err;
	str = json_string_value(v);
	if (strlen(str) >= sizeof(buf))
		return fail(p, NULL, "invalid CIDR '%s'", quote(str).s);
	strcpy(buf, str);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		len_str = slash + 1;
	}
	memset(cidr, 0, sizeof(*cidr));
	cidr->family = strchr(buf, ':') ? MF_FAMILY_V6 : MF_FAMILY_V4;
	if (inet_pton(cidr->family == MF_FAMILY_V6 ? AF_INET6 : AF_INET, buf, cidr->addr) != 1)
		return fail(p, NULL, "invalid CIDR '%s'", quote(str).s);
	max = cidr->family == MF_FAMILY_V6 ? 128 : 32;
	plen = max;
	if (len_str) {
		const char *s = len_str;

		if (!strcmp(s, "0"))
			plen = *s++ - '0';
		else
			plen = parse_decimal(&s);
		if (plen < 0 || *s || plen > max)
			return fail(p, NULL, "invalid CIDR '%s': prefix length is not 0..%u",
				    quote(str).s, max);
	}
	cidr->plen = plen;
	if (cidr->family == MF_FAMILY_V6 && cidr->plen >= 96 && is_v4_mapped(cidr->addr)) {
		memmove(cidr->addr, cidr->addr + 12, 4);
		memset(cidr->addr + 4, 0, 12);
		cidr->family = MF_FAMILY_V4;
		cidr->plen -= 96;
	}
	bytes = cidr->family == MF_FAMILY_V6 ? 16 : 4;
	net = *cidr;
	prefix_mask(net.addr, net.plen, bytes);
	if (!memcmp(net.addr, cidr->addr, bytes))
		return 0;
	/* the host part, spelled out (inet_ntop would write ::1:0 as ::0.1.0.0) */
	for (i = 0; i < bytes; i++)
		cidr->addr[i] ^= net.addr[i];
	if (bytes == 4)
		inet_ntop(AF_INET, cidr->addr, host, sizeof(host));
	for (i = 0, n = 0; bytes == 16 && i < 16; i += 2)
		n += snprintf(host + n, sizeof(host) - n, "%s%x", i ? ":" : "",
			      cidr->addr[i] << 8 | cidr->addr[i + 1]);
	return fail(p, NULL,
		    "host bits set in '%s': %s lies outside the /%u prefix (the network is %s)",
		    quote(str).s, host, net.plen, mf_cidr_format(&net, shown, sizeof(shown)));
}

/* A destination by name, { "host": ..., "ports", "proto", "private" }: the
 * name is checked in policy_hosts.c. Only allow lists take one (rule). */
static int parse_host_entry(struct parser *p, json_t *elem, struct mf_rule *rule)
{
	static const char *const keys[] = { "host", "ports", "proto", "private", NULL };
	struct mf_dest ports = { .protos = MF_PROTO_TCP | MF_PROTO_UDP };
	struct mf_host *h;
	char msg[256];
	int err;

	if (!rule)
		return fail(p, "host", "a \"deny\" entry takes addresses (\"to\"), not names");
	h = &rule->hosts[rule->nhosts++];
	err = check_keys(p, elem, keys);
	if (!err && !json_is_string(json_object_get(elem, "host")))
		err = fail(p, "host", "expected a host name string");
	if (!err) {
		err = mf_host_name_parse(json_string_value(json_object_get(elem, "host")), h, msg,
					 sizeof(msg));
		if (err == -EINVAL) {
			path_push_key(p, "host");
			err = fail(p, NULL, "%s", msg);
			path_pop(p);
		} else if (err) {
			err = fail_nomem(p);
		}
	}
	if (!err)
		err = field(p, elem, "ports", false, parse_ports, &ports);
	if (!err)
		err = field(p, elem, "proto", false, parse_proto, &ports);
	if (!err)
		err = field(p, elem, "private", false, parse_bool, &h->private_ok);
	h->protos = ports.protos;
	h->nports = ports.nports;
	h->ports = ports.ports;
	return err;
}

/* Entries with "to" go to dests; with "host" (rule given: an allow list) to
 * rule->hosts. */
static int parse_dests(struct parser *p, json_t *v, struct mf_dest **dests, size_t *ndests,
		       struct mf_rule *rule)
{
	static const char *const keys[] = { "to", "ports", "proto", NULL };
	json_t *elem;
	size_t i, n;
	int err;

	err = want_array(p, v, MF_MAX_DESTS, "destinations", &n);
	if (!err)
		err = count(p, &p->ndests, n, MF_MAX_DESTS, "allow and deny entries");
	if (err)
		return err;
	*dests = calloc(n, sizeof(**dests));
	if (n && !*dests)
		return fail_nomem(p);
	if (rule && !(rule->hosts = calloc(n ? n : 1, sizeof(*rule->hosts))))
		return fail_nomem(p);
	*ndests = 0;
	json_array_foreach(v, i, elem) {
		struct mf_dest *dest = &(*dests)[*ndests];

		path_push_index(p, i);
		err = want_type(p, elem, JSON_OBJECT);
		if (!err && json_object_get(elem, "host")) {
			err = parse_host_entry(p, elem, rule);
			path_pop(p);
			if (err)
				return err;
			continue;
		}
		(*ndests)++;
		dest->protos = MF_PROTO_TCP | MF_PROTO_UDP;
		if (!err)
			err = check_keys(p, elem, keys);
		if (!err)
			err = field(p, elem, "to", true, parse_cidr, &dest->cidr);
		if (!err)
			err = field(p, elem, "ports", false, parse_ports, dest);
		if (!err)
			err = field(p, elem, "proto", false, parse_proto, dest);
		path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

static int parse_allow(struct parser *p, json_t *v, void *out)
{
	struct mf_rule *rule = out;

	return parse_dests(p, v, &rule->allow, &rule->nallow, rule);
}

static int parse_deny(struct parser *p, json_t *v, void *out)
{
	struct mf_rule *rule = out;

	return parse_dests(p, v, &rule->deny, &rule->ndeny, NULL);
}

static int parse_rule_name(struct parser *p, json_t *v, void *out)
{
	json_t *first;
	int err;

	err = parse_name(p, v, "rule name", out);
	if (err)
		return err;
	first = json_object_get(p->rules, json_string_value(v));
	if (first)
		return fail(p, NULL, "duplicate rule name '%s' (first used by rules[%lld])",
			    json_string_value(v), (long long)json_integer_value(first));
	if (json_object_set_new(p->rules, json_string_value(v), json_integer(p->rule)))
		return fail_nomem(p);
	return 0;
}

static int parse_rule_server(struct parser *p, json_t *v, void *out)
{
	int err = want_type(p, v, JSON_STRING);

	if (err)
		return err;
	if (!json_object_get(p->servers, json_string_value(v)))
		return fail(p, NULL, "undeclared server '%s'", quote(json_string_value(v)).s);
	return dup_string(p, json_string_value(v), out);
}

static int parse_who_entry(struct parser *p, json_t *v, void *out)
{
	const char *s;
	int err;

	err = want_type(p, v, JSON_STRING);
	if (err)
		return err;
	s = json_string_value(v);
	if (!strncmp(s, "group:", 6) && !json_object_get(p->groups, s + 6))
		return fail(p, NULL, "undeclared group '%s'", quote(s + 6).s);
	if (strcmp(s, "*") && strncmp(s, "group:", 6) && !mf_name_valid(s))
		return fail(p, NULL, "invalid identity '%s': " NAME_RULES, quote(s).s);
	return dup_string(p, s, out);
}

static int parse_who(struct parser *p, json_t *v, void *out)
{
	struct mf_rule *rule = out;
	size_t n;
	int err;

	err = want_array(p, v, MF_MAX_WHO, "identities", &n);
	if (!err && !n)
		err = fail(p, NULL, "empty \"who\" list (use [\"*\"] for everyone)");
	if (!err)
		err = count(p, &p->nwho, n, MF_MAX_WHO, "\"who\" entries");
	if (err)
		return err;
	rule->nwho = n;
	return parse_elements(p, v, n, sizeof(*rule->who), parse_who_entry, (void **)&rule->who);
}

static int parse_rules(struct parser *p, json_t *v, void *out)
{
	static const char *const keys[] = { "name", "server", "who", "allow", "deny", NULL };
	struct mf_policy *pol = p->policy;
	json_t *elem;
	size_t i, n;
	int err;

	err = want_array(p, v, MF_MAX_RULES, "rules", &n);
	if (err)
		return err;
	pol->rules = calloc(n, sizeof(*pol->rules));
	if (n && !pol->rules)
		return fail_nomem(p);
	pol->nrules = n;
	json_array_foreach(v, i, elem) {
		struct mf_rule *rule = &pol->rules[i];

		p->rule = i;
		path_push_index(p, i);
		err = want_type(p, elem, JSON_OBJECT);
		if (!err)
			err = check_keys(p, elem, keys);
		if (!err)
			err = field(p, elem, "name", true, parse_rule_name, &rule->name);
		if (!err)
			err = field(p, elem, "server", true, parse_rule_server, &rule->server);
		if (!err)
			err = field(p, elem, "who", true, parse_who, rule);
		if (!err)
			err = field(p, elem, "allow", false, parse_allow, rule);
		if (!err)
			err = field(p, elem, "deny", false, parse_deny, rule);
		if (!err && !rule->nallow && !rule->ndeny && !rule->nhosts)
			err = fail(p, NULL, "rule '%s' has no allow or deny entry", rule->name);
		path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

static int parse_policy(struct parser *p, json_t *root)
{
	static const char *const keys[] = { "version", "mode",	  "audit", "launchers",
					    "groups",  "servers", "rules", "admin_group",
					    "unix",    "dns",	  NULL };
	struct mf_policy *pol = p->policy;
	int err;

	if (!json_is_object(root))
		return fail(p, NULL, "expected the policy object, got %s", type_name(root));
	/* the version first: a newer format may have keys this one does not know */
	err = field(p, root, "version", true, parse_version, &pol->version);
	if (!err)
		err = check_keys(p, root, keys);
	if (!err)
		err = field(p, root, "mode", false, parse_mode, &pol->audit_only);
	if (!err)
		err = field(p, root, "audit", false, parse_audit, pol);
	if (!err)
		err = field(p, root, "admin_group", false, parse_launcher_group, &pol->admin_group);
	if (!err)
		err = field(p, root, "launchers", false, parse_launchers, NULL);
	if (!err)
		err = field(p, root, "groups", false, parse_groups, NULL);
	if (!err)
		err = field(p, root, "servers", false, parse_servers, NULL);
	if (!err)
		err = field(p, root, "rules", false, parse_rules, NULL);
	if (!err)
		err = parse_local(p, root, false, &pol->local);
	if (!err)
		err = parse_dns(p, root, &pol->dns);
	return err;
}

int mf_policy_parse(const char *text, size_t len, const char *filename, struct mf_policy **out,
		    char *err, size_t errlen)
{
	struct parser p = {
		.text = text,
		.len = len,
		.file = filename ? filename : "<policy>",
		.err = err,
		.errlen = errlen,
	};
	json_error_t jerr;
	json_t *root;
	int ret;

	*out = NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (err && errlen)
			snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", p.file,
				 jerr.line > 0 ? jerr.line : 1, jerr.column > 0 ? jerr.column : 1,
				 jerr.text);
		return -EINVAL;
	}
	p.policy = calloc(1, sizeof(*p.policy));
	p.servers = json_object();
	p.groups = json_object();
	p.rules = json_object();
	p.execs = json_object();
	p.exec_kinds = json_object();
	if (!p.policy || !p.servers || !p.groups || !p.rules || !p.execs || !p.exec_kinds) {
		ret = fail_nomem(&p);
		goto out;
	}
	p.policy->audit_allowed = true; /* "flows" */
	p.policy->audit_window_s = MF_AUDIT_WINDOW_DEFAULT;
	p.policy->file = strdup(p.file);
	ret = p.policy->file ? parse_policy(&p, root) : fail_nomem(&p);
	if (!ret)
		record_positions(text, len, p.policy);
out:
	if (ret) {
		mf_policy_free(p.policy);
		p.policy = NULL;
	}
	*out = p.policy;
	json_decref(p.execs);
	json_decref(p.exec_kinds);
	json_decref(p.rules);
	json_decref(p.groups);
	json_decref(p.servers);
	json_decref(root);
	return ret;
}

static void free_strings(char **strs, size_t n)
{
	size_t i;

	for (i = 0; strs && i < n; i++)
		free(strs[i]);
	free(strs);
}

static void free_dests(struct mf_dest *dests, size_t n)
{
	size_t i;

	for (i = 0; dests && i < n; i++)
		free(dests[i].ports);
	free(dests);
}

void mf_policy_free(struct mf_policy *policy)
{
	size_t i;

	if (!policy)
		return;
	for (i = 0; i < policy->nrules; i++) {
		free(policy->rules[i].name);
		free(policy->rules[i].server);
		free_strings(policy->rules[i].who, policy->rules[i].nwho);
		free_dests(policy->rules[i].allow, policy->rules[i].nallow);
		free_dests(policy->rules[i].deny, policy->rules[i].ndeny);
		mf_hosts_free(policy->rules[i].hosts, policy->rules[i].nhosts);
	}
	free(policy->rules);
	for (i = 0; i < policy->nservers; i++) {
		free(policy->servers[i].name);
		free_strings(policy->servers[i].exec, policy->servers[i].nexec);
		for (size_t k = 0; k < policy->servers[i].nexec_args; k++) {
			free(policy->servers[i].exec_args[k].path);
			free_strings(policy->servers[i].exec_args[k].args,
				     policy->servers[i].exec_args[k].nargs);
		}
		free(policy->servers[i].exec_args);
		mf_local_free(&policy->servers[i].local);
		mf_isolation_free(&policy->servers[i].iso);
	}
	mf_local_free(&policy->local);
	free(policy->servers);
	for (i = 0; i < policy->ngroups; i++) {
		free(policy->groups[i].name);
		free_strings(policy->groups[i].members, policy->groups[i].nmembers);
	}
	free(policy->groups);
	for (i = 0; i < policy->nlaunchers; i++) {
		free(policy->launchers[i].user);
		free(policy->launchers[i].group);
		free(policy->launchers[i].exe);
		free_strings(policy->launchers[i].may_assert, policy->launchers[i].nmay_assert);
	}
	free(policy->launchers);
	free(policy->admin_group);
	free(policy->file);
	free(policy);
}

bool mf_pattern_match(const char *pattern, const char *name)
{
	/* Iterative glob with backtracking to the last star: linear in practice. */
	const char *star = NULL, *resume = NULL;

	while (*name) {
		if (*pattern == '*') {
			star = pattern++;
			resume = name;
		} else if (*pattern == *name) {
			pattern++;
			name++;
		} else if (star) {
			pattern = star + 1;
			name = ++resume;
		} else {
			return false;
		}
	}
	while (*pattern == '*')
		pattern++;
	return !*pattern;
}

uint64_t mf_exec_args_hash(char *const *args, size_t nargs)
{
	uint64_t h = MF_FNV1A_INIT;

	/* Each argument with its NUL, as the kernel reads them (match_args()). */
	for (size_t i = 0; i < nargs; i++)
		h = mf_fnv1a(h, args[i], strlen(args[i]) + 1);
	return h;
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

/* ---- addresses ---- */

uint8_t mf_dest_normalize(uint8_t family, const uint8_t *addr, uint8_t out[16])
{
	static const uint8_t zero[16];

	memset(out, 0, 16);
	if (family == MF_FAMILY_V6 && is_v4_mapped(addr)) {
		family = MF_FAMILY_V4;
		addr += 12;
	}
	if (family == MF_FAMILY_V4) {
		memcpy(out, addr, 4);
		if (!memcmp(out, zero, 4)) {
			out[0] = 127;
			out[3] = 1;
		}
		return family;
	}
	if (family != MF_FAMILY_V6)
		return 0;
	memcpy(out, addr, 16);
	if (!memcmp(out, zero, 16))
		out[15] = 1;
	return family;
}

bool mf_cidr_contains(const struct mf_cidr *cidr, const uint8_t *addr)
{
	unsigned int full = cidr->plen / 8, rest = cidr->plen % 8;

	if (memcmp(cidr->addr, addr, full))
		return false;
	return !rest || !((cidr->addr[full] ^ addr[full]) & (uint8_t)(0xff00 >> rest));
}

const char *mf_cidr_format(const struct mf_cidr *cidr, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(cidr->family == MF_FAMILY_V6 ? AF_INET6 : AF_INET, cidr->addr, addr,
		  sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, cidr->plen);
	return buf;
}
