// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The DNS wire format of the resolver (userspace/agent/dns_wire.c) against
 * the messages a hostile client or upstream would send: compression loops
 * and forward pointers, names too long, bytes no host name holds, more than
 * one question, answers to another query, CNAME chains and loops. Printed
 * as TAP.
 */
#include <stdio.h>
#include <string.h>

#include "../../userspace/agent/dns_wire.h"
#include "tap.h"

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	put(m, b, 2);
}

static void header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void name(struct msg *m, const char *n)
{
	while (*n) {
		size_t l = strcspn(n, ".");
		uint8_t len = l;

		put(m, &len, 1);
		put(m, n, l);
		n += l + (n[l] == '.');
	}
	put(m, "", 1);
}

static void question(struct msg *m, const char *n, uint16_t type)
{
	name(m, n);
	put16(m, type);
	put16(m, DNS_CLASS_IN);
}

static void rr(struct msg *m, uint16_t owner_ptr, uint16_t type, uint32_t ttl, const void *rd,
	       uint16_t rdlen)
{
	put16(m, 0xc000 | owner_ptr);
	put16(m, type);
	put16(m, DNS_CLASS_IN);
	put16(m, ttl >> 16);
	put16(m, ttl & 0xffff);
	put16(m, rdlen);
	put(m, rd, rdlen);
}

static void test_queries(void)
{
	struct dns_question q;
	struct msg m;
	bool id;

	subtest_start("queries: one question, names as text, hostile forms refused");
	header(&m, 0x1234, 0x0100, 1, 0);
	question(&m, "API.Example.com", DNS_TYPE_AAAA);
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_OK, "a plain query");
	ASSERT_STREQ(q.name, "API.Example.com", "its name, case kept");
	ASSERT_EQ(q.qtype, DNS_TYPE_AAAA, "its type");
	ASSERT_EQ(q.end, m.n, "its end");

	header(&m, 1, 0x0100, 2, 0);
	question(&m, "a.com", 1);
	question(&m, "b.com", 1);
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_EHEADER, "two questions");
	ASSERT_TRUE(id, "but its header was read (FORMERR)");
	header(&m, 1, 0x8100, 1, 0);
	question(&m, "a.com", 1);
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_EHEADER, "a response is not a query");
	ASSERT_EQ(dns_parse_query(m.b, 5, &q, &id), DNS_ESHORT, "short");
	ASSERT_TRUE(!id, "no header");

	header(&m, 1, 0x0100, 1, 0);
	put(&m, "\xc0\x0c", 2); /* points at itself */
	put16(&m, 1);
	put16(&m, 1);
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_ENAME, "a pointer loop");
	header(&m, 1, 0x0100, 1, 0);
	put(&m, "\xc0\x20", 2); /* forward */
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_ENAME, "a forward pointer");
	header(&m, 1, 0x0100, 1, 0);
	put(&m,
	    "\x03"
	    "a.b\x03"
	    "com\x00\x00\x01\x00\x01",
	    13);
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_ECHARS, "a dot inside a label");
	header(&m, 1, 0x0100, 1, 0);
	put(&m,
	    "\x03"
	    "a\0b\x00\x00\x01\x00\x01",
	    9);
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_ECHARS, "a NUL inside a label");
	header(&m, 1, 0x0100, 1, 0);
	for (int i = 0; i < 5; i++)
		put(&m,
		    "\x3f"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    64);
	put(&m, "\x00\x00\x01\x00\x01", 5);
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_ENAME, "a name over 253 characters");
	header(&m, 1, 0x0100, 1, 0);
	put(&m, "\x41", 1);
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_ENAME, "an extended label type");
	header(&m, 1, 0x0100, 1, 0);
	put(&m,
	    "\x20"
	    "abc",
	    4);
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_ESHORT, "a label past the end");
	subtest_end();
}

static void test_answers(void)
{
	static const uint8_t a1[4] = { 203, 0, 113, 5 }, a2[4] = { 203, 0, 113, 6 };
	struct dns_question q = { .id = 7, .name = "api.test", .qtype = 1, .qclass = 1 };
	struct dns_addr out[4];
	struct msg m, target;
	uint8_t rcode;
	size_t n;
	bool more;

	subtest_start("answers: the addresses of the chain from the question's name");
	/* api.test CNAME edge.test; edge.test A a1; api.test A a2 */
	header(&m, 7, 0x8180, 1, 3);
	question(&m, "API.test", 1);
	target.n = 0;
	name(&target, "edge.test");
	rr(&m, 12, DNS_TYPE_CNAME, 300, target.b, target.n);
	size_t edge = m.n - target.n;

	rr(&m, edge, DNS_TYPE_A, 60, a1, 4);
	put16(&m, 0xc000 | 12); /* owner: api.test again, with an A of a2 */
	put16(&m, 1);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 5);
	put16(&m, 4);
	put(&m, a2, 4);
	ASSERT_EQ(dns_parse_answer(m.b, m.n, &q, &rcode, out, 4, &n, &more), DNS_OK, "parses");
	ASSERT_EQ(n, 2, "both addresses of the chain");
	ASSERT_TRUE(!memcmp(out[0].addr, a1, 4) && out[0].ttl == 60, "through the CNAME");
	ASSERT_TRUE(!memcmp(out[1].addr, a2, 4), "of the name itself");
	ASSERT_EQ(dns_parse_answer(m.b, m.n, &q, &rcode, out, 1, &n, &more), DNS_OK, "capped");
	ASSERT_TRUE(more && n == 1, "more said");

	q.id = 8;
	ASSERT_EQ(dns_parse_answer(m.b, m.n, &q, &rcode, out, 4, &n, &more), DNS_EMISMATCH,
		  "another id");
	q.id = 7;
	snprintf(q.name, sizeof(q.name), "other.test");
	ASSERT_EQ(dns_parse_answer(m.b, m.n, &q, &rcode, out, 4, &n, &more), DNS_EMISMATCH,
		  "another question");

	/* a CNAME loop: api.test -> api.test */
	snprintf(q.name, sizeof(q.name), "api.test");
	header(&m, 7, 0x8180, 1, 1);
	question(&m, "api.test", 1);
	put16(&m, 0xc000 | 12);
	put16(&m, DNS_TYPE_CNAME);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 5);
	put16(&m, 2);
	put16(&m, 0xc000 | 12);
	ASSERT_EQ(dns_parse_answer(m.b, m.n, &q, &rcode, out, 4, &n, &more), DNS_ENAME,
		  "a CNAME loop");
	/* an rdlength past the end */
	header(&m, 7, 0x8180, 1, 1);
	question(&m, "api.test", 1);
	put16(&m, 0xc000 | 12);
	put16(&m, 1);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 5);
	put16(&m, 400);
	put(&m, a1, 4);
	ASSERT_EQ(dns_parse_answer(m.b, m.n, &q, &rcode, out, 4, &n, &more), DNS_ESHORT,
		  "rdata past the end");
	subtest_end();
}

static void test_replies(void)
{
	struct dns_question q;
	uint8_t out[300];
	struct msg m;
	bool id;
	size_t n;

	subtest_start("error replies keep the id and the question");
	header(&m, 0xbeef, 0x0100, 1, 0);
	question(&m, "nope.test", 1);
	put(&m, "\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00", 11); /* OPT: dropped */
	m.b[11] = 1;
	ASSERT_EQ(dns_parse_query(m.b, m.n, &q, &id), DNS_OK, "query with OPT");
	n = dns_error_reply(m.b, m.n, &q, DNS_RCODE_NXDOMAIN, out, sizeof(out));
	ASSERT_EQ(n, q.end, "header and question");
	ASSERT_TRUE(out[0] == 0xbe && out[1] == 0xef, "id");
	ASSERT_EQ(out[3] & 0xf, DNS_RCODE_NXDOMAIN, "rcode");
	ASSERT_TRUE(out[2] & 0x80, "QR");
	ASSERT_EQ(out[11], 0, "no additional record");
	n = dns_error_reply(m.b, m.n, NULL, DNS_RCODE_FORMERR, out, sizeof(out));
	ASSERT_EQ(n, DNS_HEADER, "FORMERR: the header alone");
	ASSERT_EQ(out[5], 0, "no question");
	subtest_end();
}

int main(void)
{
	test_queries();
	test_answers();
	test_replies();
	return tap_done();
}
