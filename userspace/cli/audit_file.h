/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_AUDIT_FILE_H
#define MCPFENCE_AUDIT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <jansson.h>

/*
 * A time bound of `audit --since/--until`, as the log writes times (UTC,
 * "YYYY-MM-DDTHH:MM:SS.mmmZ", which sorts as text). Takes a duration before
 * now ("90s", "15m", "2h", "7d"), "@EPOCH", or a UTC time "YYYY-MM-DD",
 * "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]" (a space may stand for the T).
 * 0, or -1 with why in err.
 */
int audit_parse_time(const char *s, time_t now, char out[32], char *err, size_t errlen);

struct audit_file_filter {
	const char *since, *until; /* canonical bounds from audit_parse_time, or NULL */
	const char *identity, *verdict;
};

/* Each record of the JSON-lines log at path within the filter, to show().
 * Lines that are not JSON objects (a line cut by a crash) are skipped and
 * counted in *bad. 0, or -errno (the file could not be read). */
int audit_file_read(const char *path, const struct audit_file_filter *f,
		    void (*show)(const json_t *rec, const char *line, size_t len, void *ctx),
		    void *ctx, size_t *bad);

#endif /* MCPFENCE_AUDIT_FILE_H */
