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

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SIGKILL 9

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
	__type(value, struct mf_rule_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rules SEC(".maps");

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

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	/* Cannot fail for an index below MF_CNT_MAX. */
	if (v)
		*v += 1;
}

static __always_inline struct mf_tag *current_tag(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

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
	if (!tag)
		return 0; /* parent ungoverned */
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
	__u64 hash = 0xcbf29ce484222325ull;
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
		hash = (hash ^ c) * 0x100000001b3ull;
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

	/* The tag lives until the last thread of the process is gone. */
	if (group_dead)
		bpf_map_delete_elem(&tags, &tgid);
	return 0;
}

/* ---- egress verdicts ---- */

struct dest {
	__u8 family;
	__u8 proto_bit;
	__u16 port;
	__u8 addr[16];
};

/* Decide for a governed process. Every lookup that fails denies. */
static __always_inline int judge(const struct mf_tag *tag, struct dest *d, __u8 proto, __u8 type)
{
	struct mf_binding_key bkey = {};
	struct mf_rule_key rkey = {};
	struct mf_policy_cfg *pcfg;
	struct mf_binding *binding;
	struct mf_rule_val *val;
	struct mf_config *cfg;
	__u32 zero = 0, slot, flags = 0, generation = 0;
	__u8 verdict = MF_DENY;
	__u16 rule = MF_RULE_DEFAULT;
	struct mf_event *e;

	cfg = bpf_map_lookup_elem(&mf_config, &zero);
	if (!cfg)
		goto decided; /* cannot happen for an array; closed */
	slot = cfg->active_slot & 1;
	pcfg = bpf_map_lookup_elem(&policy_cfg, &slot);
	if (!pcfg || !(pcfg->flags & MF_POLICY_LOADED))
		goto decided; /* no policy yet: closed */
	flags = pcfg->flags;
	generation = pcfg->generation;
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
		goto decided; /* nothing granted to this identity on this server: closed */

	rkey.prefixlen = MF_RULE_KEY_FIXED_BITS + (d->family == MF_FAMILY_V4 ? 32 : 128);
	rkey.ruleset_id = binding->ruleset_id;
	rkey.family = d->family;
	__builtin_memcpy(rkey.addr, d->addr, sizeof(rkey.addr));
	val = bpf_map_lookup_elem(&rules, &rkey);
	if (!val)
		goto decided; /* no prefix holds the address: closed */

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

decided:
	if (verdict == MF_DENY && (flags & MF_POLICY_AUDIT_ONLY))
		verdict = MF_WOULD_DENY;
	count(verdict == MF_ALLOW ? MF_CNT_ALLOWED :
				    (verdict == MF_DENY ? MF_CNT_DENIED : MF_CNT_WOULD_DENY));
	if (verdict != MF_ALLOW || (flags & MF_POLICY_AUDIT_ALLOWED)) {
		e = event_start(tag, type);
		if (e) {
			e->generation = generation;
			e->rule = rule;
			e->verdict = verdict;
			e->family = d->family;
			e->proto = proto;
			e->port = d->port;
			__builtin_memcpy(e->addr, d->addr, sizeof(e->addr));
			event_submit(e);
		}
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

static __always_inline int sock_addr4(struct bpf_sock_addr *ctx, __u8 type)
{
	struct mf_tag *tag = current_tag();
	struct dest d = {};

	if (!tag)
		return HOOK_ALLOW; /* ungoverned: not ours */
	dest_v4(&d, ctx->user_ip4);
	d.port = bpf_ntohs((__u16)ctx->user_port);
	d.proto_bit = proto_bit(ctx->protocol);
	return judge(tag, &d, ctx->protocol, type);
}

static __always_inline int sock_addr6(struct bpf_sock_addr *ctx, __u8 type)
{
	struct mf_tag *tag = current_tag();
	struct dest d = {};

	if (!tag)
		return HOOK_ALLOW; /* ungoverned: not ours */
	dest_v6(&d, ctx);
	d.port = bpf_ntohs((__u16)ctx->user_port);
	d.proto_bit = proto_bit(ctx->protocol);
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
		return HOOK_ALLOW;
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

/*
 * Socket families other than inet never reach the cgroup hooks: a governed
 * process that asks for one (AF_PACKET, AF_XDP, ...) could send around
 * them. A tracepoint cannot fail the call, so the process is killed; the
 * signal is taken before the call returns to user space.
 */
SEC("tp/syscalls/sys_enter_socket")
int mf_socket_family(struct trace_event_raw_sys_enter *ctx)
{
	__u32 family = (__u32)ctx->args[0];
	struct mf_tag *tag;
	struct mf_event *e;

	if (family == AF_UNIX || family == AF_INET || family == AF_INET6 || family == AF_NETLINK)
		return 0;
	tag = current_tag();
	if (!tag)
		return 0; /* ungoverned: not ours */
	count(MF_CNT_KILLED);
	e = event_start(tag, MF_EV_SOCKET_KILL);
	if (e) {
		e->verdict = MF_DENY;
		e->family = family;
		e->proto = (__u8)ctx->args[2];
		e->aux = (__u32)ctx->args[1];
		event_submit(e);
	}
	bpf_send_signal(SIGKILL);
	return 0;
}
