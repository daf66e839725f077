/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_VERSION_H
#define MCPFENCE_VERSION_H

#include <stdio.h>

/* `PROG --version`: "PROG VERSION (commit C, libbpf M.N)", the libbpf the
 * binary runs with, not the one it was built against. */
void mf_print_version(FILE *f, const char *prog);

#endif /* MCPFENCE_VERSION_H */
