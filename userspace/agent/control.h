/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside the control socket: control.c owns the connections (accept, read
 * lines, queue and flush output, subscriptions); ops.c answers requests,
 * one handler per operation in a table. Calls flow one way: ops.c replies
 * through the helpers below; control.c reaches ops_handle() only through the
 * handler main.c gives control_setup().
 */
#ifndef MCPFENCE_CONTROL_H
#define MCPFENCE_CONTROL_H

#include "agent.h"

/*
 * What clients of the control socket may hold in the agent, all in one place.
 * A client costs its input (at most one line: MF_LINE_MAX_USER for users,
 * freed or shrunk once consumed) and its output queue (freed once drained).
 * Worst case for users, allocator rounding included: MF_CLIENTS_USERS *
 * (MF_LINE_MAX_USER + 8 KiB + 2 * MF_CLIENT_OUT_SOFT), 25 MiB, plus twice
 * MF_CLIENTS_QUEUED of audit records: with the agent's own ~10 MiB, under the
 * 64 MiB that tests/e2e/95-client-limits.t checks. Root is trusted with more.
 */
#define MF_CLIENTS_USERS 128  /* connections of non-root peers, all uids together */
#define MF_CLIENTS_PER_UID 32 /* connections of one non-root uid */
/* audit followers of one non-root uid: they are exempt from the idle timeout,
 * so without this a few uids could hold the users' pool for good */
#define MF_SUBSCRIBERS_PER_UID 4
#define MF_CLIENTS_ROOT 256 /* root's own pool: users filling theirs never lock root out */
#define MF_CLIENT_OUT_SOFT (64u << 10) /* replies queued past which a client is not read */
#define MF_CLIENT_OUT_HARD (16u << 20) /* queued bytes past which a user's client is closed */
/* root's: the longest reply is policy_show of a MF_POLICY_FILE_MAX policy, escaped */
#define MF_CLIENT_OUT_HARD_ROOT (2 * MF_POLICY_FILE_MAX + (1u << 20))
#define MF_SUBSCRIBER_QUEUE (4u << 20) /* audit records queued per subscriber before drops */
#define MF_CLIENTS_QUEUED (8u << 20)   /* queued for all clients: audit records stop here */
#define MF_CLIENT_IDLE_S 30	       /* no request for this long: closed (subscribers excepted) */
#define MF_CLIENT_LINE_S 5	       /* a line not finished this long after it began: closed */
#define MF_CLIENTS_TRIM_AFTER 64 /* clients closed before free memory goes back (malloc_trim) */

/* Linux 6.5; the headers here may predate it. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

struct client {
	enum watch_kind kind; /* first: epoll data points here */
	int fd;
	struct ucred cred;
	int pidfd; /* SO_PEERPIDFD: the process that connected; -errno if none */
	struct mf_linebuf in;
	char *out; /* queued output: out_len bytes from out + out_start */
	size_t out_start, out_len, out_cap;
	uint32_t events;   /* registered with epoll */
	bool backlog;	   /* complete lines may wait: stopped at MF_CLIENT_OUT_SOFT */
	bool eof;	   /* the peer sent all it will */
	bool closing;	   /* close once the output is flushed */
	int64_t active_ms; /* CLOCK_MONOTONIC: connected, or last request */
	int64_t line_ms;   /* first byte of a partial line held; 0: none */
	/* audit subscription */
	bool subscribed;
	char *filter_identity;
	char *filter_verdict;
	char *own_identity; /* non-root: only records of this identity */
	uint64_t dropped, dropped_reported;
	int fds[MF_FDS_MAX]; /* passed with the request being read (SCM_RIGHTS) */
	size_t nfds;
	struct launch *launch; /* the isolated server this connection launched */
	struct client *next;
};

/* Queue a line. Droppable lines (audit records) are dropped, and counted,
 * when the client's queue is full; replies are always queued. */
void client_queue(struct client *c, const char *line, size_t len, bool droppable);
/* Queue obj as a line, and release it. */
void client_send_json(struct client *c, json_t *obj, bool droppable);
void client_reply_error(struct client *c, enum mf_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Tell a subscriber how many records it lost since the last notice. */
void client_report_drops(struct client *c);
/* Does the record pass the client's own and requested filters? */
bool client_wants_record(const struct client *c, const struct audit_record *rec);

/* ops.c: answer one request (a JSON object) of client c; a client closed
 * (the control_hooks of control_setup). */
void ops_handle(struct agent *a, struct client *c, json_t *req);
void ops_client_gone(struct agent *a, struct client *c);

/* The peer of one request, as checked before acting on it (ops.c). */
struct peer {
	pid_t pid;
	bool governed;
	struct mf_tag tag; /* when governed */
};

/* tag_request.c: the checks of tag and launch requests (ops.c, launch.c) */
/* The policy's server of that name, or NULL. */
const struct mf_server *policy_server(struct agent *a, const char *server);
/* name when it is a valid name, else "?": fit for a log. */
const char *loggable(const char *name);
/* Why the peer may not have a tag for (identity, server), or NULL. */
const char *tag_refusal(struct agent *a, const char *identity, const char *server, char *why,
			size_t len);
/* What is wrong with the form of a tag or launch request, after its op's
 * name ("tag needs ..."), or NULL. */
const char *tag_request_problem(json_t *req);
/* Who a tag or launch request names: "identity" and "server" the peer may
 * assert, or a "ticket" (used up). NULL, or the refusal (in why); identity
 * and server get what is known, fit for a log. */
const char *tag_resolve(struct agent *a, struct client *c, json_t *req, char identity[MF_NAME_MAX],
			char server[MF_NAME_MAX], char *why, size_t len);
/* The isolated server the request names ("server", or its ticket's, the
 * ticket not used up), or NULL; buf holds MF_NAME_MAX. */
const char *isolated_server_in(struct agent *a, json_t *req, char *buf);

/* launch.c: the operations of isolated servers */
void op_launch(struct agent *a, struct client *c, const struct peer *p, json_t *req);
void op_signal(struct agent *a, struct client *c, const struct peer *p, json_t *req);
void op_credential(struct agent *a, struct client *c, const struct peer *p, json_t *req);

#endif /* MCPFENCE_CONTROL_H */
