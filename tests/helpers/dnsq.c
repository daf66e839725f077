// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dnsq: one DNS query over UDP, for the DNS tests and benchmarks.
 *
 *   dnsq udp|connected ADDR PORT NAME [a|aaaa]
 *        prints "ANSWER FROM ADDR#PORT": the first A/AAAA of the answer (or
 *        "rcode=N"), and where the reply came from as the socket saw it;
 *        "TIMEOUT" after 2 s, or the errno of sendto
 *   dnsq bench ADDR PORT NAME N
 *        N queries one after another on one socket: "p50_us=.. p99_us=..
 *        qps=.." (a lost reply counts as 1 s)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static size_t build(uint8_t *q, uint16_t id, const char *name, uint16_t type)
{
	size_t n = 12;
	const char *p = name;

	memset(q, 0, 12);
	q[0] = id >> 8;
	q[1] = id & 0xff;
	q[2] = 0x01; /* RD */
	q[5] = 1;
	while (*p) {
		size_t l = strcspn(p, ".");

		q[n++] = l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (p[l] == '.');
	}
	q[n++] = 0;
	q[n++] = type >> 8;
	q[n++] = type & 0xff;
	q[n++] = 0;
	q[n++] = 1;
	return n;
}

static size_t skip_name(const uint8_t *m, size_t len, size_t off)
{
	while (off < len) {
		if ((m[off] & 0xc0) == 0xc0)
			return off + 2;
		if (!m[off])
			return off + 1;
		off += m[off] + 1;
	}
	return len;
}

/* The first A/AAAA of a reply, or rcode=N, into out. */
static void answer(const uint8_t *m, size_t len, char *out, size_t outlen)
{
	size_t off = skip_name(m, len, 12) + 4;
	unsigned int an = len >= 12 ? (m[6] << 8 | m[7]) : 0;

	snprintf(out, outlen, "rcode=%d", len >= 4 ? m[3] & 0xf : -1);
	for (unsigned int i = 0; i < an && off < len; i++) {
		uint16_t type, rdlen;

		off = skip_name(m, len, off);
		if (off + 10 > len)
			return;
		type = m[off] << 8 | m[off + 1];
		rdlen = m[off + 8] << 8 | m[off + 9];
		off += 10;
		if (off + rdlen > len)
			return;
		if ((type == 1 && rdlen == 4) || (type == 28 && rdlen == 16)) {
			inet_ntop(type == 1 ? AF_INET : AF_INET6, m + off, out, outlen);
			return;
		}
		off += rdlen;
	}
}

static int parse_addr(const char *a, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(atoi(port));
		*len = sizeof(*s4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(atoi(port));
		*len = sizeof(*s6);
		return AF_INET6;
	}
	return -1;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int bench(int fd, struct sockaddr_storage *ss, socklen_t len, const char *name, int n)
{
	double *lat = calloc(n, sizeof(*lat)), t0 = now_us();
	uint8_t q[512], r[4096];

	for (int i = 0; i < n; i++) {
		size_t ql = build(q, (uint16_t)i, name, 1);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double start = now_us();

		sendto(fd, q, ql, 0, (struct sockaddr *)ss, len);
		lat[i] = 1e6;
		while (poll(&pfd, 1, 1000) == 1) {
			ssize_t rl = recv(fd, r, sizeof(r), 0);

			if (rl >= 2 && r[0] == q[0] && r[1] == q[1]) {
				lat[i] = now_us() - start;
				break;
			}
		}
	}
	double total = now_us() - t0;

	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("p50_us=%.0f p99_us=%.0f qps=%.0f\n", lat[n / 2], lat[n * 99 / 100],
	       n / total * 1e6);
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, from;
	socklen_t len, flen = sizeof(from);
	uint8_t q[512], r[4096];
	char ans[64], host[INET6_ADDRSTRLEN];
	struct pollfd pfd;
	size_t ql;
	ssize_t rl;
	int fd, family;

	if (argc < 5 || (family = parse_addr(argv[2], argv[3], &ss, &len)) < 0) {
		fprintf(stderr, "usage: dnsq udp|connected|bench ADDR PORT NAME [a|aaaa|N]\n");
		return 2;
	}
	fd = socket(family, SOCK_DGRAM, 0);
	if (!strcmp(argv[1], "bench"))
		return bench(fd, &ss, len, argv[4], argc > 5 ? atoi(argv[5]) : 1000);
	ql = build(q, 0x4242, argv[4], argc > 5 && !strcmp(argv[5], "aaaa") ? 28 : 1);
	if (!strcmp(argv[1], "connected") ?
		    connect(fd, (struct sockaddr *)&ss, len) || send(fd, q, ql, 0) < 0 :
		    sendto(fd, q, ql, 0, (struct sockaddr *)&ss, len) < 0) {
		printf("%s\n", errno == EPERM ? "EPERM" : strerror(errno));
		return 1;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 2000) != 1) {
		printf("TIMEOUT\n");
		return 1;
	}
	rl = recvfrom(fd, r, sizeof(r), 0, (struct sockaddr *)&from, &flen);
	if (rl < 0) {
		printf("%s\n", errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
		return 1;
	}
	answer(r, rl, ans, sizeof(ans));
	if (from.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, host, sizeof(host));
	printf("%s FROM %s#%u\n", ans, host,
	       ntohs(from.ss_family == AF_INET ? ((struct sockaddr_in *)&from)->sin_port :
						 ((struct sockaddr_in6 *)&from)->sin6_port));
	return 0;
}
