// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dnsport: one DNS query for NAME (type A) from a UDP socket bound to
 * 127.0.0.1:PORT; prints the answer's rcode ("rcode=N"), or the errno name.
 *
 *   dnsport PORT NAME                 sendto 192.0.2.53:53 (redirected to
 *                                     the agent's resolver when governed)
 *   dnsport PORT NAME RESOLVER_PORT   connect to 192.0.2.53:53 (the redirect
 *                                     marks the socket), disconnect (the bound
 *                                     port stays), then send straight to the
 *                                     resolver at 127.0.0.1:RESOLVER_PORT
 *
 * With the same PORT, the second form used to be answered as whoever used
 * the port before (tests/bypass/30-dns-port.t).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int put_name(unsigned char *p, const char *name)
{
	int len = 0;

	while (*name) {
		const char *dot = strchr(name, '.');
		int l = dot ? (int)(dot - name) : (int)strlen(name);

		p[len++] = (unsigned char)l;
		memcpy(p + len, name, l);
		len += l;
		name += l;
		if (*name)
			name++;
	}
	p[len++] = 0;
	return len;
}

int main(int argc, char **argv)
{
	unsigned char q[300] = { 0x4d, 0x46, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, r[1500];
	struct sockaddr_in me = { .sin_family = AF_INET }, any53 = me, res = me;
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	struct timeval tv = { 2, 0 };
	int fd, qlen, one = 1;
	ssize_t n;

	if (argc < 3 || argc > 4 || strlen(argv[2]) > 200) {
		fprintf(stderr, "usage: dnsport PORT NAME [RESOLVER_PORT]\n");
		return 2;
	}
	qlen = 12 + put_name(q + 12, argv[2]);
	q[qlen++] = 0;
	q[qlen++] = 1; /* A */
	q[qlen++] = 0;
	q[qlen++] = 1; /* IN */
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	me.sin_port = htons(atoi(argv[1]));
	any53.sin_addr.s_addr = htonl(0xc0000235); /* 192.0.2.53 (TEST-NET-1) */
	any53.sin_port = htons(53);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me))) {
		printf("bind:%s\n", strerror(errno));
		return 1;
	}
	if (argc == 3) {
		n = sendto(fd, q, qlen, 0, (struct sockaddr *)&any53, sizeof(any53));
	} else {
		res.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		res.sin_port = htons(atoi(argv[3]));
		if (connect(fd, (struct sockaddr *)&any53, sizeof(any53)) ||
		    connect(fd, &unspec, sizeof(unspec))) {
			printf("connect:%s\n", strerror(errno));
			return 1;
		}
		n = sendto(fd, q, qlen, 0, (struct sockaddr *)&res, sizeof(res));
	}
	if (n < 0) {
		printf("sendto:%s\n", strerror(errno));
		return 1;
	}
	n = recv(fd, r, sizeof(r), 0);
	if (n < 12) {
		printf("recv:%s\n", n < 0 ? strerror(errno) : "short");
		return 1;
	}
	printf("rcode=%d\n", r[3] & 15);
	return 0;
}
