// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sniff: count the IPv4/IPv6 packets of this network namespace whose
 * destination is one of the given addresses, for the bypass tests.
 *
 *   sniff ADDR...
 *
 * Prints "ready" once the packet socket listens (every packet after that is
 * seen), then, on SIGTERM or SIGINT, the number of matching packets. A
 * packet is counted on every interface that carries it (a veth pair shows
 * it twice): the tests only ask "none" or "some".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_ADDRS 8

struct target {
	int family;
	unsigned char addr[16];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int matches(const struct target *t, int n, const unsigned char *pkt, ssize_t len, int proto)
{
	for (int i = 0; i < n; i++) {
		if (proto == ETH_P_IP && t[i].family == AF_INET && len >= 20 &&
		    memcmp(pkt + 16, t[i].addr, 4) == 0)
			return 1;
		if (proto == ETH_P_IPV6 && t[i].family == AF_INET6 && len >= 40 &&
		    memcmp(pkt + 24, t[i].addr, 16) == 0)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct target t[MAX_ADDRS];
	struct timeval tv = { .tv_usec = 50000 };
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned char pkt[2048];
	unsigned long count = 0;
	int n = 0, fd;

	if (argc < 2 || argc - 1 > MAX_ADDRS) {
		fprintf(stderr, "usage: sniff ADDR... (at most %d)\n", MAX_ADDRS);
		return 2;
	}
	for (int i = 1; i < argc; i++, n++) {
		t[n].family = strchr(argv[i], ':') ? AF_INET6 : AF_INET;
		if (inet_pton(t[n].family, argv[i], t[n].addr) != 1) {
			fprintf(stderr, "sniff: bad address '%s'\n", argv[i]);
			return 2;
		}
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	if (fd < 0) {
		perror("sniff: cannot open packet socket");
		return 2;
	}
	/* A timeout, so that a signal between two packets is noticed. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fromlen = sizeof(from);
		/* After the signal, what is queued already is still read. */
		ssize_t len = recvfrom(fd, pkt, sizeof(pkt), stop ? MSG_DONTWAIT : 0,
				       (struct sockaddr *)&from, &fromlen);

		if (len < 0) {
			if (stop && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			perror("sniff: recvfrom");
			return 2;
		}
		count += matches(t, n, pkt, len, ntohs(from.sll_protocol));
	}
	printf("%lu\n", count);
	return 0;
}
