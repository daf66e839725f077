// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * /proc readers (proc.c): the status fields the agent trusts for a peer's
 * parent, uid and groups, and what happens where the text was cut.
 */
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "tap.h"

static const char STATUS[] = "Name:\tsh\nPPid:\t42\nUid:\t1000\t1000\t1000\t1000\n"
			     "Groups:\t4 24 27 \nNStgid:\t7\n";

int main(void)
{
	char buf[4096], cut[64];
	const char *v;

	subtest_start("status fields: the value after the key, at a line's start only");
	v = mf_proc_status_field(STATUS, "PPid:");
	ASSERT_TRUE(v && strncmp(v, "\t42\n", 4) == 0, "PPid");
	v = mf_proc_status_field(STATUS, "Uid:");
	ASSERT_TRUE(v && strncmp(v, "\t1000", 5) == 0, "Uid");
	ASSERT_TRUE(!mf_proc_status_field(STATUS, "Pid:"), "PPid is not Pid");
	ASSERT_TRUE(!mf_proc_status_field(STATUS, "Gid:"), "absent");
	subtest_end();

	subtest_start("groups: each listed gid, and no other");
	ASSERT_TRUE(mf_proc_status_has_group(STATUS, 4), "first");
	ASSERT_TRUE(mf_proc_status_has_group(STATUS, 27), "last, before the trailing space");
	ASSERT_TRUE(!mf_proc_status_has_group(STATUS, 2), "a prefix of 24 is not 2");
	ASSERT_TRUE(!mf_proc_status_has_group(STATUS, 7), "the next line is not a group");
	ASSERT_TRUE(!mf_proc_status_has_group("Groups:\t\nNStgid:\t7\n", 7), "no groups");
	ASSERT_TRUE(mf_proc_status_has_group("Groups:\t5\n", 5), "no trailing space");
	subtest_end();

	subtest_start("groups: a number cut by the end of what was read is not taken");
	snprintf(cut, sizeof(cut), "%s", "Groups:\t4 1234");
	ASSERT_TRUE(!mf_proc_status_has_group(cut, 1234), "cut 1234 (maybe 12345)");
	ASSERT_TRUE(!mf_proc_status_has_group(cut, 123), "nor its prefix");
	ASSERT_TRUE(mf_proc_status_has_group(cut, 4), "whole numbers before it count");
	subtest_end();

	subtest_start("reading /proc/self: text, NUL-terminated, cut to the buffer");
	ASSERT_TRUE(mf_proc_read(getpid(), "status", buf, sizeof(buf)) > 0, "status read");
	ASSERT_TRUE(mf_proc_status_field(buf, "PPid:") != NULL, "has PPid");
	ASSERT_EQ(mf_proc_read(getpid(), "status", cut, sizeof(cut)), (ssize_t)sizeof(cut) - 1,
		  "cut to the buffer");
	ASSERT_EQ(cut[sizeof(cut) - 1], '\0', "terminated");
	ASSERT_TRUE(mf_proc_read(0, "status", buf, sizeof(buf)) < 0, "no pid 0");
	mf_proc_text(getpid(), "cmdline", buf, sizeof(buf));
	ASSERT_TRUE(strstr(buf, "test_proc") != NULL, "cmdline joined");
	subtest_end();
	return tap_done();
}
