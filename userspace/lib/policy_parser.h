/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policy parser's machinery (policy_parser.c), private to
 * userspace/lib/policy*.c: the parser's state, the JSON path of the value at
 * hand, errors at FILE:LINE:COL, typed access to the json_t tree.
 *
 * Calls flow one way: policy.c (entry point, top level) calls the sections
 * (policy_servers.c, policy_rules.c), and all three call the machinery,
 * which calls none of them. policy_local.c, policy_tenants.c and
 * policy_hosts.c parse without it and hand back a struct mf_local_error (or a
 * message) that the caller here turns into FILE:LINE:COL.
 */
#ifndef MCPFENCE_POLICY_PARSER_H
#define MCPFENCE_POLICY_PARSER_H

#include <jansson.h>

#include "policy.h"

#define PATH_DEPTH 8
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

void pol_record_positions(const char *s, size_t len, struct mf_policy *pol);

/* ---- errors ---- */

void pol_path_push_key(struct parser *p, const char *key);
void pol_path_push_index(struct parser *p, size_t index);
void pol_path_pop(struct parser *p);

/* A user-given string made safe and short for a message. */
struct quoted {
	char s[100];
};

struct quoted pol_quote(const char *str);
int pol_fail(struct parser *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int pol_fail_nomem(struct parser *p);
int pol_fail_local(struct parser *p, const struct mf_local_error *e);

/* ---- typed access ---- */

typedef int (*field_fn)(struct parser *p, json_t *v, void *out);
typedef int (*element_fn)(struct parser *p, json_t *elem, void *item);

const char *pol_type_name(const json_t *v);
int pol_want_type(struct parser *p, const json_t *v, json_type type);
int pol_check_keys(struct parser *p, json_t *obj, const char *const *allowed);
int pol_field(struct parser *p, json_t *obj, const char *key, bool required, field_fn fn,
	      void *out);
int pol_dup_string(struct parser *p, const char *s, char **out);
int pol_parse_name(struct parser *p, json_t *v, const char *what, char **out);
int pol_parse_word(struct parser *p, json_t *v, const char *what, const char *const *choices,
		   const char *expected, int *out);
int pol_parse_bool(struct parser *p, json_t *v, void *out);
int pol_want_array(struct parser *p, json_t *v, size_t max, const char *what, size_t *n);
int pol_parse_elements(struct parser *p, json_t *v, size_t n, size_t item_size, element_fn fn,
		       void **items);
int pol_count(struct parser *p, size_t *counter, size_t add, size_t limit, const char *what);

/* ---- the sections, for policy.c ---- */

/* policy_servers.c */
int pol_parse_exec_path(struct parser *p, json_t *v, void *out);
int pol_parse_local(struct parser *p, json_t *obj, bool server, struct mf_local *out);
int pol_parse_servers(struct parser *p, json_t *v, void *out);

/* policy_rules.c */
int pol_parse_rules(struct parser *p, json_t *v, void *out);

#endif /* MCPFENCE_POLICY_PARSER_H */
