/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_FILE_H
#define MCPFENCE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct mf_policy;
struct mf_compiled;

/* Read what is left of fd (at most max bytes) into a NUL-terminated buffer
 * to free(). 0, or -errno (-EFBIG when larger than max). */
int mf_read_fd(int fd, size_t max, char **text, size_t *len);

/* Read a whole regular file (symlinks followed), at most max bytes. A FIFO,
 * device, directory or socket is refused at once, without opening it for
 * reading: nothing can block the caller. 0, or -errno with
 * "cannot read PATH: why" in err. */
int mf_read_regular(const char *path, size_t max, char **text, size_t *len, char *err,
		    size_t errlen);

/* Read, parse and compile a policy file: `mcpfence policy check` and the
 * agent's check of --policy. On success the caller frees *policy and
 * *compiled; on failure err says why (FILE:LINE:COL for what the parser saw). */
int mf_policy_check_file(const char *path, struct mf_policy **policy, struct mf_compiled **compiled,
			 char *err, size_t errlen);

/*
 * Is fd a socket whose connects or sends the cgroup hooks would not see once
 * its holder moves to another cgroup? The kernel ties a socket to the cgroup
 * of the process that made it, at creation (cgroup_sk_alloc), and runs the
 * programs of that cgroup. True for any IPv4 or IPv6 socket, a Unix datagram
 * socket (it may send to any name) and an unconnected Unix stream socket;
 * false for a connected or listening Unix stream socket (a pipe for stdio)
 * and what is not a socket. True when it cannot tell. what: "an IPv4
 * socket", "a socket that cannot be told apart: why".
 */
bool mf_fd_unjudged_socket(int fd, char *why, size_t len);

#endif /* MCPFENCE_FILE_H */
