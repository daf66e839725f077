// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer harness for the DNS wire format (userspace/agent/dns_wire.c):
 * every input is read as a query, and as an answer to a fixed query and to
 * the query it parses as; error replies are built from it. Properties
 * checked besides memory safety: parsed names are host-name text of at
 * most 253 characters, counts stay within their bounds, replies fit.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iuserspace/agent \
 *       tests/fuzz/fuzz_dns.c userspace/agent/dns_wire.c -o build/fuzz/fuzz_dns
 *   build/fuzz/fuzz_dns -max_total_time=60 tests/fuzz/corpus/fuzz_dns
 */
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

static void check_name(const char *name)
{
	size_t n = strnlen(name, DNS_NAME_TEXT);

	if (n >= DNS_NAME_TEXT)
		abort();
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			abort();
	}
}

static void answer_to(const uint8_t *data, size_t size, const struct dns_question *q)
{
	struct dns_addr addrs[8];
	size_t n = 0;
	uint8_t rcode;
	bool more;

	if (dns_parse_answer(data, size, q, &rcode, addrs, 8, &n, &more) == DNS_OK) {
		if (n > 8 || rcode > 15)
			abort();
		for (size_t i = 0; i < n; i++)
			if (addrs[i].family != 4 && addrs[i].family != 6)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct dns_question fixed = {
		.id = 0x4242,
		.name = "api.example.com",
		.qtype = DNS_TYPE_A,
		.qclass = DNS_CLASS_IN,
	};
	uint8_t out[DNS_HEADER + DNS_NAME_TEXT + 8];
	struct dns_question q;
	bool id_known;
	size_t n;

	if (dns_parse_query(data, size, &q, &id_known) == DNS_OK) {
		check_name(q.name);
		if (q.end > size)
			abort();
		n = dns_error_reply(data, size, &q, DNS_RCODE_NXDOMAIN, out, sizeof(out));
		if (n > sizeof(out))
			abort();
		answer_to(data, size, &q);
	} else if (id_known) {
		n = dns_error_reply(data, size, NULL, DNS_RCODE_FORMERR, out, sizeof(out));
		if (n != DNS_HEADER)
			abort();
	}
	answer_to(data, size, &fixed);
	return 0;
}
