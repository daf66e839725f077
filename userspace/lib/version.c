// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The version both binaries print; build/mf_version.h is written by the
 * Makefile from VERSION and `git describe`, and replaced only when it changes. */
#include <bpf/libbpf.h>

#include "mf_version.h"
#include "version.h"

void mf_print_version(FILE *f, const char *prog)
{
	fprintf(f, "%s %s (commit %s, libbpf %u.%u)\n", prog, MF_VERSION, MF_COMMIT,
		libbpf_major_version(), libbpf_minor_version());
}
