/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Control protocol between the CLI and the agent: one JSON object per line
 * over a Unix stream socket. Requests carry "op"; replies carry "type"
 * (first), "ok" and, when ok is false, "error" and "code" (enum mf_errcode,
 * below). An audit subscription turns the connection into a stream of record
 * objects. Lines are capped: a peer that sends a longer one is told so and
 * disconnected.
 */
#ifndef MCPFENCE_PROTO_H
#define MCPFENCE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define MF_DEFAULT_SOCKET "/run/mcpfence/control.sock"
#define MF_SOCKET_ENV "MCPFENCE_SOCKET"
#define MF_LINE_MAX_USER (64u << 10) /* requests of non-root peers */
#define MF_LINE_MAX_ROOT (64u << 20) /* root may load large policies */

/* Input buffer that yields whole lines. */
struct mf_linebuf {
	char *buf;
	size_t start; /* first unconsumed byte */
	size_t len;   /* bytes held, from 0 */
	size_t cap;
	size_t max; /* longest line accepted */
};

void mf_linebuf_init(struct mf_linebuf *lb, size_t max);
void mf_linebuf_free(struct mf_linebuf *lb);
/* Read once from fd: >0 bytes read, 0 at end of file, -errno (-EAGAIN included). */
ssize_t mf_linebuf_fill(struct mf_linebuf *lb, int fd);
/* The same with recvmsg: descriptors passed (SCM_RIGHTS, received close-on-exec)
 * are added to fds while *nfds < max; the others are closed. */
#define MF_FDS_MAX 3 /* a launch passes stdin, stdout and stderr */
ssize_t mf_linebuf_fill_fds(struct mf_linebuf *lb, int fd, int *fds, size_t max, size_t *nfds);
/* Write all of buf to a blocking socket, fds[] passed with its first bytes. */
int mf_send_fds(int fd, const void *buf, size_t len, const int *fds, size_t nfds);
/* Next whole line without its '\n' (NUL-terminated in place): 1 found,
 * 0 need more input, -EMSGSIZE the line is longer than max. */
int mf_linebuf_next(struct mf_linebuf *lb, char **line, size_t *len);
/* Give memory back: free the buffer when nothing is held, else keep the held
 * bytes in a buffer their size (when they fill little of it). */
void mf_linebuf_shrink(struct mf_linebuf *lb);

/* Encode obj compactly, '\n'-terminated; free() the result. */
char *mf_json_line(const json_t *obj, size_t *len);
/* Parse a line as a JSON object; NULL with a message in err otherwise. */
json_t *mf_json_parse_object(const char *line, size_t len, char *err, size_t errlen);

/* Write all of buf to a blocking fd (a socket without SIGPIPE): 0 or -errno. */
int mf_write_all(int fd, const void *buf, size_t len);

/* The socket path: explicit, else $MCPFENCE_SOCKET, else the default. */
const char *mf_socket_path(const char *explicit_path);
/* Connect to the agent: fd or -errno. */
int mf_client_connect(const char *path);
/* Send req and read one reply object. 0 with *reply set, or -errno / -EPROTO. */
int mf_client_call(int fd, struct mf_linebuf *lb, const json_t *req, json_t **reply);
/* The same, passing fds (at most MF_FDS_MAX) with the request. */
int mf_client_call_fds(int fd, struct mf_linebuf *lb, const json_t *req, const int *fds,
		       size_t nfds, json_t **reply);
/* Read the next object from a blocking fd: 1, 0 at end of file, -errno. */
int mf_client_read(int fd, struct mf_linebuf *lb, json_t **obj);

/*
 * Error codes of replies: "code" beside "error" when "ok" is false. The
 * names are stable, for the CLI and tests to match on; the message is for
 * people and may change.
 */
enum mf_errcode {
	MF_E_INVALID_REQUEST,	/* malformed, unknown op, missing or bad arguments */
	MF_E_PERMISSION_DENIED, /* the op needs root or an administrator */
	MF_E_GOVERNED,		/* a governed peer asked what only others may */
	MF_E_NOT_GOVERNED,	/* only a governed peer may ask this, for itself */
	MF_E_PEER_GONE,		/* the peer exited, or cannot be told apart from another */
	MF_E_NOT_FOUND,		/* nothing to act on: no policy, no launched server */
	MF_E_LIMIT,		/* past a limit: message size, servers running */
	MF_E_REFUSED,		/* the policy or the trust rules refuse it */
	MF_E_INVALID_POLICY,	/* the policy given cannot be read or loaded */
	MF_E_ISOLATED,		/* an isolated server: the agent launches it ("isolate") */
	MF_E_NOT_ISOLATED,	/* launch of a server that is not isolated */
	MF_E_FAILED,		/* the agent failed (memory, a kernel map) */
	MF_E_COUNT
};

/* The code's name ("permission-denied"); "failed" for a value out of range. */
const char *mf_errcode_name(enum mf_errcode code);
/* The code of a name, or -1 when unknown. */
int mf_errcode_of(const char *name);

/*
 * Lines on a connection that are not audit records carry "type", their
 * first key (jansson keeps the order keys were set in); records carry
 * "event" instead. A subscriber tells them apart by the start of the line,
 * without parsing every record.
 */
#define MF_TYPE_REPLY "reply"	  /* an answer to a request: "ok", maybe "error" and "code" */
#define MF_TYPE_DROPPED "dropped" /* audit records this subscriber lost */
#define MF_TYPE_END "end"	  /* the end of an audit listing (no --follow) */

/* Is line (as the agent wrote it) a protocol message, not an audit record? */
bool mf_is_message_line(const char *line, size_t len);

#endif /* MCPFENCE_PROTO_H */
