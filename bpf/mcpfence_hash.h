/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * FNV-1a 64, the one hash of mcpfence. The kernel hashes an interpreter's
 * arguments at exec (match_args() in mcpfence.bpf.c) and the agent hashes the
 * policy's (mf_exec_args_hash()): both must give the same value, so both
 * step through mf_fnv1a_byte(). Userspace also uses it for tables and digests.
 *
 * Not keyed: the exec_args map holds only what the policy names, and a process
 * that could collide with an entry on purpose can as well exec those very
 * arguments; a collision tags a process, which governs it, and grants nothing.
 */
#ifndef MCPFENCE_HASH_H
#define MCPFENCE_HASH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MF_FNV1A_INIT 0xcbf29ce484222325ull
#define MF_FNV1A_PRIME 0x100000001b3ull

static inline __u64 mf_fnv1a_byte(__u64 h, unsigned char c)
{
	return (h ^ c) * MF_FNV1A_PRIME;
}

#ifndef __VMLINUX_H__
/* Userspace only: the kernel's loops must be bounded where they run. */
static inline __u64 mf_fnv1a(__u64 h, const void *data, unsigned long len)
{
	const unsigned char *p = data;

	for (unsigned long i = 0; i < len; i++)
		h = mf_fnv1a_byte(h, p[i]);
	return h;
}
#endif

#endif /* MCPFENCE_HASH_H */
