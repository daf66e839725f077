// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness: the control protocol's framing (proto.c).
 *
 * Input: byte 0 picks the line cap (small, or the cap of a non-root peer),
 * bytes 1-2 seed the sizes of the chunks, the rest is the stream. The stream
 * goes through a pipe into mf_linebuf_fill() a chunk at a time, and after
 * each fill mf_linebuf_next() is drained, as the agent does. Checked against
 * the plain split of the stream at '\n':
 * - each line yielded is the next line of the stream, whole, within the cap;
 * - "need more" only when no '\n' is pending and the pending bytes fit the cap;
 * - -EMSGSIZE only when the pending line is over the cap;
 * and each line, parsed by mf_json_parse_object(), is an object or an error
 * with a message; an object encodes by mf_json_line() to one line that parses
 * back equal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "fuzz.h"

static int pipe_fd[2] = { -1, -1 };

static void check_message(const char *line, size_t len)
{
	char err[256] = "", *out;
	json_t *obj, *again;
	size_t out_len;

	obj = mf_json_parse_object(line, len, err, sizeof(err));
	if (!obj) {
		if (!err[0])
			die("a malformed line without a message");
		return;
	}
	if (!json_is_object(obj))
		die("mf_json_parse_object returned a non-object");
	out = mf_json_line(obj, &out_len);
	if (!out)
		die("mf_json_line failed on a parsed object");
	if (!out_len || out[out_len - 1] != '\n' || memchr(out, '\n', out_len - 1) ||
	    strlen(out) != out_len)
		die("mf_json_line did not give one line: '%s'", out);
	again = mf_json_parse_object(out, out_len - 1, err, sizeof(err));
	if (!again || !json_equal(obj, again))
		die("a line does not parse back to its object: '%s'", out);
	json_decref(again);
	json_decref(obj);
	free(out);
}

static void drain_pipe(void)
{
	char buf[4096];

	while (read(pipe_fd[0], buf, sizeof(buf)) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mf_linebuf lb;
	size_t max, fed = 0, consumed = 0, n;
	const char *stream;
	uint32_t seed;

	if (pipe_fd[0] < 0) {
		if (pipe2(pipe_fd, O_NONBLOCK | O_CLOEXEC))
			die("cannot create a pipe: %s", strerror(errno));
		fcntl(pipe_fd[1], F_SETPIPE_SZ, 1 << 20);
	}
	if (size < 3)
		return 0;
	max = data[0] & 0x80 ? MF_LINE_MAX_USER : 1 + (data[0] & 0x7f) * 8u;
	seed = data[1] | data[2] << 8 | 1u << 16;
	stream = (const char *)data + 3;
	n = size - 3;
	mf_linebuf_init(&lb, max);

	while (fed < n) {
		size_t chunk;
		ssize_t got;
		char *line;
		size_t len;
		int r;

		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		chunk = 1 + seed % (seed & 0x100 ? 16 : 4096);
		if (chunk > n - fed)
			chunk = n - fed;
		if (write(pipe_fd[1], stream + fed, chunk) != (ssize_t)chunk)
			die("short write to the pipe");
		fed += chunk;
		got = mf_linebuf_fill(&lb, pipe_fd[0]);
		if (got == -EMSGSIZE)
			die("fill refused input while no line was pending beyond the cap");
		if (got != (ssize_t)chunk)
			die("fill read %zd bytes of a %zu-byte chunk", got, chunk);
		while ((r = mf_linebuf_next(&lb, &line, &len)) == 1) {
			const char *nl = memchr(stream + consumed, '\n', fed - consumed);

			if (!nl)
				die("a line yielded where the stream has none");
			if (len != (size_t)(nl - stream - consumed) ||
			    memcmp(line, stream + consumed, len))
				die("a line yielded differs from the stream's");
			if (len > max)
				die("a line of %zu bytes over the cap of %zu", len, max);
			consumed += len + 1;
			check_message(line, len);
		}
		if (r == 0) {
			if (memchr(stream + consumed, '\n', fed - consumed))
				die("need more input while a whole line is pending");
			if (fed - consumed > max)
				die("need more input while %zu bytes are pending, cap %zu",
				    fed - consumed, max);
			continue;
		}
		if (r != -EMSGSIZE)
			die("mf_linebuf_next returned %d", r);
		{
			const char *nl = memchr(stream + consumed, '\n', fed - consumed);
			size_t pending = nl ? (size_t)(nl - stream - consumed) : fed - consumed;

			if (pending <= max)
				die("-EMSGSIZE for a %zu-byte line, cap %zu", pending, max);
		}
		break; /* the agent closes the connection */
	}
	drain_pipe();
	mf_linebuf_free(&lb);
	return 0;
}
