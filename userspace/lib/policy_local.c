// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy keys of local sockets and inbound: servers.NAME.unix (Unix socket
 * names a server's processes may connect or send to), servers.NAME.listen
 * (ports they may bind) and the top-level unix (names every server may
 * reach; absent: the defaults below). policy.c calls in here and turns an
 * error into its FILE:LINE:COL message.
 *
 * Names are exact: the kernel compares the bytes of sun_path, so a path
 * written another way ("//", "/./", a symlink's name) is another name.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

_Static_assert(MF_LISTEN_MAP_ENTRIES >= 2 * MF_MAX_SERVERS, "listen_ports holds both slots");
_Static_assert(MF_UNIX_MAP_ENTRIES >= 2 * (MF_MAX_UNIX + 1), "unix_allow holds both slots");

/*
 * Granted to every governed process when the policy has no top-level
 * "unix": local log sinks only. They take a process's log lines and act on
 * nothing else; a host that forwards its logs off the machine makes them a
 * (slow, recorded) channel: write "unix": [] then.
 * Not granted, on purpose: the resolvers that glibc tries before its own DNS
 * lookups (nscd at /run/nscd/socket, systemd-resolved's varlink socket
 * /run/systemd/resolve/io.systemd.Resolve): they resolve any name on the
 * caller's behalf, which sends the name (data) to the network around the
 * hooks. glibc falls back to its own lookups, which the hooks judge. Nor
 * D-Bus (/run/dbus/system_bus_socket): it reaches services that do network
 * work (resolved, NetworkManager, systemd).
 */
static char *unix_defaults[] = {
	"/dev/log",
	"/run/systemd/journal/dev-log",
	"/run/systemd/journal/socket",
};

static const struct mf_local defaults = {
	.unix_names = unix_defaults,
	.nunix = sizeof(unix_defaults) / sizeof(unix_defaults[0]),
};

const struct mf_local *mf_local_any(const struct mf_policy *policy)
{
	return policy->local.unix_given ? &policy->local : &defaults;
}

int mf_local_fail(struct mf_local_error *e, const char *key, long index, const char *fmt, ...)
{
	va_list ap;

	e->key = key;
	e->index = index;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A path component that makes the written path differ from the one resolved. */
static bool odd_component(const char *path)
{
	return strstr(path, "//") || strstr(path, "/./") || strstr(path, "/../") ||
	       (strlen(path) > 1 && path[strlen(path) - 1] == '/') ||
	       (strlen(path) >= 2 && !strcmp(path + strlen(path) - 2, "/.")) ||
	       (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/.."));
}

int mf_unix_name_bytes(const char *name, uint8_t *out)
{
	size_t n = strlen(name);

	memset(out, 0, MF_UNIX_PATH_MAX);
	if (name[0] == '/' && n <= MF_UNIX_PATH_MAX) {
		memcpy(out, name, n);
		return n;
	}
	if (name[0] == '@' && n >= 2 && n <= MF_UNIX_PATH_MAX) {
		/* "@name" is the abstract name NUL "name": the same length. */
		memcpy(out + 1, name + 1, n - 1);
		return n;
	}
	return -1;
}

static int parse_unix_name(json_t *v, const char *key, size_t i, char **out,
			   struct mf_local_error *e)
{
	const char *s = json_string_value(v);
	uint8_t bytes[MF_UNIX_PATH_MAX];

	if (!s)
		return mf_local_fail(e, key, i, "expected a socket path or \"@abstract-name\"");
	if (strlen(s) != json_string_length(v))
		return mf_local_fail(e, key, i, "a socket name cannot hold a NUL character");
	if (s[0] != '/' && s[0] != '@')
		return mf_local_fail(
			e, key, i, "'%.120s' is neither an absolute path nor an \"@abstract\" name",
			s);
	if (mf_unix_name_bytes(s, bytes) < 0)
		return mf_local_fail(e, key, i,
				     "socket name '%.120s' is empty or longer than %d bytes", s,
				     MF_UNIX_PATH_MAX);
	if (s[0] == '/' && odd_component(s))
		return mf_local_fail(
			e, key, i,
			"socket path '%s' is not written plainly (no '//', '.', '..' or "
			"trailing '/')",
			s);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int parse_unix(json_t *v, struct mf_local *out, size_t *nunix, struct mf_local_error *e)
{
	size_t i;
	json_t *elem;
	int err;

	if (!json_is_array(v))
		return mf_local_fail(e, "unix", -1, "expected an array of socket names");
	*nunix += json_array_size(v);
	if (*nunix > MF_MAX_UNIX)
		return mf_local_fail(e, "unix", -1,
				     "too many unix socket names in the policy (limit %d)",
				     MF_MAX_UNIX);
	out->unix_given = true;
	out->unix_names = calloc(json_array_size(v) + 1, sizeof(*out->unix_names));
	if (!out->unix_names)
		return -ENOMEM;
	json_array_foreach(v, i, elem) {
		err = parse_unix_name(elem, "unix", i, &out->unix_names[i], e);
		if (err)
			return err;
		out->nunix++;
	}
	return 0;
}

/* A port 1..65535 or "LOW-HIGH". */
static int parse_listen_port(json_t *v, size_t i, struct mf_port_range *r, struct mf_local_error *e)
{
	const char *s = json_string_value(v);
	long long lo, hi;
	char *end;

	if (json_is_integer(v)) {
		lo = hi = json_integer_value(v);
	} else if (s && s[0] >= '1' && s[0] <= '9') {
		lo = hi = strtoll(s, &end, 10);
		if (*end == '-' && end[1] >= '1' && end[1] <= '9')
			hi = strtoll(end + 1, &end, 10);
		if (*end)
			return mf_local_fail(
				e, "listen", i,
				"invalid port range '%.40s' (expected \"N\" or \"LOW-HIGH\")", s);
	} else {
		return mf_local_fail(e, "listen", i,
				     "expected a port number or a \"LOW-HIGH\" string");
	}
	if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535)
		return mf_local_fail(
			e, "listen", i,
			"port %lld out of range 1..65535 (binding port 0 is always allowed)",
			lo < 1 || lo > 65535 ? lo : hi);
	if (lo > hi)
		return mf_local_fail(e, "listen", i, "invalid port range: %lld is above %lld", lo,
				     hi);
	r->lo = lo;
	r->hi = hi;
	return 0;
}

static int parse_listen(json_t *v, struct mf_local *out, struct mf_local_error *e)
{
	size_t i;
	json_t *elem;
	int err;

	if (!json_is_array(v))
		return mf_local_fail(e, "listen", -1, "expected an array of ports and port ranges");
	if (json_array_size(v) > MF_LISTEN_MAX_RANGES)
		return mf_local_fail(e, "listen", -1, "too many listen ports: %zu (limit %d)",
				     json_array_size(v), MF_LISTEN_MAX_RANGES);
	out->listen = calloc(json_array_size(v) + 1, sizeof(*out->listen));
	if (!out->listen)
		return -ENOMEM;
	json_array_foreach(v, i, elem) {
		err = parse_listen_port(elem, i, &out->listen[i], e);
		if (err)
			return err;
		out->nlisten++;
	}
	return 0;
}

int mf_local_parse(json_t *obj, bool server, struct mf_local *out, size_t *nunix,
		   struct mf_local_error *e)
{
	json_t *v;
	int err = 0;

	v = json_object_get(obj, "unix");
	if (v)
		err = parse_unix(v, out, nunix, e);
	v = json_object_get(obj, "listen");
	if (!err && v && server)
		err = parse_listen(v, out, e);
	return err;
}

void mf_local_free(struct mf_local *local)
{
	for (size_t i = 0; i < local->nunix; i++)
		free(local->unix_names[i]);
	free(local->unix_names);
	free(local->listen);
	memset(local, 0, sizeof(*local));
}
