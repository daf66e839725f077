/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Launcher hardening for `mcpfence run`, and for isolated servers the agent
 * launches: a seccomp filter and a Landlock scope ruleset (for isolated
 * servers a filesystem ruleset too), applied after the tag and before exec,
 * so the governed process tree cannot act through ungoverned processes or
 * undo enforcement.
 */
#ifndef MCPFENCE_HARDEN_H
#define MCPFENCE_HARDEN_H

#include <stdbool.h>
#include <stddef.h>

/* Landlock's first ABI with scopes (abstract Unix sockets, signals). */
#define MF_LANDLOCK_ABI_SCOPES 6

struct mf_harden {
	int landlock_abi; /* 0: Landlock not available */
	int ruleset_fd;	  /* -1 unless landlock_abi >= MF_LANDLOCK_ABI_SCOPES */
	bool io_uring;	  /* the policy lets this server set up io_uring (the tag reply says) */
	bool isolated;	  /* launched by the agent: its processes stay in its session and
			   * process group, which the agent ends with the server */
};

/*
 * Probe Landlock and create the ruleset; apply nothing yet. Returns 0 or
 * -errno with a message in err. landlock_abi < MF_LANDLOCK_ABI_SCOPES is not
 * an error: the caller decides (warn, or refuse with --require-landlock).
 */
int mf_harden_prepare(struct mf_harden *h, char *err, size_t errlen);

/* A path of a filesystem scope and what it grants. */
enum mf_fs_access {
	MF_FS_READ,	  /* read, list, execute */
	MF_FS_READ_WRITE, /* everything Landlock handles */
};

struct mf_fs_path {
	const char *path;
	enum mf_fs_access access;
	bool required; /* missing: an error (else skipped) */
};

/*
 * Like mf_harden_prepare, but the Landlock ruleset also handles every
 * filesystem right of the kernel's ABI and grants only paths[]: what is not
 * beneath one of them is refused (EACCES), whatever its mode. Needs ABI >=
 * MF_LANDLOCK_ABI_SCOPES: an isolated server never runs without it.
 */
int mf_harden_prepare_fs(struct mf_harden *h, const struct mf_fs_path *paths, size_t npaths,
			 char *err, size_t errlen);

/* Whether mf_harden_apply will apply the Landlock scopes. */
static inline bool mf_harden_has_landlock(const struct mf_harden *h)
{
	return h->ruleset_fd >= 0;
}

/*
 * Set no_new_privs, enter the Landlock domain (when prepared) and install the
 * seccomp filter, for this process and all it will start. Irreversible.
 * Returns 0 or -errno with a message in err.
 */
int mf_harden_apply(struct mf_harden *h, char *err, size_t errlen);

/*
 * For a root server (`run --allow-root`): empty the bounding, ambient,
 * inheritable, permitted and effective sets, and lock securebits so that
 * exec grants none back. Returns 0 or -errno with a message in err.
 */
int mf_harden_drop_caps(char *err, size_t errlen);

/*
 * The first half of that, for a process that changes uid next: empty the
 * bounding and ambient sets and lock the securebits; its own sets go with
 * its root uid (setresuid to another clears them).
 */
int mf_harden_drop_bounding(char *err, size_t errlen);

void mf_harden_free(struct mf_harden *h);

#endif
