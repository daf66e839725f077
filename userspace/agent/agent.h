/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_AGENT_H
#define MCPFENCE_AGENT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/types.h>
#include <time.h>
#include <jansson.h>

#include "policy.h"
#include "proto.h"
#include "strmap.h"

/* The time on clk (CLOCK_MONOTONIC for timeouts, CLOCK_BOOTTIME as the
 * kernel side's bpf_ktime_get_boot_ns, CLOCK_REALTIME for records). */
static inline int64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t clock_ms(clockid_t clk)
{
	return clock_ns(clk) / 1000000;
}

#define MF_DEFAULT_PIN_DIR "/sys/fs/bpf/mcpfence"
#define MF_DEFAULT_STATE_DIR "/var/lib/mcpfence"
#define MF_HISTORY_MAX 4096 /* recent audit records kept for `audit` */

struct mcpfence_bpf;
struct dns_proxy;
struct learned_table;
struct ring_buffer;
struct bpf_link;
#define MF_SYSCALL_TPS_MAX 4 /* tp_btf/sys_enter programs in the object */

struct agent_options {
	const char *policy_path;
	const char *socket_path;
	const char *pin_dir;
	const char *audit_log;
	gid_t audit_gid; /* --audit-group: the log's group (else the agent's) */
	bool audit_group;
	uint64_t audit_max_size; /* --audit-log-max-size: rotate past it; 0: never */
	unsigned int audit_keep; /* --audit-log-keep: rotated files kept */
	bool audit_syslog;	 /* also to the journal, or syslog */
	bool watch_policy;	 /* reload policy_path when it changes (policy_watch.c) */
	const char *state_dir;
	const char *cgroup_path;   /* NULL: the cgroup v2 root (host), or its
				    * mcpfence.governed (launched) */
	bool scope_launched;	   /* --scope launched (scope.c) */
	unsigned int tag_capacity; /* 0: pid_max */
	const char *tenants_dir;   /* isolated servers' HOME and TMPDIR (tenants.c) */
	uid_t uid_min, uid_max;	   /* --uid-range: isolated servers' uids */
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

/* The last policy load attempt, for `status` (policy_apply.c). */
struct last_load {
	char ts[64];
	const char *trigger; /* "start", "sighup", "control" */
	char source[256];
	char error[MF_ERR_MAX];
	bool ok;
	uint64_t attempts, failures;
	int64_t ok_at_ns;    /* CLOCK_REALTIME of the last successful load */
	int64_t duration_ns; /* of the last successful load (policy_load_text) */
};

/* metrics.c: decisions by (identity, server, verdict), bounded */
#define MF_METRIC_SERIES_MAX 1024
#define MF_METRIC_SLOTS (2 * MF_METRIC_SERIES_MAX) /* open addressing, half full at most */
struct metric_series {
	bool used;
	uint8_t verdict;
	uint32_t identity_id, server_id;
	uint64_t n;
};

struct client;

/* control.c: connections now, and those refused or closed, by reason. */
enum client_refusal {
	REFUSED_USERS,
	REFUSED_UID,
	REFUSED_ROOT,
	REFUSED_MAX
};
enum client_closing {
	CLOSED_IDLE,
	CLOSED_PARTIAL_LINE,
	CLOSED_QUEUE,
	CLOSED_MAX
};
struct client_counts {
	unsigned int users, root; /* connected now */
	uint64_t refused[REFUSED_MAX];
	uint64_t closed[CLOSED_MAX];
	unsigned int freed; /* clients gone since memory was last given back */
};

/*
 * The audit log (audit.c): records are written with write(2) from a buffer
 * the agent owns, so that what reached the file is known. A record counts as
 * logged once its whole line is written; a line cut by a failed write is
 * truncated away. While writing fails, records wait in the buffer (bounded,
 * retried once a second); those that find it full are lost, and counted.
 */
#define MF_LOG_BUFFER (256u << 10) /* bytes of records waiting for the log */
#define MF_LOG_RETRY_MS 1000	   /* while failing, one write attempt per interval */
#define MF_LOG_KEEP_DEFAULT 5	   /* --audit-log-keep */
#define MF_LOG_KEEP_MAX 999
struct audit_log {
	int fd;
	char *buf; /* NULL: no log */
	size_t len;
	size_t pending; /* records in buf */
	uint64_t size;	/* of the file, for --audit-log-max-size */
	uint64_t logged, lost, errors, reopened, rotated;
	bool failing, reported_failing;
	int64_t failing_since_ms; /* CLOCK_REALTIME */
	int64_t last_try_ms;	  /* CLOCK_MONOTONIC */
	int last_errno;
	int rotate_errno;	  /* the last rotation's failure, said once */
	uint64_t lost_at_failure; /* lost when the failure began */
};

/* --audit-syslog (audit_syslog.c) */
#define MF_SYSLOG_BACKLOG 1024 /* datagrams waiting for the journal's room, at most */

struct syslog_dgram {
	char *data;
	size_t len;
};

struct audit_syslog {
	int fd; /* -1: off */
	bool journal;
	const char *path;
	struct sockaddr_un addr;
	char *buf;
	uint64_t sent, lost;
	int last_errno;
	/* a FIFO ring of datagrams the receiver had no room for */
	struct syslog_dgram backlog[MF_SYSLOG_BACKLOG];
	size_t backlog_head, backlog_count, backlog_bytes;
};

/*
 * The version of the audit records' format (docs/audit-schema.json), in each
 * record's "schema". A new event or a new optional field keeps it; a field
 * removed, renamed or given another meaning bumps it.
 */
#define MF_AUDIT_SCHEMA 1

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
	int cgroup_fd;		    /* where the cgroup programs are attached */
	char cgroup_dir[PATH_MAX];  /* its path (scope.c) */
	char cgroup_root[PATH_MAX]; /* the cgroup v2 mount it is below */
	bool cgroup_created;	    /* by this start */
	int epoll_fd;
	int signal_fd;
	int watch_fd;	  /* --watch-policy: inotify */
	char *watch_last; /* the policy text last tried by the watch */
	size_t watch_last_len;
	int listen_fd;
	int pin_lock_fd;      /* flock: this agent alone uses the pin directory */
	bool pin_dir_created; /* by this start: removed again if the start is refused */
	int state_fd;	      /* the private state directory */
	char *state_key;      /* names this pin directory's files in it */
	struct ring_buffer *ringbuf;
	bool stop;
	bool uninstall_requested;
	bool syscall_tps; /* the syscall tracepoints are attached (bpf.c) */
	struct bpf_link *syscall_links[MF_SYSCALL_TPS_MAX]; /* theirs, while attached */
	int64_t syscall_tps_checked_ms; /* CLOCK_MONOTONIC of the last detach check */
	int64_t flows_swept_ms;		/* CLOCK_MONOTONIC of the last flow sweep */
	uint64_t *tag_bits;		/* the kernel's tag bits, mapped (tag_bits.c) */
	size_t tag_bits_words, tag_bits_len;

	/* id <-> name tables, mirrored in the pinned *_names maps */
	struct mf_strmap identity_ids;
	struct mf_strmap server_ids;
	char **server_by_id; /* index: id */
	uint32_t nserver_ids;
	char **identity_by_id;
	uint32_t nidentity_ids;

	/* policy: current and the one before (late audit records name its rules) */
	struct loaded_policy current, previous;
	struct last_load last_load;
	uint32_t active_slot;
	/* rulesets in the kernel's rules map (rulesets.c) */
	struct kernel_ruleset *rulesets;
	size_t nrulesets, rulesets_cap;
	uint32_t next_ruleset_id;
	uint32_t next_segtab_id; /* the last segtabs id written */

	/* isolated servers: uids given out, servers running (tenants.c, launch.c) */
	struct tenant *tenants;
	size_t ntenants;
	bool tenants_loaded;
	struct launch *launches;
	size_t nlaunches;

	struct client *clients;
	const struct control_hooks *control_hooks; /* ops_handle, ops_client_gone */
	struct client_counts client_counts;
	/* where audit records go besides the log and the history (control.c) */
	const struct audit_sink *sink;
	void *sink_ctx;
	struct audit_log log;
	struct audit_syslog syslog;
	/* recent audit records, a ring of MF_HISTORY_MAX */
	struct audit_record history[MF_HISTORY_MAX];
	size_t history_next;
	int64_t boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */

	struct metric_series series[MF_METRIC_SLOTS];
	size_t nseries;
	uint64_t series_other[MF_WOULD_DENY + 1]; /* past MF_METRIC_SERIES_MAX, by verdict */
	struct dns_proxy *dns;	       /* the resolver of governed processes (dns_proxy.c) */
	struct learned_table *learned; /* what it installed into dns_learned (learned.c) */
};

/* caps.c: the capabilities the agent needs, named when missing */
int caps_check(void);
/* caps.c: the agent runs in the host's PID namespace, or not at all */
int pidns_check(void);

/* audit_syslog.c: records to the journal (structured fields) or syslog */
int audit_syslog_open(struct agent *a);
void audit_syslog_close(struct agent *a);
void audit_syslog_tick(struct agent *a);
void audit_syslog_record(struct agent *a, const struct audit_record *rec);
json_t *audit_syslog_status(struct agent *a);

/* series.c: a judged decision of a governed process, counted for metrics.c */
void metrics_count(struct agent *a, uint32_t identity, uint32_t server, uint8_t verdict);
/* metrics.c: Prometheus text exposition for `mcpfence metrics` */
char *metrics_text(struct agent *a, size_t *len);

/* notify.c: sd_notify(3) protocol over $NOTIFY_SOCKET (no-op without it) */
void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notify_reloading(void);

/* scope.c: where the cgroup programs are attached, and the governed
 * cgroup of --scope launched. setup: resolve, make and check it, open
 * cgroup_fd (before any BPF object is touched); move: put pid there before
 * its tag is written (0 in host scope); check_policy: exec matches refused
 * in launched scope. */
int scope_setup(struct agent *a);
void scope_teardown(struct agent *a, bool touched, bool detached);
void scope_uninstall(struct agent *a);
int scope_move(struct agent *a, pid_t pid, char *why, size_t len);
/* Why the peer may not be tagged in this scope (root, capabilities), or NULL. */
const char *scope_tag_refusal(struct agent *a, const struct client *c, json_t *req, char *why,
			      size_t len);
int scope_check_policy(const struct agent *a, const struct mf_policy *p, const char *source,
		       char *err, size_t len);
json_t *scope_status(const struct agent *a);

/* bpf.c: load, attach and pin; or reuse what is pinned. */
int bpf_claim_pin_dir(struct agent *a);
int bpf_setup(struct agent *a);
void bpf_teardown(struct agent *a);
int bpf_read_counters(struct agent *a, uint64_t *out /* [MF_CNT_MAX] */);
json_t *bpf_attached_programs(struct agent *a);
/* The syscall tracepoint (socket families, io_uring_enter, other ABIs), a host-wide
 * cost: attached while the policy has exec matches or a governed process
 * runs without the launcher's filter. attach: now (idempotent); sync:
 * detach if neither holds any more; tick: sync every MF_SYSCALL_TPS_CHECK_MS. */
#define MF_SYSCALL_TPS_CHECK_MS 2000
int bpf_syscall_tps_attach(struct agent *a);
void bpf_syscall_tps_sync(struct agent *a);
void bpf_syscall_tps_tick(struct agent *a);
bool policy_has_exec(const struct mf_policy *p);
/* Audit flows whose window is over get their summary record (every
 * MF_FLOW_SWEEP_MS from the main loop); all: every flow (the agent stops). */
#define MF_FLOW_SWEEP_MS 1000
void bpf_flows_sweep(struct agent *a, bool all);
void bpf_flows_tick(struct agent *a);

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
/* Copy the rulesets of an older agent's rules map (old_fd) into the maps. */
int rulesets_migrate(struct agent *a, int old_fd);
void rulesets_free(struct agent *a);

/* policy_apply.c */
int policy_load_text(struct agent *a, const char *text, size_t len, const char *source, char *err,
		     size_t errlen, json_t *warnings);
int policy_restore(struct agent *a);
/* Say how a load went: an audit record and last_load (uid: who asked, or NULL). */
void policy_load_report(struct agent *a, const char *trigger, const char *source, int ret,
			const char *err, const uid_t *uid);
json_t *policy_last_load(const struct agent *a); /* for status: null before any load */
void policy_free_all(struct agent *a);

/*
 * audit.c hands every record to a sink, which control.c registers for its
 * subscribers: calls flow one way, from control and ops into audit.
 */
struct audit_sink {
	/* Queue a record for whoever wants it (it is not kept past the call). */
	void (*record)(void *ctx, const struct audit_record *rec);
	/* The end of a batch of records: send what was queued. */
	void (*flush)(void *ctx);
};

/* audit.c */
void audit_set_sink(struct agent *a, const struct audit_sink *sink, void *ctx);
int audit_setup(struct agent *a);
void audit_teardown(struct agent *a);
/* SIGHUP, SIGUSR1: reopen the log by its name (after logrotate moved it). */
int audit_reopen(struct agent *a);
int audit_poll(struct agent *a);
/* Deliver an agent-originated record (tag requests, policy loads); takes it. */
void audit_emit(struct agent *a, json_t *record);
void audit_now_ts(char *buf, size_t len);
/* The log's state for `status`: ok or failing, since, last error, counts. */
json_t *audit_log_status(struct agent *a);
/* Does record (a JSON object) pass a subscriber's filters? */
bool audit_filter_match(const struct audit_record *rec, const char *identity, const char *verdict);

/* state.c: the private state directory (the saved policy text) */
int state_open(struct agent *a, bool create); /* without create: none is fine */
void state_policy_path(const struct agent *a, char *buf, size_t len);
int state_save_policy(struct agent *a, const char *text, size_t len);
int state_load_policy(struct agent *a, char **text, size_t *len); /* -ENOENT: none */
void state_remove(struct agent *a);
void state_close(struct agent *a);

/* state.c: other files of the state directory, written as the policy is */
#define STATE_TENANTS ".tenants" /* uids of (identity, server): tenants.c */
int state_write(struct agent *a, const char *suffix, const char *text, size_t len);
int state_read(struct agent *a, const char *suffix, size_t max, char **text, size_t *len);

/* tenants.c: a uid per (identity, server), its directories, credential files */
#define MF_DEFAULT_TENANTS_DIR "/var/lib/mcpfence-tenants"
#define MF_DEFAULT_UID_MIN 61000
#define MF_DEFAULT_UID_MAX 61999
#define MF_UID_RANGE_MAX 65536	      /* uids in --uid-range */
#define MF_CREDENTIAL_MAX (64u << 10) /* bytes of a credential file */
struct tenant {
	char identity[MF_NAME_MAX];
	char server[MF_NAME_MAX];
	uid_t uid;
};
/* The uid of (identity, server), allocated and saved when create. */
int tenant_uid(struct agent *a, const char *identity, const char *server, bool create, uid_t *uid,
	       char *why, size_t len);
/* DIR/UID/home and DIR/UID/tmp, made or checked (0700, owned by uid). */
int tenant_dirs(struct agent *a, uid_t uid, char *home, char *tmp, size_t len, char *why,
		size_t whylen);
/* Open identity's file of credential c: root's, regular, 0600, one link. */
int credential_open(const struct mf_credential *c, const char *identity, char *why, size_t len);
/* At policy load: credential directories hold root's 0600 files only. */
int tenants_check_policy(const struct mf_policy *p, const char *source, char *err, size_t len);
void tenants_free(struct agent *a);

/* launch.c: isolated servers the agent starts (ops "launch", "signal",
 * "credential"); their exits, from SIGCHLD */
void launch_reap(struct agent *a);
void launch_client_gone(struct agent *a, struct client *c);
void launch_stop_all(struct agent *a);

/* scan.c: tag what runs already (exec rules, descendants); drop stale tags */
void scan_processes(struct agent *a);

/* trust.c: who may assert which identity; one-time launch tickets */
#define MF_TICKET_LEN 64     /* hex characters: 256 random bits */
#define MF_TICKETS_MAX 1024  /* outstanding at once */
#define MF_TICKET_TTL_MAX 60 /* seconds */
bool pid_in_group(pid_t pid, gid_t primary, gid_t gid);
bool peer_in_group(const struct ucred *cred, const char *group);
bool trust_may_assert(struct agent *a, const struct ucred *cred, const char *identity, char *why,
		      size_t len);
int ticket_issue(const struct ucred *cred, const char *identity, const char *server,
		 unsigned int ttl_s, char id[MF_TICKET_LEN + 1]);
int ticket_take(const char *id, char identity[MF_NAME_MAX], char server[MF_NAME_MAX], char *why,
		size_t len);
/* The server of a valid ticket, without using it up: false if none. */
bool ticket_peek_server(const char *id, char server[MF_NAME_MAX]);

/* warnings.c: host settings and policy choices that widen what governed
 * processes can do, for `status` (a JSON array of strings) */
json_t *host_warnings(struct agent *a);

/* control.c */
int control_check_dir(struct agent *a);
/* What control.c calls above it, handed to control_setup so that it never
 * calls into ops.c or launch.c itself: ops_handle answers one request (a
 * JSON object) of a client; ops_client_gone is told of a client closed. */
struct control_hooks {
	void (*request)(struct agent *a, struct client *c, json_t *req);
	void (*gone)(struct agent *a, struct client *c);
};
int control_setup(struct agent *a, const struct control_hooks *hooks);
void control_teardown(struct agent *a);
int control_accept(struct agent *a);
int control_client_event(struct agent *a, struct client *c, uint32_t events);
/* Closes what is to be closed; once a second: timeouts, drop notices, memory. */
void control_reap(struct agent *a);
/* Clients now, their limits, refusals and closings by reason (admin `status`). */
json_t *control_status(struct agent *a);

/* maps.c: the keys of a map (key_size bytes, at most MF_MAP_KEY_MAX) that
 * pick() picks (all with NULL), in *out (malloc'd, *nout keys); 0 or -errno. */
#define MF_MAP_KEY_MAX 128
int map_collect(int fd, size_t key_size, bool (*pick)(const void *key, const void *ctx),
		const void *ctx, void **out, size_t *nout);
/* Delete the keys that doomed() picks; 0 or the first -errno. *deleted (if
 * not NULL): how many it deleted. */
int map_delete_where(int fd, size_t key_size, bool (*doomed)(const void *key, const void *ctx),
		     const void *ctx, size_t *deleted);
/* The number of keys in a map (of at most MF_MAP_KEY_MAX bytes), now. */
size_t map_count(int fd);

/* tag_bits.c: every tag the agent writes goes through tag_insert (BPF_NOEXIST;
 * 0 or -errno): the pid's bit first, or the socket hooks would not see it. */
int tag_insert(struct agent *a, uint32_t pid, const struct mf_tag *tag);
int tag_bits_setup(struct agent *a);  /* after load */
int tag_bits_enable(struct agent *a); /* once our programs replaced any older ones */
void tag_bits_teardown(struct agent *a);

/* bpf_local.c: local sockets and inbound */
int bpf_local_prepare(struct agent *a); /* between open and load */
int local_write(struct agent *a, uint32_t slot, const struct mf_policy *p, json_t *warnings);
int local_clear(struct agent *a, uint32_t slot);

/* epoll data: what an event belongs to */
enum watch_kind {
	WATCH_SIGNAL = 1,
	WATCH_LISTEN,
	WATCH_RINGBUF,
	WATCH_CLIENT,
	WATCH_DNS,
	WATCH_POLICY
};

/* policy_watch.c: --watch-policy, the --policy file reloaded when it changes */
int policy_watch_setup(struct agent *a);
bool policy_watch_changed(struct agent *a, char **text, size_t *len);
void policy_watch_teardown(struct agent *a);

/* dns_proxy.c: the resolver of governed processes (names in policy) */
int dns_setup(struct agent *a);
void dns_event(struct agent *a, enum watch_kind *kind, uint32_t events);
/* Timeouts, and freeing what finished: after each turn of the loop. */
void dns_tick(struct agent *a);
void dns_teardown(struct agent *a);
json_t *dns_status(struct agent *a);
/* The new policy is in force (policy_apply.c): what it no longer grants of
 * what was learned goes; what it grants of /etc/hosts is installed. */
void dns_policy_loaded(struct agent *a);

/* learned.c: the agent's copy of dns_learned, a quota per (identity, server) */
int learned_setup(struct agent *a); /* and adopts what a previous agent installed */
void learned_teardown(struct agent *a);
/* Remember that k was installed from name until expires_ns (CLOCK_BOOTTIME);
 * a pair at its quota evicts its own oldest. 0 or -errno. */
int learned_note(struct agent *a, const struct mf_learned_key *k, const char *name,
		 uint64_t expires_ns);
/* Forget what expired and, with drop_marked, what the policy being loaded
 * does not grant: from the table and from dns_learned. */
void learned_prune(struct agent *a, bool drop_marked);
/* The segments of segs (priv: granted to private destinations) that apply to
 * the address of k, into out: their number. */
uint32_t learned_segs_for(const struct mf_learned_key *k, const struct mf_seg *segs,
			  const bool *priv, size_t n, struct mf_seg *out);
/* Around a policy load (policy_apply.c): before the flip, what was learned
 * and the new policy grants too is made valid under next_gen as well; after
 * it (dns_policy_loaded), the rest is dropped. */
void learned_policy_loading(struct agent *a, const struct mf_policy *next, uint32_t next_gen);
/* The addresses identity's server learned from name, and their ports and
 * time left: [{ "addr", "expires_in_s", "ports": [{ lo, hi, proto }] }]. */
json_t *learned_list(struct agent *a, const char *identity, const char *server, const char *name);
/* The name an address was learned from, for audit records; NULL: unknown. */
const char *learned_name(struct agent *a, uint32_t identity_id, uint32_t server_id, uint8_t family,
			 const uint8_t *addr);
size_t learned_count(struct agent *a);
uint64_t learned_evicted(struct agent *a);

#endif /* MCPFENCE_AGENT_H */
