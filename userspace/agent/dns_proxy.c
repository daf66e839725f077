// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The resolver of governed processes. The kernel sends their port-53
 * traffic here (bpf/mcpfence.bpf.c, dns_redirect) and records who asked by
 * source port (dns_clients). A query is answered here, at once, unless a
 * rule of the asker's (identity, server) grants its name: then it is
 * forwarded upstream from the agent's own sockets (a small pool; the agent
 * is not governed: nothing redirects it), and the answer's A/AAAA addresses
 * are installed into dns_learned for that (identity, server) only, at most
 * MF_LEARNED_PER_ASKER of them, before the answer is released. Nothing blocks: listeners, upstream sockets and TCP
 * clients are all in the agent's epoll loop; timeouts are checked every
 * turn of it (dns_tick), at least every MF_AUDIT_POLL_MS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "dns_wire.h"
#include "mcpfence.skel.h"

#define UDP_MAX 4096	     /* bytes of a datagram read or forwarded (larger: dropped) */
#define PENDING_MAX 512	     /* queries upstream; more: SERVFAIL */
#define PENDING_PER_ASKER 64 /* of one (identity, server): 8 flooding pairs fill the rest */
#define UPSTREAM_SOCKS 8     /* kept open, each connected to an upstream from a random port */
#define UPSTREAM_USES 128    /* queries sent on one before it is replaced (a new port) */
#define TCP_CLIENTS_MAX 64
#define TCP_CLIENTS_PER_ASKER 8	 /* of one (identity, server): nobody holds them all */
#define UPSTREAM_TIMEOUT_MS 2000 /* per upstream tried, then the next; none left: SERVFAIL */
#define TCP_IDLE_MS 10000
#define ADDRS_MAX 64 /* addresses of one answer installed; more: SERVFAIL */
#define RESOLV_CONF "/etc/resolv.conf"
#define HOSTS_FILE "/etc/hosts"
#define HOSTS_CHECK_MS 5000 /* /etc/hosts looked at again (changed, or half max_ttl gone) */
#define HOSTS_LINES_MAX 65536

enum dns_obj {
	OBJ_LISTENER,
	OBJ_UPSTREAM,
	OBJ_TCP
};

/* What an epoll event points at: kind first (enum watch_kind), then ours. */
struct dns_watch {
	enum watch_kind kind; /* WATCH_DNS */
	enum dns_obj obj;
};

struct dns_listener {
	struct dns_watch w;
	int fd;
	uint8_t family; /* MF_FAMILY_V4 or V6 */
	bool tcp;
	uint16_t port;
};

/*
 * A socket to an upstream, connected (only its datagrams are read) from a
 * port the kernel picked at random. Kept open for UPSTREAM_USES queries, then
 * retired: it still reads the answers of its queries in flight, and is
 * closed when none is left. Queries are told apart on it by an id the agent
 * picks at random (none twice in flight) and their question.
 */
struct dns_usock {
	struct dns_watch w;
	struct dns_usock *next;
	int fd;
	struct mf_dns_upstream to;
	unsigned int uses, inflight;
	bool retired;
};

struct dns_tcp;

struct dns_query {
	struct dns_query *next;
	struct dns_usock *up; /* where it waits for its answer; NULL if nowhere */
	uint16_t up_id;	      /* its id there */
	bool done;
	/* where the answer goes: a UDP listener and peer, or a TCP client */
	struct dns_listener *listener;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct dns_tcp *tcp;
	/* the query */
	uint8_t *msg;
	size_t len;
	struct dns_question q;
	char name[DNS_NAME_TEXT]; /* normalized */
	struct mf_dns_client who;
	char identity[MF_NAME_MAX];
	bool granted;
	uint16_t resolver_rule; /* not granted, but the resolver asked is: MF_RULE_DEFAULT if not */
	struct mf_seg segs[MF_LEARNED_SEGS];
	bool priv[MF_LEARNED_SEGS];
	size_t nsegs;
	size_t upstream; /* index of the upstream tried */
	int64_t deadline_ms;
};

struct dns_tcp {
	struct dns_watch w;
	struct dns_tcp *next;
	int fd;
	bool done, busy; /* busy: a query of it is upstream */
	uint8_t family;
	uint16_t port;			 /* peer's, host order */
	uint32_t identity_id, server_id; /* who connected (dns_clients), 0: unknown */
	uint8_t in[2 + DNS_MSG_MAX];
	size_t inlen;
	uint8_t *out;
	size_t outlen, outoff;
	int64_t deadline_ms;
};

_Static_assert(MF_LEARNED_PER_ASKER >= ADDRS_MAX,
	       "the addresses of one answer do not evict one another before it is released");

enum dns_count {
	DC_QUERIES,
	DC_GRANTED,
	DC_REFUSED,
	DC_MALFORMED,
	DC_UNATTRIBUTED,
	DC_SERVFAIL,
	DC_TIMEOUTS,
	DC_INSTALLED,
	DC_PRIVATE_SKIPPED,
	DC_BUSY,
	DC_PASSTHROUGH,
	DC_EVICTED,
	DC_MAX
};

static const char *const count_names[DC_MAX] = {
	"queries",
	"granted",
	"refused",
	"malformed",
	"unattributed",
	"servfail",
	"upstream_timeouts",
	"addresses_installed",
	"private_not_installed",
	"busy",
	"resolver_allowed",
	"learned_evicted",
};

struct dns_proxy {
	struct dns_listener listeners[4]; /* udp4, udp6, tcp4, tcp6 */
	struct dns_query *queries;
	size_t npending;
	struct dns_usock *usocks;		/* open, in the pool or retired */
	struct dns_usock *pool[UPSTREAM_SOCKS]; /* those queries are sent on, in turn */
	unsigned int pool_next;
	uint16_t ids[2048]; /* random ids, used from the end */
	size_t nids;
	struct dns_tcp *tcps;
	size_t ntcp;
	struct mf_dns_upstream resolv[MF_DNS_MAX_UPSTREAM]; /* from /etc/resolv.conf */
	size_t nresolv;
	int64_t resolv_read_ms;
	/* /etc/hosts as last installed */
	struct timespec hosts_mtime;
	ino_t hosts_ino;
	int64_t hosts_checked_ms;
	uint64_t hosts_until_ns; /* what was installed from it expires then */
	uint64_t counts[DC_MAX];
	int last_error;	     /* of setup: why nothing serves */
	uint16_t hosts_rule; /* the rule being installed from /etc/hosts */
};

static int watch(struct agent *a, int fd, struct dns_watch *w, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(a->epoll_fd, op, fd, &ev) ? -errno : 0;
}

/* ---- setup ---- */

static int listen_on(struct agent *a, struct dns_listener *l)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = l->family == MF_FAMILY_V4 ? sizeof(*sin) : sizeof(*sin6);
	int domain = l->family == MF_FAMILY_V4 ? AF_INET : AF_INET6, one = 1;

	l->fd = socket(domain, (l->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (l->fd < 0)
		return -errno;
	if (l->family == MF_FAMILY_V4) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (bind(l->fd, (struct sockaddr *)&ss, len) || (l->tcp && listen(l->fd, 64)) ||
	    getsockname(l->fd, (struct sockaddr *)&ss, &len))
		return -errno;
	l->port = ntohs(l->family == MF_FAMILY_V4 ? sin->sin_port : sin6->sin6_port);
	l->w = (struct dns_watch){ WATCH_DNS, OBJ_LISTENER };
	return watch(a, l->fd, &l->w, EPOLLIN, EPOLL_CTL_ADD);
}

/* Tell the kernel where to send governed processes' DNS (0: nowhere). */
static int publish(struct agent *a, const struct mf_dns_cfg *cfg)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(bpf_map__fd(a->skel->maps.dns_cfg), &zero, cfg, BPF_ANY) ?
		       -errno :
		       0;
}

int dns_setup(struct agent *a)
{
	static const struct {
		uint8_t family;
		bool tcp;
	} kinds[4] = { { MF_FAMILY_V4, false },
		       { MF_FAMILY_V6, false },
		       { MF_FAMILY_V4, true },
		       { MF_FAMILY_V6, true } };
	struct mf_dns_cfg cfg = {};
	struct dns_proxy *d;
	int err = 0;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	a->dns = d;
	for (int i = 0; i < 4; i++) {
		d->listeners[i].fd = -1;
		d->listeners[i].family = kinds[i].family;
		d->listeners[i].tcp = kinds[i].tcp;
	}
	/* A family without loopback (no ::1) leaves its ports 0: its port-53
	 * traffic is refused (closed). */
	for (int i = 0; i < 4; i++) {
		int e = listen_on(a, &d->listeners[i]);

		if (e) {
			fprintf(stderr, "mcpfenced: dns: cannot listen on %s %s loopback: %s\n",
				kinds[i].tcp ? "TCP" : "UDP",
				kinds[i].family == MF_FAMILY_V4 ? "IPv4" : "IPv6", strerror(-e));
			if (d->listeners[i].fd >= 0)
				close(d->listeners[i].fd);
			d->listeners[i].fd = -1;
			d->listeners[i].port = 0;
			d->last_error = -e;
		}
	}
	err = learned_setup(a);
	if (err)
		return err;
	cfg.udp4 = d->listeners[0].port;
	cfg.udp6 = d->listeners[1].port;
	cfg.tcp4 = d->listeners[2].port;
	cfg.tcp6 = d->listeners[3].port;
	err = publish(a, &cfg);
	if (err)
		fprintf(stderr, "mcpfenced: dns: cannot write dns_cfg: %s\n", strerror(-err));
	return err;
}

/* ---- upstreams ---- */

/* The nameservers of /etc/resolv.conf, read again every 5 seconds. */
static void read_resolv_conf(struct dns_proxy *d)
{
	char line[256], *p;
	FILE *f;

	if (d->resolv_read_ms && clock_ms(CLOCK_MONOTONIC) - d->resolv_read_ms < 5000)
		return;
	d->resolv_read_ms = clock_ms(CLOCK_MONOTONIC);
	d->nresolv = 0;
	f = fopen(RESOLV_CONF, "re");
	if (!f)
		return;
	while (d->nresolv < MF_DNS_MAX_UPSTREAM && fgets(line, sizeof(line), f)) {
		struct mf_dns_upstream *u = &d->resolv[d->nresolv];

		if (strncmp(line, "nameserver", 10) || (line[10] != ' ' && line[10] != '\t'))
			continue;
		p = line + 10 + strspn(line + 10, " \t");
		p[strcspn(p, " \t\r\n%")] = '\0';
		u->port = 53;
		if (inet_pton(AF_INET, p, u->addr) == 1)
			u->family = MF_FAMILY_V4;
		else if (inet_pton(AF_INET6, p, u->addr) == 1)
			u->family = MF_FAMILY_V6;
		else
			continue;
		d->nresolv++;
	}
	fclose(f);
}

static const struct mf_dns_upstream *upstream(struct agent *a, size_t i)
{
	const struct mf_dns *cfg = &a->current.policy->dns;

	if (cfg->nupstream)
		return i < cfg->nupstream ? &cfg->upstream[i] : NULL;
	read_resolv_conf(a->dns);
	return i < a->dns->nresolv ? &a->dns->resolv[i] : NULL;
}

/* ---- answering ---- */

static void send_reply(struct agent *a, struct dns_query *q, const uint8_t *msg, size_t len);

static void reply_error(struct agent *a, struct dns_query *q, uint8_t rcode)
{
	uint8_t out[DNS_HEADER + DNS_NAME_TEXT + 8];
	size_t n = dns_error_reply(q->msg, q->len, &q->q, rcode, out, sizeof(out));

	if (rcode == DNS_RCODE_SERVFAIL)
		a->dns->counts[DC_SERVFAIL]++;
	send_reply(a, q, out, n);
}

/*
 * What a TCP client waits for: its reply to go out, else its next query,
 * but nothing while one is upstream (a pipelined query must not wake the
 * loop for nothing); a client that is done leaves the loop (a hung-up
 * socket is reported whatever the interest).
 */
static void tcp_rearm(struct agent *a, struct dns_tcp *t)
{
	uint32_t events = t->out ? EPOLLOUT : t->busy ? 0 : EPOLLIN;

	if (!t->done && !watch(a, t->fd, &t->w, events, EPOLL_CTL_MOD))
		return;
	t->done = true;
	epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, t->fd, NULL);
}

/* q waits for no answer any more (a late one is dropped). */
static void query_detach(struct dns_query *q)
{
	if (q->up)
		q->up->inflight--;
	q->up = NULL;
}

static void query_finish(struct agent *a, struct dns_query *q)
{
	query_detach(q);
	q->done = true;
	if (q->tcp) {
		q->tcp->busy = false;
		tcp_rearm(a, q->tcp);
	}
}

static void tcp_flush(struct agent *a, struct dns_tcp *t)
{
	while (t->outoff < t->outlen) {
		ssize_t n = send(t->fd, t->out + t->outoff, t->outlen - t->outoff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno != EAGAIN)
				t->done = true;
			tcp_rearm(a, t);
			return;
		}
		t->outoff += n;
	}
	free(t->out);
	t->out = NULL;
	t->outlen = t->outoff = 0;
	tcp_rearm(a, t);
}

static void send_reply(struct agent *a, struct dns_query *q, const uint8_t *msg, size_t len)
{
	struct dns_tcp *t = q->tcp;

	if (!len)
		return;
	if (!t) {
		/* A datagram that does not fit the socket buffer now is lost, as on
		 * the network: the client asks again. */
		sendto(q->listener->fd, msg, len, MSG_DONTWAIT, (struct sockaddr *)&q->peer,
		       q->peerlen);
		return;
	}
	if (t->done || t->out)
		return;
	t->out = malloc(len + 2);
	if (!t->out) {
		t->done = true;
		tcp_rearm(a, t);
		return;
	}
	t->out[0] = len >> 8;
	t->out[1] = len & 0xff;
	memcpy(t->out + 2, msg, len);
	t->outlen = len + 2;
	t->outoff = 0;
	tcp_flush(a, t);
}

/* ---- installing what an answer says ---- */

static void hosts_refresh(struct agent *a, bool force);

/* The new policy is in force: drop what it does not grant; install what it
 * grants of /etc/hosts. */
void dns_policy_loaded(struct agent *a)
{
	if (a->dns && a->skel) {
		learned_prune(a, true);
		hosts_refresh(a, true);
	}
}

/* Merge the segments of an entry still valid under this policy into v. */
static void merge_old(int fd, const struct mf_learned_key *k, struct mf_learned_val *v)
{
	struct mf_learned_val old;

	if (bpf_map_lookup_elem(fd, k, &old) ||
	    (old.generation != v->generation && old.generation_next != v->generation))
		return;
	if (old.expires_ns > v->expires_ns)
		v->expires_ns = old.expires_ns;
	for (uint32_t i = 0; i < old.nsegs && i < MF_LEARNED_SEGS; i++) {
		bool have = false;

		for (uint32_t j = 0; j < v->nsegs; j++)
			have |= !memcmp(&v->segs[j], &old.segs[i], sizeof(old.segs[i]));
		if (!have && v->nsegs < MF_LEARNED_SEGS)
			v->segs[v->nsegs++] = old.segs[i];
	}
}

/* Install one address for q's (identity, server). 0, 1 when skipped as
 * private, or -errno. */
static int install_one(struct agent *a, struct dns_query *q, const struct dns_addr *ad,
		       uint64_t now_ns)
{
	const struct mf_dns *cfg = &a->current.policy->dns;
	struct mf_learned_key k = { .identity_id = q->who.identity_id,
				    .server_id = q->who.server_id };
	struct mf_learned_val v = { .generation = a->current.generation };
	int fd = bpf_map__fd(a->skel->maps.dns_learned), err;
	uint32_t ttl;

	k.family =
		mf_dest_normalize(ad->family == 4 ? MF_FAMILY_V4 : MF_FAMILY_V6, ad->addr, k.addr);
	v.nsegs = learned_segs_for(&k, q->segs, q->priv, q->nsegs, v.segs);
	if (!v.nsegs)
		return 1;
	ttl = ad->ttl < cfg->min_ttl ? cfg->min_ttl : ad->ttl;
	ttl = ttl > cfg->max_ttl ? cfg->max_ttl : ttl;
	v.expires_ns = now_ns + (uint64_t)ttl * 1000000000ull;
	merge_old(fd, &k, &v);
	err = learned_note(a, &k, q->name, v.expires_ns);
	if (err)
		return err;
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

static void audit_query(struct agent *a, struct dns_query *q, const char *verdict, const char *why,
			size_t installed)
{
	json_t *rec;

	rec = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:s}", "event", "dns", "verdict",
			verdict, "identity", q->identity, "server",
			server_name(a, q->who.server_id), "pid", (json_int_t)q->who.tgid, "name",
			q->name[0] ? q->name : q->q.name, "qtype", q->q.qtype, "reason", why);
	if (rec && !strcmp(verdict, "allow"))
		json_object_set_new(rec, "installed", json_integer((json_int_t)installed));
	audit_emit(a, rec);
}

/* The answer came: install its addresses (granted names), then release it. */
static void on_answer(struct agent *a, struct dns_query *q, uint8_t *msg, size_t len)
{
	struct dns_question sent = q->q;
	struct dns_addr addrs[ADDRS_MAX];
	size_t n = 0, installed = 0;
	enum dns_wire_error err;
	uint8_t rcode;
	bool more;

	sent.id = q->up_id;
	err = dns_parse_answer(msg, len, &sent, &rcode, addrs, ADDRS_MAX, &n, &more);
	if (err == DNS_EMISMATCH)
		return; /* not the reply (late or forged): wait on */
	if (err || more) {
		a->dns->counts[DC_MALFORMED]++;
		reply_error(a, q, DNS_RCODE_SERVFAIL);
		query_finish(a, q);
		return;
	}
	for (size_t i = 0; q->granted && i < n; i++) {
		int r = install_one(a, q, &addrs[i], clock_ns(CLOCK_BOOTTIME));

		if (r < 0) {
			/* Not installed: not released either (the first connect would fail). */
			fprintf(stderr, "mcpfenced: dns: cannot install an address of %s: %s\n",
				q->name, strerror(-r));
			reply_error(a, q, DNS_RCODE_SERVFAIL);
			query_finish(a, q);
			return;
		}
		installed += r == 0;
		a->dns->counts[r ? DC_PRIVATE_SKIPPED : DC_INSTALLED]++;
	}
	if (!q->granted && q->resolver_rule != MF_RULE_DEFAULT) {
		if (a->current.policy->audit_allowed)
			audit_query(a, q, "allow", "the resolver asked is allowed by address", 0);
	} else if (!q->granted)
		audit_query(a, q, "would-deny", "no rule grants the name", 0);
	else if (a->current.policy->audit_allowed || installed < n)
		audit_query(a, q, "allow",
			    installed < n ? "answers in private ranges not installed" : "granted",
			    installed);
	msg[0] = q->q.id >> 8; /* the client's id */
	msg[1] = q->q.id & 0xff;
	send_reply(a, q, msg, len);
	query_finish(a, q);
}

/* ---- names of /etc/hosts ----
 * glibc answers them from the file: the query never reaches the resolver.
 * Those a rule grants are installed from the file for the identities the
 * rule names on its server ("*": every identity, under MF_ANY_IDENTITY), at
 * each policy load, when the file changes, and before they expire (max_ttl).
 */

static void hosts_install_one(struct agent *a, uint32_t identity_id, uint32_t server_id,
			      const struct mf_host *h, const struct mf_learned_key *addr,
			      const char *name)
{
	struct mf_learned_key k = *addr;
	struct mf_learned_val v = { .generation = a->current.generation,
				    .expires_ns = a->dns->hosts_until_ns };
	int fd = bpf_map__fd(a->skel->maps.dns_learned);
	size_t i = 0;

	if (mf_addr_private(k.family, k.addr) && !h->private_ok)
		return;
	k.identity_id = identity_id;
	k.server_id = server_id;
	do {
		v.segs[v.nsegs++] = (struct mf_seg){
			.lo = h->nports ? h->ports[i].lo : 1,
			.hi = h->nports ? h->ports[i].hi : 65535,
			.protos = h->protos,
			.verdict = MF_ALLOW,
			.rule = a->dns->hosts_rule,
		};
	} while (++i < h->nports && v.nsegs < MF_LEARNED_SEGS);
	merge_old(fd, &k, &v);
	if (!learned_note(a, &k, name, v.expires_ns) && !bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		a->dns->counts[DC_INSTALLED]++;
}

/* Every identity who names (a group's members; "*": any), as launched
 * (its identity id) and as exec-tagged (its user's uid). */
static void hosts_grant(struct agent *a, const char *who, uint32_t server_id,
			const struct mf_host *h, const struct mf_learned_key *addr,
			const char *name)
{
	const struct mf_policy *pol = a->current.policy;
	struct passwd *pw;
	uint32_t id;

	if (!strcmp(who, "*")) {
		hosts_install_one(a, MF_ANY_IDENTITY, server_id, h, addr, name);
		return;
	}
	if (!strncmp(who, "group:", 6)) {
		for (size_t g = 0; g < pol->ngroups; g++)
			for (size_t m = 0;
			     !strcmp(pol->groups[g].name, who + 6) && m < pol->groups[g].nmembers;
			     m++)
				hosts_grant(a, pol->groups[g].members[m], server_id, h, addr, name);
		return;
	}
	if (!identity_id_get(a, who, &id))
		hosts_install_one(a, id, server_id, h, addr, name);
	pw = getpwnam(who);
	if (pw)
		hosts_install_one(a, MF_UID_IDENTITY | pw->pw_uid, server_id, h, addr, name);
}

/* One name of the file at addr: the rules that grant it. */
static void hosts_name(struct agent *a, const struct mf_learned_key *addr, const char *name)
{
	const struct mf_policy *pol = a->current.policy;

	for (size_t r = 0; r < pol->nrules; r++) {
		const struct mf_rule *ru = &pol->rules[r];
		uint32_t server_id;

		for (size_t i = 0; i < ru->nhosts; i++) {
			if (!mf_host_matches(&ru->hosts[i], name) ||
			    server_id_get(a, ru->server, &server_id))
				continue;
			a->dns->hosts_rule = r;
			for (size_t w = 0; w < ru->nwho; w++)
				hosts_grant(a, ru->who[w], server_id, &ru->hosts[i], addr, name);
		}
	}
}

static void hosts_line(struct agent *a, char *line)
{
	struct mf_learned_key addr = {};
	char *tok, *save = NULL, name[DNS_NAME_TEXT];

	line[strcspn(line, "#\r\n")] = '\0';
	tok = strtok_r(line, " \t", &save);
	if (!tok)
		return;
	tok[strcspn(tok, "%")] = '\0'; /* a link-local scope */
	if (inet_pton(AF_INET, tok, addr.addr) == 1)
		addr.family = MF_FAMILY_V4;
	else if (inet_pton(AF_INET6, tok, addr.addr) == 1)
		addr.family = mf_dest_normalize(MF_FAMILY_V6, addr.addr, addr.addr);
	else
		return;
	while ((tok = strtok_r(NULL, " \t", &save))) {
		snprintf(name, sizeof(name), "%s", tok);
		if (strlen(tok) < sizeof(name) && mf_qname_normalize(name))
			hosts_name(a, &addr, name);
	}
}

/* Install what the policy grants of /etc/hosts, when it changed, when the
 * last install nears its expiry, or now (force: a policy load). */
static void hosts_refresh(struct agent *a, bool force)
{
	struct dns_proxy *d = a->dns;
	int64_t now = clock_ms(CLOCK_MONOTONIC);
	char line[1024];
	struct stat st;
	FILE *f;

	if (!d || !a->current.policy || (!force && now - d->hosts_checked_ms < HOSTS_CHECK_MS))
		return;
	d->hosts_checked_ms = now;
	if (stat(HOSTS_FILE, &st))
		return;
	if (!force && st.st_ino == d->hosts_ino && st.st_mtim.tv_sec == d->hosts_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == d->hosts_mtime.tv_nsec &&
	    clock_ns(CLOCK_BOOTTIME) + a->current.policy->dns.max_ttl * 500000000ull <
		    d->hosts_until_ns)
		return;
	f = fopen(HOSTS_FILE, "re");
	if (!f)
		return;
	d->hosts_ino = st.st_ino;
	d->hosts_mtime = st.st_mtim;
	d->hosts_until_ns =
		clock_ns(CLOCK_BOOTTIME) + a->current.policy->dns.max_ttl * 1000000000ull;
	for (int n = 0; n < HOSTS_LINES_MAX && fgets(line, sizeof(line), f); n++)
		hosts_line(a, line);
	fclose(f);
}

/* ---- forwarding ---- */

static bool same_upstream(const struct mf_dns_upstream *x, const struct mf_dns_upstream *y)
{
	return x->family == y->family && x->port == y->port &&
	       !memcmp(x->addr, y->addr, x->family == MF_FAMILY_V4 ? 4 : 16);
}

/* A new socket to u, connected: the kernel binds it to a random port. */
static struct dns_usock *usock_open(struct agent *a, const struct mf_dns_upstream *u)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct dns_usock *s;
	socklen_t len;

	if (u->family == MF_FAMILY_V4) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(u->port);
		memcpy(&sin->sin_addr, u->addr, 4);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(u->port);
		memcpy(&sin6->sin6_addr, u->addr, 16);
		len = sizeof(*sin6);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->w = (struct dns_watch){ WATCH_DNS, OBJ_UPSTREAM };
	s->to = *u;
	s->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&ss, len) ||
	    watch(a, s->fd, &s->w, EPOLLIN, EPOLL_CTL_ADD)) {
		if (s->fd >= 0)
			close(s->fd);
		free(s);
		return NULL;
	}
	s->next = a->dns->usocks;
	a->dns->usocks = s;
	return s;
}

/* No new query on s; closed by dns_tick when none waits on it. */
static void usock_retire(struct dns_proxy *d, struct dns_usock *s)
{
	for (int i = 0; i < UPSTREAM_SOCKS; i++)
		if (d->pool[i] == s)
			d->pool[i] = NULL;
	s->retired = true;
}

/* The next socket of the pool, for u: replaced when it is missing, used up
 * or connected elsewhere. */
static struct dns_usock *usock_get(struct agent *a, const struct mf_dns_upstream *u)
{
	struct dns_proxy *d = a->dns;
	unsigned int i = d->pool_next++ % UPSTREAM_SOCKS;
	struct dns_usock *s = d->pool[i];

	if (s && s->uses < UPSTREAM_USES && same_upstream(&s->to, u))
		return s;
	if (s)
		usock_retire(d, s);
	d->pool[i] = usock_open(a, u);
	return d->pool[i];
}

/* A random id that no query in flight on s has. */
static uint16_t usock_id(struct dns_proxy *d, const struct dns_usock *s)
{
	for (;;) {
		bool taken = false;
		uint16_t id;

		if (!d->nids) {
			ssize_t n = getrandom(d->ids, sizeof(d->ids), 0);

			d->nids = n > 0 ? (size_t)n / sizeof(d->ids[0]) : 0;
			if (!d->nids) /* not seen: getrandom only waits at early boot */
				d->ids[d->nids++] = (uint16_t)random();
		}
		id = d->ids[--d->nids];
		for (struct dns_query *q = d->queries; q && !taken; q = q->next)
			taken = q->up == s && q->up_id == id;
		if (!taken)
			return id;
	}
}

/* Send q to upstream q->upstream, or the next that takes it; none: SERVFAIL.
 * It goes with an id of the agent's: the client's is put back in the reply. */
/* Queries of who's (identity, server) waiting for an upstream answer. */
static unsigned int waiting_upstream(const struct dns_proxy *d, const struct mf_dns_client *who)
{
	unsigned int n = 0;

	for (const struct dns_query *q = d->queries; q; q = q->next)
		n += q->up && !q->done && q->who.identity_id == who->identity_id &&
		     q->who.server_id == who->server_id;
	return n;
}

static void forward(struct agent *a, struct dns_query *q)
{
	const struct mf_dns_upstream *u;

	query_detach(q);
	for (; (u = upstream(a, q->upstream)); q->upstream++) {
		struct dns_usock *s = usock_get(a, u);
		ssize_t n;

		if (!s)
			continue;
		q->up_id = usock_id(a->dns, s);
		q->msg[0] = q->up_id >> 8;
		q->msg[1] = q->up_id & 0xff;
		n = send(s->fd, q->msg, q->len, 0);
		q->msg[0] = q->q.id >> 8;
		q->msg[1] = q->q.id & 0xff;
		if (n == (ssize_t)q->len) {
			s->uses++;
			s->inflight++;
			q->up = s;
			q->deadline_ms = clock_ms(CLOCK_MONOTONIC) + UPSTREAM_TIMEOUT_MS;
			return;
		}
		usock_retire(a->dns, s);
	}
	reply_error(a, q, DNS_RCODE_SERVFAIL);
	query_finish(a, q);
}

/* Answers on an upstream socket: each to the query in flight there with its
 * id (and, checked by on_answer, its question). */
static void on_upstream(struct agent *a, struct dns_usock *s)
{
	uint8_t buf[UDP_MAX];

	/* A bounded batch per turn, as for the listeners; late answers are read
	 * too (and dropped), or the socket would stay readable. */
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_TRUNC);
		struct dns_query *q = NULL;
		uint16_t id;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* Refused (ICMP): what waits here tries the next upstream. */
			usock_retire(a->dns, s);
			for (q = a->dns->queries; q; q = q->next)
				if (q->up == s && !q->done) {
					q->upstream++;
					forward(a, q);
				}
			return;
		}
		if ((size_t)n > sizeof(buf)) {
			a->dns->counts[DC_MALFORMED]++;
			continue;
		}
		if (n < DNS_HEADER)
			continue;
		id = (uint16_t)(buf[0] << 8 | buf[1]);
		for (q = a->dns->queries; q; q = q->next)
			if (q->up == s && q->up_id == id && !q->done)
				break;
		if (q)
			on_answer(a, q, buf, n);
	}
}

/* ---- queries ---- */

/* A query from a governed process: who asked, then answer or forward.
 * Owns nothing on return; q is queued or finished. */
/* Do the CIDR rules of the asker allow the resolver it asked (port 53)? */
static bool resolver_allowed(struct agent *a, struct dns_query *q, uint8_t proto)
{
	const struct mf_dns_orig *o = &q->who.orig;
	int v = mf_policy_decide(a->current.policy, q->identity, server_name(a, q->who.server_id),
				 o->family, (const uint8_t *)o->addr,
				 proto == IPPROTO_TCP ? MF_PROTO_TCP : MF_PROTO_UDP, ntohs(o->port),
				 &q->resolver_rule);

	if (v != MF_ALLOW)
		q->resolver_rule = MF_RULE_DEFAULT;
	return v == MF_ALLOW;
}

static void decide(struct agent *a, struct dns_query *q, uint8_t family, uint8_t proto,
		   uint16_t port)
{
	struct mf_dns_client_key key = { .port = port, .proto = proto, .family = family };
	const struct mf_policy *pol = a->current.policy;

	if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.dns_clients), &key, &q->who)) {
		/* Not a redirected socket of a governed process: nobody to decide for. */
		a->dns->counts[DC_UNATTRIBUTED]++;
		reply_error(a, q, DNS_RCODE_REFUSED);
		query_finish(a, q);
		return;
	}
	char ibuf[MF_NAME_MAX];

	/* A table entry or ibuf: copied either way. */
	snprintf(q->identity, sizeof(q->identity), "%s",
		 identity_name(a, q->who.identity_id, ibuf, sizeof(ibuf)));
	snprintf(q->name, sizeof(q->name), "%s", q->q.name);
	if (pol && mf_qname_normalize(q->name) && q->q.qclass == DNS_CLASS_IN)
		q->nsegs = mf_policy_host_segs(pol, q->identity, server_name(a, q->who.server_id),
					       q->name, q->segs, q->priv, MF_LEARNED_SEGS);
	q->granted = q->nsegs > 0;
	q->resolver_rule = MF_RULE_DEFAULT;
	if (!q->granted && pol && resolver_allowed(a, q, proto)) {
		/* As before names: a policy that lets this process reach the resolver
		 * it asked by address lets its queries through, unfiltered; nothing
		 * is learned from them. */
		a->dns->counts[DC_PASSTHROUGH]++;
		forward(a, q);
		return;
	}
	if (!q->granted && (!pol || !pol->audit_only)) {
		a->dns->counts[DC_REFUSED]++;
		audit_query(a, q, "deny", "no rule grants the name", 0);
		reply_error(a, q,
			    pol && pol->dns.refuse_refused ? DNS_RCODE_REFUSED :
							     DNS_RCODE_NXDOMAIN);
		query_finish(a, q);
		return;
	}
	a->dns->counts[DC_GRANTED] += q->granted;
	if (waiting_upstream(a->dns, &q->who) >= PENDING_PER_ASKER) {
		/* Its own queries wait: only this asker is told to come back. */
		a->dns->counts[DC_BUSY]++;
		reply_error(a, q, DNS_RCODE_SERVFAIL);
		query_finish(a, q);
		return;
	}
	forward(a, q);
}

/* A message from a client: parse, then decide. */
static void on_query(struct agent *a, const uint8_t *msg, size_t len, struct dns_listener *l,
		     struct dns_tcp *t, const struct sockaddr_storage *peer, socklen_t peerlen)
{
	struct dns_proxy *d = a->dns;
	struct dns_query *q;
	enum dns_wire_error err;
	bool id_known;
	uint16_t port;

	d->counts[DC_QUERIES]++;
	q = calloc(1, sizeof(*q));
	if (!q || !(q->msg = malloc(len ? len : 1))) {
		free(q);
		return; /* no memory: dropped; the client asks again */
	}
	memcpy(q->msg, msg, len);
	q->len = len;
	q->listener = l;
	q->tcp = t;
	if (peer)
		memcpy(&q->peer, peer, peerlen);
	q->peerlen = peerlen;
	q->next = d->queries;
	d->queries = q;
	d->npending++;
	if (t) {
		t->busy = true;
		tcp_rearm(a, t);
	}
	err = dns_parse_query(msg, len, &q->q, &id_known);
	if (err) {
		d->counts[DC_MALFORMED]++;
		/* FORMERR to what has a query's header; the rest is dropped. */
		if (id_known && !(msg[2] & 0x80)) {
			uint8_t out[DNS_HEADER];

			send_reply(a, q, out,
				   dns_error_reply(msg, len, NULL, DNS_RCODE_FORMERR, out,
						   sizeof(out)));
		}
		query_finish(a, q);
		return;
	}
	if (d->npending > PENDING_MAX) {
		d->counts[DC_BUSY]++;
		reply_error(a, q, DNS_RCODE_SERVFAIL);
		query_finish(a, q);
		return;
	}
	if (t) {
		port = t->port;
	} else if (peer->ss_family == AF_INET) {
		port = ntohs(((const struct sockaddr_in *)peer)->sin_port);
	} else {
		port = ntohs(((const struct sockaddr_in6 *)peer)->sin6_port);
	}
	decide(a, q, l ? l->family : t->family, t ? IPPROTO_TCP : IPPROTO_UDP, port);
}

static void on_udp(struct agent *a, struct dns_listener *l)
{
	uint8_t buf[UDP_MAX];

	/* A bounded batch per turn: a flood does not starve the rest of the agent. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		ssize_t n = recvfrom(l->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&peer,
				     &plen);

		if (n < 0)
			return;
		if ((size_t)n > sizeof(buf)) {
			a->dns->counts[DC_MALFORMED]++;
			continue;
		}
		on_query(a, buf, n, l, NULL, &peer, plen);
	}
}

/* ---- DNS over TCP: one query at a time per connection ---- */

static void on_accept(struct agent *a, struct dns_listener *l)
{
	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct dns_tcp *t;

		if (fd < 0)
			return;
		uint16_t port = ntohs(peer.ss_family == AF_INET ?
					      ((struct sockaddr_in *)&peer)->sin_port :
					      ((struct sockaddr_in6 *)&peer)->sin6_port);
		struct mf_dns_client_key key = { .port = port,
						 .proto = IPPROTO_TCP,
						 .family = l->family };
		struct mf_dns_client who = {};
		unsigned int same = 0;

		/* Who connected: its SYN recorded it at egress (0: unknown, and
		 * its queries are refused as unattributed). */
		bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.dns_clients), &key, &who);
		for (struct dns_tcp *o = a->dns->tcps; o; o = o->next)
			same += !o->done && o->identity_id == who.identity_id &&
				o->server_id == who.server_id;
		if (a->dns->ntcp >= TCP_CLIENTS_MAX || same >= TCP_CLIENTS_PER_ASKER ||
		    !(t = calloc(1, sizeof(*t)))) {
			a->dns->counts[DC_BUSY]++;
			close(fd);
			continue;
		}
		t->w = (struct dns_watch){ WATCH_DNS, OBJ_TCP };
		t->fd = fd;
		t->family = l->family;
		t->port = port;
		t->identity_id = who.identity_id;
		t->server_id = who.server_id;
		t->deadline_ms = clock_ms(CLOCK_MONOTONIC) + TCP_IDLE_MS;
		t->next = a->dns->tcps;
		a->dns->tcps = t;
		a->dns->ntcp++;
		if (watch(a, fd, &t->w, EPOLLIN, EPOLL_CTL_ADD))
			t->done = true; /* not in the loop: freed on the next tick */
	}
}

static void on_tcp(struct agent *a, struct dns_tcp *t, uint32_t events)
{
	size_t need;
	ssize_t n;

	if ((events & EPOLLERR) || ((events & EPOLLHUP) && !(events & EPOLLIN))) {
		t->done = true; /* gone: a reply still upstream goes nowhere */
		tcp_rearm(a, t);
		return;
	}
	if (events & EPOLLOUT)
		tcp_flush(a, t);
	if (t->done || t->busy || t->out || !(events & EPOLLIN))
		return;
	need = t->inlen < 2 ? 2 : 2 + ((size_t)t->in[0] << 8 | t->in[1]);
	n = recv(t->fd, t->in + t->inlen, need - t->inlen, 0);
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN) {
			t->done = true;
			tcp_rearm(a, t);
		}
		return;
	}
	t->inlen += n;
	if (t->inlen < 2 || t->inlen < 2 + ((size_t)t->in[0] << 8 | t->in[1]))
		return;
	t->deadline_ms = clock_ms(CLOCK_MONOTONIC) + TCP_IDLE_MS;
	on_query(a, t->in + 2, t->inlen - 2, NULL, t, NULL, 0);
	t->inlen = 0;
}

/* ---- the loop ---- */

void dns_event(struct agent *a, enum watch_kind *kind, uint32_t events)
{
	struct dns_watch *w = (struct dns_watch *)kind;

	switch (w->obj) {
	case OBJ_LISTENER: {
		struct dns_listener *l = (struct dns_listener *)w;

		if (l->tcp)
			on_accept(a, l);
		else
			on_udp(a, l);
		break;
	}
	case OBJ_UPSTREAM:
		on_upstream(a, (struct dns_usock *)w);
		break;
	case OBJ_TCP: {
		struct dns_tcp *t = (struct dns_tcp *)w;

		if (!t->done)
			on_tcp(a, t, events);
		break;
	}
	}
}

/* After each turn of the loop: timeouts, and what finished is freed (never
 * during a batch of events, which may still point at it). */
void dns_tick(struct agent *a)
{
	struct dns_proxy *d = a->dns;
	int64_t now;

	if (!d)
		return;
	hosts_refresh(a, false);
	now = clock_ms(CLOCK_MONOTONIC);
	for (struct dns_query **pq = &d->queries, *q; (q = *pq);) {
		if (!q->done && q->up && now >= q->deadline_ms) {
			d->counts[DC_TIMEOUTS]++;
			q->upstream++;
			forward(a, q);
		}
		if (!q->done) {
			pq = &q->next;
			continue;
		}
		*pq = q->next;
		d->npending--;
		free(q->msg);
		free(q);
	}
	for (struct dns_usock **ps = &d->usocks, *s; (s = *ps);) {
		if (!s->retired || s->inflight) {
			ps = &s->next;
			continue;
		}
		*ps = s->next;
		close(s->fd);
		free(s);
	}
	for (struct dns_tcp **pt = &d->tcps, *t; (t = *pt);) {
		if (!t->busy && !t->done && now >= t->deadline_ms) {
			t->done = true;
			tcp_rearm(a, t);
		}
		if (!t->done || t->busy) {
			pt = &t->next;
			continue;
		}
		*pt = t->next;
		d->ntcp--;
		close(t->fd);
		free(t->out);
		free(t);
	}
}

json_t *dns_status(struct agent *a)
{
	struct dns_proxy *d = a->dns;
	json_t *st, *cnt;

	if (!d)
		return json_pack("{s:b, s:s}", "serving", 0, "why", "not set up");
	cnt = json_object();
	d->counts[DC_EVICTED] = learned_evicted(a);
	for (int i = 0; i < DC_MAX; i++)
		json_object_set_new(cnt, count_names[i], json_integer((json_int_t)d->counts[i]));
	st = json_pack("{s:b, s:{s:i, s:i, s:i, s:i}, s:I, s:I, s:o}", "serving",
		       d->listeners[0].port || d->listeners[1].port, "ports", "udp4",
		       d->listeners[0].port, "udp6", d->listeners[1].port, "tcp4",
		       d->listeners[2].port, "tcp6", d->listeners[3].port, "pending",
		       (json_int_t)d->npending, "learned", (json_int_t)learned_count(a), "counters",
		       cnt);
	if (st && d->last_error)
		json_object_set_new(st, "error", json_string(strerror(d->last_error)));
	return st;
}

void dns_teardown(struct agent *a)
{
	struct dns_proxy *d = a->dns;
	struct mf_dns_cfg none = {};

	if (!d)
		return;
	/* Governed processes' DNS is refused from now on, not sent to a port
	 * that anyone could bind once it is free. */
	if (a->skel)
		publish(a, &none);
	for (struct dns_query *q = d->queries; q; q = q->next)
		query_finish(a, q);
	for (struct dns_tcp *t = d->tcps; t; t = t->next) {
		t->busy = false;
		t->done = true;
	}
	for (struct dns_usock *s = d->usocks; s; s = s->next)
		usock_retire(d, s);
	dns_tick(a);
	for (int i = 0; i < 4; i++)
		if (d->listeners[i].fd >= 0)
			close(d->listeners[i].fd);
	learned_teardown(a);
	free(d);
	a->dns = NULL;
}
