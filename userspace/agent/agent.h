/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_AGENT_H
#define MCPFENCE_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <jansson.h>

#include "policy.h"
#include "proto.h"
#include "strmap.h"

#define MF_DEFAULT_PIN_DIR "/sys/fs/bpf/mcpfence"
#define MF_HISTORY_MAX 4096           /* recent audit records kept for `audit` */
#define MF_SUBSCRIBER_QUEUE (4u << 20) /* bytes queued per client before drops */

struct mcpfence_bpf;
struct ring_buffer;

struct agent_options {
	const char *policy_path;
	const char *socket_path;
	const char *pin_dir;
	const char *audit_log;
	const char *cgroup_path; /* NULL: the cgroup v2 root */
	unsigned int tag_capacity; /* 0: pid_max */
	bool detach_on_exit;
	bool verbose;
};

/* A loaded policy and what the kernel needs to name its verdicts. */
struct loaded_policy {
	struct mf_policy *policy;
	char *source; /* file name given at load */
	char *text;
	uint32_t generation;
};

struct client;

/* One audit record as delivered: its JSON line, and what filters look at. */
struct audit_record {
	char *line; /* '\n'-terminated JSON object */
	size_t len;
	char identity[MF_NAME_MAX];
	uint8_t verdict; /* MF_ALLOW, MF_DENY, MF_WOULD_DENY */
};

struct agent {
	struct agent_options opt;
	struct mcpfence_bpf *skel;
	int cgroup_fd;
	int epoll_fd;
	int signal_fd;
	int listen_fd;
	struct ring_buffer *ringbuf;
	FILE *audit_log;
	bool stop;
	bool uninstall_requested;

	/* id <-> name tables, mirrored in the pinned *_names maps */
	struct mf_strmap identity_ids;
	struct mf_strmap server_ids;
	char **server_by_id; /* index: id */
	uint32_t nserver_ids;
	char **identity_by_id;
	uint32_t nidentity_ids;

	/* policy: current and the one before (late audit records name its rules) */
	struct loaded_policy current, previous;
	uint32_t active_slot;
	/* rulesets in the kernel's rules map (rulesets.c) */
	struct kernel_ruleset *rulesets;
	size_t nrulesets, rulesets_cap;
	uint32_t next_ruleset_id;

	struct client *clients;
	/* recent audit records, a ring of MF_HISTORY_MAX */
	struct audit_record history[MF_HISTORY_MAX];
	size_t history_next;
	uint64_t records_logged;
	uint64_t log_errors;
	int64_t boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
};

/* bpf.c: load, attach and pin; or reuse what is pinned. */
int bpf_setup(struct agent *a);
void bpf_teardown(struct agent *a);
int bpf_read_counters(struct agent *a, uint64_t *out /* [MF_CNT_MAX] */);
json_t *bpf_attached_programs(struct agent *a);

/* names.c: ids of identities and servers */
int names_load(struct agent *a);
int identity_id_get(struct agent *a, const char *name, uint32_t *id); /* allocates */
int server_id_get(struct agent *a, const char *name, uint32_t *id);   /* allocates */
const char *server_name(struct agent *a, uint32_t id);
/* Writes the identity's name into buf (uid identities are user names). */
const char *identity_name(struct agent *a, uint32_t id, char *buf, size_t len);
void names_free(struct agent *a);
void names_forget_users(void);

/* rulesets.c: rulesets written once, shared by slots, garbage collected */
struct kernel_ruleset;
int rulesets_restore(struct agent *a);
/* Find or write each compiled ruleset; ids[i] gets ruleset i's kernel id. */
int rulesets_place(struct agent *a, const struct mf_compiled *c, uint32_t *ids);
/* The placed rulesets now belong to slot (its bindings point at them). */
void rulesets_commit(struct agent *a, uint32_t slot);
/* The load failed: neither the placed rulesets nor slot's old ones are used. */
void rulesets_abort(struct agent *a, uint32_t slot);
/* Delete up to budget keys of unused rulesets; true while garbage remains. */
#define MF_COLLECT_BATCH 2048 /* per main-loop turn: the agent stays responsive */
bool rulesets_collect(struct agent *a, size_t budget);
void rulesets_free(struct agent *a);

/* policy_apply.c */
int policy_load_text(struct agent *a, const char *text, size_t len, const char *source,
		     char *err, size_t errlen, json_t *warnings);
int policy_restore(struct agent *a);
void policy_free_all(struct agent *a);

/* audit.c */
int audit_setup(struct agent *a);
void audit_teardown(struct agent *a);
int audit_poll(struct agent *a);
/* Deliver an agent-originated record (tag requests, policy loads); takes it. */
void audit_emit(struct agent *a, json_t *record);
void audit_now_ts(char *buf, size_t len);
/* Does record (a JSON object) pass a subscriber's filters? */
bool audit_filter_match(const struct audit_record *rec, const char *identity, const char *verdict);

/* scan.c: tag what runs already (exec rules, descendants); drop stale tags */
void scan_processes(struct agent *a);

/* trust.c: who may assert which identity; one-time launch tickets */
#define MF_TICKET_LEN 64 /* hex characters: 256 random bits */
#define MF_TICKETS_MAX 1024 /* outstanding at once */
#define MF_TICKET_TTL_MAX 60 /* seconds */
bool pid_in_group(pid_t pid, gid_t primary, gid_t gid);
bool peer_in_group(const struct ucred *cred, const char *group);
bool trust_may_assert(struct agent *a, const struct ucred *cred, const char *identity, char *why,
		      size_t len);
int ticket_issue(const struct ucred *cred, const char *identity, const char *server,
		 unsigned int ttl_s, char id[MF_TICKET_LEN + 1]);
int ticket_take(const char *id, char identity[MF_NAME_MAX], char server[MF_NAME_MAX], char *why,
		size_t len);

/* warnings.c: host settings and policy choices that widen what governed
 * processes can do, for `status` (a JSON array of strings) */
json_t *host_warnings(struct agent *a);

/* control.c */
int control_setup(struct agent *a);
void control_teardown(struct agent *a);
int control_accept(struct agent *a);
int control_client_event(struct agent *a, struct client *c, uint32_t events);
/* Queue a record for the subscribers that want it; flushed once per batch. */
void control_broadcast(struct agent *a, const struct audit_record *rec);
void control_flush_subscribers(struct agent *a);
void control_reap(struct agent *a);

/* epoll data: what an event belongs to */
enum watch_kind { WATCH_SIGNAL = 1, WATCH_LISTEN, WATCH_RINGBUF, WATCH_CLIENT };

#endif /* MCPFENCE_AGENT_H */
