// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `mcpfence audit --since/--until/--file`: records read back from the
 * agent's JSON-lines log, which keeps what the agent's in-memory history
 * (the last MF_HISTORY_MAX records) has forgotten. The file is read as the
 * caller: root, or whoever the log's mode lets read it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_file.h"

static void canonical(time_t t, int ms, char out[32])
{
	struct tm tm;
	char date[24];

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", date, ms);
}

/* "90s", "15m", "2h", "7d": seconds, or -1. */
static long long duration_s(const char *s)
{
	static const struct {
		char unit;
		long long s;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	char *end;
	long long n;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || n > 100LL * 365 * 86400 || end[0] == '\0' || end[1] != '\0')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (*end == units[i].unit)
			return n * units[i].s;
	}
	return -1;
}

int audit_parse_time(const char *s, time_t now, char out[32], char *err, size_t errlen)
{
	struct tm tm = {};
	long long d = duration_s(s);
	const char *rest;
	int ms = 0, n = 0;
	char *end;

	if (d >= 0) {
		canonical(now - (time_t)d, 0, out);
		return 0;
	}
	if (s[0] == '@') {
		errno = 0;
		d = strtoll(s + 1, &end, 10);
		if (!errno && end != s + 1 && !*end && d >= 0) {
			canonical((time_t)d, 0, out);
			return 0;
		}
	}
	rest = strptime(s, "%Y-%m-%d", &tm);
	if (rest && (*rest == 'T' || *rest == ' ')) {
		rest = strptime(rest + 1, "%H:%M", &tm);
		if (rest && *rest == ':')
			rest = strptime(rest + 1, "%S", &tm);
		if (rest && *rest == '.' && sscanf(rest + 1, "%3d%n", &ms, &n) == 1 && n == 3)
			rest += 1 + n;
		if (rest && *rest == 'Z')
			rest++;
	}
	if (!rest || *rest) {
		snprintf(err, errlen,
			 "cannot parse time '%s': give a duration before now (90s, 15m, 2h, 7d), "
			 "@EPOCH, or a UTC time YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z]",
			 s);
		return -1;
	}
	canonical(timegm(&tm), ms, out);
	return 0;
}

static bool wanted(const json_t *rec, const struct audit_file_filter *f)
{
	const char *ts = json_string_value(json_object_get(rec, "ts"));
	const char *v;

	/* A record without a time cannot be placed: outside any bound. */
	if ((f->since || f->until) && !ts)
		return false;
	if (f->since && strcmp(ts, f->since) < 0)
		return false;
	if (f->until && strcmp(ts, f->until) > 0)
		return false;
	v = json_string_value(json_object_get(rec, "identity"));
	if (f->identity && (!v || strcmp(v, f->identity)))
		return false;
	v = json_string_value(json_object_get(rec, "verdict"));
	if (f->verdict && (!v || strcmp(v, f->verdict)))
		return false;
	return true;
}

int audit_file_read(const char *path, const struct audit_file_filter *f,
		    void (*show)(const json_t *rec, const char *line, size_t len, void *ctx),
		    void *ctx, size_t *bad)
{
	FILE *in = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int err = 0;

	*bad = 0;
	if (!in)
		return -errno;
	while ((len = getline(&line, &cap, in)) > 0) {
		json_error_t jerr;
		json_t *rec;

		if (line[len - 1] == '\n')
			line[--len] = '\0';
		rec = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(rec)) {
			(*bad)++;
			json_decref(rec);
			continue;
		}
		if (wanted(rec, f))
			show(rec, line, len, ctx);
		json_decref(rec);
	}
	if (ferror(in))
		err = -EIO;
	free(line);
	fclose(in);
	return err;
}
