// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy files (file.c): only regular files are read, at once, within the
 * size cap; a FIFO, directory, device or socket is refused without blocking
 * and named in the error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "file.h"
#include "tap.h"

static char dir[] = "/tmp/mcpfence-unit.XXXXXX";
static char path[100], err[512]; /* path: fits a sun_path */

static const char *at(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void write_file(const char *name, const char *text)
{
	int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

static void refused(const char *p, int want_ret, const char *want_err)
{
	char *text = NULL, expected[600];
	size_t len;
	int ret;

	subtest_start("%s is refused", p);
	alarm(5); /* a FIFO would block: fail by SIGALRM rather than hang */
	ret = mf_read_regular(p, 64, &text, &len, err, sizeof(err));
	alarm(0);
	snprintf(expected, sizeof(expected), "cannot read %s: %s", p, want_err);
	ASSERT_EQ(ret, want_ret, "return value");
	ASSERT_STREQ(err, expected, "error");
	ASSERT_TRUE(text == NULL, "no text");
	subtest_end();
}

int main(void)
{
	static const char *const files[] = { "p.json", "link", "fifo", "sock", "big.json" };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char *text;
	size_t len;
	int sock;

	if (!mkdtemp(dir))
		return 1;
	write_file("p.json", "{\"version\": 1}\n");
	subtest_start("a regular file is read whole");
	if (ASSERT_EQ(mf_read_regular(at("p.json"), 64, &text, &len, err, sizeof(err)), 0,
		      "return value")) {
		ASSERT_EQ(len, 15, "length");
		ASSERT_STREQ(text, "{\"version\": 1}\n", "text");
		free(text);
	}
	subtest_end();

	if (symlink("p.json", at("link"))) /* relative: beside it */
		return 1;
	subtest_start("a symlink to a regular file is followed");
	if (ASSERT_EQ(mf_read_regular(at("link"), 64, &text, &len, err, sizeof(err)), 0, "ret"))
		free(text);
	subtest_end();

	mkfifo(at("fifo"), 0600);
	refused(at("fifo"), -EINVAL, "not a regular file (fifo)");
	mkdir(at("dir"), 0700);
	refused(at("dir"), -EINVAL, "not a regular file (directory)");
	refused("/dev/zero", -EINVAL, "not a regular file (character device)");
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", at("sock"));
	if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof(addr)))
		return 1;
	refused(at("sock"), -EINVAL, "not a regular file (socket)");
	close(sock);
	refused(at("missing"), -ENOENT, "No such file or directory");
	write_file("big.json", "0123456789012345678901234567890123456789012345678901234567890123X");
	refused(at("big.json"), -EFBIG, "larger than 64 bytes");

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(at(files[i]));
	rmdir(at("dir"));
	rmdir(dir);
	return tap_done();
}
