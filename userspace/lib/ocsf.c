// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Audit records as OCSF 1.3.0 events. The mapping, in one table per class:
 *
 *   record                      OCSF
 *   ts                          time (ms since the epoch), metadata.original_time
 *   verdict allow               action_id 1 Allowed, disposition_id 1 Allowed,
 *                               status_id 1 Success, severity_id 1 Informational
 *   verdict would-deny          the same (the audit mode let it through),
 *                               severity_id 2 Low
 *   verdict deny                action_id 2 Denied, disposition_id 2 Blocked,
 *                               status_id 2 Failure, severity_id 3 Medium
 *                               (4 High where the process was killed)
 *   identity                    actor.user.name (the chat user it acts for)
 *   pid, tid, comm              actor.process.pid, .tid, .name
 *   addr, port, host            dst_endpoint.ip, .port, .hostname (bind and
 *                               listen: src_endpoint, the local side)
 *   path (Unix sockets)         dst_endpoint.name
 *   proto, family               connection_info.protocol_name, protocol_num,
 *                               protocol_ver_id (4 or 6)
 *   count (a flow's summary)    count
 *   name, qtype (dns)           query.hostname, query.type
 *   the whole record            unmapped
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mf_version.h"
#include "ocsf.h"

enum {
	CLASS_BASE = 0,
	CLASS_NETWORK = 4001,
	CLASS_DNS = 4003,
};

enum {
	ACTIVITY_OPEN = 1,
	ACTIVITY_QUERY = 1, /* DNS Activity */
	ACTIVITY_TRAFFIC = 6,
	ACTIVITY_OTHER = 99,
};

static const struct ocsf_kind {
	const char *event; /* the record's "event" */
	int class_uid;
	int activity_id;
	const char *activity_name;
	int direction_id; /* connection_info: 1 inbound, 2 outbound, 0 none */
} kinds[] = {
	{ "connect", CLASS_NETWORK, ACTIVITY_OPEN, "Open", 2 },
	{ "sendmsg", CLASS_NETWORK, ACTIVITY_TRAFFIC, "Traffic", 2 },
	{ "unix-connect", CLASS_NETWORK, ACTIVITY_OPEN, "Open", 2 },
	{ "unix-sendmsg", CLASS_NETWORK, ACTIVITY_TRAFFIC, "Traffic", 2 },
	{ "source-route", CLASS_NETWORK, ACTIVITY_TRAFFIC, "Traffic", 2 },
	{ "bind", CLASS_NETWORK, ACTIVITY_OTHER, "Bind", 1 },
	{ "listen", CLASS_NETWORK, ACTIVITY_OTHER, "Listen", 1 },
	{ "dns", CLASS_DNS, ACTIVITY_QUERY, "Query", 0 },
};

static const char *str(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

static bool is(const json_t *rec, const char *key, const char *want)
{
	const char *v = str(rec, key);

	return v && !strcmp(v, want);
}

/* "2026-11-30T12:00:00.123Z" -> ms since the epoch; -1 when malformed. */
static long long ts_ms(const char *ts)
{
	struct tm tm = {};
	int ms = 0, n = 0;

	if (!ts ||
	    sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 ||
	    n != (int)strlen(ts))
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000 + ms;
}

/* Sets key to a copy of rec's value under from, where it has one. */
static void copy(json_t *to, const char *key, const json_t *rec, const char *from)
{
	json_t *v = json_object_get(rec, from);

	if (v)
		json_object_set(to, key, v);
}

static void set_if_filled(json_t *parent, const char *key, json_t *obj)
{
	if (json_object_size(obj))
		json_object_set(parent, key, obj);
	json_decref(obj);
}

static void outcome(json_t *ev, const json_t *rec)
{
	bool denied = is(rec, "verdict", "deny");
	const char *event = str(rec, "event");
	bool killed = event && strlen(event) > 5 && !strcmp(event + strlen(event) - 5, "-kill");
	int severity = killed ? 4 : denied ? 3 : is(rec, "verdict", "would-deny") ? 2 : 1;

	json_object_set_new(ev, "severity_id", json_integer(severity));
	if (!json_object_get(rec, "verdict"))
		return;
	json_object_set_new(ev, "action_id", json_integer(denied ? 2 : 1));
	json_object_set_new(ev, "action", json_string(denied ? "Denied" : "Allowed"));
	json_object_set_new(ev, "disposition_id", json_integer(denied ? 2 : 1));
	json_object_set_new(ev, "disposition", json_string(denied ? "Blocked" : "Allowed"));
	json_object_set_new(ev, "status_id", json_integer(denied ? 2 : 1));
	json_object_set_new(ev, "status", json_string(denied ? "Failure" : "Success"));
}

static void actor(json_t *ev, const json_t *rec)
{
	json_t *a = json_object(), *proc = json_object(), *user = json_object();

	copy(proc, "pid", rec, "pid");
	copy(proc, "tid", rec, "tid");
	copy(proc, "name", rec, "comm");
	copy(user, "name", rec, "identity");
	set_if_filled(a, "process", proc);
	set_if_filled(a, "user", user);
	set_if_filled(ev, "actor", a);
}

static void endpoints(json_t *ev, const json_t *rec, const struct ocsf_kind *k)
{
	json_t *end = json_object(), *conn = json_object();
	const char *proto = str(rec, "proto");

	copy(end, "ip", rec, "addr");
	copy(end, "port", rec, "port");
	copy(end, "hostname", rec, "host");
	copy(end, "name", rec, "path");
	set_if_filled(ev, k->direction_id == 1 ? "src_endpoint" : "dst_endpoint", end);

	if (proto) {
		json_object_set_new(conn, "protocol_name", json_string(proto));
		if (!strcmp(proto, "tcp") || !strcmp(proto, "udp"))
			json_object_set_new(conn, "protocol_num",
					    json_integer(!strcmp(proto, "tcp") ? 6 : 17));
	}
	if (is(rec, "family", "ipv4") || is(rec, "family", "ipv6"))
		json_object_set_new(conn, "protocol_ver_id",
				    json_integer(is(rec, "family", "ipv4") ? 4 : 6));
	json_object_set_new(conn, "direction_id", json_integer(k->direction_id));
	set_if_filled(ev, "connection_info", conn);
}

static void dns_query(json_t *ev, const json_t *rec)
{
	json_t *q = json_object();

	copy(q, "hostname", rec, "name");
	copy(q, "type", rec, "qtype");
	set_if_filled(ev, "query", q);
}

json_t *mf_ocsf_event(const json_t *rec)
{
	static const struct ocsf_kind base = { NULL, CLASS_BASE, ACTIVITY_OTHER, NULL, 0 };
	const struct ocsf_kind *k = &base;
	const char *event = str(rec, "event");
	long long ms = ts_ms(str(rec, "ts"));
	json_t *ev, *meta;

	for (size_t i = 0; event && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(event, kinds[i].event))
			k = &kinds[i];

	ev = json_object();
	meta = json_pack("{s:s, s:{s:s, s:s, s:s}}", "version", MF_OCSF_VERSION, "product", "name",
			 "mcpfence", "vendor_name", "mcpfence", "version", MF_VERSION);
	if (!ev || !meta) {
		json_decref(ev);
		json_decref(meta);
		return NULL;
	}
	copy(meta, "original_time", rec, "ts");
	json_object_set_new(ev, "metadata", meta);
	json_object_set_new(ev, "class_uid", json_integer(k->class_uid));
	json_object_set_new(ev, "category_uid", json_integer(k->class_uid / 1000));
	json_object_set_new(ev, "activity_id", json_integer(k->activity_id));
	json_object_set_new(ev, "activity_name",
			    json_string(k->activity_name ? k->activity_name :
					event		 ? event :
							   "unknown"));
	json_object_set_new(ev, "type_uid", json_integer(k->class_uid * 100 + k->activity_id));
	if (ms >= 0)
		json_object_set_new(ev, "time", json_integer(ms));
	outcome(ev, rec);
	actor(ev, rec);
	if (k->class_uid == CLASS_NETWORK)
		endpoints(ev, rec, k);
	else if (k->class_uid == CLASS_DNS)
		dns_query(ev, rec);
	copy(ev, "count", rec, "count");
	json_object_set(ev, "unmapped", (json_t *)rec);
	return ev;
}
