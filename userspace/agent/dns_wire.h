/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The DNS wire format (RFC 1035), as far as the resolver of governed
 * processes needs it: read one query, read the addresses of an answer, build
 * an error reply. Every input is hostile: bounded, every length checked,
 * compression pointers only backwards and counted. No allocation, no state:
 * the fuzzer (tests/fuzz/fuzz_dns.c) links this file alone.
 */
#ifndef MCPFENCE_DNS_WIRE_H
#define MCPFENCE_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER 12
#define DNS_MSG_MAX 65535 /* a message over TCP */
#define DNS_NAME_TEXT 254 /* a name as text: 253 characters and the NUL */
#define DNS_MAX_RRS 256	  /* records of an answer looked at; more: malformed */
#define DNS_MAX_CNAMES 16 /* length of a CNAME chain followed */

#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1

#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_REFUSED 5

struct dns_question {
	uint16_t id;
	uint16_t flags;
	char name[DNS_NAME_TEXT]; /* as sent (case kept), no trailing dot; "" for the root */
	uint16_t qtype, qclass;
	size_t end; /* offset after the question */
};

/* An address of an answer, with its record's TTL. */
struct dns_addr {
	uint8_t family; /* 4 or 6 */
	uint8_t addr[16];
	uint32_t ttl;
};

/* Why a message was refused, for counters. */
enum dns_wire_error {
	DNS_OK = 0,
	DNS_ESHORT,    /* shorter than its header or a length it gives */
	DNS_EHEADER,   /* not a query, not exactly one question, an opcode other than QUERY */
	DNS_ENAME,     /* a name that does not parse (label type, length, pointer loop) */
	DNS_ECHARS,    /* a name with bytes a host name cannot hold (dot, NUL, space...) */
	DNS_EMISMATCH, /* an answer that is not the reply to the query */
	DNS_ETOOMANY,  /* more records than DNS_MAX_RRS */
	DNS_EMAX,
};

/*
 * A query: a header with QR clear, opcode QUERY, exactly one question and
 * no answer or authority records (an OPT record in the additional section
 * is allowed). Returns DNS_OK and fills q, or an error; *id_known tells
 * whether the header was read (a FORMERR reply can then be sent).
 */
enum dns_wire_error dns_parse_query(const uint8_t *msg, size_t len, struct dns_question *q,
				    bool *id_known);

/*
 * The reply to q: same id, QR set, the same single question (names compared
 * case-insensitively). Its rcode into *rcode; the A and AAAA records of the
 * answer section owned by q's name or by a name a CNAME chain from it leads
 * to (at most DNS_MAX_CNAMES links) into out (at most max; more are left
 * out and *more set). Returns DNS_OK and the count in *n, or an error.
 */
enum dns_wire_error dns_parse_answer(const uint8_t *msg, size_t len, const struct dns_question *q,
				     uint8_t *rcode, struct dns_addr *out, size_t max, size_t *n,
				     bool *more);

/*
 * An error reply to a query into out (at least DNS_HEADER bytes): its id,
 * QR and RA set, RD copied, rcode; with its question when q is parseable
 * (question given), else the header alone. Returns the length.
 */
size_t dns_error_reply(const uint8_t *query, size_t qlen, const struct dns_question *q,
		       uint8_t rcode, uint8_t *out, size_t outlen);

const char *dns_wire_strerror(enum dns_wire_error err);

#endif /* MCPFENCE_DNS_WIRE_H */
