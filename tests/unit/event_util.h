/*
 * NAME
 *	event_util - helpers for check_event.c
 * DESCRIPTION
 *	Fixture loading, an independent UTF-8 validator, the promises of
 *	event.h as one predicate (invariant_violation), field-by-field event
 *	comparison that reports the first difference (one check assertion
 *	per event instead of one per field, which is slow in fork mode),
 *	the fixture failure-entry check, a builder of datagrams with many
 *	policies, strings or failures for the limit tests, and a seeded
 *	generator of random events for the round-trip test.
 */
#ifndef CHECK_EVENT_UTIL_H
#define CHECK_EVENT_UTIL_H

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "event_cases.h"
#include "event_cmp.h"

#define MAX_DGRAM (1024 * 1024)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *
fixtures_dir(void)
{
	const char *d = getenv("FIXTURES_DIR");

	return d != NULL && *d != '\0' ? d : "tests/data/datagrams";
}

/* Exactly the file's bytes, no NUL after them, so ASan sees over-reads. */
static char *
load_fixture(const char *name, size_t *len)
{
	char path[4096];
	FILE *fp;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/%s", fixtures_dir(), name);
	fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	ck_assert_msg(n > 0 && n < MAX_DGRAM, "%s: size %ld", path, n);
	rewind(fp);
	data = malloc((size_t)n);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(fread(data, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return data;
}

/* Independent of event.c: shortest form, no surrogates, <= U+10FFFF. */
static int
utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0, k;
	uint32_t cp, min;

	while (i < n) {
		unsigned c = p[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			k = 1, cp = c & 0x1F, min = 0x80;
		else if ((c & 0xF0) == 0xE0)
			k = 2, cp = c & 0x0F, min = 0x800;
		else if ((c & 0xF8) == 0xF0)
			k = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int
str_ok(const struct ev_str *s)
{
	return s->p != NULL && strlen(s->p) == s->len &&
	    utf8_valid((const unsigned char *)s->p, s->len);
}

static int
domain_ok(const struct ev_str *d)
{
	if (!str_ok(d) || d->len == 0 || d->len > EV_MAX_DOMAIN ||
	    d->p[d->len - 1] == '.')
		return 0;
	for (uint32_t i = 0; i < d->len; i++)
		if (d->p[i] >= 'A' && d->p[i] <= 'Z')
			return 0;
	return 1;
}

/* What event.h promises about every accepted event; NULL when it holds. */
static const char *
invariant_violation(const struct event *ev)
{
	if (!str_ok(&ev->dpv) || !str_ok(&ev->record))
		return "dpv/pr not a valid string";
	if (!domain_ok(&ev->domain))
		return "d not normalised";
	if (ev->npolicies < 1 || ev->npolicies > EV_MAX_POLICIES)
		return "npolicies out of range";
	for (uint32_t i = 0; i < ev->npolicies; i++) {
		const struct ev_policy *p = &ev->policies[i];

		if (!domain_ok(&p->domain) || p->type < 0 ||
		    (p->failed != 0 && p->failed != 1))
			return "policy domain/type/f";
		for (uint32_t j = 0; j < p->nstrings; j++)
			if (!str_ok(&p->strings[j]))
				return "policy-string not valid";
		for (uint32_t j = 0; j < p->nmx_hosts; j++)
			if (!str_ok(&p->mx_hosts[j]))
				return "mx-host not valid";
		for (uint32_t j = 0; j < p->nfailures; j++) {
			const struct ev_failure *f = &p->failures[j];
			if (f->code < 0 || !str_ok(&f->sending_ip) ||
			    !str_ok(&f->mx_hostname) || !str_ok(&f->mx_helo) ||
			    !str_ok(&f->receiving_ip) ||
			    !str_ok(&f->additional_info) || !str_ok(&f->reason))
				return "failure entry not valid";
		}
	}
	return NULL;
}

static int
str_is(const struct ev_str *s, const char *want)
{
	if (want == NULL)
		want = "";
	return s->p != NULL && s->len == strlen(want) &&
	    memcmp(s->p, want, s->len) == 0;
}

/* The first field where a and b differ, or NULL. One assert per call. */
static const char *
event_diff(const struct event *a, const struct event *b)
{
	return event_cmp(a, b, 0);
}

static void
check_fx_failure(const char *file, const struct ev_failure *f,
    const struct fx_failure *w)
{
	ck_assert_msg(f->code == w->code, "%s: c %ld", file, f->code);
	ck_assert_msg(str_is(&f->sending_ip, w->s), "%s: s '%s'", file, f->sending_ip.p);
	ck_assert_msg(str_is(&f->mx_hostname, w->n), "%s: n '%s'", file, f->mx_hostname.p);
	ck_assert_msg(str_is(&f->mx_helo, w->h), "%s: h '%s'", file, f->mx_helo.p);
	ck_assert_msg(str_is(&f->receiving_ip, w->r), "%s: r '%s'", file, f->receiving_ip.p);
	ck_assert_msg(str_is(&f->additional_info, w->a), "%s: a '%s'", file,
	    f->additional_info.p);
	ck_assert_msg(str_is(&f->reason, w->f), "%s: f '%s'", file, f->reason.p);
}

/* A datagram of npol policies; policy i gets nstr[i] strings, nfail[i] failures. */
static void
build_many(struct buf *b, int npol, const int *nstr, const int *nfail)
{
	buf_reset(b);
	ck_assert_int_eq(buf_puts(b, "{\"d\": \"example.com\",\"policies\":["), 0);
	for (int i = 0; i < npol; i++) {
		int ns = nstr ? nstr[i] : 0, nf = nfail ? nfail[i] : 0;

		ck_assert_int_eq(buf_printf(b, "%s{\"policy-type\":2,\"policy-string\":[",
		    i ? "," : ""), 0);
		for (int j = 0; j < ns; j++)
			ck_assert_int_eq(buf_printf(b, "%s\"p%d-%d\"", j ? "," : "", i, j), 0);
		ck_assert_int_eq(buf_puts(b, "],\"failure-details\":["), 0);
		for (int j = 0; j < nf; j++)
			ck_assert_int_eq(buf_printf(b, "%s{\"c\":201,\"s\": \"%d-%d\"}",
			    j ? "," : "", i, j), 0);
		ck_assert_int_eq(buf_printf(b, "],\"t\":%d,\"f\":1}", nf), 0);
	}
	ck_assert_int_eq(buf_puts(b, "]}"), 0);
}

/* splitmix64: fixed output for a fixed seed on every platform. */
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

struct gen {
	uint64_t state;
	size_t used;
	char pool[64 * 1024];
	struct event ev;
};

static const struct ev_str gen_empty = { "", 0 };

static char *
gen_utf8(char *o, uint32_t cp)
{
	if (cp < 0x800) {
		*o++ = (char)(0xC0 | (cp >> 6));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xE0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
	} else {
		*o++ = (char)(0xF0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
	}
	*o++ = (char)(0x80 | (cp & 0x3F));
	return o;
}

/* Up to maxlen characters: ASCII, '"', '\\', controls, 2-4 byte UTF-8. */
static struct ev_str
gen_text(struct gen *g, uint32_t maxlen)
{
	char *start = g->pool + g->used, *o = start;
	uint32_t n = rnd(&g->state, maxlen + 1), cp;
	struct ev_str s;

	ck_assert_uint_lt(g->used + 4 * (size_t)maxlen + 1, sizeof(g->pool));
	for (uint32_t i = 0; i < n; i++) {
		switch (rnd(&g->state, 10)) {
		case 4: *o++ = '"'; break;
		case 5: *o++ = '\\'; break;
		case 6:
			cp = rnd(&g->state, 32);
			*o++ = (char)(cp == 0 ? 0x7F : cp);
			break;
		case 7: o = gen_utf8(o, 0x80 + rnd(&g->state, 0x800 - 0x80)); break;
		case 8:
			cp = 0x800 + rnd(&g->state, 0x10000 - 0x800);
			if (cp >= 0xD800 && cp <= 0xDFFF)
				cp += 0x800;	/* no surrogates */
			o = gen_utf8(o, cp);
			break;
		case 9: o = gen_utf8(o, 0x10000 + rnd(&g->state, 0x100000)); break;
		default: *o++ = (char)(0x20 + rnd(&g->state, 95)); break;
		}
	}
	*o = '\0';
	s.p = start;
	s.len = (uint32_t)(o - start);
	g->used += s.len + 1;
	return s;
}

/* A normalised domain: lower case, never a final '.' (the last in chars). */
static struct ev_str
gen_domain(struct gen *g)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.";
	char *start = g->pool + g->used;
	uint32_t n = rnd(&g->state, 50) == 0 ? EV_MAX_DOMAIN :
	    1 + rnd(&g->state, 40);
	struct ev_str s;

	ck_assert_uint_lt(g->used + n + 1, sizeof(g->pool));
	for (uint32_t i = 0; i < n; i++)
		start[i] = chars[rnd(&g->state, sizeof(chars) - (i + 1 < n ? 1 : 2))];
	start[n] = '\0';
	s.p = start;
	s.len = n;
	g->used += n + 1;
	return s;
}

static long
gen_number(struct gen *g, long common)
{
	switch (rnd(&g->state, 4)) {
	case 0: return 0;
	case 1: return 0x7FFFFFFFL;
	case 2: return (long)rnd(&g->state, 0x80000000U);
	}
	return common;
}

static struct ev_str
gen_opt_text(struct gen *g, uint32_t maxlen)
{
	return rnd(&g->state, 3) == 0 ? gen_empty : gen_text(g, maxlen);
}

static void
gen_policy(struct gen *g, struct ev_policy *p)
{
	static const long types[] = { 1, 2, 9 };
	static const long codes[] = { 201, 205, 301, 304, 306 };
	struct event *ev = &g->ev;
	uint32_t n;

	p->type = gen_number(g, types[rnd(&g->state, 3)]);
	p->domain = rnd(&g->state, 3) == 0 ? gen_empty : gen_domain(g);
	p->strings = &ev->strings[ev->nstrings];
	p->nstrings = n = rnd(&g->state, 4);
	while (n-- > 0)
		ev->strings[ev->nstrings++] = gen_text(g, 30);
	p->mx_hosts = &ev->strings[ev->nstrings];
	p->nmx_hosts = n = rnd(&g->state, 3);
	while (n-- > 0)
		ev->strings[ev->nstrings++] = gen_text(g, 20);
	p->failures = &ev->failures[ev->nfailures];
	p->nfailures = n = rnd(&g->state, 4);
	while (n-- > 0) {
		struct ev_failure *f = &ev->failures[ev->nfailures++];

		f->code = gen_number(g, codes[rnd(&g->state, 5)]);
		f->sending_ip = gen_opt_text(g, 20);
		f->mx_hostname = gen_opt_text(g, 20);
		f->mx_helo = gen_opt_text(g, 20);
		f->receiving_ip = gen_opt_text(g, 20);
		f->additional_info = gen_opt_text(g, 20);
		f->reason = gen_opt_text(g, 20);
	}
	p->failed = (int)rnd(&g->state, 2);
	p->t = -1;
}

static void
gen_event(struct gen *g)
{
	struct event *ev = &g->ev;

	g->used = 0;
	ev->nstrings = ev->nfailures = 0;
	ev->dpv = rnd(&g->state, 4) == 0 ? gen_empty : gen_text(g, 8);
	ev->domain = gen_domain(g);
	ev->record = gen_opt_text(g, 40);
	ev->npolicies = 1 + rnd(&g->state, 4);
	for (uint32_t i = 0; i < ev->npolicies; i++)
		gen_policy(g, &ev->policies[i]);
}

/* What the parser gives back for what ev_encode() wrote from g->ev. */
static void
gen_expected(struct gen *g)
{
	static const struct ev_str version = { "1", 1 };
	struct event *ev = &g->ev;

	if (ev->dpv.len == 0)
		ev->dpv = version;
	for (uint32_t i = 0; i < ev->npolicies; i++) {
		if (ev->policies[i].domain.len == 0)
			ev->policies[i].domain = ev->domain;
		ev->policies[i].t = ev->policies[i].nfailures;
	}
}

#endif
