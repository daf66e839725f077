// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * int80: system calls through the 32-bit entry (int 0x80) from a 64-bit
 * process, the way a server would try to slip past hooks that only know
 * the native syscall table. Prints "OK" or the errno name.
 *
 *   int80 socket FAMILY TYPE PROTO   socket() (i386 number 359)
 *   int80 socketcall FAMILY TYPE PROTO
 *                                    socketcall(SYS_SOCKET) (i386 number 102)
 *   int80 rthdr udp VIA DST PORT     setsockopt(IPV6_RTHDR) (i386 number 366) on a
 *                                    native socket, then a native sendto to DST
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define I386_SOCKETCALL 102
#define I386_SOCKET 359
#define SYS_SOCKET 1 /* socketcall's call number */
#define I386_SETSOCKOPT 366

#ifndef IPV6_RTHDR
#define IPV6_RTHDR 57
#endif

static long int80(long nr, long a, long b, long c, long d, long e)
{
	long ret;

#if defined(__x86_64__)
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory", "r8", "r9", "r10", "r11");
#else
	(void)nr, (void)a, (void)b, (void)c, (void)d, (void)e;
	ret = -ENOSYS;
#endif
	return ret;
}

static const char *err_name(long err)
{
	static char buf[32];

	switch (err) {
	case 0:
		return "OK";
	case EPERM:
		return "EPERM";
	case EINVAL:
		return "EINVAL";
	case ENOSYS:
		return "ENOSYS";
	default:
		snprintf(buf, sizeof(buf), "errno %ld", err);
		return buf;
	}
}

/* socketcall takes its arguments as an array of 32-bit words. */
static long socketcall(int family, int type, int proto)
{
	unsigned int *args;

	/* The 32-bit entry truncates pointers: the array lives below 4 GiB. */
	args = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1,
		    0);
	if (args == MAP_FAILED)
		return -errno;
	args[0] = family;
	args[1] = type;
	args[2] = proto;
	return int80(I386_SOCKETCALL, SYS_SOCKET, (long)args, 0, 0, 0);
}

static long rthdr(const char *via, const char *dst, int port)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	unsigned char *low;
	long r;
	int fd;

	/* The 32-bit entry truncates pointers: the option value lives below 4 GiB. */
	low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1,
		   0);
	if (low == MAP_FAILED)
		return errno;
	if (inet_pton(AF_INET6, dst, &to.sin6_addr) != 1 || inet_pton(AF_INET6, via, low + 24) != 1)
		return EINVAL;
	/* segment routing header: segments [DST (written by the kernel), VIA] */
	low[1] = 4;
	low[2] = 4;
	low[3] = 1;
	low[4] = 1;
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0)
		return errno;
	r = int80(I386_SETSOCKOPT, fd, IPPROTO_IPV6, IPV6_RTHDR, (long)low, 40);
	if (r < 0)
		return -r;
	if (sendto(fd, "int80", 5, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return errno;
	return 0;
}

int main(int argc, char **argv)
{
	long r;

	if (argc == 5 && strcmp(argv[1], "socket") == 0) {
		r = int80(I386_SOCKET, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), 0, 0);
		printf("%s\n", err_name(r < 0 ? -r : 0));
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "socketcall") == 0) {
		r = socketcall(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
		printf("%s\n", err_name(r < 0 ? -r : 0));
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "rthdr") == 0 && strcmp(argv[2], "udp") == 0) {
		printf("%s\n", err_name(rthdr(argv[3], argv[4], atoi(argv[5]))));
		return 0;
	}
	fprintf(stderr,
		"usage: int80 socket|socketcall FAMILY TYPE PROTO | rthdr udp VIA DST PORT\n");
	return 2;
}
