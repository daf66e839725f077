/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_PINS_H
#define MCPFENCE_PINS_H

#include <stddef.h>
#include <sys/types.h>

/* Remove every pin in a bpffs directory, links first (enforcement ends
 * before the maps go), then the directory. 0 or -errno. */
int mf_unpin_dir(const char *dir);

/* Take the pin directory for one agent alone: an exclusive flock on the
 * directory itself (bpffs cannot hold a lock file), held as long as the
 * returned fd is open. Returns the fd, or -errno with a message in err:
 * -EBUSY when another agent holds it (its pid in *holder, 0 when it cannot
 * be found). */
int mf_pin_dir_lock(const char *dir, pid_t *holder, char *err, size_t errlen);

/* Is the locked directory fd fit to hold pins: on bpffs, owned by root,
 * writable by root only? 0, or -errno with a message in err. */
int mf_pin_dir_check(int fd, const char *dir, char *err, size_t errlen);

#endif /* MCPFENCE_PINS_H */
