/*
 * NAME
 *	check_tally - unit tests for lib/tally.c, the pre-aggregation table
 * DESCRIPTION
 *	Counting per PROTOCOL.md 1.4: one policy key per (day, d, pr, type,
 *	policy-domain, policy strings, mx hosts) with successes and failures,
 *	one failure key per distinct failure-details entry under its policy.
 *	Every key field is significant and the encoding is unambiguous
 *	(["ab"] is not ["a","b"]); keys decode back to exactly what went in,
 *	arbitrary non-NUL bytes included; tally_add is all or nothing at
 *	max_keys; reset empties keys, sessions and stats; the table filled
 *	to max_keys; and 200,000 random events checked key by key against
 *	an independent count.
 */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "tally.h"
#include "tally_cases.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define KEY_BYTES (64 * 1024)

static struct ev_parser *parser;
static struct buf json;

static void
setup(void)
{
	parser = ev_parser_new(KEY_BYTES);
	buf_init(&json, KEY_BYTES);
}

static void
teardown(void)
{
	ev_parser_free(parser);
	buf_free(&json);
}

/* Parses the datagram in json; valid until the next parse. */
static const struct event *
parse_json(void)
{
	const struct event *ev = NULL;
	struct ev_diag diag;
	enum ev_error e = ev_parse(parser, json.data, json.len, &ev, &diag);

	ck_assert_msg(e == EV_OK, "%s at %zu (%s): %s", ev_error_name(e),
	    diag.offset, diag.what, json.data);
	return ev;
}

static const struct event *parsef(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static const struct event *
parsef(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && n < KEY_BYTES);
	buf_reset(&json);
	ck_assert_int_eq(buf_printf(&json, "%*s", n, ""), 0);
	va_start(ap, fmt);
	vsnprintf(json.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return parse_json();
}

static int
tstr_is(const struct tally_str *s, const char *want)
{
	if (want == NULL)
		want = "";
	return s->len == strlen(want) && memcmp(s->p, want, s->len) == 0 &&
	    s->p[s->len] == '\0';
}

#define POL_STS "\"policy-type\":2,\"policy-domain\": \"example.com\"," \
	"\"policy-string\":[\"version: STSv1\",\"mode: enforce\"]," \
	"\"mx-host\":[\"mx1.example.com\"]"
#define DG_HEAD "{\"dpv\": \"1\",\"d\": \"example.com\"," \
	"\"pr\": \"v=TLSRPTv1; rua=mailto:r@example.com\",\"policies\":["
#define DG(policies) DG_HEAD policies "]}"
#define SUCCESS DG("{" POL_STS ",\"t\":0,\"f\":0}")
#define FAILURE(fd, f) DG("{" POL_STS ",\"failure-details\":[" fd "],\"t\":1,\"f\":" f "}")
#define FD "{\"c\":202,\"s\": \"192.0.2.1\",\"n\": \"mx1.example.com\"}"

START_TEST(test_same_event_twice)
{
	struct tally *t = tally_new(100, KEY_BYTES, 1);
	struct tally_entry *e;

	ck_assert(tally_is_empty(t));
	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", SUCCESS)), 0);
	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", SUCCESS)), 0);
	ck_assert_uint_eq(tally_nkeys(t), 1);
	ck_assert_uint_eq(tally_nsessions(t), 2);
	ck_assert(!tally_is_empty(t));
	e = tally_entry(t, 0);
	ck_assert(tally_entry_is_policy(e));
	ck_assert_uint_eq(e->count_a, 2);
	ck_assert_uint_eq(e->count_b, 0);
	ck_assert_uint_eq(e->index, 0);
	ck_assert_ptr_null(tally_entry(t, 1));
	tally_free(t);
}
END_TEST

START_TEST(test_success_and_failure)
{
	struct tally *t = tally_new(100, KEY_BYTES, 2);
	struct tally_entry *p, *f;

	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", SUCCESS)), 0);
	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", FAILURE(FD, "1"))), 0);
	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", FAILURE(FD, "1"))), 0);
	/* f decides success or failure; details are counted either way. */
	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", FAILURE(FD, "0"))), 0);
	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s",
	    DG("{" POL_STS ",\"t\":0,\"f\":1}"))), 0);
	ck_assert_uint_eq(tally_nkeys(t), 2);
	ck_assert_uint_eq(tally_nsessions(t), 5);
	p = tally_entry(t, 0);
	f = tally_entry(t, 1);
	ck_assert(tally_entry_is_policy(p));
	ck_assert_uint_eq(p->count_a, 2);
	ck_assert_uint_eq(p->count_b, 3);
	ck_assert(!tally_entry_is_policy(f));
	ck_assert_uint_eq(f->policy, 0);
	ck_assert_uint_eq(f->count_a, 3);
	tally_free(t);
}
END_TEST

static void
fv_json(const struct fv *v)
{
	const char *names[] = { "s", "n", "h", "r", "a", "f" };
	const char *vals[] = { v->s, v->n, v->h, v->r, v->a, v->f };

	buf_reset(&json);
	ck_assert_int_eq(buf_puts(&json, DG_HEAD "{" POL_STS
	    ",\"failure-details\":[{"), 0);
	ck_assert_int_eq(buf_printf(&json, "\"c\":%ld", v->c), 0);
	for (size_t i = 0; i < NELEM(names); i++)
		if (vals[i] != NULL)
			ck_assert_int_eq(buf_printf(&json, ",\"%s\": \"%s\"",
			    names[i], vals[i]), 0);
	ck_assert_int_eq(buf_puts(&json, "}],\"t\":1,\"f\":1}]}"), 0);
}

START_TEST(test_failure_key_fields)
{
	struct tally *t = tally_new(100, KEY_BYTES, 3);
	size_t entry_of[NELEM(fvs)], nkeys = 1;

	for (size_t i = 0; i < NELEM(fvs); i++) {
		fv_json(&fvs[i]);
		ck_assert_int_eq(tally_add(t, DAY1, parse_json()), 0);
		entry_of[i] = fvs[i].same_as < 0 ? nkeys++ :
		    entry_of[fvs[i].same_as];
		ck_assert_msg(tally_nkeys(t) == nkeys, "variant %zu: %zu keys",
		    i, tally_nkeys(t));
	}
	ck_assert_uint_eq(tally_entry(t, 0)->count_b, NELEM(fvs));
	for (size_t i = 0; i < NELEM(fvs); i++) {
		const struct fv *v = &fvs[i];
		struct tally_entry *e = tally_entry(t, entry_of[i]);
		struct tally_failure_key k;
		uint64_t want = 0;

		for (size_t j = 0; j < NELEM(fvs); j++)
			want += entry_of[j] == entry_of[i];
		ck_assert_uint_eq(e->count_a, want);
		ck_assert_uint_eq(e->policy, 0);
		tally_failure_key(e, &k);
		ck_assert_int_eq(k.code, v->c);
		ck_assert_msg(tstr_is(&k.sending_ip, v->s) && tstr_is(&k.mx_hostname, v->n) &&
		    tstr_is(&k.mx_helo, v->h) && tstr_is(&k.receiving_ip, v->r) &&
		    tstr_is(&k.additional_info, v->a) && tstr_is(&k.reason, v->f),
		    "variant %zu decodes differently", i);
	}
	tally_free(t);
}
END_TEST

static void
pv_json(const struct pv *v)
{
	buf_reset(&json);
	ck_assert_int_eq(buf_printf(&json, "{\"d\": \"%s\",\"pr\": \"%s\","
	    "\"policies\":[{\"policy-type\":%ld", v->d, v->pr, v->type), 0);
	if (v->pd != NULL)
		ck_assert_int_eq(buf_printf(&json, ",\"policy-domain\": \"%s\"", v->pd), 0);
	for (int i = 0; i < v->ns; i++)
		ck_assert_int_eq(buf_printf(&json, "%s\"%s\"",
		    i ? "," : ",\"policy-string\":[", v->s[i]), 0);
	ck_assert_int_eq(buf_puts(&json, v->ns ? "]" : ""), 0);
	for (int i = 0; i < v->nm; i++)
		ck_assert_int_eq(buf_printf(&json, "%s\"%s\"",
		    i ? "," : ",\"mx-host\":[", v->m[i]), 0);
	ck_assert_int_eq(buf_puts(&json, v->nm ? "]" : ""), 0);
	ck_assert_int_eq(buf_puts(&json, ",\"t\":0,\"f\":0}]}"), 0);
}

static int
list_is(const unsigned char *pos, uint32_t n, const char *const *want, int nwant)
{
	struct tally_str s;

	if (n != (uint32_t)nwant)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		pos = tally_list_get(pos, &s);
		if (!tstr_is(&s, want[i]))
			return 0;
	}
	return 1;
}

START_TEST(test_policy_key_fields)
{
	struct tally *t = tally_new(100, KEY_BYTES, 4);
	size_t entry_of[NELEM(pvs)], nkeys = 0;

	for (size_t i = 0; i < NELEM(pvs); i++) {
		pv_json(&pvs[i]);
		ck_assert_int_eq(tally_add(t, pvs[i].day, parse_json()), 0);
		entry_of[i] = pvs[i].same_as < 0 ? nkeys++ : entry_of[pvs[i].same_as];
		ck_assert_msg(tally_nkeys(t) == nkeys, "variant %zu: %zu keys",
		    i, tally_nkeys(t));
	}
	for (size_t i = 0; i < NELEM(pvs); i++) {
		const struct pv *v = &pvs[i];
		struct tally_entry *e = tally_entry(t, entry_of[i]);
		struct tally_policy_key k;

		uint64_t want = 0;

		for (size_t j = 0; j < NELEM(pvs); j++)
			want += entry_of[j] == entry_of[i];
		ck_assert_uint_eq(e->count_a, want);
		if (v->same_as >= 0)
			continue;	/* decoded as the variant it equals */
		ck_assert(tally_entry_is_policy(e));
		tally_policy_key(e, &k);
		ck_assert(tstr_is(&k.day, v->day));
		ck_assert(tstr_is(&k.report_domain, v->d));
		ck_assert(tstr_is(&k.record, v->pr));
		ck_assert_int_eq(k.type, v->type);
		ck_assert(tstr_is(&k.policy_domain, v->pd));
		ck_assert_msg(list_is(k.strings, k.nstrings, v->s, v->ns), "variant %zu", i);
		ck_assert_msg(list_is(k.mx, k.nmx, v->m, v->nm), "variant %zu", i);
	}
	tally_free(t);
}
END_TEST

/* Two-policy fixture: both decode, the failure hangs off the first. */
START_TEST(test_key_decode_two_policies)
{
	static const char *const sts[] = { "version: STSv1", "mode: testing" };
	struct tally *t = tally_new(100, KEY_BYTES, 5);
	struct tally_policy_key k;
	struct tally_failure_key fk;
	struct tally_str s;
	struct tally_entry *e;

	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", "{\"dpv\": \"1\","
	    "\"d\": \"example.com\",\"pr\": \"v=TLSRPTv1; rua=mailto:x@example.com\","
	    "\"policies\":[{\"policy-type\":2,\"policy-domain\": \"example.com\","
	    "\"policy-string\":[\"version: STSv1\",\"mode: testing\"],\"mx-host\":"
	    "[\"mx1.example.com\"],\"failure-details\":[{\"c\":303,\"s\": \"192.0.2.25\","
	    "\"h\": \"250-a\\r\\n250 STARTTLS\",\"r\": \"203.0.113.5\"}],\"t\":1,\"f\":1},"
	    "{\"policy-type\":9,\"t\":0,\"f\":0}]}")), 0);
	ck_assert_uint_eq(tally_nkeys(t), 3);
	e = tally_entry(t, 0);
	tally_policy_key(e, &k);
	ck_assert(tstr_is(&k.record, "v=TLSRPTv1; rua=mailto:x@example.com"));
	ck_assert(list_is(k.strings, k.nstrings, sts, 2));
	ck_assert_uint_eq(k.nmx, 1);
	tally_list_get(k.mx, &s);
	ck_assert(tstr_is(&s, "mx1.example.com"));
	ck_assert_uint_eq(e->count_b, 1);
	e = tally_entry(t, 1);
	ck_assert(!tally_entry_is_policy(e));
	ck_assert_uint_eq(e->policy, 0);
	tally_failure_key(e, &fk);
	ck_assert_int_eq(fk.code, 303);
	ck_assert(tstr_is(&fk.mx_helo, "250-a\r\n250 STARTTLS"));
	ck_assert(tstr_is(&fk.mx_hostname, NULL));
	ck_assert(tstr_is(&fk.receiving_ip, "203.0.113.5"));
	e = tally_entry(t, 2);
	ck_assert(tally_entry_is_policy(e));
	ck_assert_uint_eq(e->count_a, 1);
	tally_policy_key(e, &k);
	ck_assert_int_eq(k.type, 9);
	ck_assert(tstr_is(&k.policy_domain, "example.com"));	/* default d */
	ck_assert_uint_eq(k.nstrings + k.nmx, 0);
	tally_free(t);
}
END_TEST

START_TEST(test_all_or_nothing)
{
	struct tally *t = tally_new(4, KEY_BYTES, 6);
	struct tally_entry *p;

	/* P1 + F1: two keys. */
	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", FAILURE(FD, "1"))), 0);
	/* P1, F1 (both exist), then P2, F2, F3 (new, 3 > 2 free): nothing. */
	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", DG("{" POL_STS
	    ",\"failure-details\":[" FD "],\"t\":1,\"f\":1},{\"policy-type\":1,"
	    "\"failure-details\":[{\"c\":304},{\"c\":305}],\"t\":2,\"f\":1}"))), -1);
	ck_assert_uint_eq(tally_nkeys(t), 2);
	ck_assert_uint_eq(tally_nsessions(t), 1);
	p = tally_entry(t, 0);
	ck_assert_uint_eq(p->count_b, 1);
	ck_assert_uint_eq(tally_entry(t, 1)->count_a, 1);
	ck_assert_ptr_null(tally_entry(t, 2));
	/* Exactly up to max_keys is fine. */
	ck_assert_int_eq(tally_add(t, DAY2, parsef("%s", FAILURE(FD, "1"))), 0);
	ck_assert_uint_eq(tally_nkeys(t), 4);
	ck_assert_int_eq(tally_add(t, DAY2, parsef("%s", DG("{\"policy-type\":9,"
	    "\"t\":0,\"f\":0}"))), -1);
	ck_assert_uint_eq(tally_nkeys(t), 4);
	ck_assert_uint_eq(tally_nsessions(t), 2);
	tally_reset(t);
	ck_assert_int_eq(tally_add(t, DAY2, parsef("%s", DG("{\"policy-type\":9,"
	    "\"t\":0,\"f\":0}"))), 0);
	tally_free(t);
}
END_TEST

START_TEST(test_reset)
{
	struct tally *t = tally_new(5000, KEY_BYTES, 7);
	char pr[1001];

	memset(pr, 'x', sizeof(pr) - 1);
	pr[sizeof(pr) - 1] = '\0';
	for (int round = 0; round < 3; round++) {
		/* About 3 MB of keys: several slab chunks to release. */
		for (int i = 0; i < 3000; i++)
			ck_assert_int_eq(tally_add(t, DAY1, parsef("{\"d\": \"d%d.example\","
			    "\"pr\": \"%s\",\"policies\":[{\"policy-type\":2,\"t\":0,"
			    "\"f\":%d}]}", i, pr, i & 1)), 0);
		ck_assert_uint_eq(tally_nkeys(t), 3000);
		ck_assert_uint_eq(tally_nsessions(t), 3000);
		for (int i = 0; i < 3000; i++) {
			struct tally_entry *e = tally_entry(t, (size_t)i);
			struct tally_policy_key k;
			char want[32];

			snprintf(want, sizeof(want), "d%d.example", i);
			tally_policy_key(e, &k);
			ck_assert(tstr_is(&k.report_domain, want));
			ck_assert_uint_eq(e->count_a + e->count_b, 1);	/* nothing stale */
		}
		for (int i = 0; i < STAT__COUNT; i++)
			t->stats[i] = (uint64_t)i + 1;
		tally_reset(t);
		ck_assert_uint_eq(tally_nkeys(t), 0);
		ck_assert_uint_eq(tally_nsessions(t), 0);
		ck_assert_ptr_null(tally_entry(t, 0));
		for (int i = 0; i < STAT__COUNT; i++)
			ck_assert_uint_eq(t->stats[i], 0);
		ck_assert(tally_is_empty(t));
	}
	t->stats[STAT_FLUSH_ERRORS] = 1;
	ck_assert(!tally_is_empty(t));
	tally_free(t);
}
END_TEST

START_TEST(test_stat_names)
{
	ck_assert_str_eq(tally_stat_name(STAT_RECEIVED), "received");
	ck_assert_str_eq(tally_stat_name(STAT_REJECTED_BASE + EV_ERR_SYNTAX),
	    "rejected_syntax");
	ck_assert_str_eq(tally_stat_name(STAT_DROPPED_TABLE_FULL), "dropped_table_full");
	ck_assert_ptr_null(tally_stat_name(STAT_REJECTED_BASE + EV_OK));
	ck_assert_ptr_null(tally_stat_name(-1));
	ck_assert_ptr_null(tally_stat_name(STAT__COUNT));
	for (int i = 0; i < STAT__COUNT; i++) {
		const char *n = tally_stat_name(i);

		if (i == STAT_REJECTED_BASE + EV_OK)
			continue;
		ck_assert_msg(n != NULL && n[0] != '\0', "stat %d has no name", i);
		for (int j = 0; j < i; j++)
			ck_assert(tally_stat_name(j) == NULL ||
			    strcmp(n, tally_stat_name(j)) != 0);
	}
	for (int e = EV_ERR_EMPTY; e < EV_ERR__COUNT; e++) {
		char want[64];

		snprintf(want, sizeof(want), "rejected_%s", ev_error_name((enum ev_error)e));
		ck_assert_str_eq(tally_stat_name(STAT_REJECTED_BASE + e), want);
	}
}
END_TEST

/* Fill to max_keys at 2/3 load: probing finds every key again. */
START_TEST(test_fill_to_max)
{
	const size_t max = 1365;
	struct tally *t = tally_new(max, KEY_BYTES, 8);

	for (size_t i = 0; i < max; i++)
		ck_assert_int_eq(tally_add(t, DAY1, parsef("{\"d\": \"d%zu.example\","
		    "\"policies\":[{\"policy-type\":1,\"t\":0,\"f\":0}]}", i)), 0);
	ck_assert_uint_eq(tally_nkeys(t), max);
	ck_assert_int_eq(tally_add(t, DAY1, parsef("%s", SUCCESS)), -1);
	for (size_t i = 0; i < max; i++) {
		struct tally_entry *e = tally_entry(t, i);
		struct tally_policy_key k;
		char want[32];

		snprintf(want, sizeof(want), "d%zu.example", i);
		tally_policy_key(e, &k);
		ck_assert(tstr_is(&k.report_domain, want));
		ck_assert_uint_eq(e->index, i);
		ck_assert_uint_eq(e->count_a, 1);
	}
	tally_free(t);
}
END_TEST

static int
find_str(const char *const *list, int n, const struct tally_str *s)
{
	for (int i = 0; i < n; i++)
		if (tstr_is(s, list[i]))
			return i;
	return -1;
}

/* The combination a policy key decodes to, or -1. */
static int
r_combo(const struct tally_entry *e)
{
	struct tally_policy_key k;
	int day, dom, rec, type = -1, pd;

	tally_policy_key(e, &k);
	day = find_str(r_days, 3, &k.day);
	dom = find_str(r_doms, 4, &k.report_domain);
	rec = find_str(r_recs, 2, &k.record);
	pd = find_str(r_pdoms, 2, &k.policy_domain);
	for (int i = 0; i < 3; i++)
		if (r_types[i] == k.type)
			type = i;
	if (day < 0 || dom < 0 || rec < 0 || type < 0 || pd < 0 ||
	    (k.nstrings != 0 && !list_is(k.strings, k.nstrings, r_strs, 2)) ||
	    (k.nmx != 0 && !list_is(k.mx, k.nmx, r_mx, 1)))
		return -1;
	return (((((day * 4 + dom) * 2 + rec) * 3 + type) * 2 + pd) * 2 +
	    (k.nstrings != 0)) * 2 + (int)k.nmx;
}

/* Counts in = counts out, key by key, for two hash seeds. */
START_TEST(test_random_counts)
{
	static struct event ev;
	static struct r_expect x;
	static int combo_of[R_POLICIES * (R_FAILURES + 1)];
	static unsigned char seen[R_POLICIES][R_FAILURES + 1];
	static const uint64_t seeds[] = { 0, 0xFFFFFFFFFFFFFFFFULL };
	struct ev_str strs[2] = { evs(r_strs[0]), evs(r_strs[1]) }, mx = evs(r_mx[0]);
	struct tally *t = tally_new(2 * NELEM(combo_of), KEY_BYTES, seeds[_i]);
	uint64_t st = 42, sum_a = 0, sum_b = 0, sum_f = 0;
	size_t bad = 0, want_keys = 0;

	memset(&x, 0, sizeof(x));
	memset(seen, 0, sizeof(seen));
	ev.dpv = evs("1");
	for (int i = 0; i < 200000; i++) {
		uint32_t day = r_event(&st, &ev, strs, &mx, &x);
		bad += tally_add(t, r_days[day], &ev) != 0;
	}
	ck_assert_uint_eq(bad, 0);
	for (size_t i = 0; i < tally_nkeys(t); i++) {
		struct tally_entry *e = tally_entry(t, i);
		struct tally_failure_key fk;
		int combo, v, ip;

		if (e->index != i)
			bad++;
		if (tally_entry_is_policy(e)) {
			combo = combo_of[i] = r_combo(e);
			if (combo < 0 || seen[combo][R_FAILURES]++ ||
			    e->count_a != x.a[combo] || e->count_b != x.b[combo])
				bad++;
			sum_a += e->count_a;
			sum_b += e->count_b;
			continue;
		}
		/* A failure comes after its policy and under it. */
		if (e->policy >= i || !tally_entry_is_policy(tally_entry(t, e->policy))) {
			bad++;
			continue;
		}
		combo = combo_of[e->policy];
		tally_failure_key(e, &fk);
		ip = find_str(r_ips, 2, &fk.sending_ip);
		v = -1;
		for (int c = 0; c < 3; c++)
			if (r_codes[c] == fk.code && ip >= 0)
				v = 2 * c + ip;
		if (v < 0 || !tstr_is(&fk.mx_hostname, NULL) ||
		    !tstr_is(&fk.reason, NULL) || seen[combo][v]++ ||
		    e->count_a != x.f[combo][v] || e->count_b != 0)
			bad++;
		sum_f += e->count_a;
	}
	for (int c = 0; c < R_POLICIES; c++) {
		want_keys += x.a[c] + x.b[c] > 0;
		for (int v = 0; v < R_FAILURES; v++)
			want_keys += x.f[c][v] > 0;
	}
	ck_assert_msg(bad == 0, "%zu keys decode to wrong counts", bad);
	ck_assert_uint_eq(tally_nkeys(t), want_keys);
	ck_assert_uint_ge(want_keys, 500);
	ck_assert_uint_eq(sum_a, x.successes);
	ck_assert_uint_eq(sum_b, x.failures);
	ck_assert_uint_eq(sum_f, x.details);
	ck_assert_uint_eq(tally_nsessions(t), x.successes + x.failures);
	tally_free(t);
}
END_TEST

/* n random bytes 1..255 (never NUL) into *pos; returns the string. */
static struct ev_str
rand_bytes(uint64_t *st, char **pos, uint32_t maxlen)
{
	struct ev_str s;
	char *o = *pos;
	uint32_t n = rnd(st, maxlen + 1);

	for (uint32_t i = 0; i < n; i++)
		o[i] = (char)(1 + rnd(st, 255));
	o[n] = '\0';
	s.p = o;
	s.len = n;
	*pos = o + n + 1;
	return s;
}

/* Event number i, the same every time it is built. */
static void
bytes_event(int i, struct event *ev, char *pool)
{
	uint64_t st = (uint64_t)i * 7919 + 1;
	struct ev_policy *p = &ev->policies[0];
	struct ev_failure *f = &ev->failures[0];
	int n = snprintf(pool, 8, "%05d", i);
	char *o = pool + n;
	struct ev_str tail = rand_bytes(&st, &o, 200);

	/* pr: a unique prefix, so all N events are distinct keys. */
	ev->record.p = pool;
	ev->record.len = (uint32_t)n + tail.len;
	ev->domain = rand_bytes(&st, &o, 100);
	ev->npolicies = 1;
	p->type = (long)rnd(&st, 0x80000000U);
	p->domain = rand_bytes(&st, &o, 100);
	ev->strings[0] = rand_bytes(&st, &o, 300);
	ev->strings[1] = rand_bytes(&st, &o, 300);
	ev->strings[2] = rand_bytes(&st, &o, 300);
	p->strings = &ev->strings[0];
	p->nstrings = 2;
	p->mx_hosts = &ev->strings[2];
	p->nmx_hosts = 1;
	p->failed = i & 1;
	f->code = (long)rnd(&st, 0x80000000U);
	f->sending_ip = rand_bytes(&st, &o, 300);
	f->mx_hostname = rand_bytes(&st, &o, 300);
	f->mx_helo = rand_bytes(&st, &o, 300);
	f->receiving_ip = rand_bytes(&st, &o, 300);
	f->additional_info = rand_bytes(&st, &o, 300);
	f->reason = rand_bytes(&st, &o, 300);
	p->failures = f;
	p->nfailures = 1;
}

static int
same(const struct tally_str *k, const struct ev_str *v)
{
	return k->len == v->len && memcmp(k->p, v->p, v->len) == 0 &&
	    k->p[k->len] == '\0';
}

static int
bytes_key_ok(const struct tally *t, int i, const struct event *ev)
{
	const struct tally_entry *pe = tally_entry(t, 2 * (size_t)i);
	const struct tally_entry *fe = tally_entry(t, 2 * (size_t)i + 1);
	const struct ev_policy *p = &ev->policies[0];
	const struct ev_failure *f = &p->failures[0];
	struct tally_policy_key k;
	struct tally_failure_key fk;
	struct tally_str s[3];

	if (pe == NULL || fe == NULL || !tally_entry_is_policy(pe) ||
	    fe->policy != 2 * (uint32_t)i || pe->count_a + pe->count_b != 2 ||
	    fe->count_a != 2)
		return 0;
	tally_policy_key(pe, &k);
	if (k.nstrings != 2 || k.nmx != 1)
		return 0;
	tally_list_get(tally_list_get(k.strings, &s[0]), &s[1]);
	tally_list_get(k.mx, &s[2]);
	tally_failure_key(fe, &fk);
	return tstr_is(&k.day, DAY1) && same(&k.report_domain, &ev->domain) &&
	    same(&k.record, &ev->record) && k.type == p->type &&
	    same(&k.policy_domain, &p->domain) && same(&s[0], &ev->strings[0]) &&
	    same(&s[1], &ev->strings[1]) && same(&s[2], &ev->strings[2]) &&
	    fk.code == f->code && same(&fk.sending_ip, &f->sending_ip) &&
	    same(&fk.mx_hostname, &f->mx_hostname) && same(&fk.mx_helo, &f->mx_helo) &&
	    same(&fk.receiving_ip, &f->receiving_ip) &&
	    same(&fk.additional_info, &f->additional_info) &&
	    same(&fk.reason, &f->reason);
}

/* Keys of arbitrary non-NUL bytes: found again, and decoded exactly. */
START_TEST(test_arbitrary_bytes)
{
	enum { N = 2000 };
	static struct event ev;
	static char pool[8192];
	/*
	 * Room to spare: tally_add counts every key an event could create,
	 * existing ones included, so a full table refuses even repeats.
	 */
	struct tally *t = tally_new(4 * N, KEY_BYTES, 9);
	size_t bad = 0;

	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < N; i++) {
			bytes_event(i, &ev, pool);
			bad += tally_add(t, DAY1, &ev) != 0;
			bad += tally_nkeys(t) != (pass ? 2 * (size_t)N : 2 * (size_t)i + 2);
		}
	ck_assert_uint_eq(bad, 0);
	for (int i = 0; i < N; i++) {
		bytes_event(i, &ev, pool);
		bad += !bytes_key_ok(t, i, &ev);
	}
	ck_assert_msg(bad == 0, "%zu keys decode differently", bad);
	ck_assert_uint_eq(tally_nsessions(t), 2 * N);
	tally_free(t);
}
END_TEST

static Suite *
tally_suite(void)
{
	Suite *s = suite_create("tally");
	TCase *tc;

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_same_event_twice);
	tcase_add_test(tc, test_success_and_failure);
	tcase_add_test(tc, test_failure_key_fields);
	tcase_add_test(tc, test_policy_key_fields);
	tcase_add_test(tc, test_key_decode_two_policies);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_all_or_nothing);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_stat_names);
	tcase_add_test(tc, test_fill_to_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_random_counts, 0, 2);
	tcase_add_test(tc, test_arbitrary_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tally_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
