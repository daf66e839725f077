// SPDX-License-Identifier: GPL-2.0
/*
 * The verdict's rule lookups alone, on an agent's pinned rules and segtabs
 * maps (their definitions must match bpf/mcpfence.bpf.c, or libbpf refuses
 * the pins): one test run of bench() does g.n lookups of one address in one
 * ruleset and times them. mode 0: the trie, 1: the trie then the segment
 * table, 2: a segment table alone.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "mcpfence.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MF_MAP_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mf_rule_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MF_MAP_SEGTABS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct mf_rule_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} segtabs SEC(".maps");

/* in and out, through .bss (lookups_run.c has the same layout) */
struct args {
	__u32 ruleset_id;
	__u32 family;
	__u8 addr[16];
	__u32 n;
	__u32 mode;
	__u64 ns;
	__u32 hits;
} g;

struct loop_ctx {
	struct mf_rule_key key;
	__u32 mode;
	__u32 hits;
	__u32 table;
};

static long step(__u64 i, void *p)
{
	struct loop_ctx *c = p;
	__u32 *table;
	void *v;

	if (c->mode == 2) {
		v = bpf_map_lookup_elem(&segtabs, &c->table);
	} else {
		table = bpf_map_lookup_elem(&rules, &c->key);
		v = table;
		if (table && c->mode == 1)
			v = bpf_map_lookup_elem(&segtabs, table);
		if (table)
			c->table = *table;
	}
	if (v)
		c->hits++;
	return 0;
}

SEC("raw_tp")
int bench(void *ctx)
{
	struct loop_ctx c = {};
	__u64 t0;

	c.key.prefixlen = MF_RULE_KEY_FIXED_BITS + (g.family == MF_FAMILY_V4 ? 32 : 128);
	c.key.ruleset_id = g.ruleset_id;
	c.key.family = g.family;
	__builtin_memcpy(c.key.addr, g.addr, sizeof(c.key.addr));
	step(0, &c); /* mode 0: the address's table, for mode 2 */
	c.mode = g.mode;
	c.hits = 0;
	t0 = bpf_ktime_get_ns();
	bpf_loop(g.n, step, &c, 0);
	g.ns = bpf_ktime_get_ns() - t0;
	g.hits = c.hits;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
