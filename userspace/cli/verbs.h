/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The verbs that live in files of their own, for main.c's table: each gives
 * its --help prose, its options and what runs it.
 */
#ifndef MCPFENCE_CLI_VERBS_H
#define MCPFENCE_CLI_VERBS_H

#include "cmdline.h"

/* run.c: tag (or have the agent launch) a server, then exec it */
extern const char run_text[];
extern const struct cli_opt run_opts[];
int cmd_run(const struct cli_verb *v, int argc, char **argv);

/* audit.c: the records, from the agent's stream or the log file */
extern const char audit_text[];
extern const struct cli_opt audit_opts[];
int cmd_audit(const struct cli_verb *v, int argc, char **argv);

#endif /* MCPFENCE_CLI_VERBS_H */
