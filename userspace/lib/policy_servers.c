// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The "servers" of a policy: the executables that make a process one
 * (plain paths, or interpreters with their arguments), and the keys whose
 * parsers live beside: "unix" and "listen" (policy_local.c), "isolate",
 * "filesystem" and "credentials" (policy_tenants.c).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_parser.h"
#include "../../bpf/mcpfence_hash.h"

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
int pol_parse_exec_path(struct parser *p, json_t *v, void *out)
{
	const char *problem;
	int err = pol_want_type(p, v, JSON_STRING);

	if (!err && (problem = exec_path_problem(json_string_value(v))))
		err = pol_fail(p, NULL, "invalid executable path '%s': %s",
			       pol_quote(json_string_value(v)).s, problem);
	if (!err)
		err = pol_dup_string(p, json_string_value(v), out);
	return err;
}

/* Claim an executable for the server being parsed: one server per key, and a
 * path is either matched plainly or only with arguments, never both. */
static int claim_exec(struct parser *p, const char *path, const char *key, bool with_args)
{
	json_t *owner = json_object_get(p->execs, key);
	json_t *kind = json_object_get(p->exec_kinds, path);

	if (owner)
		return pol_fail(p, NULL, "'%s' is already an executable of server '%s'",
				pol_quote(path).s,
				p->policy->servers[json_integer_value(owner)].name);
	if (kind && json_is_true(kind) != with_args)
		return pol_fail(
			p, NULL,
			"'%s' is matched both with and without arguments: a plain path tags "
			"every process that runs it",
			pol_quote(path).s);
	if (json_object_set_new(p->execs, key, json_integer(p->server)) ||
	    json_object_set_new(p->exec_kinds, path, json_boolean(with_args)))
		return pol_fail_nomem(p);
	return 0;
}

static int parse_exec_arg_list(struct parser *p, json_t *v, void *out)
{
	struct mf_exec_args *ea = out;
	json_t *elem;
	size_t i;
	int err;

	err = pol_want_array(p, v, MF_EXEC_ARGS_MAX, "arguments", &ea->nargs);
	if (err)
		return err;
	ea->args = calloc(ea->nargs, sizeof(*ea->args));
	if (ea->nargs && !ea->args) {
		ea->nargs = 0;
		return pol_fail_nomem(p);
	}
	json_array_foreach(v, i, elem) {
		const char *arg;

		pol_path_push_index(p, i);
		err = pol_want_type(p, elem, JSON_STRING);
		arg = err ? NULL : json_string_value(elem);
		if (arg && (!arg[0] || json_string_length(elem) > MF_EXEC_ARG_MAX ||
			    strlen(arg) != json_string_length(elem)))
			err = pol_fail(p, NULL, "an argument is 1..%d bytes, without NUL",
				       MF_EXEC_ARG_MAX);
		if (!err)
			err = pol_dup_string(p, arg, &ea->args[i]);
		pol_path_pop(p);
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

	err = pol_check_keys(p, v, keys);
	if (!err)
		err = pol_field(p, v, "path", true, pol_parse_exec_path, &ea->path);
	if (!err)
		err = pol_field(p, v, "args", true, parse_exec_arg_list, ea);
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

	err = pol_want_array(p, v, MF_MAX_EXEC, "exec paths", &n);
	if (!err)
		err = pol_count(p, &p->nexec, n, MF_MAX_EXEC, "exec paths");
	if (err)
		return err;
	/* Sized for either form; nexec and nexec_args count what was used. */
	srv->exec = calloc(n, sizeof(*srv->exec));
	srv->exec_args = calloc(n, sizeof(*srv->exec_args));
	if (n && (!srv->exec || !srv->exec_args))
		return pol_fail_nomem(p);
	json_array_foreach(v, i, elem) {
		pol_path_push_index(p, i);
		if (json_is_object(elem)) {
			err = parse_exec_args(p, elem, &srv->exec_args[srv->nexec_args++]);
		} else if (json_is_string(elem)) {
			err = pol_parse_exec_path(p, elem, &srv->exec[srv->nexec]);
			if (!err)
				srv->nexec++;
			if (!err)
				err = claim_exec(p, srv->exec[srv->nexec - 1],
						 srv->exec[srv->nexec - 1], false);
		} else {
			err = pol_fail(
				p, NULL,
				"expected an executable path, or an object with \"path\" and "
				"\"args\", got %s",
				pol_type_name(elem));
		}
		pol_path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

/* The "unix" and "listen" keys of obj (a server, or the top level): policy_local.c. */
int pol_parse_local(struct parser *p, json_t *obj, bool server, struct mf_local *out)
{
	struct mf_local_error e = { .index = -1 };
	int err = mf_local_parse(obj, server, out, &p->policy->nunix, &e);

	if (err != -EINVAL)
		return err ? pol_fail_nomem(p) : 0;
	return pol_fail_local(p, &e);
}

/* "isolate", "filesystem" and "credentials" of a server: policy_tenants.c. */
static int parse_isolation(struct parser *p, json_t *srv, struct mf_isolation *out)
{
	struct mf_local_error e = { .index = -1 };
	int err = mf_isolation_parse(srv, out, &e);

	if (err != -EINVAL)
		return err ? pol_fail_nomem(p) : 0;
	return pol_fail_local(p, &e);
}

int pol_parse_servers(struct parser *p, json_t *v, void *out)
{
	static const char *const keys[] = { "exec",    "unix",	     "listen",	    "io_uring",
					    "isolate", "filesystem", "credentials", NULL };
	struct mf_policy *pol = p->policy;
	const char *name;
	json_t *srv;
	int err;

	err = pol_want_type(p, v, JSON_OBJECT);
	if (err)
		return err;
	if (json_object_size(v) > MF_MAX_SERVERS)
		return pol_fail(p, NULL, "too many servers: %zu (limit %d)", json_object_size(v),
				MF_MAX_SERVERS);
	pol->servers = calloc(json_object_size(v), sizeof(*pol->servers));
	if (json_object_size(v) && !pol->servers)
		return pol_fail_nomem(p);
	json_object_foreach(v, name, srv) {
		if (!mf_name_valid(name))
			return pol_fail(p, name, "invalid server name '%s': " NAME_RULES,
					pol_quote(name).s);
		p->server = pol->nservers++;
		err = pol_dup_string(p, name, &pol->servers[p->server].name);
		if (err)
			return err;
		if (json_object_set_new(p->servers, name, json_integer(p->server)))
			return pol_fail_nomem(p);
		pol_path_push_key(p, pol->servers[p->server].name);
		err = pol_want_type(p, srv, JSON_OBJECT);
		if (!err)
			err = pol_check_keys(p, srv, keys);
		if (!err)
			err = pol_field(p, srv, "exec", false, parse_exec, NULL);
		if (!err)
			err = pol_parse_local(p, srv, true, &pol->servers[p->server].local);
		if (!err)
			err = pol_field(p, srv, "io_uring", false, pol_parse_bool,
					&pol->servers[p->server].io_uring);
		if (!err)
			err = parse_isolation(p, srv, &pol->servers[p->server].iso);
		pol_path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

uint64_t mf_exec_args_hash(char *const *args, size_t nargs)
{
	uint64_t h = MF_FNV1A_INIT;

	/* Each argument with its NUL, as the kernel reads them (match_args()). */
	for (size_t i = 0; i < nargs; i++)
		h = mf_fnv1a(h, args[i], strlen(args[i]) + 1);
	return h;
}
