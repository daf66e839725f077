// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mfbench report RAW JSON: the table (stdout) and the results file.
 *
 * RAW holds what bench/run measured, one item a line:
 *   m ROUND CASE MEDIAN_NS MIN_NS OPS ERRORS   one case of one worker run
 *   v KEY NUMBER                               a scalar (audit, memory, load time)
 *   s KEY TEXT...                              a string (machine, notes)
 *
 * A ratio row divides a case by its baseline round by round (both measured
 * in the same round, the phases of a round interleaved and their order
 * reversed every other round) and reports the median ratio and its min-max
 * over the rounds. A difference row subtracts the baseline from the case
 * round by round (p50 and p99 latencies of dns and run), a case row takes one
 * case's values (median and min-max over rounds). A scalar row shows one
 * measured value. Each row with a goal says met or MISSED.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_ROUNDS 64

struct meas {
	int round;
	char name[64];
	double med, min;
	long ops, errors;
};

struct kv {
	char key[64];
	double num;
	char text[256];
	bool is_text;
};

static char rounds_note[160];
static struct meas *meas;
static size_t nmeas, cap_meas;
static bool discarded[MAX_ROUNDS];
static int ndiscarded;
static bool use_discarded; /* fewer than 3 clean rounds: use them all */
static struct kv *kvs;
static size_t nkv, cap_kv;

enum goal { G_NONE, G_LE, G_LT, G_NEAR1, G_EQ, G_GE };

/* K_AUTO: a ratio row with den, a scalar row without. */
enum kind { K_AUTO, K_DIFF, K_CASE };

struct row {
	const char *group;
	const char *label;
	const char *num, *den; /* ratio rows: case names; scalar rows: num is the key */
	enum goal goal;
	double limit;
	const char *unit; /* scalar, difference and case rows: how to show the value */
	enum kind kind;
	const char *also; /* another BENCH_ONLY value that measures the row */
};

/* Ratios: numerator case / baseline case of the same round. */
static const struct row rows[] = {
	{ "connect", "ungoverned, agent loaded / no agent",
	  "connect.ungov", "connect.noagent", G_LE, 1.01, NULL, K_AUTO, "scope" },
	{ "connect", "ungoverned, agent --scope launched / no agent",
	  "connect.ungov_launched", "connect.noagent", G_LE, 1.01, NULL, K_AUTO, "scope" },
	{ "connect", "empty programs on the agent's hooks / no agent (the kernel's floor)",
	  "connect.floor", "connect.noagent", G_NONE, 0, NULL, K_AUTO, "flows" },
	{ "connect", "governed allow, 10 rules (audit flows, the default) / no agent",
	  "connect.allow.10", "connect.noagent", G_LE, 1.03, NULL, K_AUTO, "flows" },
	{ "connect", "governed allow, 1k rules / no agent",
	  "connect.allow.1k", "connect.noagent", G_LE, 1.03, NULL, K_AUTO, NULL },
	{ "connect", "governed allow, 100k rules / no agent",
	  "connect.allow.100k", "connect.noagent", G_LE, 1.03, NULL, K_AUTO, NULL },
	{ "connect", "governed allow, 10 rules, audit.allowed none / no agent",
	  "connect.allow_na.10", "connect.noagent", G_NONE, 0, NULL, K_AUTO, "flows" },
	{ "connect", "governed allow, 10 rules, run --no-harden / no agent",
	  "connect.allow_nh.10", "connect.noagent", G_NONE, 0, NULL, K_AUTO, "flows" },
	{ "connect", "governed deny (EPERM), 10 rules / no agent (127.0.0.2)",
	  "connect.deny.10", "connect.noagent2", G_NONE, 0, NULL, K_AUTO, "flows" },
	{ "connect", "governed deny (EPERM), 1k rules / no agent (127.0.0.2)",
	  "connect.deny.1k", "connect.noagent2", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "connect", "governed deny (EPERM), 100k rules / no agent (127.0.0.2)",
	  "connect.deny.100k", "connect.noagent2", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "connect", "allow: 100k rules / 10 rules",
	  "connect.allow.100k", "connect.allow.10", G_NEAR1, 0.03, NULL, K_AUTO, NULL },
	{ "connect", "deny: 100k rules / 10 rules",
	  "connect.deny.100k", "connect.deny.10", G_NEAR1, 0.03, NULL, K_AUTO, NULL },
	{ "sendto", "ungoverned, agent loaded / no agent",
	  "sendto.ungov", "sendto.noagent", G_LE, 1.01, NULL, K_AUTO, "scope" },
	{ "sendto", "ungoverned, agent --scope launched / no agent",
	  "sendto.ungov_launched", "sendto.noagent", G_LE, 1.01, NULL, K_AUTO, "scope" },
	{ "sendto", "empty programs on the agent's hooks / no agent (the kernel's floor)",
	  "sendto.floor", "sendto.noagent", G_NONE, 0, NULL, K_AUTO, "flows" },
	{ "sendto", "governed allow, 10 rules (audit flows, the default) / no agent",
	  "sendto.allow.10", "sendto.noagent", G_LE, 1.10, NULL, K_AUTO, "flows" },
	{ "sendto", "governed allow, 1k rules / no agent",
	  "sendto.allow.1k", "sendto.noagent", G_LE, 1.10, NULL, K_AUTO, NULL },
	{ "sendto", "governed allow, 100k rules / no agent",
	  "sendto.allow.100k", "sendto.noagent", G_LE, 1.10, NULL, K_AUTO, NULL },
	{ "sendto", "governed allow, 10 rules, audit.allowed none / no agent",
	  "sendto.allow_na.10", "sendto.noagent", G_NONE, 0, NULL, K_AUTO, "flows" },
	{ "sendto", "governed allow, 10 rules, run --no-harden / no agent",
	  "sendto.allow_nh.10", "sendto.noagent", G_NONE, 0, NULL, K_AUTO, "flows" },
	{ "sendto", "governed deny (EPERM), 10 rules / no agent (127.0.0.2)",
	  "sendto.deny.10", "sendto.noagent2", G_NONE, 0, NULL, K_AUTO, "flows" },
	{ "sendto", "governed deny (EPERM), 1k rules / no agent (127.0.0.2)",
	  "sendto.deny.1k", "sendto.noagent2", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "sendto", "governed deny (EPERM), 100k rules / no agent (127.0.0.2)",
	  "sendto.deny.100k", "sendto.noagent2", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "sendto", "allow: 100k rules / 10 rules",
	  "sendto.allow.100k", "sendto.allow.10", G_NEAR1, 0.03, NULL, K_AUTO, NULL },
	{ "sendto", "deny: 100k rules / 10 rules",
	  "sendto.deny.100k", "sendto.deny.10", G_NEAR1, 0.03, NULL, K_AUTO, NULL },
	{ "fork+exec", "ungoverned, agent loaded / no agent",
	  "fork.ungov", "fork.noagent", G_LE, 1.03, NULL, K_AUTO, NULL },
	{ "fork+exec", "governed / no agent", "fork.gov", "fork.noagent", G_LE, 1.03, NULL, K_AUTO, NULL },
	{ "fork+exec", "governed, run --no-harden / no agent",
	  "fork.gov_nh", "fork.noagent", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "nftables", "connect allow 1k: mcpfence / nft rule chain",
	  "connect.allow.1k", "connect.nftchain.1k", G_LT, 1.0, NULL, K_AUTO, NULL },
	{ "nftables", "connect allow 1k: mcpfence / nft set",
	  "connect.allow.1k", "connect.nftset.1k", G_LE, 1.02, NULL, K_AUTO, NULL },
	{ "nftables", "connect deny 1k: mcpfence / nft rule chain",
	  "connect.deny.1k", "connect.nftchain_deny.1k", G_LT, 1.0, NULL, K_AUTO, NULL },
	{ "nftables", "connect deny 1k: mcpfence / nft set",
	  "connect.deny.1k", "connect.nftset_deny.1k", G_LE, 1.02, NULL, K_AUTO, NULL },
	{ "nftables", "sendto allow 1k: mcpfence / nft rule chain",
	  "sendto.allow.1k", "sendto.nftchain.1k", G_LT, 1.0, NULL, K_AUTO, NULL },
	{ "nftables", "sendto allow 1k: mcpfence / nft set",
	  "sendto.allow.1k", "sendto.nftset.1k", G_LE, 1.02, NULL, K_AUTO, NULL },
	{ "nftables", "sendto deny 1k: mcpfence / nft rule chain",
	  "sendto.deny.1k", "sendto.nftchain_deny.1k", G_LT, 1.0, NULL, K_AUTO, NULL },
	{ "nftables", "sendto deny 1k: mcpfence / nft set",
	  "sendto.deny.1k", "sendto.nftset_deny.1k", G_LE, 1.02, NULL, K_AUTO, NULL },
	{ "nftables", "connect allow 100k: mcpfence / nft set",
	  "connect.allow.100k", "connect.nftset.100k", G_LE, 1.02, NULL, K_AUTO, NULL },
	{ "nftables", "connect deny 100k: mcpfence / nft set",
	  "connect.deny.100k", "connect.nftset_deny.100k", G_LE, 1.02, NULL, K_AUTO, NULL },
	{ "nftables", "sendto allow 100k: mcpfence / nft set",
	  "sendto.allow.100k", "sendto.nftset.100k", G_LE, 1.02, NULL, K_AUTO, NULL },
	{ "nftables", "sendto deny 100k: mcpfence / nft set",
	  "sendto.deny.100k", "sendto.nftset_deny.100k", G_LE, 1.02, NULL, K_AUTO, NULL },
	{ "nftables", "connect allow: nft set 1k / no rules",
	  "connect.nftset.1k", "connect.noagent", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "nftables", "connect allow: nft chain 1k / no rules",
	  "connect.nftchain.1k", "connect.noagent", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "nftables", "sendto allow: nft set 1k / no rules",
	  "sendto.nftset.1k", "sendto.noagent", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "nftables", "sendto allow: nft chain 1k / no rules",
	  "sendto.nftchain.1k", "sendto.noagent", G_NONE, 0, NULL, K_AUTO, NULL },
	/* Every process on the host: syscall tracepoints put all on the slow path. */
	{ "syscall", "getppid, agent loaded, no exec matches / no agent",
	  "getppid.agent", "getppid.noagent", G_LE, 1.01, NULL, K_AUTO, NULL },
	{ "syscall", "getppid, agent loaded, exec matches / no agent",
	  "getppid.agent_exec", "getppid.noagent", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "syscall", "read 1 byte of /dev/zero, agent loaded, no exec matches / no agent",
	  "read.agent", "read.noagent", G_LE, 1.01, NULL, K_AUTO, NULL },
	{ "syscall", "read 1 byte of /dev/zero, agent loaded, exec matches / no agent",
	  "read.agent_exec", "read.noagent", G_NONE, 0, NULL, K_AUTO, NULL },
	/* DNS: governed lookups through the agent's resolver, on the host's loopback. */
	{ "dns", "lookup p50 added: governed (agent's resolver) - direct to dnsmasq",
	  "dns.gov.p50", "dns.direct.p50", G_LE, 200000, "ns", K_DIFF, NULL },
	{ "dns", "lookup p99 added: governed - direct",
	  "dns.gov.p99", "dns.direct.p99", G_LE, 1000000, "ns", K_DIFF, NULL },
	{ "dns", "lookup p50, direct to dnsmasq (the baseline)",
	  "dns.direct.p50", NULL, G_NONE, 0, "ns", K_CASE, NULL },
	{ "dns", "lookup p99, direct to dnsmasq (the baseline)",
	  "dns.direct.p99", NULL, G_NONE, 0, "ns", K_CASE, NULL },
	{ "dns", "lookup p50 added, server granted by name alone",
	  "dns.named.p50", "dns.direct.p50", G_NONE, 0, "ns", K_DIFF, NULL },
	{ "dns", "queries answered per second (1 governed client, 32 in flight)",
	  "dns.qps", NULL, G_NONE, 0, "q/s", K_CASE, NULL },
	{ "dns", "agent CPU time per query", "dns.cpu_ns", NULL, G_NONE, 0, "ns", K_CASE, NULL },
	{ "dns", "queries per second of agent CPU (one core)",
	  "dns.capacity", NULL, G_GE, 20000, "q/s", K_CASE, NULL },
	{ "dns", "connect: name-learned / CIDR-granted (127.0.0.1)",
	  "connect.name", "connect.cidr", G_LE, 1.02, NULL, K_AUTO, NULL },
	/* Launch: mcpfence run /bin/true. */
	{ "launch", "run /bin/true: isolated server / plain server",
	  "launch.iso", "launch.plain", G_NONE, 0, NULL, K_AUTO, NULL },
	{ "launch", "added at the median: isolated p50 - plain p50",
	  "launch.iso.p50", "launch.plain.p50", G_LE, 5000000, "ns", K_DIFF, NULL },
	{ "launch", "isolated server, p50", "launch.iso.p50", NULL, G_NONE, 0, "ns", K_CASE, NULL },
	{ "launch", "plain server, p50", "launch.plain.p50", NULL, G_NONE, 0, "ns", K_CASE, NULL },
	/* Profile: the programs' time per operation (kernel.bpf_stats_enabled),
	 * governed, 10 rules, the default audit. */
	{ "profile", "an empty program, per run: what the statistics add to each run",
	  "profile.empty.ns", NULL, G_NONE, 0, "ns", K_AUTO, "flows" },
	{ "profile", "governed sendto: mf_sendmsg4, per datagram",
	  "profile.sendto.mf_sendmsg4.ns", NULL, G_NONE, 0, "ns", K_AUTO, "flows" },
	{ "profile", "governed sendto: every program, per datagram, net of the statistics",
	  "profile.sendto.net.ns", NULL, G_NONE, 0, "ns", K_AUTO, "flows" },
	{ "profile", "governed connect: mf_sock_create (the socket's mark), per connect",
	  "profile.connect.mf_sock_create.ns", NULL, G_NONE, 0, "ns", K_AUTO, "flows" },
	{ "profile", "governed connect: mf_connect4, per connect",
	  "profile.connect.mf_connect4.ns", NULL, G_NONE, 0, "ns", K_AUTO, "flows" },
	{ "profile", "governed connect+accept+close: every program, net of the statistics",
	  "profile.connect.net.ns", NULL, G_NONE, 0, "ns", K_AUTO, "flows" },
	/* Flows: the default audit at the highest rate, 1,000 distinct flows. */
	{ "flows", "highest rate generated (2 governed senders, 1,000 flows, all denied)",
	  "flows.rate", NULL, G_NONE, 0, "rec/s", K_AUTO, NULL },
	{ "flows", "records the kernel dropped at that rate",
	  "flows.kernel_dropped", NULL, G_EQ, 0, "records", K_AUTO, NULL },
	{ "flows", "records logged (first of each flow and window, summaries)",
	  "flows.records", NULL, G_NONE, 0, "records", K_AUTO, NULL },
	{ "flows", "distinct flows in the log", "flows.distinct", NULL, G_NONE, 0, "flows", K_AUTO, NULL },
	{ "flows", "counts add up (denied = sum of the log's counts + dropped)",
	  "flows.exact", NULL, G_EQ, 1, "bool", K_AUTO, NULL },
	/* Scalars: num is the key. */
	{ "audit", "highest rate generated (2 governed senders, all denied)",
	  "audit.max.rate", NULL, G_NONE, 0, "rec/s", K_AUTO, NULL },
	{ "audit", "records the kernel dropped at that rate (ring full)",
	  "audit.max.kernel_dropped", NULL, G_EQ, 0, "records", K_AUTO, NULL },
	{ "audit", "share the kernel dropped at that rate",
	  "audit.max.drop_pct", NULL, G_NONE, 0, "%", K_AUTO, NULL },
	{ "audit", "records dropped for the subscriber at that rate",
	  "audit.max.subscriber_dropped", NULL, G_EQ, 0, "records", K_AUTO, NULL },
	{ "audit", "highest paced rate with 0 drops (kernel and subscriber)",
	  "audit.nodrop.rate", NULL, G_NONE, 0, "rec/s", K_AUTO, NULL },
	{ "audit", "lowest paced rate with drops (0: none)",
	  "audit.firstdrop.rate", NULL, G_NONE, 0, "rec/s", K_AUTO, NULL },
	{ "audit", "agent delivery rate (records logged / s), at the highest rate",
	  "audit.agent.rate", NULL, G_NONE, 0, "rec/s", K_AUTO, NULL },
	{ "audit", "every record accounted (produced = logged + dropped, all steps)",
	  "audit.exact", NULL, G_EQ, 1, "bool", K_AUTO, NULL },
	{ "audit", "agent CPU per record", "audit.cpu_ns", NULL, G_LE, 1000, "ns", K_AUTO, NULL },
	{ "agent", "RSS, 10 rules", "rss.10", NULL, G_NONE, 0, "KiB", K_AUTO, NULL },
	{ "agent", "RSS, 10k rules", "rss.10k", NULL, G_LE, 16384, "KiB", K_AUTO, NULL },
	{ "agent", "RSS, 100k rules", "rss.100k", NULL, G_NONE, 0, "KiB", K_AUTO, NULL },
	{ "agent", "RSS, 10 rules, 1,000 governed processes (after ps)",
	  "rss.procs", NULL, G_NONE, 0, "KiB", K_AUTO, NULL },
	{ "agent", "policy load, 100k rules (median of 3)",
	  "load.100k.ms", NULL, G_LE, 1000, "ms", K_AUTO, NULL },
	{ "agent", "policy load, 100k rules (slowest of 3)",
	  "load.100k.max_ms", NULL, G_NONE, 0, "ms", K_AUTO, NULL },
	{ "agent", "agent start with a 100k-rule policy",
	  "start.100k.ms", NULL, G_NONE, 0, "ms", K_AUTO, NULL },
	{ "agent", "`mcpfence audit --follow` human rendering",
	  "render.rate", NULL, G_NONE, 0, "rec/s", K_AUTO, NULL },
	{ "agent", "`mcpfence audit --follow` records dropped for it",
	  "render.dropped", NULL, G_NONE, 0, "records", K_AUTO, NULL },
	{ "nftables", "nft load: 100k-prefix interval sets",
	  "nft.load_100k.ms", NULL, G_NONE, 0, "ms", K_AUTO, NULL },
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const struct meas *find_meas(int round, const char *name)
{
	for (size_t i = 0; i < nmeas; i++) {
		if (meas[i].round == round && strcmp(meas[i].name, name) == 0)
			return &meas[i];
	}
	return NULL;
}

static const struct kv *find_kv(const char *key)
{
	for (size_t i = 0; i < nkv; i++) {
		if (strcmp(kvs[i].key, key) == 0)
			return &kvs[i];
	}
	return NULL;
}

static const char *kv_text(const char *key, const char *dflt)
{
	const struct kv *kv = find_kv(key);

	return kv && kv->is_text ? kv->text : dflt;
}

static int read_raw(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	if (!f) {
		fprintf(stderr, "mfbench: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == 'x') {
			int r;

			if (sscanf(line, "x %d", &r) == 1 && r >= 0 && r < MAX_ROUNDS && !discarded[r]) {
				discarded[r] = true;
				ndiscarded++;
			}
		} else if (line[0] == 'm') {
			struct meas m = {};

			if (sscanf(line, "m %d %63s %lf %lf %ld %ld", &m.round, m.name, &m.med, &m.min,
				   &m.ops, &m.errors) != 6)
				continue;
			if (nmeas == cap_meas) {
				cap_meas = cap_meas ? cap_meas * 2 : 256;
				meas = realloc(meas, cap_meas * sizeof(*meas));
				if (!meas)
					return -1;
			}
			meas[nmeas++] = m;
		} else if (line[0] == 'v' || line[0] == 's') {
			struct kv kv = {};
			int off = 0;

			if (sscanf(line + 2, "%63s %n", kv.key, &off) != 1 || !off)
				continue;
			kv.is_text = line[0] == 's';
			if (kv.is_text)
				snprintf(kv.text, sizeof(kv.text), "%s", line + 2 + off);
			else
				kv.num = strtod(line + 2 + off, NULL);
			if (nkv == cap_kv) {
				cap_kv = cap_kv ? cap_kv * 2 : 64;
				kvs = realloc(kvs, cap_kv * sizeof(*kvs));
				if (!kvs)
					return -1;
			}
			/* A key given again replaces the earlier value. */
			for (size_t i = 0; i < nkv; i++) {
				if (strcmp(kvs[i].key, kv.key) == 0) {
					kvs[i] = kv;
					goto next;
				}
			}
			kvs[nkv++] = kv;
		}
next:;
	}
	fclose(f);
	return 0;
}

struct result {
	bool present;
	double med, min, max; /* ratio, or the scalar value in med */
	double num_ns, den_ns;
	int rounds;
	long errors;
	int met; /* -1: no goal */
};

static void compute(const struct row *r, struct result *res)
{
	double ratios[MAX_ROUNDS], nums[MAX_ROUNDS], dens[MAX_ROUNDS];
	int n = 0;

	memset(res, 0, sizeof(*res));
	res->met = -1;
	if (r->kind != K_AUTO) {
		for (int round = 0; round < MAX_ROUNDS; round++) {
			const struct meas *a = find_meas(round, r->num);
			const struct meas *b = r->den ? find_meas(round, r->den) : NULL;

			if (a)
				res->errors += a->errors;
			if (!a || (r->den && !b) || (discarded[round] && !use_discarded))
				continue;
			ratios[n++] = b ? a->med - b->med : a->med;
		}
		if (!n)
			return;
		res->present = true;
		res->rounds = n;
		res->med = median(ratios, n);
		res->min = ratios[0];
		res->max = ratios[n - 1];
	} else if (!r->den) {
		const struct kv *kv = find_kv(r->num);

		if (!kv || kv->is_text)
			return;
		res->present = true;
		res->med = kv->num;
	} else {
		for (int round = 0; round < MAX_ROUNDS; round++) {
			const struct meas *a = find_meas(round, r->num), *b = find_meas(round, r->den);

			if (a)
				res->errors += a->errors;
			if (!a || !b || b->med <= 0 || (discarded[round] && !use_discarded))
				continue;
			ratios[n] = a->med / b->med;
			nums[n] = a->med;
			dens[n] = b->med;
			n++;
		}
		if (!n)
			return;
		res->present = true;
		res->rounds = n;
		res->num_ns = median(nums, n);
		res->den_ns = median(dens, n);
		res->med = median(ratios, n);
		res->min = ratios[0];
		res->max = ratios[n - 1];
	}
	switch (r->goal) {
	case G_NONE:
		break;
	case G_LE:
		res->met = res->med <= r->limit;
		break;
	case G_LT:
		res->met = res->med < r->limit;
		break;
	case G_NEAR1:
		res->met = fabs(res->med - 1.0) <= r->limit;
		break;
	case G_EQ:
		res->met = res->med == r->limit;
		break;
	case G_GE:
		res->met = res->med >= r->limit;
		break;
	}
	if (res->errors)
		res->met = 0;
}

static void goal_text(const struct row *r, char *buf, size_t len)
{
	const char *u = r->unit ? r->unit : "";

	switch (r->goal) {
	case G_NONE:
		snprintf(buf, len, "-");
		break;
	case G_LE:
		if (!r->den && strcmp(u, "KiB") == 0)
			snprintf(buf, len, "<= %.0f MiB", r->limit / 1024);
		else if (strcmp(u, "ns") == 0 && r->limit >= 1000000)
			snprintf(buf, len, "<= %.0f ms", r->limit / 1000000);
		else if (strcmp(u, "ns") == 0)
			snprintf(buf, len, "<= %.0f us", r->limit / 1000);
		else if (!r->den || r->kind != K_AUTO)
			snprintf(buf, len, "<= %g %s", r->limit, u);
		else
			snprintf(buf, len, "<= %.2fx", r->limit);
		break;
	case G_LT:
		snprintf(buf, len, "< %.2fx", r->limit);
		break;
	case G_GE:
		snprintf(buf, len, ">= %g %s", r->limit, u);
		break;
	case G_NEAR1:
		snprintf(buf, len, "1 +- %.0f%%", r->limit * 100);
		break;
	case G_EQ:
		if (strcmp(u, "bool") == 0)
			snprintf(buf, len, "yes");
		else
			snprintf(buf, len, "= %g", r->limit);
		break;
	}
}

/* Syscalls take ns, connects us, launches ms. */
static void per_op_text(double ns, char *buf, size_t len)
{
	if (fabs(ns) < 1000)
		snprintf(buf, len, "%.0f ns", ns);
	else if (fabs(ns) < 1000000)
		snprintf(buf, len, "%.2f us", ns / 1000);
	else
		snprintf(buf, len, "%.2f ms", ns / 1000000);
}

static void value_text(const struct row *r, const struct result *res, char *buf, size_t len)
{
	const char *u = r->unit ? r->unit : "";

	if (!res->present) {
		snprintf(buf, len, "not measured");
		return;
	}
	if (r->kind != K_AUTO && strcmp(u, "ns") == 0) {
		char a[16], b[16], c[16];

		per_op_text(res->med, a, sizeof(a));
		per_op_text(res->min, b, sizeof(b));
		per_op_text(res->max, c, sizeof(c));
		snprintf(buf, len, "%s (%s to %s)", a, b, c);
		return;
	}
	if (r->kind != K_AUTO) {
		snprintf(buf, len, "%.0f %s (%.0f-%.0f)", res->med, u, res->min, res->max);
		return;
	}
	if (r->den) {
		snprintf(buf, len, "%.3fx (%.3f-%.3f)", res->med, res->min, res->max);
		return;
	}
	if (strcmp(u, "bool") == 0)
		snprintf(buf, len, "%s", res->med ? "yes" : "NO");
	else if (strcmp(u, "KiB") == 0)
		snprintf(buf, len, "%.1f MiB", res->med / 1024);
	else if (strcmp(u, "ns") == 0)
		snprintf(buf, len, "%.2f us", res->med / 1000);
	else if (strcmp(u, "%") == 0)
		snprintf(buf, len, "%.2f %%", res->med);
	else if (strcmp(u, "ms") == 0)
		snprintf(buf, len, "%.0f ms", res->med);
	else
		snprintf(buf, len, "%.0f %s", res->med, u);
}


static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

int report_main(int argc, char **argv)
{
	size_t nrows = sizeof(rows) / sizeof(rows[0]);
	struct result *res;
	const char *group = "", *only;
	int met = 0, missed = 0, absent = 0;
	long wrong = 0;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: mfbench report RAW JSON\n");
		return 2;
	}
	if (read_raw(argv[1]))
		return 1;
	res = calloc(nrows, sizeof(*res));
	if (!res)
		return 1;
	{
		int rounds = 0;

		for (size_t i = 0; i < nmeas; i++) {
			if (meas[i].round + 1 > rounds)
				rounds = meas[i].round + 1;
		}
		use_discarded = rounds - ndiscarded < 3;
		snprintf(rounds_note, sizeof(rounds_note),
			 "%d rounds, %d discarded (other mcpfence agents were present)%s", rounds,
			 ndiscarded, ndiscarded && use_discarded ? ", used anyway: fewer than 3 clean" : "");
	}

	only = kv_text("only", NULL);
	printf("\nmcpfence benchmarks: %s\n", kv_text("machine", "?"));
	printf("%s\n%s\n", kv_text("method", ""), rounds_note);
	printf("\n%-62s %10s %10s  %-26s %-12s %s\n", "case", "per op", "baseline",
	       "ratio: median (min-max)", "goal", "");
	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		char val[64], goal[32], num[16] = "", den[16] = "";

		compute(r, &res[i]);
		/* BENCH_ONLY=GROUP measured that group's rows alone. */
		if (only && strcmp(only, r->group) && (!r->also || strcmp(only, r->also)))
			continue;
		if (strcmp(group, r->group)) {
			group = r->group;
			printf("%s\n", group);
		}
		value_text(r, &res[i], val, sizeof(val));
		goal_text(r, goal, sizeof(goal));
		if (r->den && r->kind == K_AUTO && res[i].present) {
			per_op_text(res[i].num_ns, num, sizeof(num));
			per_op_text(res[i].den_ns, den, sizeof(den));
		}
		wrong += res[i].errors;
		if (res[i].met == 1)
			met++;
		else if (res[i].met == 0)
			missed++;
		if (!res[i].present && r->goal != G_NONE)
			absent++;
		printf("  %-60s %10s %10s  %-26s %-12s %s%s\n", r->label, num, den, val, goal,
		       res[i].met == 1 ? "met" :
		       res[i].met == 0 ? "MISSED" :
		       !res[i].present && r->goal != G_NONE ? "NOT MEASURED" : "",
		       res[i].errors ? " (operations with the wrong outcome!)" : "");
	}
	printf("\ngoals: %d met, %d missed, %d not measured\n", met, missed, absent);

	f = fopen(argv[2], "w");
	if (!f) {
		fprintf(stderr, "mfbench: cannot write %s: %s\n", argv[2], strerror(errno));
		free(res);
		return 1;
	}
	fprintf(f, "{\n  \"machine\": ");
	json_str(f, kv_text("machine", ""));
	fprintf(f, ",\n  \"method\": ");
	json_str(f, kv_text("method", ""));
	fprintf(f, ",\n  \"rounds\": ");
	json_str(f, rounds_note);
	fprintf(f, ",\n  \"date\": ");
	json_str(f, kv_text("date", ""));
	fprintf(f, ",\n  \"goals\": { \"met\": %d, \"missed\": %d, \"not_measured\": %d },\n", met,
		missed, absent);
	fprintf(f, "  \"rows\": [\n");
	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		char goal[32];

		goal_text(r, goal, sizeof(goal));
		fprintf(f, "    { \"group\": ");
		json_str(f, r->group);
		fprintf(f, ", \"case\": ");
		json_str(f, r->label);
		if (r->den) {
			fprintf(f, ", \"numerator\": ");
			json_str(f, r->num);
			fprintf(f, ", \"baseline\": ");
			json_str(f, r->den);
		} else {
			fprintf(f, ", \"key\": ");
			json_str(f, r->num);
			fprintf(f, ", \"unit\": ");
			json_str(f, r->unit);
		}
		if (!res[i].present) {
			fprintf(f, ", \"measured\": false");
		} else if (r->kind != K_AUTO) {
			fprintf(f, ", \"%s\": ", r->den ? "difference_median" : "median");
			json_num(f, res[i].med);
			fprintf(f, ", \"min\": ");
			json_num(f, res[i].min);
			fprintf(f, ", \"max\": ");
			json_num(f, res[i].max);
			fprintf(f, ", \"rounds\": %d, \"wrong_outcomes\": %ld", res[i].rounds,
				res[i].errors);
		} else if (r->den) {
			fprintf(f, ", \"ratio_median\": ");
			json_num(f, res[i].med);
			fprintf(f, ", \"ratio_min\": ");
			json_num(f, res[i].min);
			fprintf(f, ", \"ratio_max\": ");
			json_num(f, res[i].max);
			fprintf(f, ", \"per_op_ns\": ");
			json_num(f, res[i].num_ns);
			fprintf(f, ", \"baseline_ns\": ");
			json_num(f, res[i].den_ns);
			fprintf(f, ", \"rounds\": %d, \"wrong_outcomes\": %ld", res[i].rounds,
				res[i].errors);
		} else {
			fprintf(f, ", \"value\": ");
			json_num(f, res[i].med);
		}
		fprintf(f, ", \"goal\": ");
		json_str(f, goal);
		fprintf(f, ", \"met\": %s }%s\n",
			res[i].met == 1 ? "true" :
			res[i].met == 0 ? "false" :
					  "null",
			i + 1 < nrows ? "," : "");
	}
	fprintf(f, "  ],\n  \"measurements\": [\n");
	for (size_t i = 0; i < nmeas; i++) {
		fprintf(f, "    { \"round\": %d, \"case\": ", meas[i].round);
		json_str(f, meas[i].name);
		fprintf(f, ", \"median_ns\": %.1f, \"min_ns\": %.1f, \"ops\": %ld, \"errors\": %ld }%s\n",
			meas[i].med, meas[i].min, meas[i].ops, meas[i].errors,
			i + 1 < nmeas ? "," : "");
	}
	fprintf(f, "  ],\n  \"values\": {");
	for (size_t i = 0; i < nkv; i++) {
		fprintf(f, "%s\n    ", i ? "," : "");
		json_str(f, kvs[i].key);
		fprintf(f, ": ");
		if (kvs[i].is_text)
			json_str(f, kvs[i].text);
		else
			json_num(f, kvs[i].num);
	}
	fprintf(f, "\n  }\n}\n");
	if (fclose(f)) {
		fprintf(stderr, "mfbench: cannot write %s: %s\n", argv[2], strerror(errno));
		free(res);
		return 1;
	}
	free(res);
	/* Missed goals are results; operations that ended wrongly are a failure. */
	return wrong ? 1 : 0;
}
