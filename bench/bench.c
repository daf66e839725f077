// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mfbench: see bench.h and bench/README.md. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const char usage[] =
	"usage: mfbench gen|worker|flood|dnsflood|hold|report ARGS (see bench/README.md)\n";

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} verbs[] = {
		{ "gen", gen_main },
		{ "worker", worker_main },
		{ "flood", flood_main },
		{ "dnsflood", dnsflood_main },
		{ "report", report_main },
		{ "hold", hold_main },
	};

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	}
	fputs(usage, stderr);
	return 2;
}
