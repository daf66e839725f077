/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_PINS_H
#define MCPFENCE_PINS_H

/* Remove every pin in a bpffs directory, links first (enforcement ends
 * before the maps go), then the directory. 0 or -errno. */
int mf_unpin_dir(const char *dir);

#endif /* MCPFENCE_PINS_H */
