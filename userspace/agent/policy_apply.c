// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Writing a compiled policy into the kernel without a window.
 *
 * Bindings and rules exist in two slots. A load fills the inactive slot,
 * then flips mf_config.active_slot with one 4-byte store: every decision
 * sees either the old policy or the new one, whole. A policy that does not
 * parse or compile is refused before any map is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mcpfence.skel.h"

/* Remove the bindings of a slot (small map: collect, then delete). */
static int clear_bindings(struct agent *a, uint32_t slot)
{
	int fd = bpf_map__fd(a->skel->maps.bindings);
	struct mf_binding_key key, next, *doomed = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	int err = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (key.slot != slot)
			continue;
		if (n == cap) {
			struct mf_binding_key *d;

			cap = cap ? cap * 2 : 256;
			d = realloc(doomed, cap * sizeof(*d));
			if (!d) {
				free(doomed);
				return -ENOMEM;
			}
			doomed = d;
		}
		doomed[n++] = key;
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_delete_elem(fd, &doomed[i]) && errno != ENOENT)
			err = -errno;
	}
	free(doomed);
	return err;
}

static int write_binding(int fd, uint32_t slot, uint32_t identity, uint32_t server,
			 uint32_t ruleset_id)
{
	struct mf_binding_key key = { .slot = slot, .identity_id = identity, .server_id = server };
	struct mf_binding val = { .ruleset_id = ruleset_id };

	return bpf_map_update_elem(fd, &key, &val, BPF_ANY) ? -errno : 0;
}

/* The uid of the Unix user named identity, or NO_USER, looked up once per
 * load: getpwnam() may ask systemd-userdbd (about 0.3 ms here), and an
 * identity has a binding on every server it is named for. */
#define NO_USER UINT32_MAX

static int user_uid(struct mf_strmap *cache, const char *identity, uint32_t *uid)
{
	struct passwd *pw;

	if (mf_strmap_get(cache, identity, uid))
		return 0;
	pw = getpwnam(identity);
	*uid = pw ? pw->pw_uid : NO_USER;
	return mf_strmap_put(cache, identity, *uid);
}

static int write_bindings(struct agent *a, uint32_t slot, const struct mf_compiled *c,
			  const uint32_t *ruleset_ids)
{
	int fd = bpf_map__fd(a->skel->maps.bindings);
	uint32_t server, identity, uid;
	struct mf_strmap users;
	int err = 0;

	mf_strmap_init(&users);
	for (size_t i = 0; !err && i < c->nbindings; i++) {
		const struct mf_compiled_binding *b = &c->bindings[i];
		uint32_t ruleset_id = ruleset_ids[b->ruleset];

		err = server_id_get(a, b->server, &server);
		if (err)
			break;
		if (!b->identity) {
			err = write_binding(fd, slot, MF_ANY_IDENTITY, server, ruleset_id);
			continue;
		}
		err = identity_id_get(a, b->identity, &identity);
		if (!err)
			err = write_binding(fd, slot, identity, server, ruleset_id);
		if (!err)
			err = user_uid(&users, b->identity, &uid);
		/* Processes tagged at exec are named by their Unix user. */
		if (!err && uid != NO_USER)
			err = write_binding(fd, slot, MF_UID_IDENTITY | uid, server, ruleset_id);
	}
	mf_strmap_free(&users);
	return err;
}

/* Keys written into a map by this load, to drop the stale ones after the flip. */
struct key_set {
	void *keys;
	size_t len, cap, size;
};

static int key_set_add(struct key_set *ks, const void *key)
{
	if (ks->len == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 64;
		void *keys = realloc(ks->keys, cap * ks->size);

		if (!keys)
			return -ENOMEM;
		ks->keys = keys;
		ks->cap = cap;
	}
	memcpy((char *)ks->keys + ks->len++ * ks->size, key, ks->size);
	return 0;
}

static bool key_set_has(const struct key_set *ks, const void *key)
{
	for (size_t i = 0; i < ks->len; i++) {
		if (memcmp((char *)ks->keys + i * ks->size, key, ks->size) == 0)
			return true;
	}
	return false;
}

/* Delete the map's keys that this load did not write. */
static void drop_stale_keys(int fd, const struct key_set *keep)
{
	char key[64], next[64];
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, keep->size);
		if (key_set_has(keep, key)) {
			prev = key;
			continue;
		}
		/* Deleted: restart the walk, the successor of a deleted key is unknown. */
		bpf_map_delete_elem(fd, key);
		prev = NULL;
	}
}

/* The kernel's identity of an executable file, or a warning. */
static bool exec_key_of(const char *server, const char *path, struct mf_exec_key *key,
			json_t *warnings)
{
	struct stat st;

	if (stat(path, &st)) {
		json_array_append_new(warnings,
				      json_sprintf("servers.%s.exec: cannot stat %s: %s; it is not "
						   "tagged at exec",
						   server, path, strerror(errno)));
		return false;
	}
	memset(key, 0, sizeof(*key));
	key->ino = st.st_ino;
	key->dev = mf_kernel_dev(major(st.st_dev), minor(st.st_dev));
	return true;
}

/* Write the exec matches of the new policy (plain paths and interpreters
 * with arguments), recording the keys written. */
static int write_exec_servers(struct agent *a, const struct mf_policy *p, json_t *warnings,
			      struct key_set *exec_keys, struct key_set *args_keys)
{
	int fd = bpf_map__fd(a->skel->maps.exec_servers);
	int args_fd = bpf_map__fd(a->skel->maps.exec_args);
	int err;

	for (size_t s = 0; s < p->nservers; s++) {
		const struct mf_server *srv = &p->servers[s];
		struct mf_exec_val val = {};
		struct mf_exec_key key;
		uint32_t server;

		if (!srv->nexec && !srv->nexec_args)
			continue;
		err = server_id_get(a, srv->name, &server);
		if (err)
			return err;
		for (size_t i = 0; i < srv->nexec; i++) {
			if (!exec_key_of(srv->name, srv->exec[i], &key, warnings))
				continue;
			val.server_id = server;
			val.flags = 0;
			if (bpf_map_update_elem(fd, &key, &val, BPF_ANY))
				return -errno;
			if (key_set_add(exec_keys, &key))
				return -ENOMEM;
		}
		for (size_t i = 0; i < srv->nexec_args; i++) {
			const struct mf_exec_args *ea = &srv->exec_args[i];
			struct mf_exec_args_key akey = {};

			if (!exec_key_of(srv->name, ea->path, &key, warnings))
				continue;
			/* The interpreter itself only says "look at the arguments". */
			val.server_id = 0;
			val.flags = MF_EXEC_MATCH_ARGS;
			if (bpf_map_update_elem(fd, &key, &val, BPF_ANY))
				return -errno;
			akey.ino = key.ino;
			akey.dev = key.dev;
			akey.nargs = ea->nargs;
			akey.hash = mf_exec_args_hash(ea->args, ea->nargs);
			val.server_id = server;
			val.flags = 0;
			if (bpf_map_update_elem(args_fd, &akey, &val, BPF_ANY))
				return -errno;
			if (key_set_add(exec_keys, &key) || key_set_add(args_keys, &akey))
				return -ENOMEM;
		}
	}
	return 0;
}

static void loaded_policy_free(struct loaded_policy *lp)
{
	mf_policy_free(lp->policy);
	free(lp->source);
	free(lp->text);
	memset(lp, 0, sizeof(*lp));
}

/* Phase 1: parse, compile and check text; on failure nothing is kept and
 * err says why. */
static int policy_prepare(struct agent *a, const char *text, size_t len, const char *source,
			  struct mf_policy **policy, struct mf_compiled **compiled, char *err,
			  size_t errlen)
{
	int ret = mf_policy_parse(text, len, source, policy, err, errlen);

	if (ret)
		return ret;
	ret = mf_policy_compile(*policy, compiled, err, errlen);
	if (!ret)
		ret = tenants_check_policy(*policy, source, err, errlen);
	if (!ret)
		ret = scope_check_policy(a, *policy, source, err, errlen);
	if (ret) {
		mf_compiled_free(*compiled);
		mf_policy_free(*policy);
		*compiled = NULL;
		*policy = NULL;
	}
	return ret;
}

/* What a failed slot_write() leaves in the inactive slot goes. */
static void slot_discard(struct agent *a, uint32_t slot)
{
	clear_bindings(a, slot);
	local_clear(a, slot);
	rulesets_abort(a, slot);
}

/*
 * Phase 2: the new policy into the inactive slot, which nothing reads until
 * the flip. Rulesets the new policy shares with a loaded one are not written
 * again; the slot's old rulesets that nothing uses any more are deleted
 * later. The exec keys written are recorded. On failure the slot is
 * discarded and err says why.
 */
static int slot_write(struct agent *a, uint32_t slot, const struct mf_policy *policy,
		      const struct mf_compiled *compiled, struct key_set *exec_keys,
		      struct key_set *args_keys, json_t *warnings, const char *source, char *err,
		      size_t errlen)
{
	uint32_t *ruleset_ids;
	int ret;

	/* Exec matches tag processes that have no launcher's filter: the
	 * syscall tracepoint judges their socket families and ABIs. It is
	 * attached before the first exec key is written (mf_exec tags from that
	 * moment, in every slot): an agent that dies in between leaves it on,
	 * never an exec-tagged process without it (found by a review). */
	if (policy_has_exec(policy) && (ret = bpf_syscall_tps_attach(a))) {
		snprintf(err, errlen, "%s: cannot attach the socket family check: %s", source,
			 strerror(-ret));
		return ret;
	}
	ruleset_ids = calloc(compiled->nrulesets ? compiled->nrulesets : 1, sizeof(*ruleset_ids));
	ret = ruleset_ids ? clear_bindings(a, slot) : -ENOMEM;
	/* Nothing points at the slot's old rulesets now: let rulesets_place()
	 * collect them first, so the rules map holds two policies, not three. */
	if (!ret)
		rulesets_abort(a, slot);
	if (!ret)
		ret = rulesets_place(a, compiled, ruleset_ids);
	if (!ret)
		ret = write_bindings(a, slot, compiled, ruleset_ids);
	if (!ret)
		ret = write_exec_servers(a, policy, warnings, exec_keys, args_keys);
	if (!ret)
		ret = local_write(a, slot, policy, warnings);
	free(ruleset_ids);
	if (ret) {
		snprintf(err, errlen, "%s: cannot write policy into the kernel: %s", source,
			 strerror(-ret));
		slot_discard(a, slot);
		return ret;
	}
	rulesets_commit(a, slot);
	return 0;
}

/* Phase 3: the slot's modes and generation, then the flip: from it on every
 * decision uses the slot. Exec keys this load did not write go after it. */
static int slot_activate(struct agent *a, uint32_t slot, const struct mf_policy *policy,
			 uint32_t generation, const struct key_set *exec_keys,
			 const struct key_set *args_keys, const char *source, char *err,
			 size_t errlen)
{
	struct mf_policy_cfg cfg = {};
	struct mf_config config = {};
	uint32_t zero = 0;
	int ret;

	cfg.flags = MF_POLICY_LOADED;
	if (policy->audit_only)
		cfg.flags |= MF_POLICY_AUDIT_ONLY;
	if (policy->audit_allowed)
		cfg.flags |= MF_POLICY_AUDIT_ALLOWED;
	if (policy->audit_each)
		cfg.flags |= MF_POLICY_AUDIT_EACH;
	cfg.flow_window_ms = policy->audit_window_s * 1000;
	cfg.generation = generation;
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.policy_cfg), &slot, &cfg, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot write policy config: %s", source, strerror(-ret));
		return ret;
	}

	/* Addresses learned from names the new policy grants too stay open. */
	learned_policy_loading(a, policy, generation);
	/* The flip. */
	config.active_slot = slot;
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.mf_config), &zero, &config, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot activate policy: %s", source, strerror(-ret));
		return ret;
	}
	a->active_slot = slot;
	drop_stale_keys(bpf_map__fd(a->skel->maps.exec_servers), exec_keys);
	drop_stale_keys(bpf_map__fd(a->skel->maps.exec_args), args_keys);
	return 0;
}

/* Phase 4: the active policy becomes the agent's current one (it takes
 * policy), and what follows from it is brought up to date. */
static void policy_adopt(struct agent *a, struct mf_policy *policy, uint32_t generation,
			 const char *source, const char *text, size_t len)
{
	loaded_policy_free(&a->previous);
	a->previous = a->current;
	/* The previous policy only names the rules of late audit records. */
	free(a->previous.text);
	a->previous.text = NULL;
	a->current.policy = policy;
	a->current.generation = generation;
	a->current.source = strdup(source);
	a->current.text = strndup(text, len);
	/* Learned addresses the new policy does not grant go; its names of
	 * /etc/hosts come. */
	dns_policy_loaded(a);
	/* For a restart without --policy; a failure is said on stderr. */
	if (a->current.text)
		state_save_policy(a, a->current.text, strlen(a->current.text));
	/* User names may have changed with the policy's users: forget them. */
	names_forget_users();
	/* Processes already running that the new exec rules name. */
	scan_processes(a);
	/* No exec match left: the syscall tracepoints go with the last process
	 * that needs them (now, or on a later tick). */
	bpf_syscall_tps_sync(a);
	/* Parsing and compiling a large policy leaves much freed heap behind. */
	malloc_trim(0);
}

int policy_load_text(struct agent *a, const char *text, size_t len, const char *source, char *err,
		     size_t errlen, json_t *warnings)
{
	struct key_set exec_keys = { .size = sizeof(struct mf_exec_key) };
	struct key_set args_keys = { .size = sizeof(struct mf_exec_args_key) };
	uint32_t slot = a->active_slot ^ 1, generation = a->current.generation + 1;
	struct mf_compiled *compiled = NULL;
	struct mf_policy *policy = NULL;
	struct timespec t0, t1;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = policy_prepare(a, text, len, source, &policy, &compiled, err, errlen);
	if (ret)
		return ret;
	ret = slot_write(a, slot, policy, compiled, &exec_keys, &args_keys, warnings, source, err,
			 errlen);
	if (!ret)
		ret = slot_activate(a, slot, policy, generation, &exec_keys, &args_keys, source,
				    err, errlen);
	if (!ret) {
		policy_adopt(a, policy, generation, source, text, len);
		policy = NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!ret)
		a->last_load.duration_ns =
			(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	free(exec_keys.keys);
	free(args_keys.keys);
	mf_compiled_free(compiled);
	mf_policy_free(policy);
	return ret;
}

/* After a restart: learn the active slot and generation, and what the rules
 * map holds; the inactive slot's bindings go. */
int policy_restore(struct agent *a)
{
	struct mf_policy_cfg cfg = {};
	struct mf_config config = {};
	uint32_t zero = 0;
	int err;

	if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.mf_config), &zero, &config))
		return -errno;
	a->active_slot = config.active_slot & 1;
	if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.policy_cfg), &a->active_slot, &cfg))
		return -errno;
	a->current.generation = cfg.generation;
	err = rulesets_restore(a);
	if (!err)
		err = clear_bindings(a, a->active_slot ^ 1);
	if (!err)
		err = local_clear(a, a->active_slot ^ 1);
	rulesets_abort(a, a->active_slot ^ 1);
	return err;
}

void policy_free_all(struct agent *a)
{
	loaded_policy_free(&a->current);
	loaded_policy_free(&a->previous);
	rulesets_free(a);
}

/*
 * Every load attempt, whoever asked (start, SIGHUP, `policy load`), is
 * reported the same way: one policy-load record in the audit stream, and
 * the last attempt in `status`. A failed load changes nothing else: the
 * policy in force stays, and says so in the record.
 */
void policy_load_report(struct agent *a, const char *trigger, const char *source, int ret,
			const char *err, const uid_t *uid)
{
	struct last_load *l = &a->last_load;
	json_t *rec;

	audit_now_ts(l->ts, sizeof(l->ts));
	l->trigger = trigger;
	snprintf(l->source, sizeof(l->source), "%s", source ? source : "");
	snprintf(l->error, sizeof(l->error), "%s", ret ? err : "");
	l->ok = !ret;
	if (!ret) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		l->ok_at_ns = now.tv_sec * 1000000000LL + now.tv_nsec;
	}
	l->attempts++;
	if (ret)
		l->failures++;
	rec = json_pack("{s:s, s:s, s:s, s:s, s:I}", "event", "policy-load", "verdict",
			ret ? "deny" : "allow", "trigger", trigger, "source", l->source,
			"generation", (json_int_t)a->current.generation);
	if (rec && ret)
		json_object_set_new(rec, "error", json_string(err));
	if (rec && uid)
		json_object_set_new(rec, "uid", json_integer((json_int_t)*uid));
	audit_emit(a, rec);
}

json_t *policy_last_load(const struct agent *a)
{
	const struct last_load *l = &a->last_load;
	json_t *o;

	if (!l->attempts)
		return json_null();
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "ts", l->ts, "trigger", l->trigger,
		      "source", l->source, "result", l->ok ? "ok" : "failed", "attempts",
		      (json_int_t)l->attempts, "failures", (json_int_t)l->failures);
	if (o && !l->ok)
		json_object_set_new(o, "error", json_string(l->error));
	return o ? o : json_null();
}
