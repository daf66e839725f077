// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Requests on the control socket, one handler per operation, and the table
 * that says who may call each. Peers are known by SO_PEERCRED, and by the
 * pidfd taken at accept: a request is answered only while the process that
 * connected lives. Else a governed process could connect through a child
 * that exits at once (its tag goes with it) and send requests on the
 * inherited socket as an ungoverned pid, or one reused by another process.
 * A governed process (its pid has a tag), whatever its uid, may only ask who
 * it is, and an isolated server for its own credential: ops[] says why for
 * each operation, and each refusal is audited. Tag and launch requests
 * follow the identity rules of ARCHITECTURE.md: root and the policy's
 * launchers may assert any identity, anyone else only their own user name,
 * and a governed process never. Launches and credentials: launch.c.
 */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "proc.h"
#include "control.h"
#include "file.h"
#include "mcpfence.skel.h"

static bool peer_is_root(const struct client *c)
{
	return c->cred.uid == 0;
}

/* Root and members of the policy's admin_group read every record and process. */
static bool peer_is_admin(struct agent *a, const struct client *c)
{
	return peer_is_root(c) ||
	       (a->current.policy && peer_in_group(&c->cred, a->current.policy->admin_group));
}

static const char *peer_user(const struct client *c, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(c->cred.uid);

	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid:%u", c->cred.uid);
	return buf;
}

static bool tag_of(struct agent *a, uint32_t pid, struct mf_tag *tag)
{
	return bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.tags), &pid, tag) == 0;
}

/* Does the process that connected still run? A pidfd polls readable once
 * its whole thread group has exited, zombie or reaped; pid reuse cannot
 * fool it. Errors count as gone. */
static bool peer_alive(const struct client *c)
{
	struct pollfd pfd = { .fd = c->pidfd, .events = POLLIN };

	if (c->pidfd < 0)
		return false;
	return poll(&pfd, 1, 0) == 0;
}

static void peer_gone_why(const struct client *c, char *why, size_t len)
{
	if (c->pidfd < 0 && c->pidfd != -ESRCH)
		snprintf(why, len, "cannot identify the process that connected (pid %d): %s",
			 c->cred.pid, strerror(-c->pidfd));
	else
		snprintf(why, len,
			 "the process that connected (pid %d) is gone: requests are answered "
			 "only while it runs",
			 c->cred.pid);
}

/*
 * Who asks: the tag of the process that connected, looked up first and
 * confirmed by its being alive after. Tags leave a process only at its exit,
 * so a process alive after the lookup had that tag (or none) while asking.
 * False, with the reason, when the process is gone.
 */
static bool peer_check(struct agent *a, const struct client *c, struct peer *p, char *why,
		       size_t len)
{
	p->pid = c->cred.pid;
	p->governed = tag_of(a, p->pid, &p->tag);
	if (!p->governed && errno != ENOENT) {
		/* Not known to be ungoverned: closed. */
		snprintf(why, len, "cannot read the tag of process %d: %s", p->pid,
			 strerror(errno));
		return false;
	}
	/* After the tag: an exiting process has lost its tag already (the exit
	 * tracepoint drops it) while its pidfd still says it lives. */
	if (!peer_alive(c) || (!p->governed && mf_proc_exiting(p->pid))) {
		peer_gone_why(c, why, len);
		return false;
	}
	return true;
}

static void audit_tag_request(struct agent *a, const struct client *c, const char *identity,
			      const char *server, const char *refusal, const json_t *req)
{
	char user[MF_NAME_MAX];
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I}", "event",
				refusal ? "tag-refused" : "tag", "verdict",
				refusal ? "deny" : "allow", "identity", identity, "server", server,
				"pid", (json_int_t)c->cred.pid, "requested_by",
				peer_user(c, user, sizeof(user)), "uid", (json_int_t)c->cred.uid);

	char comm[64];

	if (!rec)
		return;
	mf_proc_text(c->cred.pid, "comm", comm, sizeof(comm));
	json_object_set_new(rec, "comm", json_string(comm));
	if (refusal)
		json_object_set_new(rec, "reason", json_string(refusal));
	if (json_object_get(req, "ticket"))
		json_object_set_new(rec, "ticket", json_true());
	/* What the launcher says it applies before exec (`run --no-harden`). */
	if (json_is_boolean(json_object_get(req, "harden")))
		json_object_set(rec, "harden", json_object_get(req, "harden"));
	if (json_is_boolean(json_object_get(req, "landlock")))
		json_object_set(rec, "landlock", json_object_get(req, "landlock"));
	/* `run --allow-root`: a root server, its capabilities dropped. */
	if (json_is_boolean(json_object_get(req, "allow_root")))
		json_object_set(rec, "allow_root", json_object_get(req, "allow_root"));
	audit_emit(a, rec);
}

/*
 * Write the peer's tag, by pid: checked alive before (ops_handle) and after.
 * A peer that died in between must not leave its tag on the pid for the
 * next process to get it (root's included): the tag is taken back.
 */
static bool tag_write(struct agent *a, const struct client *c, uint32_t pid,
		      const struct mf_tag *tag, char *why, size_t len)
{
	int fd = bpf_map__fd(a->skel->maps.tags), err;

	/* NOEXIST: a tag that appeared since the check (an exec match) is
	 * never replaced. */
	err = tag_insert(a, pid, tag);
	if (err) {
		snprintf(why, len, "cannot tag process %u: %s", pid, strerror(-err));
		return false;
	}
	if (!peer_alive(c)) {
		/* ENOENT: the exit tracepoint removed it first; fine either way. */
		bpf_map_delete_elem(fd, &pid);
		peer_gone_why(c, why, len);
		return false;
	}
	return true;
}

/*
 * Tag the peer. Either with "identity" and "server" (the peer must be
 * allowed to assert the identity) or with a "ticket" issued to a trusted
 * host (identity and server, if given, must be the ticket's). An isolated
 * server is launched by the agent instead ("launch"): the reply says so
 * before any ticket is used.
 */
static void op_tag(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	char identity[MF_NAME_MAX], server[MF_NAME_MAX], why[1024];
	struct mf_tag tag = { .flags = MF_TAG_LAUNCHER };
	const struct mf_server *srv;
	const char *refusal, *isolated;
	uint32_t pid = p->pid;
	int err;

	if ((refusal = tag_request_problem(req))) {
		client_reply_error(c, MF_E_INVALID_REQUEST, "tag%s", refusal);
		return;
	}
	isolated = isolated_server_in(a, req, server);
	if (isolated) {
		client_send_json(c,
				 json_pack("{s:s, s:b, s:b, s:s, s:s+, s:s}", "type", MF_TYPE_REPLY,
					   "ok", 0, "isolate", 1, "server", isolated, "error",
					   isolated,
					   " is an isolated server: the agent launches it", "code",
					   mf_errcode_name(MF_E_ISOLATED)),
				 false);
		return;
	}
	refusal = tag_resolve(a, c, req, identity, server, why, sizeof(why));
	if (!refusal)
		refusal = scope_tag_refusal(a, c, req, why, sizeof(why));
	if (refusal) {
		audit_tag_request(a, c, identity, server, refusal, req);
		client_reply_error(c, MF_E_REFUSED, "%s", refusal);
		return;
	}

	err = identity_id_get(a, identity, &tag.identity_id);
	if (!err)
		err = server_id_get(a, server, &tag.server_id);
	if (err) {
		client_reply_error(c, MF_E_FAILED, "cannot register identity or server: %s",
				   strerror(-err));
		return;
	}
	/* Without the launcher's filter only the syscall tracepoints refuse the
	 * process's socket families: they are attached before it is tagged. A
	 * request that does not say it hardens is taken as not hardened. */
	if (!json_is_true(json_object_get(req, "harden"))) {
		tag.flags |= MF_TAG_UNHARDENED;
		err = bpf_syscall_tps_attach(a);
		if (err) {
			client_reply_error(c, MF_E_FAILED,
					   "cannot attach the socket family check: %s",
					   strerror(-err));
			return;
		}
	}
	/* In the governed cgroup before the tag: no moment tagged outside it. */
	if (scope_move(a, pid, why, sizeof(why)) || !tag_write(a, c, pid, &tag, why, sizeof(why))) {
		audit_tag_request(a, c, identity, server, why, req);
		client_reply_error(c, MF_E_REFUSED, "%s", why);
		return;
	}
	audit_tag_request(a, c, identity, server, NULL, req);
	/* Whether the launcher's seccomp filter lets this server set up io_uring
	 * (the server was found above: tag_refusal). */
	srv = policy_server(a, server);
	client_send_json(c,
			 json_pack("{s:b, s:I, s:s, s:s, s:b, s:s}", "ok", 1, "pid",
				   (json_int_t)pid, "identity", identity, "server", server,
				   "io_uring", srv && srv->io_uring, "scope",
				   a->opt.scope_launched ? "launched" : "host"),
			 false);
}

/* A trusted host asks for a one-time ticket for (identity, server). */
static void op_ticket(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	const char *identity = json_string_value(json_object_get(req, "identity"));
	const char *server = json_string_value(json_object_get(req, "server"));
	json_t *ttl_v = json_object_get(req, "ttl");
	json_int_t ttl = ttl_v ? json_integer_value(ttl_v) : 30;
	char id[MF_TICKET_LEN + 1], why[512];
	const char *refusal;
	json_t *rec;
	int err;

	if (!identity || !server) {
		client_reply_error(c, MF_E_INVALID_REQUEST,
				   "ticket needs \"identity\" and \"server\" strings");
		return;
	}
	if ((ttl_v && !json_is_integer(ttl_v)) || ttl < 1 || ttl > MF_TICKET_TTL_MAX) {
		client_reply_error(c, MF_E_INVALID_REQUEST, "ticket: \"ttl\" is 1..%d seconds",
				   MF_TICKET_TTL_MAX);
		return;
	}
	refusal = tag_refusal(a, identity, server, why, sizeof(why));
	if (!refusal && !trust_may_assert(a, &c->cred, identity, why, sizeof(why)))
		refusal = why;
	if (!refusal && (err = ticket_issue(&c->cred, identity, server, ttl, id))) {
		snprintf(why, sizeof(why), "cannot issue a ticket: %s",
			 err == -ENOSPC ? "too many outstanding tickets" : strerror(-err));
		refusal = why;
	}
	rec = json_pack(
		"{s:s, s:s, s:s, s:s, s:I, s:I}", "event", refusal ? "ticket-refused" : "ticket",
		"verdict", refusal ? "deny" : "allow", "identity", loggable(identity), "server",
		loggable(server), "pid", (json_int_t)c->cred.pid, "uid", (json_int_t)c->cred.uid);
	if (rec && refusal)
		json_object_set_new(rec, "reason", json_string(refusal));
	if (rec)
		audit_emit(a, rec);
	if (refusal) {
		client_reply_error(c, MF_E_REFUSED, "%s", refusal);
		return;
	}
	client_send_json(c, json_pack("{s:b, s:s, s:I}", "ok", 1, "ticket", id, "ttl", ttl), false);
}

static void op_whoami(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	char ident[MF_NAME_MAX];

	if (!p->governed) {
		client_send_json(c,
				 json_pack("{s:b, s:b, s:I}", "ok", 1, "governed", 0, "pid",
					   (json_int_t)p->pid),
				 false);
		return;
	}
	client_send_json(c,
			 json_pack("{s:b, s:b, s:I, s:s, s:s, s:s}", "ok", 1, "governed", 1, "pid",
				   (json_int_t)p->pid, "identity",
				   identity_name(a, p->tag.identity_id, ident, sizeof(ident)),
				   "server", server_name(a, p->tag.server_id), "tagged_by",
				   p->tag.flags & MF_TAG_EXEC ? "exec" : "launcher"),
			 false);
}

static void op_ps(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	bool admin = peer_is_admin(a, c);
	int fd = bpf_map__fd(a->skel->maps.tags);
	json_t *procs = json_array();
	uint32_t key, next;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		char ident[MF_NAME_MAX], comm[64], cmdline[1024], path[64];
		struct mf_tag tag;
		struct stat st;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &tag))
			continue;
		snprintf(path, sizeof(path), "/proc/%u", key);
		if (stat(path, &st))
			continue; /* exited since */
		/* Others' processes are the administrators' business only. */
		if (!admin && st.st_uid != c->cred.uid)
			continue;
		mf_proc_text(key, "comm", comm, sizeof(comm));
		mf_proc_text(key, "cmdline", cmdline, sizeof(cmdline));
		json_array_append_new(
			procs, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "pid", (json_int_t)key,
					 "identity",
					 identity_name(a, tag.identity_id, ident, sizeof(ident)),
					 "server", server_name(a, tag.server_id), "tagged_by",
					 tag.flags & MF_TAG_EXEC ? "exec" : "launcher", "comm",
					 comm, "cmdline", cmdline));
	}
	client_send_json(c, json_pack("{s:b, s:o}", "ok", 1, "processes", procs), false);
}

static const char *const counter_names[MF_CNT_MAX] = {
	[MF_CNT_ALLOWED] = "allowed",
	[MF_CNT_DENIED] = "denied",
	[MF_CNT_WOULD_DENY] = "would_deny",
	[MF_CNT_AUDIT_DROPPED] = "audit_dropped",
	[MF_CNT_TAG_INHERITED] = "tags_inherited",
	[MF_CNT_TAG_EXEC] = "tags_at_exec",
	[MF_CNT_TAG_FAILED] = "tags_failed",
	[MF_CNT_SOCKET_REFUSED] = "sockets_refused",
	[MF_CNT_KILLED] = "killed",
	[MF_CNT_SOCKOPT_REFUSED] = "sockopts_refused",
	[MF_CNT_SOURCE_ROUTE_DROPPED] = "source_routed_dropped",
	[MF_CNT_TAG_STALE] = "stale_tags_removed",
	[MF_CNT_UNIX_ALLOWED] = "unix_allowed",
	[MF_CNT_UNIX_DENIED] = "unix_denied",
	[MF_CNT_BIND_DENIED] = "binds_denied",
	[MF_CNT_LISTEN_DROPPED] = "listen_dropped",
	[MF_CNT_TAG_UNHARDENED] = "tags_unhardened_inherited",
	[MF_CNT_FLOWS_FULL] = "flows_full",
	[MF_CNT_DNS_REDIRECTED] = "dns_redirected",
	[MF_CNT_DNS_NO_RESOLVER] = "dns_no_resolver",
	[MF_CNT_LEARNED_ALLOWED] = "allowed_by_name",
};

static void op_status(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	uint64_t counters[MF_CNT_MAX] = {};
	json_t *cnt = json_object(), *pol;
	size_t subscribers = 0;

	audit_poll(a); /* counters and delivered records agree */
	if (!peer_is_admin(a, c)) {
		/* Others learn that enforcement is up, not what it saw. */
		client_send_json(c,
				 json_pack("{s:b, s:I, s:o, s:{s:b, s:I}}", "ok", 1, "agent_pid",
					   (json_int_t)getpid(), "programs",
					   bpf_attached_programs(a), "policy", "loaded",
					   a->current.policy != NULL, "generation",
					   (json_int_t)a->current.generation),
				 false);
		json_decref(cnt);
		return;
	}
	bpf_read_counters(a, counters);
	for (int i = 0; i < MF_CNT_MAX; i++)
		json_object_set_new(cnt, counter_names[i], json_integer((json_int_t)counters[i]));
	json_object_set_new(cnt, "log_errors", json_integer((json_int_t)a->log.errors));
	json_object_set_new(cnt, "records_logged", json_integer((json_int_t)a->log.logged));
	json_object_set_new(cnt, "records_lost", json_integer((json_int_t)a->log.lost));
	json_object_set_new(cnt, "isolated_servers", json_integer((json_int_t)a->nlaunches));
	for (struct client *s = a->clients; s; s = s->next)
		subscribers += s->subscribed;
	if (a->current.policy) {
		pol = json_pack("{s:b, s:I, s:s, s:s, s:s, s:I, s:I}", "loaded", 1, "generation",
				(json_int_t)a->current.generation, "source", a->current.source,
				"mode", a->current.policy->audit_only ? "audit" : "enforce",
				"audit_allowed",
				!a->current.policy->audit_allowed ? "none" :
				a->current.policy->audit_each	  ? "all" :
								    "flows",
				"audit_window", (json_int_t)a->current.policy->audit_window_s,
				"rules", (json_int_t)a->current.policy->nrules);
	} else {
		pol = json_pack("{s:b}", "loaded", 0);
	}
	client_send_json(c,
			 json_pack("{s:b, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:s*, "
				   "s:o, s:o, s:o*, s:o, s:o}",
				   "ok", 1, "agent_pid", (json_int_t)getpid(), "pin_dir",
				   a->opt.pin_dir, "socket", a->opt.socket_path, "programs",
				   bpf_attached_programs(a), "policy", pol, "last_load",
				   policy_last_load(a), "counters", cnt, "governed_processes",
				   (json_int_t)map_count(bpf_map__fd(a->skel->maps.tags)),
				   "subscribers", (json_int_t)subscribers, "clients",
				   control_status(a), "audit_log", a->opt.audit_log, "log",
				   audit_log_status(a), "syslog", audit_syslog_status(a),
				   "warnings", host_warnings(a), "dns", dns_status(a), "scope",
				   scope_status(a)),
			 false);
}

/* The policy comes as "text", or (root's CLI, to skip encoding megabytes
 * as a JSON string) as a "path" the agent reads itself. */
static void op_policy_load(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	json_t *text = json_object_get(req, "text");
	const char *path = json_string_value(json_object_get(req, "path"));
	const char *source = json_string_value(json_object_get(req, "source"));
	json_t *warnings = json_array();
	char err[MF_ERR_MAX], *file_text = NULL;
	const char *policy_text;
	size_t len;
	int ret;

	if (json_is_string(text)) {
		policy_text = json_string_value(text);
		len = json_string_length(text);
	} else if (path && path[0] == '/') {
		/* Never blocks: a FIFO or device is refused without being opened. */
		if (mf_read_regular(path, MF_POLICY_FILE_MAX, &file_text, &len, err, sizeof(err))) {
			client_reply_error(c, MF_E_INVALID_POLICY, "%s", err);
			goto out;
		}
		policy_text = file_text;
	} else {
		client_reply_error(c, MF_E_INVALID_REQUEST,
				   "policy_load needs a \"text\" string or an absolute \"path\"");
		goto out;
	}
	ret = policy_load_text(a, policy_text, len, source ? source : "policy", err, sizeof(err),
			       warnings);
	policy_load_report(a, "control", ret ? (source ? source : "policy") : a->current.source,
			   ret, err, &c->cred.uid);
	if (ret) {
		client_reply_error(c, MF_E_INVALID_POLICY, "%s", err);
		goto out;
	}
	client_send_json(c,
			 json_pack("{s:b, s:I, s:O}", "ok", 1, "generation",
				   (json_int_t)a->current.generation, "warnings", warnings),
			 false);
out:
	free(file_text);
	json_decref(warnings);
}

static void op_policy_show(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	if (!a->current.policy) {
		client_reply_error(c, MF_E_NOT_FOUND, "no policy is loaded");
		return;
	}
	client_send_json(c,
			 json_pack("{s:b, s:s, s:I, s:s}", "ok", 1, "source", a->current.source,
				   "generation", (json_int_t)a->current.generation, "text",
				   a->current.text ? a->current.text : ""),
			 false);
}

/* What an identity's server learned from a name now (`policy explain`). */
static void op_dns_learned(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	const char *identity = json_string_value(json_object_get(req, "identity"));
	const char *server = json_string_value(json_object_get(req, "server"));
	const char *name = json_string_value(json_object_get(req, "name"));

	if (!identity || !server || !name) {
		client_reply_error(c, MF_E_INVALID_REQUEST,
				   "dns_learned needs \"identity\", \"server\" and \"name\"");
		return;
	}
	client_send_json(c,
			 json_pack("{s:b, s:o}", "ok", 1, "learned",
				   learned_list(a, identity, server, name)),
			 false);
}

static void op_audit(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	const char *identity = json_string_value(json_object_get(req, "identity"));
	const char *verdict = json_string_value(json_object_get(req, "verdict"));
	bool follow = json_is_true(json_object_get(req, "follow"));
	char user[MF_NAME_MAX];

	/* Records of decisions made before this request are in the ring buffer
	 * already (the hooks submit synchronously): take them first. */
	audit_poll(a);
	if (verdict && strcmp(verdict, "allow") && strcmp(verdict, "deny") &&
	    strcmp(verdict, "would-deny")) {
		client_reply_error(c, MF_E_INVALID_REQUEST,
				   "verdict must be allow, deny or would-deny");
		return;
	}
	if (follow && c->cred.uid != 0 && !c->subscribed) {
		unsigned int following = 0;

		for (const struct client *o = a->clients; o; o = o->next)
			following += o->subscribed && o->cred.uid == c->cred.uid;
		if (following >= MF_SUBSCRIBERS_PER_UID) {
			client_reply_error(c, MF_E_LIMIT,
					   "audit: uid %u follows the audit stream %u times, its "
					   "limit",
					   c->cred.uid, following);
			c->closing = true;
			return;
		}
	}
	free(c->filter_identity);
	free(c->filter_verdict);
	free(c->own_identity);
	c->filter_identity = identity ? strdup(identity) : NULL;
	c->filter_verdict = verdict ? strdup(verdict) : NULL;
	c->own_identity = peer_is_admin(a, c) ? NULL : strdup(peer_user(c, user, sizeof(user)));
	client_send_json(c, json_pack("{s:b, s:b}", "ok", 1, "follow", follow), false);
	for (size_t i = 0; i < MF_HISTORY_MAX; i++) {
		const struct audit_record *rec =
			&a->history[(a->history_next + i) % MF_HISTORY_MAX];

		if (rec->line && client_wants_record(c, rec))
			client_queue(c, rec->line, rec->len, true);
	}
	client_report_drops(c);
	if (follow) {
		c->subscribed = true;
		return;
	}
	client_send_json(c, json_pack("{s:s, s:b}", "type", MF_TYPE_END, "end", 1), false);
	c->closing = true;
}

/* Prometheus text exposition, for `mcpfence metrics` (and a scraper's
 * textfile or exec collector). */
static void op_metrics(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	size_t len;
	char *text;

	audit_poll(a); /* counters and counted records agree */
	text = metrics_text(a, &len);
	if (!text) {
		client_reply_error(c, MF_E_FAILED, "metrics: out of memory");
		return;
	}
	client_send_json(c, json_pack("{s:b, s:s%}", "ok", 1, "text", text, len), false);
	free(text);
}

static void op_uninstall(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	a->uninstall_requested = true;
	a->stop = true;
	client_send_json(c, json_pack("{s:b}", "ok", 1), false);
}

/* Who may call an operation, by uid. */
enum op_caller {
	CALLER_ANYONE, /* every uid; the handler narrows what it shows */
	CALLER_ADMIN,  /* root and the policy's admin_group */
	CALLER_ROOT,   /* uid 0 only */
};

/* And whether a governed process may (its tag decides, not its uid: a
 * governed root server holds no power over the fence). */
enum op_governed {
	GOVERNED_REFUSED,
	GOVERNED_ALLOWED,
	GOVERNED_ONLY, /* only a governed process, about itself */
};

static const struct op {
	const char *name;
	enum op_caller caller;
	enum op_governed governed;
	void (*handle)(struct agent *a, struct client *c, const struct peer *p, json_t *req);
	const char *why; /* what the operation gives: why a governed caller may or not */
} ops[] = {
	{ "whoami", CALLER_ANYONE, GOVERNED_ALLOWED, op_whoami,
	  "its own identity and server: a server may pick credentials by them" },
	{ "status", CALLER_ANYONE, GOVERNED_REFUSED, op_status,
	  "the agent's pid, programs and policy generation: what to attack, and when" },
	{ "tag", CALLER_ANYONE, GOVERNED_REFUSED, op_tag,
	  "a governed process never changes its tag nor obtains another" },
	{ "launch", CALLER_ANYONE, GOVERNED_REFUSED, op_launch,
	  "starts an isolated server as any identity the caller may assert: as `tag`, a "
	  "governed process never obtains another identity, nor its credentials" },
	{ "signal", CALLER_ANYONE, GOVERNED_REFUSED, op_signal,
	  "signals the server this connection launched; the server itself has no such "
	  "connection" },
	{ "credential", CALLER_ANYONE, GOVERNED_ONLY, op_credential,
	  "a governed server's own credential, by its tag and its tenant uid: nobody "
	  "else's, and an ungoverned caller has none" },
	{ "ticket", CALLER_ANYONE, GOVERNED_REFUSED, op_ticket,
	  "a ticket tags whoever runs it: another identity for a child" },
	{ "ps", CALLER_ANYONE, GOVERNED_REFUSED, op_ps,
	  "other processes' tags and command lines (arguments may hold secrets)" },
	{ "audit", CALLER_ANYONE, GOVERNED_REFUSED, op_audit,
	  "decisions and rule names: the policy, learnt by probing it" },
	{ "metrics", CALLER_ADMIN, GOVERNED_REFUSED, op_metrics,
	  "every counter: what the fence saw, learnt without probing" },
	{ "policy_load", CALLER_ROOT, GOVERNED_REFUSED, op_policy_load,
	  "changes the policy: a governed root server would grant itself anything" },
	{ "policy_show", CALLER_ROOT, GOVERNED_REFUSED, op_policy_show,
	  "the policy: every identity's grants" },
	{ "dns_learned", CALLER_ROOT, GOVERNED_REFUSED, op_dns_learned,
	  "the addresses an identity's server reaches by name" },
	{ "uninstall", CALLER_ROOT, GOVERNED_REFUSED, op_uninstall,
	  "stops enforcement for everyone" },
};

/* A refusal worth an audit record: who asked what, and why not. */
static void audit_refusal(struct agent *a, const struct client *c, const struct peer *p,
			  const char *op, const char *reason)
{
	char ident[MF_NAME_MAX], comm[64];
	json_t *rec = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "event", "control-refused",
				"verdict", "deny", "op", op, "pid", (json_int_t)c->cred.pid, "uid",
				(json_int_t)c->cred.uid, "reason", reason);

	if (!rec) {
		audit_emit(a, NULL); /* counted as a log error */
		return;
	}
	if (p && p->governed) {
		json_object_set_new(
			rec, "identity",
			json_string(identity_name(a, p->tag.identity_id, ident, sizeof(ident))));
		json_object_set_new(rec, "server", json_string(server_name(a, p->tag.server_id)));
	}
	mf_proc_text(c->cred.pid, "comm", comm, sizeof(comm));
	if (comm[0])
		json_object_set_new(rec, "comm", json_string(comm));
	audit_emit(a, rec);
}

static const struct op *op_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(ops[i].name, name) == 0)
			return &ops[i];
	}
	return NULL;
}

/* A client closed: an isolated server it launched loses its launcher. */
void ops_client_gone(struct agent *a, struct client *c)
{
	if (c->launch)
		launch_client_gone(a, c);
}

void ops_handle(struct agent *a, struct client *c, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "op"));
	const struct op *op;
	char why[512], ident[MF_NAME_MAX];
	struct peer p;

	if (!name) {
		client_reply_error(c, MF_E_INVALID_REQUEST, "malformed message: no \"op\" string");
		c->closing = true;
		return;
	}
	op = op_find(name);
	if (!op) {
		client_reply_error(c, MF_E_INVALID_REQUEST, "unknown op '%.64s'", name);
		return;
	}
	if (!peer_check(a, c, &p, why, sizeof(why))) {
		audit_refusal(a, c, NULL, op->name, why);
		client_reply_error(c, MF_E_PEER_GONE, "%s: refused: %s", op->name, why);
		c->closing = true; /* it stays gone */
		return;
	}
	if (p.governed && op->governed == GOVERNED_REFUSED) {
		snprintf(why, sizeof(why), "the caller is governed (identity %s, server %s)",
			 identity_name(a, p.tag.identity_id, ident, sizeof(ident)),
			 server_name(a, p.tag.server_id));
		audit_refusal(a, c, &p, op->name, why);
		client_reply_error(c, MF_E_GOVERNED, "%s: refused: %s", op->name, why);
		return;
	}
	if (!p.governed && op->governed == GOVERNED_ONLY) {
		client_reply_error(c, MF_E_NOT_GOVERNED,
				   "%s: refused: only a governed server may ask, for itself",
				   op->name);
		return;
	}
	if (op->caller == CALLER_ADMIN && !peer_is_admin(a, c)) {
		client_reply_error(c, MF_E_PERMISSION_DENIED,
				   "%s: permission denied: only administrators may do this", name);
		return;
	}
	if (op->caller == CALLER_ROOT && !peer_is_root(c)) {
		client_reply_error(c, MF_E_PERMISSION_DENIED,
				   "%s: permission denied: only root may do this", name);
		return;
	}
	op->handle(a, c, &p, req);
}
