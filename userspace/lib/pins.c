// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pins.h"

static int unlink_entries(const char *dir, int links)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((strncmp(de->d_name, "link_", 5) == 0) != links)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	closedir(d);
	return err;
}

int mf_unpin_dir(const char *dir)
{
	int err = unlink_entries(dir, 1);

	if (!err)
		err = unlink_entries(dir, 0);
	if (!err && rmdir(dir) && errno != ENOENT)
		err = -errno;
	return err;
}
