// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The control socket: JSON lines from the CLI, peers known by SO_PEERCRED.
 * Only root changes policy. Tag requests follow the identity rules of
 * ARCHITECTURE.md: root and the policy's launchers may assert any identity,
 * anyone else only their own user name, and a governed process never.
 * A malformed message closes that connection only. Output is queued per
 * client, bounded; a subscriber that does not read loses records, counted
 * and reported to it, and never blocks the agent.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "file.h"
#include "mcpfence.skel.h"

struct client {
	enum watch_kind kind; /* first: epoll data points here */
	int fd;
	struct ucred cred;
	struct mf_linebuf in;
	char *out; /* queued output: out_len bytes from out + out_start */
	size_t out_start, out_len, out_cap;
	bool want_out; /* EPOLLOUT registered */
	bool closing;  /* close once the output is flushed */
	/* audit subscription */
	bool subscribed;
	char *filter_identity;
	char *filter_verdict;
	char *own_identity; /* non-root: only records of this identity */
	uint64_t dropped, dropped_reported;
	struct client *next;
};

static struct {
	enum watch_kind kind;
} listen_watch = { WATCH_LISTEN };

int control_setup(struct agent *a)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_watch };
	char dir[PATH_MAX];
	int fd, err;

	if (strlen(a->opt.socket_path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "mcpfenced: socket path too long: %s\n", a->opt.socket_path);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", a->opt.socket_path);
	if (mkdir(dirname(dir), 0755) && errno != EEXIST) {
		fprintf(stderr, "mcpfenced: cannot create %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	strcpy(addr.sun_path, a->opt.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket from a crashed agent: answer nobody, so replace it. */
	if (mf_client_connect(a->opt.socket_path) >= 0) {
		fprintf(stderr, "mcpfenced: another agent serves %s\n", a->opt.socket_path);
		close(fd);
		return -EADDRINUSE;
	}
	unlink(a->opt.socket_path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 64)) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot listen on %s: %s\n", a->opt.socket_path,
			strerror(errno));
		close(fd);
		return err;
	}
	/* Everyone may connect; what each peer may do is decided per request. */
	chmod(a->opt.socket_path, 0666);
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		err = -errno;
		close(fd);
		return err;
	}
	a->listen_fd = fd;
	return 0;
}

static void client_free(struct agent *a, struct client *c)
{
	struct client **pp;

	for (pp = &a->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	mf_linebuf_free(&c->in);
	free(c->out);
	free(c->filter_identity);
	free(c->filter_verdict);
	free(c->own_identity);
	free(c);
}

void control_teardown(struct agent *a)
{
	while (a->clients)
		client_free(a, a->clients);
	if (a->listen_fd >= 0) {
		close(a->listen_fd);
		unlink(a->opt.socket_path);
	}
	a->listen_fd = -1;
}

int control_accept(struct agent *a)
{
	socklen_t len = sizeof(struct ucred);
	struct epoll_event ev = { .events = EPOLLIN };
	struct client *c;
	int fd;

	fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN ? 0 : -errno;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->kind = WATCH_CLIENT;
	c->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len)) {
		close(fd);
		free(c);
		return 0;
	}
	mf_linebuf_init(&c->in, c->cred.uid == 0 ? MF_LINE_MAX_ROOT : MF_LINE_MAX_USER);
	ev.data.ptr = c;
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		free(c);
		return -errno;
	}
	c->next = a->clients;
	a->clients = c;
	return 0;
}

static void client_want_out(struct agent *a, struct client *c, bool want)
{
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out == want)
		return;
	c->want_out = want;
	epoll_ctl(a->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what is queued; false when the peer is gone. */
static bool client_flush(struct agent *a, struct client *c)
{
	size_t done = 0;

	while (done < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_start + done, c->out_len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return false;
		}
		done += n;
	}
	/* Advance, don't move: a slow reader would make every flush copy the queue. */
	c->out_start += done;
	c->out_len -= done;
	if (!c->out_len)
		c->out_start = 0;
	client_want_out(a, c, c->out_len > 0);
	return true;
}

/* Queue a line. Droppable lines (audit records) are dropped, and counted,
 * when the client's queue is full; replies are always queued. */
static void client_queue(struct client *c, const char *line, size_t len, bool droppable)
{
	if (droppable && c->out_len + len > MF_SUBSCRIBER_QUEUE) {
		c->dropped++;
		return;
	}
	if (c->out_start + c->out_len + len > c->out_cap && c->out_start) {
		/* Out of room at the end: move what is pending to the front, once. */
		memmove(c->out, c->out + c->out_start, c->out_len);
		c->out_start = 0;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *out;

		while (cap < c->out_len + len)
			cap *= 2;
		out = realloc(c->out, cap);
		if (!out) {
			c->dropped++;
			return;
		}
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_start + c->out_len, line, len);
	c->out_len += len;
}

static void client_send_json(struct client *c, json_t *obj, bool droppable)
{
	size_t len;
	char *line = mf_json_line(obj, &len);

	if (line)
		client_queue(c, line, len, droppable);
	free(line);
	json_decref(obj);
}

static void reply_error(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply_error(struct client *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	client_send_json(c, json_pack("{s:b, s:s}", "ok", 0, "error", msg), false);
}

/* Tell a subscriber how many records it lost since the last notice. */
static void report_drops(struct client *c)
{
	uint64_t n = c->dropped - c->dropped_reported;

	if (!n || c->out_len > MF_SUBSCRIBER_QUEUE / 2)
		return;
	c->dropped_reported = c->dropped;
	client_send_json(c, json_pack("{s:I, s:I}", "dropped", (json_int_t)n, "dropped_total",
				      (json_int_t)c->dropped),
			 false);
}

static bool subscriber_wants(const struct client *c, const struct audit_record *rec)
{
	if (c->own_identity && !audit_filter_match(rec, c->own_identity, NULL))
		return false;
	return audit_filter_match(rec, c->filter_identity, c->filter_verdict);
}

void control_broadcast(struct agent *a, const struct audit_record *rec)
{
	for (struct client *c = a->clients; c; c = c->next) {
		if (!c->subscribed || !subscriber_wants(c, rec))
			continue;
		report_drops(c);
		client_queue(c, rec->line, rec->len, true);
	}
}

void control_flush_subscribers(struct agent *a)
{
	for (struct client *c = a->clients; c; c = c->next) {
		if (c->subscribed && c->out_len && !c->want_out && !client_flush(a, c))
			c->closing = true;
	}
}

/* ---- requests ---- */

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

static bool policy_has_server(struct agent *a, const char *server)
{
	const struct mf_policy *p = a->current.policy;

	for (size_t i = 0; p && i < p->nservers; i++) {
		if (strcmp(p->servers[i].name, server) == 0)
			return true;
	}
	return false;
}

static void read_proc_text(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	size_t n = 0;
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* cmdline: NUL-separated arguments; comm: trailing newline. */
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\0')
			buf[i] = ' ';
	}
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\n'))
		buf[--n] = '\0';
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
	read_proc_text(c->cred.pid, "comm", comm, sizeof(comm));
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
	audit_emit(a, rec);
}

/* Why the peer may not have a tag for (identity, server), or NULL. */
static const char *tag_refusal(struct agent *a, struct client *c, const char *identity,
			       const char *server, char *why, size_t len)
{
	char ident[MF_NAME_MAX];
	struct mf_tag tag;

	if (tag_of(a, c->cred.pid, &tag)) {
		snprintf(why, len,
			 "process %d is governed already (identity %s, server %s): a governed "
			 "process cannot change its tag or obtain another",
			 c->cred.pid, identity_name(a, tag.identity_id, ident, sizeof(ident)),
			 server_name(a, tag.server_id));
		return why;
	}
	if (!mf_name_valid(identity)) {
		snprintf(why, len, "invalid identity name");
		return why;
	}
	if (!mf_name_valid(server) || !policy_has_server(a, server)) {
		snprintf(why, len, "unknown server '%s': the policy does not declare it",
			 mf_name_valid(server) ? server : "?");
		return why;
	}
	return NULL;
}

static const char *loggable(const char *name)
{
	return name && mf_name_valid(name) ? name : "?";
}

/*
 * Tag the peer. Either with "identity" and "server" (the peer must be
 * allowed to assert the identity) or with a "ticket" issued to a trusted
 * host (identity and server, if given, must be the ticket's).
 */
static void op_tag(struct agent *a, struct client *c, json_t *req)
{
	const char *identity = json_string_value(json_object_get(req, "identity"));
	const char *server = json_string_value(json_object_get(req, "server"));
	const char *ticket = json_string_value(json_object_get(req, "ticket"));
	char t_identity[MF_NAME_MAX], t_server[MF_NAME_MAX];
	struct mf_tag tag = { .flags = MF_TAG_LAUNCHER };
	const char *refusal = NULL;
	uint32_t pid = c->cred.pid;
	char why[1024];
	int err;

	if (json_object_get(req, "ticket") && !ticket) {
		reply_error(c, "tag: \"ticket\" must be a string");
		return;
	}
	if (ticket) {
		if (ticket_take(ticket, t_identity, t_server, why, sizeof(why))) {
			refusal = why;
		} else if ((identity && strcmp(identity, t_identity)) ||
			   (server && strcmp(server, t_server))) {
			snprintf(why, sizeof(why),
				 "the ticket is for identity %s on server %s, not %s on %s",
				 t_identity, t_server, loggable(identity ? identity : t_identity),
				 loggable(server ? server : t_server));
			refusal = why;
		}
		identity = t_identity;
		server = t_server;
		if (!refusal)
			refusal = tag_refusal(a, c, identity, server, why, sizeof(why));
	} else if (!identity || !server) {
		reply_error(c, "tag needs \"identity\" and \"server\" strings, or a \"ticket\"");
		return;
	} else {
		refusal = tag_refusal(a, c, identity, server, why, sizeof(why));
		if (!refusal && !trust_may_assert(a, &c->cred, identity, why, sizeof(why)))
			refusal = why;
	}
	if (refusal) {
		audit_tag_request(a, c, loggable(identity), loggable(server), refusal, req);
		reply_error(c, "%s", refusal);
		return;
	}

	err = identity_id_get(a, identity, &tag.identity_id);
	if (!err)
		err = server_id_get(a, server, &tag.server_id);
	if (err) {
		reply_error(c, "cannot register identity or server: %s", strerror(-err));
		return;
	}
	/* NOEXIST: a tag that appeared since the check (it cannot, the peer waits
	 * for us) is never replaced. */
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.tags), &pid, &tag, BPF_NOEXIST)) {
		snprintf(why, sizeof(why), "cannot tag process %u: %s", pid, strerror(errno));
		audit_tag_request(a, c, identity, server, why, req);
		reply_error(c, "%s", why);
		return;
	}
	audit_tag_request(a, c, identity, server, NULL, req);
	client_send_json(c, json_pack("{s:b, s:I, s:s, s:s}", "ok", 1, "pid", (json_int_t)pid,
				      "identity", identity, "server", server),
			 false);
}

/* A trusted host asks for a one-time ticket for (identity, server). */
static void op_ticket(struct agent *a, struct client *c, json_t *req)
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
		reply_error(c, "ticket needs \"identity\" and \"server\" strings");
		return;
	}
	if ((ttl_v && !json_is_integer(ttl_v)) || ttl < 1 || ttl > MF_TICKET_TTL_MAX) {
		reply_error(c, "ticket: \"ttl\" is 1..%d seconds", MF_TICKET_TTL_MAX);
		return;
	}
	refusal = tag_refusal(a, c, identity, server, why, sizeof(why));
	if (!refusal && !trust_may_assert(a, &c->cred, identity, why, sizeof(why)))
		refusal = why;
	if (!refusal && (err = ticket_issue(&c->cred, identity, server, ttl, id))) {
		snprintf(why, sizeof(why), "cannot issue a ticket: %s",
			 err == -ENOSPC ? "too many outstanding tickets" : strerror(-err));
		refusal = why;
	}
	rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "event",
			refusal ? "ticket-refused" : "ticket", "verdict", refusal ? "deny" : "allow",
			"identity", loggable(identity), "server", loggable(server), "pid",
			(json_int_t)c->cred.pid, "uid", (json_int_t)c->cred.uid);
	if (rec && refusal)
		json_object_set_new(rec, "reason", json_string(refusal));
	if (rec)
		audit_emit(a, rec);
	if (refusal) {
		reply_error(c, "%s", refusal);
		return;
	}
	client_send_json(c, json_pack("{s:b, s:s, s:I}", "ok", 1, "ticket", id, "ttl", ttl),
			 false);
}

static void op_whoami(struct agent *a, struct client *c)
{
	char ident[MF_NAME_MAX];
	struct mf_tag tag;

	if (!tag_of(a, c->cred.pid, &tag)) {
		client_send_json(c, json_pack("{s:b, s:b, s:I}", "ok", 1, "governed", 0, "pid",
					      (json_int_t)c->cred.pid),
				 false);
		return;
	}
	client_send_json(c,
			 json_pack("{s:b, s:b, s:I, s:s, s:s, s:s}", "ok", 1, "governed", 1,
				   "pid", (json_int_t)c->cred.pid, "identity",
				   identity_name(a, tag.identity_id, ident, sizeof(ident)),
				   "server", server_name(a, tag.server_id), "tagged_by",
				   tag.flags & MF_TAG_EXEC ? "exec" : "launcher"),
			 false);
}

static void op_ps(struct agent *a, struct client *c)
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
		read_proc_text(key, "comm", comm, sizeof(comm));
		read_proc_text(key, "cmdline", cmdline, sizeof(cmdline));
		json_array_append_new(
			procs, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "pid", (json_int_t)key,
					 "identity",
					 identity_name(a, tag.identity_id, ident, sizeof(ident)),
					 "server", server_name(a, tag.server_id), "tagged_by",
					 tag.flags & MF_TAG_EXEC ? "exec" : "launcher", "comm", comm,
					 "cmdline", cmdline));
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
};

static void op_status(struct agent *a, struct client *c)
{
	uint64_t counters[MF_CNT_MAX] = {};
	json_t *cnt = json_object(), *pol;
	size_t subscribers = 0, governed = 0;
	uint32_t key, next;
	void *prev = NULL;

	audit_poll(a); /* counters and delivered records agree */
	if (!peer_is_admin(a, c)) {
		/* Others learn that enforcement is up, not what it saw. */
		client_send_json(c,
				 json_pack("{s:b, s:I, s:o, s:{s:b, s:I}}", "ok", 1, "agent_pid",
					   (json_int_t)getpid(), "programs", bpf_attached_programs(a),
					   "policy", "loaded", a->current.policy != NULL, "generation",
					   (json_int_t)a->current.generation),
				 false);
		json_decref(cnt);
		return;
	}
	bpf_read_counters(a, counters);
	for (int i = 0; i < MF_CNT_MAX; i++)
		json_object_set_new(cnt, counter_names[i], json_integer((json_int_t)counters[i]));
	json_object_set_new(cnt, "log_errors", json_integer((json_int_t)a->log_errors));
	json_object_set_new(cnt, "records_logged", json_integer((json_int_t)a->records_logged));
	for (struct client *s = a->clients; s; s = s->next)
		subscribers += s->subscribed;
	while (bpf_map_get_next_key(bpf_map__fd(a->skel->maps.tags), prev, &next) == 0) {
		key = next;
		prev = &key;
		governed++;
	}
	if (a->current.policy) {
		pol = json_pack("{s:b, s:I, s:s, s:s, s:s, s:I}", "loaded", 1, "generation",
				(json_int_t)a->current.generation, "source", a->current.source,
				"mode", a->current.policy->audit_only ? "audit" : "enforce",
				"audit_allowed", a->current.policy->audit_allowed ? "all" : "none",
				"rules", (json_int_t)a->current.policy->nrules);
	} else {
		pol = json_pack("{s:b}", "loaded", 0);
	}
	client_send_json(c,
			 json_pack("{s:b, s:I, s:s, s:s, s:o, s:o, s:o, s:I, s:I, s:s*}", "ok",
				   1, "agent_pid", (json_int_t)getpid(), "pin_dir",
				   a->opt.pin_dir, "socket", a->opt.socket_path, "programs",
				   bpf_attached_programs(a), "policy", pol, "counters", cnt,
				   "governed_processes", (json_int_t)governed, "subscribers",
				   (json_int_t)subscribers, "audit_log", a->opt.audit_log),
			 false);
}

/* The policy comes as "text", or (root's CLI, to skip encoding megabytes
 * as a JSON string) as a "path" the agent reads itself. */
static void op_policy_load(struct agent *a, struct client *c, json_t *req)
{
	json_t *text = json_object_get(req, "text");
	const char *path = json_string_value(json_object_get(req, "path"));
	const char *source = json_string_value(json_object_get(req, "source"));
	json_t *warnings = json_array();
	char err[MF_ERR_MAX], *file_text = NULL;
	const char *policy_text;
	size_t len;
	int r;

	if (json_is_string(text)) {
		policy_text = json_string_value(text);
		len = json_string_length(text);
	} else if (path && path[0] == '/') {
		r = mf_read_file(path, MF_POLICY_FILE_MAX, &file_text, &len);
		if (r) {
			reply_error(c, "cannot read %s: %s", path, strerror(-r));
			goto out;
		}
		policy_text = file_text;
	} else {
		reply_error(c, "policy_load needs a \"text\" string or an absolute \"path\"");
		goto out;
	}
	if (policy_load_text(a, policy_text, len, source ? source : "policy", err, sizeof(err),
			     warnings)) {
		audit_emit(a, json_pack("{s:s, s:s, s:s, s:I}", "event", "policy-load", "verdict",
					"deny", "error", err, "uid", (json_int_t)c->cred.uid));
		reply_error(c, "%s", err);
		goto out;
	}
	audit_emit(a, json_pack("{s:s, s:s, s:s, s:I, s:I}", "event", "policy-load", "verdict",
				"allow", "source", a->current.source, "generation",
				(json_int_t)a->current.generation, "uid",
				(json_int_t)c->cred.uid));
	client_send_json(c,
			 json_pack("{s:b, s:I, s:O}", "ok", 1, "generation",
				   (json_int_t)a->current.generation, "warnings", warnings),
			 false);
out:
	free(file_text);
	json_decref(warnings);
}

static void op_policy_show(struct agent *a, struct client *c)
{
	if (!a->current.policy) {
		reply_error(c, "no policy is loaded");
		return;
	}
	client_send_json(c,
			 json_pack("{s:b, s:s, s:I, s:s}", "ok", 1, "source", a->current.source,
				   "generation", (json_int_t)a->current.generation, "text",
				   a->current.text ? a->current.text : ""),
			 false);
}

static void op_audit(struct agent *a, struct client *c, json_t *req)
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
		reply_error(c, "verdict must be allow, deny or would-deny");
		return;
	}
	free(c->filter_identity);
	free(c->filter_verdict);
	free(c->own_identity);
	c->filter_identity = identity ? strdup(identity) : NULL;
	c->filter_verdict = verdict ? strdup(verdict) : NULL;
	c->own_identity = peer_is_admin(a, c) ? NULL : strdup(peer_user(c, user, sizeof(user)));
	client_send_json(c, json_pack("{s:b, s:b}", "ok", 1, "follow", follow), false);
	for (size_t i = 0; i < MF_HISTORY_MAX; i++) {
		const struct audit_record *rec = &a->history[(a->history_next + i) % MF_HISTORY_MAX];

		if (rec->line && subscriber_wants(c, rec))
			client_queue(c, rec->line, rec->len, true);
	}
	report_drops(c);
	if (follow) {
		c->subscribed = true;
		return;
	}
	client_send_json(c, json_pack("{s:b}", "end", 1), false);
	c->closing = true;
}

static void handle_request(struct agent *a, struct client *c, json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));

	if (!op) {
		reply_error(c, "malformed message: no \"op\" string");
		c->closing = true;
		return;
	}
	if (strcmp(op, "status") == 0) {
		op_status(a, c);
	} else if (strcmp(op, "whoami") == 0) {
		op_whoami(a, c);
	} else if (strcmp(op, "tag") == 0) {
		op_tag(a, c, req);
	} else if (strcmp(op, "ticket") == 0) {
		op_ticket(a, c, req);
	} else if (strcmp(op, "ps") == 0) {
		op_ps(a, c);
	} else if (strcmp(op, "audit") == 0) {
		op_audit(a, c, req);
	} else if (strcmp(op, "policy_load") == 0 || strcmp(op, "policy_show") == 0 ||
		   strcmp(op, "uninstall") == 0) {
		if (!peer_is_root(c)) {
			reply_error(c, "%s: permission denied: only root may do this", op);
		} else if (strcmp(op, "policy_load") == 0) {
			op_policy_load(a, c, req);
		} else if (strcmp(op, "policy_show") == 0) {
			op_policy_show(a, c);
		} else {
			a->uninstall_requested = true;
			a->stop = true;
			client_send_json(c, json_pack("{s:b}", "ok", 1), false);
		}
	} else {
		reply_error(c, "unknown op '%.64s'", op);
	}
}

int control_client_event(struct agent *a, struct client *c, uint32_t events)
{
	char err[256];
	char *line;
	size_t len;
	ssize_t n;
	int r;

	if (events & (EPOLLHUP | EPOLLERR) && !(events & EPOLLIN))
		goto close;
	if (events & EPOLLIN) {
		n = mf_linebuf_fill(&c->in, c->fd);
		if (n == 0 || (n < 0 && n != -EAGAIN && n != -EINTR && n != -EMSGSIZE))
			goto close;
		while (!c->closing && (r = mf_linebuf_next(&c->in, &line, &len)) != 0) {
			json_t *req;

			if (r < 0 || n == -EMSGSIZE) {
				reply_error(c, "message too long (over %zu bytes)", c->in.max);
				c->closing = true;
				break;
			}
			req = mf_json_parse_object(line, len, err, sizeof(err));
			if (!req) {
				reply_error(c, "%s", err);
				c->closing = true;
				break;
			}
			handle_request(a, c, req);
			json_decref(req);
		}
		if (n == -EMSGSIZE && !c->closing) {
			reply_error(c, "message too long (over %zu bytes)", c->in.max);
			c->closing = true;
		}
	}
	if (!client_flush(a, c))
		goto close;
	if (c->closing && c->out_len == 0)
		goto close;
	return 0;
close:
	client_free(a, c);
	return 0;
}

/* Clients marked closing by a broadcast are closed once flushed. */
void control_reap(struct agent *a)
{
	struct client *c = a->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->closing && (c->out_len == 0 || !client_flush(a, c) || c->out_len == 0))
			client_free(a, c);
	}
}
