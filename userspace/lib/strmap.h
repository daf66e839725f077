/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A string -> u32 hash map (open addressing), for name -> id tables. */
#ifndef MCPFENCE_STRMAP_H
#define MCPFENCE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mf_strmap {
	struct mf_strmap_slot {
		char *key; /* owned */
		uint32_t value;
	} * slots;
	size_t cap; /* power of two */
	size_t len;
};

void mf_strmap_init(struct mf_strmap *m);
void mf_strmap_free(struct mf_strmap *m);
bool mf_strmap_get(const struct mf_strmap *m, const char *key, uint32_t *value);
/* Insert or replace: 0 or -ENOMEM. */
int mf_strmap_put(struct mf_strmap *m, const char *key, uint32_t value);

#endif /* MCPFENCE_STRMAP_H */
