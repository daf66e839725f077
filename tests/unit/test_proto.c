// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Control protocol framing (proto.c) and the name table (strmap.c): short
 * reads, several lines in one read, the size cap, malformed messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"
#include "strmap.h"
#include "tap.h"

/* Give memory back after every read, as the agent does for stalled clients. */
static bool shrink_each;

/* Feed text through a socketpair in pieces of `chunk` bytes; collect lines. */
static int lines_of(const char *text, size_t chunk, size_t max, char out[][64], int nout)
{
	struct mf_linebuf lb;
	size_t len = strlen(text), sent = 0;
	int sv[2], n = 0, r = 0;
	char *line;
	size_t llen;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	mf_linebuf_init(&lb, max);
	while (sent < len || r == 0) {
		if (sent < len) {
			size_t k = len - sent < chunk ? len - sent : chunk;

			if (write(sv[0], text + sent, k) != (ssize_t)k)
				break;
			sent += k;
			if (sent == len)
				shutdown(sv[0], SHUT_WR);
		}
		if (mf_linebuf_fill(&lb, sv[1]) <= 0)
			break;
		while ((r = mf_linebuf_next(&lb, &line, &llen)) == 1 && n < nout)
			snprintf(out[n++], 64, "%s", line);
		if (r < 0) {
			n = r;
			break;
		}
		r = 0;
		if (shrink_each)
			mf_linebuf_shrink(&lb);
	}
	mf_linebuf_free(&lb);
	close(sv[0]);
	close(sv[1]);
	return n;
}

static void test_short_reads(void)
{
	const char *text = "{\"op\":\"status\"}\n{\"op\":\"ps\"}\n{\"op\":\"whoami\"}\n";
	char lines[8][64];

	for (size_t chunk = 1; chunk <= 7; chunk += 3) {
		subtest_start("lines split across reads of %zu bytes", chunk);
		if (ASSERT_EQ(lines_of(text, chunk, 1024, lines, 8), 3, "line count")) {
			ASSERT_STREQ(lines[0], "{\"op\":\"status\"}", "first line");
			ASSERT_STREQ(lines[2], "{\"op\":\"whoami\"}", "last line");
		}
		subtest_end();
	}
	subtest_start("several lines in one read");
	ASSERT_EQ(lines_of(text, 4096, 1024, lines, 8), 3, "line count");
	subtest_end();
}

static void test_size_cap(void)
{
	char big[200], lines[4][64];

	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	subtest_start("a line over the cap is refused");
	ASSERT_EQ(lines_of(big, 4096, 100, lines, 4), -EMSGSIZE, "result");
	subtest_end();

	subtest_start("a line over the cap without newline is refused before it ends");
	big[sizeof(big) - 2] = 'x';
	ASSERT_EQ(lines_of(big, 4096, 100, lines, 4), -EMSGSIZE, "result");
	subtest_end();

	subtest_start("a line exactly at the cap is accepted");
	memset(big, 'y', 100);
	big[100] = '\n';
	big[101] = '\0';
	ASSERT_EQ(lines_of(big, 7, 100, lines, 4), 1, "line count");
	subtest_end();
}

static void test_shrink(void)
{
	const char *text = "{\"op\":\"status\"}\n{\"op\":\"ps\"}\n{\"op\":\"whoami\"}\n";
	struct mf_linebuf lb;
	char lines[8][64], *line;
	size_t llen;
	int sv[2];

	shrink_each = true;
	for (size_t chunk = 1; chunk <= 7; chunk += 3) {
		subtest_start("lines split across %zu-byte reads, shrunk after each", chunk);
		if (ASSERT_EQ(lines_of(text, chunk, 1024, lines, 8), 3, "line count"))
			ASSERT_STREQ(lines[1], "{\"op\":\"ps\"}", "second line");
		subtest_end();
	}
	shrink_each = false;

	subtest_start("a held partial line keeps a buffer its size; nothing held, no buffer");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return;
	mf_linebuf_init(&lb, 1 << 20);
	ASSERT_EQ(write(sv[0], "{\"op\":\"ps\"}\n{\"op\"", 17), 17, "write");
	ASSERT_EQ(mf_linebuf_fill(&lb, sv[1]), 17, "read");
	ASSERT_EQ(mf_linebuf_next(&lb, &line, &llen), 1, "first line");
	mf_linebuf_shrink(&lb);
	ASSERT_EQ(lb.cap, 5 + 4096, "capacity: the partial line and one read");
	ASSERT_EQ(write(sv[0], ":\"whoami\"}\n", 11), 11, "write the rest");
	ASSERT_EQ(mf_linebuf_fill(&lb, sv[1]), 11, "read the rest");
	if (ASSERT_EQ(mf_linebuf_next(&lb, &line, &llen), 1, "second line"))
		ASSERT_STREQ(line, "{\"op\":\"whoami\"}", "second line whole");
	mf_linebuf_shrink(&lb);
	ASSERT_EQ(lb.buf == NULL && lb.cap == 0 && lb.max == 1 << 20, true,
		  "buffer freed, line cap kept");
	mf_linebuf_free(&lb);
	close(sv[0]);
	close(sv[1]);
	subtest_end();
}

static void test_parse(void)
{
	static const struct {
		const char *line, *error;
	} bad[] = {
		{ "{\"op\": \"status\"", "malformed message" },
		{ "[1, 2]", "not a JSON object" },
		{ "\"op\"", "malformed message" },
		{ "{\"op\": 1, \"op\": 2}", "malformed message" },
		{ "", "malformed message" },
	};
	char err[256];
	json_t *obj;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		subtest_start("malformed message %zu is rejected with a reason", i);
		err[0] = '\0';
		obj = mf_json_parse_object(bad[i].line, strlen(bad[i].line), err, sizeof(err));
		ASSERT_TRUE(obj == NULL, "parse result");
		ASSERT_TRUE(strstr(err, bad[i].error) != NULL, err);
		json_decref(obj);
		subtest_end();
	}

	subtest_start("a message survives encoding as one line and parsing back");
	obj = json_pack("{s:s, s:s}", "op", "tag", "identity", "alice\n@example.com");
	{
		size_t len;
		char *line = mf_json_line(obj, &len);
		json_t *back;

		ASSERT_TRUE(line && memchr(line, '\n', len) == line + len - 1,
			    "one newline, at the end");
		back = mf_json_parse_object(line, len - 1, err, sizeof(err));
		ASSERT_TRUE(back && json_equal(obj, back), "round trip");
		json_decref(back);
		free(line);
	}
	json_decref(obj);
	subtest_end();
}

static void test_socket_path(void)
{
	subtest_start("socket path: explicit, then $MCPFENCE_SOCKET, then the default");
	unsetenv(MF_SOCKET_ENV);
	ASSERT_STREQ(mf_socket_path(NULL), MF_DEFAULT_SOCKET, "default");
	setenv(MF_SOCKET_ENV, "/tmp/x.sock", 1);
	ASSERT_STREQ(mf_socket_path(NULL), "/tmp/x.sock", "environment");
	ASSERT_STREQ(mf_socket_path("/a.sock"), "/a.sock", "explicit");
	unsetenv(MF_SOCKET_ENV);
	subtest_end();
}

static void test_strmap(void)
{
	struct mf_strmap m;
	char key[32];
	uint32_t v;
	int bad = 0;

	subtest_start("name table: 10000 names in, each found, absent ones not");
	mf_strmap_init(&m);
	for (uint32_t i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "user%u@example.com", i);
		if (mf_strmap_put(&m, key, i))
			bad++;
	}
	for (uint32_t i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "user%u@example.com", i);
		if (!mf_strmap_get(&m, key, &v) || v != i)
			bad++;
	}
	ASSERT_EQ(bad, 0, "lookups that failed");
	ASSERT_EQ(m.len, 10000, "entries");
	ASSERT_TRUE(!mf_strmap_get(&m, "nobody", &v), "absent name");
	mf_strmap_put(&m, "user7@example.com", 70);
	ASSERT_TRUE(mf_strmap_get(&m, "user7@example.com", &v) && v == 70, "replaced value");
	ASSERT_EQ(m.len, 10000, "entries after replace");
	mf_strmap_free(&m);
	subtest_end();
}

/* Descriptors with a line: kept up to the cap, the others closed, the line whole. */
static void test_fds(void)
{
	int sv[2], p[2], fds[MF_FDS_MAX], got[MF_FDS_MAX + 2];
	const char *text = "{\"op\":\"launch\"}\n";
	struct mf_linebuf lb;
	size_t n = 0, len;
	char *line;

	subtest_start("descriptors passed with a line, three kept");
	/* Non-blocking: a descriptor left open shows as EAGAIN, not a hang. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe2(p, O_NONBLOCK))
		return;
	fds[0] = fds[1] = fds[2] = p[1];
	mf_linebuf_init(&lb, 1024);
	ASSERT_EQ(mf_send_fds(sv[0], text, strlen(text), fds, 3), 0, "sent");
	ASSERT_TRUE(mf_linebuf_fill_fds(&lb, sv[1], got, MF_FDS_MAX, &n) > 0, "received");
	ASSERT_EQ(n, 3, "descriptors");
	ASSERT_EQ(mf_linebuf_next(&lb, &line, &len), 1, "a whole line");
	for (size_t i = 0; i < n; i++)
		close(got[i]);
	subtest_end();

	subtest_start("past the cap, descriptors are closed, not kept");
	ASSERT_EQ(mf_send_fds(sv[0], text, strlen(text), fds, 3), 0, "sent");
	n = 2; /* two held already: room for one */
	got[0] = got[1] = -1;
	ASSERT_TRUE(mf_linebuf_fill_fds(&lb, sv[1], got, MF_FDS_MAX, &n) > 0, "received");
	ASSERT_EQ(n, 3, "one more kept");
	close(got[2]);
	close(p[1]);
	/* Every write end is closed: the pipe reads end of file. */
	ASSERT_EQ(read(p[0], &len, 1), 0, "the others were closed");
	ASSERT_EQ(mf_send_fds(sv[0], text, strlen(text), fds, MF_FDS_MAX + 1), -EINVAL,
		  "more than the cap is not sent");
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
	mf_linebuf_free(&lb);
	subtest_end();
}

static void test_codes(void)
{
	subtest_start("error codes: each has a name, names are unique and map back");
	for (int i = 0; i < MF_E_COUNT; i++) {
		const char *name = mf_errcode_name(i);

		ASSERT_TRUE(name && *name, "named");
		ASSERT_EQ(mf_errcode_of(name), i, name);
	}
	ASSERT_STREQ(mf_errcode_name(MF_E_PERMISSION_DENIED), "permission-denied", "stable name");
	ASSERT_STREQ(mf_errcode_name(MF_E_GOVERNED), "governed", "stable name");
	ASSERT_STREQ(mf_errcode_name(MF_E_COUNT), "failed", "out of range");
	ASSERT_EQ(mf_errcode_of("no-such-code"), -1, "unknown name");
	ASSERT_EQ(mf_errcode_of(NULL), -1, "no name");
	subtest_end();

	subtest_start("message lines start with \"type\"; records do not");
	{
		json_t *m = json_pack("{s:s, s:b}", "type", MF_TYPE_END, "end", 1);
		size_t len = 0;
		char *line = m ? mf_json_line(m, &len) : NULL;

		ASSERT_TRUE(line && mf_is_message_line(line, len), "as the agent writes it");
		free(line);
		json_decref(m);
	}
	ASSERT_TRUE(!mf_is_message_line("{\"event\":\"deny\",\"type\":1}", 26),
		    "a record, even with a type key later");
	ASSERT_TRUE(!mf_is_message_line("{\"ty", 4), "short");
	subtest_end();
}

int main(void)
{
	test_fds();
	test_short_reads();
	test_size_cap();
	test_shrink();
	test_parse();
	test_socket_path();
	test_strmap();
	test_codes();
	return tap_done();
}
