// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Decisions counted by (identity, server, verdict) as audit records arrive,
 * for the metrics (metrics.c): an open-addressed table of MF_METRIC_SLOTS,
 * at most MF_METRIC_SERIES_MAX series; past that, by verdict alone.
 */
#include "agent.h"

static uint32_t series_hash(uint32_t identity, uint32_t server, uint8_t verdict)
{
	uint32_t h = identity * 2654435761u ^ server * 40503u ^ verdict;

	return (h ^ h >> 15) % MF_METRIC_SLOTS;
}

/* A judged decision of a governed process reached the agent. */
void metrics_count(struct agent *a, uint32_t identity, uint32_t server, uint8_t verdict)
{
	struct metric_series *s;
	uint32_t i;

	if (verdict > MF_WOULD_DENY) /* not a verdict the kernel writes: counted as deny */
		verdict = MF_DENY;
	i = series_hash(identity, server, verdict);
	for (;; i = (i + 1) % MF_METRIC_SLOTS) {
		s = &a->series[i];
		if (s->used && s->identity_id == identity && s->server_id == server &&
		    s->verdict == verdict) {
			s->n++;
			return;
		}
		if (!s->used)
			break;
	}
	/* Half the slots at most: probes stay short, and the count is bounded. */
	if (a->nseries >= MF_METRIC_SERIES_MAX) {
		a->series_other[verdict]++;
		return;
	}
	*s = (struct metric_series){ .used = true,
				     .identity_id = identity,
				     .server_id = server,
				     .verdict = verdict,
				     .n = 1 };
	a->nseries++;
}
