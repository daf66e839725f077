/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by the kernel programs (mcpfence.bpf.c) and userspace.
 * Only __u8..__u64 here (and struct bpf_spin_lock): this header is
 * included on both sides.
 */
#ifndef MCPFENCE_H
#define MCPFENCE_H

#include "mcpfence_limits.h"
#ifndef __VMLINUX_H__
#include <linux/bpf.h> /* struct bpf_spin_lock; vmlinux.h has it in the kernel */
#endif

/* Identity ids: allocated by the agent for identity strings, kept in the
 * pinned identity_names map. A process tagged at exec by the kernel is named
 * by its Unix user: its identity id is MF_UID_IDENTITY | uid. */
#define MF_UID_IDENTITY 0x80000000u
/* Binding key identity that stands for "any identity" (rules with who "*"). */
#define MF_ANY_IDENTITY 0u

/* Protocol bits of a port segment. */
#define MF_PROTO_TCP 0x1
#define MF_PROTO_UDP 0x2

/* Verdicts, as stored in segments and audit records. */
#define MF_DENY 0
#define MF_ALLOW 1
#define MF_WOULD_DENY 2 /* audit mode: a denial recorded but not enforced */

/* Rule index of a verdict that no rule gave (nothing matched: deny). */
#define MF_RULE_DEFAULT 0xffffu
_Static_assert(MF_MAX_RULES <= MF_RULE_DEFAULT, "rule indices stay below MF_RULE_DEFAULT");

/* Address families inside rule keys. */
#define MF_FAMILY_V4 4
#define MF_FAMILY_V6 6

/* ---- process tags: tags map, tgid -> struct mf_tag ---- */
#define MF_TAG_EXEC 0x1	    /* tagged by the kernel at exec (servers.*.exec) */
#define MF_TAG_LAUNCHER 0x2 /* tagged by the agent at a launcher's request */
/* Launched without the launcher's seccomp filter (`run --no-harden`, or a
 * tag request that does not say it hardens): like MF_TAG_EXEC, only the
 * syscall tracepoints refuse its socket families. */
#define MF_TAG_UNHARDENED 0x4

struct mf_tag {
	__u32 identity_id;
	__u32 server_id;
	__u32 flags;
	__u32 reserved;
};

/* ---- governed sockets: sock_marks socket storage -> struct mf_sock_mark ----
 * Set on every socket a governed process creates or uses; accepted sockets
 * inherit it from their listener. The packet of a marked socket is judged
 * again at egress (source routes), even when sent from softirq context. */
struct mf_sock_mark {
	__u32 identity_id;
	__u32 server_id;
	__u32 tgid; /* the process that marked it */
	__u32 reserved;
};

/* ---- executables tagged at exec: exec_servers map ---- */
struct mf_exec_key {
	__u64 ino;
	__u32 dev; /* kernel encoding, mf_kernel_dev() */
	__u32 reserved;
};

/* A device number as the kernel keeps it in inode->i_sb->s_dev (MKDEV). */
static inline __u32 mf_kernel_dev(__u32 major, __u32 minor)
{
	return major << 20 | minor;
}

#define MF_EXEC_MATCH_ARGS 0x1 /* an interpreter: the server depends on argv (exec_args) */

struct mf_exec_val {
	__u32 server_id; /* 0 with MF_EXEC_MATCH_ARGS */
	__u32 flags;
};

/* exec_args map: an interpreter's inode and a hash of argv[1..nargs], each
 * argument with its NUL (FNV-1a 64) -> struct mf_exec_val. */

struct mf_exec_args_key {
	__u64 ino;
	__u32 dev;
	__u32 nargs;
	__u64 hash;
};

/* ---- policy, double-buffered in two slots (0, 1) ----
 * The agent writes the inactive slot, then flips config.active_slot with a
 * single 4-byte store: a decision sees the old or the new policy, whole. */
struct mf_config {
	__u32 active_slot;
	__u32 reserved;
};

#define MF_POLICY_LOADED 0x1
#define MF_POLICY_AUDIT_ONLY 0x2    /* mode "audit": record denials, block nothing */
#define MF_POLICY_AUDIT_ALLOWED 0x4 /* audit.allowed "all" or "flows" */
#define MF_POLICY_AUDIT_EACH 0x8    /* audit.allowed "all": allowed records not by flow */

struct mf_policy_cfg {
	__u32 flags;
	__u32 generation;     /* policy load counter, copied into audit records */
	__u32 flow_window_ms; /* audit.window: 0 records every decision */
	__u32 reserved;
};

/* bindings map: (slot, identity, server) -> ruleset */
struct mf_binding_key {
	__u32 slot;
	__u32 identity_id; /* MF_ANY_IDENTITY for the fallback */
	__u32 server_id;
};

struct mf_binding {
	__u32 ruleset_id;
	__u32 reserved;
};

/* rules map: LPM trie over (ruleset, family, address) -> segment table id
 * (a __u32 key of the segtabs map). prefixlen = 32 (ruleset) + 8 (family) +
 * address prefix length. Ruleset ids are unique across both slots; a ruleset
 * shares one table among its prefixes of the same segments, and tables are
 * written before the prefixes that name them and deleted after. */
struct mf_rule_key {
	__u32 prefixlen;
	__u32 ruleset_id;
	__u8 family;
	__u8 addr[16]; /* IPv4 in the first 4 bytes, network order */
	__u8 reserved[3];
};

#define MF_RULE_KEY_FIXED_BITS 40

/* One port range of one or both protocols, with its verdict. Segments of a
 * value do not overlap; a port outside all segments is denied by default. */
struct mf_seg {
	__u16 lo;
	__u16 hi;
	__u8 protos;
	__u8 verdict;
	__u16 rule; /* index of the policy rule that decided, or MF_RULE_DEFAULT */
};

/* segtabs map value: the port segments of a prefix. */
struct mf_rule_val {
	__u32 nsegs;
	__u32 reserved;
	struct mf_seg segs[MF_MAX_SEGS];
};

/* ---- audit records, kernel -> agent through the events ring buffer ---- */
enum mf_event_type {
	MF_EV_CONNECT = 1,	     /* connect(), TCP or UDP */
	MF_EV_SENDMSG = 2,	     /* sendto/sendmsg with a destination, UDP */
	MF_EV_SOCKET = 3,	     /* inet socket of a type/protocol the hooks cannot judge */
	MF_EV_SOCKET_KILL = 4,	     /* socket family the hooks cannot see: process killed */
	MF_EV_TAG_EXEC = 5,	     /* process tagged at exec */
	MF_EV_TAG_LOST = 6,	     /* a tag could not be stored: process killed */
	MF_EV_SOCKOPT = 7,	     /* a socket option that reroutes packets, refused */
	MF_EV_SOURCE_ROUTE = 8,	     /* a source-routed packet of a governed socket, dropped */
	MF_EV_URING_SOCKET_KILL = 9, /* io_uring socket of a family the hooks cannot see */
	MF_EV_URING_KILL = 10,	     /* io_uring set up or entered, not allowed: process killed */
	MF_EV_ABI_KILL = 11,	     /* a syscall of another ABI (i386, x32): process killed */
	/* local sockets and inbound */
	MF_EV_UNIX_CONNECT = 20, /* connect() to a unix socket: struct mf_unix_event */
	MF_EV_UNIX_SENDMSG = 21, /* datagram to a unix socket name: struct mf_unix_event */
	MF_EV_BIND = 22,	 /* bind() to a port the server may not listen on */
	MF_EV_LISTEN = 23,	 /* a connection to a listener on such a port, dropped */
};

/* ---- audit by flow: flows map, struct mf_flow_key -> struct mf_flow ----
 * Decisions of connect/sendmsg with the same (process, destination, port,
 * protocol, verdict) within audit.window make one record when the first
 * happens and one summary with the count of the others: when the next one
 * after the window happens, or when the agent sweeps (mf_flow_sweep). Every
 * decision is in exactly one record (or in audit_dropped). */
#define MF_FLOW_FIRST 1
#define MF_FLOW_SUMMARY 2
#define MF_FLOW_MASK 0xff  /* of aux: MF_AUX_VIA_NAME may be set beside it */
#define MF_FLOWS_MAX 16384 /* a new flow past these is recorded on its own */

struct mf_flow_key {
	__u32 tgid;
	__u32 identity_id;
	__u32 server_id;
	__u8 type; /* MF_EV_CONNECT, MF_EV_SENDMSG */
	__u8 verdict;
	__u8 family;
	__u8 proto;
	__u16 port;
	__u16 via; /* MF_AUX_VIA_NAME: allowed through an address learned from a name */
	__u8 addr[16];
};

struct mf_flow {
	struct bpf_spin_lock lock;
	__u32 count;	/* decisions since the window's first record, after it */
	__u64 start_ns; /* the window's first record (CLOCK_BOOTTIME) */
	__u32 pid;
	__u32 generation;
	__u16 rule;
	__u8 dead; /* being deleted: whoever still holds it records alone */
	__u8 reserved;
	/* When the window opened, in ms of CLOCK_MONOTONIC_COARSE (32 bits:
	 * compared by unsigned difference, good across its wrap): the window is
	 * measured with it, a clock that costs no counter read per decision. */
	__u32 opened_ms;
	char comm[16];
	struct mf_flow_key key; /* an element reused for another flow is told apart */
};

/* What the agent asks mf_flow_sweep to close (flow_sweep_arg map). */
struct mf_flow_sweep {
	struct mf_flow_key key;
	__u64 window_ns;
};

/* aux of MF_EV_URING_KILL */
#define MF_URING_SETUP 1
#define MF_URING_ENTER 2

/* proto of MF_EV_ABI_KILL (aux: the syscall number, of that ABI's table) */
#define MF_ABI_IA32 1
#define MF_ABI_X32 2

struct mf_event {
	__u64 ts_ns; /* CLOCK_BOOTTIME */
	__u32 tgid;
	__u32 pid;
	__u32 identity_id;
	__u32 server_id;
	__u32 generation;
	__u16 rule;
	__u8 type;
	__u8 verdict;
	__u8 family; /* MF_FAMILY_V4/V6 as judged; socket events: AF_* */
	__u8 proto;  /* IPPROTO_TCP/UDP; socket events: protocol; sockopt: level;
		      * abi-kill: MF_ABI_* */
	__u16 port;  /* host order */
	__u8 addr[16];
	__u32 aux;   /* socket events: socket type; sockopt: option name;
		    * source-route: option or routing header type;
		    * abi-kill: syscall number;
		    * connect/sendmsg: MF_FLOW_FIRST or MF_FLOW_SUMMARY, 0 alone */
	__u32 count; /* MF_FLOW_SUMMARY: the flow's occurrences after its first
		      * record; ts_ns is then when that first record was made */
	char comm[16];
};

/* The agent reads the ring buffer at least this often (the kernel wakes it
 * only when a batch is waiting). */
#define MF_AUDIT_POLL_MS 50

/* ---- counters: per-CPU array, summed by the agent ---- */
enum mf_counter {
	MF_CNT_ALLOWED = 0,
	MF_CNT_DENIED,
	MF_CNT_WOULD_DENY,
	MF_CNT_AUDIT_DROPPED, /* records that found the ring buffer full */
	MF_CNT_TAG_INHERITED,
	MF_CNT_TAG_EXEC,
	MF_CNT_TAG_FAILED, /* tags that could not be stored (map full) */
	MF_CNT_SOCKET_REFUSED,
	MF_CNT_KILLED,
	MF_CNT_SOCKOPT_REFUSED,	     /* rerouting socket options refused */
	MF_CNT_SOURCE_ROUTE_DROPPED, /* source-routed packets of governed sockets dropped */
	MF_CNT_TAG_STALE,	     /* stale tags of a reused pid removed at fork */
	MF_CNT_UNIX_ALLOWED,
	MF_CNT_UNIX_DENIED,
	MF_CNT_BIND_DENIED,
	MF_CNT_LISTEN_DROPPED,	/* segments to governed listeners on ungranted ports */
	MF_CNT_TAG_UNHARDENED,	/* tags inherited from exec-tagged or unhardened parents */
	MF_CNT_FLOWS_FULL,	/* decisions recorded alone: the flows map was full */
	MF_CNT_DNS_REDIRECTED,	/* port-53 connects and datagrams sent to the agent's resolver */
	MF_CNT_DNS_NO_RESOLVER, /* ... refused: no resolver serving (closed) */
	MF_CNT_LEARNED_ALLOWED, /* verdicts allowed by an address learned from a name */
	MF_CNT_MAX,
};

/* ---- local sockets and inbound ----
 * Unix connects and datagram sends of governed processes are judged against
 * an allow list of exact names; binds to a port against the ports a server
 * may listen on. Both live in the policy slots like the bindings. */
#define MF_ANY_SERVER 0u     /* unix_allow key server: granted to every governed process */
#define MF_UNIX_PATH_MAX 108 /* sizeof(sockaddr_un.sun_path) */
#define MF_MAX_UNIX 4096     /* unix names in a policy, all servers and the defaults together */
#define MF_UNIX_MAP_ENTRIES (2 * MF_MAX_UNIX + 16) /* both slots, and the agent's socket */
#define MF_LISTEN_MAX_RANGES 32			   /* port ranges a server may listen on */
#define MF_LISTEN_MAP_ENTRIES 8192		   /* both slots: 2 x MF_MAX_SERVERS */

/* unix_allow map: (slot, server, name) -> MF_ALLOW. name holds the bytes
 * the kernel resolves: a path up to its first NUL, or an abstract name
 * (leading NUL) of len bytes; the bytes after len are zero. */
struct mf_unix_key {
	__u32 slot;
	__u32 server_id; /* MF_ANY_SERVER for the names granted to all */
	__u32 len;
	__u8 name[MF_UNIX_PATH_MAX];
};

/* listen_ports map: (slot, server) -> the ports it may bind, TCP and UDP,
 * and the server's flags */
struct mf_listen_key {
	__u32 slot;
	__u32 server_id;
};

struct mf_port_span {
	__u16 lo;
	__u16 hi;
};

/* The server may use io_uring ("io_uring": true). Without it a governed
 * process that sets up or enters a ring is killed: a tracepoint cannot fail
 * a request, and requests submitted together run before a kill lands. */
#define MF_SERVER_IO_URING 0x1

struct mf_listen_val {
	__u32 nranges;
	__u32 flags; /* MF_SERVER_* */
	struct mf_port_span ranges[MF_LISTEN_MAX_RANGES];
};

/* Audit record of a unix verdict: the common record, then the name. */
#define MF_UNIX_FOREIGN_ROOT 0x1 /* a pathname from another mount namespace or root */

struct mf_unix_event {
	struct mf_event ev; /* aux: socket type */
	__u32 len;
	__u32 flags;
	__u8 name[MF_UNIX_PATH_MAX];
};

/* ---- names: the resolver of governed processes ----
 * Port-53 traffic of governed processes (UDP, and TCP connects) goes to the
 * agent's resolver on loopback instead (connect/sendmsg hooks); replies get
 * the original server's address back (recvmsg hooks). The agent learns who
 * asked from dns_clients, and installs the answers' addresses into
 * dns_learned before it releases the answer. */
#define MF_DNS_PORT 53
#define MF_AUX_VIA_NAME 0x100 /* aux of a connect/sendmsg verdict given by dns_learned */

/* dns_cfg (array of 1): the resolver's loopback ports, host order; 0: not
 * serving (port-53 traffic of governed processes is then refused). The v4
 * ports serve 127.0.0.1 (and ::ffff:127.0.0.1), the v6 ports ::1. */
struct mf_dns_cfg {
	__u16 udp4, udp6, tcp4, tcp6;
};

/* The server a redirected socket meant, kept in its socket storage. */
struct mf_dns_orig {
	__u8 family; /* MF_FAMILY_V4 (also when reached as ::ffff:a.b.c.d) or V6 */
	__u8 reserved;
	__u16 port;    /* network order */
	__u32 addr[4]; /* network order; IPv4 in addr[0] */
};

/* dns_clients (LRU): the source port of a redirected socket, as the resolver
 * sees it, -> who asked and which server it meant. Recorded by the sendmsg
 * hook (the source port is bound by then) and at egress for connected
 * sockets (UDP connect and TCP: the port is bound after the connect hook). */
struct mf_dns_client_key {
	__u16 port;  /* host order */
	__u8 proto;  /* IPPROTO_UDP or IPPROTO_TCP */
	__u8 family; /* of the resolver socket reached: MF_FAMILY_V4 or V6 */
};

struct mf_dns_client {
	__u32 identity_id;
	__u32 server_id;
	__u32 tgid;
	__u32 reserved;
	struct mf_dns_orig orig;
};

#define MF_DNS_CLIENTS 16384

/* dns_learned: (identity, server, address) -> what it may reach there and
 * until when. Valid only under the policy generation it was installed
 * under (or, across a policy load, the next one, which the agent checked
 * grants it too) and before expires_ns (CLOCK_BOOTTIME): checked by the
 * kernel. */
#define MF_LEARNED_SEGS 8 /* its size: MF_LEARNED_MAX, in mcpfence_limits.h */

struct mf_learned_key {
	__u32 identity_id;
	__u32 server_id;
	__u8 family;
	__u8 reserved[3];
	__u8 addr[16];
};

struct mf_learned_val {
	__u64 expires_ns;
	__u32 generation;
	__u32 generation_next; /* 0: none */
	__u32 nsegs;
	__u32 reserved;
	struct mf_seg segs[MF_LEARNED_SEGS];
};

#endif /* MCPFENCE_H */
