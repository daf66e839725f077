// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Audit records as OCSF events (ocsf.c): each class's fields from the
 * record, the verdict as action/disposition/status, the record kept whole
 * under "unmapped", and every record given an event (Base Event at worst).
 */
#include <stdlib.h>

#include "ocsf.h"
#include "tap.h"

static json_t *event_of(const char *record_text)
{
	json_t *rec = json_loads(record_text, 0, NULL), *ev;

	if (!rec)
		abort();
	ev = mf_ocsf_event(rec);
	json_decref(rec);
	if (!ev)
		abort();
	return ev;
}

/* The value at a dotted path, as compact JSON ("(none)" when absent). */
static const char *at(json_t *ev, const char *path)
{
	static char out[512];
	char key[128], *dot, *rest = key;
	json_t *v = ev;
	char *dumped;

	snprintf(key, sizeof(key), "%s", path);
	while (v && rest) {
		dot = strchr(rest, '.');
		if (dot)
			*dot = '\0';
		v = json_object_get(v, rest);
		rest = dot ? dot + 1 : NULL;
	}
	if (!v)
		return "(none)";
	dumped = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	snprintf(out, sizeof(out), "%s", dumped ? dumped : "?");
	free(dumped);
	return out;
}

static void test_connect_denied(void)
{
	json_t *ev =
		event_of("{\"ts\":\"2026-11-30T12:00:01.250Z\",\"schema\":1,\"event\":\"connect\","
			 "\"verdict\":\"deny\",\"identity\":\"alice\",\"server\":\"fetch\","
			 "\"pid\":42,\"tid\":43,\"comm\":\"python3\",\"family\":\"ipv4\","
			 "\"proto\":\"tcp\",\"addr\":\"127.0.0.1\",\"port\":7001,"
			 "\"rule\":\"(default)\",\"flow\":\"first\"}");

	subtest_start("connect, denied: Network Activity, Open, Denied/Blocked");
	ASSERT_STREQ(at(ev, "class_uid"), "4001", "class");
	ASSERT_STREQ(at(ev, "category_uid"), "4", "category");
	ASSERT_STREQ(at(ev, "activity_id"), "1", "activity");
	ASSERT_STREQ(at(ev, "type_uid"), "400101", "type_uid");
	ASSERT_STREQ(at(ev, "time"), "1796040001250", "time in ms");
	ASSERT_STREQ(at(ev, "metadata.original_time"), "\"2026-11-30T12:00:01.250Z\"", "time kept");
	ASSERT_STREQ(at(ev, "metadata.version"), "\"1.3.0\"", "OCSF version");
	ASSERT_STREQ(at(ev, "metadata.product.name"), "\"mcpfence\"", "product");
	ASSERT_STREQ(at(ev, "action_id"), "2", "action");
	ASSERT_STREQ(at(ev, "disposition_id"), "2", "disposition");
	ASSERT_STREQ(at(ev, "status_id"), "2", "status");
	ASSERT_STREQ(at(ev, "severity_id"), "3", "severity");
	ASSERT_STREQ(at(ev, "actor.user.name"), "\"alice\"", "identity");
	ASSERT_STREQ(at(ev, "actor.process.pid"), "42", "pid");
	ASSERT_STREQ(at(ev, "actor.process.name"), "\"python3\"", "comm");
	ASSERT_STREQ(at(ev, "dst_endpoint.ip"), "\"127.0.0.1\"", "address");
	ASSERT_STREQ(at(ev, "dst_endpoint.port"), "7001", "port");
	ASSERT_STREQ(at(ev, "connection_info.protocol_num"), "6", "tcp");
	ASSERT_STREQ(at(ev, "connection_info.protocol_ver_id"), "4", "ipv4");
	ASSERT_STREQ(at(ev, "connection_info.direction_id"), "2", "outbound");
	ASSERT_STREQ(at(ev, "unmapped.server"), "\"fetch\"", "the record, whole");
	ASSERT_STREQ(at(ev, "unmapped.rule"), "\"(default)\"", "the record, whole");
	subtest_end();
	json_decref(ev);
}

static void test_flow_summary(void)
{
	json_t *ev = event_of("{\"ts\":\"2026-11-30T12:00:11.000Z\",\"event\":\"sendmsg\","
			      "\"verdict\":\"allow\",\"identity\":\"bob\",\"family\":\"ipv6\","
			      "\"proto\":\"udp\",\"addr\":\"::1\",\"port\":53,\"host\":\"x.test\","
			      "\"flow\":\"summary\",\"count\":17}");

	subtest_start("a flow's summary: Traffic, Allowed, its count, the name");
	ASSERT_STREQ(at(ev, "activity_id"), "6", "traffic");
	ASSERT_STREQ(at(ev, "action_id"), "1", "allowed");
	ASSERT_STREQ(at(ev, "severity_id"), "1", "informational");
	ASSERT_STREQ(at(ev, "count"), "17", "count");
	ASSERT_STREQ(at(ev, "dst_endpoint.hostname"), "\"x.test\"", "name it was learned from");
	ASSERT_STREQ(at(ev, "connection_info.protocol_num"), "17", "udp");
	ASSERT_STREQ(at(ev, "connection_info.protocol_ver_id"), "6", "ipv6");
	subtest_end();
	json_decref(ev);
}

static void test_listen_local(void)
{
	json_t *ev = event_of("{\"ts\":\"2026-11-30T12:00:00.000Z\",\"event\":\"listen\","
			      "\"verdict\":\"deny\",\"proto\":\"tcp\",\"port\":8080}");

	subtest_start("listen: the local side is the source endpoint, inbound");
	ASSERT_STREQ(at(ev, "src_endpoint.port"), "8080", "local port");
	ASSERT_STREQ(at(ev, "dst_endpoint"), "(none)", "no destination");
	ASSERT_STREQ(at(ev, "activity_name"), "\"Listen\"", "activity name");
	ASSERT_STREQ(at(ev, "connection_info.direction_id"), "1", "inbound");
	subtest_end();
	json_decref(ev);
}

static void test_dns(void)
{
	json_t *ev = event_of("{\"ts\":\"2026-11-30T12:00:00.000Z\",\"event\":\"dns\","
			      "\"verdict\":\"deny\",\"name\":\"evil.test\",\"qtype\":\"A\"}");

	subtest_start("dns: DNS Activity, the query");
	ASSERT_STREQ(at(ev, "class_uid"), "4003", "class");
	ASSERT_STREQ(at(ev, "type_uid"), "400301", "type_uid");
	ASSERT_STREQ(at(ev, "query.hostname"), "\"evil.test\"", "name");
	ASSERT_STREQ(at(ev, "query.type"), "\"A\"", "type");
	subtest_end();
	json_decref(ev);
}

static void test_base(void)
{
	json_t *ev = event_of("{\"ts\":\"bad\",\"event\":\"socket-kill\",\"verdict\":\"deny\"}");
	json_t *none = event_of("{}");

	subtest_start("other records: Base Event, nothing left out");
	ASSERT_STREQ(at(ev, "class_uid"), "0", "base");
	ASSERT_STREQ(at(ev, "type_uid"), "99", "type_uid");
	ASSERT_STREQ(at(ev, "activity_name"), "\"socket-kill\"", "the event as activity name");
	ASSERT_STREQ(at(ev, "severity_id"), "4", "a kill is high");
	ASSERT_STREQ(at(ev, "time"), "(none)", "a malformed ts gives no time");
	ASSERT_STREQ(at(none, "activity_name"), "\"unknown\"", "even an empty record");
	ASSERT_STREQ(at(none, "action_id"), "(none)", "no verdict, no action");
	subtest_end();
	json_decref(ev);
	json_decref(none);
}

int main(void)
{
	test_connect_denied();
	test_flow_summary();
	test_listen_local();
	test_dns();
	test_base();
	return tap_done();
}
