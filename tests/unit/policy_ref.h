/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The compiled form looked up as the kernel looks it up (bindings, then the
 * ruleset), and its shape checked, for the tests that compare it with the
 * reference semantics (mf_policy_decide): tests/unit/test_policy.c and the
 * fuzzer tests/fuzz/fuzz_policy.c.
 */
#ifndef MCPFENCE_POLICY_REF_H
#define MCPFENCE_POLICY_REF_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

/* The ruleset bound to (identity, server): its own binding, else the "*" one. */
bool find_binding(const struct mf_compiled *c, const char *identity, const char *server,
		  uint32_t *ruleset);

/* Decide with the compiled form as the kernel would, bindings included. */
int compiled_decide(const struct mf_compiled *c, const char *identity, const char *server,
		    uint8_t family, const uint8_t *addr, uint8_t proto, uint16_t port,
		    uint16_t *rule);

/* Segments sorted by lo, within 0..65535 and at most MF_MAX_SEGS, disjoint
 * per protocol, adjacent ones not mergeable; each entry's segment table
 * (table_of) holds its segments, and no two tables are the same. */
bool segments_well_formed(const struct mf_compiled *comp);

#endif /* MCPFENCE_POLICY_REF_H */
