/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Inside the control socket: control.c owns the connections (accept, read
 * lines, queue and flush output, subscriptions); ops.c answers requests,
 * one handler per operation in a table. Calls flow one way: control.c
 * hands each request to ops_handle(), which replies through these helpers.
 */
#ifndef MCPFENCE_CONTROL_H
#define MCPFENCE_CONTROL_H

#include "agent.h"

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

/* Queue a line. Droppable lines (audit records) are dropped, and counted,
 * when the client's queue is full; replies are always queued. */
void client_queue(struct client *c, const char *line, size_t len, bool droppable);
/* Queue obj as a line, and release it. */
void client_send_json(struct client *c, json_t *obj, bool droppable);
void client_reply_error(struct client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Tell a subscriber how many records it lost since the last notice. */
void client_report_drops(struct client *c);
/* Does the record pass the client's own and requested filters? */
bool client_wants_record(const struct client *c, const struct audit_record *rec);

/* ops.c: answer one request (a JSON object) of client c. */
void ops_handle(struct agent *a, struct client *c, json_t *req);

#endif /* MCPFENCE_CONTROL_H */
