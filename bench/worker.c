// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mfbench worker: timed loops of one operation per case, interleaved.
 *
 *   mfbench worker [--netns PATH] [--uid U --gid G] --port P [--batches B]
 *                  [--batch-ms MS] CASE=OP:ADDR:EXPECT...
 *
 * OP is connect (TCP socket + connect + accept + close, the client closing
 * with a reset so that no TIME_WAIT piles up), sendto (one UDP datagram on a
 * socket kept open), fork (fork + execve /bin/true + waitpid), getppid (the
 * cheapest syscall) or read (1 byte of /dev/zero): the last two measure
 * what every process on the host pays per syscall; dns (one A query for
 * --name over UDP to ADDR#PORT, waiting for its answer: rcode 0 and at least
 * one answer record is ok) or run (`mcpfence --socket S run --identity I
 * --server ADDR -- /bin/true`, waited for). EXPECT is ok, eperm or refused:
 * every operation's outcome is checked, a mismatch is an error (so a
 * benchmark never times the wrong decision). dns and run time every
 * operation too and print CASE.p50 and CASE.p99 lines besides CASE.
 *
 * Listeners and receivers (127.x.x.x:P, for every address used) are made
 * before the privileges are dropped: sockets of accepted connections belong
 * to root, so only the client's packets carry the benchmark uid. Receivers
 * are never read: past the first few datagrams every send finds the receive
 * queue full and is dropped there, the same way in every mode.
 *
 * Each case runs a warm-up, then B batches of MS milliseconds (at most
 * MAX_OPS operations each); cases alternate batch by batch, in reverse
 * order on odd batches. Per case it prints: CASE median-ns min-ns ops errors
 *
 *   mfbench flood [--netns PATH] [--uid U --gid G] --addr A --port P
 *                 --rate R --ms MS
 *
 * sends datagrams that policy denies, paced at R per second (0: as fast as
 * possible), for MS milliseconds, to --flows N ports in turn (P, P+1, ...:
 * N flows); prints: sent N eperm N other N ns N
 *
 *   mfbench dnsflood --addr A#PORT --name NAME --inflight W --ms MS
 *
 * keeps W A queries for NAME in flight over UDP for MS milliseconds (each
 * answer sends the next; a query unanswered for 1 s is counted lost and
 * replaced); prints: sent N answered N failed N lost N ns N
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_CASES 16
#define MAX_OPS 2000000 /* per batch */
#define MAX_BATCHES 100
#define MAX_SAMPLES (1 << 20) /* per case, of the ops timed one by one */
#define DNS_WAIT_MS 1000

extern char **environ;

enum op { OP_CONNECT, OP_SENDTO, OP_FORK, OP_GETPPID, OP_READ, OP_DNS, OP_RUN };

/* dns and run: what the worker options say. */
static const char *dns_name = "bench.test";
static const char *run_mcpfence, *run_socket, *run_identity = "bench";

/* Operations without an address or a server: ADDR is "-". */
static bool op_local(enum op op)
{
	return op == OP_FORK || op == OP_GETPPID || op == OP_READ || op == OP_DNS || op == OP_RUN;
}

struct bench_case {
	const char *name;
	enum op op;
	int expect; /* errno, 0 for ok */
	struct sockaddr_storage dst;
	socklen_t dst_len;
	int listen_fd; /* connect: the listener at dst */
	int send_fd;   /* sendto, dns: the socket used; read: /dev/zero */
	const char *arg; /* run: the server */
	double per_op[MAX_BATCHES];
	int64_t *samples; /* dns, run: every operation's wall time */
	long nsamples;
	long ops;
	long errors;
	int first_err;
};

int enter_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "mfbench: cannot enter network namespace %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int drop_privileges(uint32_t uid, uint32_t gid)
{
	if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) {
		fprintf(stderr, "mfbench: cannot become uid %u gid %u: %s\n", uid, gid,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int parse_sockaddr(const char *addr, unsigned port, struct sockaddr_storage *ss,
			  socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	fprintf(stderr, "mfbench: bad address '%s'\n", addr);
	return -1;
}

static int parse_expect(const char *s)
{
	if (strcmp(s, "ok") == 0)
		return 0;
	if (strcmp(s, "eperm") == 0)
		return EPERM;
	if (strcmp(s, "refused") == 0)
		return ECONNREFUSED;
	return -1;
}

/* ADDR#PORT */
static int parse_addr_port(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char buf[INET6_ADDRSTRLEN + 8], *hash;
	unsigned long port;

	snprintf(buf, sizeof(buf), "%s", spec);
	hash = strrchr(buf, '#');
	if (!hash) {
		fprintf(stderr, "mfbench: '%s' is not ADDR#PORT\n", spec);
		return -1;
	}
	*hash++ = '\0';
	port = strtoul(hash, NULL, 10);
	if (!port || port > 65535) {
		fprintf(stderr, "mfbench: bad port in '%s'\n", spec);
		return -1;
	}
	return parse_sockaddr(buf, port, ss, len);
}

/* CASE=OP:ADDR:EXPECT (ADDR may hold colons: it is what lies between the
 * first and the last colon after OP). */
static int parse_case(char *spec, unsigned port, struct bench_case *c)
{
	char *eq = strchr(spec, '='), *op, *addr, *exp;

	if (!eq)
		return -1;
	*eq = '\0';
	c->name = spec;
	op = eq + 1;
	addr = strchr(op, ':');
	exp = strrchr(op, ':');
	if (!addr || addr == exp)
		return -1;
	*addr++ = '\0';
	*exp++ = '\0';
	if (strcmp(op, "connect") == 0)
		c->op = OP_CONNECT;
	else if (strcmp(op, "sendto") == 0)
		c->op = OP_SENDTO;
	else if (strcmp(op, "fork") == 0)
		c->op = OP_FORK;
	else if (strcmp(op, "getppid") == 0)
		c->op = OP_GETPPID;
	else if (strcmp(op, "read") == 0)
		c->op = OP_READ;
	else if (strcmp(op, "dns") == 0)
		c->op = OP_DNS;
	else if (strcmp(op, "run") == 0)
		c->op = OP_RUN;
	else
		return -1;
	c->expect = parse_expect(exp);
	if (c->expect < 0)
		return -1;
	c->listen_fd = c->send_fd = -1;
	if (c->op == OP_DNS || c->op == OP_RUN) {
		c->samples = malloc(MAX_SAMPLES * sizeof(*c->samples));
		if (!c->samples)
			return -1;
	}
	if (c->op == OP_DNS)
		return parse_addr_port(addr, &c->dst, &c->dst_len);
	if (c->op == OP_RUN) {
		c->arg = addr;
		return run_mcpfence && run_socket ? 0 : -1;
	}
	if (op_local(c->op))
		return 0;
	return parse_sockaddr(addr, port, &c->dst, &c->dst_len);
}

static int family_of(const struct bench_case *c)
{
	return c->dst.ss_family;
}

/* A listener or receiver at the case's address (made as root). */
static int make_server(struct bench_case *c)
{
	int type = c->op == OP_CONNECT ? SOCK_STREAM : SOCK_DGRAM;
	int fd = socket(family_of(c), type | SOCK_CLOEXEC, 0), one = 1, small = 4096;

	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (type == SOCK_DGRAM)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (bind(fd, (struct sockaddr *)&c->dst, c->dst_len))
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 128))
		goto fail;
	return fd;
fail:
	fprintf(stderr, "mfbench: cannot set up a %s server for case %s: %s\n",
		type == SOCK_STREAM ? "TCP" : "UDP", c->name, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int op_connect(struct bench_case *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int s = socket(family_of(c), SOCK_STREAM | SOCK_CLOEXEC, 0), a, err = 0;

	if (s < 0)
		return errno;
	if (connect(s, (struct sockaddr *)&c->dst, c->dst_len)) {
		err = errno;
		close(s);
		return err;
	}
	a = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0)
		err = errno ? errno : EIO;
	/* Reset instead of FIN: no TIME_WAIT, the port is free at once. */
	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(s);
	if (a >= 0)
		close(a);
	return err;
}

static int op_sendto(struct bench_case *c)
{
	if (sendto(c->send_fd, "x", 1, 0, (struct sockaddr *)&c->dst, c->dst_len) < 0)
		return errno;
	return 0;
}

static int op_fork(void)
{
	static char *const args[] = { "true", NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0) {
		execve("/bin/true", args, environ);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : ECHILD;
}

static int op_read(struct bench_case *c)
{
	char byte;

	return read(c->send_fd, &byte, 1) == 1 ? 0 : errno ? errno : EIO;
}

/* An A query (recursion desired) for name with this id; its length, or -1. */
static int dns_query(uint8_t *buf, size_t cap, const char *name, uint16_t id)
{
	size_t n = 12;

	memset(buf, 0, 12);
	buf[0] = id >> 8;
	buf[1] = id & 0xff;
	buf[2] = 0x01; /* RD */
	buf[5] = 1;    /* QDCOUNT */
	while (*name) {
		size_t l = strcspn(name, ".");

		if (l < 1 || l > 63 || n + l + 6 > cap)
			return -1;
		buf[n++] = l;
		memcpy(buf + n, name, l);
		n += l;
		name += l + (name[l] == '.');
	}
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = 1; /* A */
	buf[n++] = 0;
	buf[n++] = 1; /* IN */
	return n;
}

/* An answer to query id: 0 (rcode 0, answers), 1 (another id), or an errno. */
static int dns_check(const uint8_t *buf, ssize_t n, uint16_t id)
{
	if (n < 12 || !(buf[2] & 0x80))
		return n < 0 ? errno : EPROTO;
	if (((buf[0] << 8) | buf[1]) != id)
		return 1;
	if (buf[3] & 0x0f)
		return (buf[3] & 0x0f) == 3 ? ENOENT : EPROTO; /* NXDOMAIN, other rcodes */
	return (buf[6] | buf[7]) ? 0 : ENODATA;
}

static int op_dns(struct bench_case *c)
{
	static uint16_t id;
	uint8_t q[512], a[1500];
	int64_t deadline = now_ns() + (int64_t)DNS_WAIT_MS * 1000000;
	int len = dns_query(q, sizeof(q), dns_name, ++id);

	if (len < 0)
		return EINVAL;
	if (sendto(c->send_fd, q, len, 0, (struct sockaddr *)&c->dst, c->dst_len) < 0)
		return errno;
	for (;;) {
		struct pollfd p = { .fd = c->send_fd, .events = POLLIN };
		int64_t left = deadline - now_ns(), err;

		if (left <= 0 || poll(&p, 1, (int)(left / 1000000) + 1) <= 0)
			return ETIMEDOUT;
		err = dns_check(a, recv(c->send_fd, a, sizeof(a), 0), id);
		if (err != 1)
			return err; /* 1: a late answer to an earlier query */
	}
}

/* mcpfence run --server ARG -- /bin/true, its output to /dev/null. */
static int op_run(struct bench_case *c)
{
	char *const args[] = { (char *)run_mcpfence, "--socket", (char *)run_socket, "run",
			       "--identity", (char *)run_identity, "--server", (char *)c->arg,
			       "--", "/bin/true", NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execve(run_mcpfence, args, environ);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : ECHILD;
}

static int run_op(struct bench_case *c)
{
	switch (c->op) {
	case OP_GETPPID:
		/* The raw syscall: libc might cache it one day. */
		return syscall(SYS_getppid) > 0 ? 0 : ESRCH;
	case OP_READ:
		return op_read(c);
	case OP_CONNECT:
		return op_connect(c);
	case OP_SENDTO:
		return op_sendto(c);
	case OP_FORK:
		return op_fork();
	case OP_DNS:
		return op_dns(c);
	case OP_RUN:
		return op_run(c);
	}
	return EINVAL;
}

/* This thread's CPU time: a syscall's cost without the time other
 * processes held the CPU (on 2 shared cores, most of the noise). */
static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One batch: operations until ms have passed (clock read every 8); the
 * syscall ops are timed in CPU time, the others (which wait on the network
 * stack or a child) in wall time. */
static double run_batch(struct bench_case *c, int ms)
{
	int64_t start = now_ns(), end = start + (int64_t)ms * 1000000, t = start;
	int64_t cpu0 = thread_cpu_ns();
	long n = 0;

	while (n < MAX_OPS) {
		for (int i = 0; i < 8; i++) {
			int64_t t0 = c->samples ? now_ns() : 0;
			int err = run_op(c);

			if (c->samples && c->nsamples < MAX_SAMPLES)
				c->samples[c->nsamples++] = now_ns() - t0;
			if (err != c->expect) {
				if (!c->errors++)
					c->first_err = err;
			}
		}
		n += 8;
		t = now_ns();
		if (t >= end)
			break;
	}
	c->ops += n;
	if (c->op == OP_GETPPID || c->op == OP_READ)
		return (double)(thread_cpu_ns() - cpu0) / (double)n;
	return (double)(t - start) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* dns, run: the 50th and 99th percentile of every operation timed. */
static void print_percentiles(struct bench_case *c)
{
	static const int pct[] = { 50, 99 };

	if (!c->nsamples)
		return;
	qsort(c->samples, c->nsamples, sizeof(*c->samples), cmp_i64);
	for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
		long k = (c->nsamples * pct[i] + 99) / 100 - 1; /* nearest rank */

		printf("%s.p%d %lld %lld %ld %ld\n", c->name, pct[i],
		       (long long)c->samples[k < 0 ? 0 : k], (long long)c->samples[0], c->nsamples,
		       c->errors);
	}
}

static const char worker_usage[] =
	"usage: mfbench worker [--netns PATH] [--uid U --gid G] --port P [--batches B]\n"
	"                      [--batch-ms MS] [--name NAME] [--mcpfence PATH --socket PATH\n"
	"                      [--identity ID]] CASE=OP:ADDR:ok|eperm|refused...\n"
	"  OP: connect, sendto, fork, getppid, read (ADDR \"-\" for the last three),\n"
	"      dns (ADDR#PORT of the resolver) or run (ADDR: the server)\n";

int worker_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "port", required_argument, NULL, 'p' },
		{ "batches", required_argument, NULL, 'b' },
		{ "batch-ms", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'N' },
		{ "mcpfence", required_argument, NULL, 'M' },
		{ "socket", required_argument, NULL, 'S' },
		{ "identity", required_argument, NULL, 'I' },
		{},
	};
	struct bench_case cases[MAX_CASES] = {};
	const char *netns = NULL;
	long uid = -1, gid = -1;
	int ncases = 0, batches = 5, batch_ms = 40, opt, ret = 0;
	unsigned port = 0;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			netns = optarg;
			break;
		case 'u':
			uid = strtol(optarg, NULL, 10);
			break;
		case 'g':
			gid = strtol(optarg, NULL, 10);
			break;
		case 'p':
			port = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			batches = atoi(optarg);
			break;
		case 'm':
			batch_ms = atoi(optarg);
			break;
		case 'N':
			dns_name = optarg;
			break;
		case 'M':
			run_mcpfence = optarg;
			break;
		case 'S':
			run_socket = optarg;
			break;
		case 'I':
			run_identity = optarg;
			break;
		default:
			fputs(worker_usage, stderr);
			return 2;
		}
	}
	if (!port || port > 65535 || batches < 1 || batches > MAX_BATCHES || batch_ms < 1 ||
	    batch_ms > 10000 || optind >= argc || argc - optind > MAX_CASES) {
		fputs(worker_usage, stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		if (parse_case(argv[i], port, &cases[ncases])) {
			fprintf(stderr, "mfbench: bad case '%s'\n%s", argv[i], worker_usage);
			return 2;
		}
		ncases++;
	}
	if (netns && enter_netns(netns))
		return 1;
	for (int i = 0; i < ncases; i++) {
		struct bench_case *c = &cases[i];

		if (op_local(c->op))
			continue;
		/* One server per (kind, address): reuse an earlier case's. */
		for (int j = 0; j < i; j++) {
			if (cases[j].op == c->op && cases[j].dst_len == c->dst_len &&
			    memcmp(&cases[j].dst, &c->dst, c->dst_len) == 0)
				c->listen_fd = cases[j].listen_fd;
		}
		if (c->listen_fd < 0 && (c->listen_fd = make_server(c)) < 0)
			return 1;
	}
	if (uid >= 0 && drop_privileges(uid, gid >= 0 ? gid : uid))
		return 1;
	/* Sending sockets belong to the benchmark uid (nftables matches it). */
	for (int i = 0; i < ncases; i++) {
		if (cases[i].op == OP_READ) {
			cases[i].send_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
			if (cases[i].send_fd < 0) {
				fprintf(stderr, "mfbench: cannot open /dev/zero: %s\n",
					strerror(errno));
				return 1;
			}
		}
		if (cases[i].op != OP_SENDTO && cases[i].op != OP_DNS)
			continue;
		cases[i].send_fd = socket(family_of(&cases[i]), SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (cases[i].send_fd < 0) {
			fprintf(stderr, "mfbench: cannot create a UDP socket: %s\n", strerror(errno));
			return 1;
		}
	}

	/* Warm-up: caches, the socket paths, the page tables of fork. */
	for (int i = 0; i < ncases; i++)
		run_batch(&cases[i], batch_ms / 4 + 1);
	for (int i = 0; i < ncases; i++)
		cases[i].ops = cases[i].nsamples = 0;
	for (int b = 0; b < batches; b++) {
		for (int k = 0; k < ncases; k++) {
			int i = b % 2 ? ncases - 1 - k : k;

			cases[i].per_op[b] = run_batch(&cases[i], batch_ms);
		}
	}
	for (int i = 0; i < ncases; i++) {
		struct bench_case *c = &cases[i];

		qsort(c->per_op, batches, sizeof(double), cmp_double);
		printf("%s %.1f %.1f %ld %ld\n", c->name,
		       batches % 2 ? c->per_op[batches / 2] :
				     (c->per_op[batches / 2 - 1] + c->per_op[batches / 2]) / 2,
		       c->per_op[0], c->ops, c->errors);
		print_percentiles(c);
		if (c->errors) {
			fprintf(stderr, "mfbench: case %s: %ld of %ld operations did not end as "
					"expected (%s), e.g. with %s\n",
				c->name, c->errors, c->ops, strerror(c->expect),
				c->first_err ? strerror(c->first_err) : "success");
			ret = 1;
		}
	}
	return ret;
}

static const char flood_usage[] =
	"usage: mfbench flood [--netns PATH] [--uid U --gid G] --addr A --port P --rate R --ms MS\n"
	"                     [--flows N]\n";

int flood_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "netns", required_argument, NULL, 'n' }, { "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },   { "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },  { "rate", required_argument, NULL, 'r' },
		{ "ms", required_argument, NULL, 'm' },	   { "flows", required_argument, NULL, 'f' },
		{},
	};
	const char *netns = NULL, *addr = NULL;
	long uid = -1, gid = -1, eperm = 0, other = 0, sent = 0, flows = 1;
	double rate = 0;
	int ms = 0, opt, fd;
	unsigned port = 0;
	struct sockaddr_storage ss;
	socklen_t len;
	int64_t start, end, t;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			netns = optarg;
			break;
		case 'u':
			uid = strtol(optarg, NULL, 10);
			break;
		case 'g':
			gid = strtol(optarg, NULL, 10);
			break;
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		case 'm':
			ms = atoi(optarg);
			break;
		case 'f':
			flows = strtol(optarg, NULL, 10);
			break;
		default:
			fputs(flood_usage, stderr);
			return 2;
		}
	}
	if (!addr || !port || port > 65535 || ms < 1 || ms > 60000 || rate < 0 || flows < 1 ||
	    port + flows - 1 > 65535) {
		fputs(flood_usage, stderr);
		return 2;
	}
	if (parse_sockaddr(addr, port, &ss, &len))
		return 2;
	if (netns && enter_netns(netns))
		return 1;
	if (uid >= 0 && drop_privileges(uid, gid >= 0 ? gid : uid))
		return 1;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "mfbench: cannot create a UDP socket: %s\n", strerror(errno));
		return 1;
	}
	start = now_ns();
	end = start + (int64_t)ms * 1000000;
	for (t = start; t < end && sent < 100000000; t = now_ns()) {
		/* Paced: never ahead of rate * elapsed. */
		if (rate > 0 && (double)sent >= rate * (double)(t - start) / 1e9)
			continue;
		for (int i = 0; i < 4; i++) {
			/* sin_port and sin6_port lie at the same offset. */
			((struct sockaddr_in *)&ss)->sin_port = htons(port + sent % flows);
			if (sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len) < 0 && errno == EPERM)
				eperm++;
			else
				other++;
			sent++;
		}
	}
	printf("sent %ld eperm %ld other %ld ns %lld\n", sent, eperm, other,
	       (long long)(t - start));
	close(fd);
	return other ? 1 : 0;
}

/* dnsflood: the slot of a query id (ids are slot + k * inflight). */
struct dns_slot {
	uint16_t id;
	int64_t sent_ns;
};

static int dnsflood_send(int fd, const struct sockaddr_storage *ss, socklen_t len,
			 const char *name, struct dns_slot *slot, uint16_t id)
{
	uint8_t q[512];
	int n = dns_query(q, sizeof(q), name, id);

	slot->id = id;
	slot->sent_ns = now_ns();
	if (n < 0 || sendto(fd, q, n, 0, (const struct sockaddr *)ss, len) < 0)
		return -1;
	return 0;
}

static const char dnsflood_usage[] =
	"usage: mfbench dnsflood --addr A#PORT --name NAME --inflight W --ms MS\n";

int dnsflood_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },     { "name", required_argument, NULL, 'n' },
		{ "inflight", required_argument, NULL, 'w' }, { "ms", required_argument, NULL, 'm' },
		{},
	};
	const char *addr = NULL, *name = NULL;
	int inflight = 0, ms = 0, opt, fd;
	long sent = 0, answered = 0, failed = 0, lost = 0;
	struct dns_slot slots[256];
	uint16_t next_id = 0;
	struct sockaddr_storage ss;
	socklen_t len;
	int64_t start, end, t;
	uint8_t a[1500];

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'w':
			inflight = atoi(optarg);
			break;
		case 'm':
			ms = atoi(optarg);
			break;
		default:
			fputs(dnsflood_usage, stderr);
			return 2;
		}
	}
	/* Power of two: id % inflight names the slot across the 16-bit wrap. */
	if (!addr || !name || inflight < 1 || inflight > 256 || (inflight & (inflight - 1)) ||
	    ms < 1 || ms > 60000) {
		fputs(dnsflood_usage, stderr);
		return 2;
	}
	if (parse_addr_port(addr, &ss, &len))
		return 2;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "mfbench: cannot create a UDP socket: %s\n", strerror(errno));
		return 1;
	}
	start = now_ns();
	end = start + (int64_t)ms * 1000000;
	for (int i = 0; i < inflight; i++, sent++)
		if (dnsflood_send(fd, &ss, len, name, &slots[i], next_id++))
			failed++;
	for (t = start; t < end; t = now_ns()) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int slot, err;

		if (poll(&p, 1, 50) == 1 && (n = recv(fd, a, sizeof(a), 0)) >= 12) {
			slot = ((a[0] << 8) | a[1]) % inflight;
			err = dns_check(a, n, slots[slot].id);
			if (err == 1)
				continue; /* an answer to a query counted lost */
			if (err)
				failed++;
			else
				answered++;
			if (dnsflood_send(fd, &ss, len, name, &slots[slot],
					  slots[slot].id + inflight))
				failed++;
			sent++;
			continue;
		}
		/* Lost (dropped by a full queue, say): replace after DNS_WAIT_MS. */
		t = now_ns();
		for (int i = 0; i < inflight; i++) {
			if (t - slots[i].sent_ns < (int64_t)DNS_WAIT_MS * 1000000)
				continue;
			lost++;
			if (dnsflood_send(fd, &ss, len, name, &slots[i], slots[i].id + inflight))
				failed++;
			sent++;
		}
	}
	printf("sent %ld answered %ld failed %ld lost %ld ns %lld\n", sent, answered, failed,
	       lost, (long long)(t - start));
	close(fd);
	return failed ? 1 : 0;
}

/*
 *   mfbench hold --count N --seconds S
 *
 * forks N children that wait (at most S seconds each), prints "ready" and
 * waits; SIGTERM or SIGINT (or S seconds) kills the children, by pid, and
 * reaps them. For the agent's memory with many governed processes.
 */
int hold_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{},
	};
	int count = 0, seconds = 0, opt, sig, n = 0;
	pid_t *pids;
	sigset_t set;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			count = atoi(optarg);
			break;
		case 's':
			seconds = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (count < 1 || count > 10000 || seconds < 1 || seconds > 600)
		goto usage;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pids = calloc(count, sizeof(*pids));
	if (!pids)
		return 1;
	for (; n < count; n++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "mfbench: fork: %s\n", strerror(errno));
			break;
		}
		if (pid == 0) {
			alarm(seconds);
			sigwait(&set, &sig);
			_exit(0);
		}
		pids[n] = pid;
	}
	if (n == count) {
		alarm(seconds);
		printf("ready\n");
		fflush(stdout);
		sigwait(&set, &sig);
	}
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	free(pids);
	return n == count ? 0 : 1;
usage:
	fprintf(stderr, "usage: mfbench hold --count N --seconds S\n");
	return 2;
}
