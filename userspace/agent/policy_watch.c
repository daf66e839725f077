// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --watch-policy: the --policy file is reloaded when it changes, as a
 * Kubernetes ConfigMap mount changes it. The kubelet never writes the file in
 * place: it writes a new directory and renames the "..data" symlink over the
 * old one, the file being a symlink through "..data". So the directory is
 * watched (inotify), not the file: any entry created, moved in, written or
 * removed there may be a new policy. Its text is then read and loaded only if
 * it differs from the last one tried, so that a burst of events, or an
 * unrelated file, loads nothing, and a bad policy is reported once.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/inotify.h>

#include "agent.h"
#include "file.h"

int policy_watch_setup(struct agent *a)
{
	static struct {
		enum watch_kind kind;
	} policy_watch = { WATCH_POLICY };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &policy_watch };
	const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_ATTRIB;
	char dir[PATH_MAX], errbuf[MF_ERR_MAX];
	int err;

	if (!a->opt.watch_policy)
		return 0;
	snprintf(dir, sizeof(dir), "%s", a->opt.policy_path);
	a->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->watch_fd < 0 || inotify_add_watch(a->watch_fd, dirname(dir), mask) < 0 ||
	    epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->watch_fd, &ev)) {
		err = -errno;
		fprintf(stderr, "mcpfenced: cannot watch %s: %s\n", a->opt.policy_path,
			strerror(-err));
		return err;
	}
	/* What the start is about to load: an event with the same text loads
	 * nothing. */
	if (mf_read_regular(a->opt.policy_path, MF_POLICY_FILE_MAX, &a->watch_last,
			    &a->watch_last_len, errbuf, sizeof(errbuf)))
		a->watch_last = NULL;
	return 0;
}

/* Drain the events; true if the file's text is new (then in *text, *len). */
bool policy_watch_changed(struct agent *a, char **text, size_t *len)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char err[MF_ERR_MAX];
	bool any = false;
	ssize_t n;

	while ((n = read(a->watch_fd, buf, sizeof(buf))) > 0)
		any = true;
	if (!any)
		return false;
	/* Gone for a moment (a rename in progress), or unreadable: the next
	 * event tries again; the policy in force stays. */
	if (mf_read_regular(a->opt.policy_path, MF_POLICY_FILE_MAX, text, len, err, sizeof(err)))
		return false;
	if (a->watch_last && a->watch_last_len == *len && !memcmp(a->watch_last, *text, *len)) {
		free(*text);
		return false;
	}
	free(a->watch_last);
	a->watch_last = malloc(*len);
	a->watch_last_len = a->watch_last ? *len : 0;
	if (a->watch_last)
		memcpy(a->watch_last, *text, *len);
	return true;
}

void policy_watch_teardown(struct agent *a)
{
	if (a->watch_fd >= 0)
		close(a->watch_fd);
	a->watch_fd = -1;
	free(a->watch_last);
	a->watch_last = NULL;
}
