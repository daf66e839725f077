// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * probe: one network operation, its outcome on stdout ("OK" or the errno
 * name), for the end-to-end tests. Wrappers run the operation somewhere
 * else in the process tree, the way an escaping server would:
 *
 *   probe connect tcp|udp ADDR PORT     connect() (ADDR v4 or v6, v4-mapped too)
 *   probe sendto udp ADDR PORT          one datagram with an explicit address
 *   probe sendmsg-connected ADDR PORT   UDP connect() then send() without address
 *   probe fastopen ADDR PORT            TCP sendto(MSG_FASTOPEN)
 *   probe socket raw|icmp|sctp|udplite|mptcp|packet
 *   probe unix-connect stream|dgram|seqpacket NAME   connect() to a Unix socket ("@x": abstract x)
 *   probe unix-connect-tail NAME TAIL   connect(), the address going on after the
 *                                       name's NUL with TAIL ("": no NUL at all)
 *   probe unix-sendto NAME              one datagram to a Unix socket name
 *   probe bind tcp|udp ADDR PORT        bind() (then listen() for tcp)
 *   probe listen-accept unbound|port0 MS  listen() without bind (or after binding
 *                                       127.0.0.1:0); prints "PORT n" to stderr,
 *                                       then OK if a connection is accepted
 *                                       within MS milliseconds, else ETIMEDOUT
 *   probe connect-wait ADDR PORT MS     non-blocking TCP connect, OK if it
 *                                       completes within MS milliseconds
 *   probe fork OP...                    in a child process
 *   probe daemon OP...                  in a grandchild after double fork + setsid
 *   probe thread OP...                  in a new thread
 *   probe leader-exit OP...             in a thread, after the main thread exited
 *   probe repeat N OP...                N times; prints each outcome with its count
 *   probe chroot DIR OP...              after chroot(DIR) (needs root)
 *   probe rebind FROM ONTO OP...        in a new mount namespace where FROM is
 *                                       bind-mounted onto ONTO (needs root)
 *
 * Closed ports answer ECONNREFUSED: a connect that got that far was allowed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static const char *errno_name(int err)
{
	switch (err) {
	case 0:
		return "OK";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ENETUNREACH:
		return "ENETUNREACH";
	case EINVAL:
		return "EINVAL";
	case EAFNOSUPPORT:
		return "EAFNOSUPPORT";
	case EPROTONOSUPPORT:
		return "EPROTONOSUPPORT";
	case ESOCKTNOSUPPORT:
		return "ESOCKTNOSUPPORT";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EINPROGRESS:
		return "EINPROGRESS";
	case ENOENT:
		return "ENOENT";
	case EADDRINUSE:
		return "EADDRINUSE";
	default:
		return strerror(err);
	}
}

static int parse_addr(const char *addr, const char *port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(atoi(port));
		*len = sizeof(*in4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(atoi(port));
		*len = sizeof(*in6);
		return AF_INET6;
	}
	fprintf(stderr, "probe: bad address %s\n", addr);
	exit(2);
}

/* What a network operation does with its fresh socket and destination. */
enum net_op {
	NET_CONNECT,
	NET_SENDTO,
	NET_CONNECT_SEND,
	NET_FASTOPEN
};

/* One socket of type to ADDR PORT, one operation: 0 or its errno. */
static int net_op(enum net_op op, int type, const char *addr, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int family = parse_addr(addr, port, &ss, &len);
	struct sockaddr *sa = (struct sockaddr *)&ss;
	int fd = socket(family, type, 0), err = 0;
	ssize_t r = 0;

	if (fd < 0)
		return errno;
	switch (op) {
	case NET_CONNECT:
		r = connect(fd, sa, len);
		break;
	case NET_SENDTO:
		r = sendto(fd, "x", 1, 0, sa, len);
		break;
	case NET_CONNECT_SEND:
		r = connect(fd, sa, len);
		if (r == 0)
			r = send(fd, "x", 1, 0);
		break;
	case NET_FASTOPEN:
		r = sendto(fd, "x", 1, MSG_FASTOPEN, sa, len);
		break;
	}
	if (r < 0)
		err = errno;
	close(fd);
	return err;
}

/* "/path" or "@abstract" as a Unix socket address of the exact length. */
static socklen_t unix_addr(const char *name, struct sockaddr_un *sun)
{
	size_t n = strlen(name);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n > sizeof(sun->sun_path) - 1) {
		fprintf(stderr, "probe: socket name too long: %s\n", name);
		exit(2);
	}
	memcpy(sun->sun_path, name, n);
	if (name[0] == '@') {
		sun->sun_path[0] = '\0';
		return offsetof(struct sockaddr_un, sun_path) + n;
	}
	return offsetof(struct sockaddr_un, sun_path) + n + 1;
}

/* connect() or sendto() to a Unix socket name; with a tail, the address
 * goes on past the name's NUL with it ("" : no NUL, the length ends the path). */
static int unix_op_tail(int type, bool connect_first, const char *name, const char *tail)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(name, &sun);
	int fd = socket(AF_UNIX, type, 0), err = 0;
	ssize_t r;

	if (tail && !*tail) {
		len--;
	} else if (tail) {
		size_t at = len - offsetof(struct sockaddr_un, sun_path);

		if (at + strlen(tail) > sizeof(sun.sun_path))
			exit(2);
		memcpy(sun.sun_path + at, tail, strlen(tail));
		len += strlen(tail);
	}

	if (fd < 0)
		return errno;
	if (connect_first)
		r = connect(fd, (struct sockaddr *)&sun, len);
	else
		r = sendto(fd, "x", 1, 0, (struct sockaddr *)&sun, len);
	if (r < 0)
		err = errno;
	close(fd);
	return err;
}

static int unix_op(int type, bool connect_first, const char *name)
{
	return unix_op_tail(type, connect_first, name, NULL);
}

/* bind() to ADDR PORT; a TCP socket then listens, as a server would. */
static int bind_op(int type, const char *addr, const char *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int family = parse_addr(addr, port, &ss, &len);
	int fd = socket(family, type, 0), err = 0, one = 1;

	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (type == SOCK_STREAM && listen(fd, 1) < 0))
		err = errno;
	close(fd);
	return err;
}

/* A server that never binds: listen() takes an ephemeral port by itself. */
static int listen_accept(const char *mode, const char *ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	struct pollfd pfd = { .events = POLLIN };
	int fd = socket(AF_INET, SOCK_STREAM, 0), c;

	if (fd < 0)
		return errno;
	if (strcmp(mode, "port0") == 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return errno;
	if (listen(fd, 1) < 0 || getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return errno;
	fprintf(stderr, "PORT %u\n", ntohs(sin.sin_port));
	pfd.fd = fd;
	if (poll(&pfd, 1, atoi(ms)) != 1)
		return ETIMEDOUT;
	c = accept(fd, NULL, NULL);
	if (c < 0)
		return errno;
	close(c);
	close(fd);
	return 0;
}

static int connect_wait(const char *addr, const char *port, const char *ms)
{
	struct sockaddr_storage ss;
	socklen_t len, elen = sizeof(int);
	int family = parse_addr(addr, port, &ss, &len), err = 0;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS)
		err = errno;
	else if (poll(&pfd, 1, atoi(ms)) != 1)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
	close(fd);
	return err;
}

static int op_socket(const char *kind)
{
	int family = AF_INET, type, proto, fd;

	if (strcmp(kind, "raw") == 0) {
		type = SOCK_RAW;
		proto = IPPROTO_UDP;
	} else if (strcmp(kind, "icmp") == 0) {
		type = SOCK_DGRAM;
		proto = IPPROTO_ICMP;
	} else if (strcmp(kind, "sctp") == 0) {
		type = SOCK_STREAM;
		proto = IPPROTO_SCTP;
	} else if (strcmp(kind, "udplite") == 0) {
		type = SOCK_DGRAM;
		proto = IPPROTO_UDPLITE;
	} else if (strcmp(kind, "mptcp") == 0) {
		type = SOCK_STREAM;
		proto = IPPROTO_MPTCP;
	} else if (strcmp(kind, "packet") == 0) {
		family = AF_PACKET;
		type = SOCK_DGRAM;
		proto = 0;
	} else {
		fprintf(stderr, "probe: unknown socket kind %s\n", kind);
		exit(2);
	}
	fd = socket(family, type, proto);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static void print_result(int err);
static int run_op(int argc, char **argv);

struct thread_arg {
	int argc;
	char **argv;
	int err;
};

static void *thread_main(void *p)
{
	struct thread_arg *t = p;

	t->err = run_op(t->argc, t->argv);
	return NULL;
}

static void *leader_exit_thread(void *p)
{
	struct thread_arg *t = p;

	usleep(100000); /* let the main thread be gone */
	print_result(run_op(t->argc, t->argv));
	fflush(stdout);
	exit(0);
}

/* Run OP in a child (or grandchild); its outcome comes back through a pipe. */
static int in_child(int argc, char **argv, int daemonize)
{
	int pipefd[2], err = EIO;
	pid_t pid;

	if (pipe(pipefd))
		return errno;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		close(pipefd[0]);
		if (daemonize) {
			if (fork() != 0)
				_exit(0);
			setsid();
			if (fork() != 0)
				_exit(0);
		}
		err = run_op(argc, argv);
		if (write(pipefd[1], &err, sizeof(err)) != sizeof(err))
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &err, sizeof(err)) != sizeof(err))
		err = EIO;
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	return err;
}

static int run_op(int argc, char **argv)
{
	if (argc < 1)
		goto usage;
	if (strcmp(argv[0], "connect") == 0 && argc == 4)
		return net_op(NET_CONNECT, strcmp(argv[1], "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM,
			      argv[2], argv[3]);
	if (strcmp(argv[0], "sendto") == 0 && argc == 4)
		return net_op(NET_SENDTO, SOCK_DGRAM, argv[2], argv[3]);
	if (strcmp(argv[0], "sendmsg-connected") == 0 && argc == 3)
		return net_op(NET_CONNECT_SEND, SOCK_DGRAM, argv[1], argv[2]);
	if (strcmp(argv[0], "fastopen") == 0 && argc == 3)
		return net_op(NET_FASTOPEN, SOCK_STREAM, argv[1], argv[2]);
	if (strcmp(argv[0], "unix-connect") == 0 && argc == 3)
		return unix_op(strcmp(argv[1], "dgram") == 0	 ? SOCK_DGRAM :
			       strcmp(argv[1], "seqpacket") == 0 ? SOCK_SEQPACKET :
								   SOCK_STREAM,
			       true, argv[2]);
	if (strcmp(argv[0], "unix-connect-tail") == 0 && argc == 3)
		return unix_op_tail(SOCK_STREAM, true, argv[1], argv[2]);
	if (strcmp(argv[0], "unix-sendto") == 0 && argc == 2)
		return unix_op(SOCK_DGRAM, false, argv[1]);
	if (strcmp(argv[0], "bind") == 0 && argc == 4)
		return bind_op(strcmp(argv[1], "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM, argv[2],
			       argv[3]);
	if (strcmp(argv[0], "listen-accept") == 0 && argc == 3)
		return listen_accept(argv[1], argv[2]);
	if (strcmp(argv[0], "connect-wait") == 0 && argc == 4)
		return connect_wait(argv[1], argv[2], argv[3]);
	if (strcmp(argv[0], "socket") == 0 && argc == 2)
		return op_socket(argv[1]);
	if (strcmp(argv[0], "fork") == 0)
		return in_child(argc - 1, argv + 1, 0);
	if (strcmp(argv[0], "daemon") == 0)
		return in_child(argc - 1, argv + 1, 1);
	if (strcmp(argv[0], "thread") == 0) {
		struct thread_arg t = { argc - 1, argv + 1, EIO };
		pthread_t th;

		if (pthread_create(&th, NULL, thread_main, &t))
			return EAGAIN;
		pthread_join(th, NULL);
		return t.err;
	}
	if (strcmp(argv[0], "chroot") == 0 && argc > 2) {
		if (chroot(argv[1]) || chdir("/"))
			return errno;
		return run_op(argc - 2, argv + 2);
	}
	if (strcmp(argv[0], "rebind") == 0 && argc > 3) {
		/* Private first: the bind mount must not propagate to the host. */
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount(argv[1], argv[2], NULL, MS_BIND, NULL))
			return errno;
		return run_op(argc - 3, argv + 3);
	}
	if (strcmp(argv[0], "leader-exit") == 0) {
		static struct thread_arg t;
		pthread_t th;

		t.argc = argc - 1;
		t.argv = argv + 1;
		if (pthread_create(&th, NULL, leader_exit_thread, &t))
			return EAGAIN;
		pthread_exit(NULL);
	}
usage:
	fprintf(stderr, "probe: bad arguments (see tests/helpers/probe.c)\n");
	exit(2);
}

static void print_result(int err)
{
	printf("%s\n", errno_name(err));
}

/* repeat N OP...: "EPERM=1000" or "ECONNREFUSED=998 EPERM=2" */
static void repeat(int n, int argc, char **argv)
{
	int counts[256] = {}, first = 1;

	for (int i = 0; i < n; i++) {
		int err = run_op(argc, argv);

		counts[err < 255 ? err : 255]++;
	}
	for (int e = 0; e < 256; e++) {
		if (!counts[e])
			continue;
		printf("%s%s=%d", first ? "" : " ", errno_name(e), counts[e]);
		first = 0;
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	if (argc > 3 && strcmp(argv[1], "repeat") == 0) {
		repeat(atoi(argv[2]), argc - 3, argv + 3);
		return 0;
	}
	print_result(run_op(argc - 1, argv + 1));
	return 0;
}
