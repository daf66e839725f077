// SPDX-License-Identifier: GPL-2.0
/* lookups_run OBJ PIN_DIR RULESET ADDRESS MODE: the best of 50 test runs of
 * 100k lookups, in ns per lookup (see lookups.bpf.c). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mcpfence.h"

struct args {
	uint32_t ruleset_id;
	uint32_t family;
	uint8_t addr[16];
	uint32_t n;
	uint32_t mode;
	uint64_t ns;
	uint32_t hits;
};

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	double best = 1e9;
	struct args a = { 0 };
	int prog, bss, zero = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: lookups_run OBJ PIN_DIR RULESET ADDRESS MODE\n");
		return 2;
	}
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = argv[2]);
	obj = bpf_object__open_file(argv[1], &opts);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "lookups_run: cannot load %s on the pins of %s\n", argv[1],
			argv[2]);
		return 1;
	}
	prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "bench"));
	bss = bpf_map__fd(bpf_object__find_map_by_name(obj, ".bss"));
	for (int r = 0; r < 50; r++) {
		uint64_t args[1] = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));

		a = (struct args){ .ruleset_id = atoi(argv[3]),
				   .n = 100000,
				   .mode = atoi(argv[5]) };
		a.family = inet_pton(AF_INET, argv[4], a.addr) == 1 ? MF_FAMILY_V4 : MF_FAMILY_V6;
		if (a.family == MF_FAMILY_V6 && inet_pton(AF_INET6, argv[4], a.addr) != 1) {
			fprintf(stderr, "lookups_run: not an address: %s\n", argv[4]);
			return 2;
		}
		if (bpf_map_update_elem(bss, &zero, &a, 0) || bpf_prog_test_run_opts(prog, &run) ||
		    bpf_map_lookup_elem(bss, &zero, &a)) {
			perror("lookups_run: test run");
			return 1;
		}
		if ((double)a.ns / a.n < best)
			best = (double)a.ns / a.n;
	}
	printf("ruleset %s %s mode %s: %.1f ns per lookup (%u of %u found)\n", argv[3], argv[4],
	       argv[5], best, a.hits, a.n);
	bpf_object__close(obj);
	return 0;
}
