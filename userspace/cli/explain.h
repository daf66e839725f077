/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef MCPFENCE_EXPLAIN_H
#define MCPFENCE_EXPLAIN_H

#include <jansson.h>

#include "cmdline.h"

/* One request to the agent: the reply, or NULL (said on stderr). */
typedef json_t *(*explain_call_fn)(json_t *req);

/* `mcpfence policy explain` (argv[0] is "explain"; v its entry in the
 * CLI's table); returns the exit code. */
int policy_explain(const struct cli_verb *v, int argc, char **argv, explain_call_fn call);

#endif /* MCPFENCE_EXPLAIN_H */
