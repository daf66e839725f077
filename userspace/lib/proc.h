/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Readers of /proc/PID files: one place that opens them. */
#ifndef MCPFENCE_PROC_H
#define MCPFENCE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Read /proc/PID/WHAT into buf: at most len - 1 bytes, then a NUL (a file
 * longer than that is cut). The bytes read, or -errno (the process is gone). */
ssize_t mf_proc_read(pid_t pid, const char *what, char *buf, size_t len);

/* /proc/PID/WHAT as one line of text, for people and audit records: the
 * arguments of a cmdline joined by spaces, the trailing newline of comm
 * dropped. Empty when the process is gone. */
void mf_proc_text(pid_t pid, const char *what, char *buf, size_t len);

/* In the text of a /proc/PID/status, the value of key ("Uid:"): what follows
 * it on the line that starts with it, up to the '\n' (or the text's end, when
 * it was cut there). NULL when no line starts with key. */
const char *mf_proc_status_field(const char *status, const char *key);

/* Does the Groups: line of a /proc/PID/status text list gid? A number that
 * the end of the text cuts is not taken (closed). */
bool mf_proc_status_has_group(const char *status, gid_t gid);

/* Is the process exiting (PF_EXITING in /proc/PID/stat, or a zombie)? True
 * also when its stat cannot be read or parsed (closed). The kernel sets
 * PF_EXITING before the exit tracepoint drops a governed process's tag, and
 * never clears it: a process found untagged and then not exiting was
 * untagged while it lived. */
bool mf_proc_exiting(pid_t pid);

#endif /* MCPFENCE_PROC_H */
