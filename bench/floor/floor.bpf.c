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

#define PASS_SOCK_ADDR(hook)                        \
	SEC("cgroup/" #hook)                        \
	int floor_##hook(struct bpf_sock_addr *ctx) \
	{                                           \
		return 1;                           \
	}

PASS_SOCK_ADDR(connect4)
PASS_SOCK_ADDR(connect6)
PASS_SOCK_ADDR(sendmsg4)
PASS_SOCK_ADDR(sendmsg6)
PASS_SOCK_ADDR(recvmsg4)
PASS_SOCK_ADDR(recvmsg6)
PASS_SOCK_ADDR(bind4)
PASS_SOCK_ADDR(bind6)

SEC("cgroup/sock_create")
int floor_sock_create(struct bpf_sock *ctx)
{
	return 1;
}

SEC("cgroup/setsockopt")
int floor_setsockopt(struct bpf_sockopt *ctx)
{
	return 1;
}

SEC("cgroup_skb/egress")
int floor_egress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/ingress")
int floor_ingress(struct __sk_buff *skb)
{
	return 1;
}
