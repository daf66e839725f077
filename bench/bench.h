/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * mfbench: the measurement program behind `make bench` (driven by bench/run).
 *
 *   mfbench gen ...      policy files and the nftables translation of a ruleset
 *   mfbench worker ...   timed loops of one kind of operation (connect, sendto, fork)
 *   mfbench flood ...    paced denied UDP sends, for the audit pipeline
 *   mfbench dnsflood ... A queries kept in flight, for the resolver's rate
 *   mfbench report ...   the table and results JSON from the raw measurements
 */
#ifndef MFBENCH_H
#define MFBENCH_H

#include <stdint.h>
#include <time.h>

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int gen_main(int argc, char **argv);
int worker_main(int argc, char **argv);
int flood_main(int argc, char **argv);
int dnsflood_main(int argc, char **argv);
int report_main(int argc, char **argv);
int hold_main(int argc, char **argv);

/* worker.c: enter the benchmark's network namespace, drop to uid/gid. */
int enter_netns(const char *path);
int drop_privileges(uint32_t uid, uint32_t gid);

#endif /* MFBENCH_H */
