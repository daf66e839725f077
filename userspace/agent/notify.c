// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Readiness for systemd (Type=notify), by the documented protocol of
 * sd_notify(3) rather than libsystemd: one datagram of "KEY=VALUE\n" lines
 * to the AF_UNIX socket named in $NOTIFY_SOCKET (a path, or "@name" for the
 * abstract namespace). Without $NOTIFY_SOCKET nothing is sent. A failed send
 * is said on stderr once and otherwise ignored: the service manager's
 * bookkeeping never stops enforcement.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

static void notify_send(const char *msg, size_t len)
{
	static bool reported;
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t plen;
	socklen_t alen;
	int fd;

	if (!path || !*path)
		return;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(addr.sun_path)) {
		if (!reported)
			fprintf(stderr, "mcpfenced: ignoring NOTIFY_SOCKET: not a socket path\n");
		reported = true;
		return;
	}
	memcpy(addr.sun_path, path, plen);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	alen = offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '/');
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&addr, alen) < 0) {
		if (!reported)
			fprintf(stderr, "mcpfenced: cannot notify the service manager at %s: %s\n",
				path, strerror(errno));
		reported = true;
	}
	if (fd >= 0)
		close(fd);
}

/* notify("READY=1\nSTATUS=%s", ...): one message, its lines as given. */
void notify(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	notify_send(msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

/* RELOADING=1 carries the time it began (systemd >= 253 requires it for
 * Type=notify-reload; older managers ignore it). */
void notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	       (unsigned long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}
