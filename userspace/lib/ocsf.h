/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Audit records as OCSF events (Open Cybersecurity Schema Framework,
 * schema 1.3.0), for SIEMs: `mcpfence audit --ocsf`.
 */
#ifndef MCPFENCE_OCSF_H
#define MCPFENCE_OCSF_H

#include <jansson.h>

#define MF_OCSF_VERSION "1.3.0"

/*
 * The OCSF event of one audit record (docs/audit-schema.json), a new
 * reference: Network Activity (4001) for connections, datagrams, binds and
 * listens; DNS Activity (4003) for the resolver's answers; Base Event (0)
 * for everything else, so that no record is left out. The whole record is
 * kept under "unmapped". NULL only when out of memory.
 */
json_t *mf_ocsf_event(const json_t *record);

#endif /* MCPFENCE_OCSF_H */
