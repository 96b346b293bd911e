/*
 * NAME
 *	check_mail - unit tests for lib/mail.c, the RFC 8460 report mail
 * DESCRIPTION
 *	With a counting random source the message is deterministic, so the
 *	header block is compared byte for byte. Every message built here is
 *	also run through the same structure checks: CRLF only, 7-bit, lines
 *	at most 998 and header lines at most 78 (unless one unbreakable
 *	word), three boundary lines that match the Content-Type, and an
 *	attachment that decodes to exactly the bytes given. Bad fields
 *	(header injection, bad addresses, out-of-range values) must fail
 *	without output. The base64 encoder is checked against RFC 4648 and
 *	a decoder written here.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "gz.h"
#include "mail.h"

#define MAX_MSG (4 * 1024 * 1024)

/* --- deterministic random sources -------------------------------- */

static unsigned char next_byte;

static ssize_t
counting_random(void *p, size_t len, unsigned int flags)
{
	unsigned char *b = p;

	(void)flags;
	for (size_t i = 0; i < len; i++)
		b[i] = next_byte++;
	return (ssize_t)len;
}

static ssize_t
failing_random(void *p, size_t len, unsigned int flags)
{
	(void)p;
	(void)len;
	(void)flags;
	return -1;
}

/* Always 0xab: every boundary is "=_tlsrpt_abab...". */
static ssize_t
constant_random(void *p, size_t len, unsigned int flags)
{
	(void)flags;
	memset(p, 0xab, len);
	return (ssize_t)len;
}

static void
deterministic(void)
{
	next_byte = 0;
	mail_set_random(counting_random);
}

static void
restore_random(void)
{
	mail_set_random(NULL);
}

/* --- helpers ------------------------------------------------------ */

static const unsigned char sample_gz[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab, 0xae, 0x05, 0x00,
	0x43, 0xbf, 0xa6, 0xa3, 0x02, 0x00, 0x00, 0x00		/* gzip of "{}" */
};

static struct mail_report
sample(void)
{
	struct mail_report r = {
		.from = "tlsrpt-noreply@reporter.example",
		.to = "tlsrpt@example.com",
		.report_domain = "example.com",
		.submitter = "reporter.example",
		.report_id = "2026-03-14T00:00:00Z_idx1_example.com@reporter.example",
		.org = "Reporter Example",
		.begin = 1773446400, .end = 1773532799,
		.gz = sample_gz, .gzlen = sizeof(sample_gz),
		.date = 1773460800,
	};
	return r;
}

static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict decoder: CRLF between groups only, '=' only at the end. */
static int
b64_decode(const char *s, size_t len, struct buf *out)
{
	uint32_t v = 0;
	int n = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] == '=') {
			pad++;
			v <<= 6;
		} else {
			if (pad || b64_value((unsigned char)s[i]) < 0)
				return -1;
			v = v << 6 | (uint32_t)b64_value((unsigned char)s[i]);
		}
		if (++n == 4) {
			unsigned char three[3] = { (unsigned char)(v >> 16),
				(unsigned char)(v >> 8), (unsigned char)v };

			if (pad > 2 || buf_append(out, three, (size_t)(3 - pad)) != 0)
				return -1;
			n = 0;
			v = 0;
		}
	}
	return n == 0 ? 0 : -1;
}

/* Where the header block ends (the empty line), or NULL. */
static const char *
header_end(const struct buf *m)
{
	const char *e = memmem(m->data, m->len, "\r\n\r\n", 4);

	return e ? e + 2 : NULL;
}

/* The unfolded value of the first header field called name, into v. */
static int
header_value(const struct buf *m, const char *name, char *v, size_t vlen)
{
	const char *end = header_end(m), *p = m->data;
	size_t nl = strlen(name), n = 0;

	for (; p && p < end; p = strstr(p, "\r\n") + 2) {
		if (strncmp(p, name, nl) != 0 || p[nl] != ':')
			continue;
		for (p += nl + 1; *p == ' '; p++)
			;
		for (; p < end && !(p[0] == '\r' && p[2] != ' ' && p[2] != '\t'); p++)
			if (*p != '\r' && *p != '\n' && n + 1 < vlen)
				v[n++] = *p;
		v[n] = '\0';
		return 0;
	}
	return -1;
}

static char bad_line[1200];

/*
 * The structural checks every composed message must pass; returns NULL
 * or what is wrong. Sets *att to the attachment's decoded bytes.
 */
static const char *
check_structure(const struct buf *m, struct buf *att)
{
	const char *hend = header_end(m), *line, *eol, *b64, *close;
	char ctype[1024], delim[128], closing[128];
	int delims = 0;

	if (hend == NULL)
		return "no end of header";
	for (size_t i = 0; i < m->len; i++) {
		unsigned char c = (unsigned char)m->data[i];

		if (c == '\n' && (i == 0 || m->data[i - 1] != '\r'))
			return "bare LF";
		if (c == '\r' && (i + 1 == m->len || m->data[i + 1] != '\n'))
			return "bare CR";
		if (c != '\r' && c != '\n' && (c < ' ' || c > '~'))
			return "byte outside printable ASCII";
	}
	if (m->len < 2 || memcmp(m->data + m->len - 2, "\r\n", 2) != 0)
		return "no final CRLF";
	for (line = m->data; line < m->data + m->len; line = eol + 2) {
		eol = strstr(line, "\r\n");
		if (eol - line > 998)
			return "line over 998";
		/*
		 * A header line over 78 may hold only one word: the first
		 * after "Name: " or after the blank of a fold.
		 */
		if (line < hend && eol - line > MAIL_LINE_MAX) {
			const char *w = line[0] == ' ' ? line + 1 : strstr(line, ": ");

			if (w == NULL || w > eol)
				return "header line without ': '";
			w += line[0] == ' ' ? 0 : 2;
			if (memchr(w, ' ', (size_t)(eol - w)) != NULL) {
				snprintf(bad_line, sizeof(bad_line), "header line over 78 that"
				    " could have been folded: %.*s", (int)(eol - line), line);
				return bad_line;
			}
		}
	}
	if (header_value(m, "Content-Type", ctype, sizeof(ctype)) != 0)
		return "no Content-Type";
	const char *bp = strstr(ctype, "boundary=\"");
	if (bp == NULL || strncmp(ctype, "multipart/report; report-type=\"tlsrpt\";", 39) != 0)
		return "Content-Type is not multipart/report; report-type=\"tlsrpt\"";
	snprintf(delim, sizeof(delim), "\r\n--%.*s\r\n", (int)strcspn(bp + 10, "\""), bp + 10);
	snprintf(closing, sizeof(closing), "\r\n--%.*s--\r\n", (int)strcspn(bp + 10, "\""),
	    bp + 10);
	for (line = m->data; (line = memmem(line, m->len - (size_t)(line - m->data),
	    delim, strlen(delim))) != NULL; line++)
		delims++;
	close = memmem(m->data, m->len, closing, strlen(closing));
	if (delims != 2 || close == NULL || close + strlen(closing) != m->data + m->len)
		return "not exactly two delimiters and a closing one at the end";
	b64 = strstr(m->data, "Content-Transfer-Encoding: base64\r\n");
	if (b64 == NULL || (b64 = strstr(b64, "\r\n\r\n")) == NULL)
		return "no base64 part";
	b64 += 4;
	for (line = b64; line < close; line = eol + 2) {
		eol = strstr(line, "\r\n");
		if (eol - line > MAIL_B64_LINE)
			return "base64 line over 76";
	}
	if (b64_decode(b64, (size_t)(close - b64), att) != 0)
		return "attachment is not valid base64";
	return NULL;
}

static void
build_ok(const struct mail_report *r, struct buf *m)
{
	char err[256] = "";
	struct buf att;
	const char *why;

	buf_init(m, MAX_MSG);
	ck_assert_msg(mail_build(r, m, err, sizeof(err)) == 0, "mail_build: %s", err);
	buf_init(&att, MAX_MSG);
	why = check_structure(m, &att);
	ck_assert_msg(why == NULL, "%.1500s", why);
	ck_assert_uint_eq(att.len, r->gzlen);
	ck_assert_mem_eq(att.data, r->gz, r->gzlen);
	buf_free(&att);
}

/* --- base64 ------------------------------------------------------- */

START_TEST(test_base64_rfc4648)
{
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	struct buf b;

	buf_init(&b, 100);
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		buf_reset(&b);
		ck_assert_int_eq(mail_base64(vec[i][0], strlen(vec[i][0]), 0, &b), 0);
		ck_assert_uint_eq(b.len, strlen(vec[i][1]));
		ck_assert_mem_eq(b.data ? b.data : "", vec[i][1], b.len);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_base64_lines)
{
	unsigned char in[58];
	struct buf b;

	memset(in, 0xff, sizeof(in));
	buf_init(&b, 1000);
	/* 57 bytes are exactly one 76-character line. */
	ck_assert_int_eq(mail_base64(in, 57, 76, &b), 0);
	ck_assert_uint_eq(b.len, 78);
	ck_assert_mem_eq(b.data + 76, "\r\n", 2);
	buf_reset(&b);
	ck_assert_int_eq(mail_base64(in, 58, 76, &b), 0);
	ck_assert_str_eq(b.data + 76, "\r\n/w==\r\n");
	buf_reset(&b);
	ck_assert_int_eq(mail_base64(in, 6, 4, &b), 0);
	ck_assert_str_eq(b.data, "////\r\n////\r\n");
	ck_assert_int_eq(mail_base64(in, 3, 6, &b), -1);
	buf_free(&b);
}
END_TEST

START_TEST(test_base64_roundtrip)
{
	unsigned char in[300];
	struct buf enc, dec;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 157 + 11);
	buf_init(&enc, 1000);
	buf_init(&dec, 1000);
	for (size_t len = 0; len <= sizeof(in); len++) {
		buf_reset(&enc);
		buf_reset(&dec);
		ck_assert_int_eq(mail_base64(in, len, 76, &enc), 0);
		ck_assert_uint_eq(enc.len, (len + 2) / 3 * 4 + ((len + 56) / 57) * 2);
		ck_assert_int_eq(b64_decode(enc.data ? enc.data : "", enc.len, &dec), 0);
		ck_assert_uint_eq(dec.len, len);
		if (len)
			ck_assert_mem_eq(dec.data, in, len);
	}
	buf_free(&enc);
	buf_free(&dec);
}
END_TEST

START_TEST(test_base64_cap)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(mail_base64("foobar", 6, 0, &b), 0);
	ck_assert_int_eq(mail_base64("x", 1, 0, &b), -1);
	buf_reset(&b);
	ck_assert_int_eq(mail_base64("foobar", 6, 4, &b), -1);	/* 12 with CRLFs */
	buf_free(&b);
}
END_TEST

/* --- the message -------------------------------------------------- */

START_TEST(test_headers_exact)
{
	static const char want[] =
	    "From: tlsrpt-noreply@reporter.example\r\n"
	    "To: tlsrpt@example.com\r\n"
	    "Date: Sat, 14 Mar 2026 04:00:00 +0000\r\n"
	    "Subject: Report Domain: example.com Submitter: reporter.example Report-ID:\r\n"
	    " <2026-03-14T00:00:00Z_idx1_example.com@reporter.example>\r\n"
	    "Message-ID: <20260314040000.000102030405060708090a0b0c0d0e0f@reporter.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "TLS-Report-Domain: example.com\r\n"
	    "TLS-Report-Submitter: reporter.example\r\n"
	    "TLS-Required: No\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
	    " boundary=\"=_tlsrpt_101112131415161718191a1b\"\r\n"
	    "\r\n";
	struct mail_report r = sample();
	struct buf m;

	deterministic();
	build_ok(&r, &m);
	ck_assert_uint_ge(m.len, strlen(want));
	ck_assert_msg(memcmp(m.data, want, strlen(want)) == 0, "got:\n%.*s",
	    (int)(header_end(&m) - m.data), m.data);
	buf_free(&m);
	restore_random();
}
END_TEST

START_TEST(test_parts_exact)
{
	static const char part2[] =
	    "\r\n--=_tlsrpt_101112131415161718191a1b\r\n"
	    "Content-Type: application/tlsrpt+gzip;\r\n"
	    " name=\"reporter.example!example.com!1773446400!1773532799!20260314T000000Zidx1examplecom.json.gz\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment;\r\n"
	    " filename=\"reporter.example!example.com!1773446400!1773532799!20260314T000000Zidx1examplecom.json.gz\"\r\n"
	    "\r\n"
	    "H4sIAAAAAAAAA6uuBQBDv6ajAgAAAA==\r\n"
	    "\r\n--=_tlsrpt_101112131415161718191a1b--\r\n";
	static const char part1[] =
	    "--=_tlsrpt_101112131415161718191a1b\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n";
	struct mail_report r = sample();
	struct buf m;
	const char *p;

	deterministic();
	build_ok(&r, &m);
	ck_assert_uint_gt(m.len, strlen(part2));
	ck_assert_str_eq(m.data + m.len - strlen(part2), part2);
	ck_assert_ptr_nonnull(p = strstr(m.data, part1));
	/* The summary says who, which domain, which day, and what is attached. */
	ck_assert_ptr_nonnull(strstr(p, "Organization:  Reporter Example\r\n"));
	ck_assert_ptr_nonnull(strstr(p, "Report domain: example.com\r\n"));
	ck_assert_ptr_nonnull(strstr(p, "Submitter:     reporter.example\r\n"));
	ck_assert_ptr_nonnull(strstr(p,
	    "Period (UTC):  2026-03-14T00:00:00Z to 2026-03-14T23:59:59Z\r\n"));
	ck_assert_ptr_nonnull(strstr(p, "RFC 8460"));
	buf_free(&m);
	restore_random();
}
END_TEST

START_TEST(test_subject_exact)
{
	struct mail_report r = sample();
	char v[1024];
	struct buf m;

	r.report_domain = "a.example";
	r.submitter = "b.example";
	r.report_id = "x@y";
	build_ok(&r, &m);
	ck_assert_int_eq(header_value(&m, "Subject", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "Report Domain: a.example Submitter: b.example Report-ID: <x@y>");
	ck_assert_int_eq(header_value(&m, "TLS-Report-Domain", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "a.example");
	ck_assert_int_eq(header_value(&m, "TLS-Report-Submitter", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "b.example");
	ck_assert_int_eq(header_value(&m, "Message-ID", v, sizeof(v)), 0);
	ck_assert_uint_eq(strlen(v), strlen("<20260314040000.") + 32 + strlen("@b.example>"));
	ck_assert_str_eq(v + strlen(v) - strlen("@b.example>"), "@b.example>");
	buf_free(&m);
}
END_TEST

START_TEST(test_dates)
{
	static const struct {
		time_t t;
		const char *want;
	} cases[] = {
		{ 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ 4102444799, "Thu, 31 Dec 2099 23:59:59 +0000" },
	};
	struct mail_report r = sample();
	char v[128];
	struct buf m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.date = cases[i].t;
		build_ok(&r, &m);
		ck_assert_int_eq(header_value(&m, "Date", v, sizeof(v)), 0);
		ck_assert_str_eq(v, cases[i].want);
		buf_free(&m);
	}
}
END_TEST

/* Fields at their caps: still well-formed, with long words unbroken. */
START_TEST(test_limits)
{
	char dom[MAIL_DOMAIN_MAX + 1], local[MAIL_LOCAL_MAX + 1], from[400];
	char id[MAIL_REPORT_ID_MAX + 1], org[MAIL_ORG_MAX + 1], v[2048];
	struct mail_report r = sample();
	struct buf m;

	/* 63+1+63+1+63+1+61 = 253 */
	memset(dom, 'a', sizeof(dom) - 1);
	dom[63] = dom[127] = dom[191] = '.';
	dom[MAIL_DOMAIN_MAX] = '\0';
	memset(local, 'l', sizeof(local) - 1);
	local[MAIL_LOCAL_MAX] = '\0';
	snprintf(from, sizeof(from), "%s@%s", local, dom);
	memset(id, 'i', sizeof(id) - 1);
	id[100] = '@';
	id[MAIL_REPORT_ID_MAX] = '\0';
	memset(org, 'O', sizeof(org) - 1);
	org[10] = ' ';
	org[MAIL_ORG_MAX] = '\0';
	r.from = r.to = from;
	r.report_domain = r.submitter = dom;
	r.report_id = id;
	r.org = org;
	r.begin = r.end = 0;
	build_ok(&r, &m);
	ck_assert_int_eq(header_value(&m, "Subject", v, sizeof(v)), 0);
	ck_assert_uint_eq(strlen(v), strlen("Report Domain:  Submitter:  Report-ID: <>") +
	    2 * MAIL_DOMAIN_MAX + MAIL_REPORT_ID_MAX);
	buf_free(&m);
}
END_TEST

START_TEST(test_large_attachment)
{
	struct mail_report r = sample();
	size_t n = 200 * 1024 + 1;
	unsigned char *data = malloc(n);
	struct buf m;

	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	r.gz = data;
	r.gzlen = n;
	build_ok(&r, &m);
	buf_free(&m);
	free(data);
}
END_TEST

/* A real gzip report survives the trip: decoded and inflated, it is the JSON. */
START_TEST(test_gzip_roundtrip)
{
	static const char json[] = "{\"organization-name\":\"Reporter Example\"}";
	struct mail_report r = sample();
	struct buf gz, m, att, back;

	buf_init(&gz, 4096);
	buf_init(&att, 4096);
	buf_init(&back, 4096);
	ck_assert_int_eq(gz_compress(json, strlen(json), &gz), 0);
	r.gz = gz.data;
	r.gzlen = gz.len;
	build_ok(&r, &m);
	ck_assert_ptr_null(check_structure(&m, &att));
	ck_assert_int_eq(gz_decompress(att.data, att.len, &back), GZ_OK);
	ck_assert_str_eq(back.data, json);
	buf_free(&gz);
	buf_free(&att);
	buf_free(&back);
	buf_free(&m);
}
END_TEST

START_TEST(test_filename)
{
	static const struct {
		const char *id;
		const char *want;
	} cases[] = {
		{ "1@reporter.example", "s.example!d.example!86400!172799!1.json.gz" },
		{ "a-b_c.d@e", "s.example!d.example!86400!172799!abcd.json.gz" },
		{ "-@-", "s.example!d.example!86400!172799.json.gz" },
		{ "0123456789abcdefghijklmnopqrstuvWXYZ@x",
		  "s.example!d.example!86400!172799!0123456789abcdefghijklmnopqrstuv.json.gz" },
	};
	struct mail_report r = sample();
	char name[MAIL_FILENAME_MAX];

	r.submitter = "s.example";
	r.report_domain = "d.example";
	r.begin = 86400;
	r.end = 172799;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.report_id = cases[i].id;
		ck_assert_int_eq(mail_filename(&r, name, sizeof(name)), 0);
		ck_assert_str_eq(name, cases[i].want);
	}
	/* Exactly fits, one byte short, bad field. */
	ck_assert_int_eq(mail_filename(&r, name, strlen(cases[3].want) + 1), 0);
	ck_assert_int_eq(mail_filename(&r, name, strlen(cases[3].want)), -1);
	r.report_domain = "d..example";
	ck_assert_int_eq(mail_filename(&r, name, sizeof(name)), -1);
}
END_TEST

/* Each row breaks one field; build must fail, say which, and write nothing. */
static const struct {
	const char *field;		/* from to domain submitter id org range gz */
	const char *value;
	const char *err;		/* substring of the message */
} bad[] = {
	{ "from", "a@b.example\r\nBcc: victim@c.example", "from" },
	{ "from", "a@b.example\nBcc: victim@c.example", "from" },
	{ "from", "no-at-sign.example", "from" },
	{ "from", "@b.example", "from" },
	{ "from", "a b@b.example", "from" },
	{ "from", "a..b@b.example", "from" },
	{ "from", ".a@b.example", "from" },
	{ "from", "\"q\"@b.example", "from" },
	{ "from", "a@b.example>", "from" },
	{ "from", "Name <a@b.example>", "from" },
	{ "from", "a@b@c.example", "from" },
	{ "from", "caf\xc3\xa9@b.example", "from" },
	{ "from", "a@", "from" },
	{ "from", "lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll@b.example",
	  "from" },		/* 65 */
	{ "to", "tls@example.com\r\nSubject: x", "to address" },
	{ "to", "tls@example.com\r", "to address" },
	{ "to", "tls@exa\tmple.com", "to address" },
	{ "to", "", "to address" },
	{ "domain", "example.com\r\nBcc: victim@c.example", "report domain" },
	{ "domain", "example.com ", "report domain" },
	{ "domain", "example.com.", "report domain" },
	{ "domain", "-example.com", "report domain" },
	{ "domain", "example-.com", "report domain" },
	{ "domain", "exa_mple.com", "report domain" },
	{ "domain", "ex\xe4mple.com", "report domain" },
	{ "domain", "", "report domain" },
	{ "domain", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
	  "report domain" },	/* label of 64 */
	{ "submitter", "reporter.example\n", "submitter" },
	{ "submitter", "reporter..example", "submitter" },
	{ "id", "a@b\r\nBcc: victim@c.example", "report id" },
	{ "id", "a@b>", "report id" },
	{ "id", "<a@b", "report id" },
	{ "id", "a b@c", "report id" },
	{ "id", "ab", "report id" },
	{ "id", "a@b@c", "report id" },
	{ "id", "@b", "report id" },
	{ "id", "a@", "report id" },
	{ "id", "a@b\x7f", "report id" },
	{ "org", "Evil\r\nBcc: victim@c.example", "organization" },
	{ "org", "", "organization" },
	{ "org", "Caf\xc3\xa9", "organization" },
	{ "org", "ooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo",
	  "organization" },	/* 65 */
	{ "range", "end<begin", "range" },
	{ "range", "negative", "range" },
	{ "gz", "null", "no report data" },
	{ "gz", "empty", "no report data" },
};

static void
apply_bad(struct mail_report *r, size_t i)
{
	const char *f = bad[i].field, *v = bad[i].value;

	if (strcmp(f, "from") == 0)
		r->from = v;
	else if (strcmp(f, "to") == 0)
		r->to = v;
	else if (strcmp(f, "domain") == 0)
		r->report_domain = v;
	else if (strcmp(f, "submitter") == 0)
		r->submitter = v;
	else if (strcmp(f, "id") == 0)
		r->report_id = v;
	else if (strcmp(f, "org") == 0)
		r->org = v;
	else if (strcmp(v, "end<begin") == 0)
		r->end = r->begin - 1;
	else if (strcmp(v, "negative") == 0)
		r->begin = -1;
	else if (strcmp(v, "null") == 0)
		r->gz = NULL;
	else
		r->gzlen = 0;
}

START_TEST(test_rejects_bad_fields)
{
	struct mail_report r = sample();
	char err[256] = "", name[MAIL_FILENAME_MAX];
	struct buf m;

	buf_init(&m, MAX_MSG);
	ck_assert_int_eq(buf_puts(&m, "stale"), 0);
	apply_bad(&r, (size_t)_i);
	ck_assert_int_eq(mail_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_msg(strstr(err, bad[_i].err) != NULL, "row %d: error '%s' lacks '%s'", _i,
	    err, bad[_i].err);
	ck_assert_int_eq(mail_filename(&r, name, sizeof(name)), -1);
	buf_free(&m);
}
END_TEST

/* The same fields with the bad byte removed are fine: the rows test one thing. */
START_TEST(test_accepts_near_misses)
{
	static const struct {
		const char *from, *id, *org;
	} good[] = {
		{ "a.b+tag@b.example", "a-b_c.d!#$%&'*+/=?^`{|}~@e", "O'Brien & Co. (TLS)" },
		{ "x@xn--caf-dma.example", "x@y", "A" },
		{ "lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll@b.example" + 1,
		  "i@x", NULL },
	};
	struct mail_report r = sample();
	struct buf m;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		r.from = good[i].from;
		r.report_id = good[i].id;
		r.org = good[i].org;
		build_ok(&r, &m);
		buf_free(&m);
	}
}
END_TEST

START_TEST(test_boundary_collision)
{
	struct mail_report r = sample();
	char v[256], err[256], org[64];
	struct buf m;

	/* The first boundary tried (16+12 counting bytes) sits in the text part. */
	r.org = "see =_tlsrpt_101112131415161718191a1b";
	deterministic();
	build_ok(&r, &m);
	ck_assert_int_eq(header_value(&m, "Content-Type", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "multipart/report; report-type=\"tlsrpt\"; "
	    "boundary=\"=_tlsrpt_1c1d1e1f2021222324252627\"");
	buf_free(&m);
	/* Every try collides: give up rather than loop. */
	mail_set_random(constant_random);
	snprintf(org, sizeof(org), "=_tlsrpt_%s", "abababababababababababab");
	ck_assert_uint_eq(strlen(org), 9 + 2 * 12);
	r.org = org;
	buf_init(&m, MAX_MSG);
	ck_assert_int_eq(mail_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_ptr_nonnull(strstr(err, "boundary"));
	buf_free(&m);
	restore_random();
}
END_TEST

START_TEST(test_random_failure)
{
	struct mail_report r = sample();
	char err[256] = "";
	struct buf m;

	mail_set_random(failing_random);
	buf_init(&m, MAX_MSG);
	ck_assert_int_eq(mail_build(&r, &m, err, sizeof(err)), -1);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_ptr_nonnull(strstr(err, "getrandom"));
	buf_free(&m);
	restore_random();
}
END_TEST

START_TEST(test_random_differs)
{
	struct mail_report r = sample();
	char id1[256], id2[256], ct1[256], ct2[256];
	struct buf a, b;

	build_ok(&r, &a);
	build_ok(&r, &b);
	ck_assert_int_eq(header_value(&a, "Message-ID", id1, sizeof(id1)), 0);
	ck_assert_int_eq(header_value(&b, "Message-ID", id2, sizeof(id2)), 0);
	ck_assert_int_eq(header_value(&a, "Content-Type", ct1, sizeof(ct1)), 0);
	ck_assert_int_eq(header_value(&b, "Content-Type", ct2, sizeof(ct2)), 0);
	ck_assert_str_ne(id1, id2);
	ck_assert_str_ne(ct1, ct2);
	buf_free(&a);
	buf_free(&b);
}
END_TEST

/* out->max exactly the message size works; one byte less fails cleanly. */
START_TEST(test_output_cap)
{
	struct mail_report r = sample();
	char err[256] = "";
	struct buf m, small;
	size_t size;

	deterministic();
	build_ok(&r, &m);
	size = m.len;
	deterministic();
	buf_init(&small, size);
	ck_assert_int_eq(mail_build(&r, &small, err, sizeof(err)), 0);
	ck_assert_uint_eq(small.len, size);
	ck_assert_mem_eq(small.data, m.data, size);
	buf_free(&small);
	deterministic();
	buf_init(&small, size - 1);
	ck_assert_int_eq(mail_build(&r, &small, err, sizeof(err)), -1);
	ck_assert_uint_eq(small.len, 0);
	ck_assert_ptr_nonnull(strstr(err, "exceed"));
	buf_free(&small);
	buf_free(&m);
	restore_random();
}
END_TEST

static Suite *
mail_suite(void)
{
	Suite *s = suite_create("mail");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_base64_rfc4648);
	tcase_add_test(tc, test_base64_lines);
	tcase_add_test(tc, test_base64_roundtrip);
	tcase_add_test(tc, test_base64_cap);
	tcase_add_test(tc, test_headers_exact);
	tcase_add_test(tc, test_parts_exact);
	tcase_add_test(tc, test_subject_exact);
	tcase_add_test(tc, test_dates);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_large_attachment);
	tcase_add_test(tc, test_gzip_roundtrip);
	tcase_add_test(tc, test_filename);
	tcase_add_loop_test(tc, test_rejects_bad_fields, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_accepts_near_misses);
	tcase_add_test(tc, test_boundary_collision);
	tcase_add_test(tc, test_random_failure);
	tcase_add_test(tc, test_random_differs);
	tcase_add_test(tc, test_output_cap);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mail_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
