// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's floor (bench/README.md, "Floor"): one program per cgroup hook
 * the agent attaches for sockets of the host's processes, each letting
 * everything through at once. With these attached at the cgroup root the
 * bench measures what the hooks cost before any program does anything: the
 * kernel's dispatch (and, for UDP sendmsg, the socket lock it takes around
 * the program). The unix-socket hooks are left out: the workers make none.
 * The program's name after "floor_" is bpftool's attach type.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* A program named floor_HOOK in SEC(section) that lets everything through. */
#define PASS(section, hook, ctx_type)   \
	SEC(section)                    \
	int floor_##hook(ctx_type *ctx) \
	{                               \
		return 1;               \
	}

PASS("cgroup/connect4", connect4, struct bpf_sock_addr)
PASS("cgroup/connect6", connect6, struct bpf_sock_addr)
PASS("cgroup/sendmsg4", sendmsg4, struct bpf_sock_addr)
PASS("cgroup/sendmsg6", sendmsg6, struct bpf_sock_addr)
PASS("cgroup/recvmsg4", recvmsg4, struct bpf_sock_addr)
PASS("cgroup/recvmsg6", recvmsg6, struct bpf_sock_addr)
PASS("cgroup/bind4", bind4, struct bpf_sock_addr)
PASS("cgroup/bind6", bind6, struct bpf_sock_addr)
PASS("cgroup/sock_create", sock_create, struct bpf_sock)
PASS("cgroup/setsockopt", setsockopt, struct bpf_sockopt)
PASS("cgroup_skb/egress", egress, struct __sk_buff)
PASS("cgroup_skb/ingress", ingress, struct __sk_buff)
