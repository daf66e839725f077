// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Talking to the agent: one connection, requests and their replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "session.h"

const char *session_socket_opt;

int session_open(struct session *s)
{
	const char *path = mf_socket_path(session_socket_opt);

	s->fd = mf_client_connect(path);
	if (s->fd < 0) {
		fprintf(stderr,
			"mcpfence: cannot reach the agent at %s: %s (is mcpfenced running?)\n",
			path, strerror(-s->fd));
		return -1;
	}
	mf_linebuf_init(&s->lb, MF_LINE_MAX_ROOT);
	return 0;
}

void session_close(struct session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	mf_linebuf_free(&s->lb);
}

/* Send req (consumed) and return the reply when ok, else print the error.
 * With isolate: a refusal that says whether the server is isolated (a tag
 * of an isolated server, a launch of another) is not printed, and sets
 * *isolate (else -1). */
json_t *session_call_isolate(struct session *s, json_t *req, int *isolate)
{
	json_t *reply = NULL;
	int err = mf_client_call(s->fd, &s->lb, req, &reply), code;
	const char *msg;

	json_decref(req);
	if (isolate)
		*isolate = -1;
	if (err) {
		fprintf(stderr, "mcpfence: no answer from the agent: %s\n", strerror(-err));
		return NULL;
	}
	if (json_is_true(json_object_get(reply, "ok")))
		return reply;
	code = mf_errcode_of(json_string_value(json_object_get(reply, "code")));
	if (isolate && (code == MF_E_ISOLATED || code == MF_E_NOT_ISOLATED)) {
		*isolate = code == MF_E_ISOLATED;
	} else {
		msg = json_string_value(json_object_get(reply, "error"));
		fprintf(stderr, "mcpfence: %s\n", msg ? msg : "the agent refused without a reason");
	}
	json_decref(reply);
	return NULL;
}

json_t *session_call(struct session *s, json_t *req)
{
	return session_call_isolate(s, req, NULL);
}

/* One request, one reply, for the simple verbs. */
json_t *call_once(json_t *req)
{
	struct session s;
	json_t *reply;

	if (session_open(&s)) {
		json_decref(req);
		return NULL;
	}
	reply = session_call(&s, req);
	session_close(&s);
	return reply;
}

void print_json(const json_t *obj)
{
	char *line = mf_json_line(obj, NULL);

	if (line)
		fputs(line, stdout);
	free(line);
}
