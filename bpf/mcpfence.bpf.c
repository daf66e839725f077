// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mcpfence kernel side.
 *
 * Process tags follow every descendant of a governed process (fork), are set
 * at exec for the executables the policy names, and die with the process
 * (exit). The cgroup socket hooks judge every outbound connect and datagram
 * of a tagged process against the ruleset its (identity, server) is bound to.
 *
 * Failure policy: a process without a tag is not ours and is let through
 * untouched. For a tagged process every missing piece (no policy, no
 * binding, no rule, no segment) is a denial.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "mcpfence.h"
#include "mcpfence_hash.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SIGKILL 9
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define PAGE_SIZE 4096

/* Socket options that change where a packet goes after its destination was judged. */
#define SOL_IP 0
#define SOL_IPV6 41
#define IP_OPTIONS 4	      /* IPv4 options: source routes (LSRR, SSRR) */
#define IPV6_2292RTHDR 5      /* RFC 2292 routing header */
#define IPV6_2292PKTOPTIONS 6 /* RFC 2292 sticky ancillary data (may hold a routing header) */
#define IPV6_RTHDR 57	      /* routing header */
/* Per-socket IPsec policies: a tunnel-mode template sends to its endpoint. */
#define IP_IPSEC_POLICY 16
#define IP_XFRM_POLICY 17
#define IPV6_IPSEC_POLICY 34
#define IPV6_XFRM_POLICY 35

/* Returned by cgroup sock hooks: 1 lets the call proceed, 0 fails it with EPERM. */
#define HOOK_ALLOW 1
#define HOOK_DENY 0

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Signals a task other than current: here, a child that must not run untagged. */
extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				__u64 value) __ksym;

/* Sized by the agent before load (to pid_max, so it cannot fill first). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_MAP_TAGS);
	__type(key, __u32); /* tgid */
	__type(value, struct mf_tag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tags SEC(".maps");

/*
 * One bit per pid, set before a tag is written under it (by the agent, and
 * at fork and exec here) and cleared at exit after the tag is gone. The
 * socket hooks run for every process of the host: for an ungoverned one the
 * clear bit answers in a load where the tag lookup (a hash lookup: ~110 ns
 * on the 2-vCPU VM, bench/README.md) would find nothing. Not pinned: a new
 * agent's programs start with tag_bits_ready 0 (every process looked up, as
 * before), and the agent sets it once its programs replaced any older ones
 * and the bits of the tags already there are set (tag_bits.c). A set bit
 * without a tag (a tag the agent took back) only costs the lookup.
 * Sized by the agent before load: pid_max / 64, rounded up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MF_MAP_TAGS / 64);
	__type(key, __u32);
	__type(value, __u64);
} tag_bits SEC(".maps");

volatile __u32 tag_bits_ready; /* written by the agent (.bss) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_MAP_EXEC_SERVERS);
	__type(key, struct mf_exec_key);
	__type(value, struct mf_exec_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} exec_servers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_MAP_EXEC_ARGS);
	__type(key, struct mf_exec_args_key);
	__type(value, struct mf_exec_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} exec_args SEC(".maps");

/* Scratch space for an interpreter's arguments (too large for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[MF_EXEC_ARGS_BYTES]);
} args_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mf_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mf_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32); /* slot */
	__type(value, struct mf_policy_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_MAP_BINDINGS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mf_binding_key);
	__type(value, struct mf_binding);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bindings SEC(".maps");

/* Both policy slots live here: sized for two full policies. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MF_MAP_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mf_rule_key);
	__type(value, __u32); /* segtabs id */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rules SEC(".maps");

/* Segment tables of the rules map's prefixes: written once, never changed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_MAP_SEGTABS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct mf_rule_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} segtabs SEC(".maps");

/* Names of ids, for the agent (and the agent after a restart). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_MAP_IDENTITY_NAMES);
	__type(key, __u32);
	__type(value, char[MF_NAME_MAX]);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} identity_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_MAP_SERVER_NAMES);
	__type(key, __u32);
	__type(value, char[MF_NAME_MAX]);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} server_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MF_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	/* 2 MiB: ~17,000 records of burst; the agent, woken every 64 KiB, reads
	 * about a million a second. Mapped into the agent, it counts in its RSS. */
	__uint(max_entries, 2 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

/*
 * Waking the agent for every record would cost a wakeup (irq_work, then an
 * IPI) per decision. Records are submitted without one until WAKEUP_BYTES
 * wait; then the agent is woken once (within a window of records, as several
 * CPUs may cross the mark together); a larger backlog means it is awake
 * already. Past half the ring every record wakes it again: those wakeups slow
 * the producers down, which is better than dropping their records. The agent
 * also reads on a timer (MF_AUDIT_POLL_MS) for what stays below the mark.
 */
#define WAKEUP_BYTES (64 << 10)
#define WAKEUP_WINDOW (64 * sizeof(struct mf_event))
#define WAKEUP_PRESSURE_BYTES (1 << 20)

static __always_inline void event_submit(void *e)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = (avail >= WAKEUP_BYTES && avail < WAKEUP_BYTES + WAKEUP_WINDOW) ||
				      avail >= WAKEUP_PRESSURE_BYTES ?
			      BPF_RB_FORCE_WAKEUP :
			      BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(e, flags);
}

static __always_inline void count_n(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	/* Cannot fail for an index below MF_CNT_MAX. */
	if (v)
		*v += n;
}

static __always_inline void count(__u32 idx)
{
	count_n(idx, 1);
}

/* Sockets a governed process created or used; inherited by accepted sockets
 * (BPF_F_CLONE). Only the egress program reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct mf_sock_mark);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sock_marks SEC(".maps");

/* The word of tag_bits that holds tgid's bit; NULL past the map's end. */
static __always_inline __u64 *tag_bit_word(__u32 tgid)
{
	__u32 word = tgid / 64;

	return bpf_map_lookup_elem(&tag_bits, &word);
}

/* Before the tag is written: a reader that finds the bit clear finds no tag. */
static __always_inline void tag_bit_set(__u32 tgid)
{
	__u64 *w = tag_bit_word(tgid);

	if (w)
		__sync_fetch_and_or(w, 1ull << (tgid % 64));
}

static __always_inline struct mf_tag *current_tag(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 *w;

	if (tag_bits_ready) {
		w = tag_bit_word(tgid);
		if (w && !(*w & (1ull << (tgid % 64))))
			return NULL; /* no tag: see tag_bits */
	}
	return bpf_map_lookup_elem(&tags, &tgid);
}

/* Reserve an audit record filled with the caller's identity, or count the drop. */
static __always_inline struct mf_event *event_start(const struct mf_tag *tag, __u8 type)
{
	struct mf_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!e) {
		count(MF_CNT_AUDIT_DROPPED);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->tgid = pid_tgid >> 32;
	e->pid = (__u32)pid_tgid;
	e->identity_id = tag->identity_id;
	e->server_id = tag->server_id;
	e->type = type;
	e->rule = MF_RULE_DEFAULT;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/* ---- process tags ---- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(mf_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid;
	__u32 child_tgid = child->tgid;
	struct mf_tag *tag;

	/* A new thread shares the tgid, and so the tag. */
	if (child_tgid == parent_tgid)
		return 0;
	tag = bpf_map_lookup_elem(&tags, &parent_tgid);
	if (!tag) {
		/* Parent ungoverned: so is the child. An entry under its pid is
		 * stale (a tag that landed after its process died) and must not
		 * govern, or be mistaken for, this new process. */
		if (bpf_map_delete_elem(&tags, &child_tgid) == 0)
			count(MF_CNT_TAG_STALE);
		return 0;
	}
	tag_bit_set(child_tgid);
	if (bpf_map_update_elem(&tags, &child_tgid, tag, BPF_ANY)) {
		/* The child would run ungoverned (the map is sized to pid_max, so
		 * only a raised pid_max gets here): it is killed before it runs. */
		struct mf_event *e = event_start(tag, MF_EV_TAG_LOST);

		count(MF_CNT_TAG_FAILED);
		if (e) {
			e->verdict = MF_DENY;
			e->aux = child_tgid;
			event_submit(e);
		}
		bpf_send_signal_task(child, SIGKILL, PIDTYPE_TGID, 0);
		return 0;
	}
	count(MF_CNT_TAG_INHERITED);
	/* The agent detaches the syscall tracepoints once no such tag is left;
	 * this count tells it that one appeared while it was looking. */
	if (tag->flags & (MF_TAG_EXEC | MF_TAG_UNHARDENED))
		count(MF_CNT_TAG_UNHARDENED);
	return 0;
}

/*
 * An interpreter (node, python) is a server only with the right arguments:
 * hash argv[1], argv[1..2], ... (up to MF_EXEC_ARGS_MAX) as userspace does
 * and look each prefix up; the longest that matches names the server. The
 * argument strings were just copied into the new program's stack by exec,
 * so reading them cannot fault.
 */
static __always_inline __u32 match_args(struct task_struct *task, const struct mf_exec_key *exe)
{
	struct mf_exec_args_key akey = { .ino = exe->ino, .dev = exe->dev };
	unsigned long start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long end = BPF_CORE_READ(task, mm, arg_end);
	__u64 hash = MF_FNV1A_INIT;
	struct mf_exec_val *val;
	__u32 zero = 0, server = 0, len;
	bool in_args = false;
	char *buf;

	buf = bpf_map_lookup_elem(&args_scratch, &zero);
	if (!buf || end <= start)
		return 0; /* no arguments to match: not this server */
	len = end - start > MF_EXEC_ARGS_BYTES ? MF_EXEC_ARGS_BYTES : end - start;
	if (bpf_probe_read_user(buf, len, (void *)start))
		return 0;
	for (__u32 i = 0; i < MF_EXEC_ARGS_BYTES; i++) {
		unsigned char c;

		if (i >= len)
			break;
		c = buf[i];
		if (!in_args) {
			in_args = c == 0; /* argv[0] ends here */
			continue;
		}
		hash = mf_fnv1a_byte(hash, c);
		if (c)
			continue;
		akey.nargs++;
		akey.hash = hash;
		val = bpf_map_lookup_elem(&exec_args, &akey);
		if (val)
			server = val->server_id;
		if (akey.nargs == MF_EXEC_ARGS_MAX)
			break;
	}
	return server;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(mf_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task->tgid;
	struct mf_exec_key key = {};
	struct mf_exec_val *server;
	struct mf_tag tag = {};
	struct inode *inode;
	struct mf_event *e;

	/* Already governed: the tag stays as it is, whatever is executed. */
	if (bpf_map_lookup_elem(&tags, &tgid))
		return 0;
	inode = BPF_CORE_READ(bprm, file, f_inode);
	if (!inode)
		return 0;
	key.ino = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	server = bpf_map_lookup_elem(&exec_servers, &key);
	if (!server)
		return 0;
	tag.server_id = server->server_id;
	if (server->flags & MF_EXEC_MATCH_ARGS)
		tag.server_id = match_args(task, &key);
	if (!tag.server_id)
		return 0;
	tag.identity_id = MF_UID_IDENTITY | (__u32)bpf_get_current_uid_gid();
	tag.flags = MF_TAG_EXEC;
	tag_bit_set(tgid);
	if (bpf_map_update_elem(&tags, &tgid, &tag, BPF_NOEXIST)) {
		count(MF_CNT_TAG_FAILED);
		e = event_start(&tag, MF_EV_TAG_LOST);
		if (e) {
			e->verdict = MF_DENY;
			event_submit(e);
		}
		/* Runs before the new program's first instruction: it never starts. */
		bpf_send_signal(SIGKILL);
		return 0;
	}
	count(MF_CNT_TAG_EXEC);
	e = event_start(&tag, MF_EV_TAG_EXEC);
	if (e) {
		e->verdict = MF_ALLOW;
		event_submit(e);
	}
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(mf_exit, struct task_struct *task, bool group_dead)
{
	__u32 tgid = task->tgid;

	__u64 *w;

	/* The tag lives until the last thread of the process is gone. Its bit
	 * goes after it: the pid is not handed out again before this returns. */
	if (group_dead) {
		bpf_map_delete_elem(&tags, &tgid);
		w = tag_bit_word(tgid);
		if (w)
			__sync_fetch_and_and(w, ~(1ull << (tgid % 64)));
	}
	return 0;
}

/* ---- names: maps of the resolver of governed processes (see mcpfence.h) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mf_dns_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dns_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MF_DNS_CLIENTS);
	__type(key, struct mf_dns_client_key);
	__type(value, struct mf_dns_client);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dns_clients SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_LEARNED_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mf_learned_key);
	__type(value, struct mf_learned_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dns_learned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mf_dns_orig);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} dns_orig SEC(".maps");

/* ---- egress verdicts ---- */

/* ---- audit by flow (see struct mf_flow in mcpfence.h) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_FLOWS_MAX);
	__type(key, struct mf_flow_key);
	__type(value, struct mf_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mf_flow_sweep);
} flow_sweep_arg SEC(".maps");

static __always_inline bool same_flow(const struct mf_flow_key *a, const struct mf_flow_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	for (int i = 0; i < sizeof(*a) / 4; i++) {
		if (x[i] != y[i])
			return false;
	}
	return true;
}

/* One decision's record: alone (aux 0) or a flow's first (MF_FLOW_FIRST). */
static __always_inline void flow_record(const struct mf_tag *tag, const struct mf_flow_key *k,
					__u16 rule, __u32 generation, __u32 aux)
{
	struct mf_event *e = event_start(tag, k->type);

	if (!e)
		return; /* counted in audit_dropped */
	e->generation = generation;
	e->rule = rule;
	e->verdict = k->verdict;
	e->family = k->family;
	e->proto = k->proto;
	e->port = k->port;
	__builtin_memcpy(e->addr, k->addr, sizeof(e->addr));
	e->aux = aux | k->via;
	event_submit(e);
}

/* A window's summary: its n decisions after the first. Not in the ring:
 * they are counted in audit_dropped, so that every decision is accounted. */
static __always_inline void flow_summary(const struct mf_flow_key *k, const struct mf_flow *w,
					 __u32 n, __u64 since)
{
	struct mf_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_n(MF_CNT_AUDIT_DROPPED, n);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = since;
	e->tgid = k->tgid;
	e->pid = w->pid;
	e->identity_id = k->identity_id;
	e->server_id = k->server_id;
	e->generation = w->generation;
	e->rule = w->rule;
	e->type = k->type;
	e->verdict = k->verdict;
	e->family = k->family;
	e->proto = k->proto;
	e->port = k->port;
	__builtin_memcpy(e->addr, k->addr, sizeof(e->addr));
	__builtin_memcpy(e->comm, w->comm, sizeof(e->comm));
	e->aux = MF_FLOW_SUMMARY | k->via;
	e->count = n;
	event_submit(e);
}

/* The clock of flow windows (mcpfence.h, opened_ms). On this 2-vCPU VM
 * bpf_ktime_get_boot_ns costs about 60 ns a call, the coarse clock a few:
 * a repeat of a flow reads only this one. */
static __always_inline __u32 window_clock_ms(void)
{
	return bpf_ktime_get_coarse_ns() / 1000000;
}

/* The window's fields a summary names, copied under the flow's lock. */
static __always_inline void flow_window(struct mf_flow *to, const struct mf_flow *from)
{
	to->pid = from->pid;
	to->generation = from->generation;
	to->rule = from->rule;
	__builtin_memcpy(to->comm, from->comm, sizeof(to->comm));
}

/*
 * Record a decision by flow: the first of a window now, the others counted
 * in the flow and summarized when the window is over. A flow the agent is
 * deleting (dead), or whose element was reused for another flow since the
 * lookup (the key is copied last, so a matching key means a whole value),
 * and any decision past a full map, are recorded alone.
 */
static __always_inline void audit_decision(const struct mf_tag *tag, struct mf_flow_key *k,
					   __u16 rule, __u32 generation, __u32 flags,
					   __u32 window_ms)
{
	__u64 now = 0, since, id = bpf_get_current_pid_tgid();
	struct mf_flow *f, w = {};
	__u32 repeats, now_ms;

	k->tgid = id >> 32;
	k->identity_id = tag->identity_id;
	k->server_id = tag->server_id;
	if (!window_ms || (k->verdict == MF_ALLOW && (flags & MF_POLICY_AUDIT_EACH))) {
		flow_record(tag, k, rule, generation, 0);
		return;
	}
	now_ms = window_clock_ms();
	f = bpf_map_lookup_elem(&flows, k);
	if (f) {
		/* A window that looks over (read without the lock: opened_ms only
		 * grows) is reopened with the time of its first record, read now:
		 * no call may be made under the lock. */
		if (now_ms - f->opened_ms >= window_ms)
			now = bpf_ktime_get_boot_ns();
		bpf_spin_lock(&f->lock);
		if (f->dead || !same_flow(&f->key, k)) {
			bpf_spin_unlock(&f->lock);
			flow_record(tag, k, rule, generation, 0);
			return;
		}
		if (!now || now_ms - f->opened_ms < window_ms) {
			f->count++;
			bpf_spin_unlock(&f->lock);
			return;
		}
		/* The window is over: its summary, and this decision opens the
		 * next (the process's comm is kept: no call under the lock). */
		repeats = f->count;
		since = f->start_ns;
		flow_window(&w, f);
		f->count = 0;
		f->start_ns = now;
		f->opened_ms = now_ms;
		f->pid = (__u32)id;
		f->generation = generation;
		f->rule = rule;
		bpf_spin_unlock(&f->lock);
		if (repeats)
			flow_summary(k, &w, repeats, since);
		flow_record(tag, k, rule, generation, MF_FLOW_FIRST);
		return;
	}
	w.start_ns = bpf_ktime_get_boot_ns();
	w.opened_ms = now_ms;
	w.pid = (__u32)id;
	w.generation = generation;
	w.rule = rule;
	bpf_get_current_comm(w.comm, sizeof(w.comm));
	__builtin_memcpy(&w.key, k, sizeof(w.key));
	/* -E2BIG (7): full. -EEXIST: another CPU opened it just now, and this
	 * is a first as well. */
	if (bpf_map_update_elem(&flows, k, &w, BPF_NOEXIST) == -7) {
		count(MF_CNT_FLOWS_FULL);
		flow_record(tag, k, rule, generation, 0);
		return;
	}
	flow_record(tag, k, rule, generation, MF_FLOW_FIRST);
}

/*
 * Run by the agent (BPF_PROG_TEST_RUN) for a flow whose window is over and
 * whose traffic stopped: its summary, or, with nothing to summarize, the
 * flow's removal. Returns the count summarized.
 */
/* A tc program: socket filters may not take spin locks; never attached. */
SEC("tc")
int mf_flow_sweep(struct __sk_buff *skb)
{
	struct mf_flow_sweep *arg;
	struct mf_flow *f, w = {};
	__u32 zero = 0, repeats, now_ms, window_ms;
	__u64 since;

	arg = bpf_map_lookup_elem(&flow_sweep_arg, &zero);
	if (!arg)
		return 0; /* cannot happen for an array */
	window_ms = arg->window_ns / 1000000;
	f = bpf_map_lookup_elem(&flows, &arg->key);
	if (!f)
		return 0;	    /* gone since the agent looked */
	now_ms = window_clock_ms(); /* no call while the lock is held */
	bpf_spin_lock(&f->lock);
	if (f->dead || now_ms - f->opened_ms < window_ms) {
		bpf_spin_unlock(&f->lock);
		return 0; /* a new window opened since */
	}
	repeats = f->count;
	since = f->start_ns;
	f->count = 0;
	flow_window(&w, f);
	if (!repeats)
		f->dead = 1;
	bpf_spin_unlock(&f->lock);
	if (!repeats) {
		bpf_map_delete_elem(&flows, &arg->key);
		return 0;
	}
	flow_summary(&arg->key, &w, repeats, since);
	return repeats;
}

struct dest {
	__u8 family;
	__u8 proto_bit;
	__u16 port;
	__u8 addr[16];
};

/*
 * An address learned from a name this (identity, server) resolved (written
 * by the agent before it released the answer) allows what its segments say,
 * while it has not expired and the policy that granted the name is in force.
 * Anything else leaves the denial as it is (closed).
 */
static __always_inline bool learned_allows(const struct mf_tag *tag, const struct dest *d,
					   __u32 generation, __u16 *rule)
{
	struct mf_learned_key key = {
		.identity_id = tag->identity_id,
		.server_id = tag->server_id,
		.family = d->family,
	};
	struct mf_learned_val *val;

	__builtin_memcpy(key.addr, d->addr, sizeof(key.addr));
	val = bpf_map_lookup_elem(&dns_learned, &key);
	if (!val) {
		/* Names of /etc/hosts that "*" rules grant: every identity's (no
		 * query ever installs under this identity). */
		key.identity_id = MF_ANY_IDENTITY;
		val = bpf_map_lookup_elem(&dns_learned, &key);
	}
	if (!val || (val->generation != generation && val->generation_next != generation) ||
	    val->expires_ns <= bpf_ktime_get_boot_ns())
		return false; /* nothing learned, another policy's, or expired: closed */
	for (int i = 0; i < MF_LEARNED_SEGS; i++) {
		struct mf_seg *seg = &val->segs[i];

		if (i >= val->nsegs)
			break;
		if ((seg->protos & d->proto_bit) && d->port >= seg->lo && d->port <= seg->hi) {
			*rule = seg->rule;
			return true;
		}
	}
	return false;
}

/* Decide for a governed process. Every lookup that fails denies. */
static __always_inline int judge(const struct mf_tag *tag, struct dest *d, __u8 proto, __u8 type)
{
	struct mf_binding_key bkey = {};
	struct mf_rule_key rkey = {};
	struct mf_policy_cfg *pcfg;
	struct mf_binding *binding;
	struct mf_rule_val *val;
	struct mf_config *cfg;
	__u32 *segtab;
	__u32 zero = 0, slot, flags = 0, generation = 0, window_ms = 0;
	__u8 verdict = MF_DENY;
	__u16 rule = MF_RULE_DEFAULT;
	struct mf_flow_key flow = {};
	__u16 via = 0;

	cfg = bpf_map_lookup_elem(&mf_config, &zero);
	if (!cfg)
		goto decided; /* cannot happen for an array; closed */
	slot = cfg->active_slot & 1;
	pcfg = bpf_map_lookup_elem(&policy_cfg, &slot);
	if (!pcfg || !(pcfg->flags & MF_POLICY_LOADED))
		goto decided; /* no policy yet: closed */
	flags = pcfg->flags;
	generation = pcfg->generation;
	window_ms = pcfg->flow_window_ms;
	if (!d->proto_bit)
		goto decided; /* a protocol no rule can name: closed */

	bkey.slot = slot;
	bkey.identity_id = tag->identity_id;
	bkey.server_id = tag->server_id;
	binding = bpf_map_lookup_elem(&bindings, &bkey);
	if (!binding) {
		bkey.identity_id = MF_ANY_IDENTITY;
		binding = bpf_map_lookup_elem(&bindings, &bkey);
	}
	if (!binding)
		goto learned; /* no prefix granted to this identity on this server: closed */

	rkey.prefixlen = MF_RULE_KEY_FIXED_BITS + (d->family == MF_FAMILY_V4 ? 32 : 128);
	rkey.ruleset_id = binding->ruleset_id;
	rkey.family = d->family;
	__builtin_memcpy(rkey.addr, d->addr, sizeof(rkey.addr));
	segtab = bpf_map_lookup_elem(&rules, &rkey);
	if (!segtab)
		goto learned; /* no prefix holds the address: closed */
	val = bpf_map_lookup_elem(&segtabs, segtab);
	if (!val)
		goto decided; /* a table the agent has not written: closed */

	for (int i = 0; i < MF_MAX_SEGS; i++) {
		struct mf_seg *seg;

		if (i >= val->nsegs)
			break;
		seg = &val->segs[i];
		if ((seg->protos & d->proto_bit) && d->port >= seg->lo && d->port <= seg->hi) {
			verdict = seg->verdict == MF_ALLOW ? MF_ALLOW : MF_DENY;
			rule = seg->rule;
			break;
		}
	}

learned:
	/* Names: only where the prefixes gave no allow and no explicit deny (an
	 * explicit deny of the rule set wins over an address learned from a name). */
	if (verdict == MF_DENY && rule == MF_RULE_DEFAULT &&
	    learned_allows(tag, d, generation, &rule)) {
		verdict = MF_ALLOW;
		via = MF_AUX_VIA_NAME;
		count(MF_CNT_LEARNED_ALLOWED);
	}
decided:
	if (verdict == MF_DENY && (flags & MF_POLICY_AUDIT_ONLY))
		verdict = MF_WOULD_DENY;
	count(verdict == MF_ALLOW ? MF_CNT_ALLOWED :
				    (verdict == MF_DENY ? MF_CNT_DENIED : MF_CNT_WOULD_DENY));
	if (verdict != MF_ALLOW || (flags & MF_POLICY_AUDIT_ALLOWED)) {
		flow.type = type;
		flow.verdict = verdict;
		flow.family = d->family;
		flow.proto = proto;
		flow.port = d->port;
		flow.via = via;
		__builtin_memcpy(flow.addr, d->addr, sizeof(flow.addr));
		audit_decision(tag, &flow, rule, generation, flags, window_ms);
	}
	return verdict == MF_DENY ? HOOK_DENY : HOOK_ALLOW;
}

static __always_inline __u8 proto_bit(__u32 protocol)
{
	if (protocol == IPPROTO_TCP)
		return MF_PROTO_TCP;
	if (protocol == IPPROTO_UDP)
		return MF_PROTO_UDP;
	return 0;
}

/* 0.0.0.0 as a destination is this host: judge it as 127.0.0.1. */
static __always_inline void dest_v4(struct dest *d, __u32 ip4_be)
{
	if (ip4_be == 0)
		ip4_be = bpf_htonl(0x7f000001);
	d->family = MF_FAMILY_V4;
	__builtin_memcpy(d->addr, &ip4_be, 4);
}

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) reaches IPv4 a.b.c.d: judge it as IPv4.
 * :: as a destination is this host: judge it as ::1. */
static __always_inline void dest_v6(struct dest *d, struct bpf_sock_addr *ctx)
{
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
	__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];

	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0x0000ffff)) {
		dest_v4(d, w3);
		return;
	}
	if ((w0 | w1 | w2 | w3) == 0)
		w3 = bpf_htonl(1);
	d->family = MF_FAMILY_V6;
	__builtin_memcpy(&d->addr[0], &w0, 4);
	__builtin_memcpy(&d->addr[4], &w1, 4);
	__builtin_memcpy(&d->addr[8], &w2, 4);
	__builtin_memcpy(&d->addr[12], &w3, 4);
}

/*
 * Mark a governed process's socket for the egress program. The storage is
 * created only if absent: the first governed user names the socket. When it
 * cannot be created (no memory) the caller denies: an unmarked socket would
 * escape the egress check (closed). sk: a sock_addr program's ctx->sk, or
 * cgroup/sock_create's ctx itself (the helper takes either there).
 */
static __always_inline bool mark_sock(struct bpf_sock *sk, const struct mf_tag *tag)
{
	struct mf_sock_mark init = {
		.identity_id = tag->identity_id,
		.server_id = tag->server_id,
		.tgid = bpf_get_current_pid_tgid() >> 32,
	};

	if (bpf_sk_storage_get(&sock_marks, sk, &init, BPF_SK_STORAGE_GET_F_CREATE))
		return true;
	count(MF_CNT_DENIED);
	return false;
}

/* ---- names: port-53 traffic of governed processes goes to the agent ---- */

#define LOOPBACK4 0x7f000001

/* Who asked, by the source port the resolver will see. */
static __always_inline void dns_record(__u16 port, __u8 proto, __u8 family, __u32 identity_id,
				       __u32 server_id, __u32 tgid, const struct mf_dns_orig *orig)
{
	struct mf_dns_client_key key = { .port = port, .proto = proto, .family = family };
	struct mf_dns_client val = {
		.identity_id = identity_id,
		.server_id = server_id,
		.tgid = tgid,
		.orig = *orig,
	};

	/* LRU: never full. A failure leaves the query unattributed, and the
	 * resolver refuses what it cannot attribute (closed). */
	bpf_map_update_elem(&dns_clients, &key, &val, BPF_ANY);
}

/*
 * Send a governed process's port-53 connect or datagram to the agent's
 * resolver: orig is the server it meant; the resolver's IPv4 socket is
 * reached from an AF_INET socket or for ::ffff:a.b.c.d from an AF_INET6 one.
 * Returns the resolver's port to write into the address, 0 to refuse: no
 * resolver serving, or no memory for the socket's storage (closed). The
 * rewritten destination is not judged: it is the resolver, which judges
 * the query.
 */
static __always_inline __u16 dns_target(struct bpf_sock_addr *ctx, const struct mf_tag *tag,
					const struct mf_dns_orig *orig, __u8 type)
{
	bool v4 = orig->family == MF_FAMILY_V4, udp = ctx->protocol == IPPROTO_UDP;
	struct mf_dns_orig *stored;
	struct mf_dns_cfg *cfg;
	__u32 zero = 0;
	__u16 port = 0;

	cfg = bpf_map_lookup_elem(&dns_cfg, &zero);
	if (cfg)
		port = udp ? (v4 ? cfg->udp4 : cfg->udp6) : (v4 ? cfg->tcp4 : cfg->tcp6);
	stored = bpf_sk_storage_get(&dns_orig, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!port || !stored) {
		count(MF_CNT_DNS_NO_RESOLVER);
		return 0;
	}
	*stored = *orig;
	/* sendmsg: the source port is bound already. A connect binds it after
	 * this hook: the egress program records it (dns_record_egress). */
	if (type == MF_EV_SENDMSG && ctx->sk->src_port)
		dns_record(ctx->sk->src_port, IPPROTO_UDP, v4 ? MF_FAMILY_V4 : MF_FAMILY_V6,
			   tag->identity_id, tag->server_id, bpf_get_current_pid_tgid() >> 32,
			   orig);
	count(MF_CNT_DNS_REDIRECTED);
	return port;
}

/* connect4/sendmsg4 (the program may write only user_ip4 and user_port) */
static __always_inline int dns_redirect4(struct bpf_sock_addr *ctx, const struct mf_tag *tag,
					 __u8 type)
{
	struct mf_dns_orig orig = { .family = MF_FAMILY_V4, .port = ctx->user_port };
	__u16 port;

	orig.addr[0] = ctx->user_ip4;
	port = dns_target(ctx, tag, &orig, type);
	if (!port)
		return HOOK_DENY;
	ctx->user_ip4 = bpf_htonl(LOOPBACK4);
	ctx->user_port = bpf_htons(port);
	return HOOK_ALLOW;
}

/* connect6/sendmsg6: ::ffff:a.b.c.d goes to ::ffff:127.0.0.1, others to ::1 */
static __always_inline int dns_redirect6(struct bpf_sock_addr *ctx, const struct mf_tag *tag,
					 const struct dest *d, __u8 type)
{
	struct mf_dns_orig orig = { .family = d->family, .port = ctx->user_port };
	__u16 port;

	__builtin_memcpy(orig.addr, d->addr, sizeof(orig.addr));
	port = dns_target(ctx, tag, &orig, type);
	if (!port)
		return HOOK_DENY;
	ctx->user_ip6[0] = 0;
	ctx->user_ip6[1] = 0;
	ctx->user_ip6[2] = d->family == MF_FAMILY_V4 ? bpf_htonl(0x0000ffff) : 0;
	ctx->user_ip6[3] = d->family == MF_FAMILY_V4 ? bpf_htonl(LOOPBACK4) : bpf_htonl(1);
	ctx->user_port = bpf_htons(port);
	return HOOK_ALLOW;
}

/*
 * A redirected socket sending to the resolver once more: a connected AF_INET6
 * socket to ::ffff:a.b.c.d sends each datagram through the IPv4 path, which
 * passes the sendmsg4 hook with the (rewritten) connected address. Only
 * sockets the redirect marked pass here; the resolver judges the query. The
 * sender is recorded now, under its own tag, before the datagram leaves:
 * otherwise its source port would be looked up as whoever used it last (a
 * socket disconnected and sent straight here once took another identity's
 * grants that way). A connect is recorded at egress, as any connected one.
 */
static __always_inline int dns_resolver_again(struct bpf_sock_addr *ctx, const struct dest *d,
					      const struct mf_tag *tag, __u8 type)
{
	struct mf_dns_orig *orig;
	struct mf_dns_cfg *cfg;
	__u32 zero = 0;

	if (d->family != MF_FAMILY_V4 || d->addr[0] != 127 || d->addr[1] || d->addr[2] ||
	    d->addr[3] != 1 || ctx->protocol != IPPROTO_UDP)
		return -1;
	cfg = bpf_map_lookup_elem(&dns_cfg, &zero);
	if (!cfg || !cfg->udp4 || d->port != cfg->udp4)
		return -1; /* not the resolver: judged as any destination */
	orig = bpf_sk_storage_get(&dns_orig, ctx->sk, 0, 0);
	if (!orig)
		return -1; /* not a redirected socket: judged as any destination */
	if (type == MF_EV_SENDMSG) {
		if (!ctx->sk->src_port)
			return HOOK_DENY; /* no port to record it by: closed */
		dns_record(ctx->sk->src_port, IPPROTO_UDP, MF_FAMILY_V4, tag->identity_id,
			   tag->server_id, bpf_get_current_pid_tgid() >> 32, orig);
	}
	return HOOK_ALLOW;
}

/* Port-53 traffic the resolver takes: UDP datagrams and connects, TCP connects. */
static __always_inline bool dns_traffic(struct bpf_sock_addr *ctx, const struct dest *d)
{
	return d->port == MF_DNS_PORT &&
	       (ctx->protocol == IPPROTO_UDP || (ctx->protocol == IPPROTO_TCP && d->proto_bit));
}

/*
 * The reply of a redirected socket comes from the resolver: it gets the
 * address of the server the process meant, so that the exchange looks
 * ordinary (resolvers check where the answer came from). Only sockets that
 * were redirected carry dns_orig. recvmsg cannot be refused: always 1.
 */
SEC("cgroup/recvmsg4")
int mf_recvmsg4(struct bpf_sock_addr *ctx)
{
	struct mf_dns_orig *orig;
	struct mf_dns_cfg *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&dns_cfg, &zero);
	if (!cfg || !cfg->udp4 || ctx->user_port != bpf_htons(cfg->udp4) ||
	    ctx->user_ip4 != bpf_htonl(LOOPBACK4))
		return 1; /* not from the resolver: not ours */
	orig = bpf_sk_storage_get(&dns_orig, ctx->sk, 0, 0);
	if (!orig || orig->family != MF_FAMILY_V4)
		return 1; /* not a redirected socket: not ours */
	ctx->user_ip4 = orig->addr[0];
	ctx->user_port = orig->port;
	return 1;
}

SEC("cgroup/recvmsg6")
int mf_recvmsg6(struct bpf_sock_addr *ctx)
{
	__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
	struct mf_dns_orig *orig;
	struct mf_dns_cfg *cfg;
	__u32 zero = 0;
	__u8 family;

	cfg = bpf_map_lookup_elem(&dns_cfg, &zero);
	if (!cfg || ctx->user_ip6[0] || ctx->user_ip6[1])
		return 1;
	if (cfg->udp4 && ctx->user_port == bpf_htons(cfg->udp4) && w2 == bpf_htonl(0x0000ffff) &&
	    w3 == bpf_htonl(LOOPBACK4))
		family = MF_FAMILY_V4; /* ::ffff:127.0.0.1 */
	else if (cfg->udp6 && ctx->user_port == bpf_htons(cfg->udp6) && !w2 && w3 == bpf_htonl(1))
		family = MF_FAMILY_V6; /* ::1 */
	else
		return 1; /* not from the resolver: not ours */
	orig = bpf_sk_storage_get(&dns_orig, ctx->sk, 0, 0);
	if (!orig || orig->family != family)
		return 1; /* not a redirected socket: not ours */
	if (family == MF_FAMILY_V4) {
		ctx->user_ip6[3] = orig->addr[0];
	} else {
		ctx->user_ip6[0] = orig->addr[0];
		ctx->user_ip6[1] = orig->addr[1];
		ctx->user_ip6[2] = orig->addr[2];
		ctx->user_ip6[3] = orig->addr[3];
	}
	ctx->user_port = orig->port;
	return 1;
}

/*
 * A connected redirected socket (UDP connect, TCP) got its source port after
 * the connect hook: its packets to the resolver record it, before the
 * resolver can read them. Others pay a port comparison.
 */
static __always_inline void dns_record_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct mf_sock_mark *mark;
	struct mf_dns_orig *orig;
	struct mf_dns_cfg *cfg;
	__u32 zero = 0;
	__u16 dport;

	if (!sk)
		return;
	dport = bpf_ntohs(sk->dst_port);
	if (!dport)
		return; /* not connected */
	cfg = bpf_map_lookup_elem(&dns_cfg, &zero);
	if (!cfg ||
	    (dport != cfg->udp4 && dport != cfg->udp6 && dport != cfg->tcp4 && dport != cfg->tcp6))
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return;
	mark = bpf_sk_storage_get(&sock_marks, sk, 0, 0);
	orig = bpf_sk_storage_get(&dns_orig, sk, 0, 0);
	if (!mark || !orig)
		return; /* not a governed, redirected socket: the resolver refuses it */
	dns_record(sk->src_port, sk->protocol,
		   skb->protocol == bpf_htons(ETH_P_IP) ? MF_FAMILY_V4 : MF_FAMILY_V6,
		   mark->identity_id, mark->server_id, mark->tgid, orig);
}

static __always_inline int sock_addr4(struct bpf_sock_addr *ctx, __u8 type)
{
	struct mf_tag *tag = current_tag();
	struct dest d = {};
	int again;

	if (!tag)
		return HOOK_ALLOW; /* ungoverned: not ours */
	/* A socket may come from elsewhere (inherited, passed over SCM_RIGHTS). */
	if (!mark_sock(ctx->sk, tag))
		return HOOK_DENY;
	dest_v4(&d, ctx->user_ip4);
	d.port = bpf_ntohs((__u16)ctx->user_port);
	d.proto_bit = proto_bit(ctx->protocol);
	if (dns_traffic(ctx, &d))
		return dns_redirect4(ctx, tag, type);
	again = dns_resolver_again(ctx, &d, tag, type);
	if (again >= 0)
		return again;
	return judge(tag, &d, ctx->protocol, type);
}

static __always_inline int sock_addr6(struct bpf_sock_addr *ctx, __u8 type)
{
	struct mf_tag *tag = current_tag();
	struct dest d = {};

	if (!tag)
		return HOOK_ALLOW; /* ungoverned: not ours */
	if (!mark_sock(ctx->sk, tag))
		return HOOK_DENY;
	dest_v6(&d, ctx);
	d.port = bpf_ntohs((__u16)ctx->user_port);
	d.proto_bit = proto_bit(ctx->protocol);
	if (dns_traffic(ctx, &d))
		return dns_redirect6(ctx, tag, &d, type); /* ::ffff:a.b.c.d as a.b.c.d */
	return judge(tag, &d, ctx->protocol, type);
}

SEC("cgroup/connect4")
int mf_connect4(struct bpf_sock_addr *ctx)
{
	return sock_addr4(ctx, MF_EV_CONNECT);
}

SEC("cgroup/connect6")
int mf_connect6(struct bpf_sock_addr *ctx)
{
	return sock_addr6(ctx, MF_EV_CONNECT);
}

SEC("cgroup/sendmsg4")
int mf_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_addr4(ctx, MF_EV_SENDMSG);
}

SEC("cgroup/sendmsg6")
int mf_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_addr6(ctx, MF_EV_SENDMSG);
}

/*
 * Only TCP stream and UDP datagram sockets pass through the connect and
 * sendmsg hooks in a form we judge; raw, ICMP, SCTP, MPTCP, UDP-Lite... are
 * refused to governed processes at creation (inet sockets only reach here).
 */
SEC("cgroup/sock_create")
int mf_sock_create(struct bpf_sock *ctx)
{
	struct mf_tag *tag = current_tag();
	struct mf_event *e;

	if (!tag)
		return HOOK_ALLOW; /* ungoverned: not ours */
	if ((ctx->type == SOCK_STREAM && ctx->protocol == IPPROTO_TCP) ||
	    (ctx->type == SOCK_DGRAM && ctx->protocol == IPPROTO_UDP))
		return mark_sock(ctx, tag) ? HOOK_ALLOW : HOOK_DENY;
	count(MF_CNT_SOCKET_REFUSED);
	e = event_start(tag, MF_EV_SOCKET);
	if (e) {
		e->verdict = MF_DENY;
		e->family = ctx->family;
		e->proto = ctx->protocol;
		e->aux = ctx->type;
		event_submit(e);
	}
	return HOOK_DENY;
}

/* ---- the packet goes where the verdict said ---- */

static __always_inline bool reroutes(int level, int optname)
{
	if (level == SOL_IP)
		return optname == IP_OPTIONS || optname == IP_IPSEC_POLICY ||
		       optname == IP_XFRM_POLICY;
	if (level == SOL_IPV6)
		return optname == IPV6_RTHDR || optname == IPV6_2292RTHDR ||
		       optname == IPV6_2292PKTOPTIONS || optname == IPV6_IPSEC_POLICY ||
		       optname == IPV6_XFRM_POLICY;
	return false;
}

/*
 * A source route (IPv4 LSRR/SSRR options, an IPv6 routing header) makes the
 * kernel send to its first hop instead of the destination the connect and
 * sendmsg hooks approved; a per-socket IPsec policy in tunnel mode sends to
 * its tunnel's endpoint. The socket options that set them are refused to
 * governed processes here; the same routes given as ancillary data of one
 * sendmsg, and options set where this hook did not run (before the process
 * was governed, or by another process), are caught at egress (mf_egress). A
 * 32-bit setsockopt skips this hook too: it kills (seccomp, mf_sys_enter).
 * Others pay two comparisons.
 */
SEC("cgroup/setsockopt")
int mf_setsockopt(struct bpf_sockopt *ctx)
{
	struct mf_tag *tag;
	struct mf_event *e;

	if (!reroutes(ctx->level, ctx->optname))
		goto allow;
	tag = current_tag();
	if (!tag)
		goto allow; /* ungoverned: not ours */
	count(MF_CNT_SOCKOPT_REFUSED);
	e = event_start(tag, MF_EV_SOCKOPT);
	if (e) {
		e->verdict = MF_DENY;
		e->proto = ctx->level;
		e->aux = ctx->optname;
		event_submit(e);
	}
	return HOOK_DENY;
allow:
	/* The program sees only the first page of a larger value: optlen 0
	 * tells the kernel to use the caller's whole value, untouched
	 * (Documentation/bpf/prog_cgroup_sockopt.rst). */
	if (ctx->optlen > PAGE_SIZE)
		ctx->optlen = 0;
	return HOOK_ALLOW;
}

#define IPV4_OPT_LSRR 0x83
#define IPV4_OPT_SSRR 0x89
#define IPV4_OPT_MAX 40
#define IPV6_EXT_MAX 8 /* extension headers walked before giving up (closed) */
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60
#define SRC_ROUTE_BAD 0xff /* aux of a header that could not be parsed */

struct ipv4_opts {
	__u8 opt[IPV4_OPT_MAX];
	__u32 len;
	__u32 off;
	__u32 found;
};

/* One option per call of bpf_loop (verified once, whatever the layout). */
static long ipv4_opt_step(__u64 index, void *data)
{
	struct ipv4_opts *o = data;
	__u32 off = o->off;
	__u8 type, len;

	if (off >= o->len || off >= IPV4_OPT_MAX)
		return 1;
	type = o->opt[off];
	if (type == 0)
		return 1; /* end of options */
	if (type == 1) {
		o->off = off + 1; /* no-op */
		return 0;
	}
	if (type == IPV4_OPT_LSRR || type == IPV4_OPT_SSRR) {
		o->found = type;
		return 1;
	}
	if (off + 1 >= o->len || off + 1 >= IPV4_OPT_MAX) {
		o->found = SRC_ROUTE_BAD;
		return 1;
	}
	len = o->opt[off + 1];
	if (len < 2) {
		o->found = SRC_ROUTE_BAD;
		return 1;
	}
	o->off = off + len;
	return 0;
}

/* Returns the source-route option type found, 0 for none, SRC_ROUTE_BAD
 * for options that do not parse. Other options (record route, timestamps,
 * security labels) do not change where the packet goes: they pass. */
static __always_inline __u32 ipv4_source_route(struct __sk_buff *skb, __u8 *proto, __u8 *daddr)
{
	struct ipv4_opts o = {};
	__u8 hdr[20];
	__u32 optlen;

	if (bpf_skb_load_bytes(skb, 0, hdr, sizeof(hdr)))
		return SRC_ROUTE_BAD;
	*proto = hdr[9];
	__builtin_memcpy(daddr, &hdr[16], 4);
	optlen = (hdr[0] & 0xf) * 4;
	if (optlen <= 20)
		return 0; /* no options: the common case */
	optlen -= 20;
	if (optlen > IPV4_OPT_MAX || bpf_skb_load_bytes(skb, 20, o.opt, optlen))
		return SRC_ROUTE_BAD;
	o.len = optlen;
	bpf_loop(IPV4_OPT_MAX, ipv4_opt_step, &o, 0);
	return o.found;
}

/* Returns the routing header type + 1 if the chain holds one, 0 for none,
 * SRC_ROUTE_BAD for a chain that does not parse or is too long. A routing
 * header sits in the unfragmentable part: the walk stops at a fragment
 * header or at the first upper-layer header. */
static __always_inline __u32 ipv6_source_route(struct __sk_buff *skb, __u8 *proto, __u8 *daddr)
{
	__u8 hdr[40], ext[4];
	__u32 off = 40;
	__u8 next;

	if (bpf_skb_load_bytes(skb, 0, hdr, sizeof(hdr)))
		return SRC_ROUTE_BAD;
	__builtin_memcpy(daddr, &hdr[24], 16);
	next = hdr[6];
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		*proto = next;
		if (next != NEXTHDR_HOP && next != NEXTHDR_DEST && next != NEXTHDR_ROUTING)
			return 0;
		if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
			return SRC_ROUTE_BAD;
		if (next == NEXTHDR_ROUTING) {
			*proto = ext[0]; /* what the routing header carries */
			return ext[2] + 1;
		}
		next = ext[0];
		off += (ext[1] + 1) * 8;
	}
	return SRC_ROUTE_BAD;
}

/* Audit record for a packet that may be sent from softirq context: the
 * process is the one that marked the socket, not the current task. */
/* Reserve an audit record for the process that marked a socket (egress and
 * ingress run in softirq context too, where the current task is anyone's),
 * or count the drop. */
static __always_inline struct mf_event *event_start_sock(const struct mf_sock_mark *m, __u8 type)
{
	struct mf_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(MF_CNT_AUDIT_DROPPED);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->tgid = m->tgid;
	e->pid = m->tgid;
	e->identity_id = m->identity_id;
	e->server_id = m->server_id;
	e->type = type;
	e->rule = MF_RULE_DEFAULT;
	return e;
}

static __always_inline void audit_source_route(const struct mf_sock_mark *m, __u8 family,
					       __u8 proto, const __u8 *daddr, __u32 kind)
{
	struct mf_event *e = event_start_sock(m, MF_EV_SOURCE_ROUTE);

	if (!e)
		return;
	e->verdict = MF_DENY;
	e->family = family;
	e->proto = proto;
	e->aux = kind;
	__builtin_memcpy(e->addr, daddr, sizeof(e->addr)); /* IPv4: first 4 bytes, rest 0 */
	event_submit(e);
}

/*
 * Could the packet carry a source route? Only an IPv4 header with options,
 * or an IPv6 header followed by hop-by-hop, destination or routing headers
 * (a routing header sits before any fragment header). Read in place: the
 * network header of a locally sent packet is in the linear area. 1: maybe.
 */
static __always_inline int may_route(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u8 *b = data;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (data + 1 > end)
			return 1; /* not readable in place: look closer */
		return (b[0] & 0xf) > 5;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		if (data + 7 > end)
			return 1;
		return b[6] == NEXTHDR_HOP || b[6] == NEXTHDR_DEST || b[6] == NEXTHDR_ROUTING;
	}
	return 0;
}

/*
 * Every packet of a marked (governed) socket that may carry a source route
 * is looked at once more on its way out: one that does is dropped, whatever
 * set the route. For UDP the sendmsg fails with EPERM; a TCP segment is
 * dropped (a SYN: the connect never completes). Other packets cost a look
 * at their first header bytes; those with options on an unmarked socket,
 * one storage lookup.
 */
SEC("cgroup_skb/egress")
int mf_egress(struct __sk_buff *skb)
{
	struct mf_sock_mark *mark;
	struct bpf_sock *sk = skb->sk;
	__u8 daddr[16] = {}, proto = 0, family;
	__u32 kind;

	dns_record_egress(skb);
	if (!may_route(skb))
		return 1; /* no source route possible: the common case */
	if (!sk)
		return 1; /* not from a local socket: not ours */
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1; /* request and time-wait sockets carry no options of the process */
	mark = bpf_sk_storage_get(&sock_marks, sk, 0, 0);
	if (!mark)
		return 1; /* ungoverned socket: not ours */
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		family = MF_FAMILY_V4;
		kind = ipv4_source_route(skb, &proto, daddr);
	} else {
		family = MF_FAMILY_V6;
		kind = ipv6_source_route(skb, &proto, daddr);
	}
	if (!kind)
		return 1;
	count(MF_CNT_SOURCE_ROUTE_DROPPED);
	audit_source_route(mark, family, proto, daddr, kind);
	return 0;
}

/* ---- local sockets and inbound ----
 *
 * A local service reached over a Unix socket can act for a governed process
 * (a proxy, a Docker socket, a resolver): pathname and abstract connects and
 * datagram sends are judged against the exact names the policy grants. Binds
 * to a port are judged against the ports the server may listen on: an
 * accepted connection's replies pass no connect or sendmsg hook.
 */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_UNIX_MAP_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mf_unix_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} unix_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_LISTEN_MAP_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mf_listen_key);
	__type(value, struct mf_listen_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} listen_ports SEC(".maps");

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* The agent's view of paths, set before load: its mount namespace and its
 * root directory (device in the kernel's encoding, inode, mount id). */
const volatile __u32 host_mnt_ns = 0;
const volatile __u32 host_root_dev = 0;
const volatile __u64 host_root_ino = 0;
const volatile __s32 host_root_mnt_id = 0;

/*
 * A pathname means what the policy says only where paths resolve as they do
 * for the agent. A process in another mount namespace (unshare, a user
 * namespace) or under another root (chroot) could bind-mount or place any
 * socket it can reach under a granted name: its pathnames are all refused.
 */
static __always_inline bool sees_host_paths(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vfsmount *vmnt = BPF_CORE_READ(task, fs, root.mnt);
	struct dentry *root = BPF_CORE_READ(task, fs, root.dentry);
	struct mount *mnt;

	if (!vmnt || !root)
		return false; /* no root to resolve from: closed */
	mnt = (struct mount *)((char *)vmnt - bpf_core_field_offset(struct mount, mnt));
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == host_mnt_ns &&
	       BPF_CORE_READ(mnt, mnt_id) == host_root_mnt_id &&
	       BPF_CORE_READ(root, d_inode, i_ino) == host_root_ino &&
	       BPF_CORE_READ(root, d_sb, s_dev) == host_root_dev;
}

#define SUN_PATH_OFFSET 2 /* offsetof(struct sockaddr_un, sun_path) */

/* The active slot and its policy flags; false when no policy is loaded. */
static __always_inline bool active_policy(__u32 *slot, struct mf_policy_cfg *out)
{
	struct mf_policy_cfg *pcfg;
	struct mf_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&mf_config, &zero);
	if (!cfg)
		return false; /* cannot happen for an array; closed */
	*slot = cfg->active_slot & 1;
	pcfg = bpf_map_lookup_elem(&policy_cfg, slot);
	if (!pcfg || !(pcfg->flags & MF_POLICY_LOADED))
		return false; /* no policy yet: closed */
	*out = *pcfg;
	return true;
}

/* A denial becomes would-deny in audit mode; counted either way. */
static __always_inline __u8 local_verdict(bool allowed, __u32 flags, __u32 deny_counter)
{
	if (allowed)
		return MF_ALLOW;
	if (flags & MF_POLICY_AUDIT_ONLY) {
		count(MF_CNT_WOULD_DENY);
		return MF_WOULD_DENY;
	}
	count(deny_counter);
	return MF_DENY;
}

/*
 * The name the kernel will resolve, into key: the kernel has checked that
 * 2 < uaddrlen <= sizeof(struct sockaddr_un) and copied the address into
 * a struct sockaddr_storage of its own (the reads cannot race user space).
 * A pathname ends at its first NUL or at the address length, whichever
 * comes first (unix_mkname_bsd); an abstract name is every byte of the
 * length, its leading NUL included.
 */
static __always_inline bool unix_name(struct bpf_sock_addr *ctx, struct mf_unix_key *key)
{
	struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);
	__u32 len = sa->uaddrlen;
	bool ended = false;

	if (len <= SUN_PATH_OFFSET || len > SUN_PATH_OFFSET + MF_UNIX_PATH_MAX)
		return false;
	len -= SUN_PATH_OFFSET;
	if (bpf_probe_read_kernel(key->name, sizeof(key->name),
				  (char *)sa->uaddr + SUN_PATH_OFFSET))
		return false;
	for (__u32 i = 0; i < MF_UNIX_PATH_MAX; i++) {
		if (!ended && (i >= len || (i > 0 && key->name[0] && !key->name[i]))) {
			ended = true;
			key->len = i;
		}
		if (ended)
			key->name[i] = 0;
	}
	if (!ended)
		key->len = MF_UNIX_PATH_MAX;
	return true;
}

static __always_inline int unix_judge(struct bpf_sock_addr *ctx, __u8 type)
{
	struct mf_tag *tag = current_tag();
	struct mf_unix_key key = {};
	struct mf_policy_cfg pcfg = {};
	struct mf_unix_event *e;
	bool allowed = false, foreign = false;
	__u8 verdict;

	if (!tag)
		return HOOK_ALLOW; /* ungoverned: not ours */
	if (!unix_name(ctx, &key))
		goto decide; /* an address the kernel would refuse: closed */
	if (!active_policy(&key.slot, &pcfg))
		goto decide;
	if (key.name[0] && !sees_host_paths()) {
		foreign = true;
		goto decide; /* a pathname from another view of the filesystem: closed */
	}
	key.server_id = tag->server_id;
	allowed = bpf_map_lookup_elem(&unix_allow, &key) != NULL;
	if (!allowed) {
		key.server_id = MF_ANY_SERVER;
		allowed = bpf_map_lookup_elem(&unix_allow, &key) != NULL;
	}
	/* Not found under either key: closed. */
decide:
	verdict = local_verdict(allowed, pcfg.flags, MF_CNT_UNIX_DENIED);
	if (allowed)
		count(MF_CNT_UNIX_ALLOWED);
	if (verdict != MF_ALLOW || (pcfg.flags & MF_POLICY_AUDIT_ALLOWED)) {
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e) {
			count(MF_CNT_AUDIT_DROPPED);
		} else {
			__u64 pid_tgid = bpf_get_current_pid_tgid();

			__builtin_memset(e, 0, sizeof(*e));
			e->ev.ts_ns = bpf_ktime_get_boot_ns();
			e->ev.tgid = pid_tgid >> 32;
			e->ev.pid = (__u32)pid_tgid;
			e->ev.identity_id = tag->identity_id;
			e->ev.server_id = tag->server_id;
			e->ev.generation = pcfg.generation;
			e->ev.rule = MF_RULE_DEFAULT;
			e->ev.type = type;
			e->ev.verdict = verdict;
			e->ev.family = AF_UNIX;
			e->ev.aux = ctx->type;
			bpf_get_current_comm(e->ev.comm, sizeof(e->ev.comm));
			e->len = key.len;
			e->flags = foreign ? MF_UNIX_FOREIGN_ROOT : 0;
			__builtin_memcpy(e->name, key.name, sizeof(e->name));
			event_submit(e);
		}
	}
	return verdict == MF_DENY ? HOOK_DENY : HOOK_ALLOW;
}

/* Section names libbpf 1.1 does not know: the loader sets the program and
 * attach types (userspace/agent/bpf_local.c). */
SEC("cgroup/connect_unix")
int mf_connect_unix(struct bpf_sock_addr *ctx)
{
	return unix_judge(ctx, MF_EV_UNIX_CONNECT);
}

SEC("cgroup/sendmsg_unix")
int mf_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return unix_judge(ctx, MF_EV_UNIX_SENDMSG);
}

/*
 * Port 0 asks for an ephemeral port: UDP clients bind it implicitly (no
 * hook runs then) and TCP clients explicitly to pick a source address before
 * connect. It is allowed: what the socket then sends is judged by the
 * connect and sendmsg hooks, and a TCP listen() on an ephemeral port is the
 * same case as a listen() without bind (see the ingress note in the docs).
 */
/* The address bound, as given (ctx fields are read at constant offsets). */
static __always_inline void bind_addr(struct bpf_sock_addr *ctx, __u8 family, __u8 *addr)
{
	__u32 w0, w1, w2, w3;

	if (family == MF_FAMILY_V4) {
		w0 = ctx->user_ip4;
		__builtin_memcpy(addr, &w0, 4);
		return;
	}
	w0 = ctx->user_ip6[0];
	w1 = ctx->user_ip6[1];
	w2 = ctx->user_ip6[2];
	w3 = ctx->user_ip6[3];
	__builtin_memcpy(&addr[0], &w0, 4);
	__builtin_memcpy(&addr[4], &w1, 4);
	__builtin_memcpy(&addr[8], &w2, 4);
	__builtin_memcpy(&addr[12], &w3, 4);
}

/* May the server listen on port? Every missing piece denies. */
static __always_inline bool listen_granted(__u32 slot, __u32 server_id, __u16 port)
{
	struct mf_listen_key lkey = { .slot = slot, .server_id = server_id };
	struct mf_listen_val *val = bpf_map_lookup_elem(&listen_ports, &lkey);

	if (!val)
		return false; /* the server may listen on no port: closed */
	for (int i = 0; i < MF_LISTEN_MAX_RANGES; i++) {
		if (i >= val->nranges)
			break;
		if (port >= val->ranges[i].lo && port <= val->ranges[i].hi)
			return true;
	}
	return false;
}

static __always_inline int bind_judge(struct bpf_sock_addr *ctx, __u8 family)
{
	struct mf_tag *tag = current_tag();
	struct mf_policy_cfg pcfg = {};
	struct mf_event *e;
	bool allowed = false;
	__u32 slot;
	__u16 port;
	__u8 verdict;

	if (!tag)
		return HOOK_ALLOW; /* ungoverned: not ours */
	port = bpf_ntohs((__u16)ctx->user_port);
	if (port == 0)
		return HOOK_ALLOW;
	if (active_policy(&slot, &pcfg))
		allowed = listen_granted(slot, tag->server_id, port);
	verdict = local_verdict(allowed, pcfg.flags, MF_CNT_BIND_DENIED);
	if (verdict != MF_ALLOW || (pcfg.flags & MF_POLICY_AUDIT_ALLOWED)) {
		e = event_start(tag, MF_EV_BIND);
		if (e) {
			e->generation = pcfg.generation;
			e->verdict = verdict;
			e->family = family;
			e->proto = ctx->protocol;
			e->port = port;
			bind_addr(ctx, family, e->addr);
			event_submit(e);
		}
	}
	return verdict == MF_DENY ? HOOK_DENY : HOOK_ALLOW;
}

SEC("cgroup/bind4")
int mf_bind4(struct bpf_sock_addr *ctx)
{
	return bind_judge(ctx, MF_FAMILY_V4);
}

SEC("cgroup/bind6")
int mf_bind6(struct bpf_sock_addr *ctx)
{
	return bind_judge(ctx, MF_FAMILY_V6);
}

/*
 * listen() on an unbound socket, or after binding port 0, takes an
 * ephemeral port without passing a bind hook, and no hook can fail listen()
 * itself. So what reaches a governed listener is judged here: for a TCP
 * segment to a listening socket (a SYN, or the ACK of a syncookie) the
 * kernel runs the cgroup ingress program with that listener as skb->sk
 * (tcp_filter, before the listener sees it). Unless the server may listen
 * on the port, the segment is dropped: no connection is ever accepted.
 * Every other packet pays a socket-state comparison.
 */
SEC("cgroup_skb/ingress")
int mf_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct mf_policy_cfg pcfg = {};
	struct mf_sock_mark *mark;
	bool allowed = false;
	struct mf_event *e;
	__u32 slot;
	__u8 verdict;

	if (!sk)
		return 1; /* no socket: not ours */
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->state != BPF_TCP_LISTEN)
		return 1; /* not a listener: judged where it connected or sent */
	mark = bpf_sk_storage_get(&sock_marks, sk, 0, 0);
	if (!mark)
		return 1; /* ungoverned listener: not ours */
	if (active_policy(&slot, &pcfg))
		allowed = listen_granted(slot, mark->server_id, (__u16)sk->src_port);
	verdict = local_verdict(allowed, pcfg.flags, MF_CNT_LISTEN_DROPPED);
	if (verdict == MF_ALLOW)
		return 1;
	e = event_start_sock(mark, MF_EV_LISTEN);
	if (e) {
		e->generation = pcfg.generation;
		e->verdict = verdict;
		e->family = sk->family == AF_INET6 ? MF_FAMILY_V6 : MF_FAMILY_V4;
		e->proto = IPPROTO_TCP;
		e->port = (__u16)sk->src_port;
		event_submit(e);
	}
	return verdict == MF_DENY ? 0 : 1;
}

/* ---- io_uring: requests that do not pass the syscall hooks ---- */

/*
 * io_uring runs socket operations without their syscalls: IORING_OP_SOCKET
 * creates a socket without passing the socket() syscall tracepoint. The
 * io_uring tracepoints cannot fail a request, and a kill lands only when
 * the submission is over: the requests submitted with a forbidden one (a
 * send on the socket it creates, linked or not) run first. So a governed
 * process gets no ring unless the policy allows io_uring: it is killed when
 * it sets one up or enters one (inherited rings too). Where io_uring is
 * allowed, IORING_OP_SOCKET of a family the hooks cannot see still kills.
 */
/* May this governed process use io_uring (its server's "io_uring": true)?
 * Every missing piece says no. */
static __always_inline bool uring_allowed(const struct mf_tag *tag)
{
	struct mf_listen_key key = { .server_id = tag->server_id };
	struct mf_policy_cfg pcfg;
	struct mf_listen_val *val;

	if (!active_policy(&key.slot, &pcfg))
		return false; /* no policy yet: closed */
	val = bpf_map_lookup_elem(&listen_ports, &key);
	return val && (val->flags & MF_SERVER_IO_URING);
}

static __always_inline void uring_kill(struct mf_tag *tag, __u32 what)
{
	struct mf_event *e;

	count(MF_CNT_KILLED);
	e = event_start(tag, MF_EV_URING_KILL);
	if (e) {
		e->verdict = MF_DENY;
		e->aux = what;
		event_submit(e);
	}
	bpf_send_signal(SIGKILL);
}

/* Fires inside io_uring_setup, before it returns the ring to the caller. */
SEC("tp_btf/io_uring_create")
int BPF_PROG(mf_uring_create, int fd, void *ring, __u32 sq_entries, __u32 cq_entries, __u32 flags)
{
	struct mf_tag *tag = current_tag();

	if (!tag || uring_allowed(tag))
		return 0; /* ungoverned (not ours), or allowed by policy */
	uring_kill(tag, MF_URING_SETUP);
	return 0;
}

/* ---- syscalls: families the hooks cannot see, rings, other ABIs ---- */

/* x86-64 numbers: the program is built for x86-64 (vmlinux.h). */
#define NR_SOCKET 41
#define NR_IO_URING_ENTER 426
#define X32_SYSCALL_BIT 0x40000000
#define X32_NR_MAX 1024	 /* above any x32 syscall number */
#define TS_COMPAT 0x0002 /* thread_info.status: a 32-bit syscall is running */

/*
 * A syscall of another ABI: the i386 one (int 0x80, sysenter, or a 32-bit
 * process), which sets TS_COMPAT for the syscall; or the x32 one, the
 * 64-bit entry with X32_SYSCALL_BIT in the number (the kernel runs it only
 * with CONFIG_X86_X32_ABI). Their numbers are another table's, and the
 * per-syscall tracepoints skip them (trace_get_syscall_nr).
 */
static __always_inline __u32 foreign_abi(long id)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (task->thread_info.status & TS_COMPAT)
		return MF_ABI_IA32;
	if ((__u32)id - X32_SYSCALL_BIT < X32_NR_MAX)
		return MF_ABI_X32;
	return 0;
}

/*
 * Socket families other than inet never reach the cgroup hooks: a governed
 * process that asks for one (AF_PACKET, AF_XDP, ...) could send around
 * them. A ring set up before the process was governed (inherited, or passed
 * over a socket) is entered through io_uring_enter. And a syscall of another
 * ABI reaches socket(), socketcall() or setsockopt() past the checks made by
 * number. A tracepoint cannot fail the call, so the process is killed; the
 * signal is taken before the call returns to user space.
 *
 * The raw syscall tracepoint sees every syscall of every ABI. While a
 * program is on it every task on the host takes the slow syscall path and
 * the kernel calls the program on each syscall (about +150 ns a call on a
 * loaded VM, mostly that call: README.md). So the agent attaches it only
 * while some governed process lacks the launcher's seccomp filter, which
 * refuses the same families, io_uring and other ABIs: exec-tagged processes
 * (MF_TAG_EXEC) and `run --no-harden` ones (MF_TAG_UNHARDENED). The rest of
 * the host pays two comparisons and a load here before the tag lookup.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(mf_sys_enter, struct pt_regs *regs, long id)
{
	struct mf_tag *tag;
	struct mf_event *e;
	__u32 abi, family;

	if (id != NR_SOCKET && id != NR_IO_URING_ENTER && !foreign_abi(id))
		return 0;
	tag = current_tag();
	if (!tag)
		return 0; /* ungoverned: not ours */
	abi = foreign_abi(id);
	if (abi) {
		count(MF_CNT_KILLED);
		e = event_start(tag, MF_EV_ABI_KILL);
		if (e) {
			e->verdict = MF_DENY;
			e->proto = abi;
			e->aux = abi == MF_ABI_X32 ? (__u32)id - X32_SYSCALL_BIT : (__u32)id;
			event_submit(e);
		}
		bpf_send_signal(SIGKILL);
		return 0;
	}
	if (id == NR_IO_URING_ENTER) {
		if (!uring_allowed(tag))
			uring_kill(tag, MF_URING_ENTER);
		return 0;
	}
	family = (__u32)regs->di;
	if (family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK)
		return 0;
	count(MF_CNT_KILLED);
	e = event_start(tag, MF_EV_SOCKET_KILL);
	if (e) {
		e->verdict = MF_DENY;
		e->family = family;
		e->proto = (__u8)regs->dx;
		e->aux = (__u32)regs->si;
		event_submit(e);
	}
	bpf_send_signal(SIGKILL);
	return 0;
}

/* Traced once the request is prepared (its family read from the SQE) and
 * before it is issued. Everyone else pays an opcode comparison. */
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(mf_uring_submit, struct io_kiocb *req)
{
	struct io_socket *sock;
	struct mf_tag *tag;
	struct mf_event *e;
	__u32 family;

	if (req->opcode != IORING_OP_SOCKET)
		return 0;
	tag = current_tag();
	if (!tag)
		return 0; /* ungoverned: not ours */
	/* The request's command area holds the prepared socket arguments. */
	sock = (struct io_socket *)&req->cmd;
	family = BPF_CORE_READ(sock, domain);
	if (family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK)
		return 0; /* inet sockets still pass cgroup/sock_create */
	count(MF_CNT_KILLED);
	e = event_start(tag, MF_EV_URING_SOCKET_KILL);
	if (e) {
		e->verdict = MF_DENY;
		e->family = family;
		e->proto = BPF_CORE_READ(sock, protocol);
		e->aux = BPF_CORE_READ(sock, type);
		event_submit(e);
	}
	bpf_send_signal(SIGKILL);
	return 0;
}
