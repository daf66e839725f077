/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The CLI's connection to the agent (session.c). */
#ifndef MCPFENCE_CLI_SESSION_H
#define MCPFENCE_CLI_SESSION_H

#include <jansson.h>

#include "proto.h"

/* --socket, else $MCPFENCE_SOCKET, else the default (mf_socket_path). */
extern const char *session_socket_opt;

struct session {
	int fd;
	struct mf_linebuf lb;
};

/* 0, or -1 having said why the agent cannot be reached. */
int session_open(struct session *s);
void session_close(struct session *s);
/* Send req (consumed) and return the reply when ok, else print the error.
 * With isolate: a refusal that says whether the server is isolated is not
 * printed, and sets *isolate (else -1). */
json_t *session_call_isolate(struct session *s, json_t *req, int *isolate);
json_t *session_call(struct session *s, json_t *req);
/* One request, one reply, on a connection of its own. */
json_t *call_once(json_t *req);
/* obj as one line of JSON on stdout. */
void print_json(const json_t *obj);

#endif /* MCPFENCE_CLI_SESSION_H */
