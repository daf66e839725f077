// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * resolve: getaddrinfo() then one TCP connect() to the first address, at
 * once, for the DNS tests (the first connect after a lookup must succeed).
 *
 *   resolve NAME PORT [4|6]   prints "ADDR OUTCOME" (OK or the errno name
 *                             of the connect), or "EAI NAME-OF-ERROR"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *errno_name(int err)
{
	switch (err) {
	case 0:
		return "OK";
	case EPERM:
		return "EPERM";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ENETUNREACH:
		return "ENETUNREACH";
	default:
		return strerror(err);
	}
}

static const char *eai_name(int err)
{
	switch (err) {
	case EAI_NONAME:
		return "EAI_NONAME";
	case EAI_AGAIN:
		return "EAI_AGAIN";
	case EAI_FAIL:
		return "EAI_FAIL";
	case EAI_NODATA:
		return "EAI_NODATA";
	default:
		return gai_strerror(err);
	}
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char host[INET6_ADDRSTRLEN];
	int err, fd;

	if (argc < 3) {
		fprintf(stderr, "usage: resolve NAME PORT [4|6]\n");
		return 2;
	}
	if (argc > 3)
		hints.ai_family = !strcmp(argv[3], "6") ? AF_INET6 : AF_INET;
	err = getaddrinfo(argv[1], argv[2], &hints, &res);
	if (err) {
		printf("EAI %s\n", eai_name(err));
		return 1;
	}
	getnameinfo(res->ai_addr, res->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	err = connect(fd, res->ai_addr, res->ai_addrlen) ? errno : 0;
	printf("%s %s\n", host, errno_name(err));
	close(fd);
	freeaddrinfo(res);
	return 0;
}
