/*
 * NAME
 *	check_txt - unit tests for lib/txt.c, the TLSRPT record parser
 * DESCRIPTION
 *	A table of records with the expected outcome: valid with the exact
 *	list of targets (in order) and number of skipped URIs, or invalid
 *	with a substring of the reason. The table covers the RFC 8460
 *	grammar, the PROTOCOL.md section 2 rules and every sys4 parser bug
 *	of section 5 (space before ';', rua not second, several rua=,
 *	spaces after commas, upper-case schemes, no percent-decoding).
 *	Generated cases sit on the caps (4096 bytes, 32 URIs) and one past
 *	them; a mutation sweep feeds every one-byte change of a valid
 *	record and checks the result stays well-formed. txt_select() has a
 *	table of its own.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "txt.h"

struct parse_case {
	const char *record;
	int valid;
	const char *expect;	/* valid: targets joined by ' '; else reason substring */
	size_t skipped;
};

#define V(rec, targets, skipped)	{ (rec), 1, (targets), (skipped) }
#define BAD(rec, reason)		{ (rec), 0, (reason), 0 }

static const struct parse_case parse_cases[] = {
	/* The mission example and the separator rules. */
	V("v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.com/tlsrpt",
	    "tls@example.com https://r.example.com/tlsrpt", 0),
	V("v=TLSRPTv1;rua=mailto:a@example.com", "a@example.com", 0),
	V("v=TLSRPTv1 \t; \trua=mailto:a@example.com \t, \thttps://b.example.com/x \t;\t",
	    "a@example.com https://b.example.com/x", 0),
	V("v=TLSRPTv1 ;rua=mailto:a@example.com", "a@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a@example.com;", "a@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a@example.com ; ", "a@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a@example.com  ", "a@example.com", 0),
	V("v=TLSRPTv1;rua=mailto:a@example.com,mailto:b@example.com",
	    "a@example.com b@example.com", 0),
	/* Field order, extensions, several rua= fields. */
	V("v=TLSRPTv1; ext=1; rua=mailto:a@example.com", "a@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a@example.com; x-y.z_1=v!al~ue:/?", "a@example.com", 0),
	V("v=TLSRPTv1; v=TLSRPTv1; rua=mailto:a@example.com", "a@example.com", 0),
	V("v=TLSRPTv1; RUA=mailto:x@example.com; rua=mailto:a@example.com",
	    "a@example.com", 0),
	V("v=TLSRPTv1; a2345678901234567890123456789012=1; rua=mailto:a@example.com",
	    "a@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a@example.com; rua=https://b.example.com/x",
	    "a@example.com https://b.example.com/x", 0),
	V("v=TLSRPTv1;rua=mailto:a@example.com;rua=mailto:b@example.com;rua=mailto:a@example.com",
	    "a@example.com b@example.com", 0),
	/* Schemes. */
	V("v=TLSRPTv1; rua=MAILTO:a@example.com,HTTPS://B.example.com/X",
	    "a@example.com https://B.example.com/X", 0),
	V("v=TLSRPTv1; rua=MailTo:a@example.com", "a@example.com", 0),
	V("v=TLSRPTv1; rua=http://a.example.com/x,mailto:a@example.com", "a@example.com", 1),
	V("v=TLSRPTv1; rua=ftp://a.example.com/x, urn:x:y ,https://b.example.com/",
	    "https://b.example.com/", 2),
	BAD("v=TLSRPTv1; rua=http://a.example.com/x", "no usable rua URI"),
	BAD("v=TLSRPTv1; rua=http://a.example.com/x,http://b.example.com/", "2 skipped"),
	/* mailto: decoding and checks. */
	V("v=TLSRPTv1; rua=mailto:a%2Cb@example.com", "a,b@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a%21b@example.com", "a!b@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a%3bb@example.com", "a;b@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:caf%C3%A9@example.com", "caf\xc3\xa9@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a@example.com?subject=x", "a@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a@example.com?to=b@example.com&cc=c@example.com",
	    "a@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a%3Fb@example.com?subject=x", "a?b@example.com", 0),
	V("v=TLSRPTv1; rua=mailto:a@[192.0.2.1]", "a@[192.0.2.1]", 0),
	V("v=TLSRPTv1; rua=mailto:a@example.com,mailto:a@example.com", "a@example.com", 0),
	BAD("v=TLSRPTv1; rua=mailto:a@example.com!10m", "raw '!'"),
	BAD("v=TLSRPTv1; rua=mailto:a!b@example.com,https://b.example.com/", "raw '!'"),
	BAD("v=TLSRPTv1; rua=mailto:", "empty address"),
	BAD("v=TLSRPTv1; rua=mailto:?to=a@example.com", "empty address"),
	BAD("v=TLSRPTv1; rua=mailto:postmaster", "without '@'"),
	BAD("v=TLSRPTv1; rua=mailto:@example.com", "empty local part"),
	BAD("v=TLSRPTv1; rua=mailto:a@", "bad domain"),
	BAD("v=TLSRPTv1; rua=mailto:a@exa..mple.com", "bad domain"),
	BAD("v=TLSRPTv1; rua=mailto:a@example.com.", "bad domain"),
	BAD("v=TLSRPTv1; rua=mailto:a%20b@example.com", "space or control"),
	BAD("v=TLSRPTv1; rua=mailto:a%00b@example.com", "space or control"),
	BAD("v=TLSRPTv1; rua=mailto:a%0d%0aBcc:x@example.com", "space or control"),
	BAD("v=TLSRPTv1; rua=mailto:a b@example.com", "space inside the URI"),
	BAD("v=TLSRPTv1; rua=mailto:a\tb@example.com", "space inside the URI"),
	BAD("v=TLSRPTv1; rua=mailto:a\r@example.com", "byte 0x0d"),
	BAD("v=TLSRPTv1; rua=mailto:caf\xc3\xa9@example.com", "non-ASCII byte 0xc3"),
	BAD("v=TLSRPTv1; rua=mailto:a\"b@example.com", "byte 0x22"),
	BAD("v=TLSRPTv1; rua=mailto:a%2@example.com", "two hex digits"),
	BAD("v=TLSRPTv1; rua=mailto:a@example.com%", "two hex digits"),
	BAD("v=TLSRPTv1; rua=a@example.com", "no URI scheme"),
	BAD("v=TLSRPTv1; rua=1x:a@example.com", "no URI scheme"),
	/* https: checks. */
	V("v=TLSRPTv1; rua=https://b.example.com:8443/x?y=1", "https://b.example.com:8443/x?y=1", 0),
	V("v=TLSRPTv1; rua=https://[2001:db8::1]/x", "https://[2001:db8::1]/x", 0),
	V("v=TLSRPTv1; rua=https://b.example.com/a%2Cb", "https://b.example.com/a%2Cb", 0),
	V("v=TLSRPTv1; rua=https://u@b.example.com", "https://u@b.example.com", 0),
	BAD("v=TLSRPTv1; rua=https:/b.example.com/x", "no host"),
	BAD("v=TLSRPTv1; rua=https://", "no host"),
	BAD("v=TLSRPTv1; rua=https:///x", "no host"),
	BAD("v=TLSRPTv1; rua=https://u@:443/x", "no host"),
	BAD("v=TLSRPTv1; rua=https://b.example.com:99999/x", "bad port"),
	BAD("v=TLSRPTv1; rua=https://b.example.com:8x/x", "bad port"),
	BAD("v=TLSRPTv1; rua=https://[]/x", "bad IP literal"),
	BAD("v=TLSRPTv1; rua=https://[::1/x", "bad IP literal"),
	/* Version field. */
	BAD("V=TLSRPTv1; rua=mailto:a@example.com", "does not start with 'v=TLSRPTv1'"),
	BAD("v=tlsrptv1; rua=mailto:a@example.com", "does not start"),
	BAD("v=TLSRPTv2; rua=mailto:a@example.com", "does not start"),
	BAD("v=TLSRPTv10; rua=mailto:a@example.com", "does not start"),
	BAD("v = TLSRPTv1; rua=mailto:a@example.com", "does not start"),
	BAD(" v=TLSRPTv1; rua=mailto:a@example.com", "does not start"),
	BAD("rua=mailto:a@example.com; v=TLSRPTv1", "does not start"),
	BAD("", "does not start"),
	BAD("v=TLSRPTv1 rua=mailto:a@example.com", "expected ';'"),
	BAD("v=TLSRPTv1", "no rua field"),
	BAD("v=TLSRPTv1;", "no rua field"),
	BAD("v=TLSRPTv1; ext=1", "no rua field"),
	/* Fields and rua= syntax. */
	BAD("v=TLSRPTv1; rua = mailto:a@example.com", "bad field name 'rua '"),
	BAD("v=TLSRPTv1; rua =mailto:a@example.com", "bad field name"),
	BAD("v=TLSRPTv1; rua= mailto:a@example.com", "space after 'rua='"),
	BAD("v=TLSRPTv1; RUA=mailto:a@example.com", "no rua field"),
	BAD("v=TLSRPTv1; Rua=mailto:a@example.com", "no rua field"),
	BAD("v=TLSRPTv1; rua=", "empty rua field"),
	BAD("v=TLSRPTv1; rua=;", "empty rua field"),
	BAD("v=TLSRPTv1; rua=mailto:a@example.com,,https://b.example.com/", "empty URI"),
	BAD("v=TLSRPTv1; rua=mailto:a@example.com,", "empty URI"),
	BAD("v=TLSRPTv1; rua=mailto:a@example.com , ;", "empty URI"),
	BAD("v=TLSRPTv1;; rua=mailto:a@example.com", "empty field"),
	BAD("v=TLSRPTv1; rua=mailto:a@example.com;;", "empty field"),
	BAD("v=TLSRPTv1; rua=mailto:a@example.com https://b.example.com/", "space inside"),
	BAD("v=TLSRPTv1; foo; rua=mailto:a@example.com", "'foo' is not name=value"),
	BAD("v=TLSRPTv1; =x; rua=mailto:a@example.com", "not name=value"),
	BAD("v=TLSRPTv1; _x=1; rua=mailto:a@example.com", "bad field name '_x'"),
	BAD("v=TLSRPTv1; a.b/c=1; rua=mailto:a@example.com", "bad field name"),
	BAD("v=TLSRPTv1; a23456789012345678901234567890123=1; rua=mailto:a@example.com",
	    "bad field name"),
	BAD("v=TLSRPTv1; x=a=b; rua=mailto:a@example.com", "value of field 'x': '='"),
	BAD("v=TLSRPTv1; x=; rua=mailto:a@example.com", "empty value in field 'x'"),
	BAD("v=TLSRPTv1; x=a b; rua=mailto:a@example.com", "value of field 'x'"),
	BAD("v=TLSRPTv1; x=a\x01; rua=mailto:a@example.com", "not visible ASCII"),
	BAD("v=TLSRPTv1; x=caf\xc3\xa9; rua=mailto:a@example.com", "not visible ASCII"),
	/* dnsmasq's split at commas, joined back without a separator. */
	V("v=TLSRPTv1; rua=mailto:a@example.com" ",https://b.example.com/x",
	    "a@example.com https://b.example.com/x", 0),
};

/* Targets of r joined by ' ', for one comparison per case. */
static void
join_targets(const struct txt_record *r, struct buf *b)
{
	buf_reset(b);
	for (size_t i = 0; i < r->nrua; i++)
		ck_assert_int_eq(buf_printf(b, "%s%s", i ? " " : "", r->rua[i].target), 0);
	if (b->data == NULL)
		ck_assert_int_eq(buf_puts(b, ""), 0);
}

/* Messages must be one printable line, whatever bytes the input held. */
static void
assert_one_line(const char *err)
{
	for (const char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			ck_abort_msg("non-printable byte 0x%02x in message '%s'",
			    (unsigned char)*p, err);
}

START_TEST(test_parse_table)
{
	const struct parse_case *c = &parse_cases[_i];
	struct txt_record r;
	struct buf b;
	char err[256];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = txt_parse(c->record, &r, err, sizeof(err));
	assert_one_line(err);
	if (!c->valid) {
		ck_assert_msg(rc == -1, "'%s' accepted", c->record);
		ck_assert_msg(strstr(err, c->expect) != NULL,
		    "'%s': reason '%s' lacks '%s'", c->record, err, c->expect);
		ck_assert_ptr_null(r.rua);
		ck_assert_uint_eq(r.nrua, 0);
		return;
	}
	ck_assert_msg(rc == 0, "'%s' rejected: %s", c->record, err);
	buf_init(&b, 4096);
	join_targets(&r, &b);
	ck_assert_str_eq(b.data, c->expect);
	ck_assert_uint_eq(r.skipped, c->skipped);
	if (c->skipped == 0)
		ck_assert_str_eq(err, "");
	else
		ck_assert_msg(strstr(err, "skipped") != NULL, "no skip note: '%s'", err);
	for (size_t i = 0; i < r.nrua; i++) {
		ck_assert_ptr_nonnull(strstr(c->record, r.rua[i].uri));
		ck_assert_int_eq(r.rua[i].scheme,
		    strncmp(r.rua[i].target, "https:", 6) == 0 ? TXT_HTTPS : TXT_MAILTO);
	}
	buf_free(&b);
	txt_record_free(&r);
	ck_assert_ptr_null(r.rua);
	ck_assert_uint_eq(r.nrua, 0);
}
END_TEST

/* The uri member is the URI as written, trimmed, scheme case kept. */
START_TEST(test_parse_uri_as_written)
{
	struct txt_record r;
	char err[256];

	ck_assert_int_eq(txt_parse("v=TLSRPTv1; rua= mailto:a@example.com", &r, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(txt_parse("v=TLSRPTv1;rua=MAILTO:a%2Cb@example.com ,\t"
	    "HTTPS://b.example.com/%2C ;", &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.nrua, 2);
	ck_assert_int_eq(r.rua[0].scheme, TXT_MAILTO);
	ck_assert_str_eq(r.rua[0].uri, "MAILTO:a%2Cb@example.com");
	ck_assert_str_eq(r.rua[0].target, "a,b@example.com");
	ck_assert_int_eq(r.rua[1].scheme, TXT_HTTPS);
	ck_assert_str_eq(r.rua[1].uri, "HTTPS://b.example.com/%2C");
	ck_assert_str_eq(r.rua[1].target, "https://b.example.com/%2C");
	txt_record_free(&r);
}
END_TEST

/* A skipped URI is named on success, so the caller can log it. */
START_TEST(test_parse_skip_note)
{
	struct txt_record r;
	char err[256];

	ck_assert_int_eq(txt_parse("v=TLSRPTv1; rua=http://a.example.com/x,"
	    "mailto:a@example.com,gopher://x", &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.skipped, 2);
	ck_assert_str_eq(err, "2 rua URIs skipped; first 'http://a.example.com/x': "
	    "scheme http not supported");
	txt_record_free(&r);
	ck_assert_int_eq(txt_parse("v=TLSRPTv1; rua=http://a.example.com/x", &r, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "no usable rua URI (1 skipped; first "
	    "'http://a.example.com/x': scheme http not supported)");
}
END_TEST

/* Hostile bytes are escaped and long input is cut in messages. */
START_TEST(test_parse_message_escaped)
{
	struct txt_record r;
	char err[256], rec[400];

	snprintf(rec, sizeof(rec), "v=TLSRPTv1; rua=mailto:a\\\n@example.com%0200d", 7);
	ck_assert_int_eq(txt_parse(rec, &r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "'mailto:a\\x5c\\x0a@example.com"
	    "00000000000000000000000000...': character byte 0x5c"));
	memset(rec, 'a', sizeof(rec));
	memcpy(rec, "v=TLSRPTv1; ", 12);
	rec[300] = '=';
	rec[sizeof(rec) - 1] = '\0';
	ck_assert_int_eq(txt_parse(rec, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "bad field name "
	    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
	assert_one_line(err);
	/* A tiny or absent buffer is fine. */
	ck_assert_int_eq(txt_parse(rec, &r, err, 5), -1);
	ck_assert_uint_eq(strlen(err), 4);
	ck_assert_int_eq(txt_parse(rec, &r, NULL, 0), -1);
	ck_assert_int_eq(txt_parse("v=TLSRPTv1;rua=mailto:a@example.com", &r, NULL, 0), 0);
	txt_record_free(&r);
}
END_TEST

/* A record of len bytes: valid, its tail an extension of 'x's. */
static char *
record_of_length(size_t len)
{
	const char *head = "v=TLSRPTv1; rua=mailto:a@example.com; x=";
	char *rec = malloc(len + 1);

	ck_assert_ptr_nonnull(rec);
	ck_assert_uint_gt(len, strlen(head));
	memset(rec, 'x', len);
	memcpy(rec, head, strlen(head));
	rec[len] = '\0';
	return rec;
}

START_TEST(test_parse_length_cap)
{
	struct txt_record r;
	char err[256];
	char *rec = record_of_length(TXT_MAX_RECORD_BYTES);

	ck_assert_int_eq(txt_parse(rec, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.nrua, 1);
	txt_record_free(&r);
	free(rec);
	rec = record_of_length(TXT_MAX_RECORD_BYTES + 1);
	ck_assert_int_eq(txt_parse(rec, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "record longer than 4096 bytes");
	free(rec);
	rec = record_of_length(100000);
	ck_assert_int_eq(txt_parse(rec, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "record longer than 4096 bytes");
	free(rec);
}
END_TEST

/*
 * n URIs over one or two rua= fields; the first `http` of them use
 * http: (skipped, yet counted by the cap).
 */
static void
uri_record(struct buf *b, size_t n, size_t http, int two_fields)
{
	buf_reset(b);
	ck_assert_int_eq(buf_puts(b, "v=TLSRPTv1; rua="), 0);
	for (size_t i = 0; i < n; i++) {
		const char *sep = i == 0 ? "" : two_fields && i == n / 2 ? "; rua=" : ", ";

		ck_assert_int_eq(buf_printf(b, "%s%s://r%zu.example.com/", sep,
		    i < http ? "http" : "https", i), 0);
	}
}

START_TEST(test_parse_uri_cap)
{
	struct txt_record r;
	struct buf b;
	char err[256];

	buf_init(&b, 8192);
	uri_record(&b, TXT_MAX_RUA_URIS, 0, 0);
	ck_assert_int_eq(txt_parse(b.data, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.nrua, TXT_MAX_RUA_URIS);
	ck_assert_str_eq(r.rua[31].target, "https://r31.example.com/");
	txt_record_free(&r);
	uri_record(&b, TXT_MAX_RUA_URIS + 1, 0, 0);
	ck_assert_int_eq(txt_parse(b.data, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "more than 32 rua URIs");
	/* Merged fields and skipped URIs count too. */
	uri_record(&b, TXT_MAX_RUA_URIS + 1, 10, 1);
	ck_assert_int_eq(txt_parse(b.data, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "more than 32 rua URIs");
	uri_record(&b, TXT_MAX_RUA_URIS, 10, 1);
	ck_assert_int_eq(txt_parse(b.data, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.nrua, 22);
	ck_assert_uint_eq(r.skipped, 10);
	txt_record_free(&r);
	buf_free(&b);
}
END_TEST

/*
 * Every one-byte change of a valid record: never a crash (run it under
 * ASan), and whatever is accepted has sane targets.
 */
START_TEST(test_parse_mutations)
{
	static const char base[] =
	    "v=TLSRPTv1 ; x=1;rua=mailto:a%2Cb@example.com?s=1, https://[::1]:8/p;";
	char rec[sizeof(base)], err[256];
	struct txt_record r;
	size_t accepted = 0;

	for (size_t pos = 0; pos < sizeof(base) - 1; pos++)
		for (int c = 1; c < 256; c++) {
			memcpy(rec, base, sizeof(base));
			rec[pos] = (char)c;
			if (txt_parse(rec, &r, err, sizeof(err)) != 0) {
				ck_assert_msg(err[0] != '\0', "no reason for '%s'", rec);
				assert_one_line(err);
				continue;
			}
			accepted++;
			ck_assert_uint_ge(r.nrua, 1);
			for (size_t i = 0; i < r.nrua; i++)
				for (const char *t = r.rua[i].target; *t; t++)
					ck_assert_msg((unsigned char)*t > 0x20 && *t != 0x7f,
					    "target with a space or control: '%s'", rec);
			txt_record_free(&r);
		}
	/* Sanity: the sweep is not rejecting everything. */
	ck_assert_uint_gt(accepted, 1000);
}
END_TEST

struct select_case {
	const char *records[5];
	size_t n;
	int result;
	int chosen;		/* index into records when result is 0 */
	const char *reason;
};

static const struct select_case select_cases[] = {
	{ { NULL }, 0, 1, -1, "no TLSRPT record" },
	{ { "v=spf1 -all", "google-site-verification=abc" }, 2, 1, -1, "no TLSRPT record" },
	{ { "v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com", "x" }, 3, 0, 1, "" },
	{ { "v=TLSRPTv1;rua=mailto:a@example.com" }, 1, 0, 0, "" },
	{ { "v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com",
	    "v=TLSRPTv1; rua=mailto:b@example.com" }, 3, -1, -1, "2 TLSRPT records" },
	{ { "v=TLSRPTv1;rua=mailto:a@example.com", "v=TLSRPTv1 ;",
	    "v=TLSRPTv1\t;x" }, 3, -1, -1, "3 TLSRPT records" },
	{ { "v=TLSRPTv10; rua=mailto:a@example.com" }, 1, 1, -1, "no TLSRPT record" },
	{ { "v=TLSRPTv10; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com" },
	    2, 0, 1, "" },
	{ { "v=TLSRPTv1 ; rua=mailto:a@example.com" }, 1, 0, 0, "" },
	/* Not followed by ';': no TLSRPT record, so it cannot spoil another. */
	{ { "v=TLSRPTv1", "v=TLSRPTv1 rua=mailto:x@example.com",
	    "v=TLSRPTv1; rua=mailto:a@example.com" }, 3, 0, 2, "" },
	{ { "V=TLSRPTv1; rua=mailto:a@example.com", " v=TLSRPTv1; rua=mailto:a@example.com",
	    "v=TLSRPTv2; rua=mailto:a@example.com", "v=tlsrptv1;" }, 4, 1, -1,
	    "no TLSRPT record" },
	/* An invalid TLSRPT record still counts: select before parse. */
	{ { "v=TLSRPTv1; rua=http://x", "v=TLSRPTv1; rua=mailto:a@example.com" },
	    2, -1, -1, "2 TLSRPT records" },
	{ { NULL, "v=TLSRPTv1;rua=mailto:a@example.com", NULL }, 3, 0, 1, "" },
};

START_TEST(test_select_table)
{
	const struct select_case *c = &select_cases[_i];
	const char *chosen = "unset";
	char err[64];

	ck_assert_int_eq(txt_select(c->records, c->n, &chosen, err, sizeof(err)), c->result);
	ck_assert_str_eq(err, c->reason);
	if (c->result == 0)
		ck_assert_ptr_eq(chosen, c->records[c->chosen]);
	else
		ck_assert_ptr_null(chosen);
}
END_TEST

static Suite *
txt_suite(void)
{
	Suite *s = suite_create("txt");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_table, 0,
	    (int)(sizeof(parse_cases) / sizeof(parse_cases[0])));
	tcase_add_test(tc, test_parse_uri_as_written);
	tcase_add_test(tc, test_parse_skip_note);
	tcase_add_test(tc, test_parse_message_escaped);
	tcase_add_test(tc, test_parse_length_cap);
	tcase_add_test(tc, test_parse_uri_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("mutations");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_parse_mutations);
	suite_add_tcase(s, tc);

	tc = tcase_create("select");
	tcase_add_loop_test(tc, test_select_table, 0,
	    (int)(sizeof(select_cases) / sizeof(select_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(txt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
