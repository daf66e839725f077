// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tenants: what keeps isolated servers of different identities apart.
 *
 * - A uid per (identity, server), like systemd's DynamicUser: the lowest
 *   free one of --uid-range (no user, group, subuid/subgid range or process
 *   has it), given out once and kept in the state directory (KEY.tenants,
 *   one "UID IDENTITY SERVER" line each, written as the policy text is), so
 *   a server finds its files again at its next launch. Its gid is the same
 *   number; no passwd or group entry is needed.
 * - Its directories, DIR/UID/home and DIR/UID/tmp (--tenants-dir): 0700 and
 *   owned by the uid; DIR and DIR/UID are root's 0711, so a tenant reaches
 *   its own by path and cannot replace them. Made at the first launch,
 *   checked (and mended) at every one, never followed through a symlink.
 * - Credential files: root's, regular, mode 0600, one link, opened without
 *   following a symlink, at load (every file in a credential directory) and
 *   at launch (the identity's file).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "proc.h"

#define TENANTS_FILE_MAX (MF_UID_RANGE_MAX * (2 * MF_NAME_MAX + 16))

static struct tenant *tenant_find(struct agent *a, const char *identity, const char *server)
{
	for (size_t i = 0; i < a->ntenants; i++) {
		if (!strcmp(a->tenants[i].identity, identity) &&
		    !strcmp(a->tenants[i].server, server))
			return &a->tenants[i];
	}
	return NULL;
}

static bool uid_taken(struct agent *a, uid_t uid)
{
	for (size_t i = 0; i < a->ntenants; i++) {
		if (a->tenants[i].uid == uid)
			return true;
	}
	return false;
}

static int tenant_add(struct agent *a, const char *identity, const char *server, uid_t uid)
{
	struct tenant *t;

	if (a->ntenants >= MF_UID_RANGE_MAX)
		return -ENOSPC;
	t = realloc(a->tenants, (a->ntenants + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	a->tenants = t;
	t = &a->tenants[a->ntenants++];
	snprintf(t->identity, sizeof(t->identity), "%s", identity);
	snprintf(t->server, sizeof(t->server), "%s", server);
	t->uid = uid;
	return 0;
}

/* The saved table; lines that do not parse are skipped (and said). */
static int tenants_load(struct agent *a)
{
	char identity[MF_NAME_MAX], server[MF_NAME_MAX], *text, *line, *save = NULL;
	unsigned long uid;
	size_t len;
	int err;

	if (a->tenants_loaded)
		return 0;
	err = state_read(a, STATE_TENANTS, TENANTS_FILE_MAX, &text, &len);
	if (err == -ENOENT) {
		a->tenants_loaded = true;
		return 0;
	}
	if (err)
		return err;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%lu %127s %127s", &uid, identity, server) != 3 ||
		    !mf_name_valid(identity) || !mf_name_valid(server) || uid == 0 ||
		    uid > UINT32_MAX - 1 || uid_taken(a, uid) || tenant_find(a, identity, server)) {
			fprintf(stderr, "mcpfenced: %s/%s" STATE_TENANTS ": skipping '%.80s'\n",
				a->opt.state_dir, a->state_key, line);
			continue;
		}
		err = tenant_add(a, identity, server, uid);
		if (err)
			break;
	}
	free(text);
	a->tenants_loaded = !err;
	return err;
}

static int tenants_save(struct agent *a)
{
	size_t cap = a->ntenants * (2 * MF_NAME_MAX + 16) + 1, n = 0;
	char *text = malloc(cap);
	int err;

	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < a->ntenants; i++)
		n += snprintf(text + n, cap - n, "%u %s %s\n", a->tenants[i].uid,
			      a->tenants[i].identity, a->tenants[i].server);
	err = state_write(a, STATE_TENANTS, text, n);
	free(text);
	return err;
}

/* Does an /etc/subuid or /etc/subgid range (name:start:count) hold id? Those
 * uids are users' rootless containers'. */
static bool in_subid_range(const char *file, unsigned long id)
{
	unsigned long start, count;
	char line[512];
	FILE *f = fopen(file, "re");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *colon = strchr(line, ':');

		if (colon && sscanf(colon + 1, "%lu:%lu", &start, &count) == 2)
			found = id >= start && id - start < count;
	}
	fclose(f);
	return found;
}

/* Is any process running under uid (real, effective, saved or filesystem)? */
static bool uid_running(uid_t uid)
{
	char status[1024]; /* Uid comes before Groups, which may be long */
	struct dirent *de;
	DIR *d = opendir("/proc");
	bool found = false;

	while (d && !found && (de = readdir(d))) {
		unsigned long r, e, s, fs;
		const char *v;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (mf_proc_read(atoi(de->d_name), "status", status, sizeof(status)) < 0)
			continue; /* gone */
		v = mf_proc_status_field(status, "Uid:");
		if (v && sscanf(v, " %lu %lu %lu %lu", &r, &e, &s, &fs) == 4)
			found = r == uid || e == uid || s == uid || fs == uid;
	}
	if (d)
		closedir(d);
	return found;
}

/* A uid (and gid: the same number) that is nobody's on this host: no user,
 * no group (its members' files would open to the server), no container
 * range, no process. Checked once, when it is given out. */
static bool uid_free(struct agent *a, uid_t u)
{
	return !uid_taken(a, u) && !getpwuid(u) && !getgrgid(u) &&
	       !in_subid_range("/etc/subuid", u) && !in_subid_range("/etc/subgid", u) &&
	       !uid_running(u);
}

int tenant_uid(struct agent *a, const char *identity, const char *server, bool create, uid_t *uid,
	       char *why, size_t len)
{
	const struct tenant *t;
	int err = tenants_load(a);

	if (err) {
		snprintf(why, len, "cannot read the uid table in %s: %s", a->opt.state_dir,
			 strerror(-err));
		return err;
	}
	t = tenant_find(a, identity, server);
	if (t) {
		*uid = t->uid;
		return 0;
	}
	if (!create)
		return -ENOENT;
	for (uid_t u = a->opt.uid_min; u <= a->opt.uid_max && u >= a->opt.uid_min; u++) {
		if (!uid_free(a, u))
			continue;
		err = tenant_add(a, identity, server, u);
		if (!err)
			err = tenants_save(a);
		if (err) {
			if (a->ntenants && a->tenants[a->ntenants - 1].uid == u)
				a->ntenants--;
			snprintf(why, len, "cannot record uid %u for %s on %s in %s: %s", u,
				 identity, server, a->opt.state_dir, strerror(-err));
			return err;
		}
		*uid = u;
		return 0;
	}
	snprintf(why, len, "no free uid in --uid-range %u-%u for %s on %s", a->opt.uid_min,
		 a->opt.uid_max, identity, server);
	return -ENOSPC;
}

/* Directory name under dfd: made if missing, then opened without following
 * a symlink and given owner and mode. Returns its fd or -errno. */
static int ensure_dir(int dfd, const char *name, uid_t uid, mode_t mode)
{
	struct stat st;
	int fd;

	if (mkdirat(dfd, name, 0700) && errno != EEXIST)
		return -errno;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (st.st_uid != uid && fchown(fd, uid, uid)) ||
	    ((st.st_mode & 07777) != mode && fchmod(fd, mode))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int tenant_dirs(struct agent *a, uid_t uid, char *home, char *tmp, size_t len, char *why,
		size_t whylen)
{
	const char *dir = a->opt.tenants_dir, *what = "the directory";
	char name[16];
	int top, own = -1, fd;

	snprintf(name, sizeof(name), "%u", uid);
	/* DIR: root's 0711. */
	if (mkdir(dir, 0711) && errno != EEXIST) {
		fd = -errno;
		goto fail;
	}
	top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = top < 0 ? -errno : ensure_dir(top, ".", 0, 0711);
	if (fd >= 0) {
		close(fd);
		what = name;
		fd = own = ensure_dir(top, name, 0, 0711);
	}
	if (top >= 0)
		close(top);
	if (fd >= 0) {
		what = "home";
		fd = ensure_dir(own, "home", uid, 0700);
	}
	if (fd >= 0) {
		close(fd);
		what = "tmp";
		fd = ensure_dir(own, "tmp", uid, 0700);
	}
	if (own >= 0)
		close(own);
	if (fd < 0)
		goto fail;
	close(fd);
	snprintf(home, len, "%s/%u/home", dir, uid);
	snprintf(tmp, len, "%s/%u/tmp", dir, uid);
	return 0;
fail:
	snprintf(why, whylen, "cannot prepare %s of uid %u in %s: %s", what, uid, dir,
		 strerror(-fd));
	return fd;
}

/* Root's, regular, 0600, one link: else why. */
static bool credential_mode_ok(const struct stat *st, const char *path, char *why, size_t len)
{
	if (S_ISREG(st->st_mode) && st->st_uid == 0 && (st->st_mode & 07777) == 0600 &&
	    st->st_nlink == 1)
		return true;
	snprintf(why, len,
		 "credential file %s must be a root-owned regular file of mode 0600 with one "
		 "link (uid %u, mode %04o, %ju links)",
		 path, st->st_uid, st->st_mode & 07777, (uintmax_t)st->st_nlink);
	return false;
}

int credential_open(const struct mf_credential *c, const char *identity, char *why, size_t len)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, err;

	if (!mf_credential_path(c, identity, path, sizeof(path))) {
		snprintf(why, len, "credential %s: path too long for %s", mf_credential_name(c),
			 identity);
		return -ENAMETOOLONG;
	}
	/* O_NONBLOCK: a FIFO put there does not block the agent. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "no credential %s for identity %s: %s: %s",
			 mf_credential_name(c), identity, path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		snprintf(why, len, "cannot stat %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	if (!credential_mode_ok(&st, path, why, len) || st.st_size > MF_CREDENTIAL_MAX) {
		if (st.st_size > MF_CREDENTIAL_MAX)
			snprintf(why, len, "credential file %s is larger than %u bytes", path,
				 MF_CREDENTIAL_MAX);
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* The directory that holds every identity's file of c, when "{identity}" is
 * the last component (else NULL: only each launch checks its file). */
static bool credential_dir(const struct mf_credential *c, char *dir, size_t len)
{
	const char *slash = strrchr(c->file, '/');

	if (!slash || strcmp(slash + 1, "{identity}") || slash == c->file)
		return false;
	snprintf(dir, len, "%.*s", (int)(slash - c->file), c->file);
	return true;
}

/* Every file in dir must be root's 0600; a missing dir is fine (no identity
 * has a credential yet: each launch says so). */
static int check_cred_dir(const char *dir, const char *source, char *err, size_t len)
{
	char path[PATH_MAX + NAME_MAX + 2], why[sizeof(path) + 160];
	struct dirent *de;
	struct stat st;
	int fd, ret = 0;
	DIR *d;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && (st.st_uid != 0 || (st.st_mode & 022))) {
		snprintf(err, len,
			 "%s: credential directory %s must be root's and writable by root only "
			 "(uid %u, mode %04o)",
			 source, dir, st.st_uid, st.st_mode & 07777);
		close(fd);
		return -EPERM;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while (!ret && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!credential_mode_ok(&st, path, why, sizeof(why))) {
			snprintf(err, len, "%s: %.400s", source, why);
			ret = -EPERM;
		}
	}
	closedir(d);
	return ret;
}

int tenants_check_policy(const struct mf_policy *p, const char *source, char *err, size_t len)
{
	char dir[PATH_MAX];
	int ret;

	for (size_t i = 0; i < p->nservers; i++) {
		const struct mf_isolation *iso = &p->servers[i].iso;

		for (size_t k = 0; k < iso->ncreds; k++) {
			if (!credential_dir(&iso->creds[k], dir, sizeof(dir)))
				continue;
			ret = check_cred_dir(dir, source, err, len);
			if (ret)
				return ret;
		}
	}
	return 0;
}

void tenants_free(struct agent *a)
{
	free(a->tenants);
	a->tenants = NULL;
	a->ntenants = 0;
	a->tenants_loaded = false;
}
