/*
 * NAME
 *	check_rparse - unit tests for lib/rparse.c, the inbound report parser
 * DESCRIPTION
 *	Every file in tests/data/real-reports/ must parse: the .json files
 *	as they are, the .json.gz through gz_decompress(), and each .eml
 *	through a small extractor here (the application/tlsrpt+gzip part,
 *	base64-decoded, then gunzipped; the MIME quirks themselves belong
 *	to the mail-path tests). A table (fixtures in rparse_cases.h) gives
 *	per file the org, report-id, date range, number of policies, summed
 *	session counts and the exact repairs string; a file in the
 *	directory without a row fails.
 *	Detail tests pin the quirks (Microsoft's JSON-in-string TLSA list,
 *	Google's CR-terminated lines, the RFC's string mx-host, ...).
 *
 *	A table of synthetic documents (doc_cases) covers hostile and odd
 *	input, each with its error code and a substring of the reason (or,
 *	accepted, the exact repairs). Generated cases sit on every cap and
 *	one past it, nest 100000 levels, and sweep truncations and byte
 *	changes of a real report checking that the outcome stays
 *	well-formed. The byte-level helpers (rparse_scan.c) have tables of
 *	their own.
 */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gz.h"
#include "rparse.h"
#include "rparse_cases.h"

#define FIXTURES	"tests/data/real-reports"

/* --- loading the fixtures ------------------------------------------- */

static void
read_file(const char *path, struct buf *out)
{
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "rb");

	ck_assert_msg(fp != NULL, "cannot open %s (run from the top of the tree)",
	    path);
	buf_reset(out);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		ck_assert_int_eq(buf_append(out, chunk, n), 0);
	ck_assert(!ferror(fp));
	fclose(fp);
}

static int
b64_value(char ch)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch ? strchr(alphabet, ch) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/*
 * The body of the first application/tlsrpt+gzip part, base64-decoded:
 * from the blank line after that header to the next boundary line.
 */
static void
eml_attachment(const struct buf *msg, struct buf *gz)
{
	const char *p = strcasestr(msg->data, "application/tlsrpt+gzip");
	const char *lf, *crlf;
	unsigned long acc = 0;
	int bits = 0, v;

	ck_assert_ptr_nonnull(p);
	lf = strstr(p, "\n\n");
	crlf = strstr(p, "\n\r\n");
	p = (lf == NULL || (crlf != NULL && crlf < lf)) ? crlf : lf;
	ck_assert_ptr_nonnull(p);
	buf_reset(gz);
	for (p++; *p && !(p[0] == '\n' && p[1] == '-' && p[2] == '-'); p++) {
		if ((v = b64_value(*p)) < 0)
			continue;	/* CR, LF, '=' */
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			ck_assert_int_eq(buf_putc(gz, (char)(acc >> bits & 0xff)), 0);
		}
	}
	ck_assert_uint_gt(gz->len, 20);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The report JSON inside a fixture file, whatever its packaging. */
static void
load_report(const char *name, struct buf *json)
{
	char path[512];
	struct buf raw, gz;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	buf_init(&raw, 1 << 20);
	buf_init(&gz, 1 << 20);
	read_file(path, &raw);
	if (ends_with(name, ".eml")) {
		eml_attachment(&raw, &gz);
		ck_assert_int_eq(gz_decompress(gz.data, gz.len, json), GZ_OK);
	} else if (ends_with(name, ".gz")) {
		ck_assert_int_eq(gz_decompress(raw.data, raw.len, json), GZ_OK);
	} else {
		buf_reset(json);
		ck_assert_int_eq(buf_append(json, raw.data, raw.len), 0);
	}
	buf_free(&raw);
	buf_free(&gz);
}

static void
parse_fixture(const char *name, struct rp_report *r)
{
	struct buf json;
	char err[256];

	buf_init(&json, 1 << 20);
	load_report(name, &json);
	ck_assert_msg(rp_parse(json.data, json.len, NULL, r, err, sizeof(err))
	    == 0, "%s: %s", name, err);
	ck_assert_str_eq(err, "");
	buf_free(&json);
}

/* --- the real reports ------------------------------------------------ */

START_TEST(test_fixture)
{
	const struct fixture *fx = &fixtures[_i];
	struct rp_report r;
	int64_t ok, failed;

	parse_fixture(fx->file, &r);
	ck_assert_str_eq(r.org, fx->org);
	ck_assert_str_eq(r.report_id, fx->report_id);
	ck_assert_int_eq(r.start, fx->start);
	ck_assert_int_eq(r.end - r.start, fx->length);
	ck_assert_uint_eq(r.np, fx->policies);
	rp_totals(&r, &ok, &failed);
	ck_assert_int_eq(ok, fx->ok);
	ck_assert_int_eq(failed, fx->failed);
	ck_assert_str_eq(r.repairs, fx->repairs);
	for (size_t i = 0; i < r.np; i++)
		ck_assert_ptr_nonnull(r.p[i].type);
	rp_free(&r);
}
END_TEST

/* Every file of the shared set has a row, and every row a file. */
START_TEST(test_fixture_dir_covered)
{
	DIR *d = opendir(FIXTURES);
	struct dirent *e;
	size_t seen = 0, i;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "INDEX.md") == 0)
			continue;
		for (i = 0; i < NFIXTURES; i++)
			if (strcmp(fixtures[i].file, e->d_name) == 0)
				break;
		ck_assert_msg(i < NFIXTURES, "%s has no row in fixtures[]", e->d_name);
		seen++;
	}
	closedir(d);
	ck_assert_uint_eq(seen, NFIXTURES);
}
END_TEST

START_TEST(test_microsoft_tlsa_unwrapped)
{
	struct rp_report r;

	parse_fixture("microsoft-kravietz-1.eml", &r);
	ck_assert_str_eq(r.p[0].type, "sts");
	ck_assert_str_eq(r.p[1].type, "tlsa");
	ck_assert_str_eq(r.p[1].domain, "krvtz.net");
	ck_assert_uint_eq(r.p[1].nstrings, 13);
	ck_assert_str_eq(r.p[1].strings[0], "2 1 1 025490860B498AB73C6A12F27A49AD"
	    "5FE230FAFE3AC8F6112C9B7D0AAD46941D");
	ck_assert_str_eq(r.p[1].strings[12], "2 1 1 F1647A5EE3EFAC54C892E930584F"
	    "E47979B7ACD1C76C1271BCA1C5076D869888");
	ck_assert_uint_eq(r.p[0].nstrings, 4);	/* sts lines left alone */
	ck_assert_uint_eq(r.p[0].nmx, 0);
	rp_free(&r);

	parse_fixture("microsoft-cryinc-1.json", &r);
	ck_assert_uint_eq(r.p[1].nstrings, 2);
	ck_assert_str_eq(r.p[1].strings[1], "3 1 1 837C773D54C2E2BD71871A3FC352"
	    "BE8214D5646CBAE5E3091401A7274717998B");
	ck_assert_str_eq(r.p[0].strings[2], "mx: *.random.net");
	rp_free(&r);
}
END_TEST

START_TEST(test_google_cr_lines)
{
	struct rp_report r;
	static const char *const want[] = { "version: STSv1", "mode: enforce",
	    "max_age: 2419200", "mx: digilicious.com" };

	parse_fixture("google-imparser-1.json.gz", &r);
	ck_assert_uint_eq(r.p[0].nstrings, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(r.p[0].strings[i], want[i]);
	ck_assert_uint_eq(r.p[0].nmx, 0);
	rp_free(&r);
}
END_TEST

START_TEST(test_rfc_example_details)
{
	struct rp_report r;
	struct rp_failure *f;

	parse_fixture("rfc8460-example.json", &r);
	ck_assert_str_eq(r.contact, "sts-reporting@company-x.example");
	ck_assert_uint_eq(r.p[0].nmx, 1);
	ck_assert_str_eq(r.p[0].mx[0], "*.mail.company-y.example");
	ck_assert_uint_eq(r.p[0].nf, 3);
	f = r.p[0].f;
	ck_assert_str_eq(f[0].result_type, "certificate-expired");
	ck_assert_str_eq(f[0].sending_ip, "2001:db8:abcd:0012::1");
	ck_assert_ptr_null(f[0].receiving_ip);
	ck_assert_ptr_null(f[0].reason);
	ck_assert_int_eq(f[0].count + f[1].count + f[2].count, 303);
	ck_assert_str_eq(f[1].additional_info, "https://reports.company-x.example/"
	    "report_info ? id = 5065427 c - 23 d3# StarttlsNotSupported ");
	ck_assert_str_eq(f[2].reason, "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
	ck_assert_str_eq(f[2].mx_hostname, "mx-backup.mail.company-y.example");
	rp_free(&r);
}
END_TEST

START_TEST(test_sparse_failures)
{
	struct rp_report r;

	parse_fixture("microsoft-cryinc-2.json", &r);
	ck_assert_uint_eq(r.p[0].nstrings, 0);
	ck_assert_uint_eq(r.p[0].nf, 1);
	ck_assert_str_eq(r.p[0].f[0].result_type, "sts-policy-fetch-error");
	ck_assert_ptr_null(r.p[0].f[0].sending_ip);
	ck_assert_ptr_null(r.p[0].f[0].mx_hostname);
	ck_assert_int_eq(r.p[0].f[0].count, 3);
	rp_free(&r);

	parse_fixture("mailru-kravietz-1.eml", &r);
	ck_assert_ptr_nonnull(strstr(r.p[0].f[0].reason,
	    "Get \"https://mta-sts.krvtz.net/.well-known/mta-sts.txt\""));
	rp_free(&r);

	parse_fixture("stalwart-cryinc-1.json", &r);
	ck_assert_ptr_null(r.contact);
	ck_assert_uint_eq(r.p[0].nf, 0);
	ck_assert_uint_eq(r.p[0].nmx, 1);
	ck_assert_str_eq(r.p[0].mx[0], "mx: mx.server.com");	/* kept as sent */
	rp_free(&r);
}
END_TEST

/* --- synthetic documents --------------------------------------------- */

static int
is_empty(const struct rp_report *r)
{
	return r->org == NULL && r->report_id == NULL && r->contact == NULL &&
	    r->p == NULL && r->np == 0 && r->repairs == NULL;
}

START_TEST(test_doc_case)
{
	const struct doc_case *dc = &doc_cases[_i];
	struct rp_report r;
	char err[512];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = rp_parse(dc->json, dc->len, NULL, &r, err, sizeof(err));
	ck_assert_msg(rc == dc->code, "%s: rc %d (%s), want %d; err: %s",
	    dc->name, rc, rp_error_name(rc), dc->code, err);
	if (rc == RP_OK) {
		ck_assert_str_eq(err, "");
		ck_assert_msg(strcmp(r.repairs, dc->expect) == 0,
		    "%s: repairs \"%s\", want \"%s\"", dc->name, r.repairs, dc->expect);
		ck_assert(*r.org && *r.report_id && r.np >= 1);
		rp_free(&r);
	} else {
		ck_assert_msg(strstr(err, dc->expect) != NULL,
		    "%s: err \"%s\" lacks \"%s\"", dc->name, err, dc->expect);
		ck_assert_ptr_null(strchr(err, '\n'));
		ck_assert(is_empty(&r));
	}
}
END_TEST

static void
parse_ok(const char *json, struct rp_report *r)
{
	char err[256];

	ck_assert_msg(rp_parse(json, strlen(json), NULL, r, err, sizeof(err)) == 0,
	    "%s", err);
}

/* The values behind some accepted cases, not only their repairs. */
START_TEST(test_doc_values)
{
	struct rp_report r;

	parse_ok("{\"organization-name\":\"o\",\"report-id\":\"r\","
	    DR("2024-01-01T01:00:00.5+01:00", "2024-01-02T00:00:00.000Z")
	    ",\"policies\":[" STS "]}", &r);
	ck_assert_int_eq(r.start, 1704067200);
	ck_assert_int_eq(r.end, 1704067200 + DAY);
	rp_free(&r);

	parse_ok(REPORT(WITH_COUNTS("\"12\"", "7.0")), &r);
	ck_assert_int_eq(r.p[0].successes, 12);
	ck_assert_int_eq(r.p[0].failures, 7);
	rp_free(&r);

	parse_ok(REPORT(POLICY(",\"policy-string\":[\"[\\\"3 1 1 AA\\\","
	    "\\\" 3 1 1 BB \\\"]\"],\"mx-host\":\"mx.d\"")), &r);
	ck_assert_uint_eq(r.p[0].nstrings, 2);
	ck_assert_str_eq(r.p[0].strings[0], "3 1 1 AA");
	ck_assert_str_eq(r.p[0].strings[1], " 3 1 1 BB");	/* trailing only */
	ck_assert_uint_eq(r.p[0].nmx, 1);
	ck_assert_str_eq(r.p[0].mx[0], "mx.d");
	rp_free(&r);

	parse_ok(REPORT(POLICY(",\"policy-string\":[\"[not json\"]")), &r);
	ck_assert_str_eq(r.p[0].strings[0], "[not json");
	rp_free(&r);

	parse_ok(REPORT("{\"policy\":{\"policy-type\":\"dane-x\"}}"), &r);
	ck_assert_str_eq(r.p[0].type, "dane-x");
	ck_assert_ptr_null(r.p[0].domain);
	ck_assert_int_eq(r.p[0].successes, 0);
	rp_free(&r);

	parse_ok("{\"organization-name\":\"Soci\xe9t\xe9 caf\xc3\xa9 \xc0\xaf\","
	    "\"report-id\":\"r\"," DR_OK ",\"policies\":[" STS "]}", &r);
	ck_assert_str_eq(r.org, "Soci\xc3\xa9t\xc3\xa9 caf\xc3\xa9 \xc3\x80\xc2\xaf");
	rp_free(&r);
}
END_TEST

/* --- generated documents: depth and caps ----------------------------- */

/* No ck_assert per step: each one costs a write to check's pipe. */
static void
putn(struct buf *b, const char *s, size_t times)
{
	int rc = 0;

	for (size_t i = 0; i < times; i++)
		rc |= buf_puts(b, s);
	ck_assert_int_eq(rc, 0);
}

static int
parse_buf(const struct buf *b, const struct rp_limits *lim, char *err,
    size_t errlen)
{
	struct rp_report r;
	int rc = rp_parse(b->data, b->len, lim, &r, err, errlen);

	if (rc == RP_OK)
		rp_free(&r);
	else
		ck_assert(is_empty(&r));
	return rc;
}

static void
expect_rc(const struct buf *b, const struct rp_limits *lim, int code,
    const char *why)
{
	char err[256];
	int rc = parse_buf(b, lim, err, sizeof(err));

	ck_assert_msg(rc == code, "rc %d, want %d: %s", rc, code, err);
	ck_assert_msg(strstr(err, why) != NULL, "err \"%s\" lacks \"%s\"", err, why);
}

START_TEST(test_deep_nesting)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	putn(&b, "[", 100000);
	putn(&b, "]", 100000);
	expect_rc(&b, NULL, RP_TOO_DEEP, "nesting deeper than 64 (offset 64)");
	buf_reset(&b);
	putn(&b, "{\"a\":", 100000);
	putn(&b, "}", 100000);
	expect_rc(&b, NULL, RP_TOO_DEEP, "nesting deeper than 64");
	buf_reset(&b);	/* unbalanced, never closed */
	putn(&b, "[{", 50000);
	expect_rc(&b, NULL, RP_TOO_DEEP, "nesting deeper than 64");
	buf_free(&b);
}
END_TEST

/* An extra member nested n levels under the top-level object. */
static void
nested_report(struct buf *b, size_t levels, const char *inside)
{
	buf_reset(b);
	ck_assert_int_eq(buf_puts(b, "{\"x\":"), 0);
	putn(b, "[", levels);
	ck_assert_int_eq(buf_puts(b, inside), 0);
	putn(b, "]", levels);
	ck_assert_int_eq(buf_puts(b, ","), 0);
	ck_assert_int_eq(buf_puts(b, REPORT(STS) + 1), 0);	/* without '{' */
}

START_TEST(test_depth_at_cap)
{
	struct rp_limits lim = { .max_depth = 5 };
	struct buf b;

	buf_init(&b, 1 << 20);
	nested_report(&b, 63, "");		/* 1 + 63 = 64 levels */
	expect_rc(&b, NULL, RP_OK, "");
	nested_report(&b, 64, "");
	expect_rc(&b, NULL, RP_TOO_DEEP, "nesting deeper than 64");
	/* The report itself is 5 deep (policies[].policy.policy-string[]). */
	buf_reset(&b);
	ck_assert_int_eq(buf_puts(&b, REPORT(POLICY(",\"mx-host\":[]"))), 0);
	expect_rc(&b, &lim, RP_OK, "");
	lim.max_depth = 4;
	expect_rc(&b, &lim, RP_TOO_DEEP, "nesting deeper than 4");
	buf_free(&b);
}
END_TEST

/* Brackets inside strings, escaped quotes included, are not nesting. */
START_TEST(test_brackets_in_strings)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_reset(&b);
	ck_assert_int_eq(buf_puts(&b, "{\"x\":\"\\\"\\\\"), 0);
	putn(&b, "[{", 50000);
	ck_assert_int_eq(buf_puts(&b, "\","), 0);
	ck_assert_int_eq(buf_puts(&b, REPORT(STS) + 1), 0);
	expect_rc(&b, NULL, RP_OK, "");
	/* Deep JSON inside a policy-string entry: kept as text, no crash. */
	buf_reset(&b);
	ck_assert_int_eq(buf_puts(&b, HEAD "\"policies\":[{\"policy\":{"
	    "\"policy-type\":\"tlsa\",\"policy-string\":[\""), 0);
	putn(&b, "[", 20000);
	putn(&b, "]", 20000);
	ck_assert_int_eq(buf_puts(&b, "\"]}}]}"), 0);
	expect_rc(&b, NULL, RP_OK, "");
	buf_free(&b);
}
END_TEST

START_TEST(test_container_cap)
{
	struct rp_limits lim = { .max_containers = 6 };
	struct buf b;

	buf_init(&b, 16 << 20);
	/* A million empty policies never reach jansson. */
	ck_assert_int_eq(buf_puts(&b, HEAD "\"policies\":[{}"), 0);
	putn(&b, ",{}", 999999);
	ck_assert_int_eq(buf_puts(&b, "]}"), 0);
	expect_rc(&b, NULL, RP_TOO_BIG, "more than 262144 objects and arrays");
	/* root, date-range, policies, entry, policy, summary: 6. */
	buf_reset(&b);
	ck_assert_int_eq(buf_puts(&b, REPORT(STS)), 0);
	expect_rc(&b, &lim, RP_OK, "");
	lim.max_containers = 5;
	expect_rc(&b, &lim, RP_TOO_BIG, "more than 5 objects and arrays");
	buf_free(&b);
}
END_TEST

static void
policies_report(struct buf *b, size_t n, const char *entry)
{
	int rc = 0;

	buf_reset(b);
	ck_assert_int_eq(buf_puts(b, HEAD "\"policies\":["), 0);
	ck_assert_int_eq(buf_puts(b, entry), 0);
	for (size_t i = 1; i < n; i++)
		rc |= buf_putc(b, ',') | buf_puts(b, entry);
	ck_assert_int_eq(rc | buf_puts(b, "]}"), 0);
}

START_TEST(test_policy_cap)
{
	struct rp_limits lim = { .max_policies = 3 };
	struct rp_report r;
	struct buf b;
	char err[256];
	int64_t ok, failed;

	buf_init(&b, 16 << 20);
	policies_report(&b, 10000, STS);
	ck_assert_int_eq(rp_parse(b.data, b.len, NULL, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.np, 10000);
	rp_totals(&r, &ok, &failed);
	ck_assert_int_eq(ok, 10000);
	ck_assert_int_eq(failed, 0);
	rp_free(&r);
	policies_report(&b, 10001, STS);
	expect_rc(&b, NULL, RP_TOO_BIG, "too many policies (10001, at most 10000)");
	policies_report(&b, 1000000, "0");
	expect_rc(&b, NULL, RP_TOO_BIG, "too many policies (1000000, at most 10000)");
	policies_report(&b, 3, STS);
	expect_rc(&b, &lim, RP_OK, "");
	policies_report(&b, 4, STS);
	expect_rc(&b, &lim, RP_TOO_BIG, "too many policies (4, at most 3)");
	buf_free(&b);
}
END_TEST

static void
failures_report(struct buf *b, size_t n)
{
	int rc = 0;

	buf_reset(b);
	ck_assert_int_eq(buf_puts(b, HEAD "\"policies\":[{\"policy\":{"
	    "\"policy-type\":\"sts\"}," SUM("0", "1") ",\"failure-details\":["), 0);
	for (size_t i = 0; i < n; i++)
		rc |= buf_printf(b, "%s{\"result-type\":\"x\","
		    "\"failed-session-count\":%zu}", i ? "," : "", i);
	ck_assert_int_eq(rc | buf_puts(b, "]}]}"), 0);
}

START_TEST(test_failure_cap)
{
	struct rp_report r;
	struct buf b;
	char err[256];

	buf_init(&b, 16 << 20);
	failures_report(&b, 100000);
	ck_assert_int_eq(rp_parse(b.data, b.len, NULL, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.p[0].nf, 100000);
	ck_assert_int_eq(r.p[0].f[99999].count, 99999);
	rp_free(&r);
	failures_report(&b, 100001);
	expect_rc(&b, NULL, RP_TOO_BIG,
	    "policies[0]: too many failure-details (100001, at most 100000)");
	buf_free(&b);
}
END_TEST

static void
list_report(struct buf *b, const char *key, size_t n, int wrapped)
{
	int rc = 0;

	buf_reset(b);
	ck_assert_int_eq(buf_printf(b, HEAD "\"policies\":[{\"policy\":{"
	    "\"policy-type\":\"tlsa\",\"%s\":[%s", key, wrapped ? "\"[" : ""), 0);
	for (size_t i = 0; i < n; i++)
		rc |= buf_printf(b, wrapped ? "%s\\\"e%zu\\\"" : "%s\"e%zu\"",
		    i ? "," : "", i);
	ck_assert_int_eq(rc | buf_printf(b, "%s]}}]}", wrapped ? "]\"" : ""), 0);
}

START_TEST(test_list_cap)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	list_report(&b, "mx-host", 1024, 0);
	expect_rc(&b, NULL, RP_OK, "");
	list_report(&b, "mx-host", 1025, 0);
	expect_rc(&b, NULL, RP_TOO_BIG, "mx-host: more than 1024 entries");
	list_report(&b, "policy-string", 1025, 0);
	expect_rc(&b, NULL, RP_TOO_BIG, "policy-string: more than 1024 entries");
	list_report(&b, "policy-string", 1024, 1);
	expect_rc(&b, NULL, RP_OK, "");
	list_report(&b, "policy-string", 1025, 1);
	expect_rc(&b, NULL, RP_TOO_BIG, "policy-string: more than 1024 entries");
	buf_free(&b);
}
END_TEST

static void
long_org_report(struct buf *b, size_t n)
{
	buf_reset(b);
	ck_assert_int_eq(buf_puts(b, "{\"organization-name\":\""), 0);
	putn(b, "o", n);
	ck_assert_int_eq(buf_puts(b, "\",\"report-id\":\"r\"," DR_OK
	    ",\"policies\":[" STS "]}"), 0);
}

START_TEST(test_string_cap)
{
	struct rp_limits lim = { .max_string_bytes = 10 };
	struct buf b;

	buf_init(&b, 1 << 20);
	long_org_report(&b, 65536);
	expect_rc(&b, NULL, RP_OK, "");
	long_org_report(&b, 65537);
	expect_rc(&b, NULL, RP_TOO_BIG,
	    "organization-name: string longer than 65536 bytes");
	long_org_report(&b, 10);
	expect_rc(&b, &lim, RP_OK, "");
	long_org_report(&b, 11);
	expect_rc(&b, &lim, RP_TOO_BIG, "string longer than 10 bytes");
	/* An escape counts as the byte it stands for. */
	buf_reset(&b);
	ck_assert_int_eq(buf_puts(&b, "{\"organization-name\":\"\\u00e9\\u00e9"
	    "\\u00e9\\u00e9\\u00e9\",\"report-id\":\"r\"," DR_OK ",\"policies\":["
	    STS "]}"), 0);
	expect_rc(&b, &lim, RP_OK, "");
	buf_free(&b);
}
END_TEST

/*
 * Every truncation and several byte changes at every position of a
 * real report: no crash (ASan builds watch memory), and each outcome
 * well-formed: a complete report or an empty one with a reason.
 */
START_TEST(test_mutation_sweep)
{
	static const char subst[] = { '\0', '"', '[', '{', '}', '\\', '\xff', '-' };
	struct buf json, m;
	struct rp_report r;
	char err[256];
	size_t accepted = 0, rejected = 0;

	buf_init(&json, 1 << 20);
	buf_init(&m, 1 << 20);
	load_report("rfc8460-example.json", &json);
	for (size_t i = 0; i <= json.len * (sizeof(subst) + 1); i++) {
		size_t pos = i % (json.len + 1), kind = i / (json.len + 1);

		buf_reset(&m);
		ck_assert_int_eq(buf_append(&m, json.data, kind == 0 ? pos : json.len), 0);
		if (kind > 0 && pos < json.len)
			m.data[pos] = subst[kind - 1];
		if (rp_parse(m.data, m.len, NULL, &r, err, sizeof(err)) == RP_OK) {
			ck_assert(*r.org && *r.report_id && r.np == 1 && r.repairs);
			rp_free(&r);
			accepted++;
		} else {
			ck_assert(*err != '\0' && is_empty(&r));
			rejected++;
		}
	}
	ck_assert_uint_gt(accepted, 0);
	ck_assert_uint_gt(rejected, json.len);
	buf_free(&json);
	buf_free(&m);
}
END_TEST

/* --- byte-level helpers and the API edges ---------------------------- */

struct date_case {
	const char *text;
	int64_t t;		/* -1: invalid */
	int zoneless;
};

static const struct date_case date_cases[] = {
	{ "2024-01-01T00:00:00Z", 1704067200, 0 },
	{ "2024-01-01T00:00:00", 1704067200, 1 },
	{ "2024-01-01t00:00:00z", 1704067200, 0 },
	{ "2024-01-01 00:00:00Z", 1704067200, 0 },
	{ "2024-01-01T00:00:00.123456789Z", 1704067200, 0 },
	{ "2024-01-01T00:00:00.9", 1704067200, 1 },
	{ "2024-01-01T02:30:00+02:30", 1704067200, 0 },
	{ "2023-12-31T19:00:00-05:00", 1704067200, 0 },
	{ "2024-01-01T23:59:59Z", 1704153599, 0 },
	{ "2024-01-01T23:59:60Z", 1704153599, 0 },
	{ "2024-02-29T12:00:00Z", 1709208000, 0 },
	{ "1970-01-01T00:00:00Z", 0, 0 },
	{ "2023-02-29T00:00:00Z", -1, 0 },
	{ "2024-13-01T00:00:00Z", -1, 0 },
	{ "2024-01-32T00:00:00Z", -1, 0 },
	{ "2024-01-01T24:00:00Z", -1, 0 },
	{ "2024-01-01T00:60:00Z", -1, 0 },
	{ "2024-01-01T00:00:61Z", -1, 0 },
	{ "2024-01-01", -1, 0 },
	{ "2024-01-01T00:00", -1, 0 },
	{ "2024-01-01T00:00:00.Z", -1, 0 },
	{ "2024-01-01T00:00:00+0200", -1, 0 },
	{ "2024-01-01T00:00:00+24:00", -1, 0 },
	{ "2024-01-01T00:00:00+02:00x", -1, 0 },
	{ "2024-01-01T00:00:00ZZ", -1, 0 },
	{ "2024-01-01T00:00:00 ", -1, 0 },
	{ "2024-01-01X00:00:00Z", -1, 0 },
	{ "1969-12-31T23:59:59Z", -1, 0 },
	{ "", -1, 0 },
	{ "20240101T000000Z", -1, 0 },
};

START_TEST(test_datetime)
{
	const struct date_case *dc = &date_cases[_i];
	int64_t t = -7;
	int zoneless = -7;
	int rc = rp_datetime(dc->text, &t, &zoneless);

	if (dc->t < 0) {
		ck_assert_msg(rc == -1, "\"%s\" accepted as %lld", dc->text,
		    (long long)t);
	} else {
		ck_assert_msg(rc == 0, "\"%s\" rejected", dc->text);
		ck_assert_int_eq(t, dc->t);
		ck_assert_int_eq(zoneless, dc->zoneless);
	}
}
END_TEST

START_TEST(test_utf8)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain ascii", NULL },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7", NULL },
		{ "Soci\xe9t\xe9", "Soci\xc3\xa9t\xc3\xa9" },
		{ "\xc0\xaf", "\xc3\x80\xc2\xaf" },		/* overlong '/' */
		{ "\xed\xa0\x80", "\xc3\xad\xc2\xa0\xc2\x80" },	/* surrogate */
		{ "\xf4\x90\x80\x80", "\xc3\xb4\xc2\x90\xc2\x80\xc2\x80" },
		{ "ok \xc3", "ok \xc3\x83" },			/* truncated */
		{ "\xc3\xa9\xff", "\xc3\xa9\xc3\xbf" },
	};
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *in = cases[i].in;
		char *fixed;

		ck_assert_int_eq(rp_utf8_valid(in, strlen(in)), cases[i].out == NULL);
		if (cases[i].out == NULL)
			continue;
		fixed = rp_latin1_repair(in, strlen(in), &n);
		ck_assert_str_eq(fixed, cases[i].out);
		ck_assert_uint_eq(n, strlen(cases[i].out));
		ck_assert(rp_utf8_valid(fixed, n));
		free(fixed);
	}
}
END_TEST

START_TEST(test_prescan)
{
	size_t at = 99;

	ck_assert_int_eq(rp_prescan("", 0, 1, 1, &at), 0);
	ck_assert_int_eq(rp_prescan("[[]]", 4, 2, 2, &at), 0);
	ck_assert_int_eq(rp_prescan("[[]]", 4, 1, 9, &at), RP_TOO_DEEP);
	ck_assert_uint_eq(at, 1);
	ck_assert_int_eq(rp_prescan("[],[]", 5, 9, 1, &at), RP_TOO_BIG);
	ck_assert_uint_eq(at, 3);
	ck_assert_int_eq(rp_prescan("\"[[\\\"[[\"", 8, 1, 1, &at), 0);
	ck_assert_int_eq(rp_prescan("\"\\\\\"[[", 6, 1, 9, &at), RP_TOO_DEEP);
	ck_assert_int_eq(rp_prescan("]]]][", 5, 1, 9, &at), 0);
	ck_assert_int_eq(rp_prescan("[\0]", 3, 9, 9, &at), RP_NOT_JSON);
	ck_assert_uint_eq(at, 1);
}
END_TEST

START_TEST(test_api_edges)
{
	struct rp_report r;
	char small[8];
	int64_t ok = 5, failed = 5;

	memset(&r, 0, sizeof(r));
	rp_free(&r);			/* empty: harmless */
	rp_totals(&r, &ok, &failed);
	ck_assert_int_eq(ok, 0);
	ck_assert_int_eq(failed, 0);
	parse_ok(REPORT(STS), &r);
	rp_free(&r);
	rp_free(&r);			/* twice: harmless */
	ck_assert(is_empty(&r));
	/* No error buffer, and one too small for the reason. */
	ck_assert_int_eq(rp_parse("{}", 2, NULL, &r, NULL, 0), RP_MISSING);
	ck_assert_int_eq(rp_parse("{}", 2, NULL, &r, small, sizeof(small)),
	    RP_MISSING);
	ck_assert_str_eq(small, "no orga");
	/* jansson's quote of the input is made printable. */
	ck_assert_int_eq(rp_parse("{\x01\x7f}", 4, NULL, &r, small, 0), RP_NOT_JSON);
	{
		char err[256];

		ck_assert_int_eq(rp_parse("{\"\x01\"}", 5, NULL, &r, err,
		    sizeof(err)), RP_NOT_JSON);
		for (const char *p = err; *p; p++)
			ck_assert(*p >= 0x20 && *p < 0x7f);
	}
	ck_assert_str_eq(rp_error_name(RP_OK), "ok");
	ck_assert_str_eq(rp_error_name(RP_NOT_JSON), "not_json");
	ck_assert_str_eq(rp_error_name(RP_TOO_DEEP), "too_deep");
	ck_assert_str_eq(rp_error_name(RP_TOO_BIG), "too_big");
	ck_assert_str_eq(rp_error_name(RP_MISSING), "missing");
	ck_assert_str_eq(rp_error_name(RP_INVALID), "invalid");
	ck_assert_str_eq(rp_error_name(-1), "unknown");
	ck_assert_str_eq(rp_error_name(99), "unknown");
}
END_TEST

static Suite *
rparse_suite(void)
{
	Suite *s = suite_create("rparse");
	TCase *tc;

	tc = tcase_create("real-reports");
	tcase_add_loop_test(tc, test_fixture, 0, NFIXTURES);
	tcase_add_test(tc, test_fixture_dir_covered);
	tcase_add_test(tc, test_microsoft_tlsa_unwrapped);
	tcase_add_test(tc, test_google_cr_lines);
	tcase_add_test(tc, test_rfc_example_details);
	tcase_add_test(tc, test_sparse_failures);
	suite_add_tcase(s, tc);

	tc = tcase_create("documents");
	tcase_add_loop_test(tc, test_doc_case, 0, NDOC);
	tcase_add_test(tc, test_doc_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("caps");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_depth_at_cap);
	tcase_add_test(tc, test_brackets_in_strings);
	tcase_add_test(tc, test_container_cap);
	tcase_add_test(tc, test_policy_cap);
	tcase_add_test(tc, test_failure_cap);
	tcase_add_test(tc, test_list_cap);
	tcase_add_test(tc, test_string_cap);
	tcase_add_test(tc, test_mutation_sweep);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_loop_test(tc, test_datetime, 0,
	    sizeof(date_cases) / sizeof(date_cases[0]));
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_prescan);
	tcase_add_test(tc, test_api_edges);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(rparse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
