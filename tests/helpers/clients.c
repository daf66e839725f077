// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * clients: abusive clients of the agent's control socket, for the end-to-end
 * tests of its limits. Each mode reports on stdout, then waits for a line on
 * stdin (the test measures the agent meanwhile) before its second phase:
 *
 *   clients partial SOCK N    N connections, each holding half a request line.
 *                             "held H refused R": R were closed by the agent at
 *                             once. Then: "closed C of H" once the agent has
 *                             closed the held ones (or after 20 s).
 *   clients pipeline SOCK N   one connection, N requests written without
 *                             reading a reply until writing stalls for 1 s:
 *                             "sent S of N". Then it reads the replies while
 *                             writing the rest: "replies R".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* An unknown op: cheap for the agent, and its reply is longer than the request. */
static const char request[] =
	"{\"op\":\"pipelined-request-whose-name-the-error-reply-quotes-back-0123\"}\n";

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, "clients: cannot connect to %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wait_for_go(void)
{
	char line[64];

	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		exit(0);
}

/* Count the fds the agent closed: they poll readable and read end of file. */
static int count_closed(int *fds, int n, bool *closed, int timeout_ms)
{
	struct pollfd *p = calloc(n, sizeof(*p));
	int count = 0;
	char buf[4096];

	for (int i = 0; i < n; i++) {
		p[i].fd = closed[i] ? -1 : fds[i];
		p[i].events = POLLIN;
	}
	poll(p, n, timeout_ms);
	for (int i = 0; i < n; i++) {
		ssize_t r = 0;

		/* What the agent said (a refusal) then end of file. */
		while (!closed[i] && p[i].revents &&
		       (r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			;
		if (!closed[i] && p[i].revents && r <= 0 && !(r < 0 && errno == EAGAIN))
			closed[i] = true;
		count += closed[i];
	}
	free(p);
	return count;
}

static int partial(const char *path, int n)
{
	int *fds = calloc(n, sizeof(*fds));
	bool *closed = calloc(n, sizeof(*closed));
	int refused, held, done = 0;
	double deadline;

	for (int i = 0; i < n; i++) {
		fds[i] = connect_to(path);
		/* Refused ones may be closed already: EPIPE is fine here. */
		if (write(fds[i], "{\"op\": \"status\"", 15) < 0 && errno != EPIPE)
			return 1;
	}
	/* Give the agent time to refuse the last ones. */
	refused = count_closed(fds, n, closed, 500);
	for (int i = 0; i < 20; i++) {
		usleep(50000);
		refused = count_closed(fds, n, closed, 0);
	}
	held = n - refused;
	printf("held %d refused %d\n", held, refused);
	wait_for_go();
	deadline = now_s() + 20;
	while (done < held && now_s() < deadline)
		done = count_closed(fds, n, closed, 200) - refused;
	printf("closed %d of %d\n", done, held);
	return 0;
}

static int pipeline(const char *path, long n)
{
	size_t rlen = sizeof(request) - 1, off = 0;
	long sent = 0, replies = 0;
	int fd = connect_to(path);
	char buf[65536];
	double deadline;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* Phase 1: write only. A request cut by a full socket is finished later. */
	while (sent < n) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		size_t len = 0;
		ssize_t w;

		while (len + rlen <= sizeof(buf) && sent + (long)(len / rlen) < n) {
			memcpy(buf + len, request, rlen);
			len += rlen;
		}
		w = write(fd, buf + off, len - off);
		if (w < 0 && errno != EAGAIN)
			return 1;
		if (w > 0) {
			off += w;
			sent += off / rlen;
			off %= rlen;
			continue;
		}
		if (poll(&p, 1, 1000) == 0)
			break; /* stalled: the agent stopped reading */
	}
	printf("sent %ld of %ld\n", sent, n);
	wait_for_go();
	/* Phase 2: read the replies, write what is left. */
	deadline = now_s() + 120;
	while (replies < n && now_s() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < n ? POLLOUT : 0) };
		ssize_t r;

		poll(&p, 1, 1000);
		if (p.revents & POLLOUT) {
			size_t len = 0;
			ssize_t w;

			while (len + rlen <= sizeof(buf) && sent + (long)(len / rlen) < n) {
				memcpy(buf + len, request, rlen);
				len += rlen;
			}
			w = write(fd, buf + off, len - off);
			if (w > 0) {
				off += w;
				sent += off / rlen;
				off %= rlen;
			}
		}
		while ((r = read(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < r; i++)
				replies += buf[i] == '\n';
		}
		if (r == 0)
			break;
	}
	printf("replies %ld\n", replies);
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	long n;

	if (argc != 4 || (n = atol(argv[3])) < 1) {
		fprintf(stderr, "usage: clients partial|pipeline SOCK N\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* One fd per connection. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!strcmp(argv[1], "partial"))
		return partial(argv[2], n);
	if (!strcmp(argv[1], "pipeline"))
		return pipeline(argv[2], n);
	fprintf(stderr, "clients: unknown mode %s\n", argv[1]);
	return 2;
}
