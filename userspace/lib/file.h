/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_FILE_H
#define MCPFENCE_FILE_H

#include <stddef.h>

/* Read a whole file (at most max bytes) into a NUL-terminated buffer to
 * free(). 0, or -errno (-EFBIG when larger than max). */
int mf_read_file(const char *path, size_t max, char **text, size_t *len);

#endif /* MCPFENCE_FILE_H */
