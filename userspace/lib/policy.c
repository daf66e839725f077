// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy parser: the entry point and the top level (version, mode, audit,
 * launchers, groups, dns); the servers (policy_servers.c) and the rules
 * (policy_rules.c) each in their file, all on the machinery of
 * policy_parser.c. Calls flow down only: policy.c -> sections -> machinery.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_parser.h"

/* ---- top level fields ---- */

static int parse_version(struct parser *p, json_t *v, void *out)
{
	int err = pol_want_type(p, v, JSON_INTEGER);

	if (err)
		return err;
	if (json_integer_value(v) != MF_POLICY_VERSION)
		return pol_fail(p, NULL,
				"unsupported version %lld (this mcpfence reads version %d)",
				(long long)json_integer_value(v), MF_POLICY_VERSION);
	*(int *)out = MF_POLICY_VERSION;
	return 0;
}

static int parse_mode(struct parser *p, json_t *v, void *out)
{
	static const char *const modes[] = { "enforce", "audit", NULL };
	int mode, err;

	err = pol_parse_word(p, v, "mode", modes, "enforce or audit", &mode);
	if (!err)
		*(bool *)out = mode == 1;
	return err;
}

static int parse_audit_allowed(struct parser *p, json_t *v, void *out)
{
	static const char *const values[] = { "all", "flows", "none", NULL };
	struct mf_policy *pol = out;
	int value, err;

	err = pol_parse_word(p, v, "value", values, "all, flows or none", &value);
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
		return pol_fail(p, NULL,
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

	err = pol_want_type(p, v, JSON_OBJECT);
	if (!err)
		err = pol_check_keys(p, v, keys);
	if (!err)
		err = pol_field(p, v, "allowed", false, parse_audit_allowed, pol);
	if (!err)
		err = pol_field(p, v, "window", false, parse_audit_window, &pol->audit_window_s);
	return err;
}

static int parse_launcher_user(struct parser *p, json_t *v, void *out)
{
	return pol_parse_name(p, v, "user name", out);
}

static int parse_launcher_group(struct parser *p, json_t *v, void *out)
{
	return pol_parse_name(p, v, "group name", out);
}

/* Identity patterns: name characters and '*'. */
static int parse_may_assert(struct parser *p, json_t *v, void *out)
{
	struct mf_launcher *l = out;
	json_t *elem;
	size_t i;
	int err;

	err = pol_want_array(p, v, MF_MAX_MAY_ASSERT, "identity patterns", &l->nmay_assert);
	if (err)
		return err;
	l->may_assert = calloc(l->nmay_assert, sizeof(*l->may_assert));
	if (l->nmay_assert && !l->may_assert) {
		l->nmay_assert = 0;
		return pol_fail_nomem(p);
	}
	json_array_foreach(v, i, elem) {
		char probe[MF_NAME_MAX];
		const char *pat;
		size_t k = 0;

		pol_path_push_index(p, i);
		err = pol_want_type(p, elem, JSON_STRING);
		if (!err) {
			/* Valid when the pattern with its stars replaced is a valid name. */
			pat = json_string_value(elem);
			for (; pat[k] && k < sizeof(probe) - 1; k++)
				probe[k] = pat[k] == '*' ? 'x' : pat[k];
			probe[k] = '\0';
			if (pat[k] || !mf_name_valid(probe))
				err = pol_fail(p, NULL,
					       "invalid identity pattern '%s': " NAME_RULES
					       ", and '*'",
					       pol_quote(pat).s);
		}
		if (!err)
			err = pol_dup_string(p, json_string_value(elem), &l->may_assert[i]);
		pol_path_pop(p);
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

	err = pol_want_array(p, v, MF_MAX_LAUNCHERS, "launchers", &n);
	if (err)
		return err;
	pol->launchers = calloc(n, sizeof(*pol->launchers));
	if (n && !pol->launchers)
		return pol_fail_nomem(p);
	pol->nlaunchers = n;
	json_array_foreach(v, i, elem) {
		struct mf_launcher *l = &pol->launchers[i];

		pol_path_push_index(p, i);
		err = pol_want_type(p, elem, JSON_OBJECT);
		if (!err)
			err = pol_check_keys(p, elem, keys);
		if (!err)
			err = pol_field(p, elem, "user", false, parse_launcher_user, &l->user);
		if (!err)
			err = pol_field(p, elem, "group", false, parse_launcher_group, &l->group);
		if (!err)
			err = pol_field(p, elem, "exe", false, pol_parse_exec_path, &l->exe);
		if (!err)
			err = pol_field(p, elem, "may_assert", false, parse_may_assert, l);
		if (!err && !l->user && !l->group && !l->exe)
			err = pol_fail(p, NULL,
				       "a launcher needs a \"user\", a \"group\" or an \"exe\"");
		pol_path_pop(p);
		if (err)
			return err;
	}
	return 0;
}

static int parse_member(struct parser *p, json_t *v, void *out)
{
	return pol_parse_name(p, v, "identity", out);
}

static int parse_groups(struct parser *p, json_t *v, void *out)
{
	struct mf_policy *pol = p->policy;
	const char *name;
	json_t *members;
	size_t g = 0;
	int err;

	err = pol_want_type(p, v, JSON_OBJECT);
	if (err)
		return err;
	if (json_object_size(v) > MF_MAX_GROUPS)
		return pol_fail(p, NULL, "too many groups: %zu (limit %d)", json_object_size(v),
				MF_MAX_GROUPS);
	pol->groups = calloc(json_object_size(v), sizeof(*pol->groups));
	if (json_object_size(v) && !pol->groups)
		return pol_fail_nomem(p);
	pol->ngroups = json_object_size(v);
	json_object_foreach(v, name, members) {
		struct mf_group *grp = &pol->groups[g];

		if (!mf_name_valid(name))
			return pol_fail(p, name, "invalid group name '%s': " NAME_RULES,
					pol_quote(name).s);
		err = pol_dup_string(p, name, &grp->name);
		if (err)
			return err;
		if (json_object_set_new(p->groups, name, json_integer(g)))
			return pol_fail_nomem(p);
		pol_path_push_key(p, grp->name);
		err = pol_want_array(p, members, MF_MAX_MEMBERS, "members", &grp->nmembers);
		if (!err)
			err = pol_count(p, &p->nmembers, grp->nmembers, MF_MAX_MEMBERS,
					"group members");
		if (!err)
			err = pol_parse_elements(p, members, grp->nmembers, sizeof(*grp->members),
						 parse_member, (void **)&grp->members);
		pol_path_pop(p);
		if (err)
			return err;
		g++;
	}
	return 0;
}

/* The top-level "dns" key: policy_hosts.c. */
static int parse_dns(struct parser *p, json_t *root, struct mf_dns *out)
{
	struct mf_local_error e = { .index = -1 };
	int err = mf_dns_parse(root, out, &e);

	if (!err)
		return 0;
	pol_path_push_key(p, "dns");
	if (!strcmp(e.key, "dns"))
		e.key = NULL;
	err = pol_fail_local(p, &e);
	pol_path_pop(p);
	return err;
}

static int parse_policy(struct parser *p, json_t *root)
{
	static const char *const keys[] = { "version", "mode",	  "audit", "launchers",
					    "groups",  "servers", "rules", "admin_group",
					    "unix",    "dns",	  NULL };
	struct mf_policy *pol = p->policy;
	int err;

	if (!json_is_object(root))
		return pol_fail(p, NULL, "expected the policy object, got %s", pol_type_name(root));
	/* the version first: a newer format may have keys this one does not know */
	err = pol_field(p, root, "version", true, parse_version, &pol->version);
	if (!err)
		err = pol_check_keys(p, root, keys);
	if (!err)
		err = pol_field(p, root, "mode", false, parse_mode, &pol->audit_only);
	if (!err)
		err = pol_field(p, root, "audit", false, parse_audit, pol);
	if (!err)
		err = pol_field(p, root, "admin_group", false, parse_launcher_group,
				&pol->admin_group);
	if (!err)
		err = pol_field(p, root, "launchers", false, parse_launchers, NULL);
	if (!err)
		err = pol_field(p, root, "groups", false, parse_groups, NULL);
	if (!err)
		err = pol_field(p, root, "servers", false, pol_parse_servers, NULL);
	if (!err)
		err = pol_field(p, root, "rules", false, pol_parse_rules, NULL);
	if (!err)
		err = pol_parse_local(p, root, false, &pol->local);
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
		ret = pol_fail_nomem(&p);
		goto out;
	}
	p.policy->audit_allowed = true; /* "flows" */
	p.policy->audit_window_s = MF_AUDIT_WINDOW_DEFAULT;
	p.policy->file = strdup(p.file);
	ret = p.policy->file ? parse_policy(&p, root) : pol_fail_nomem(&p);
	if (!ret)
		pol_record_positions(text, len, p.policy);
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
