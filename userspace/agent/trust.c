// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who may assert which identity, and one-time launch tickets.
 *
 * Root may assert any identity. A peer that matches a `launchers` entry of
 * the policy (every attribute it gives: user, group, executable) may assert
 * the identities its may_assert patterns allow (any, without patterns).
 * Anyone else may assert only their own user name.
 *
 * A ticket lets a trusted host prove that one launch, and only that one, is
 * for a given identity and server: the host asks for it on its own
 * connection, hands it to `mcpfence run --ticket-fd N`, and the agent
 * accepts it once, before it expires (60 s at most).
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "proc.h"

/* Is gid among the process's groups (primary or supplementary)? */
bool pid_in_group(pid_t pid, gid_t primary, gid_t gid)
{
	/* Up to NGROUPS_MAX (65536) groups of up to 11 bytes each. */
	size_t cap = 65536 * 11 + 4096;
	char *status = primary == gid ? NULL : malloc(cap);
	bool found = primary == gid;

	if (status && mf_proc_read(pid, "status", status, cap) >= 0)
		found = mf_proc_status_has_group(status, gid);
	free(status);
	return found;
}

bool peer_in_group(const struct ucred *cred, const char *group)
{
	struct group *gr = group ? getgrnam(group) : NULL;

	return gr && pid_in_group(cred->pid, cred->gid, gr->gr_gid);
}

static bool launcher_matches(const struct mf_launcher *l, const struct ucred *cred)
{
	if (l->user) {
		struct passwd *pw = getpwnam(l->user);

		if (!pw || pw->pw_uid != cred->uid)
			return false;
	}
	if (l->group && !peer_in_group(cred, l->group))
		return false;
	if (l->exe) {
		char path[64], exe[PATH_MAX];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/exe", cred->pid);
		n = readlink(path, exe, sizeof(exe) - 1);
		if (n < 0)
			return false;
		exe[n] = '\0';
		if (strcmp(exe, l->exe))
			return false;
	}
	return true;
}

bool trust_may_assert(struct agent *a, const struct ucred *cred, const char *identity, char *why,
		      size_t len)
{
	const struct mf_policy *p = a->current.policy;
	bool launcher = false;
	struct passwd *pw;

	if (cred->uid == 0)
		return true;
	for (size_t i = 0; p && i < p->nlaunchers; i++) {
		const struct mf_launcher *l = &p->launchers[i];

		if (!launcher_matches(l, cred))
			continue;
		launcher = true;
		if (!l->nmay_assert)
			return true;
		for (size_t k = 0; k < l->nmay_assert; k++) {
			if (mf_pattern_match(l->may_assert[k], identity))
				return true;
		}
	}
	pw = getpwuid(cred->uid);
	if (pw && strcmp(pw->pw_name, identity) == 0)
		return true;
	if (launcher)
		snprintf(why, len, "this launcher may not assert identity '%s' (may_assert)",
			 identity);
	else
		snprintf(why, len,
			 "user %s may only run servers as %s: only root and the policy's launchers "
			 "may assert another identity",
			 pw ? pw->pw_name : "?", pw ? pw->pw_name : "?");
	return false;
}

/* ---- tickets ---- */

struct ticket {
	char id[MF_TICKET_LEN + 1];
	char identity[MF_NAME_MAX];
	char server[MF_NAME_MAX];
	uint64_t expires_ms; /* CLOCK_MONOTONIC */
	uid_t issuer_uid;
	pid_t issuer_pid;
};

static struct ticket tickets[MF_TICKETS_MAX];

int ticket_issue(const struct ucred *cred, const char *identity, const char *server,
		 unsigned int ttl_s, char id[MF_TICKET_LEN + 1])
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC);
	unsigned char raw[MF_TICKET_LEN / 2];
	struct ticket *slot = NULL;

	/* A free slot, forgetting expired tickets on the way. */
	for (size_t i = 0; i < MF_TICKETS_MAX; i++) {
		if (tickets[i].id[0] && tickets[i].expires_ms <= now)
			memset(&tickets[i], 0, sizeof(tickets[i]));
		if (!slot && !tickets[i].id[0])
			slot = &tickets[i];
	}
	if (!slot)
		return -ENOSPC;
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(slot->id + 2 * i, 3, "%02x", raw[i]);
	snprintf(slot->identity, sizeof(slot->identity), "%s", identity);
	snprintf(slot->server, sizeof(slot->server), "%s", server);
	slot->expires_ms = now + (uint64_t)ttl_s * 1000;
	slot->issuer_uid = cred->uid;
	slot->issuer_pid = cred->pid;
	memcpy(id, slot->id, sizeof(slot->id));
	return 0;
}

/* Compare without leaking where the first difference is. */
static bool equal_secret(const char *a, const char *b, size_t n)
{
	unsigned char diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

int ticket_take(const char *id, char identity[MF_NAME_MAX], char server[MF_NAME_MAX], char *why,
		size_t len)
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC);

	if (!id || strlen(id) != MF_TICKET_LEN) {
		snprintf(why, len, "malformed ticket");
		return -EINVAL;
	}
	for (size_t i = 0; i < MF_TICKETS_MAX; i++) {
		struct ticket *t = &tickets[i];
		bool expired;

		if (!t->id[0] || !equal_secret(t->id, id, MF_TICKET_LEN))
			continue;
		/* Used once, whatever happens next. */
		expired = t->expires_ms <= now;
		memcpy(identity, t->identity, MF_NAME_MAX);
		memcpy(server, t->server, MF_NAME_MAX);
		memset(t, 0, sizeof(*t));
		if (expired) {
			snprintf(why, len, "ticket expired");
			return -ETIMEDOUT;
		}
		return 0;
	}
	snprintf(why, len, "unknown ticket (used already, expired, or never issued)");
	return -ENOENT;
}

bool ticket_peek_server(const char *id, char server[MF_NAME_MAX])
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC);

	if (!id || strlen(id) != MF_TICKET_LEN)
		return false;
	for (size_t i = 0; i < MF_TICKETS_MAX; i++) {
		const struct ticket *t = &tickets[i];

		if (t->id[0] && t->expires_ms > now && equal_secret(t->id, id, MF_TICKET_LEN)) {
			memcpy(server, t->server, MF_NAME_MAX);
			return true;
		}
	}
	return false;
}
