// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * srcroute: send to DST (the destination the hooks judge) with a source
 * route whose first hop is VIA, the way a governed server would try to
 * reach a denied VIA after its allowed DST was approved. Prints "OK" or the
 * errno name of the first step that failed.
 *
 *   srcroute rthdr udp|tcp VIA DST PORT       setsockopt IPV6_RTHDR (segment routing header)
 *   srcroute rthdr2292 udp|tcp VIA DST PORT   setsockopt IPV6_2292RTHDR (CAP_NET_RAW)
 *   srcroute rthdr-cmsg udp VIA DST PORT      IPV6_RTHDR as ancillary data of one sendmsg
 *   srcroute pktoptions udp VIA DST PORT      setsockopt IPV6_2292PKTOPTIONS carrying it
 *   srcroute lsrr udp|tcp VIA DST PORT        setsockopt IP_OPTIONS (loose source route)
 *   srcroute lsrr-cmsg udp VIA DST PORT       IP_RETOPTS as ancillary data of one sendmsg
 *   srcroute rr-cmsg udp VIA DST PORT         the same with record route (no source route:
 *                                             VIA is unused)
 *   srcroute xfrm udp VIA DST PORT            setsockopt IP_XFRM_POLICY / IPV6_XFRM_POLICY
 *                                             (an empty policy: only the refusal matters)
 *   srcroute hand MODE udp|tcp VIA DST PORT CMD...
 *                                  set MODE's route on a socket here (not governed),
 *                                  then exec CMD with that socket as fd 3
 *   srcroute fd3 udp|tcp DST PORT  send to (or connect) DST through the inherited fd 3
 *
 * TCP connects are non-blocking (EINPROGRESS is "OK": the SYN was sent); the
 * helper then waits a little so that the SYN is on the wire when it exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPV6_RTHDR
#define IPV6_RTHDR 57
#endif
#define IPV6_2292RTHDR_OPT 5
#define IPV6_2292PKTOPTIONS_OPT 6

static const char *errno_name(int err)
{
	static char buf[32];

	switch (err) {
	case 0:
		return "OK";
	case EPERM:
		return "EPERM";
	case EINVAL:
		return "EINVAL";
	case EINPROGRESS:
		return "OK";
	case ENETUNREACH:
		return "ENETUNREACH";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ENOBUFS:
		return "ENOBUFS";
	default:
		snprintf(buf, sizeof(buf), "errno %d", err);
		return buf;
	}
}

/* Segment routing header (type 4): segments[0] is the final destination
 * (the kernel writes DST there), the packet goes first to segments[1]. */
static size_t build_srh(unsigned char *b, const struct in6_addr *via)
{
	memset(b, 0, 40);
	b[1] = 4; /* hdrlen: 2 segments of 16 bytes, in 8-byte units */
	b[2] = 4; /* routing type: segment routing */
	b[3] = 1; /* segments left */
	b[4] = 1; /* last entry */
	memcpy(b + 24, via, 16);
	return 40;
}

/* Loose source and record route with one address: the first hop. */
static size_t build_lsrr(unsigned char *b, const struct in_addr *via)
{
	b[0] = 0x83;
	b[1] = 7;
	b[2] = 4;
	memcpy(b + 3, via, 4);
	b[7] = 0; /* end of options */
	return 8;
}

/* Record route with room for one address: does not change the destination. */
static size_t build_rr(unsigned char *b)
{
	memset(b, 0, 8);
	b[0] = 7;
	b[1] = 7;
	b[2] = 4;
	return 8;
}

static int send_cmsg(int fd, const struct sockaddr *to, socklen_t tolen, int level, int type,
		     const void *data, size_t len)
{
	char ctl[CMSG_SPACE(64)] = {};
	char payload[] = "srcroute";
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct msghdr msg = { .msg_name = (void *)to,
			      .msg_namelen = tolen,
			      .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl,
			      .msg_controllen = CMSG_SPACE(len) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	return sendmsg(fd, &msg, 0) < 0 ? errno : 0;
}

static int send_or_connect(int fd, int tcp, const struct sockaddr *to, socklen_t tolen)
{
	int err = 0;

	if (!tcp)
		return sendto(fd, "srcroute", 8, 0, to, tolen) < 0 ? errno : 0;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, to, tolen) < 0)
		err = errno;
	usleep(300000);
	return err;
}

struct dst {
	struct sockaddr_storage ss;
	socklen_t len;
	int v6;
};

static int parse_dst(struct dst *d, const char *addr, int port)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&d->ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&d->ss;

	memset(d, 0, sizeof(*d));
	d->v6 = strchr(addr, ':') != NULL;
	if (d->v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		d->len = sizeof(*s6);
		return inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	d->len = sizeof(*s4);
	return inet_pton(AF_INET, addr, &s4->sin_addr) == 1 ? 0 : -1;
}

/* The socket with MODE's route, and the send, or *fd alone (send false). */
static int run(const char *mode, int tcp, const char *via, const char *dst, int port, int send,
	       int *fdp)
{
	struct dst d;
	struct sockaddr *to = (struct sockaddr *)&d.ss;
	socklen_t tolen;
	int v6, fd, err;
	struct in6_addr via6;
	struct in_addr via4;
	unsigned char opt[64], ctl[CMSG_SPACE(64)] = {};
	size_t len;

	if (parse_dst(&d, dst, port))
		return -1;
	v6 = d.v6;
	tolen = d.len;
	if (v6 ? inet_pton(AF_INET6, via, &via6) != 1 : inet_pton(AF_INET, via, &via4) != 1)
		return -1;
	fd = socket(v6 ? AF_INET6 : AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		return errno;
	*fdp = fd;

	if (strcmp(mode, "rthdr") == 0 && v6) {
		len = build_srh(opt, &via6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, opt, len))
			return errno;
	} else if (strcmp(mode, "rthdr2292") == 0 && v6) {
		len = build_srh(opt, &via6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_2292RTHDR_OPT, opt, len))
			return errno;
	} else if (strcmp(mode, "rthdr-cmsg") == 0 && v6 && !tcp) {
		len = build_srh(opt, &via6);
		return send_cmsg(fd, to, tolen, IPPROTO_IPV6, IPV6_RTHDR, opt, len);
	} else if (strcmp(mode, "pktoptions") == 0 && v6 && !tcp) {
		struct cmsghdr *c = (struct cmsghdr *)ctl;

		len = build_srh(opt, &via6);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_RTHDR;
		c->cmsg_len = CMSG_LEN(len);
		memcpy(CMSG_DATA(c), opt, len);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_2292PKTOPTIONS_OPT, ctl, CMSG_SPACE(len)))
			return errno;
	} else if (strcmp(mode, "lsrr") == 0 && !v6) {
		len = build_lsrr(opt, &via4);
		if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, len))
			return errno;
	} else if (strcmp(mode, "lsrr-cmsg") == 0 && !v6 && !tcp) {
		len = build_lsrr(opt, &via4);
		return send_cmsg(fd, to, tolen, IPPROTO_IP, IP_RETOPTS, opt, len);
	} else if (strcmp(mode, "xfrm") == 0) {
		memset(opt, 0, sizeof(opt));
		if (setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? 35 : 17, opt, sizeof(opt)))
			return errno;
	} else if (strcmp(mode, "rr-cmsg") == 0 && !v6 && !tcp) {
		len = build_rr(opt);
		return send_cmsg(fd, to, tolen, IPPROTO_IP, IP_RETOPTS, opt, len);
	} else {
		return -1;
	}
	if (!send)
		return 0;
	err = send_or_connect(fd, tcp, to, tolen);
	close(fd);
	return err;
}

static int hand(int argc, char **argv)
{
	int fd = -1, err;

	if (argc < 8 || strstr(argv[2], "cmsg"))
		return -1;
	err = run(argv[2], strcmp(argv[3], "tcp") == 0, argv[4], argv[5], atoi(argv[6]), 0, &fd);
	if (err)
		return err;
	if (dup2(fd, 3) < 0)
		return errno;
	execvp(argv[7], argv + 7);
	return errno;
}

static int fd3(int tcp, const char *dst, int port)
{
	struct dst d;

	if (parse_dst(&d, dst, port))
		return -1;
	return send_or_connect(3, tcp, (struct sockaddr *)&d.ss, d.len);
}

int main(int argc, char **argv)
{
	int err, fd;

	if (argc >= 3 && strcmp(argv[1], "hand") == 0)
		err = hand(argc, argv);
	else if (argc == 5 && strcmp(argv[1], "fd3") == 0)
		err = fd3(strcmp(argv[2], "tcp") == 0, argv[3], atoi(argv[4]));
	else if (argc != 6 || (strcmp(argv[2], "udp") && strcmp(argv[2], "tcp")))
		goto usage;
	else
		err = run(argv[1], strcmp(argv[2], "tcp") == 0, argv[3], argv[4], atoi(argv[5]), 1,
			  &fd);
	if (err < 0)
		goto usage;
	printf("%s\n", errno_name(err));
	return 0;
usage:
	fprintf(stderr,
		"usage: srcroute rthdr|rthdr2292|rthdr-cmsg|pktoptions|lsrr|lsrr-cmsg|rr-cmsg|xfrm "
		"udp|tcp VIA DST PORT\n"
		"       srcroute hand MODE udp|tcp VIA DST PORT CMD...\n"
		"       srcroute fd3 udp|tcp DST PORT\n");
	return 2;
}
