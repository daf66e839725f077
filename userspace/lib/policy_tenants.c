// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy keys of isolated servers: servers.NAME.isolate (the agent launches
 * the server under a uid of its own per (identity, server)), .filesystem.read
 * (paths it may read and execute besides the system's) and .credentials
 * (secrets the agent reads for the launched identity and hands to the server
 * alone). policy.c calls in here and turns an error into its FILE:LINE:COL
 * message. What the files themselves must be (root's, 0600) is the agent's
 * check: `policy check` runs unprivileged and may not see them.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define IDENTITY_PLACEHOLDER "{identity}"

/* An absolute path written plainly: what Landlock and open() see is what
 * the policy says. */
static bool plain_path(const char *s, size_t len)
{
	if (s[0] != '/' || strlen(s) != len || len >= PATH_MAX)
		return false;
	if (strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../"))
		return false;
	if (len > 1 && s[len - 1] == '/')
		return false;
	return !(len >= 2 && !strcmp(s + len - 2, "/.")) &&
	       !(len >= 3 && !strcmp(s + len - 3, "/.."));
}

/* Names that the agent sets itself, or that change how the loader or a
 * shell behaves: a credential never replaces them. */
static bool reserved_env(const char *s)
{
	static const char *const names[] = { "HOME",  "TMPDIR", "PATH", "USER",	    "LOGNAME",
					     "SHELL", "IFS",	"ENV",	"BASH_ENV", NULL };

	for (size_t i = 0; names[i]; i++) {
		if (!strcmp(s, names[i]))
			return true;
	}
	return !strncmp(s, "LD_", 3) || !strncmp(s, "MCPFENCE_", 9);
}

static bool env_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MF_CREDENTIAL_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	}
	return true;
}

static bool file_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MF_CREDENTIAL_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	}
	return true;
}

static int dup_to(const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int parse_fs(json_t *v, struct mf_isolation *out, struct mf_local_error *e)
{
	json_t *read, *elem;
	const char *key;
	size_t i;

	if (!json_is_object(v))
		return mf_local_fail(e, "filesystem", -1, "expected an object with \"read\"");
	json_object_foreach(v, key, elem) {
		if (strcmp(key, "read"))
			return mf_local_fail(e, "filesystem", -1,
					     "unknown key '%.64s' (only \"read\")", key);
	}
	read = json_object_get(v, "read");
	if (!read)
		return 0;
	if (!json_is_array(read) || json_array_size(read) > MF_MAX_FS_READ)
		return mf_local_fail(e, "filesystem", -1,
				     "\"read\": expected an array of at most %d absolute paths",
				     MF_MAX_FS_READ);
	out->fs_read = calloc(json_array_size(read) + 1, sizeof(*out->fs_read));
	if (!out->fs_read)
		return -ENOMEM;
	json_array_foreach(read, i, elem) {
		const char *s = json_string_value(elem);

		if (!s || !plain_path(s, json_string_length(elem)))
			return mf_local_fail(
				e, "filesystem", -1,
				"\"read\"[%zu]: expected an absolute path written plainly "
				"(no '//', '.', '..' or trailing '/')",
				i);
		if (dup_to(s, &out->fs_read[i]))
			return -ENOMEM;
		out->nfs_read++;
	}
	return 0;
}

/* "file": absolute, plain, and "{identity}" once, as a whole component:
 * an identity name cannot hold '/', so each identity has its own file. */
static int parse_cred_file(json_t *v, size_t i, struct mf_credential *c, struct mf_local_error *e)
{
	const char *s = json_string_value(v), *at;
	size_t n = s ? json_string_length(v) : 0;

	if (!s || !plain_path(s, n))
		return mf_local_fail(e, "credentials", i,
				     "\"file\": expected an absolute path written plainly, with "
				     "\"" IDENTITY_PLACEHOLDER "\"");
	at = strstr(s, IDENTITY_PLACEHOLDER);
	if (!at || strstr(at + 1, IDENTITY_PLACEHOLDER) || at[-1] != '/' ||
	    (at[strlen(IDENTITY_PLACEHOLDER)] != '\0' && at[strlen(IDENTITY_PLACEHOLDER)] != '/'))
		return mf_local_fail(e, "credentials", i,
				     "\"file\": '%.120s' must hold \"" IDENTITY_PLACEHOLDER
				     "\" once, as a whole path component (one file per identity)",
				     s);
	return dup_to(s, &c->file);
}

static int parse_cred(json_t *v, size_t i, struct mf_credential *c, struct mf_local_error *e)
{
	json_t *env = json_object_get(v, "env"), *as_file = json_object_get(v, "as_file");
	const char *key;
	json_t *elem;
	int err;

	if (!json_is_object(v))
		return mf_local_fail(e, "credentials", i, "expected an object with \"file\"");
	json_object_foreach(v, key, elem) {
		if (strcmp(key, "env") && strcmp(key, "file") && strcmp(key, "as_file"))
			return mf_local_fail(e, "credentials", i,
					     "unknown key '%.64s' (env, file, as_file)", key);
	}
	if (!json_object_get(v, "file"))
		return mf_local_fail(e, "credentials", i, "missing key 'file'");
	if (!env && !as_file)
		return mf_local_fail(
			e, "credentials", i,
			"give \"env\", \"as_file\" or both: how the server receives it");
	if (env && (!json_is_string(env) || !env_name_valid(json_string_value(env)) ||
		    reserved_env(json_string_value(env))))
		return mf_local_fail(
			e, "credentials", i,
			"\"env\": expected a variable name of A-Z 0-9 _ (at most %d), not "
			"one the agent sets (HOME, PATH, MCPFENCE_*, LD_*, ...)",
			MF_CREDENTIAL_NAME_MAX);
	if (as_file && (!json_is_string(as_file) || !file_name_valid(json_string_value(as_file))))
		return mf_local_fail(
			e, "credentials", i,
			"\"as_file\": expected a file name of A-Z a-z 0-9 . _ - (at most %d, "
			"no leading '.' or '-')",
			MF_CREDENTIAL_NAME_MAX);
	err = parse_cred_file(json_object_get(v, "file"), i, c, e);
	if (!err && env)
		err = dup_to(json_string_value(env), &c->env);
	if (!err && as_file)
		err = dup_to(json_string_value(as_file), &c->as_file);
	return err;
}

static int parse_creds(json_t *v, struct mf_isolation *out, struct mf_local_error *e)
{
	json_t *elem;
	size_t i;
	int err;

	if (!json_is_array(v) || json_array_size(v) > MF_MAX_CREDENTIALS)
		return mf_local_fail(e, "credentials", -1,
				     "expected an array of at most %d credentials",
				     MF_MAX_CREDENTIALS);
	out->creds = calloc(json_array_size(v) + 1, sizeof(*out->creds));
	if (!out->creds)
		return -ENOMEM;
	json_array_foreach(v, i, elem) {
		err = parse_cred(elem, i, &out->creds[i], e);
		out->ncreds++;
		if (err)
			return err;
		/* One name per credential: `mcpfence credential NAME` finds one. */
		for (size_t k = 0; k < i; k++) {
			const struct mf_credential *a = &out->creds[k], *b = &out->creds[i];

			if (!strcmp(mf_credential_name(a), mf_credential_name(b)) ||
			    (a->env && b->env && !strcmp(a->env, b->env)) ||
			    (a->as_file && b->as_file && !strcmp(a->as_file, b->as_file)))
				return mf_local_fail(e, "credentials", i,
						     "'%s' is named by credential %zu already",
						     mf_credential_name(b), k);
		}
	}
	return 0;
}

int mf_isolation_parse(json_t *srv, struct mf_isolation *out, struct mf_local_error *e)
{
	json_t *v;
	int err;

	v = json_object_get(srv, "isolate");
	if (v && !json_is_boolean(v))
		return mf_local_fail(e, "isolate", -1, "expected true or false");
	out->isolate = json_is_true(v);
	/* Else anyone's process running the binary is this server, under its
	 * own uid: what isolation is for is gone. */
	if (out->isolate && json_array_size(json_object_get(srv, "exec")))
		return mf_local_fail(
			e, "isolate", -1,
			"an isolated server is started by the agent only: it has no \"exec\" "
			"matches");
	v = json_object_get(srv, "filesystem");
	if (v) {
		err = parse_fs(v, out, e);
		if (err)
			return err;
		if (!out->isolate)
			return mf_local_fail(e, "filesystem", -1,
					     "only isolated servers have a filesystem scope: add "
					     "\"isolate\": true");
	}
	v = json_object_get(srv, "credentials");
	if (v) {
		err = parse_creds(v, out, e);
		if (err)
			return err;
		/* Else the server runs as its launcher, who could read them all. */
		if (!out->isolate)
			return mf_local_fail(e, "credentials", -1,
					     "a server with credentials must be isolated: add "
					     "\"isolate\": true");
	}
	return 0;
}

void mf_isolation_free(struct mf_isolation *iso)
{
	for (size_t i = 0; i < iso->nfs_read; i++)
		free(iso->fs_read[i]);
	free(iso->fs_read);
	for (size_t i = 0; i < iso->ncreds; i++) {
		free(iso->creds[i].env);
		free(iso->creds[i].as_file);
		free(iso->creds[i].file);
	}
	free(iso->creds);
	memset(iso, 0, sizeof(*iso));
}

const char *mf_credential_name(const struct mf_credential *c)
{
	return c->env ? c->env : c->as_file ? c->as_file : "";
}

bool mf_credential_path(const struct mf_credential *c, const char *identity, char *buf, size_t len)
{
	const char *at = strstr(c->file, IDENTITY_PLACEHOLDER);
	int n;

	if (!at)
		return false;
	n = snprintf(buf, len, "%.*s%s%s", (int)(at - c->file), c->file, identity,
		     at + strlen(IDENTITY_PLACEHOLDER));
	return n > 0 && (size_t)n < len;
}
