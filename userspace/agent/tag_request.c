// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who a tag or launch request names, and whether the peer may have it: the
 * checks the "tag" operation (ops.c) and the "launch" operation (launch.c)
 * share. An identity and server the peer may assert (trust.c), or a
 * one-time ticket; the server must be one the policy declares.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "control.h"

/* The policy's server of that name, or NULL. */
const struct mf_server *policy_server(struct agent *a, const char *server)
{
	const struct mf_policy *p = a->current.policy;

	for (size_t i = 0; p && i < p->nservers; i++) {
		if (strcmp(p->servers[i].name, server) == 0)
			return &p->servers[i];
	}
	return NULL;
}

/* Why the peer may not have a tag for (identity, server), or NULL. A
 * governed peer never gets here: ops_handle refuses it. */
const char *tag_refusal(struct agent *a, const char *identity, const char *server, char *why,
			size_t len)
{
	if (!mf_name_valid(identity)) {
		snprintf(why, len, "invalid identity name");
		return why;
	}
	if (!mf_name_valid(server) || !policy_server(a, server)) {
		snprintf(why, len, "unknown server '%s': the policy does not declare it",
			 mf_name_valid(server) ? server : "?");
		return why;
	}
	return NULL;
}

const char *loggable(const char *name)
{
	return name && mf_name_valid(name) ? name : "?";
}

const char *isolated_server_in(struct agent *a, json_t *req, char *buf)
{
	const char *server = json_string_value(json_object_get(req, "server"));
	const char *ticket = json_string_value(json_object_get(req, "ticket"));
	const struct mf_server *srv;

	if (!server && ticket && ticket_peek_server(ticket, buf))
		server = buf;
	srv = server ? policy_server(a, server) : NULL;
	return srv && srv->iso.isolate ? srv->name : NULL;
}

const char *tag_resolve(struct agent *a, struct client *c, json_t *req, char identity[MF_NAME_MAX],
			char server[MF_NAME_MAX], char *why, size_t len)
{
	const char *id = json_string_value(json_object_get(req, "identity"));
	const char *srv = json_string_value(json_object_get(req, "server"));
	const char *ticket = json_string_value(json_object_get(req, "ticket"));
	const char *refusal = NULL;

	snprintf(identity, MF_NAME_MAX, "%s", loggable(id));
	snprintf(server, MF_NAME_MAX, "%s", loggable(srv));
	if (ticket) {
		if (ticket_take(ticket, identity, server, why, len))
			return why;
		if ((id && strcmp(id, identity)) || (srv && strcmp(srv, server))) {
			snprintf(why, len,
				 "the ticket is for identity %s on server %s, not %s on %s",
				 identity, server, loggable(id ? id : identity),
				 loggable(srv ? srv : server));
			return why;
		}
		return tag_refusal(a, identity, server, why, len);
	}
	refusal = tag_refusal(a, identity, server, why, len);
	if (!refusal && !trust_may_assert(a, &c->cred, identity, why, len))
		refusal = why;
	return refusal;
}

const char *tag_request_problem(json_t *req)
{
	json_t *ticket = json_object_get(req, "ticket");

	if (ticket && !json_is_string(ticket))
		return ": \"ticket\" must be a string";
	if (!ticket && (!json_is_string(json_object_get(req, "identity")) ||
			!json_is_string(json_object_get(req, "server"))))
		return " needs \"identity\" and \"server\" strings, or a \"ticket\"";
	return NULL;
}
