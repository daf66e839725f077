// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * uring_socket: create a socket with io_uring's IORING_OP_SOCKET (raw
 * syscalls, no liburing), which does not pass the socket() syscall.
 * Prints "OK" or the errno name of what failed.
 *
 *   uring_socket packet|inet6-udp|unix [sqpoll]
 *   uring_socket packet-send IFNAME DST
 *   uring_socket ring CMD...    set up a ring here, exec CMD with it as fd 3
 *   uring_socket enter3         io_uring_enter on the inherited ring (fd 3)
 *
 * sqpoll: the request is submitted by the ring's kernel thread instead.
 * packet-send: a packet socket created as a direct descriptor, with a linked
 * sendmsg of an IPv4/UDP packet to DST out of IFNAME in the same submission:
 * whether anything gets out before the process is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int setup(unsigned int entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int enter(int fd, unsigned int submit, unsigned int complete, unsigned int flags)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, complete, flags, NULL, 0);
}

static const char *err_name(int err)
{
	static char buf[32];

	switch (err) {
	case 0:
		return "OK";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case EINVAL:
		return "EINVAL";
	case ENOSYS:
		return "ENOSYS";
	case EAFNOSUPPORT:
		return "EAFNOSUPPORT";
	default:
		snprintf(buf, sizeof(buf), "errno %d", err);
		return buf;
	}
}

static int uring_socket(int domain, int type, int protocol, int sqpoll)
{
	struct io_uring_params p = {};
	struct io_uring_sqe *sqes, *sqe;
	struct io_uring_cqe *cqe;
	unsigned int *sq_tail, *sq_array, *cq_head, *cq_tail;
	size_t sq_len, cq_len;
	char *sq, *cq;
	int fd;

	if (sqpoll) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 1000;
	}
	fd = setup(4, &p);
	if (fd < 0)
		return errno;
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (cq_len > sq_len)
		sq_len = cq_len; /* IORING_FEAT_SINGLE_MMAP: one mapping for both */
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, IORING_OFF_SQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    IORING_OFF_SQES);
	if (sq == MAP_FAILED || sqes == MAP_FAILED)
		return errno;
	cq = sq;
	sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	sq_array = (unsigned int *)(sq + p.sq_off.array);
	cq_head = (unsigned int *)(cq + p.cq_off.head);
	cq_tail = (unsigned int *)(cq + p.cq_off.tail);

	sqe = &sqes[0];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_SOCKET;
	sqe->fd = domain;
	sqe->off = type;
	sqe->len = protocol;
	sq_array[0] = 0;
	__atomic_store_n(sq_tail, 1, __ATOMIC_RELEASE);
	if (sqpoll) {
		/* The kernel thread picks the request up; wake it if it sleeps. */
		if (enter(fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_SQ_WAKEUP) < 0)
			return errno;
	} else if (enter(fd, 1, 1, IORING_ENTER_GETEVENTS) < 0) {
		return errno;
	}
	while (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head)
		usleep(1000);
	cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) + (*cq_head & (p.cq_entries - 1));
	return cqe->res < 0 ? -cqe->res : 0;
}

/* One IPv4/UDP packet to dst (checksums left 0: only its header matters). */
static size_t build_packet(unsigned char *b, const char *dst)
{
	memset(b, 0, 36);
	b[0] = 0x45;
	b[3] = 36; /* total length */
	b[8] = 64; /* ttl */
	b[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "10.99.0.1", b + 12);
	inet_pton(AF_INET, dst, b + 16);
	b[21] = 9;  /* source port */
	b[23] = 9;  /* destination port */
	b[25] = 16; /* udp length */
	return 36;
}

static int packet_send(const char *ifname, const char *dst)
{
	static unsigned char pkt[64];
	struct io_uring_params p = {};
	struct io_uring_sqe *sqes;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_IP),
				  .sll_halen = 6,
				  .sll_addr = { 2, 0, 0, 0, 0, 0x0b } };
	struct iovec iov = { .iov_base = pkt, .iov_len = build_packet(pkt, dst) };
	struct msghdr msg = {
		.msg_name = &ll, .msg_namelen = sizeof(ll), .msg_iov = &iov, .msg_iovlen = 1
	};
	unsigned int *sq_tail, *sq_array;
	int fd, slots[1] = { -1 };
	char *sq;

	ll.sll_ifindex = if_nametoindex(ifname);
	fd = setup(4, &p);
	if (fd < 0)
		return errno;
	if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_FILES, slots, 1) < 0)
		return errno;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED, fd, IORING_OFF_SQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    IORING_OFF_SQES);
	if (sq == MAP_FAILED || sqes == MAP_FAILED)
		return errno;
	sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	sq_array = (unsigned int *)(sq + p.sq_off.array);
	memset(sqes, 0, 2 * sizeof(*sqes));
	sqes[0].opcode = IORING_OP_SOCKET;
	sqes[0].fd = AF_PACKET;
	sqes[0].off = SOCK_DGRAM;
	sqes[0].len = htons(ETH_P_IP);
	sqes[0].file_index = 1; /* direct descriptor 0 */
	sqes[0].flags = IOSQE_IO_LINK;
	sqes[1].opcode = IORING_OP_SENDMSG;
	sqes[1].fd = 0;
	sqes[1].flags = IOSQE_FIXED_FILE;
	sqes[1].addr = (unsigned long)&msg;
	sqes[1].len = 1;
	sq_array[0] = 0;
	sq_array[1] = 1;
	__atomic_store_n(sq_tail, 2, __ATOMIC_RELEASE);
	if (enter(fd, 2, 2, IORING_ENTER_GETEVENTS) < 0)
		return errno;
	return 0;
}

int main(int argc, char **argv)
{
	int sqpoll = argc == 3 && strcmp(argv[2], "sqpoll") == 0, err;

	if (argc >= 3 && strcmp(argv[1], "ring") == 0) {
		struct io_uring_params p = {};
		int fd = setup(4, &p);

		/* The ring is close-on-exec: dup2 to another fd clears that. */
		if (fd < 0 || (fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(fd, 3)) < 0) {
			printf("%s\n", err_name(errno));
			return 1;
		}
		execvp(argv[2], argv + 2);
		printf("%s\n", err_name(errno));
		return 1;
	}
	if (argc == 2 && strcmp(argv[1], "enter3") == 0) {
		printf("%s\n", err_name(enter(3, 0, 0, 0) < 0 ? errno : 0));
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "packet-send") == 0) {
		printf("%s\n", err_name(packet_send(argv[2], argv[3])));
		return 0;
	}
	if (argc < 2 || argc > 3)
		goto usage;
	if (strcmp(argv[1], "packet") == 0)
		err = uring_socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL), sqpoll);
	else if (strcmp(argv[1], "inet6-udp") == 0)
		err = uring_socket(AF_INET6, SOCK_DGRAM, 0, sqpoll);
	else if (strcmp(argv[1], "unix") == 0)
		err = uring_socket(AF_UNIX, SOCK_DGRAM, 0, sqpoll);
	else
		goto usage;
	printf("%s\n", err_name(err));
	return 0;
usage:
	fprintf(stderr, "usage: uring_socket packet|inet6-udp|unix [sqpoll]\n"
			"       uring_socket packet-send IFNAME DST\n"
			"       uring_socket ring CMD... | enter3\n");
	return 2;
}
