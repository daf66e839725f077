/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every limit that the kernel programs and userspace share, in one place:
 * the sizes of the kernel's maps, and the policy limits that keep a policy
 * that passes `mcpfence policy check` loadable and reloadable into them.
 * Included by mcpfence.h, hence by both sides. Where one limit bounds
 * another, a static assertion below says so.
 *
 * A reload writes the new policy beside the active one and flips a slot:
 * until the old one is removed, the maps hold both. So a map that holds
 * policy content has room for two policies at their limits.
 */
#ifndef MCPFENCE_LIMITS_H
#define MCPFENCE_LIMITS_H

/* ---- names and strings ---- */
#define MF_NAME_MAX 128		/* identity and server names, NUL included */
#define MF_EXEC_PATH_MAX 4095	/* bytes of an executable path, NUL excluded */
#define MF_EXEC_ARGS_MAX 4	/* argv prefix of an interpreter match (argv[1..4]) */
#define MF_EXEC_ARG_MAX 255	/* bytes of one such argument, NUL excluded */
#define MF_EXEC_ARGS_BYTES 1024 /* of the argument area the kernel reads at exec */

/* ---- policy limits (userspace/lib/policy*.c, compile.c) ---- */
#define MF_MAX_RULES 65535 /* rule indices stay below MF_RULE_DEFAULT */
#define MF_MAX_SERVERS 4096
#define MF_MAX_GROUPS 4096
#define MF_MAX_MEMBERS 65536	   /* identities listed in groups, all groups together */
#define MF_MAX_WHO 1000000	   /* "who" entries, all rules together */
#define MF_MAX_DESTS 1000000	   /* allow and deny entries, all rules together */
#define MF_MAX_PORT_RANGES 1000000 /* "ports" items, all entries together */
#define MF_MAX_LAUNCHERS 1024
#define MF_MAX_EXEC 4096	/* executables (plain or with arguments), all servers together */
#define MF_MAX_MAY_ASSERT 256	/* patterns of one launcher */
#define MF_MAX_IDENTITIES 16384 /* distinct identities that rules bind, by name */
#define MF_MAX_BINDINGS 65536	/* compiled (identity, server) bindings */
#define MF_MAX_FLAT_ENTRIES 2097152  /* compiled prefix entries, all rulesets together */
#define MF_MAX_SEGTABS 65536	     /* distinct segment tables of each ruleset, all together */
#define MF_MAX_COMPILE_WORK 16777216 /* (identity, rule) pairs plus entries flattened */

/* Port segments per compiled prefix (see userspace/lib/compile.c). */
#define MF_MAX_SEGS 32

/* ---- kernel map sizes (bpf/mcpfence.bpf.c) ---- */
#define MF_MAP_TAGS 32768 /* default only: the agent sizes it to pid_max */
#define MF_MAP_EXEC_SERVERS (2 * MF_MAX_EXEC)
#define MF_MAP_EXEC_ARGS (2 * MF_MAX_EXEC)
/* (slot, identity, server): both slots, and each binding of an identity that is
 * also a Unix user has a twin keyed by its uid (userspace/agent/policy_apply.c). */
#define MF_MAP_BINDINGS (4 * MF_MAX_BINDINGS)
#define MF_MAP_RULES (2 * MF_MAX_FLAT_ENTRIES)
/* A hash, not preallocated: its fixed cost is one bucket per entry. */
#define MF_MAP_SEGTABS (2 * MF_MAX_SEGTABS)
/* Ids start at 1 and are never reused (names.c): a load and a reload that
 * name none of the same servers need twice the servers, plus id 0. */
#define MF_MAP_SERVER_NAMES (2 * MF_MAX_SERVERS + 1)
/* Half for the policy's identities over a load and a reload, half for those
 * that root and launchers assert without the policy naming them. */
#define MF_MAP_IDENTITY_NAMES (4 * MF_MAX_IDENTITIES)
/* dns_learned: addresses learned from names, for every (identity, server). */
#define MF_LEARNED_MAX 65536
/* Of those, at most this many per (identity, server): a pair at its quota
 * that learns another address evicts its own oldest entry (the agent's
 * resolver, userspace/agent/dns_proxy.c), so one flooding server cannot fill
 * the map for the others. 32 pairs at their quota fill the map. */
#define MF_LEARNED_PER_ASKER 2048

/* ---- how the limits bound one another ---- */
_Static_assert(MF_EXEC_ARGS_MAX *(MF_EXEC_ARG_MAX + 1) <= MF_EXEC_ARGS_BYTES,
	       "the kernel must read every byte of the longest argument list a policy may match");
_Static_assert(MF_MAP_EXEC_SERVERS >= 2 * MF_MAX_EXEC, "exec_servers holds two policies");
_Static_assert(MF_MAP_EXEC_ARGS >= 2 * MF_MAX_EXEC, "exec_args holds two policies");
_Static_assert(MF_MAP_BINDINGS >= 2 * 2 * MF_MAX_BINDINGS,
	       "bindings holds both slots, each binding with its uid twin");
_Static_assert(MF_MAP_RULES >= 2 * MF_MAX_FLAT_ENTRIES, "rules holds two policies");
_Static_assert(MF_MAP_SEGTABS >= 2 * MF_MAX_SEGTABS, "segtabs holds two policies");
_Static_assert(MF_MAX_SEGTABS <= MF_MAX_FLAT_ENTRIES, "a segment table is some entry's");
_Static_assert(MF_MAP_SERVER_NAMES > 2 * MF_MAX_SERVERS, "server ids of a load and a reload");
_Static_assert(MF_MAP_IDENTITY_NAMES > 2 * MF_MAX_IDENTITIES,
	       "identity ids of a load and a reload");
_Static_assert(MF_LEARNED_MAX >= 16 * MF_LEARNED_PER_ASKER,
	       "dns_learned holds 16 (identity, server) pairs at their quota");
_Static_assert(MF_MAX_IDENTITIES <= MF_MAX_BINDINGS, "every bound identity has a binding");

#endif /* MCPFENCE_LIMITS_H */
