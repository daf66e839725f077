// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tag bits (bpf/mcpfence.bpf.c, tag_bits): one bit per pid, set before
 * a tag is written under it. The socket hooks of every process on the host
 * skip the tag lookup while the bit is clear, so a tag written without its
 * bit would not be judged: every tag the agent writes goes through
 * tag_insert(). The bits are the kernel's map, mapped here (BPF_F_MMAPABLE)
 * and set with an atomic OR, as the fork and exec programs set them.
 *
 * A new agent's programs start with tag_bits_ready 0 and look every process
 * up. tag_bits_enable() sets it once no older program can still write a tag
 * without a bit and every tag already there has its bit.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mcpfence.skel.h"

static void tag_bit_set(struct agent *a, uint32_t pid)
{
	if (a->tag_bits && pid / 64 < a->tag_bits_words)
		__atomic_fetch_or(&a->tag_bits[pid / 64], 1ull << (pid % 64), __ATOMIC_SEQ_CST);
	/* Past the map's end the programs look the pid up: no bit needed. */
}

int tag_insert(struct agent *a, uint32_t pid, const struct mf_tag *tag)
{
	tag_bit_set(a, pid);
	return bpf_map_update_elem(bpf_map__fd(a->skel->maps.tags), &pid, tag, BPF_NOEXIST) ?
		       -errno :
		       0;
}

int tag_bits_setup(struct agent *a)
{
	struct bpf_map *map = a->skel->maps.tag_bits;
	size_t words = bpf_map__max_entries(map), page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (words * sizeof(uint64_t) + page - 1) / page * page;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);

	if (p == MAP_FAILED) {
		int err = -errno;

		fprintf(stderr, "mcpfenced: cannot map the tag bits: %s\n", strerror(-err));
		return err;
	}
	a->tag_bits = p;
	a->tag_bits_words = words;
	a->tag_bits_len = len;
	return 0;
}

void tag_bits_teardown(struct agent *a)
{
	if (a->skel && a->skel->bss)
		a->skel->bss->tag_bits_ready = 0;
	if (a->tag_bits)
		munmap(a->tag_bits, a->tag_bits_len);
	a->tag_bits = NULL;
}

/*
 * After bpf_setup() put our programs in place of any older agent's: those
 * wrote tags without bits, and one may still be running. The kernel calls
 * programs inside an RCU read-side section; MEMBARRIER_CMD_GLOBAL returns
 * after a grace period (synchronize_rcu), when no such run is left. Then
 * every tag in the map gets its bit (a walk that restarts where a key it
 * stood on was deleted; bounded), and the programs may trust a clear bit.
 * Anything failing leaves them looking every process up: slower, not open.
 */
int tag_bits_enable(struct agent *a)
{
	int fd = bpf_map__fd(a->skel->maps.tags);
	size_t steps = 0, max_steps = 4 * (size_t)bpf_map__max_entries(a->skel->maps.tags);
	uint32_t key, next;
	void *prev = NULL;

	if (!a->tag_bits)
		return 0;
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0)) {
		fprintf(stderr,
			"mcpfenced: membarrier: %s; the socket hooks look every process's tag "
			"up\n",
			strerror(errno));
		return 0;
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (++steps > max_steps) {
			fprintf(stderr, "mcpfenced: the tags map kept changing under the walk; "
					"the socket hooks look every process's tag up\n");
			return 0;
		}
		key = next;
		prev = &key;
		tag_bit_set(a, key);
	}
	a->skel->bss->tag_bits_ready = 1;
	return 0;
}
