/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policy model: parse and validate a policy file (policy.c, with
 * policy_servers.c, policy_rules.c and the other policy_*.c), then compile it
 * into flattened rulesets that the kernel looks up in one LPM-trie lookup
 * (compile.c); the reference decision from the policy itself is in
 * policy_decide.c. Nothing here touches the kernel: the agent writes the
 * result into maps.
 */
#ifndef MCPFENCE_POLICY_H
#define MCPFENCE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "../../bpf/mcpfence.h"

#define MF_POLICY_VERSION 1
#define MF_POLICY_FILE_MAX (32u << 20) /* bytes of a policy file */
#define MF_ERR_MAX 512

/* The policy limits are in bpf/mcpfence_limits.h, with the kernel map sizes they fit. */

/* Where a rule or an entry starts in the policy text, for the messages of
 * the compiler (jansson gives positions only while parsing). */
struct mf_pos {
	uint32_t line, col; /* from 1; 0 when unknown */
};

struct mf_cidr {
	uint8_t family; /* MF_FAMILY_V4 or MF_FAMILY_V6 (v4-mapped v6 is stored as v4) */
	uint8_t plen;
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes; host bits zero */
};

struct mf_port_range {
	uint16_t lo, hi;
};

struct mf_dest {
	struct mf_cidr cidr;
	uint8_t protos; /* MF_PROTO_TCP | MF_PROTO_UDP */
	size_t nports;	/* 0: all ports */
	struct mf_port_range *ports;
	struct mf_pos pos;
};

/* A destination given by name (policy_hosts.c): its A/AAAA answers are
 * allowed for the ports and protocols, per (identity, server), while their
 * TTL lasts. */
struct mf_host {
	char *name;	 /* lowercase, no trailing dot; a wildcard without its "*." */
	bool wildcard;	 /* "*.NAME": one or more labels below NAME, not NAME itself */
	bool private_ok; /* "private": true: loopback, private, ... answers are installed */
	uint8_t protos;
	size_t nports; /* 0: all ports */
	struct mf_port_range *ports;
};

struct mf_rule {
	char *name;
	char *server;
	char **who; /* identities, "group:NAME" or "*" */
	size_t nwho;
	struct mf_dest *allow;
	size_t nallow;
	struct mf_dest *deny;
	size_t ndeny;
	struct mf_pos pos;
	struct mf_host *hosts; /* allow entries given by "host" */
	size_t nhosts;
};

/* An interpreter tagged at exec only when its arguments start with args
 * (argv[1], argv[2], ...): e.g. /usr/bin/node with /opt/mcp/server.js. */
struct mf_exec_args {
	char *path;
	char **args;
	size_t nargs;
};

/* Unix names and listen ports (policy_local.c). */
struct mf_local {
	char **unix_names; /* "/absolute/path" or "@abstract", as written */
	size_t nunix;
	bool unix_given;	      /* the key was there (top level: false means the defaults) */
	struct mf_port_range *listen; /* ports the server may bind, TCP and UDP */
	size_t nlisten;
};

/* A credential handed to an isolated server (policy_tenants.c). */
struct mf_credential {
	char *env;     /* environment variable, or NULL */
	char *as_file; /* file name in the server's HOME, or NULL */
	char *file;    /* root's 0600 file; "{identity}" stands for the identity */
};

/* servers.NAME.isolate, filesystem and credentials (policy_tenants.c). */
struct mf_isolation {
	bool isolate;	/* the agent launches it under a uid of its (identity, server) */
	char **fs_read; /* absolute paths readable (and executable) besides the system's */
	size_t nfs_read;
	struct mf_credential *creds;
	size_t ncreds;
};

struct mf_server {
	char *name;
	char **exec; /* absolute executable paths tagged at exec */
	size_t nexec;
	struct mf_exec_args *exec_args;
	size_t nexec_args;
	struct mf_local local; /* "unix" and "listen" */
	bool io_uring;	       /* `run` lets it set up io_uring (seccomp refuses it otherwise) */
	struct mf_isolation iso;
};

struct mf_group {
	char *name;
	char **members;
	size_t nmembers;
};

/* A trusted launcher: every given attribute must match the peer. */
struct mf_launcher {
	char *user;	   /* may be NULL */
	char *group;	   /* may be NULL */
	char *exe;	   /* absolute path of the peer's executable; may be NULL */
	char **may_assert; /* identity patterns ('*' matches any run); none: any identity */
	size_t nmay_assert;
};

#define MF_AUDIT_WINDOW_DEFAULT 10 /* seconds */
#define MF_AUDIT_WINDOW_MAX 3600
/* The resolver of governed processes (policy_hosts.c): top-level "dns". */
#define MF_DNS_MAX_UPSTREAM 4
#define MF_DNS_MIN_TTL 5 /* seconds, defaults */
#define MF_DNS_MAX_TTL 600
#define MF_DNS_TTL_LIMIT 86400

struct mf_dns_upstream {
	uint8_t family; /* MF_FAMILY_V4 or MF_FAMILY_V6 */
	uint8_t addr[16];
	uint16_t port; /* host order */
};

struct mf_dns {
	struct mf_dns_upstream upstream[MF_DNS_MAX_UPSTREAM];
	size_t nupstream; /* 0: the nameservers of /etc/resolv.conf */
	uint32_t min_ttl, max_ttl;
	bool refuse_refused; /* "refuse": "refused" (default NXDOMAIN) */
};

struct mf_policy {
	char *file; /* the file name given to mf_policy_parse, for messages */
	int version;
	bool audit_only;	 /* "mode": "audit" */
	bool audit_allowed;	 /* "audit": { "allowed": "all" or "flows" (the default) } */
	bool audit_each;	 /* "allowed": "all": a record per allowed decision */
	uint32_t audit_window_s; /* "window": decisions of a flow in one record per window */
	char *admin_group;	 /* members may read every audit record; may be NULL */
	struct mf_server *servers;
	size_t nservers;
	struct mf_group *groups;
	size_t ngroups;
	struct mf_rule *rules;
	size_t nrules;
	struct mf_launcher *launchers;
	size_t nlaunchers;
	struct mf_local local; /* top-level "unix": names every server may reach */
	size_t nunix;	       /* unix names, all lists together */
	struct mf_dns dns;
};

/*
 * Parse and validate policy text. On error returns -EINVAL (or -ENOMEM) and
 * writes "FILE:LINE:COL: message" into err. On success *out is a policy to
 * free with mf_policy_free().
 */
int mf_policy_parse(const char *text, size_t len, const char *filename, struct mf_policy **out,
		    char *err, size_t errlen);
void mf_policy_free(struct mf_policy *policy);

/* Identity and server names: 1..127 bytes of [A-Za-z0-9._@+-], no leading
 * '-', not only dots (".", "..": they are used as path components). */
bool mf_name_valid(const char *name);

/* Does name match pattern, where '*' matches any run of characters? */
bool mf_pattern_match(const char *pattern, const char *name);

/* The hash the kernel computes over an interpreter's argv[1..n] at exec:
 * FNV-1a 64 over each argument followed by its NUL. */
uint64_t mf_exec_args_hash(char *const *args, size_t nargs);

/* ---- compiled form ---- */

struct mf_flat_entry {
	uint8_t family;
	uint8_t plen;
	uint8_t addr[16];
	struct mf_rule_val val;
};

struct mf_ruleset {
	size_t nentries;
	struct mf_flat_entry *entries;
	/* Segment tables, shared by content: entry i's segments are those of
	 * entries[table_of[i]], the first entry with the same; ntables such. */
	uint32_t *table_of;
	size_t ntables;
};

struct mf_compiled_binding {
	const char *identity; /* NULL: any identity; points into the policy */
	const char *server;   /* points into the policy */
	uint32_t ruleset;     /* index into rulesets */
};

struct mf_compiled {
	size_t nrulesets;
	struct mf_ruleset *rulesets;
	size_t nbindings;
	struct mf_compiled_binding *bindings;
};

/*
 * Compile a parsed policy. Every (server, identity) pair that the policy
 * names gets a binding to the ruleset of the rules that apply to it (those
 * naming the identity, one of its groups, or "*"); a (server, any identity)
 * binding holds the "*" rules. Identical rulesets are shared.
 * The compiled form keeps pointers into policy: free it first.
 * Returns 0, or -EINVAL with "FILE:LINE:COL: PATH: message" in err, at the
 * rule or entry concerned (e.g. a prefix needing more than MF_MAX_SEGS port
 * segments, or the rule that crosses a limit), or -ENOMEM.
 */
int mf_policy_compile(const struct mf_policy *policy, struct mf_compiled **out, char *err,
		      size_t errlen);
void mf_compiled_free(struct mf_compiled *compiled);

/* Set rs->table_of and rs->ntables from the entries' segments (compiling
 * does; the agent too, for rulesets of an older layout): 0 or -ENOMEM. */
int mf_ruleset_share_tables(struct mf_ruleset *rs);

/*
 * Decide as the kernel does: longest-prefix lookup of (family, addr) in the
 * ruleset, then the first segment holding (proto bit, port). Returns MF_ALLOW
 * or MF_DENY and sets *rule (MF_RULE_DEFAULT when nothing matched).
 * addr: 4 bytes for MF_FAMILY_V4, 16 for MF_FAMILY_V6.
 */
int mf_compiled_decide(const struct mf_compiled *compiled, uint32_t ruleset, uint8_t family,
		       const uint8_t *addr, uint8_t proto_bit, uint16_t port, uint16_t *rule);

/*
 * The reference semantics, straight from the policy text, for tests and
 * `policy explain`: among the allow and deny entries of the rules that apply
 * to (identity, server) whose family, prefix, protocol and ports hold the
 * destination, the longest prefix decides; deny wins a tie; the lowest rule
 * index is reported; nothing matches: deny. identity NULL stands for an
 * identity that no rule names: only the "*" rules apply to it.
 */
int mf_policy_decide(const struct mf_policy *policy, const char *identity, const char *server,
		     uint8_t family, const uint8_t *addr, uint8_t proto_bit, uint16_t port,
		     uint16_t *rule);

/* Does the rule apply to identity (NULL: an identity no rule names)? */
bool mf_rule_applies(const struct mf_policy *policy, const struct mf_rule *rule,
		     const char *identity);

/*
 * How the kernel judges a destination before its lookup: an IPv4-mapped IPv6
 * address is IPv4; 0.0.0.0 is 127.0.0.1 and :: is ::1 (where connect() sends
 * them). Writes the address to judge into out (16 bytes, IPv4 in the first 4)
 * and returns its family, or 0 when family is neither MF_FAMILY_V4 nor V6.
 * Both decide functions apply it.
 */
uint8_t mf_dest_normalize(uint8_t family, const uint8_t *addr, uint8_t out[16]);

/* Whether addr (of the cidr's family) lies in the cidr's prefix. */
bool mf_cidr_contains(const struct mf_cidr *cidr, const uint8_t *addr);

/* "10.0.0.0/8", "2001:db8::/32"; buf of at least MF_CIDR_STRLEN bytes. */
#define MF_CIDR_STRLEN 51
const char *mf_cidr_format(const struct mf_cidr *cidr, char *buf, size_t len);

/* ---- local sockets and inbound (policy_local.c) ---- */

/* Where a servers.NAME or top-level local key failed: key, element (-1: the
 * key itself) and the message; the parser turns it into FILE:LINE:COL. */
struct mf_local_error {
	const char *key;
	long index;
	char msg[256];
};

/* Fill e (the key, the index in its array or -1, the message): -EINVAL. */
int mf_local_fail(struct mf_local_error *e, const char *key, long index, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Parse "unix" (and, for a server, "listen") of obj into out; *nunix counts
 * the names of the whole policy. -EINVAL with e filled, or -ENOMEM. */
struct json_t;
int mf_local_parse(struct json_t *obj, bool server, struct mf_local *out, size_t *nunix,
		   struct mf_local_error *e);
void mf_local_free(struct mf_local *local);

/* The names granted to every governed process: the top-level "unix", or
 * when it is absent the defaults (local log sinks, no network deputy). */
const struct mf_local *mf_local_any(const struct mf_policy *policy);

/* The bytes a name stands for in sun_path (abstract: a leading NUL), into
 * out[MF_UNIX_PATH_MAX]; returns their length, or -1 for an invalid name. */
int mf_unix_name_bytes(const char *name, uint8_t *out);

/* ---- isolated servers (policy_tenants.c) ---- */

#define MF_MAX_FS_READ 64     /* filesystem.read paths of one server */
#define MF_MAX_CREDENTIALS 16 /* credentials of one server */
#define MF_CREDENTIAL_NAME_MAX 64

/* Parse "isolate", "filesystem" and "credentials" of a server object into
 * out. -EINVAL with e filled, or -ENOMEM. */
int mf_isolation_parse(struct json_t *srv, struct mf_isolation *out, struct mf_local_error *e);
void mf_isolation_free(struct mf_isolation *iso);
/* The name `mcpfence credential NAME` asks by: env, else as_file. */
const char *mf_credential_name(const struct mf_credential *c);
/* The credential's file for identity, into buf; false if it does not fit. */
bool mf_credential_path(const struct mf_credential *c, const char *identity, char *buf, size_t len);

/* ---- destinations by name (policy_hosts.c) ---- */

#define MF_HOST_MAX 253 /* bytes of a name, trailing dot excluded */

/* Validate and normalize a "host" value into h->name and h->wildcard;
 * -EINVAL with a message in msg, or -ENOMEM. */
int mf_host_name_parse(const char *text, struct mf_host *h, char *msg, size_t len);

/* Normalize a queried name in place (lowercase, no trailing dot); false
 * when it is not a name a host rule could grant. */
bool mf_qname_normalize(char *name);

/* Does h grant qname (normalized)? */
bool mf_host_matches(const struct mf_host *h, const char *qname);

/*
 * The port segments that the rules of (identity, server) grant qname, into
 * segs (at most max; more are left out, which only allows less); in
 * policy_decide.c, with mf_policy_decide.
 * private_ok[i]: segment i comes from a "private": true destination.
 * Returns the number of segments (0: not granted).
 */
size_t mf_policy_host_segs(const struct mf_policy *policy, const char *identity, const char *server,
			   const char *qname, struct mf_seg *segs, bool *private_ok, size_t max);

/* Top-level "dns" of root into out (defaults when absent); -EINVAL with e. */
int mf_dns_parse(struct json_t *root, struct mf_dns *out, struct mf_local_error *e);

/* Whether an answer address lies in loopback, private, link-local, unique
 * local, CGNAT, cloud metadata or other non-public ranges (DNS rebinding). */
bool mf_addr_private(uint8_t family, const uint8_t *addr);

void mf_hosts_free(struct mf_host *hosts, size_t n);

#endif /* MCPFENCE_POLICY_H */
