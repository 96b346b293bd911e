/*
 * NAME
 *	tally_cases - tables and a random event source for check_tally.c
 * DESCRIPTION
 *	fvs and pvs: variants of one failure-details entry and of one policy
 *	that differ in a single key field (same_as >= 0 marks a variant that
 *	must fold into an earlier key). r_event: random events over a fixed
 *	space of R_POLICIES policy keys and R_FAILURES failure entries, with
 *	the expected count of every key kept alongside.
 */
#ifndef CHECK_TALLY_CASES_H
#define CHECK_TALLY_CASES_H

#include <stdint.h>
#include <string.h>

#include "event.h"

#define DAY1 "2026-11-23"
#define DAY2 "2026-11-24"

/* Failure-details entries: every field is part of the key. */
static const struct fv {
	long c;
	const char *s, *n, *h, *r, *a, *f;
	int same_as;		/* -1: a new key; else the variant it equals */
} fvs[] = {
	{ 202, "192.0.2.1", "mx.example.com", "helo", "198.51.100.1", "info", "why", -1 },
	{ 203, "192.0.2.1", "mx.example.com", "helo", "198.51.100.1", "info", "why", -1 },
	{ 202, "192.0.2.2", "mx.example.com", "helo", "198.51.100.1", "info", "why", -1 },
	{ 202, "192.0.2.1", "mx2.example.com", "helo", "198.51.100.1", "info", "why", -1 },
	{ 202, "192.0.2.1", "mx.example.com", "helo2", "198.51.100.1", "info", "why", -1 },
	{ 202, "192.0.2.1", "mx.example.com", "helo", "198.51.100.2", "info", "why", -1 },
	{ 202, "192.0.2.1", "mx.example.com", "helo", "198.51.100.1", "info2", "why", -1 },
	{ 202, "192.0.2.1", "mx.example.com", "helo", "198.51.100.1", "info", "why2", -1 },
	{ 202, "192.0.2.1m", "x.example.com", "helo", "198.51.100.1", "info", "why", -1 },
	{ 202, "192.0.2.1", "mx.example.com", "helo", "198.51.100.1", NULL, "why", -1 },
	{ 202, "192.0.2.1", "mx.example.com", "helo", "198.51.100.1", "", "why", 9 },
	{ 202, NULL, NULL, NULL, NULL, NULL, NULL, -1 },
	{ 202, "192.0.2.1", "mx.example.com", "helo", "198.51.100.1", "info", "why", 0 },
};

/* Policy keys: every field is part of the key, list bounds included. */
static const struct pv {
	const char *day, *d, *pr;
	long type;
	const char *pd;		/* NULL: absent, defaults to d */
	int ns, nm;
	const char *s[3], *m[3];
	int same_as;
} pvs[] = {
	{ DAY1, "example.com", "pr1", 2, "example.com", 2, 1, { "a", "b" }, { "mx1" }, -1 },
	{ DAY2, "example.com", "pr1", 2, "example.com", 2, 1, { "a", "b" }, { "mx1" }, -1 },
	{ DAY1, "example.org", "pr1", 2, "example.com", 2, 1, { "a", "b" }, { "mx1" }, -1 },
	{ DAY1, "example.com", "pr2", 2, "example.com", 2, 1, { "a", "b" }, { "mx1" }, -1 },
	{ DAY1, "example.com", "", 2, "example.com", 2, 1, { "a", "b" }, { "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 1, "example.com", 2, 1, { "a", "b" }, { "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 7, "example.com", 2, 1, { "a", "b" }, { "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 2, "mx.example.com", 2, 1, { "a", "b" }, { "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 2, "example.com", 2, 1, { "a", "c" }, { "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 2, "example.com", 2, 1, { "a", "b" }, { "mx2" }, -1 },
	{ DAY1, "example.com", "pr1", 2, "example.com", 1, 1, { "ab" }, { "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 2, "example.com", 3, 1, { "a", "b", "" }, { "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 2, "example.com", 0, 1, { NULL }, { "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 2, "example.com", 2, 0, { "a", "b" }, { NULL }, -1 },
	{ DAY1, "example.com", "pr1", 2, "example.com", 1, 2, { "a" }, { "b", "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 2, "example.com", 0, 3, { NULL }, { "a", "b", "mx1" }, -1 },
	{ DAY1, "example.com", "pr1", 2, NULL, 2, 1, { "a", "b" }, { "mx1" }, 0 },
	{ DAY1, "Example.COM.", "pr1", 2, "EXAMPLE.com", 2, 1, { "a", "b" }, { "mx1" }, 0 },
	{ DAY1, "example.com", "pr1", 2, "example.com", 2, 1, { "a", "b" }, { "mx1" }, 0 },
};

/* splitmix64: the same sequence for the same seed everywhere. */
static uint64_t
rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint32_t
rnd(uint64_t *state, uint32_t n)
{
	return (uint32_t)(rng_next(state) % n);
}

static struct ev_str
evs(const char *p)
{
	struct ev_str s = { p, (uint32_t)strlen(p) };

	return s;
}

/* 3 days x 4 domains x 2 records x 3 types x 2 policy domains x 2 x 2 lists. */
static const char *const r_days[] = { DAY1, DAY2, "2027-01-01" };
static const char *const r_doms[] = { "a.example", "b.example", "c.example", "d.example" };
static const char *const r_recs[] = { "v=TLSRPTv1; rua=mailto:r@a.example", "" };
static const long r_types[] = { 1, 2, 9 };
static const char *const r_pdoms[] = { "mx.a.example", "b.example" };
static const char *const r_strs[] = { "version: STSv1", "mode: enforce" };
static const char *const r_mx[] = { "mx1.a.example" };
static const long r_codes[] = { 201, 202, 304 };
static const char *const r_ips[] = { "192.0.2.1", "" };
#define R_POLICIES (3 * 4 * 2 * 3 * 2 * 2 * 2)
#define R_FAILURES 6

struct r_expect {
	uint64_t a[R_POLICIES], b[R_POLICIES], f[R_POLICIES][R_FAILURES];
	uint64_t successes, failures, details;
};

/* One random event over the key space above; returns its day index. */
static uint32_t
r_event(uint64_t *st, struct event *ev, struct ev_str *strs, struct ev_str *mx,
    struct r_expect *x)
{
	uint32_t day = rnd(st, 3), dom = rnd(st, 4), rec = rnd(st, 2);

	ev->domain = evs(r_doms[dom]);
	ev->record = evs(r_recs[rec]);
	ev->npolicies = 1 + rnd(st, 2);
	ev->nfailures = 0;
	for (uint32_t i = 0; i < ev->npolicies; i++) {
		struct ev_policy *p = &ev->policies[i];
		uint32_t type = rnd(st, 3), pd = rnd(st, 2), ns = rnd(st, 2), nm = rnd(st, 2);
		uint32_t combo = ((((((day * 4 + dom) * 2 + rec) * 3 + type) * 2 + pd) *
		    2 + ns) * 2 + nm);

		p->type = r_types[type];
		p->domain = evs(r_pdoms[pd]);
		p->strings = strs;
		p->nstrings = ns ? 2 : 0;
		p->mx_hosts = mx;
		p->nmx_hosts = nm;
		p->failed = rnd(st, 3) == 0;
		p->failures = &ev->failures[ev->nfailures];
		p->nfailures = rnd(st, 3);
		for (uint32_t j = 0; j < p->nfailures; j++) {
			struct ev_failure *f = &ev->failures[ev->nfailures++];
			uint32_t v = rnd(st, R_FAILURES);

			f->code = r_codes[v / 2];
			f->sending_ip = evs(r_ips[v % 2]);
			f->mx_hostname = f->mx_helo = f->receiving_ip = evs("");
			f->additional_info = f->reason = evs("");
			x->f[combo][v]++;
			x->details++;
		}
		if (p->failed) {
			x->b[combo]++;
			x->failures++;
		} else {
			x->a[combo]++;
			x->successes++;
		}
	}
	return day;
}

#endif
