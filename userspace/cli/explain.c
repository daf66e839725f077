// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `mcpfence policy explain`: the verdict for one (identity, server,
 * destination) and the rule that gives it, from a policy file or the
 * active policy. A destination given by name shows the rules that grant it
 * and, from the agent, the addresses learned for it now.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "explain.h"
#include "file.h"
#include "policy.h"

struct dest_arg {
	char host[MF_HOST_MAX + 2];
	uint8_t family; /* 0: a name */
	uint8_t addr[16];
	long port; /* 0: not given */
	uint8_t protos;
};

/* HOST_OR_IP[:PORT[/PROTO]]; false on a malformed one. */
static bool parse_dest(const char *s, struct dest_arg *d)
{
	char buf[MF_HOST_MAX + 64], *port = NULL, *proto, *end;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	d->protos = MF_PROTO_TCP | MF_PROTO_UDP;
	proto = strchr(buf, '/');
	if (proto) {
		*proto++ = '\0';
		if (!strcmp(proto, "tcp"))
			d->protos = MF_PROTO_TCP;
		else if (!strcmp(proto, "udp"))
			d->protos = MF_PROTO_UDP;
		else
			return false;
	}
	if (buf[0] == '[') {
		end = strchr(buf, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		*end = '\0';
		port = end[1] ? end + 2 : NULL;
		memmove(buf, buf + 1, strlen(buf + 1) + 1);
	} else if (strchr(buf, ':') && strchr(buf, ':') == strrchr(buf, ':')) {
		port = strchr(buf, ':');
		*port++ = '\0';
	}
	if (port) {
		d->port = strtol(port, &end, 10);
		if (*end || d->port < 1 || d->port > 65535)
			return false;
	}
	if (inet_pton(AF_INET, buf, d->addr) == 1)
		d->family = MF_FAMILY_V4;
	else if (inet_pton(AF_INET6, buf, d->addr) == 1)
		d->family = MF_FAMILY_V6;
	if (strlen(buf) >= sizeof(d->host))
		return false;
	strcpy(d->host, buf);
	return d->family || mf_qname_normalize(d->host);
}

static const char *proto_word(uint8_t protos)
{
	return protos == MF_PROTO_TCP ? "tcp" : protos == MF_PROTO_UDP ? "udp" : "tcp and udp";
}

static int explain_addr(const struct mf_policy *pol, const char *identity, const char *server,
			const struct dest_arg *d)
{
	static const uint8_t bits[] = { MF_PROTO_TCP, MF_PROTO_UDP };

	if (!d->port) {
		fprintf(stderr, "mcpfence: explain: an address needs a port (ADDR:PORT)\n");
		return 2;
	}
	for (int i = 0; i < 2; i++) {
		uint16_t rule;
		int v;

		if (!(d->protos & bits[i]))
			continue;
		v = mf_policy_decide(pol, identity, server, d->family, d->addr, bits[i], d->port,
				     &rule);
		printf("%s port %ld/%s: %s", d->host, d->port, proto_word(bits[i]),
		       v == MF_ALLOW ? "allow" : "deny");
		if (rule == MF_RULE_DEFAULT)
			printf(" (no rule matches: default deny%s)\n",
			       " unless learned from a granted name");
		else
			printf(" by rule '%s' (rules[%u])\n", pol->rules[rule].name, rule);
	}
	return 0;
}

static void print_learned(json_t *learned)
{
	size_t i, k;
	json_t *e, *p;

	if (!json_array_size(learned)) {
		printf("  learned now: none (nothing resolved it, or it expired)\n");
		return;
	}
	json_array_foreach(learned, i, e) {
		printf("  learned now: %s for %llds:",
		       json_string_value(json_object_get(e, "addr")),
		       (long long)json_integer_value(json_object_get(e, "expires_in_s")));
		json_array_foreach(json_object_get(e, "ports"), k, p)
			printf(" %lld-%lld/%s",
			       (long long)json_integer_value(json_object_get(p, "lo")),
			       (long long)json_integer_value(json_object_get(p, "hi")),
			       json_string_value(json_object_get(p, "proto")));
		printf("\n");
	}
}

static int explain_host(const struct mf_policy *pol, const char *identity, const char *server,
			const struct dest_arg *d, explain_call_fn call)
{
	struct mf_seg segs[64];
	bool priv[64], holds = false;
	size_t n = mf_policy_host_segs(pol, identity, server, d->host, segs, priv, 64);
	json_t *reply;

	if (!n) {
		printf("%s: deny: no rule grants the name to %s on %s (lookups get NXDOMAIN)\n",
		       d->host, identity, server);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		printf("%s: granted by rule '%s' (rules[%u]): ports %u-%u, %s%s\n", d->host,
		       pol->rules[segs[i].rule].name, segs[i].rule, segs[i].lo, segs[i].hi,
		       proto_word(segs[i].protos), priv[i] ? ", private answers too" : "");
		holds |= (segs[i].protos & d->protos) && d->port >= segs[i].lo &&
			 d->port <= segs[i].hi;
	}
	if (d->port)
		printf("%s port %ld/%s: %s\n", d->host, d->port, proto_word(d->protos),
		       holds ? "allow, to the addresses its lookups return, for their TTL" :
			       "deny (the name is granted on other ports)");
	if (call) {
		reply = call(json_pack("{s:s, s:s, s:s, s:s}", "op", "dns_learned", "identity",
				       identity, "server", server, "name", d->host));
		if (reply)
			print_learned(json_object_get(reply, "learned"));
		json_decref(reply);
	}
	return 0;
}

/* The policy of FILE, or the active one's text from the agent. */
static struct mf_policy *load(const char *file, explain_call_fn call)
{
	struct mf_compiled *compiled = NULL;
	struct mf_policy *pol = NULL;
	char err[MF_ERR_MAX];
	const char *text;
	json_t *reply;

	if (file) {
		if (mf_policy_check_file(file, &pol, &compiled, err, sizeof(err)))
			fprintf(stderr, "%s\n", err);
		mf_compiled_free(compiled);
		return pol;
	}
	reply = call(json_pack("{s:s}", "op", "policy_show"));
	if (!reply)
		return NULL;
	text = json_string_value(json_object_get(reply, "text"));
	if (!text || mf_policy_parse(text, strlen(text), "(active policy)", &pol, err, sizeof(err)))
		fprintf(stderr, "mcpfence: %s\n", text ? err : "the agent sent no policy text");
	json_decref(reply);
	return pol;
}

int policy_explain(const struct cli_verb *v, int argc, char **argv, explain_call_fn call)
{
	const char *identity = NULL, *server = NULL, *to = NULL, *file = NULL;
	struct dest_arg d = {};
	struct mf_policy *pol;
	int opt, rc;

	optind = 1;
	while ((opt = cli_getopt(v, argc, argv)) != -1) {
		switch (opt) {
		case 'i':
			identity = optarg;
			break;
		case 's':
			server = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'p':
			file = optarg;
			break;
		default:
			cli_print_help(opt == 'h' ? stdout : stderr, "policy explain", v);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!identity || !server || !to || optind < argc) {
		cli_print_help(stderr, "policy explain", v);
		return 2;
	}
	if (!parse_dest(to, &d)) {
		fprintf(stderr, "mcpfence: explain: cannot read destination '%s'\n", to);
		return 2;
	}
	pol = load(file, call);
	if (!pol)
		return 1;
	rc = d.family ? explain_addr(pol, identity, server, &d) :
			explain_host(pol, identity, server, &d, file ? NULL : call);
	mf_policy_free(pol);
	return rc;
}
