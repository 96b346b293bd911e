/*
 * NAME
 *	check_mailin - unit tests for lib/mailin.c, finding the report in a mail
 * DESCRIPTION
 *	Every real report mail in tests/data/real-reports/ must give its
 *	JSON, with the report-id and header values read off the files by
 *	hand, with its line endings as they are and converted (CRLF <-> LF),
 *	and must neither crash nor leak when truncated or corrupted. The
 *	synthetic messages built here cover what those files do not: inline
 *	and quoted-printable JSON, unlabelled gzip, zip (built here with
 *	zlib, plus one written by zip(1) with a data descriptor), nesting,
 *	attached messages, which part wins, every error, and every cap at
 *	and just past its limit. The gzip and zip bombs are made on the fly
 *	from one flushed deflate block of a MiB of zeros, repeated.
 *	Run from the top of the source tree.
 */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "gz.h"
#include "mailin.h"

#define FIXTURES	"tests/data/real-reports"
#define MAX_JSON	(1024 * 1024)
#define MAX_MSG		(64 * 1024 * 1024)
#define BOUNDARY	"=_b0undary"

/* --- the real reports, read by hand -------------------------------- */

struct fixture {
	const char *file, *report_id, *domain, *submitter, *subject_id, *from,
	    *message_id, *filename;
};

static const struct fixture fixtures[] = {
	{ "google-isseis-1.eml", "2026-05-11T00:00:00Z_example.com", "example.com",
	  "google.com", "2026.05.11T00.00.00Z+example.com@google.com",
	  "noreply-smtp-tls-reporting@google.com",
	  "6a034af0.00000000.3a4de4.4c68tls@google.com",
	  "google.com!example.com!1778457600!1778543999!001.json.gz" },
	{ "google-kravietz-2.eml", "2024-09-18T00:00:00Z_krvtz.net", "krvtz.net",
	  "google.com", "2024.09.18T00.00.00Z+krvtz.net@google.com",
	  "noreply-smtp-tls-reporting@google.com",
	  "66ec0644.050a0220.86df2.1302tls@google.com",
	  "google.com!krvtz.net!1726617600!1726703999!001.json.gz" },
	{ "google-mox-1.eml", "2022-09-15T00:00:00Z_test.xmox.nl", "test.xmox.nl",
	  "google.com", "2022.09.15T00.00.00Z+test.xmox.nl@google.com",
	  "noreply-smtp-tls-reporting@google.com",
	  "000000000000f47cc505e8c8905c@google.com",
	  "google.com!test.xmox.nl!1663200000!1663286399!001.json.gz" },
	{ "google-parsedmarc-1.eml", "2024-09-03T00:00:00Z_cardinalhealth.ca",
	  "cardinalhealth.ca", "google.com",
	  "2024.09.03T00.00.00Z+cardinalhealth.ca@google.com",
	  "noreply-smtp-tls-reporting@google.com",
	  "66d83c20.050a0220.a0566.1e8dtls@google.com",
	  "google.com!cardinalhealth.ca!1725321600!1725407999!001.json.gz" },
	{ "mailru-kravietz-1.eml", "c96d67df-0440-57f7-6e96-c83824d0fdf2@mail.ru",
	  "krvtz.net", "mail.ru", "c96d67df-0440-57f7-6e96-c83824d0fdf2@mail.ru",
	  "noreply-smtp-tls-reporting@corp.mail.ru",
	  "c96d67df-0440-57f7-6e96-c83824d0fdf2@mail.ru",
	  "mail.ru!krvtz.net!1674604800!1674691200!001.json.gz" },
	{ "microsoft-kravietz-1.eml", "133708152202987951+krvtz.net", "krvtz.net",
	  "microsoft.com", "133708152202987951+krvtz.net", "tlsrpt-noreply@microsoft.com",
	  "133708152202987951+krvtz.net@krvtz.net",
	  "microsoft.com!krvtz.net!1726185600!1726271999!133708152202987951.json.gz" },
	{ "microsoft-mox-1.eml", "133198585438131172+test.xmox.nl", "test.xmox.nl",
	  "microsoft.com", "133198585438131172+test.xmox.nl", "tlsrpt-noreply@microsoft.com",
	  "133198585438131172+test.xmox.nl@test.xmox.nl",
	  "microsoft.com!test.xmox.nl!1673308800!1673395199!133198585438131172.json.gz" },
};
#define NFIXTURES ((int)(sizeof(fixtures) / sizeof(fixtures[0])))

/* --- helpers --------------------------------------------------------- */

static void
slurp(const char *file, struct buf *out)
{
	char path[512], chunk[8192];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, file);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (run from the source tree top)", path);
	buf_init(out, MAX_MSG);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ck_assert_int_eq(buf_append(out, chunk, n), 0);
	fclose(f);
}

static void
put(struct buf *b, const char *s)
{
	ck_assert_int_eq(buf_puts(b, s), 0);
}

static void
putn(struct buf *b, const void *p, size_t n)
{
	ck_assert_int_eq(buf_append(b, p, n), 0);
}

static void
put16(struct buf *b, uint32_t v)
{
	unsigned char le[2] = { (unsigned char)v, (unsigned char)(v >> 8) };

	putn(b, le, 2);
}

static void
put32(struct buf *b, uint32_t v)
{
	put16(b, v & 0xffff);
	put16(b, v >> 16);
}

/* Checks that r->json is a JSON object with that report-id. */
static void
check_json(const struct mailin_result *r, const char *report_id)
{
	json_error_t jerr;
	json_t *root, *id;

	ck_assert_ptr_nonnull(r->json.data);
	ck_assert_msg(r->json.data[0] == '{', "json starts with %.10s", r->json.data);
	root = json_loadb(r->json.data, r->json.len, 0, &jerr);
	ck_assert_msg(root != NULL, "bad JSON: %s", jerr.text);
	ck_assert(json_is_object(root));
	id = json_object_get(root, "report-id");
	ck_assert_msg(json_is_string(id), "no report-id");
	ck_assert_str_eq(json_string_value(id), report_id);
	json_decref(root);
}

/* Parses msg; it must give report_id, found as `how` says (substring). */
static void
expect_report(const struct buf *msg, size_t max, const char *report_id, const char *how)
{
	struct mailin_result r;
	char err[256] = "unset";
	int rc = mailin_parse(msg->data, msg->len, max, &r, err, sizeof(err));

	ck_assert_msg(rc == 0, "not found: %s", err);
	ck_assert_str_eq(err, "");
	check_json(&r, report_id);
	ck_assert_ptr_nonnull(r.how);
	ck_assert_msg(strstr(r.how, how) != NULL, "how is \"%s\", wanted \"%s\"", r.how, how);
	mailin_free(&r);
}

/* Parses msg; it must fail with an error that starts with want. */
static void
expect_error(const struct buf *msg, size_t max, const char *want)
{
	struct mailin_result r;
	char err[256];
	int rc = mailin_parse(msg->data, msg->len, max, &r, err, sizeof(err));

	ck_assert_msg(rc == -1, "found a report: %s", r.how ? r.how : "?");
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "err \"%s\", wanted \"%s...\"",
	    err, want);
	ck_assert_uint_eq(r.json.len, 0);
	ck_assert_ptr_null(r.how);
	mailin_free(&r);
}

static void
report_json(struct buf *j, const char *report_id)
{
	buf_init(j, MAX_JSON);
	ck_assert_int_eq(buf_printf(j, "{\"organization-name\":\"Test = Org \\u00e9\","
	    "\"report-id\":\"%s\",\"policies\":[]}", report_id), 0);
}

static void
gzip_of(const char *text, size_t len, struct buf *gz)
{
	buf_init(gz, MAX_MSG);
	ck_assert_int_eq(gz_compress(text, len, gz), 0);
}

static void
put_base64(struct buf *b, const void *data, size_t n)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	char four[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);

		four[0] = abc[v >> 18];
		four[1] = abc[(v >> 12) & 63];
		four[2] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
		four[3] = i + 2 < n ? abc[v & 63] : '=';
		putn(b, four, 4);
		if ((i / 3 + 1) % 19 == 0 || i + 3 >= n)
			put(b, "\r\n");
	}
}

/* Quoted-printable with soft breaks at 70 columns. */
static void
put_qp(struct buf *b, const char *s, size_t n)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (col >= 70) {
			put(b, "=\r\n");
			col = 0;
		}
		if (c >= 33 && c <= 126 && c != '=') {
			putn(b, &c, 1);
			col++;
		} else {
			ck_assert_int_eq(buf_printf(b, "=%02X", c), 0);
			col += 3;
		}
	}
	put(b, "\r\n");
}

enum cte { CTE_7BIT, CTE_BASE64, CTE_QP };

static void
msg_head(struct buf *m, const char *content_type)
{
	buf_init(m, MAX_MSG);
	put(m, "From: Reporter <tlsrpt@reporter.example>\r\n"
	    "To: tlsrpt@example.com\r\n"
	    "Subject: Report Domain: example.com Submitter: reporter.example "
	    "Report-ID: <r1@reporter.example>\r\n"
	    "TLS-Report-Domain: example.com\r\n"
	    "TLS-Report-Submitter: reporter.example\r\n"
	    "Message-ID: <m1@reporter.example>\r\n"
	    "MIME-Version: 1.0\r\n");
	ck_assert_int_eq(buf_printf(m, "Content-Type: %s\r\n\r\n", content_type), 0);
}

/* One body part: headers end in CRLF, the encoding header is added. */
static void
msg_part(struct buf *m, const char *boundary, const char *headers, enum cte cte,
    const void *body, size_t n)
{
	static const char *const cte_name[] = { "7bit", "base64", "quoted-printable" };

	ck_assert_int_eq(buf_printf(m, "--%s\r\n%sContent-Transfer-Encoding: %s\r\n\r\n",
	    boundary, headers, cte_name[cte]), 0);
	if (cte == CTE_BASE64)
		put_base64(m, body, n);
	else if (cte == CTE_QP)
		put_qp(m, body, n);
	else {
		putn(m, body, n);
		put(m, "\r\n");
	}
}

static void
msg_close(struct buf *m, const char *boundary)
{
	ck_assert_int_eq(buf_printf(m, "--%s--\r\n", boundary), 0);
}

#define HUMAN "This is an aggregate TLS report from reporter.example\r\n"

/* multipart/report: human text, then the given part, then the end. */
static void
report_mail(struct buf *m, const char *headers, enum cte cte, const void *body, size_t n)
{
	msg_head(m, "multipart/report; report-type=\"tlsrpt\"; boundary=\"" BOUNDARY "\"");
	msg_part(m, BOUNDARY, "Content-Type: text/plain\r\n", CTE_7BIT, HUMAN, strlen(HUMAN));
	msg_part(m, BOUNDARY, headers, cte, body, n);
	msg_close(m, BOUNDARY);
}

static void
gzip_report_mail(struct buf *m, const char *headers, const char *report_id)
{
	struct buf j, gz;

	report_json(&j, report_id);
	gzip_of(j.data, j.len, &gz);
	report_mail(m, headers, CTE_BASE64, gz.data, gz.len);
	buf_free(&j);
	buf_free(&gz);
}

/* --- zip and bombs ---------------------------------------------------- */

struct zip_item {
	const char *name;
	const void *data;		/* as stored in the archive */
	size_t len;
	unsigned method;		/* 0 stored, 8 deflate */
	uint32_t usize, crc;
};

static void
raw_deflate(const void *in, size_t len, struct buf *out)
{
	unsigned char chunk[4096];
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	buf_init(out, MAX_MSG);
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		ck_assert(rc == Z_OK || rc == Z_STREAM_END);
		putn(out, chunk, sizeof(chunk) - z.avail_out);
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
}

static struct zip_item
zip_text(const char *name, const char *text, unsigned method, struct buf *scratch)
{
	struct zip_item it = { name, text, strlen(text), method, (uint32_t)strlen(text),
		(uint32_t)crc32(0L, (const Bytef *)text, (uInt)strlen(text)) };

	if (method == 8) {
		raw_deflate(text, strlen(text), scratch);
		it.data = scratch->data;
		it.len = scratch->len;
	}
	return it;
}

static void
zip_header(struct buf *z, const struct zip_item *it, int central, uint32_t offset)
{
	put32(z, central ? 0x02014b50 : 0x04034b50);
	if (central)
		put16(z, 20);		/* made by */
	put16(z, 20);			/* needed */
	put16(z, 0);
	put16(z, it->method);
	put16(z, 0);
	put16(z, 0x21);
	put32(z, it->crc);
	put32(z, (uint32_t)it->len);
	put32(z, it->usize);
	put16(z, (uint32_t)strlen(it->name));
	put16(z, 0);
	if (central) {
		put16(z, 0);		/* comment */
		put16(z, 0);		/* disk */
		put16(z, 0);
		put32(z, 0);
		put32(z, offset);
	}
	put(z, it->name);
}

static void
zip_build(struct buf *z, const struct zip_item *items, size_t n)
{
	uint32_t offset[8], dir, dir_bytes;

	ck_assert_uint_le(n, 8);
	buf_init(z, MAX_MSG);
	for (size_t i = 0; i < n; i++) {
		offset[i] = (uint32_t)z->len;
		zip_header(z, &items[i], 0, 0);
		putn(z, items[i].data, items[i].len);
	}
	dir = (uint32_t)z->len;
	for (size_t i = 0; i < n; i++)
		zip_header(z, &items[i], 1, offset[i]);
	dir_bytes = (uint32_t)z->len - dir;
	put32(z, 0x06054b50);
	put32(z, 0);
	put16(z, (uint32_t)n);
	put16(z, (uint32_t)n);
	put32(z, dir_bytes);
	put32(z, dir);
	put16(z, 0);
}

/*
 * Raw deflate data for mib MiB of zeros: one MiB compressed with a full
 * flush references nothing before it, so it can be repeated; then an
 * empty final block. *crc gets the CRC-32 of the zeros.
 */
static void
zero_bomb(struct buf *out, unsigned mib, uint32_t *crc)
{
	static const unsigned char zeros[1 << 20];
	unsigned char block[8192];
	uLong one_crc = crc32(0L, zeros, sizeof(zeros)), all = 0;
	z_stream z;
	size_t blen;

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)zeros;
	z.avail_in = sizeof(zeros);
	z.next_out = block;
	z.avail_out = sizeof(block);
	ck_assert_int_eq(deflate(&z, Z_FULL_FLUSH), Z_OK);
	ck_assert(z.avail_in == 0 && z.avail_out > 0);
	blen = sizeof(block) - z.avail_out;
	deflateEnd(&z);
	for (unsigned i = 0; i < mib; i++) {
		putn(out, block, blen);
		all = crc32_combine(all, one_crc, (z_off_t)sizeof(zeros));
	}
	putn(out, "\x03\x00", 2);
	*crc = (uint32_t)all;
}

static void
gzip_bomb(struct buf *gz, unsigned mib)
{
	static const unsigned char head[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };
	uint32_t crc;

	buf_init(gz, MAX_MSG);
	putn(gz, head, sizeof(head));
	zero_bomb(gz, mib, &crc);
	put32(gz, crc);
	put32(gz, (uint32_t)((uint64_t)mib << 20));
}

/* --- tests: real reports ---------------------------------------------- */

static void
check_fixture(const struct fixture *fx, const struct buf *msg)
{
	struct mailin_result r;
	char err[256], how[256];

	ck_assert_msg(mailin_parse(msg->data, msg->len, MAX_JSON, &r, err, sizeof(err)) == 0,
	    "%s: %s", fx->file, err);
	check_json(&r, fx->report_id);
	ck_assert_str_eq(r.report_domain, fx->domain);
	ck_assert_str_eq(r.submitter, fx->submitter);
	ck_assert_str_eq(r.subject_report_id, fx->subject_id);
	ck_assert_str_eq(r.from, fx->from);
	ck_assert_str_eq(r.message_id, fx->message_id);
	ck_assert_ptr_nonnull(strstr(r.subject, "Report Domain: "));
	snprintf(how, sizeof(how), "part 2 application/tlsrpt+gzip \"%s\" base64, gzip",
	    fx->filename);
	ck_assert_str_eq(r.how, how);
	mailin_free(&r);
}

START_TEST(test_fixture)
{
	struct buf msg;

	slurp(fixtures[_i].file, &msg);
	check_fixture(&fixtures[_i], &msg);
	buf_free(&msg);
}
END_TEST

/* The same mail with CRLF turned into LF, or LF into CRLF. */
START_TEST(test_fixture_other_line_ends)
{
	struct buf msg, conv;
	int crlf;

	slurp(fixtures[_i].file, &msg);
	crlf = strstr(msg.data, "\r\n") != NULL;
	buf_init(&conv, MAX_MSG);
	for (size_t i = 0; i < msg.len; i++) {
		if (crlf && msg.data[i] == '\r' && msg.data[i + 1] == '\n')
			continue;
		if (!crlf && msg.data[i] == '\n')
			put(&conv, "\r");
		putn(&conv, &msg.data[i], 1);
	}
	ck_assert_int_eq(strstr(conv.data, "\r\n") != NULL, !crlf);
	check_fixture(&fixtures[_i], &conv);
	buf_free(&msg);
	buf_free(&conv);
}
END_TEST

/* Every .eml in the directory has a row above, and every row a file. */
START_TEST(test_fixture_table_complete)
{
	DIR *d = opendir(FIXTURES);
	struct dirent *de;
	int emls = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		int known = 0;

		if (n < 4 || strcmp(de->d_name + n - 4, ".eml") != 0)
			continue;
		emls++;
		for (int i = 0; i < NFIXTURES; i++)
			known |= strcmp(fixtures[i].file, de->d_name) == 0;
		ck_assert_msg(known, "%s has no row in fixtures[]", de->d_name);
	}
	closedir(d);
	ck_assert_int_eq(emls, NFIXTURES);
}
END_TEST

static void
check_survives(const char *p, size_t n)
{
	struct mailin_result r;
	char err[256];

	if (mailin_parse(p, n, MAX_JSON, &r, err, sizeof(err)) == 0) {
		ck_assert(r.json.len > 0 && r.json.data[0] == '{');
		ck_assert_ptr_nonnull(r.how);
		ck_assert_str_eq(err, "");
	} else {
		ck_assert(err[0] != '\0');
		ck_assert_uint_eq(r.json.len, 0);
		ck_assert_ptr_null(r.how);
	}
	mailin_free(&r);
}

/*
 * Cut short or with bytes changed: an answer, never a crash or a leak.
 * Each input sits in a block of exactly its size, so that AddressSanitizer
 * sees a read past the end.
 */
START_TEST(test_fixture_damaged)
{
	struct buf msg;
	char *copy;

	slurp(fixtures[_i].file, &msg);
	for (size_t k = 1; k < 64; k++) {
		size_t n = msg.len * k / 64;

		copy = malloc(n);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, msg.data, n);
		check_survives(copy, n);
		free(copy);
	}
	copy = malloc(msg.len);
	ck_assert_ptr_nonnull(copy);
	for (size_t k = 0; k < msg.len; k += 37) {
		memcpy(copy, msg.data, msg.len);
		copy[k] = (char)(copy[k] ^ (k & 1 ? 0x20 : 0x5a));
		check_survives(copy, msg.len);
	}
	free(copy);
	buf_free(&msg);
}
END_TEST

/* Mail.ru style at its worst: LF, and the mail ends inside the attachment. */
START_TEST(test_no_delimiters_after_attachment)
{
	struct buf msg, lf;
	const char *end;

	slurp("mailru-kravietz-1.eml", &msg);
	end = strstr(msg.data, "AgAA\r\n");
	ck_assert_ptr_nonnull(end);
	buf_init(&lf, MAX_MSG);
	for (const char *p = msg.data; p < end + 6; p++)
		if (*p != '\r')
			putn(&lf, p, 1);
	ck_assert_ptr_null(strstr(lf.data, "\r"));
	check_fixture(&fixtures[4], &lf);
	buf_free(&msg);
	buf_free(&lf);
}
END_TEST

/* --- tests: where the report is --------------------------------------- */

START_TEST(test_inline_text_plain)
{
	struct buf j, m;

	report_json(&j, "inline-1");
	msg_head(&m, "text/plain; charset=utf-8");
	putn(&m, j.data, j.len);
	put(&m, "\r\n");
	expect_report(&m, MAX_JSON, "inline-1", "part 1 text/plain 7bit, json");
	buf_free(&m);
	report_mail(&m, "Content-Type: text/plain\r\n", CTE_7BIT, j.data, j.len);
	expect_report(&m, MAX_JSON, "inline-1", "part 2 text/plain 7bit, json");
	buf_free(&m);
	buf_free(&j);
}
END_TEST

START_TEST(test_gzip_octet_stream_no_name)
{
	struct buf m;

	gzip_report_mail(&m, "Content-Type: application/octet-stream\r\n", "octet-1");
	expect_report(&m, MAX_JSON, "octet-1", "part 2 application/octet-stream base64, gzip");
	buf_free(&m);
}
END_TEST

/* The bytes decide: gzip labelled as an image, or as text, is found. */
START_TEST(test_gzip_mislabelled)
{
	struct buf m;

	gzip_report_mail(&m, "Content-Type: image/png\r\n", "png-1");
	expect_report(&m, MAX_JSON, "png-1", "part 2 image/png base64, gzip");
	buf_free(&m);
	gzip_report_mail(&m, "Content-Type: text/html\r\n", "html-1");
	expect_report(&m, MAX_JSON, "html-1", "part 2 text/html base64, gzip");
	buf_free(&m);
}
END_TEST

/* Microsoft: no name=, the file name only in Content-Disposition. */
START_TEST(test_filename_from_disposition)
{
	struct buf m;

	gzip_report_mail(&m, "Content-Type: application/tlsrpt+gzip\r\n"
	    "Content-Disposition: attachment;\r\n\tfilename=\"a!b!1!2!3.json.gz\"\r\n", "ms-1");
	expect_report(&m, MAX_JSON, "ms-1",
	    "part 2 application/tlsrpt+gzip \"a!b!1!2!3.json.gz\" base64, gzip");
	buf_free(&m);
}
END_TEST

/* File names go into `how` as printable ASCII, without quotes, bounded. */
START_TEST(test_filename_shown_safely)
{
	struct buf m, hdr;
	struct mailin_result r;
	char err[256];

	gzip_report_mail(&m, "Content-Type: application/x-unknown\r\n"
	    "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9port%22%0A.json.gz\r\n",
	    "name-1");
	expect_report(&m, MAX_JSON, "name-1",
	    "part 2 application/x-unknown \"r??port??.json.gz\" base64, gzip");
	buf_free(&m);
	buf_init(&hdr, MAX_MSG);
	put(&hdr, "Content-Type: application/gzip; name=\"");
	for (int i = 0; i < 300; i++)
		put(&hdr, "n");
	put(&hdr, ".gz\"\r\n");
	gzip_report_mail(&m, hdr.data, "name-2");
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(r.how, "nnn...\" base64, gzip"));
	ck_assert_uint_lt(strlen(r.how), 200);
	mailin_free(&r);
	buf_free(&m);
	buf_free(&hdr);
}
END_TEST

START_TEST(test_quoted_printable)
{
	struct buf j, m;
	struct mailin_result r;
	char err[256];

	report_json(&j, "qp-1");
	report_mail(&m, "Content-Type: application/tlsrpt+json\r\n", CTE_QP, j.data, j.len);
	ck_assert_ptr_nonnull(strstr(m.data, "=3D"));		/* really encoded */
	ck_assert_ptr_nonnull(strstr(m.data, "=\r\n"));
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.json.len, j.len);
	ck_assert_int_eq(memcmp(r.json.data, j.data, j.len), 0);
	ck_assert_str_eq(r.how, "part 2 application/tlsrpt+json quoted-printable, json");
	mailin_free(&r);
	buf_free(&m);
	buf_free(&j);
}
END_TEST

START_TEST(test_zip_deflate)
{
	struct buf j, scratch, zip, m;
	struct zip_item it;

	report_json(&j, "zip-1");
	it = zip_text("report.json", j.data, 8, &scratch);
	ck_assert_uint_lt(it.len, it.usize);		/* really deflated */
	zip_build(&zip, &it, 1);
	report_mail(&m, "Content-Type: application/zip; name=\"r.zip\"\r\n", CTE_BASE64,
	    zip.data, zip.len);
	expect_report(&m, MAX_JSON, "zip-1",
	    "part 2 application/zip \"r.zip\" base64, zip entry \"report.json\" deflate");
	buf_free(&m);
	buf_free(&zip);
	buf_free(&scratch);
	buf_free(&j);
}
END_TEST

/* Not the first entry but the first *.json; a directory is skipped. */
START_TEST(test_zip_choice)
{
	struct buf j1, j2, s, zip, m;
	struct zip_item it[4];

	report_json(&j1, "zip-first-json");
	report_json(&j2, "zip-second-json");
	it[0] = zip_text("readme.txt", "not the report", 0, &s);
	it[1] = zip_text("data/", "", 0, &s);
	it[2] = zip_text("a.JSON", j1.data, 0, &s);
	it[3] = zip_text("b.json", j2.data, 0, &s);
	zip_build(&zip, it, 4);
	report_mail(&m, "Content-Type: application/octet-stream\r\n", CTE_BASE64,
	    zip.data, zip.len);
	expect_report(&m, MAX_JSON, "zip-first-json", "zip entry \"a.JSON\" stored");
	buf_free(&m);
	buf_free(&zip);
	/* No *.json at all: the first file that is not a directory. */
	zip_build(&zip, (struct zip_item[]){ it[1], zip_text("report", j2.data, 0, &s) }, 2);
	report_mail(&m, "Content-Type: application/tlsrpt+zip\r\n", CTE_BASE64,
	    zip.data, zip.len);
	expect_report(&m, MAX_JSON, "zip-second-json", "zip entry \"report\" stored");
	buf_free(&m);
	buf_free(&zip);
	buf_free(&j1);
	buf_free(&j2);
}
END_TEST

/* Written by "zip -X -D - report.json | cat": deflate, data descriptor. */
static const unsigned char zip_cli[] = {
	0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x08, 0x00, 0x08, 0x00, 0x47, 0x73, 0x77, 0x5d,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x00, 0x00, 0x0b, 0x00,
	0x00, 0x00, 0x72, 0x65, 0x70, 0x6f, 0x72, 0x74, 0x2e, 0x6a, 0x73, 0x6f, 0x6e, 0xab,
	0x56, 0x2a, 0x4a, 0x2d, 0xc8, 0x2f, 0x2a, 0xd1, 0xcd, 0x4c, 0x51, 0xb2, 0x52, 0xaa,
	0xca, 0x2c, 0xd0, 0x4d, 0xce, 0xc9, 0xd4, 0x35, 0x54, 0xaa, 0xe5, 0x02, 0x00, 0x50,
	0x4b, 0x07, 0x08, 0xfe, 0x92, 0xf2, 0xcd, 0x1c, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x00,
	0x00, 0x50, 0x4b, 0x01, 0x02, 0x1e, 0x03, 0x14, 0x00, 0x08, 0x00, 0x08, 0x00, 0x47,
	0x73, 0x77, 0x5d, 0xfe, 0x92, 0xf2, 0xcd, 0x1c, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x00,
	0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xa4,
	0x81, 0x00, 0x00, 0x00, 0x00, 0x72, 0x65, 0x70, 0x6f, 0x72, 0x74, 0x2e, 0x6a, 0x73,
	0x6f, 0x6e, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
	0x39, 0x00, 0x00, 0x00, 0x55, 0x00, 0x00, 0x00, 0x00, 0x00
};

START_TEST(test_zip_from_zip_cli)
{
	struct buf m;

	ck_assert_uint_eq(sizeof(zip_cli), 164);
	ck_assert_uint_eq(zip_cli[6] & 8, 8);		/* sizes only after the data */
	report_mail(&m, "Content-Type: application/x-zip-compressed\r\n", CTE_BASE64,
	    zip_cli, sizeof(zip_cli));
	expect_report(&m, MAX_JSON, "zip-cli-1", "zip entry \"report.json\" deflate");
	buf_free(&m);
}
END_TEST

START_TEST(test_zip_broken)
{
	struct buf j, s, zip, m;
	struct zip_item it;

	report_json(&j, "zip-bad");
	it = zip_text("r.json", j.data, 0, &s);
	zip_build(&zip, &it, 1);
	zip.data[40] ^= 1;				/* CRC no longer matches */
	report_mail(&m, "Content-Type: application/zip\r\n", CTE_BASE64, zip.data, zip.len);
	expect_error(&m, MAX_JSON, "corrupt zip data (part 2 application/zip)");
	buf_free(&m);
	zip.data[40] ^= 1;
	report_mail(&m, "Content-Type: application/zip\r\n", CTE_BASE64, zip.data, zip.len - 4);
	expect_error(&m, MAX_JSON, "corrupt zip data");		/* no end record */
	buf_free(&m);
	zip.data[6] = 1;				/* "encrypted" */
	zip.data[zip.len - 22 - 46 - 6 + 8] = 1;
	report_mail(&m, "Content-Type: application/zip\r\n", CTE_BASE64, zip.data, zip.len);
	expect_error(&m, MAX_JSON, "unsupported zip entry");
	buf_free(&m);
	buf_free(&zip);
	zip_build(&zip, (struct zip_item[]){ zip_text("d/", "", 0, &s) }, 1);
	report_mail(&m, "Content-Type: application/zip\r\n", CTE_BASE64, zip.data, zip.len);
	expect_error(&m, MAX_JSON, "zip has no file entry");
	buf_free(&m);
	buf_free(&zip);
	buf_free(&j);
}
END_TEST

/* multipart/report > multipart/mixed > the report: part 2.2. */
START_TEST(test_nested_multipart)
{
	struct buf j, gz, m;

	report_json(&j, "nested-1");
	gzip_of(j.data, j.len, &gz);
	msg_head(&m, "multipart/report; report-type=tlsrpt; boundary=outer");
	msg_part(&m, "outer", "Content-Type: text/plain\r\n", CTE_7BIT, HUMAN, strlen(HUMAN));
	put(&m, "--outer\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n");
	msg_part(&m, "inner", "Content-Type: text/html\r\n", CTE_7BIT, "<p>x</p>", 8);
	msg_part(&m, "inner", "Content-Type: application/tlsrpt+gzip\r\n", CTE_BASE64,
	    gz.data, gz.len);
	msg_close(&m, "inner");
	msg_close(&m, "outer");
	expect_report(&m, MAX_JSON, "nested-1", "part 2.2 application/tlsrpt+gzip base64, gzip");
	buf_free(&m);
	buf_free(&gz);
	buf_free(&j);
}
END_TEST

/* A report mail forwarded as an attachment (message/rfc822). */
START_TEST(test_forwarded_message)
{
	struct buf inner, m;
	struct mailin_result r;
	char err[256];

	gzip_report_mail(&inner, "Content-Type: application/tlsrpt+gzip\r\n", "fwd-1");
	buf_init(&m, MAX_MSG);
	put(&m, "From: Admin <admin@example.com>\r\nSubject: Fwd: a report\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=fw\r\n\r\n");
	msg_part(&m, "fw", "Content-Type: text/plain\r\n", CTE_7BIT, "see below", 9);
	msg_part(&m, "fw", "Content-Type: message/rfc822\r\n", CTE_7BIT, inner.data, inner.len);
	msg_close(&m, "fw");
	expect_report(&m, MAX_JSON, "fwd-1", "part 2.2 application/tlsrpt+gzip base64, gzip");
	/* The header fields are the outer mail's. */
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.subject, "Fwd: a report");
	ck_assert_ptr_null(r.submitter);
	mailin_free(&r);
	buf_free(&m);
	buf_free(&inner);
}
END_TEST

/* Report-typed parts first, then other types, then text; else order. */
START_TEST(test_preference)
{
	struct buf j1, j2, gz, m;

	report_json(&j1, "as-text");
	report_json(&j2, "as-attachment");
	gzip_of(j2.data, j2.len, &gz);
	msg_head(&m, "multipart/mixed; boundary=" BOUNDARY);
	msg_part(&m, BOUNDARY, "Content-Type: text/plain\r\n", CTE_7BIT, j1.data, j1.len);
	msg_part(&m, BOUNDARY, "Content-Type: image/gif\r\n", CTE_BASE64, gz.data, gz.len);
	msg_close(&m, BOUNDARY);
	expect_report(&m, MAX_JSON, "as-attachment", "part 2 image/gif");
	buf_free(&m);
	msg_head(&m, "multipart/mixed; boundary=" BOUNDARY);
	msg_part(&m, BOUNDARY, "Content-Type: image/gif\r\n", CTE_BASE64, gz.data, gz.len);
	msg_part(&m, BOUNDARY, "Content-Type: application/x-foo; name=r.json.gz\r\n",
	    CTE_7BIT, j1.data, j1.len);
	msg_part(&m, BOUNDARY, "Content-Type: application/json\r\n", CTE_BASE64,
	    j2.data, j2.len);
	msg_close(&m, BOUNDARY);
	expect_report(&m, MAX_JSON, "as-text", "part 2 application/x-foo \"r.json.gz\"");
	buf_free(&m);
	buf_free(&gz);
	buf_free(&j1);
	buf_free(&j2);
}
END_TEST

START_TEST(test_bom_and_space_dropped)
{
	static const char body[] = "\xef\xbb\xbf \r\n\t{\"report-id\":\"bom-1\"}";
	struct buf gz, m;
	struct mailin_result r;
	char err[256];

	report_mail(&m, "Content-Type: application/json\r\n", CTE_BASE64, body, strlen(body));
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.json.data, "{\"report-id\":\"bom-1\"}");
	ck_assert_uint_eq(r.json.len, strlen(r.json.data));
	mailin_free(&r);
	buf_free(&m);
	gzip_of(body, strlen(body), &gz);
	report_mail(&m, "Content-Type: application/gzip\r\n", CTE_BASE64, gz.data, gz.len);
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.json.data, "{\"report-id\":\"bom-1\"}");
	mailin_free(&r);
	buf_free(&m);
	buf_free(&gz);
}
END_TEST

/* --- tests: errors ------------------------------------------------------ */

START_TEST(test_no_attachment)
{
	struct buf m;
	struct mailin_result r;
	char err[256];

	msg_head(&m, "multipart/alternative; boundary=" BOUNDARY);
	msg_part(&m, BOUNDARY, "Content-Type: text/plain\r\n", CTE_7BIT, HUMAN, strlen(HUMAN));
	msg_part(&m, BOUNDARY, "Content-Type: text/html\r\n", CTE_QP, "<p>{x}</p>", 10);
	msg_part(&m, BOUNDARY, "Content-Type: image/gif\r\n", CTE_BASE64, "GIF89a", 6);
	msg_close(&m, BOUNDARY);
	expect_error(&m, MAX_JSON, "no attachment looks like a report");
	/* The header fields are there even without a report. */
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no attachment looks like a report");
	ck_assert_str_eq(r.submitter, "reporter.example");
	ck_assert_str_eq(r.message_id, "m1@reporter.example");
	mailin_free(&r);
	buf_free(&m);
}
END_TEST

START_TEST(test_report_typed_but_not_report)
{
	struct buf m;

	report_mail(&m, "Content-Type: application/tlsrpt+gzip\r\n", CTE_BASE64,
	    "hello, world", 12);
	expect_error(&m, MAX_JSON,
	    "attachment is not gzip/zip/JSON (part 2 application/tlsrpt+gzip)");
	buf_free(&m);
	report_mail(&m, "Content-Type: application/json\r\n", CTE_7BIT, "[1, 2]", 6);
	expect_error(&m, MAX_JSON, "attachment is not gzip/zip/JSON (part 2 application/json)");
	buf_free(&m);
	report_mail(&m, "Content-Type: application/tlsrpt+json\r\n", CTE_7BIT, "", 0);
	expect_error(&m, MAX_JSON, "attachment is not gzip/zip/JSON");
	buf_free(&m);
}
END_TEST

START_TEST(test_truncated_gzip)
{
	struct buf j, gz, m;

	report_json(&j, "cut-1");
	gzip_of(j.data, j.len, &gz);
	report_mail(&m, "Content-Type: application/tlsrpt+gzip\r\n", CTE_BASE64,
	    gz.data, gz.len - 9);
	expect_error(&m, MAX_JSON, "corrupt gzip data (part 2 application/tlsrpt+gzip)");
	buf_free(&m);
	gz.data[gz.len - 8] ^= 0x40;			/* CRC-32 */
	report_mail(&m, "Content-Type: application/tlsrpt+gzip\r\n", CTE_BASE64,
	    gz.data, gz.len);
	expect_error(&m, MAX_JSON, "corrupt gzip data");
	buf_free(&m);
	buf_free(&gz);
	gzip_of("hello", 5, &gz);
	report_mail(&m, "Content-Type: application/gzip\r\n", CTE_BASE64, gz.data, gz.len);
	expect_error(&m, MAX_JSON, "inflated attachment is not JSON");
	buf_free(&m);
	buf_free(&gz);
	buf_free(&j);
}
END_TEST

/* When several parts fail, err names the worst, whatever the order. */
START_TEST(test_worst_reason_wins)
{
	struct buf j, gz, m;

	report_json(&j, "worst");
	gzip_of(j.data, j.len, &gz);
	msg_head(&m, "multipart/mixed; boundary=" BOUNDARY);
	msg_part(&m, BOUNDARY, "Content-Type: application/json\r\n", CTE_7BIT, "no", 2);
	msg_part(&m, BOUNDARY, "Content-Type: application/gzip\r\n", CTE_BASE64,
	    gz.data, gz.len);
	msg_part(&m, BOUNDARY, "Content-Type: application/gzip\r\n", CTE_BASE64,
	    gz.data, gz.len / 2);
	msg_close(&m, BOUNDARY);
	expect_error(&m, j.len - 1, "inflated report larger than");
	expect_report(&m, j.len, "worst", "part 2 application/gzip");
	buf_free(&m);
	msg_head(&m, "multipart/mixed; boundary=" BOUNDARY);
	msg_part(&m, BOUNDARY, "Content-Type: application/json\r\n", CTE_7BIT, "no", 2);
	msg_part(&m, BOUNDARY, "Content-Type: application/gzip\r\n", CTE_BASE64,
	    gz.data, gz.len / 2);
	msg_close(&m, BOUNDARY);
	expect_error(&m, MAX_JSON, "corrupt gzip data (part 2 application/gzip)");
	buf_free(&m);
	buf_free(&gz);
	buf_free(&j);
}
END_TEST

START_TEST(test_not_mime)
{
	static const char nuls[64];
	char noise[4096], err[256];
	struct mailin_result r;
	struct {
		const char *p;
		size_t n;
	} in[] = {
		{ "", 0 }, { NULL, 0 }, { "hello world\n", 12 }, { nuls, sizeof(nuls) },
		{ "\x1f\x8b\x08\x00", 4 }, { noise, sizeof(noise) },
	};

	srand(8460);
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (char)(rand() & 0xff);
	noise[0] = '\x01';
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ck_assert_int_eq(mailin_parse(in[i].p, in[i].n, MAX_JSON, &r, err,
		    sizeof(err)), -1);
		ck_assert_msg(strcmp(err, "not a MIME message") == 0, "input %zu: %s", i, err);
		ck_assert_ptr_null(r.subject);
		ck_assert_ptr_null(r.how);
		mailin_free(&r);
	}
	/*
	 * Bare JSON is a mail to GMime: `{"report-id"` is a valid RFC 5322
	 * field name. There is no body, so no report either.
	 */
	ck_assert_int_eq(mailin_parse("{\"report-id\":\"x\"}", 17, MAX_JSON, &r, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "no attachment looks like a report");
	mailin_free(&r);
	/* err may be left out. */
	ck_assert_int_eq(mailin_parse("x", 1, MAX_JSON, &r, NULL, 0), -1);
	mailin_free(&r);
}
END_TEST

/* --- tests: caps --------------------------------------------------------- */

START_TEST(test_bomb_generator)
{
	struct buf gz, out;

	gzip_bomb(&gz, 3);
	buf_init(&out, 4 << 20);
	ck_assert_int_eq(gz_decompress(gz.data, gz.len, &out), GZ_OK);
	ck_assert_uint_eq(out.len, 3 << 20);
	ck_assert(out.data[0] == 0 && out.data[out.len - 1] == 0);
	buf_free(&out);
	buf_free(&gz);
}
END_TEST

/* 1 GiB of zeros in about 1 MB of gzip. */
START_TEST(test_gzip_bomb)
{
	struct buf gz, m;

	gzip_bomb(&gz, 1024);
	ck_assert_uint_lt(gz.len, 4 << 20);
	report_mail(&m, "Content-Type: application/tlsrpt+gzip; name=\"x.json.gz\"\r\n",
	    CTE_BASE64, gz.data, gz.len);
	expect_error(&m, MAX_JSON, "inflated report larger than 1048576 bytes "
	    "(part 2 application/tlsrpt+gzip \"x.json.gz\")");
	buf_free(&m);
	buf_free(&gz);
}
END_TEST

static void
zip_bomb_mail(struct buf *m, unsigned mib)
{
	struct buf data, zip;
	struct zip_item it = { "bomb.json", NULL, 0, 8, (uint32_t)((uint64_t)mib << 20), 0 };

	buf_init(&data, MAX_MSG);
	zero_bomb(&data, mib, &it.crc);
	it.data = data.data;
	it.len = data.len;
	zip_build(&zip, &it, 1);
	report_mail(m, "Content-Type: application/zip\r\n", CTE_BASE64, zip.data, zip.len);
	buf_free(&zip);
	buf_free(&data);
}

START_TEST(test_zip_bomb)
{
	struct buf m;

	/* Small enough to inflate: sizes and CRC-32 check out, zeros are no JSON. */
	zip_bomb_mail(&m, 3);
	expect_error(&m, 4 << 20, "inflated attachment is not JSON");
	buf_free(&m);
	zip_bomb_mail(&m, 1024);
	expect_error(&m, MAX_JSON, "inflated report larger than 1048576 bytes");
	buf_free(&m);
}
END_TEST

/* Exactly max_json_bytes is fine, one byte more is not; all three ways. */
START_TEST(test_json_cap_exact)
{
	struct buf j, gz, s, zip, m;
	struct zip_item it;

	report_json(&j, "cap-1");
	gzip_of(j.data, j.len, &gz);
	report_mail(&m, "Content-Type: application/gzip\r\n", CTE_BASE64, gz.data, gz.len);
	expect_report(&m, j.len, "cap-1", "gzip");
	expect_error(&m, j.len - 1, "inflated report larger than");
	buf_free(&m);
	report_mail(&m, "Content-Type: application/json\r\n", CTE_BASE64, j.data, j.len);
	expect_report(&m, j.len, "cap-1", "json");
	expect_error(&m, j.len - 1, "report larger than");
	buf_free(&m);
	it = zip_text("r.json", j.data, 8, &s);
	zip_build(&zip, &it, 1);
	report_mail(&m, "Content-Type: application/zip\r\n", CTE_BASE64, zip.data, zip.len);
	expect_report(&m, j.len, "cap-1", "zip entry");
	expect_error(&m, j.len - 1, "inflated report larger than");
	buf_free(&m);
	buf_free(&zip);
	buf_free(&s);
	buf_free(&gz);
	buf_free(&j);
}
END_TEST

/* multipart/mixed (entity 1) with fillers; the report is entity at + 1. */
static void
many_parts(struct buf *m, int nparts, int report_at)
{
	struct buf j;

	report_json(&j, "many");
	msg_head(m, "multipart/mixed; boundary=" BOUNDARY);
	for (int i = 1; i <= nparts; i++) {
		if (i == report_at)
			msg_part(m, BOUNDARY, "Content-Type: application/json\r\n", CTE_7BIT,
			    j.data, j.len);
		else
			msg_part(m, BOUNDARY, "Content-Type: application/octet-stream\r\n",
			    CTE_BASE64, "filler", 6);
	}
	msg_close(m, BOUNDARY);
	buf_free(&j);
}

START_TEST(test_parts_cap)
{
	struct buf m;
	struct mailin_result r;
	char err[256];

	many_parts(&m, 100, MAILIN_MAX_PARTS - 1);
	expect_report(&m, MAX_JSON, "many", "part 63 application/json");
	buf_free(&m);
	many_parts(&m, 100, MAILIN_MAX_PARTS);
	expect_error(&m, MAX_JSON, "attachment is not gzip/zip/JSON (part 1 "
	    "application/octet-stream); looked at only the first 64 MIME parts");
	buf_free(&m);
	/* 1 + 63 entities: all looked at, so no note about the cap. */
	many_parts(&m, MAILIN_MAX_PARTS - 1, 0);
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "attachment is not gzip/zip/JSON (part 1 "
	    "application/octet-stream)");
	ck_assert_int_eq(MAILIN_MAX_PARTS, 64);
	mailin_free(&r);
	buf_free(&m);
}
END_TEST

/* The report at depth `depth` under single-child multiparts. */
static void
nested(struct buf *m, int depth)
{
	struct buf j;
	char line[128];

	report_json(&j, "deep");
	msg_head(m, "multipart/mixed; boundary=b0");
	for (int d = 1; d < depth; d++) {
		snprintf(line, sizeof(line), "--b%d\r\nContent-Type: multipart/mixed; "
		    "boundary=b%d\r\n\r\n", d - 1, d);
		put(m, line);
	}
	snprintf(line, sizeof(line), "b%d", depth - 1);
	msg_part(m, line, "Content-Type: text/plain\r\n", CTE_7BIT, j.data, j.len);
	for (int d = depth - 1; d >= 0; d--) {
		snprintf(line, sizeof(line), "b%d", d);
		msg_close(m, line);
	}
	buf_free(&j);
}

START_TEST(test_depth_cap)
{
	struct buf m;

	nested(&m, MAILIN_MAX_DEPTH);
	expect_report(&m, MAX_JSON, "deep", "part 1.1.1.1.1.1.1.1 text/plain");
	buf_free(&m);
	nested(&m, MAILIN_MAX_DEPTH + 1);
	expect_error(&m, MAX_JSON, "no attachment looks like a report; "
	    "looked at only the parts within 8 levels");
	buf_free(&m);
}
END_TEST

/* --- tests: header fields ------------------------------------------------ */

static const struct {
	const char *subject, *want;
} subjects[] = {
	{ "Report Domain: a.example Submitter: b.example Report-ID: <x@y>", "x@y" },
	{ "Report Domain: a Submitter: b Report-ID: 1331+a.example", "1331+a.example" },
	{ "Report Domain: a Submitter: b Report-ID:\r\n 1331+a tail", "1331+a" },
	{ "Report\r\n Domain: a\r\n Submitter: b\r\n Report-ID: <u@v>", "u@v" },
	{ "report-id: <lower@case>", "lower@case" },
	{ "=?UTF-8?Q?Report_Domain=3A_a_Report-ID=3A_=3Cq=40w=3E?=", "q@w" },
	{ "Report Domain: a Submitter: b", NULL },
	{ "Report-ID: <>", NULL },
	/* Trimmed inside the brackets too (found by tests/fuzz/fuzz_mailin). */
	{ "Report-ID: < id@x.example\x01>", "id@x.example" },
	{ "Report-ID: < \t>", NULL },
	{ "Report-ID: <unterminated", NULL },
	{ "Report-ID:", NULL },
};

START_TEST(test_subject_report_id)
{
	struct buf m;
	struct mailin_result r;
	char err[256];

	buf_init(&m, MAX_MSG);
	ck_assert_int_eq(buf_printf(&m, "Subject: %s\r\nContent-Type: text/plain\r\n\r\n{}\r\n",
	    subjects[_i].subject), 0);
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), 0);
	if (subjects[_i].want == NULL)
		ck_assert_ptr_null(r.subject_report_id);
	else
		ck_assert_pstr_eq(r.subject_report_id, subjects[_i].want);
	mailin_free(&r);
	buf_free(&m);
}
END_TEST

START_TEST(test_header_fields)
{
	struct buf m;
	struct mailin_result r;
	char err[256], long_subject[MAILIN_FIELD_MAX_BYTES + 2];

	buf_init(&m, MAX_MSG);
	put(&m, "From: \"Reporter, Inc.\" <tlsrpt@reporter.example>\r\n"
	    "Subject: =?UTF-8?Q?line=0Abreak=09tab?=\r\n"
	    "TLS-Report-Submitter:\r\n   reporter.example  \r\n"
	    "TLS-Report-Domain:   \r\n"
	    "Message-ID: <abc@def.example>\r\n"
	    "Content-Type: text/plain\r\n\r\n{}\r\n");
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.from, "tlsrpt@reporter.example");
	ck_assert_str_eq(r.subject, "line break tab");
	ck_assert_str_eq(r.submitter, "reporter.example");
	ck_assert_ptr_null(r.report_domain);
	ck_assert_str_eq(r.message_id, "abc@def.example");
	ck_assert_str_eq(r.how, "part 1 text/plain 7bit, json");
	mailin_free(&r);
	mailin_free(&r);				/* harmless */
	ck_assert_ptr_null(r.from);
	buf_free(&m);

	/*
	 * Control bytes at the ends are trimmed, not turned into spaces
	 * that would be left at the ends (found by tests/fuzz/fuzz_mailin).
	 */
	buf_init(&m, MAX_MSG);
	put(&m, "Subject: \x01hello\x02world\x7f\r\n"
	    "TLS-Report-Domain: \x01\x02\r\n"
	    "TLS-Report-Submitter: reporter.example\x01\r\n"
	    "Content-Type: text/plain\r\n\r\n{}\r\n");
	ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.subject, "hello world");
	ck_assert_ptr_null(r.report_domain);
	ck_assert_str_eq(r.submitter, "reporter.example");
	mailin_free(&r);
	buf_free(&m);

	/* At the cap a field is kept; one byte over, it is dropped. */
	for (int over = 0; over <= 1; over++) {
		size_t n = MAILIN_FIELD_MAX_BYTES + (size_t)over;

		memset(long_subject, 'x', n);
		memcpy(long_subject, "Report-ID: <a@b> ", 17);
		long_subject[n] = '\0';
		buf_init(&m, MAX_MSG);
		ck_assert_int_eq(buf_printf(&m, "Subject: %s\r\nFrom: x@y.example\r\n"
		    "Content-Type: text/plain\r\n\r\n{}\r\n", long_subject), 0);
		ck_assert_int_eq(mailin_parse(m.data, m.len, MAX_JSON, &r, err, sizeof(err)), 0);
		if (over) {
			ck_assert_ptr_null(r.subject);
			ck_assert_ptr_null(r.subject_report_id);
		} else {
			ck_assert_uint_eq(strlen(r.subject), n);
			ck_assert_str_eq(r.subject_report_id, "a@b");
		}
		ck_assert_str_eq(r.from, "x@y.example");
		mailin_free(&r);
		buf_free(&m);
	}
}
END_TEST

static Suite *
mailin_suite(void)
{
	Suite *s = suite_create("mailin");
	TCase *real = tcase_create("real");
	TCase *where = tcase_create("where");
	TCase *errors = tcase_create("errors");
	TCase *caps = tcase_create("caps");
	TCase *fields = tcase_create("fields");

	tcase_add_loop_test(real, test_fixture, 0, NFIXTURES);
	tcase_add_loop_test(real, test_fixture_other_line_ends, 0, NFIXTURES);
	tcase_add_test(real, test_fixture_table_complete);
	tcase_add_loop_test(real, test_fixture_damaged, 0, NFIXTURES);
	tcase_add_test(real, test_no_delimiters_after_attachment);
	tcase_set_timeout(real, 60);
	suite_add_tcase(s, real);

	tcase_add_test(where, test_inline_text_plain);
	tcase_add_test(where, test_gzip_octet_stream_no_name);
	tcase_add_test(where, test_gzip_mislabelled);
	tcase_add_test(where, test_filename_from_disposition);
	tcase_add_test(where, test_filename_shown_safely);
	tcase_add_test(where, test_quoted_printable);
	tcase_add_test(where, test_zip_deflate);
	tcase_add_test(where, test_zip_choice);
	tcase_add_test(where, test_zip_from_zip_cli);
	tcase_add_test(where, test_nested_multipart);
	tcase_add_test(where, test_forwarded_message);
	tcase_add_test(where, test_preference);
	tcase_add_test(where, test_bom_and_space_dropped);
	suite_add_tcase(s, where);

	tcase_add_test(errors, test_no_attachment);
	tcase_add_test(errors, test_report_typed_but_not_report);
	tcase_add_test(errors, test_truncated_gzip);
	tcase_add_test(errors, test_zip_broken);
	tcase_add_test(errors, test_worst_reason_wins);
	tcase_add_test(errors, test_not_mime);
	suite_add_tcase(s, errors);

	tcase_add_test(caps, test_bomb_generator);
	tcase_add_test(caps, test_gzip_bomb);
	tcase_add_test(caps, test_zip_bomb);
	tcase_add_test(caps, test_json_cap_exact);
	tcase_add_test(caps, test_parts_cap);
	tcase_add_test(caps, test_depth_cap);
	tcase_set_timeout(caps, 60);
	suite_add_tcase(s, caps);

	tcase_add_loop_test(fields, test_subject_report_id, 0,
	    (int)(sizeof(subjects) / sizeof(subjects[0])));
	tcase_add_test(fields, test_header_fields);
	suite_add_tcase(s, fields);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mailin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
