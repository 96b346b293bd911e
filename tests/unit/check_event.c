/*
 * NAME
 *	check_event - unit tests for lib/event.c and lib/event_enc.c
 * DESCRIPTION
 *	The datagram codec: every fixture in FIXTURES_DIR (default
 *	tests/data/datagrams, a byte-exact copy of the shared fixtures)
 *	parses to the expected fields and encodes back to its own bytes;
 *	every prefix and many one-byte mutations of a fixture are handled
 *	without a crash; the malformed and edge datagrams of event_cases.h
 *	give their documented result; dropping of bad parts, the limits
 *	(policies, strings, failures, depth, domain length, datagram size)
 *	at and one past the cap; libtlsrpt's escaping; the name tables;
 *	and a seeded random round trip ev_parse(ev_encode(x)) == x.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "event_cases.h"
#include "event_util.h"

static struct ev_parser *parser, *parser2;

static void
setup(void)
{
	parser = ev_parser_new(MAX_DGRAM);
	parser2 = ev_parser_new(MAX_DGRAM);
}

static void
teardown(void)
{
	ev_parser_free(parser);
	ev_parser_free(parser2);
}

static enum ev_error
parse_with(struct ev_parser *p, const char *data, size_t len,
    const struct event **ev)
{
	struct ev_diag diag;

	*ev = NULL;
	return ev_parse(p, data, len, ev, &diag);
}

START_TEST(test_fixture_fields)
{
	const struct fx_expect *x = &fixture_expect[_i];
	const struct event *ev;
	size_t len;
	char *data = load_fixture(x->file, &len);

	ck_assert_msg(parse_with(parser, data, len, &ev) == EV_OK, "%s", x->file);
	ck_assert_msg(invariant_violation(ev) == NULL, "%s: %s", x->file,
	    invariant_violation(ev));
	ck_assert_msg(str_is(&ev->dpv, "1"), "%s: dpv", x->file);
	ck_assert_msg(str_is(&ev->domain, x->d), "%s: d '%s'", x->file, ev->domain.p);
	ck_assert_msg(str_is(&ev->record, x->pr), "%s: pr '%s'", x->file, ev->record.p);
	ck_assert_uint_eq(ev->npolicies, x->npolicies);
	ck_assert_uint_eq(ev->repaired_strings, x->repaired);
	ck_assert_uint_eq(ev->dropped_policies, 0);
	ck_assert_uint_eq(ev->dropped_failures, 0);
	ck_assert_uint_eq(ev->t_mismatches, 0);
	ck_assert_int_eq(ev->part_error, EV_OK);
	for (uint32_t i = 0; i < x->npolicies; i++) {
		const struct ev_policy *p = &ev->policies[i];
		const struct fx_policy *w = &x->pol[i];

		ck_assert_msg(p->type == w->type, "%s: type %ld", x->file, p->type);
		ck_assert_msg(str_is(&p->domain, w->domain), "%s: policy-domain '%s'",
		    x->file, p->domain.p);
		ck_assert_uint_eq(p->nstrings, w->nstrings);
		ck_assert_uint_eq(p->nmx_hosts, w->nmx);
		ck_assert_uint_eq(p->nfailures, w->nfailures);
		ck_assert_int_eq(p->failed, w->failed);
		ck_assert_int_eq(p->t, w->t);
		if (w->string0 != NULL)
			ck_assert(str_is(&p->strings[0], w->string0));
		if (w->mx0 != NULL)
			ck_assert(str_is(&p->mx_hosts[0], w->mx0));
		if (w->nfailures > 0)
			check_fx_failure(x->file, &p->failures[0], &w->fail0);
	}
	free(data);
}
END_TEST

/* Every *.json in the directory, named in the table or not. */
START_TEST(test_fixture_dir_all)
{
	DIR *dir = opendir(fixtures_dir());
	struct dirent *de;
	size_t nfiles = 0, nknown = 0;

	ck_assert_msg(dir != NULL, "%s: %s", fixtures_dir(), strerror(errno));
	while ((de = readdir(dir)) != NULL) {
		size_t n = strlen(de->d_name), len;
		const struct event *ev, *ev2;
		struct buf b;
		char *data;

		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		nfiles++;
		for (size_t i = 0; i < NELEM(fixture_expect); i++)
			if (strcmp(fixture_expect[i].file, de->d_name) == 0)
				nknown++;
		data = load_fixture(de->d_name, &len);
		ck_assert_msg(parse_with(parser, data, len, &ev) == EV_OK, "%s",
		    de->d_name);
		ck_assert_msg(invariant_violation(ev) == NULL, "%s", de->d_name);
		buf_init(&b, MAX_DGRAM);
		ck_assert_int_eq(ev_encode(ev, &b), 0);
		ck_assert_int_eq(parse_with(parser2, b.data, b.len, &ev2), EV_OK);
		ck_assert_msg(event_diff(ev, ev2) == NULL, "%s: %s", de->d_name,
		    event_diff(ev, ev2));
		buf_free(&b);
		free(data);
	}
	closedir(dir);
	ck_assert_uint_eq(nknown, NELEM(fixture_expect));
	ck_assert_uint_ge(nfiles, NELEM(fixture_expect));
}
END_TEST

START_TEST(test_fixture_roundtrip)
{
	const struct fx_expect *x = &fixture_expect[_i];
	const struct event *ev, *ev2;
	size_t len;
	char *data = load_fixture(x->file, &len);
	struct buf b;

	buf_init(&b, MAX_DGRAM);
	ck_assert_int_eq(parse_with(parser, data, len, &ev), EV_OK);
	ck_assert_int_eq(ev_encode(ev, &b), 0);
	if (x->exact)
		ck_assert_msg(b.len == len && memcmp(b.data, data, len) == 0,
		    "%s: encoded\n%s\nwant\n%.*s", x->file, b.data, (int)len, data);
	else
		ck_assert_msg(b.len != len || memcmp(b.data, data, len) != 0,
		    "%s: expected normalisation to change the bytes", x->file);
	ck_assert_int_eq(parse_with(parser2, b.data, b.len, &ev2), EV_OK);
	ck_assert_msg(event_diff(ev, ev2) == NULL, "%s: %s differs", x->file,
	    event_diff(ev, ev2));
	ck_assert_uint_eq(ev2->repaired_strings, 0);
	buf_free(&b);
	free(data);
}
END_TEST

/* Every prefix is an error; each lives in an exact-size heap block. */
START_TEST(test_fixture_prefixes)
{
	const struct fx_expect *x = &fixture_expect[_i];
	size_t len, accepted = 0, bad_enum = 0;
	char *data = load_fixture(x->file, &len);
	const struct event *ev;

	for (size_t n = 0; n < len; n++) {
		char *cut = malloc(n ? n : 1);
		enum ev_error e;

		memcpy(cut, data, n);
		e = parse_with(parser, cut, n, &ev);
		accepted += e == EV_OK;
		bad_enum += (unsigned)e >= EV_ERR__COUNT;
		if (n == 0 && e != EV_ERR_EMPTY)
			bad_enum++;
		free(cut);
	}
	ck_assert_msg(accepted == 0, "%s: %zu prefixes accepted", x->file, accepted);
	ck_assert_uint_eq(bad_enum, 0);
	free(data);
}
END_TEST

/* Replace each byte by a few troublesome ones: any result, never a crash. */
START_TEST(test_fixture_mutations)
{
	static const unsigned char subst[] = {
		'"', '\\', '{', '}', '[', ']', ',', ':', '\0', 0x80, 0xFF, '9', ' '
	};
	const struct fx_expect *x = &fixture_expect[_i];
	size_t len, bad = 0;
	char *data = load_fixture(x->file, &len);
	const struct event *ev;

	for (size_t i = 0; i < len; i++) {
		char keep = data[i];

		for (size_t k = 0; k < sizeof(subst); k++) {
			enum ev_error e;

			data[i] = (char)subst[k];
			e = parse_with(parser, data, len, &ev);
			if ((unsigned)e >= EV_ERR__COUNT ||
			    (e == EV_OK && invariant_violation(ev) != NULL))
				bad++;
		}
		data[i] = keep;
	}
	ck_assert_msg(bad == 0, "%s: %zu bad results", x->file, bad);
	free(data);
}
END_TEST

START_TEST(test_case_table)
{
	const struct ev_case *c = &ev_cases[_i];
	size_t len = c->len ? c->len : strlen(c->json);
	char *data = malloc(len ? len : 1);
	const struct event *ev;
	enum ev_error e;

	memcpy(data, c->json, len);
	e = parse_with(parser, data, len, &ev);
	ck_assert_msg(e == c->want, "%s: got %s, want %s", c->name,
	    ev_error_name(e), ev_error_name(c->want));
	if (e == EV_OK) {
		ck_assert_msg(invariant_violation(ev) == NULL, "%s: %s", c->name,
		    invariant_violation(ev));
		ck_assert_msg(ev->npolicies == c->npolicies, "%s: %u policies",
		    c->name, ev->npolicies);
		ck_assert_msg(ev->part_error == c->part, "%s: part_error %s",
		    c->name, ev_error_name(ev->part_error));
		ck_assert_uint_eq(ev->dropped_policies, c->part != EV_OK ? 1 : 0);
		ck_assert_msg(ev->repaired_strings == c->repaired, "%s: repaired %u",
		    c->name, ev->repaired_strings);
		if (c->pr != NULL)
			ck_assert_msg(str_is(&ev->record, c->pr), "%s: pr '%s'",
			    c->name, ev->record.p);
	}
	free(data);
}
END_TEST

START_TEST(test_diag)
{
	struct ev_diag diag;
	const struct event *ev = NULL;
	static const char missing_colon[] = "{\"d\" \"x\"}";
	static const char garbage[] = DGP(POL_OK) "x";

	ck_assert_int_eq(ev_parse(parser, LIT(missing_colon), &ev, &diag), EV_ERR_SYNTAX);
	ck_assert_uint_eq(diag.offset, 5);
	ck_assert(diag.what != NULL && diag.what[0] != '\0');
	ck_assert_ptr_null(ev);
	ck_assert_int_eq(ev_parse(parser, LIT(garbage), &ev, &diag), EV_ERR_SYNTAX);
	ck_assert_uint_eq(diag.offset, sizeof(garbage) - 2);
	ck_assert_int_eq(ev_parse(parser, "", 0, &ev, &diag), EV_ERR_EMPTY);
	ck_assert(diag.what != NULL && diag.what[0] != '\0');
}
END_TEST

/* When every policy was dropped, the message names why (the sender's bug). */
START_TEST(test_diag_all_dropped)
{
	struct ev_diag diag;
	const struct event *ev = NULL;
	static const char bad_f[] = "{\"d\":\"x.example\",\"policies\":"
	    "[{\"policy-type\":2,\"t\":0,\"f\":7}]}";
	static const char no_type[] = "{\"d\":\"x.example\",\"policies\":"
	    "[{\"t\":0,\"f\":0}]}";
	static const char empty[] = "{\"d\":\"x.example\",\"policies\":[]}";

	ck_assert_int_eq(ev_parse(parser, LIT(bad_f), &ev, &diag), EV_ERR_NO_POLICIES);
	ck_assert_msg(strstr(diag.what, "bad_number") != NULL, "%s", diag.what);
	ck_assert_int_eq(ev_parse(parser, LIT(no_type), &ev, &diag), EV_ERR_NO_POLICIES);
	ck_assert_msg(strstr(diag.what, "missing_member") != NULL, "%s", diag.what);
	ck_assert_int_eq(ev_parse(parser, LIT(empty), &ev, &diag), EV_ERR_NO_POLICIES);
	ck_assert_str_eq(diag.what, "no usable policy");
}
END_TEST

/* Results of one parse must not leak into the next. */
START_TEST(test_parser_reuse)
{
	static const char a[] = DG(",\"pr\": \"aa\"", "{\"policy-type\":2,"
	    "\"policy-string\":[\"x\",\"y\"],\"failure-details\":[{\"c\":201}],"
	    "\"t\":1,\"f\":1}");
	static const char b[] = "{\"d\": \"B.example.\",\"policies\":[" POL_OK "]}";
	const struct event *ev;

	ck_assert_int_eq(parse_with(parser, LIT(a), &ev), EV_OK);
	ck_assert_int_eq(parse_with(parser, LIT("{\"d\": \"x"), &ev), EV_ERR_SYNTAX);
	ck_assert_int_eq(parse_with(parser, LIT(b), &ev), EV_OK);
	ck_assert(str_is(&ev->domain, "b.example"));
	ck_assert(str_is(&ev->dpv, ""));
	ck_assert(str_is(&ev->record, ""));
	ck_assert_uint_eq(ev->nstrings, 0);
	ck_assert_uint_eq(ev->nfailures, 0);
	ck_assert_uint_eq(ev->policies[0].nfailures, 0);
	ck_assert(str_is(&ev->policies[0].domain, "b.example"));
	ck_assert_int_eq(parse_with(parser, LIT(a), &ev), EV_OK);
	ck_assert(str_is(&ev->record, "aa"));
	ck_assert_uint_eq(ev->policies[0].nstrings, 2);
	ck_assert(str_is(&ev->policies[0].strings[1], "y"));
}
END_TEST

START_TEST(test_partial_drops)
{
	static const char bad_first[] = DGP("{\"policy-type\":1,\"policy-string\":"
	    "[\"bad1\",\"bad2\"],\"failure-details\":[{\"c\":204}],\"t\":1},"
	    "{\"policy-type\":2,\"policy-string\":[\"good\"],\"t\":0,\"f\":0}");
	static const char bad_failure[] = DGP("{\"policy-type\":2,\"failure-details\":"
	    "[{\"c\":\"201\",\"s\": \"x\"},{\"c\":202,\"s\": \"y\"},{\"s\": \"z\"},7,"
	    "{\"c\":203,\"s\": \"a\",\"s\": \"b\"}],\"t\":5,\"f\":1}");
	static const char odd[] = "{\"dpv\": \"2\",\"d\": \"example.com\",\"policies\":["
	    "{\"policy-type\":7,\"failure-details\":[{\"c\":999}],\"t\":2,\"f\":0},"
	    "{\"policy-type\":2,\"f\":1}]}";
	const struct event *ev;
	const struct ev_policy *p;

	ck_assert_int_eq(parse_with(parser, LIT(bad_first), &ev), EV_OK);
	ck_assert_uint_eq(ev->npolicies, 1);
	ck_assert_uint_eq(ev->dropped_policies, 1);
	ck_assert_int_eq(ev->part_error, EV_ERR_MISSING);
	p = &ev->policies[0];
	ck_assert_int_eq(p->type, 2);
	ck_assert_uint_eq(p->nstrings, 1);
	ck_assert(str_is(&p->strings[0], "good"));
	ck_assert_uint_eq(ev->nstrings, 1);	/* the dropped policy's strings freed */
	ck_assert_uint_eq(ev->nfailures, 0);

	ck_assert_int_eq(parse_with(parser, LIT(bad_failure), &ev), EV_OK);
	ck_assert_uint_eq(ev->npolicies, 1);
	ck_assert_uint_eq(ev->dropped_policies, 0);
	ck_assert_uint_eq(ev->dropped_failures, 4);
	ck_assert_int_eq(ev->part_error, EV_ERR_TYPE);
	ck_assert_uint_eq(ev->t_mismatches, 0);	/* t counts entries as sent */
	p = &ev->policies[0];
	ck_assert_uint_eq(p->nfailures, 1);
	ck_assert_int_eq(p->failures[0].code, 202);
	ck_assert(str_is(&p->failures[0].sending_ip, "y"));

	ck_assert_int_eq(parse_with(parser, LIT(odd), &ev), EV_OK);
	ck_assert(str_is(&ev->dpv, "2"));
	ck_assert_uint_eq(ev->npolicies, 2);
	ck_assert_uint_eq(ev->t_mismatches, 1);
	ck_assert_int_eq(ev->policies[0].type, 7);
	ck_assert_int_eq(ev->policies[0].t, 2);
	ck_assert_int_eq(ev->policies[0].failed, 0);	/* f:0 with details */
	ck_assert_int_eq(ev->policies[0].failures[0].code, 999);
	ck_assert_int_eq(ev->policies[1].t, -1);	/* absent, no mismatch */
	ck_assert_int_eq(ev->policies[1].failed, 1);	/* f:1 without details */
	ck_assert_uint_eq(ev->policies[1].nfailures, 0);
	ck_assert(str_is(&ev->policies[1].domain, "example.com"));
	ck_assert_ptr_null(ev_policy_type_name(7));
	ck_assert_ptr_null(ev_result_type_name(999));

	ck_assert_int_eq(parse_with(parser, LIT("{\"dpv\":[1],\"d\": \"a.example\","
	    "\"policies\":[" POL_OK "]}"), &ev), EV_OK);
	ck_assert(str_is(&ev->dpv, "?"));
}
END_TEST

/* prefix + n × open + n × close + suffix, parsed by a fresh exact block. */
static enum ev_error
parse_nested(const char *prefix, size_t n, char open, char close,
    const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), len = pl + 2 * n + sl;
	char *data = malloc(len);
	const struct event *ev;
	enum ev_error e;

	memcpy(data, prefix, pl);
	memset(data + pl, open, n);
	memset(data + pl + n, close, n);
	memcpy(data + pl + 2 * n, suffix, sl);
	e = parse_with(parser, data, len, &ev);
	free(data);
	return e;
}

START_TEST(test_depth)
{
	/* The top object is level 1, policies 2, a policy 3, failures 4, 5. */
	static const char *const pre_top = "{\"d\": \"example.com\",\"x\":";
	static const char *const post_top = ",\"policies\":[" POL_OK "]}";
	static const char *const pre_pol = "{\"d\": \"example.com\",\"policies\":[{\"x\":";
	static const char *const post_pol = ",\"policy-type\":2,\"t\":0,\"f\":0}]}";
	static const char *const pre_fail = "{\"d\": \"example.com\",\"policies\":"
	    "[{\"policy-type\":2,\"failure-details\":[{\"c\":201,\"x\":";
	static const char *const post_fail = "}],\"t\":1,\"f\":1}]}";

	ck_assert_int_eq(parse_nested(pre_top, EV_MAX_DEPTH - 1, '[', ']', post_top), EV_OK);
	ck_assert_int_eq(parse_nested(pre_top, EV_MAX_DEPTH, '[', ']', post_top), EV_ERR_DEPTH);
	ck_assert_int_eq(parse_nested(pre_pol, EV_MAX_DEPTH - 3, '[', ']', post_pol), EV_OK);
	ck_assert_int_eq(parse_nested(pre_pol, EV_MAX_DEPTH - 2, '[', ']', post_pol), EV_ERR_DEPTH);
	ck_assert_int_eq(parse_nested(pre_fail, EV_MAX_DEPTH - 5, '[', ']', post_fail), EV_OK);
	ck_assert_int_eq(parse_nested(pre_fail, EV_MAX_DEPTH - 4, '[', ']', post_fail), EV_ERR_DEPTH);
	ck_assert_int_eq(parse_nested("", EV_MAX_DEPTH, '[', ']', ""), EV_ERR_NOT_OBJECT);
	ck_assert_int_eq(parse_nested("", EV_MAX_DEPTH + 1, '[', ']', ""), EV_ERR_DEPTH);
	/* Bombs: closed, unclosed, at the top, in objects. */
	ck_assert_int_eq(parse_nested(pre_top, 10000, '[', ']', post_top), EV_ERR_DEPTH);
	ck_assert_int_eq(parse_nested(pre_top, 10000, '[', '[', ""), EV_ERR_DEPTH);
	ck_assert_int_eq(parse_nested("", 10000, '[', ']', ""), EV_ERR_DEPTH);
	ck_assert_int_eq(parse_nested(pre_pol, 10000, '[', ' ', post_pol), EV_ERR_DEPTH);
}
END_TEST

START_TEST(test_object_bomb)
{
	struct buf b;
	const struct event *ev;

	buf_init(&b, MAX_DGRAM);
	ck_assert_int_eq(buf_puts(&b, "{\"d\": \"example.com\",\"x\":"), 0);
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(buf_puts(&b, "{\"a\":"), 0);
	ck_assert_int_eq(parse_with(parser, b.data, b.len, &ev), EV_ERR_DEPTH);
	buf_free(&b);
}
END_TEST

/* A datagram whose d (and policy-domain, when pd) is n × 'A' plus tail. */
static enum ev_error
parse_domain(size_t n, const char *tail, int pd, const struct event **ev)
{
	struct buf b;
	char label[600];
	enum ev_error e;

	memset(label, 'A', n);
	label[n] = '\0';
	buf_init(&b, MAX_DGRAM);
	if (pd)
		ck_assert_int_eq(buf_printf(&b, "{\"d\": \"example.com\",\"policies\":["
		    POL_OK ",{\"policy-type\":1,\"policy-domain\": \"%s%s\",\"t\":0,"
		    "\"f\":0}]}", label, tail), 0);
	else
		ck_assert_int_eq(buf_printf(&b, "{\"d\": \"%s%s\",\"policies\":["
		    POL_OK "]}", label, tail), 0);
	e = parse_with(parser, b.data, b.len, ev);
	buf_free(&b);
	return e;
}

START_TEST(test_domain_length)
{
	const struct event *ev;

	ck_assert_int_eq(parse_domain(EV_MAX_DOMAIN - 4, ".COM", 0, &ev), EV_OK);
	ck_assert_uint_eq(ev->domain.len, EV_MAX_DOMAIN);
	ck_assert_int_eq(ev->domain.p[0], 'a');
	ck_assert(str_is(&ev->domain, ev->domain.p) && domain_ok(&ev->domain));
	ck_assert_int_eq(parse_domain(EV_MAX_DOMAIN - 4, ".com.", 0, &ev), EV_OK);
	ck_assert_uint_eq(ev->domain.len, EV_MAX_DOMAIN);
	ck_assert_int_eq(parse_domain(EV_MAX_DOMAIN - 3, ".com", 0, &ev), EV_ERR_DOMAIN);
	ck_assert_int_eq(parse_domain(500, "", 0, &ev), EV_ERR_DOMAIN);
	ck_assert_int_eq(parse_domain(EV_MAX_DOMAIN - 4, ".com", 1, &ev), EV_OK);
	ck_assert_uint_eq(ev->npolicies, 2);
	ck_assert_uint_eq(ev->policies[1].domain.len, EV_MAX_DOMAIN);
	ck_assert_int_eq(parse_domain(EV_MAX_DOMAIN - 3, ".com", 1, &ev), EV_OK);
	ck_assert_uint_eq(ev->npolicies, 1);
	ck_assert_int_eq(ev->part_error, EV_ERR_DOMAIN);
}
END_TEST

START_TEST(test_oversize)
{
	static const char dg[] = DGP(POL_OK);
	size_t len = sizeof(dg) - 1;
	struct ev_parser *small = ev_parser_new(len);
	const struct event *ev;
	char *data = malloc(len + 1);

	memcpy(data, dg, len);
	data[len] = ' ';	/* still valid JSON with the extra byte */
	ck_assert_int_eq(parse_with(small, data, len, &ev), EV_OK);
	ck_assert_int_eq(parse_with(small, data, len + 1, &ev), EV_ERR_OVERSIZE);
	ck_assert_int_eq(parse_with(parser, data, len + 1, &ev), EV_OK);
	ev_parser_free(small);
	small = ev_parser_new(0);
	ck_assert_int_eq(parse_with(small, data, 1, &ev), EV_ERR_OVERSIZE);
	ck_assert_int_eq(parse_with(small, data, 0, &ev), EV_ERR_EMPTY);
	ev_parser_free(small);
	free(data);
}
END_TEST

START_TEST(test_limits)
{
	const struct event *ev;
	struct buf b;
	int nstr[3], nfail[2];

	buf_init(&b, MAX_DGRAM);
	build_many(&b, EV_MAX_POLICIES, NULL, NULL);
	ck_assert_int_eq(parse_with(parser, b.data, b.len, &ev), EV_OK);
	ck_assert_uint_eq(ev->npolicies, EV_MAX_POLICIES);
	ck_assert_uint_eq(ev->dropped_policies, 0);
	build_many(&b, EV_MAX_POLICIES + 1, NULL, NULL);
	ck_assert_int_eq(parse_with(parser, b.data, b.len, &ev), EV_OK);
	ck_assert_uint_eq(ev->npolicies, EV_MAX_POLICIES);
	ck_assert_uint_eq(ev->dropped_policies, 1);
	ck_assert_int_eq(ev->part_error, EV_ERR_LIMIT);

	/* Strings: the pool is shared; a dropped policy gives its share back. */
	nstr[0] = EV_MAX_STRINGS;
	build_many(&b, 1, nstr, NULL);
	ck_assert_int_eq(parse_with(parser, b.data, b.len, &ev), EV_OK);
	ck_assert_uint_eq(ev->policies[0].nstrings, EV_MAX_STRINGS);
	ck_assert(str_is(&ev->policies[0].strings[EV_MAX_STRINGS - 1], "p0-1023"));
	nstr[0] = EV_MAX_STRINGS + 1;
	build_many(&b, 1, nstr, NULL);
	ck_assert_int_eq(parse_with(parser, b.data, b.len, &ev), EV_ERR_NO_POLICIES);
	nstr[0] = EV_MAX_STRINGS - 24;
	nstr[1] = 30;
	nstr[2] = 24;
	build_many(&b, 3, nstr, NULL);
	ck_assert_int_eq(parse_with(parser, b.data, b.len, &ev), EV_OK);
	ck_assert_uint_eq(ev->npolicies, 2);
	ck_assert_uint_eq(ev->dropped_policies, 1);
	ck_assert_int_eq(ev->part_error, EV_ERR_LIMIT);
	ck_assert_uint_eq(ev->policies[1].nstrings, 24);
	ck_assert(str_is(&ev->policies[1].strings[0], "p2-0"));
	ck_assert(str_is(&ev->policies[1].strings[23], "p2-23"));

	/* Failures: entries past the cap are dropped, their policy kept. */
	nfail[0] = EV_MAX_FAILURES;
	build_many(&b, 1, NULL, nfail);
	ck_assert_int_eq(parse_with(parser, b.data, b.len, &ev), EV_OK);
	ck_assert_uint_eq(ev->policies[0].nfailures, EV_MAX_FAILURES);
	ck_assert_uint_eq(ev->dropped_failures, 0);
	nfail[0] = EV_MAX_FAILURES + 1;
	build_many(&b, 1, NULL, nfail);
	ck_assert_int_eq(parse_with(parser, b.data, b.len, &ev), EV_OK);
	ck_assert_uint_eq(ev->policies[0].nfailures, EV_MAX_FAILURES);
	ck_assert(str_is(&ev->policies[0].failures[EV_MAX_FAILURES - 1].sending_ip, "0-255"));
	ck_assert_uint_eq(ev->dropped_failures, 1);
	ck_assert_int_eq(ev->part_error, EV_ERR_LIMIT);
	ck_assert_uint_eq(ev->t_mismatches, 0);
	nfail[0] = EV_MAX_FAILURES;
	nfail[1] = 1;
	build_many(&b, 2, NULL, nfail);
	ck_assert_int_eq(parse_with(parser, b.data, b.len, &ev), EV_OK);
	ck_assert_uint_eq(ev->npolicies, 2);
	ck_assert_uint_eq(ev->policies[1].nfailures, 0);
	ck_assert_uint_eq(ev->dropped_failures, 1);
	buf_free(&b);
}
END_TEST

START_TEST(test_json_escape)
{
	struct buf b;
	size_t n = strlen(escape_cases[_i].out);

	buf_init(&b, 1024);
	ck_assert_int_eq(ev_json_escape(&b, escape_cases[_i].in, escape_cases[_i].len), 0);
	ck_assert_msg(b.len == n && (n == 0 || memcmp(b.data, escape_cases[_i].out, n) == 0),
	    "case %d: '%s'", _i, b.data);
	buf_free(&b);
	if (n > 0) {
		buf_init(&b, n - 1);
		ck_assert_int_eq(ev_json_escape(&b, escape_cases[_i].in,
		    escape_cases[_i].len), -1);
		ck_assert_uint_le(b.len, n - 1);
		buf_free(&b);
	}
}
END_TEST

START_TEST(test_encode_cap)
{
	size_t len, wrong = 0;
	char *data = load_fixture("two-policies-sts-fail-tlsa-ok.json", &len);
	const struct event *ev;
	struct buf b;

	ck_assert_int_eq(parse_with(parser, data, len, &ev), EV_OK);
	for (size_t max = 0; max < len; max++) {
		buf_init(&b, max);
		if (ev_encode(ev, &b) != -1 || b.len > max)
			wrong++;
		buf_free(&b);
	}
	ck_assert_uint_eq(wrong, 0);
	buf_init(&b, len);
	ck_assert_int_eq(ev_encode(ev, &b), 0);
	ck_assert_mem_eq(b.data, data, len);
	buf_free(&b);
	buf_init(&b, 16);
	ck_assert_int_eq(ev_encode(ev, &b), -1);
	buf_free(&b);
	free(data);
}
END_TEST

START_TEST(test_names)
{
	static const struct { long code; const char *name; } codes[] = {
		{ 201, "starttls-not-supported" }, { 202, "certificate-host-mismatch" },
		{ 203, "certificate-not-trusted" }, { 204, "certificate-expired" },
		{ 205, "validation-failure" }, { 301, "sts-policy-fetch-error" },
		{ 302, "sts-policy-invalid" }, { 303, "sts-webpki-invalid" },
		{ 304, "tlsa-invalid" }, { 305, "dnssec-invalid" }, { 306, "dane-required" },
	};
	static const long not_codes[] = { -1, 0, 1, 2, 9, 200, 206, 300, 307, 901, 999 };

	for (size_t i = 0; i < NELEM(codes); i++) {
		ck_assert_str_eq(ev_result_type_name(codes[i].code), codes[i].name);
		ck_assert_int_eq(ev_result_code_from_name(codes[i].name), codes[i].code);
	}
	for (size_t i = 0; i < NELEM(not_codes); i++)
		ck_assert_ptr_null(ev_result_type_name(not_codes[i]));
	ck_assert_str_eq(ev_policy_type_name(EV_POLICY_TLSA), "tlsa");
	ck_assert_str_eq(ev_policy_type_name(EV_POLICY_STS), "sts");
	ck_assert_str_eq(ev_policy_type_name(EV_POLICY_NONE), "no-policy-found");
	ck_assert_int_eq(ev_policy_type_from_name("tlsa"), 1);
	ck_assert_int_eq(ev_policy_type_from_name("sts"), 2);
	ck_assert_int_eq(ev_policy_type_from_name("no-policy-found"), 9);
	ck_assert_ptr_null(ev_policy_type_name(0));
	ck_assert_ptr_null(ev_policy_type_name(3));
	ck_assert_ptr_null(ev_policy_type_name(-1));
	ck_assert_int_eq(ev_policy_type_from_name("STS"), -1);
	ck_assert_int_eq(ev_policy_type_from_name(""), -1);
	ck_assert_int_eq(ev_result_code_from_name("tlsa"), -1);
	ck_assert_int_eq(ev_result_code_from_name("dane-required "), -1);
	for (int i = 0; i < EV_ERR__COUNT; i++) {
		const char *n = ev_error_name((enum ev_error)i);
		ck_assert(n != NULL && n[0] != '\0' && strcmp(n, "unknown") != 0);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(n, ev_error_name((enum ev_error)j));
	}
	ck_assert_str_eq(ev_error_name(EV_OK), "ok");
	ck_assert_str_eq(ev_error_name(EV_ERR__COUNT), "unknown");
	ck_assert_str_eq(ev_error_name((enum ev_error)-1), "unknown");
}
END_TEST

/*
 * ev_parse(ev_encode(x)) == x for random events (strings with quotes,
 * backslashes, controls and multibyte UTF-8), and encoding is stable:
 * ev_encode(ev_parse(e)) == e for what ev_encode wrote.
 */
START_TEST(test_random_roundtrip)
{
	static struct gen g;
	struct buf e1, e2, e3;
	const char *first = NULL;
	size_t bad = 0;
	int first_at = -1;

	g.state = 0x746C737270746400ULL;
	buf_init(&e1, MAX_DGRAM);
	buf_init(&e2, MAX_DGRAM);
	buf_init(&e3, MAX_DGRAM);
	for (int it = 0; it < 10000; it++) {
		const struct event *ev, *ev2;
		const char *why = NULL;

		gen_event(&g);
		buf_reset(&e1);
		buf_reset(&e2);
		buf_reset(&e3);
		if (ev_encode(&g.ev, &e1) != 0)
			why = "encode";
		else if (parse_with(parser, e1.data, e1.len, &ev) != EV_OK)
			why = "parse";
		else {
			gen_expected(&g);
			why = event_diff(&g.ev, ev);
			if (why == NULL && (invariant_violation(ev) != NULL ||
			    ev->repaired_strings || ev->dropped_policies ||
			    ev->dropped_failures || ev->t_mismatches))
				why = "invariants or counters";
			if (why == NULL && (ev_encode(ev, &e2) != 0 ||
			    parse_with(parser2, e2.data, e2.len, &ev2) != EV_OK ||
			    ev_encode(ev2, &e3) != 0 || e2.len != e3.len ||
			    memcmp(e2.data, e3.data, e2.len) != 0))
				why = "re-encoding not stable";
		}
		if (why != NULL && bad++ == 0) {
			first = why;
			first_at = it;
			fprintf(stderr, "random event %d: %s\n%s\n", it, why, e1.data);
		}
	}
	ck_assert_msg(bad == 0, "%zu of 10000 events differ, first #%d: %s",
	    bad, first_at, first);
	buf_free(&e1);
	buf_free(&e2);
	buf_free(&e3);
}
END_TEST

static Suite *
event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc;
	int nfx = (int)NELEM(fixture_expect);

	tc = tcase_create("fixtures");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_fixture_fields, 0, nfx);
	tcase_add_test(tc, test_fixture_dir_all);
	tcase_add_loop_test(tc, test_fixture_roundtrip, 0, nfx);
	tcase_add_loop_test(tc, test_fixture_prefixes, 0, nfx);
	tcase_add_loop_test(tc, test_fixture_mutations, 0, nfx);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_case_table, 0, (int)NELEM(ev_cases));
	tcase_add_test(tc, test_diag);
	tcase_add_test(tc, test_diag_all_dropped);
	tcase_add_test(tc, test_parser_reuse);
	tcase_add_test(tc, test_partial_drops);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_object_bomb);
	tcase_add_test(tc, test_domain_length);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_json_escape, 0, (int)NELEM(escape_cases));
	tcase_add_test(tc, test_encode_cap);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_random_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(event_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
