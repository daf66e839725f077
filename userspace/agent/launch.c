// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Isolated servers, launched by the agent (policy: servers.NAME.isolate).
 *
 * `mcpfence run` sends "launch" with argv, a few environment variables and
 * its stdin, stdout and stderr (SCM_RIGHTS), and stays connected: the agent
 * reports the server's exit on that connection ("event": "exit") and takes
 * "signal" requests on it. The launcher never holds the server's credentials
 * nor its uid.
 *
 * The agent forks; the child waits on a pipe until the parent has written
 * its tag (children inherit it at fork, so all the server will start is
 * governed from its first instruction), then, still root: takes the stdio
 * descriptors, starts its own session, reads the identity's credentials
 * from the files the parent opened and checked, marks every other
 * descriptor close-on-exec, empties the bounding set; then becomes the
 * tenant's uid and gid (no supplementary group; its capabilities go with
 * uid 0), writes file credentials in its HOME as that uid, enters the
 * Landlock domain (filesystem scope, signal and abstract-socket scopes) and
 * the seccomp filter of `run` under no_new_privs, and execs. A failure
 * before exec is written to a status pipe (close-on-exec: EOF means exec
 * succeeded) and reported with the exit.
 *
 * Exits come through the agent's signalfd (SIGCHLD): the epoll loop never
 * blocks on a child. A launcher that goes away takes its server with it
 * (SIGKILL: there is nobody left to read its output or its exit); so does
 * the agent's exit. Either way, and when the server exits by itself, what
 * it started in its process group is killed too; a process that left the
 * group (setsid, setpgid) outlives it, under the tenant's uid and tag.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "control.h"
#include "file.h"
#include "harden.h"
#include "mcpfence.skel.h"

#define MF_LAUNCHES_MAX 4096 /* isolated servers running at once */
#define MF_ARGV_MAX 1024
#define MF_ENV_MAX 64 /* variables passed by the launcher */
#define MF_ENV_VALUE_MAX 4096

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct launch {
	pid_t pid;
	int pidfd;
	int status_fd;	       /* the child's error before exec; EOF once it execs */
	struct client *client; /* NULL once the launcher is gone */
	char identity[MF_NAME_MAX];
	char server[MF_NAME_MAX];
	uid_t uid;
	struct launch *next;
};

/* What the child needs, prepared by the parent (errors reach the launcher
 * as a refused launch, not as an exit). */
struct plan {
	const struct mf_server *srv;
	char identity[MF_NAME_MAX];
	char server[MF_NAME_MAX];
	uid_t uid;
	char home[PATH_MAX], tmp[PATH_MAX];
	const char **argv;
	char **envp;
	size_t nenv;
	int cred_fds[MF_MAX_CREDENTIALS];
	struct mf_harden h;
	int go[2], status[2];
};

/* Variables a launcher may pass: locale and terminal, nothing that changes
 * what runs (PATH, LD_*, NODE_OPTIONS, ...). The agent sets the rest. */
static bool env_passes(const char *name)
{
	static const char *const names[] = { "LANG", "LANGUAGE", "TZ", "TERM", "NO_COLOR", NULL };

	for (size_t i = 0; names[i]; i++) {
		if (!strcmp(name, names[i]))
			return true;
	}
	if (strncmp(name, "LC_", 3))
		return false;
	for (const char *p = name + 3; *p; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || *p == '_'))
			return false;
	}
	return name[3] != '\0';
}

static int env_add(struct plan *pl, const char *name, const char *value)
{
	char *s;

	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -ENOMEM;
	pl->envp[pl->nenv++] = s;
	return 0;
}

/* The server's environment: what passes of the launcher's, then the agent's. */
static int plan_env(struct agent *a, struct plan *pl, json_t *env, char *why, size_t len)
{
	char user[32];
	const char *key;
	json_t *v;
	int err = 0;

	if (env && (!json_is_object(env) || json_object_size(env) > MF_ENV_MAX)) {
		snprintf(why, len, "launch: \"env\" is an object of at most %d strings",
			 MF_ENV_MAX);
		return -EINVAL;
	}
	/* Theirs, the agent's 9, the credentials', the NULL. */
	pl->envp = calloc(MF_ENV_MAX + 10 + MF_MAX_CREDENTIALS + 1, sizeof(char *));
	if (!pl->envp)
		return -ENOMEM;
	json_object_foreach(env, key, v) {
		const char *s = json_string_value(v);

		if (!env_passes(key))
			continue;
		if (!s || strlen(s) != json_string_length(v) || strlen(s) > MF_ENV_VALUE_MAX) {
			snprintf(why, len, "launch: env %s: expected a string without NUL", key);
			return -EINVAL;
		}
		err = env_add(pl, key, s);
		if (err)
			return err;
	}
	snprintf(user, sizeof(user), "mcpfence-%u", pl->uid);
	if (!err)
		err = env_add(pl, "HOME", pl->home);
	if (!err)
		err = env_add(pl, "TMPDIR", pl->tmp);
	if (!err)
		err = env_add(pl, "PATH", "/usr/local/bin:/usr/bin:/bin");
	if (!err)
		err = env_add(pl, "USER", user);
	if (!err)
		err = env_add(pl, "LOGNAME", user);
	if (!err)
		err = env_add(pl, "MCPFENCE_IDENTITY", pl->identity);
	if (!err)
		err = env_add(pl, "MCPFENCE_SERVER", pl->server);
	if (!err)
		err = env_add(pl, "MCPFENCE_SOCKET", a->opt.socket_path);
	return err;
}

static int plan_argv(struct plan *pl, json_t *argv, char *why, size_t len)
{
	json_t *v;
	size_t i;

	if (!json_is_array(argv) || !json_array_size(argv) || json_array_size(argv) > MF_ARGV_MAX) {
		snprintf(why, len, "launch: \"argv\" is an array of 1 to %d strings", MF_ARGV_MAX);
		return -EINVAL;
	}
	pl->argv = calloc(json_array_size(argv) + 1, sizeof(char *));
	if (!pl->argv)
		return -ENOMEM;
	json_array_foreach(argv, i, v) {
		const char *s = json_string_value(v);

		if (!s || strlen(s) != json_string_length(v) || (i == 0 && !*s)) {
			snprintf(why, len, "launch: argv[%zu]: expected a string without NUL", i);
			return -EINVAL;
		}
		pl->argv[i] = s; /* the request outlives the fork */
	}
	return 0;
}

/* System paths an isolated server reads and executes; missing ones skipped. */
static const char *const system_read[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/proc", "/sys",
};
static const char *const devices[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
};

#define NSYSTEM (sizeof(system_read) / sizeof(system_read[0]))
#define NDEVICES (sizeof(devices) / sizeof(devices[0]))

static int plan_landlock(struct plan *pl, char *why, size_t len)
{
	struct mf_fs_path paths[NSYSTEM + NDEVICES + MF_MAX_FS_READ + 2];
	const struct mf_isolation *iso = &pl->srv->iso;
	size_t n = 0;

	for (size_t i = 0; i < NSYSTEM; i++)
		paths[n++] = (struct mf_fs_path){ system_read[i], MF_FS_READ, false };
	for (size_t i = 0; i < NDEVICES; i++)
		paths[n++] = (struct mf_fs_path){ devices[i], MF_FS_READ_WRITE, false };
	for (size_t i = 0; i < iso->nfs_read; i++)
		paths[n++] = (struct mf_fs_path){ iso->fs_read[i], MF_FS_READ, true };
	paths[n++] = (struct mf_fs_path){ pl->home, MF_FS_READ_WRITE, true };
	paths[n++] = (struct mf_fs_path){ pl->tmp, MF_FS_READ_WRITE, true };
	pl->h.io_uring = pl->srv->io_uring;
	pl->h.isolated = true;
	return mf_harden_prepare_fs(&pl->h, paths, n, why, len);
}

/* Everything that can refuse the launch, before the fork. */
static int plan_prepare(struct agent *a, struct plan *pl, json_t *req, char *why, size_t len)
{
	const struct mf_isolation *iso = &pl->srv->iso;
	int err;

	err = plan_argv(pl, json_object_get(req, "argv"), why, len);
	if (!err)
		err = tenant_uid(a, pl->identity, pl->server, true, &pl->uid, why, len);
	if (!err)
		err = tenant_dirs(a, pl->uid, pl->home, pl->tmp, sizeof(pl->home), why, len);
	if (!err)
		err = plan_env(a, pl, json_object_get(req, "env"), why, len);
	for (size_t i = 0; !err && i < iso->ncreds; i++) {
		pl->cred_fds[i] = credential_open(&iso->creds[i], pl->identity, why, len);
		err = pl->cred_fds[i] < 0 ? pl->cred_fds[i] : 0;
	}
	if (!err)
		err = plan_landlock(pl, why, len);
	if (!err && (pipe2(pl->go, O_CLOEXEC) || pipe2(pl->status, O_CLOEXEC))) {
		err = -errno;
		snprintf(why, len, "cannot create a pipe: %s", strerror(-err));
	}
	if (err == -ENOMEM)
		snprintf(why, len, "out of memory");
	return err;
}

static void plan_free(struct plan *pl)
{
	free(pl->argv);
	for (size_t i = 0; pl->envp && pl->envp[i]; i++)
		free(pl->envp[i]);
	free(pl->envp);
	for (size_t i = 0; i < MF_MAX_CREDENTIALS; i++) {
		if (pl->cred_fds[i] >= 0)
			close(pl->cred_fds[i]);
	}
	mf_harden_free(&pl->h);
	for (int i = 0; i < 2; i++) {
		if (pl->go[i] >= 0)
			close(pl->go[i]);
		if (pl->status[i] >= 0)
			close(pl->status[i]);
	}
}

/* In the child: say why on the status pipe and exit 127, as a shell does. */
__attribute__((noreturn, format(printf, 2, 3))) static void child_fail(struct plan *pl,
								       const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	if (n && write(pl->status[1], msg, n) < 0) {
		/* nobody to tell */
	}
	_exit(127);
}

/* A credential's bytes, read in the child as root. An environment value
 * loses its final newline, and may not hold a NUL. */
static char *child_read_cred(struct plan *pl, size_t i, size_t *len)
{
	const struct mf_credential *c = &pl->srv->iso.creds[i];
	char *value = NULL;

	if (mf_read_fd(pl->cred_fds[i], MF_CREDENTIAL_MAX, &value, len))
		child_fail(pl, "cannot read credential %s of %s", mf_credential_name(c),
			   pl->identity);
	return value;
}

static void child_write_file(struct plan *pl, const char *name, const char *value, size_t len)
{
	int fd;

	/* As the tenant, in its HOME: whatever it left there is its own. */
	unlinkat(AT_FDCWD, name, 0);
	fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0 || mf_write_all(fd, value, len) || close(fd))
		child_fail(pl, "cannot write credential file %s/%s: %s", pl->home, name,
			   strerror(errno));
}

/* Credentials as the plan says: env values now (root), files after the uid change. */
static void child_credentials(struct plan *pl, char **file_values, size_t *file_lens)
{
	const struct mf_isolation *iso = &pl->srv->iso;

	for (size_t i = 0; i < iso->ncreds; i++) {
		size_t len;
		char *value = child_read_cred(pl, i, &len);

		file_values[i] = value;
		file_lens[i] = len;
		if (!iso->creds[i].env)
			continue;
		while (len && (value[len - 1] == '\n' || value[len - 1] == '\r'))
			len--;
		if (memchr(value, '\0', len))
			child_fail(pl, "credential %s of %s holds a NUL byte", iso->creds[i].env,
				   pl->identity);
		if (asprintf(&pl->envp[pl->nenv++], "%s=%.*s", iso->creds[i].env, (int)len, value) <
		    0)
			child_fail(pl, "out of memory");
	}
}

__attribute__((noreturn)) static void launch_child(struct plan *pl, int stdio[3])
{
	char *values[MF_MAX_CREDENTIALS] = {}, err[512], b;
	size_t lens[MF_MAX_CREDENTIALS] = {};
	sigset_t none;

	/* The agent's blocked signals (signalfd) and ignored ones (SIGPIPE; and
	 * SIGINT when it was started in the background) would pass through exec. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL); /* SIGKILL, SIGSTOP: EINVAL, as they are */
	close(pl->go[1]);
	close(pl->status[0]);
	/* Nothing runs before the tag is in the map. */
	if (read(pl->go[0], &b, 1) != 1)
		_exit(127);
	if (setsid() < 0)
		child_fail(pl, "cannot start a session: %s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		if (dup2(stdio[i], i) < 0)
			child_fail(pl, "cannot take descriptor %d: %s", i, strerror(errno));
	}
	/* System V IPC and POSIX message queues of its own: objects a tenant
	 * makes with open modes reach no other. (Not a mount namespace: the
	 * kernel refuses Unix socket pathnames there.) */
	if (unshare(CLONE_NEWIPC))
		child_fail(pl, "cannot create an IPC namespace: %s", strerror(errno));
	child_credentials(pl, values, lens);
	/* What the agent holds (maps, sockets, credential files) is not passed on. */
	if (syscall(__NR_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC))
		child_fail(pl, "cannot mark descriptors close-on-exec: %s", strerror(errno));
	if (mf_harden_drop_bounding(err, sizeof(err)))
		child_fail(pl, "%s", err);
	if (setgroups(0, NULL) || setresgid(pl->uid, pl->uid, pl->uid) ||
	    setresuid(pl->uid, pl->uid, pl->uid))
		child_fail(pl, "cannot become uid %u: %s", pl->uid, strerror(errno));
	if (chdir(pl->home))
		child_fail(pl, "cannot enter %s: %s", pl->home, strerror(errno));
	/* What the server writes is its own, Landlock or not. */
	umask(077);
	for (size_t i = 0; i < pl->srv->iso.ncreds; i++) {
		if (pl->srv->iso.creds[i].as_file)
			child_write_file(pl, pl->srv->iso.creds[i].as_file, values[i], lens[i]);
		explicit_bzero(values[i], lens[i]);
	}
	if (mf_harden_apply(&pl->h, err, sizeof(err)))
		child_fail(pl, "%s", err);
	environ = pl->envp;
	execvp(pl->argv[0], (char *const *)pl->argv);
	child_fail(pl, "cannot run %s: %s", pl->argv[0], strerror(errno));
}

static void audit_launch(struct agent *a, const struct client *c, const struct plan *pl, pid_t pid,
			 const char *refusal)
{
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "event",
				refusal ? "launch-refused" : "launch", "verdict",
				refusal ? "deny" : "allow", "identity", pl->identity, "server",
				pl->server, "pid", (json_int_t)(pid ? pid : c->cred.pid),
				"requested_by_uid", (json_int_t)c->cred.uid);

	if (!rec) {
		audit_emit(a, NULL);
		return;
	}
	if (refusal)
		json_object_set_new(rec, "reason", json_string(refusal));
	else
		json_object_set_new(rec, "uid", json_integer(pl->uid));
	audit_emit(a, rec);
	for (size_t i = 0; !refusal && i < pl->srv->iso.ncreds; i++)
		audit_emit(a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "event",
					"credential", "verdict", "allow", "identity", pl->identity,
					"server", pl->server, "credential",
					mf_credential_name(&pl->srv->iso.creds[i]), "pid",
					(json_int_t)pid, "via", "launch"));
}

/* Fork, tag the child, let it go. 0 with *out, or -errno with why. */
static int launch_start(struct agent *a, struct client *c, struct plan *pl, struct launch **out,
			char *why, size_t len)
{
	struct mf_tag tag = { .flags = MF_TAG_LAUNCHER };
	int err;
	struct launch *l = calloc(1, sizeof(*l));
	pid_t pid;

	err = l ? identity_id_get(a, pl->identity, &tag.identity_id) : -ENOMEM;
	if (!err)
		err = server_id_get(a, pl->server, &tag.server_id);
	if (err) {
		snprintf(why, len, "cannot register identity or server: %s", strerror(-err));
		free(l);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		snprintf(why, len, "cannot fork: %s", strerror(-err));
		free(l);
		return err;
	}
	if (pid == 0)
		launch_child(pl, c->fds);
	l->pidfd = syscall(__NR_pidfd_open, pid, 0);
	/* Fails closed: a child that cannot be moved (--scope launched) or
	 * tagged never runs. */
	if (l->pidfd < 0) {
		err = -errno;
		snprintf(why, len, "cannot open process %d: %s", pid, strerror(-err));
	} else if (!(err = scope_move(a, pid, why, len)) && (err = tag_insert(a, pid, &tag))) {
		snprintf(why, len, "cannot tag process %d: %s", pid, strerror(-err));
	}
	if (err) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0); /* blocked on the pipe: dies at once */
		if (l->pidfd >= 0)
			close(l->pidfd);
		free(l);
		return err;
	}
	if (write(pl->go[1], "g", 1) != 1) {
		/* The child died already: its exit is reaped as any other. */
	}
	l->pid = pid;
	l->status_fd = pl->status[0];
	pl->status[0] = -1;
	fcntl(l->status_fd, F_SETFL, O_NONBLOCK);
	l->client = c;
	l->uid = pl->uid;
	memcpy(l->identity, pl->identity, MF_NAME_MAX);
	memcpy(l->server, pl->server, MF_NAME_MAX);
	*out = l;
	return 0;
}

void op_launch(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	struct plan pl = { .go = { -1, -1 }, .status = { -1, -1 }, .h = { .ruleset_fd = -1 } };
	const char *refusal = NULL;
	struct launch *l = NULL;
	char why[1024];

	for (size_t i = 0; i < MF_MAX_CREDENTIALS; i++)
		pl.cred_fds[i] = -1;
	if (c->launch || a->nlaunches >= MF_LAUNCHES_MAX) {
		client_reply_error(c, c->launch ? MF_E_INVALID_REQUEST : MF_E_LIMIT, "launch: %s",
				   c->launch ? "this connection launched already" :
					       "too many isolated servers running");
		return;
	}
	if (c->nfds != 3) {
		client_reply_error(c, MF_E_INVALID_REQUEST,
				   "launch needs stdin, stdout and stderr passed with the "
				   "request (SCM_RIGHTS), got %zu descriptors",
				   c->nfds);
		return;
	}
	for (int i = 0; i < 3; i++) {
		struct stat st;

		/* A directory (O_PATH too) would be a way into the launcher's tree
		 * by *at() calls: stdio is a stream. */
		if (fstat(c->fds[i], &st) || S_ISDIR(st.st_mode)) {
			client_reply_error(c, MF_E_INVALID_REQUEST,
					   "launch: descriptor %d is not a stream (a "
					   "directory?)",
					   i);
			return;
		}
		/* Made outside the governed cgroup: no hook of it would run. */
		if (a->opt.scope_launched && mf_fd_unjudged_socket(c->fds[i], why, sizeof(why))) {
			client_reply_error(
				c, MF_E_REFUSED,
				"launch: descriptor %d is %s, made outside the governed "
				"cgroup: its traffic would not be judged (--scope launched)",
				i, why);
			return;
		}
	}
	if ((refusal = tag_request_problem(req))) {
		client_reply_error(c, MF_E_INVALID_REQUEST, "launch%s", refusal);
		return;
	}
	/* Before a ticket is used: `run` then tags itself with it. */
	if (!isolated_server_in(a, req, pl.server)) {
		client_send_json(c,
				 json_pack("{s:s, s:b, s:b, s:s, s:s}", "type", MF_TYPE_REPLY, "ok",
					   0, "isolate", 0, "error",
					   "not an isolated server: run tags and starts it", "code",
					   mf_errcode_name(MF_E_NOT_ISOLATED)),
				 false);
		return;
	}
	refusal = tag_resolve(a, c, req, pl.identity, pl.server, why, sizeof(why));
	if (!refusal) {
		pl.srv = policy_server(a, pl.server);
		if (!pl.srv || !pl.srv->iso.isolate) {
			snprintf(why, sizeof(why), "server %s is not isolated", pl.server);
			refusal = why;
		}
	}
	if (!refusal && (plan_prepare(a, &pl, req, why, sizeof(why)) ||
			 launch_start(a, c, &pl, &l, why, sizeof(why))))
		refusal = why;
	audit_launch(a, c, &pl, l ? l->pid : 0, refusal);
	if (refusal) {
		client_reply_error(c, MF_E_REFUSED, "%s", refusal);
	} else {
		l->next = a->launches;
		a->launches = l;
		a->nlaunches++;
		c->launch = l;
		client_send_json(c,
				 json_pack("{s:b, s:I, s:I, s:s, s:s, s:s}", "ok", 1, "pid",
					   (json_int_t)l->pid, "uid", (json_int_t)l->uid,
					   "identity", l->identity, "server", l->server, "home",
					   pl.home),
				 false);
	}
	plan_free(&pl);
}

/* Signals a launcher forwards: what a terminal or a host sends to stop it. */
void op_signal(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	json_int_t sig = json_integer_value(json_object_get(req, "signal"));

	if (!c->launch) {
		client_reply_error(c, MF_E_NOT_FOUND, "signal: this connection launched no server");
		return;
	}
	if (sig != SIGINT && sig != SIGTERM && sig != SIGHUP) {
		client_reply_error(c, MF_E_INVALID_REQUEST,
				   "signal: only SIGINT, SIGTERM and SIGHUP are forwarded");
		return;
	}
	if (syscall(__NR_pidfd_send_signal, c->launch->pidfd, (int)sig, NULL, 0) &&
	    errno != ESRCH) {
		client_reply_error(c, MF_E_FAILED, "signal: cannot signal %d: %s", c->launch->pid,
				   strerror(errno));
		return;
	}
	client_send_json(c, json_pack("{s:b, s:I}", "ok", 1, "signal", sig), false);
}

static void launch_free(struct agent *a, struct launch *l)
{
	struct launch **pp;

	for (pp = &a->launches; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	a->nlaunches--;
	if (l->client)
		l->client->launch = NULL;
	close(l->pidfd);
	close(l->status_fd);
	free(l);
}

static void launch_exited(struct agent *a, struct launch *l, int status)
{
	char msg[512] = "";
	ssize_t n = read(l->status_fd, msg, sizeof(msg) - 1);
	json_t *ev;

	msg[n > 0 ? n : 0] = '\0';
	ev = json_pack("{s:s, s:I}", "event", "exit", "pid", (json_int_t)l->pid);
	if (ev && WIFEXITED(status))
		json_object_set_new(ev, "status", json_integer(WEXITSTATUS(status)));
	else if (ev)
		json_object_set_new(ev, "signal", json_integer(WTERMSIG(status)));
	if (ev && msg[0])
		json_object_set_new(ev, "error", json_string(msg));
	if (l->client && ev) {
		client_send_json(l->client, json_incref(ev), false);
		l->client->closing = true;
	}
	if (ev) {
		json_object_set_new(ev, "event", json_string("launch-exit"));
		json_object_set_new(ev, "verdict", json_string("allow"));
		json_object_set_new(ev, "identity", json_string(l->identity));
		json_object_set_new(ev, "server", json_string(l->server));
	}
	audit_emit(a, ev);
	launch_free(a, l);
}

/*
 * The server's whole process group (its session: it called setsid), killed.
 * Called only while its leader is not reaped: a zombie's pid is still its
 * group's id, never another process's.
 */
static void launch_kill_group(const struct launch *l)
{
	kill(-l->pid, SIGKILL);
}

/* Exits, seen first without reaping (WNOWAIT): what the server left behind
 * in its process group goes with it, then the leader is reaped. */
void launch_reap(struct agent *a)
{
	siginfo_t info;
	int status;

	for (;;) {
		struct launch *l = a->launches;

		info.si_pid = 0;
		if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) || !info.si_pid)
			return;
		while (l && l->pid != info.si_pid)
			l = l->next;
		if (l)
			launch_kill_group(l);
		if (waitpid(info.si_pid, &status, 0) != info.si_pid)
			return;
		if (l)
			launch_exited(a, l, status);
	}
}

void launch_client_gone(struct agent *a, struct client *c)
{
	struct launch *l = c->launch;

	l->client = NULL;
	c->launch = NULL;
	launch_kill_group(l);
}

void launch_stop_all(struct agent *a)
{
	while (a->launches) {
		struct launch *l = a->launches;

		launch_kill_group(l);
		waitpid(l->pid, NULL, 0);
		if (l->client)
			l->client->closing = true;
		launch_free(a, l);
	}
}

/* The caller's own credential, found by its tag and checked against the
 * uid of its (identity, server). */
void op_credential(struct agent *a, struct client *c, const struct peer *p, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	char ibuf[MF_NAME_MAX], why[1024], *value = NULL;
	const char *identity = identity_name(a, p->tag.identity_id, ibuf, sizeof(ibuf));
	const char *server = server_name(a, p->tag.server_id), *refusal = NULL;
	const struct mf_server *srv = policy_server(a, server);
	const struct mf_credential *cred = NULL;
	json_t *v = NULL;
	size_t len;
	uid_t uid;
	int fd;

	for (size_t i = 0; srv && name && i < srv->iso.ncreds; i++) {
		if (!strcmp(mf_credential_name(&srv->iso.creds[i]), name))
			cred = &srv->iso.creds[i];
	}
	if (!cred) {
		snprintf(why, sizeof(why), "server %s has no credential '%.64s'", server,
			 name ? name : "");
		refusal = why;
	} else if (tenant_uid(a, identity, server, false, &uid, why, sizeof(why)) ||
		   uid != c->cred.uid) {
		/* Governed as identity, but not the server the agent launched for it. */
		snprintf(why, sizeof(why), "uid %u is not the uid of %s on %s", c->cred.uid,
			 identity, server);
		refusal = why;
	} else if ((fd = credential_open(cred, identity, why, sizeof(why))) < 0) {
		refusal = why;
	} else {
		if (mf_read_fd(fd, MF_CREDENTIAL_MAX, &value, &len))
			snprintf(why, sizeof(why), "cannot read credential %s", name);
		else if (!(v = json_stringn(value, len)))
			snprintf(why, sizeof(why), "credential %s is not UTF-8 text", name);
		close(fd);
		refusal = v ? NULL : why;
	}
	audit_emit(a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s*}", "event",
				refusal ? "credential-refused" : "credential", "verdict",
				refusal ? "deny" : "allow", "identity", identity, "server", server,
				"credential", cred ? name : "?", "pid", (json_int_t)p->pid, "via",
				"request", "reason", refusal));
	if (refusal)
		client_reply_error(c, MF_E_REFUSED, "credential: %s", refusal);
	else
		client_send_json(c, json_pack("{s:b, s:s, s:o}", "ok", 1, "name", name, "value", v),
				 false);
	if (value)
		explicit_bzero(value, len);
	free(value);
}
