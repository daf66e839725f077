// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The DNS wire format for the resolver of governed processes (see
 * dns_wire.h). Names are read into text: a label may hold only bytes a host
 * name can (letters, digits, '-', '_'; others are refused, so that a name
 * compared as text is the name on the wire). Compression pointers must
 * point before the label that holds them: a loop cannot be written, and the
 * number of jumps is bounded besides.
 */
#include <string.h>

#include "dns_wire.h"

#define MAX_JUMPS 64
#define QR 0x8000
#define OPCODE_MASK 0x7800
#define RD 0x0100
#define RA 0x0080
#define TC 0x0200

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool host_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/*
 * The name at *off into text (no trailing dot; the root is ""); *off moves
 * past it as it sits in the message (a pointer ends it).
 */
static enum dns_wire_error read_name(const uint8_t *msg, size_t len, size_t *off, char *text)
{
	size_t pos = *off, out = 0, end = 0, floor = *off;
	int jumps = 0;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return DNS_ESHORT;
		l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len)
				return DNS_ESHORT;
			target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			/* Only backwards, before every label read so far: no loop. */
			if (target >= floor || ++jumps > MAX_JUMPS)
				return DNS_ENAME;
			if (!end)
				end = pos + 2;
			pos = floor = target;
			continue;
		}
		if (l & 0xc0)
			return DNS_ENAME; /* extended label types (0x40, 0x80): not used */
		if (l == 0) {
			pos++;
			break;
		}
		if (pos + 1 + l > len)
			return DNS_ESHORT;
		if (out + l + 1 >= DNS_NAME_TEXT)
			return DNS_ENAME; /* longer than a name may be */
		if (out)
			text[out++] = '.';
		for (size_t i = 0; i < l; i++) {
			if (!host_byte(msg[pos + 1 + i]))
				return DNS_ECHARS;
			text[out++] = (char)msg[pos + 1 + i];
		}
		pos += 1 + l;
	}
	text[out] = '\0';
	*off = end ? end : pos;
	return DNS_OK;
}

static bool name_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

enum dns_wire_error dns_parse_query(const uint8_t *msg, size_t len, struct dns_question *q,
				    bool *id_known)
{
	size_t off = DNS_HEADER;
	enum dns_wire_error err;

	*id_known = false;
	if (len < DNS_HEADER)
		return DNS_ESHORT;
	*id_known = true;
	q->id = get16(msg);
	q->flags = get16(msg + 2);
	if ((q->flags & QR) || (q->flags & OPCODE_MASK) || get16(msg + 4) != 1 || get16(msg + 6) ||
	    get16(msg + 8) || get16(msg + 10) > 1)
		return DNS_EHEADER;
	err = read_name(msg, len, &off, q->name);
	if (err)
		return err;
	if (off + 4 > len)
		return DNS_ESHORT;
	q->qtype = get16(msg + off);
	q->qclass = get16(msg + off + 2);
	q->end = off + 4;
	return DNS_OK;
}

/* One resource record's fields; *off moves past it. */
struct rr {
	char owner[DNS_NAME_TEXT];
	uint16_t type, class_;
	uint32_t ttl;
	size_t rdata, rdlen;
};

static enum dns_wire_error read_rr(const uint8_t *msg, size_t len, size_t *off, struct rr *rr)
{
	enum dns_wire_error err = read_name(msg, len, off, rr->owner);

	if (err)
		return err;
	if (*off + 10 > len)
		return DNS_ESHORT;
	rr->type = get16(msg + *off);
	rr->class_ = get16(msg + *off + 2);
	rr->ttl = get32(msg + *off + 4);
	rr->rdlen = get16(msg + *off + 8);
	rr->rdata = *off + 10;
	if (rr->rdata + rr->rdlen > len)
		return DNS_ESHORT;
	*off = rr->rdata + rr->rdlen;
	return DNS_OK;
}

/* Names of the chain from the question: chain[0] is its name. */
struct chain {
	char names[DNS_MAX_CNAMES + 1][DNS_NAME_TEXT];
	size_t n;
};

static bool in_chain(const struct chain *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (name_eq(c->names[i], name))
			return true;
	return false;
}

/* Follow the CNAMEs of the answer section (which starts at off) from the
 * question's name, in any order they come. */
static enum dns_wire_error follow_cnames(const uint8_t *msg, size_t len, size_t off,
					 uint16_t ancount, struct chain *c)
{
	bool grew = true;

	while (grew && c->n <= DNS_MAX_CNAMES) {
		size_t pos = off;

		grew = false;
		for (uint16_t i = 0; i < ancount; i++) {
			struct rr rr;
			size_t at;
			enum dns_wire_error err = read_rr(msg, len, &pos, &rr);

			if (err)
				return err;
			if (rr.type != DNS_TYPE_CNAME || rr.class_ != DNS_CLASS_IN ||
			    !name_eq(rr.owner, c->names[c->n - 1]))
				continue;
			at = rr.rdata;
			err = read_name(msg, rr.rdata + rr.rdlen, &at, c->names[c->n]);
			if (err)
				return err;
			if (in_chain(c, c->names[c->n]))
				return DNS_ENAME; /* a CNAME loop */
			if (c->n == DNS_MAX_CNAMES)
				return DNS_ETOOMANY;
			c->n++;
			grew = true;
			break;
		}
	}
	return DNS_OK;
}

enum dns_wire_error dns_parse_answer(const uint8_t *msg, size_t len, const struct dns_question *q,
				     uint8_t *rcode, struct dns_addr *out, size_t max, size_t *n,
				     bool *more)
{
	struct dns_question aq;
	struct chain chain;
	size_t off = DNS_HEADER;
	uint16_t flags, ancount;
	enum dns_wire_error err;

	*n = 0;
	*more = false;
	if (len < DNS_HEADER)
		return DNS_ESHORT;
	flags = get16(msg + 2);
	ancount = get16(msg + 6);
	if (get16(msg) != q->id || !(flags & QR) || (flags & OPCODE_MASK) || get16(msg + 4) != 1)
		return DNS_EMISMATCH;
	if (ancount > DNS_MAX_RRS)
		return DNS_ETOOMANY;
	*rcode = flags & 0xf;
	err = read_name(msg, len, &off, aq.name);
	if (err)
		return err;
	if (off + 4 > len)
		return DNS_ESHORT;
	if (!name_eq(aq.name, q->name) || get16(msg + off) != q->qtype ||
	    get16(msg + off + 2) != q->qclass)
		return DNS_EMISMATCH;
	off += 4;
	memcpy(chain.names[0], q->name, sizeof(chain.names[0]));
	chain.n = 1;
	err = follow_cnames(msg, len, off, ancount, &chain);
	if (err)
		return err;
	for (uint16_t i = 0; i < ancount; i++) {
		struct rr rr;

		err = read_rr(msg, len, &off, &rr);
		if (err)
			return err;
		if (rr.class_ != DNS_CLASS_IN || !in_chain(&chain, rr.owner))
			continue;
		if (!(rr.type == DNS_TYPE_A && rr.rdlen == 4) &&
		    !(rr.type == DNS_TYPE_AAAA && rr.rdlen == 16))
			continue;
		if (*n == max) {
			*more = true;
			continue;
		}
		out[*n].family = rr.type == DNS_TYPE_A ? 4 : 6;
		memset(out[*n].addr, 0, sizeof(out[*n].addr));
		memcpy(out[*n].addr, msg + rr.rdata, rr.rdlen);
		out[*n].ttl = rr.ttl > 0x7fffffff ? 0 : rr.ttl; /* RFC 2181 8: high bit means 0 */
		(*n)++;
	}
	return DNS_OK;
}

size_t dns_error_reply(const uint8_t *query, size_t qlen, const struct dns_question *q,
		       uint8_t rcode, uint8_t *out, size_t outlen)
{
	uint16_t flags;
	size_t n = DNS_HEADER;

	if (outlen < DNS_HEADER || qlen < 2)
		return 0;
	memset(out, 0, DNS_HEADER);
	memcpy(out, query, 2);
	flags = QR | RA | (qlen >= 4 ? (get16(query + 2) & RD) : 0) | (rcode & 0xf);
	out[2] = flags >> 8;
	out[3] = flags & 0xff;
	if (q && q->end <= qlen && q->end <= outlen) {
		memcpy(out + DNS_HEADER, query + DNS_HEADER, q->end - DNS_HEADER);
		out[5] = 1; /* one question */
		n = q->end;
	}
	return n;
}

const char *dns_wire_strerror(enum dns_wire_error err)
{
	static const char *const names[DNS_EMAX] = {
		[DNS_OK] = "ok",
		[DNS_ESHORT] = "truncated",
		[DNS_EHEADER] = "not a query with one question",
		[DNS_ENAME] = "malformed name",
		[DNS_ECHARS] = "name with bytes a host name cannot hold",
		[DNS_EMISMATCH] = "not the reply to the query",
		[DNS_ETOOMANY] = "too many records",
	};

	return err < DNS_EMAX ? names[err] : "unknown";
}
