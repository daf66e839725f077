// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness: the agent's request handling, standalone.
 *
 * The agent's own ops.c (the table of operations and every handler),
 * control.c (replies, queues) and trust.c (who may assert what, tickets) run
 * unchanged, linked against the stand-ins below instead of the kernel:
 * - the tags map is a small table in memory (lookup, update with NOEXIST,
 *   walk), every other map unused by ops.c;
 * - names, counters and attached programs are fixed tables;
 * - a policy load parses and compiles (policy.c, compile.c) and becomes the
 *   current policy, without writing maps;
 * - audit records are checked and dropped; files are never read (a "path"
 *   load reads one fixed in-memory policy): the fuzzer must not open what it
 *   names.
 * Left out: the kernel maps and their failures, the audit log and
 * subscribers' streams, policy_apply.c's writes, a ticket taken with success
 * (ticket ids are 256 random bits), the socket I/O of control.c (fuzz_proto
 * covers the framing).
 *
 * Input: byte 0 picks the peer (uid root, nobody, or a user; pid this
 * process, init or none); the rest is request lines, as the agent reads them.
 * Checked: every request gets a reply; every line queued to the peer is one
 * JSON object; every audit record exists (a NULL one would be a lost record);
 * the handlers leave no leak or memory error (ASan) and no undefined
 * behaviour (UBSan).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "control.h"
#include "file.h"
#include "mcpfence.skel.h"
#include "fuzz.h"

#define TAGS_FD 1000
#define TAGS_MAX 16
#define NAMES_MAX 64

/* A policy with launchers, patterns, groups and servers to exercise the trust paths. */
static const char base_policy[] =
	"{ \"version\": 1, \"admin_group\": \"adm\",\n"
	"  \"launchers\": [ { \"user\": \"nobody\",\n"
	"                   \"may_assert\": [\"svc-*\", \"*@example.com\"] },\n"
	"                 { \"exe\": \"/usr/bin/gateway\" }, { \"group\": \"root\" } ],\n"
	"  \"groups\": { \"ops\": [\"alice\", \"svc-a\"] },\n"
	"  \"servers\": { \"fs\": {}, \"web\": { \"exec\": [\"/opt/web\"] } },\n"
	"  \"rules\": [ { \"name\": \"r\", \"server\": \"web\", \"who\": [\"group:ops\"],\n"
	"               \"allow\": [ { \"to\": \"127.0.0.0/8\", \"ports\": [80] } ] } ] }\n";

static struct agent agent;
static struct mcpfence_bpf skel;
static char tags_map; /* its address stands for the map */

static struct {
	uint32_t pid;
	struct mf_tag tag;
} tags[TAGS_MAX];
static size_t ntags;

static char *identity_names[NAMES_MAX], *server_names[NAMES_MAX];

/* ---- libbpf, as ops.c uses it: the tags map only ---- */

int bpf_map__fd(const struct bpf_map *map)
{
	return map == (const struct bpf_map *)&tags_map ? TAGS_FD : -EINVAL;
}

static long tag_index(int fd, const void *key)
{
	if (fd != TAGS_FD)
		return -EBADF;
	for (size_t i = 0; i < ntags; i++)
		if (tags[i].pid == *(const uint32_t *)key)
			return i;
	return -ENOENT;
}

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	long i = tag_index(fd, key);

	if (i < 0)
		return errno = -i, (int)i;
	memcpy(value, &tags[i].tag, sizeof(tags[i].tag));
	return 0;
}

int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags)
{
	long i = tag_index(fd, key);

	if (i == -EBADF)
		return errno = EBADF, -EBADF;
	if (i >= 0 && flags == BPF_NOEXIST)
		return errno = EEXIST, -EEXIST;
	if (i < 0 && ntags == TAGS_MAX)
		return errno = E2BIG, -E2BIG;
	if (i < 0)
		i = ntags++;
	tags[i].pid = *(const uint32_t *)key;
	memcpy(&tags[i].tag, value, sizeof(tags[i].tag));
	return 0;
}

/* tag_bits.c's, without the bits (no kernel map to set them in). */
int tag_insert(struct agent *a, uint32_t pid, const struct mf_tag *tag)
{
	return bpf_map_update_elem(bpf_map__fd(a->skel->maps.tags), &pid, tag, BPF_NOEXIST) ?
		       -errno :
		       0;
}

int bpf_map_delete_elem(int fd, const void *key)
{
	long i = tag_index(fd, key);

	if (i < 0)
		return errno = -i, (int)i;
	tags[i] = tags[--ntags];
	return 0;
}

int bpf_map_get_next_key(int fd, const void *key, void *next_key)
{
	long i = key ? tag_index(fd, key) : -1;

	if (fd != TAGS_FD)
		return errno = EBADF, -EBADF;
	if (i + 1 >= (long)ntags)
		return errno = ENOENT, -ENOENT;
	*(uint32_t *)next_key = tags[i + 1].pid;
	return 0;
}

/* ---- the rest of the agent ---- */

int audit_poll(struct agent *a)
{
	return 0;
}

void audit_emit(struct agent *a, json_t *record)
{
	char *line;

	if (!record)
		die("an audit record could not be built: it would be lost");
	line = mf_json_line(record, NULL);
	if (!line)
		die("an audit record cannot be encoded");
	free(line);
	json_decref(record);
}

/* launch.c forks and execs: its operations answer as a refusal would. */
void op_launch(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	client_reply_error(c, MF_E_INVALID_REQUEST, "launch: not in the fuzzer");
}

void op_signal(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	client_reply_error(c, MF_E_INVALID_REQUEST, "signal: not in the fuzzer");
}

void op_credential(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	client_reply_error(c, MF_E_INVALID_REQUEST, "credential: not in the fuzzer");
}

void launch_client_gone(struct agent *a, struct client *c)
{
}

void audit_set_sink(struct agent *a, const struct audit_sink *sink, void *ctx)
{
}

json_t *audit_log_status(struct agent *a)
{
	return json_object();
}

int bpf_syscall_tps_attach(struct agent *a)
{
	return 0;
}

int scope_move(struct agent *a, pid_t pid, char *why, size_t len)
{
	return 0;
}

const char *scope_tag_refusal(struct agent *a, const struct client *c, json_t *req, char *why,
			      size_t len)
{
	return NULL;
}

json_t *scope_status(const struct agent *a)
{
	return json_object();
}

json_t *audit_syslog_status(struct agent *a)
{
	return json_object();
}

char *metrics_text(struct agent *a, size_t *len)
{
	*len = 0;
	return strdup("");
}

void policy_load_report(struct agent *a, const char *trigger, const char *source, int ret,
			const char *err, const uid_t *uid)
{
}

json_t *policy_last_load(const struct agent *a)
{
	return json_null();
}

json_t *dns_status(struct agent *a)
{
	return json_object();
}

json_t *learned_list(struct agent *a, const char *identity, const char *server, const char *name)
{
	return json_array();
}

json_t *host_warnings(struct agent *a)
{
	return json_array();
}

bool audit_filter_match(const struct audit_record *rec, const char *identity, const char *verdict)
{
	return true;
}

json_t *bpf_attached_programs(struct agent *a)
{
	return json_array();
}

int bpf_read_counters(struct agent *a, uint64_t *out)
{
	memset(out, 0, MF_CNT_MAX * sizeof(*out));
	return 0;
}

static int name_id(char **table, const char *name, uint32_t *id)
{
	uint32_t i;

	for (i = 1; i < NAMES_MAX && table[i]; i++)
		if (!strcmp(table[i], name))
			break;
	if (i == NAMES_MAX)
		return -ENOSPC;
	if (!table[i] && !(table[i] = strdup(name)))
		return -ENOMEM;
	*id = i;
	return 0;
}

int identity_id_get(struct agent *a, const char *name, uint32_t *id)
{
	return name_id(identity_names, name, id);
}

int server_id_get(struct agent *a, const char *name, uint32_t *id)
{
	return name_id(server_names, name, id);
}

const char *server_name(struct agent *a, uint32_t id)
{
	return id < NAMES_MAX && server_names[id] ? server_names[id] : "?";
}

const char *identity_name(struct agent *a, uint32_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s", id < NAMES_MAX && identity_names[id] ? identity_names[id] : "?");
	return buf;
}

static void current_free(struct agent *a)
{
	mf_policy_free(a->current.policy);
	free(a->current.source);
	free(a->current.text);
	memset(&a->current, 0, sizeof(a->current));
}

int policy_load_text(struct agent *a, const char *text, size_t len, const char *source, char *err,
		     size_t errlen, json_t *warnings)
{
	struct mf_compiled *compiled = NULL;
	struct mf_policy *policy = NULL;
	uint32_t generation = a->current.generation;
	int ret;

	ret = mf_policy_parse(text, len, source, &policy, err, errlen);
	if (!ret)
		ret = mf_policy_compile(policy, &compiled, err, errlen);
	mf_compiled_free(compiled);
	if (ret) {
		mf_policy_free(policy);
		return ret;
	}
	current_free(a);
	a->current.policy = policy;
	a->current.generation = generation + 1;
	a->current.source = strdup(source);
	a->current.text = strndup(text, len);
	return 0;
}

/* Never the file system: the fuzzer would name FIFOs and devices. */
int mf_read_file(const char *path, size_t max, char **text, size_t *len)
{
	if (strcmp(path, "/fuzz/policy.json"))
		return -ENOENT;
	*text = strdup(base_policy);
	*len = strlen(base_policy);
	return *text ? 0 : -ENOMEM;
}

/* ---- the harness ---- */

static void reset(void)
{
	char err[MF_ERR_MAX];

	for (size_t i = 0; i < NAMES_MAX; i++) {
		free(identity_names[i]);
		free(server_names[i]);
		identity_names[i] = server_names[i] = NULL;
	}
	ntags = 0;
	current_free(&agent);
	agent.skel = &skel;
	skel.maps.tags = (struct bpf_map *)&tags_map;
	agent.opt.socket_path = "/run/fuzz/control.sock";
	agent.opt.pin_dir = "/sys/fs/bpf/fuzz";
	if (policy_load_text(&agent, base_policy, strlen(base_policy), "base.json", err,
			     sizeof(err), NULL))
		die("the base policy does not load: %s", err);
}

/* Every queued line is one JSON object with "ok", or a stream marker. */
static void check_output(const struct client *c)
{
	const char *p = c->out, *end;

	if (!p)
		return;
	p += c->out_start;
	end = p + c->out_len;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		char err[256];
		json_t *obj;

		if (!nl)
			die("a reply without its newline");
		obj = mf_json_parse_object(p, nl - p, err, sizeof(err));
		if (!obj)
			die("a reply that is not a JSON object: %s", err);
		if (!json_is_boolean(json_object_get(obj, "ok")) && !json_object_get(obj, "end") &&
		    !json_object_get(obj, "dropped"))
			die("a reply without \"ok\": %.*s", (int)(nl - p), p);
		json_decref(obj);
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uid_t uids[] = { 0, 65534, 1000, 0 };
	const pid_t pids[] = { getpid(), 1, 0x3ffffff0, getpid() };
	struct client c = { .kind = WATCH_CLIENT, .fd = -1 };
	const char *p, *end;

	if (!size)
		return 0;
	reset();
	c.cred.uid = uids[data[0] & 3];
	c.cred.gid = c.cred.uid;
	c.cred.pid = pids[(data[0] >> 2) & 3];
	p = (const char *)data + 1;
	end = (const char *)data + size;
	while (p < end && !c.closing) {
		const char *nl = memchr(p, '\n', end - p);
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p), before = c.out_len;
		char err[256];
		json_t *req;

		req = mf_json_parse_object(p, len, err, sizeof(err));
		p += len + 1;
		if (!req)
			break; /* the agent replies with err and closes */
		ops_handle(&agent, &c, req);
		json_decref(req);
		if (c.out_len <= before)
			die("a request without a reply");
	}
	check_output(&c);
	free(c.out);
	free(c.filter_identity);
	free(c.filter_verdict);
	free(c.own_identity);
	return 0;
}
