/*
 * NAME
 *	check_dkim - unit tests for lib/dkim.c, DKIM signing of report mail
 * DESCRIPTION
 *	main() makes throw-away keys with openssl(1) in a temporary
 *	directory (no key material is kept in the tree). The signatures are
 *	checked twice: their tags as text (rsa-sha256, relaxed/relaxed, no
 *	l=, every RFC 8460 header in h=), and by libopendkim's verifier
 *	reading the public key from a file instead of DNS, against the
 *	signed message and against tampered copies. Signer errors (no key,
 *	bad key, bad names) and refused messages (missing header, bare LF,
 *	output cap) must fail with a clear message.
 *
 *	dkim_verify_mail() is tested through dkim_verify_mail_keys() with
 *	an in-memory key table (fake_fetch) for the verdicts: key service
 *	types (s=tlsrpt accepted), missing, revoked and broken keys, DNS
 *	trouble, tampering, line endings, which of two signatures counts,
 *	caps, and many threads at once; and through dkim_verify_mail() with
 *	real sockets for a server that never answers (temperror within
 *	10 s) and a bad server string. The DNS path with a real server and
 *	a second verifier are in tests/integration/dkim.sh.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <opendkim/dkim.h>

#include "buf.h"
#include "dkim.h"
#include "mail.h"

#define MAX_MSG (1024 * 1024)

static char dir[256];		/* temporary directory, made by main() */

static const char *
path(const char *name)
{
	static char p[4][512];
	static int next;

	next = (next + 1) % 4;
	snprintf(p[next], sizeof(p[next]), "%s/%s", dir, name);
	return p[next];
}

static void
compose(struct buf *m)
{
	static const unsigned char gz[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x03, 0xab, 0xae, 0x05, 0x00, 0x43, 0xbf, 0xa6, 0xa3, 0x02, 0x00,
		0x00, 0x00 };
	struct mail_report r = {
		.from = "tlsrpt-noreply@reporter.example", .to = "tlsrpt@example.com",
		.report_domain = "example.com", .submitter = "reporter.example",
		.report_id = "1@reporter.example", .org = "Reporter Example",
		.begin = 1773446400, .end = 1773532799, .gz = gz, .gzlen = sizeof(gz),
		.date = 1773460800,
	};
	char err[256];

	buf_init(m, MAX_MSG);
	ck_assert_msg(mail_build(&r, m, err, sizeof(err)) == 0, "%s", err);
}

static struct dkim_signer *
signer(void)
{
	char err[256] = "";
	struct dkim_signer *s = dkim_signer_new(path("rsa.pem"), "tlsrpt", "reporter.example",
	    err, sizeof(err));

	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

static void
sign(struct dkim_signer *s, const struct buf *m, struct buf *out)
{
	char err[256] = "";

	buf_init(out, MAX_MSG);
	ck_assert_msg(dkim_signer_sign(s, m->data, m->len, out, err, sizeof(err)) == 0, "%s",
	    err);
}

/* The DKIM-Signature field, unfolded, from a signed message. */
static void
signature(const struct buf *out, char *v, size_t vlen)
{
	size_t n = 0;

	ck_assert_int_eq(strncmp(out->data, "DKIM-Signature: ", 16), 0);
	for (const char *p = out->data + 16; !(p[0] == '\r' && p[2] != ' ' && p[2] != '\t');
	    p++)
		if (*p != '\r' && *p != '\n' && *p != '\t' && *p != ' ' && n + 1 < vlen)
			v[n++] = *p;
	v[n] = '\0';
}

/* Tag value (blanks removed) of "name=" in a tag list, or NULL. */
static const char *
tag(const char *sig, const char *name, char *v, size_t vlen)
{
	size_t nl = strlen(name);

	for (const char *p = sig; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			snprintf(v, vlen, "%.*s", (int)strcspn(p + nl + 1, ";"), p + nl + 1);
			return v;
		}
	}
	return NULL;
}

/* libopendkim's verifier with the key from keys.txt; returns the status. */
static DKIM_STAT
verify(const char *msg, size_t len)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	dkim_query_t method = DKIM_QUERY_FILE;
	size_t start = 0, i;
	DKIM_STAT st;
	DKIM *d;

	ck_assert_ptr_nonnull(lib);
	ck_assert_int_eq(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &method,
	    sizeof(method)), DKIM_STAT_OK);
	ck_assert_int_eq(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO,
	    (void *)(uintptr_t)path("keys.txt"), strlen(path("keys.txt"))), DKIM_STAT_OK);
	d = dkim_verify(lib, (const unsigned char *)"t", NULL, &st);
	ck_assert_ptr_nonnull(d);
	for (i = 0; i + 1 < len && !(i == start && msg[i] == '\r'); i++) {
		if (msg[i] != '\r' || msg[i + 2] == ' ' || msg[i + 2] == '\t')
			continue;
		ck_assert_int_eq(dkim_header(d, (u_char *)(uintptr_t)(msg + start), i - start),
		    DKIM_STAT_OK);
		start = i + 2;
		i++;
	}
	st = dkim_eoh(d);
	if (st == DKIM_STAT_OK)
		st = dkim_body(d, (u_char *)(uintptr_t)(msg + i + 2), len - i - 2);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	dkim_free(d);
	dkim_close(lib);
	return st;
}

/* --- signer errors ------------------------------------------------ */

static const struct {
	const char *file;		/* under dir; NULL: the directory itself */
	const char *selector, *domain;
	const char *err;		/* start of the message */
	const char *detail;		/* and somewhere in it */
} bad_new[] = {
	{ "missing.pem", "tlsrpt", "reporter.example", "cannot read key ", "No such file" },
	{ NULL, "tlsrpt", "reporter.example", "cannot read key ", "not a regular file" },
	{ "empty.pem", "tlsrpt", "reporter.example", "bad key ", "empty" },
	{ "garbage.pem", "tlsrpt", "reporter.example", "bad key ", "not an unencrypted PEM" },
	{ "encrypted.pem", "tlsrpt", "reporter.example", "bad key ", "not an unencrypted PEM" },
	{ "ec.pem", "tlsrpt", "reporter.example", "bad key ", "not RSA" },
	{ "small.pem", "tlsrpt", "reporter.example", "bad key ", "512 bits, fewer than 1024" },
	{ "huge.pem", "tlsrpt", "reporter.example", "bad key ", "larger than 65536" },
	{ "rsa.pem", "tls;rpt", "reporter.example", "bad DKIM selector", "" },
	{ "rsa.pem", "", "reporter.example", "bad DKIM selector", "" },
	{ "rsa.pem", "tlsrpt\r\nX: y", "reporter.example", "bad DKIM selector", "" },
	{ "rsa.pem", "tlsrpt", "reporter example", "bad DKIM domain", "" },
	{ "rsa.pem", "tlsrpt", "reporter.example.", "bad DKIM domain", "" },
	{ "rsa.pem", "tlsrpt", NULL, "bad DKIM domain", "" },
};

START_TEST(test_new_rejects)
{
	char err[512] = "";
	const char *file = bad_new[_i].file ? path(bad_new[_i].file) : dir;

	ck_assert_ptr_null(dkim_signer_new(file, bad_new[_i].selector, bad_new[_i].domain,
	    err, sizeof(err)));
	ck_assert_msg(strncmp(err, bad_new[_i].err, strlen(bad_new[_i].err)) == 0 &&
	    strstr(err, bad_new[_i].detail) != NULL,
	    "row %d: '%s' is not '%s...%s'", _i, err, bad_new[_i].err, bad_new[_i].detail);
	if (strncmp(bad_new[_i].err, "bad DKIM", 8) != 0)
		ck_assert_ptr_nonnull(strstr(err, file));	/* names the file */
}
END_TEST

/* --- signing ------------------------------------------------------ */

START_TEST(test_signature_tags)
{
	struct dkim_signer *s = signer();
	char sig[4096], v[1024], want[64];
	struct buf m, out;

	compose(&m);
	sign(s, &m, &out);
	/* The message follows the signature unchanged. */
	ck_assert_uint_gt(out.len, m.len);
	ck_assert_mem_eq(out.data + out.len - m.len, m.data, m.len);
	ck_assert_mem_eq(out.data + out.len - m.len - 2, "\r\n", 2);
	for (size_t i = 1; i < out.len - m.len; i++)
		if (out.data[i] == '\n' && out.data[i - 1] != '\r')
			ck_abort_msg("bare LF in the signature at %zu", i);
	signature(&out, sig, sizeof(sig));
	ck_assert_str_eq(tag(sig, "v", v, sizeof(v)), "1");
	ck_assert_str_eq(tag(sig, "a", v, sizeof(v)), "rsa-sha256");
	ck_assert_str_eq(tag(sig, "c", v, sizeof(v)), "relaxed/relaxed");
	ck_assert_str_eq(tag(sig, "d", v, sizeof(v)), "reporter.example");
	ck_assert_str_eq(tag(sig, "s", v, sizeof(v)), "tlsrpt");
	ck_assert_ptr_null(tag(sig, "l", v, sizeof(v)));
	ck_assert_ptr_nonnull(tag(sig, "h", v, sizeof(v)));
	/* Every required header once, the over-signed four twice. */
	char list[] = DKIM_SIGNED_HEADERS, padded[1100], *save = NULL;
	snprintf(padded, sizeof(padded), ":%s:", v);
	for (char *h = strtok_r(list, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		int n = 0, want_n = strcmp(h, "From") == 0 || strcmp(h, "Subject") == 0 ||
		    strncmp(h, "TLS-Report-", 11) == 0 ? 2 : 1;

		snprintf(want, sizeof(want), ":%s:", h);
		for (char *p = padded; (p = strcasestr(p, want)) != NULL; p++)
			n++;
		ck_assert_msg(n == want_n, "h=%s has %s %d times, want %d", v, h, n, want_n);
	}
	buf_free(&m);
	buf_free(&out);
	dkim_signer_free(s);
}
END_TEST

START_TEST(test_verifies)
{
	struct dkim_signer *s = signer();
	struct buf m, out;

	compose(&m);
	sign(s, &m, &out);
	ck_assert_int_eq(verify(out.data, out.len), DKIM_STAT_OK);
	buf_free(&m);
	buf_free(&out);
	dkim_signer_free(s);
}
END_TEST

/*
 * Each change is applied to a signed message; "pass" says whether the
 * signature must survive it (relaxed canonicalisation, unsigned
 * headers) or break.
 */
static const struct {
	const char *what, *find, *replace;
	int pass;
} tamper[] = {
	{ "body byte", "aggregate report", "aggregate rep0rt", 0 },
	{ "TLS-Report-Domain value", "TLS-Report-Domain: example.com",
	  "TLS-Report-Domain: example.net", 0 },
	{ "TLS-Report-Submitter value", "TLS-Report-Submitter: reporter.example",
	  "TLS-Report-Submitter: evil.example", 0 },
	{ "TLS-Required value", "TLS-Required: No", "TLS-Required: Yes", 0 },
	{ "second TLS-Report-Domain (over-signed)", "From: ",
	  "TLS-Report-Domain: evil.example\r\nFrom: ", 0 },
	{ "second Subject (over-signed)", "From: ", "Subject: hi\r\nFrom: ", 0 },
	{ "appended body", "--\r\n", "--\r\nmore\r\n", 0 },
	{ "added Received header (not signed)", "From: ",
	  "Received: from x by y; Sat, 14 Mar 2026 04:00:01 +0000\r\nFrom: ", 1 },
	{ "header whitespace (relaxed)", "TLS-Report-Domain: example.com",
	  "TLS-Report-Domain:   example.com", 1 },
	{ "header name case (relaxed)", "TLS-Report-Domain:", "tls-report-domain:", 1 },
};

START_TEST(test_tamper)
{
	struct dkim_signer *s = signer();
	struct buf m, out, t;
	const char *at;
	DKIM_STAT st;

	compose(&m);
	sign(s, &m, &out);
	/* Search past the signature: its h= names the headers too. */
	ck_assert_ptr_nonnull(at = strstr(out.data + out.len - m.len, tamper[_i].find));
	if (strcmp(tamper[_i].find, "--\r\n") == 0)
		at = out.data + out.len - 4;		/* the closing delimiter */
	buf_init(&t, MAX_MSG);
	ck_assert_int_eq(buf_append(&t, out.data, (size_t)(at - out.data)), 0);
	ck_assert_int_eq(buf_puts(&t, tamper[_i].replace), 0);
	ck_assert_int_eq(buf_puts(&t, at + strlen(tamper[_i].find)), 0);
	st = verify(t.data, t.len);
	if (tamper[_i].pass)
		ck_assert_msg(st == DKIM_STAT_OK, "%s: %s", tamper[_i].what,
		    dkim_getresultstr(st));
	else
		ck_assert_msg(st == DKIM_STAT_BADSIG, "%s: %s", tamper[_i].what,
		    dkim_getresultstr(st));
	buf_free(&m);
	buf_free(&out);
	buf_free(&t);
	dkim_signer_free(s);
}
END_TEST

/* The key is read once: the signer keeps working after the file is gone. */
START_TEST(test_key_read_once)
{
	char err[256] = "", copy[600];
	struct dkim_signer *s;
	struct buf m, out1, out2;

	snprintf(copy, sizeof(copy), "cp '%s' '%s'", path("rsa.pem"), path("once.pem"));
	ck_assert_int_eq(system(copy), 0);
	s = dkim_signer_new(path("once.pem"), "tlsrpt", "reporter.example", err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(unlink(path("once.pem")), 0);
	compose(&m);
	sign(s, &m, &out1);
	sign(s, &m, &out2);
	ck_assert_int_eq(verify(out1.data, out1.len), DKIM_STAT_OK);
	ck_assert_int_eq(verify(out2.data, out2.len), DKIM_STAT_OK);
	buf_free(&m);
	buf_free(&out1);
	buf_free(&out2);
	dkim_signer_free(s);
}
END_TEST

static const char *const required[] = {
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
	"TLS-Report-Domain", "TLS-Report-Submitter", "TLS-Required", "Content-Type",
};

/* Signing without a header RFC 8460 relies on is refused, by name. */
START_TEST(test_refuses_missing_header)
{
	struct dkim_signer *s = signer();
	char find[64], err[256] = "", want[96];
	struct buf m, cut, out;
	const char *at, *next;

	compose(&m);
	snprintf(find, sizeof(find), "\r\n%s: ", required[_i]);
	at = strcmp(required[_i], "From") == 0 ? m.data : strstr(m.data, find) + 2;
	ck_assert_ptr_nonnull(at);
	/* Through the end of the field, folds included. */
	for (next = strstr(at, "\r\n"); next[2] == ' '; next = strstr(next + 2, "\r\n"))
		;
	buf_init(&cut, MAX_MSG);
	buf_init(&out, MAX_MSG);
	ck_assert_int_eq(buf_append(&cut, m.data, (size_t)(at - m.data)), 0);
	ck_assert_int_eq(buf_puts(&cut, next + 2), 0);
	ck_assert_int_eq(dkim_signer_sign(s, cut.data, cut.len, &out, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "message lacks a %s header field", required[_i]);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(out.len, 0);
	buf_free(&m);
	buf_free(&cut);
	buf_free(&out);
	dkim_signer_free(s);
}
END_TEST

START_TEST(test_refuses_bad_messages)
{
	struct dkim_signer *s = signer();
	char err[256] = "";
	struct buf m, out;
	char *lf;

	compose(&m);
	buf_init(&out, MAX_MSG);
	/* A bare LF (here in the body) and a bare CR. */
	ck_assert_ptr_nonnull(lf = strstr(m.data, "RFC 8460).\r\n"));
	lf[10] = ' ';
	ck_assert_int_eq(dkim_signer_sign(s, m.data, m.len, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "message has a bare CR or LF");
	lf[10] = '\r';
	lf[11] = ' ';
	ck_assert_int_eq(dkim_signer_sign(s, m.data, m.len, &out, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "message has a bare CR or LF");
	lf[11] = '\n';
	/* No empty line: headers only. */
	ck_assert_int_eq(dkim_signer_sign(s, "From: a@b\r\n", 11, &out, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no body"));
	/* Output one byte too small, then exactly right. */
	buf_free(&out);
	buf_init(&out, MAX_MSG);
	ck_assert_int_eq(dkim_signer_sign(s, m.data, m.len, &out, err, sizeof(err)), 0);
	size_t need = out.len;
	buf_free(&out);
	buf_init(&out, need - 1);
	ck_assert_int_eq(dkim_signer_sign(s, m.data, m.len, &out, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "exceed"));
	ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
	buf_init(&out, need);
	ck_assert_int_eq(dkim_signer_sign(s, m.data, m.len, &out, err, sizeof(err)), 0);
	buf_free(&m);
	buf_free(&out);
	dkim_signer_free(s);
}
END_TEST

/* --- verification: dkim_verify_mail() ----------------------------- */

static char pubkey[1024];	/* base64 public key of rsa.pem, from keys.txt */

/* Key records by selector; %s is the public key. */
static const struct {
	const char *selector;
	enum dns_result result;
	const char *record;
} fake_keys[] = {
	{ "tlsrpt", DNS_OK, "v=DKIM1; k=rsa; s=tlsrpt; p=%s" },
	{ "email", DNS_OK, "v=DKIM1; k=rsa; s=email; p=%s" },
	{ "both", DNS_OK, "v=DKIM1; k=rsa; s=email:tlsrpt; p=%s" },
	{ "star", DNS_OK, "v=DKIM1; k=rsa; s=*; p=%s" },
	{ "any", DNS_OK, "v=DKIM1; k=rsa; p=%s" },
	{ "spaced", DNS_OK, "v=DKIM1;k=rsa;\t s = tlsrpt ;p=%s" },
	{ "upper", DNS_OK, "v=DKIM1; k=rsa; s=TLSRPT; p=%s" },
	{ "twice", DNS_OK, "v=DKIM1; k=rsa; s=tlsrpt:other; p=%s" },
	{ "other", DNS_OK, "v=DKIM1; k=rsa; s=other; p=%s" },
	{ "revoked", DNS_OK, "v=DKIM1; k=rsa; s=tlsrpt; p=" },
	{ "garbage", DNS_OK, "this is not a key record" },
	{ "wrongkey", DNS_OK, "v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAL+Bz5"
	  "EDk/SnL9YLHXZ6uDMlR4MylE30PA7zrs7ZoY9DUb0ugtqbkOoSjdFNTYEp/0GRH8QBZ5Ti0ylUH"
	  "0SIBosCAwEAAQ==" },
	{ "long", DNS_OK, "v=DKIM1; k=rsa; s=tlsrpt; n=%3000s; p=%s" },
	{ "missing", DNS_NODATA, NULL },
	{ "slow", DNS_TEMPFAIL, NULL },
};

struct fake_dns {
	int calls;
	char last[300];
};

static enum dns_result
fake_fetch(void *arg, const char *name, char *record, size_t recordlen, char *err,
    size_t errlen)
{
	struct fake_dns *f = arg;
	size_t n;

	f->calls++;
	snprintf(f->last, sizeof(f->last), "%s", name);
	for (size_t i = 0; i < sizeof(fake_keys) / sizeof(fake_keys[0]); i++) {
		n = strlen(fake_keys[i].selector);
		if (strncmp(name, fake_keys[i].selector, n) != 0 ||
		    strcmp(name + n, "._domainkey.reporter.example") != 0)
			continue;
		if (fake_keys[i].result == DNS_NODATA)
			snprintf(err, errlen, "%s: NXDOMAIN", name);
		else if (fake_keys[i].result == DNS_TEMPFAIL)
			snprintf(err, errlen, "%s: no answer from fake: Connection timed out", name);
		else if (strcmp(fake_keys[i].selector, "long") == 0)
			snprintf(record, recordlen, fake_keys[i].record, "x", pubkey);
		else
			snprintf(record, recordlen, fake_keys[i].record, pubkey);
		return fake_keys[i].result;
	}
	snprintf(err, errlen, "%s: NXDOMAIN", name);
	return DNS_NODATA;
}

/* Signs the composed report with selector (and domain reporter.example). */
static void
signed_by(const char *selector, const char *domain, struct buf *out)
{
	char err[256] = "";
	struct dkim_signer *s;
	struct buf m;

	s = dkim_signer_new(path("rsa.pem"), selector, domain ? domain : "reporter.example",
	    err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	compose(&m);
	sign(s, &m, out);
	buf_free(&m);
	dkim_signer_free(s);
}

/* Where the message starts after the DKIM-Signature field signed_by() put on top. */
static char *
after_signature(const struct buf *out)
{
	char *p = out->data;

	while ((p = strstr(p, "\r\n")) != NULL && (p[2] == ' ' || p[2] == '\t'))
		p += 2;
	ck_assert_ptr_nonnull(p);
	return p + 2;
}

static void
check_verdict(const char *msg, size_t len, struct dkim_verdict *v, struct fake_dns *f)
{
	char err[256] = "";

	memset(f, 0, sizeof(*f));
	memset(v, 0x55, sizeof(*v));	/* every field must be set */
	ck_assert_msg(dkim_verify_mail_keys(msg, len, fake_fetch, f, v, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(err, "");
	ck_assert_uint_lt(strlen(v->text), sizeof(v->text));
	ck_assert_uint_lt(strlen(v->reason), sizeof(v->reason));
	ck_assert_uint_lt(strlen(v->key_service), sizeof(v->key_service));
	ck_assert_uint_lt(strlen(v->signed_headers), sizeof(v->signed_headers));
}

static const struct {
	const char *selector;
	int result;
	const char *text;		/* whole verdict line */
	const char *key_service;
	int tlsrpt;
} by_key[] = {
	{ "tlsrpt", DKIM_VERDICT_PASS, "pass d=reporter.example s=tlsrpt", "tlsrpt", 1 },
	{ "email", DKIM_VERDICT_PASS, "pass d=reporter.example s=email", "email", 0 },
	{ "both", DKIM_VERDICT_PASS, "pass d=reporter.example s=both", "email:tlsrpt", 1 },
	{ "star", DKIM_VERDICT_PASS, "pass d=reporter.example s=star", "*", 1 },
	{ "any", DKIM_VERDICT_PASS, "pass d=reporter.example s=any", "*", 1 },
	{ "spaced", DKIM_VERDICT_PASS, "pass d=reporter.example s=spaced", "tlsrpt", 1 },
	{ "upper", DKIM_VERDICT_PASS, "pass d=reporter.example s=upper", "TLSRPT", 1 },
	{ "twice", DKIM_VERDICT_PASS, "pass d=reporter.example s=twice", "tlsrpt:other", 1 },
	{ "other", DKIM_VERDICT_FAIL,
	  "fail d=reporter.example s=other: key not for e-mail (s=other)", "other", 0 },
	{ "revoked", DKIM_VERDICT_FAIL, "fail d=reporter.example s=revoked: key revoked",
	  "tlsrpt", 1 },
	{ "garbage", DKIM_VERDICT_FAIL, NULL, "*", 1 },
	{ "wrongkey", DKIM_VERDICT_FAIL, NULL, "*", 1 },
	{ "long", DKIM_VERDICT_FAIL, NULL, "", 0 },
	{ "missing", DKIM_VERDICT_FAIL, "fail d=reporter.example s=missing: no key: "
	  "missing._domainkey.reporter.example: NXDOMAIN", "", 0 },
	{ "slow", DKIM_VERDICT_TEMPERROR, "temperror d=reporter.example s=slow: key query: "
	  "slow._domainkey.reporter.example: no answer from fake: Connection timed out", "", 0 },
};

START_TEST(test_verify_key_records)
{
	struct dkim_verdict v;
	struct fake_dns f;
	struct buf out;
	char name[128];

	signed_by(by_key[_i].selector, NULL, &out);
	check_verdict(out.data, out.len, &v, &f);
	ck_assert_msg(v.result == by_key[_i].result, "%s: %s", by_key[_i].selector, v.text);
	if (by_key[_i].text)
		ck_assert_str_eq(v.text, by_key[_i].text);
	else
		ck_assert_msg(strncmp(v.text, "fail d=reporter.example s=", 26) == 0 &&
		    strlen(v.reason) > 0, "%s", v.text);
	ck_assert_str_eq(v.domain, "reporter.example");
	ck_assert_str_eq(v.selector, by_key[_i].selector);
	if (strcmp(by_key[_i].selector, "long") == 0)
		ck_assert_msg(strncmp(v.reason, "key record too long (", 21) == 0 &&
		    strstr(v.reason, "; libopendkim takes 1024)") != NULL, "%s", v.reason);
	ck_assert_str_eq(v.key_service, by_key[_i].key_service);
	ck_assert_int_eq(v.key_service_tlsrpt, by_key[_i].tlsrpt);
	ck_assert_ptr_nonnull(strcasestr(v.signed_headers, "TLS-Report-Domain"));
	ck_assert_ptr_null(strchr(v.signed_headers, ' '));
	snprintf(name, sizeof(name), "%s._domainkey.reporter.example", by_key[_i].selector);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_str_eq(f.last, name);
	if (v.result == DKIM_VERDICT_PASS) {
		ck_assert_str_eq(v.reason, "");
		ck_assert_int_eq(v.body_hash, DKIM_BODY_HASH_MATCH);
	}
	buf_free(&out);
}
END_TEST

/* The verdict agrees with libopendkim's own file-based verifier. */
START_TEST(test_verify_tamper)
{
	struct dkim_verdict v;
	struct fake_dns f;
	struct buf out, t;
	const char *at;

	signed_by("tlsrpt", NULL, &out);
	ck_assert_ptr_nonnull(at = strstr(after_signature(&out), tamper[_i].find));
	if (strcmp(tamper[_i].find, "--\r\n") == 0)
		at = out.data + out.len - 4;
	buf_init(&t, MAX_MSG);
	ck_assert_int_eq(buf_append(&t, out.data, (size_t)(at - out.data)), 0);
	ck_assert_int_eq(buf_puts(&t, tamper[_i].replace), 0);
	ck_assert_int_eq(buf_puts(&t, at + strlen(tamper[_i].find)), 0);
	check_verdict(t.data, t.len, &v, &f);
	if (tamper[_i].pass) {
		ck_assert_msg(v.result == DKIM_VERDICT_PASS, "%s: %s", tamper[_i].what, v.text);
	} else {
		ck_assert_msg(v.result == DKIM_VERDICT_FAIL, "%s: %s", tamper[_i].what, v.text);
		ck_assert_msg(strcmp(v.text, "fail d=reporter.example s=tlsrpt: body hash mismatch")
		    == 0 || strcmp(v.text, "fail d=reporter.example s=tlsrpt: signature "
		    "verification failed") == 0, "%s: %s", tamper[_i].what, v.text);
		/* A body change shows as such; after a header change it is untested. */
		if (strncmp(tamper[_i].what, "body", 4) == 0 ||
		    strncmp(tamper[_i].what, "appended", 8) == 0)
			ck_assert_int_eq(v.body_hash, DKIM_BODY_HASH_MISMATCH);
		else
			ck_assert_int_ne(v.body_hash, DKIM_BODY_HASH_MISMATCH);
	}
	buf_free(&out);
	buf_free(&t);
}
END_TEST

START_TEST(test_verify_none)
{
	static const char *const unsigned_msgs[] = {
		"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n",
		"From: a@example.com\r\n\r\nDKIM-Signature: v=1; in the body\r\n",
		"X-DKIM-Signature: v=1; d=example.com\r\nFrom: a@example.com\r\n\r\nx\r\n",
		"DKIM-Signatures: v=1\r\n\r\n",
		"From: a@example.com\r\n",	/* no body */
		"",
	};
	struct dkim_verdict v;
	struct fake_dns f;
	struct buf m;

	for (size_t i = 0; i < sizeof(unsigned_msgs) / sizeof(unsigned_msgs[0]); i++) {
		check_verdict(unsigned_msgs[i], strlen(unsigned_msgs[i]), &v, &f);
		ck_assert_msg(v.result == DKIM_VERDICT_NONE, "%zu: %s", i, v.text);
		ck_assert_str_eq(v.text, "none");
		ck_assert_str_eq(v.domain, "");
		ck_assert_int_eq(v.key_service_tlsrpt, 0);
		ck_assert_int_eq(f.calls, 0);
	}
	compose(&m);
	check_verdict(m.data, m.len, &v, &f);
	ck_assert_int_eq(v.result, DKIM_VERDICT_NONE);
	buf_free(&m);
	ck_assert_int_ne(DKIM_VERDICT_PASS, 0);		/* a zeroed verdict never passes */
	ck_assert_str_eq(dkim_verdict_name(0), "none");
}
END_TEST

/* A DKIM-Signature field libopendkim cannot use is a failure, not "none". */
START_TEST(test_verify_malformed_signature)
{
	static const char *const bad[] = {
		"DKIM-Signature: v=1; garbage\r\n",
		"DKIM-Signature: v=1; a=rsa-sha256; d=reporter.example; s=tlsrpt; h=from; "
		    "bh=AAAA; b=AAAA\r\n",
		"dkim-signature :v=1\r\n",
	};
	struct dkim_verdict v;
	struct fake_dns f;
	struct buf m, t;

	signed_by("tlsrpt", NULL, &m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_init(&t, MAX_MSG);
		ck_assert_int_eq(buf_puts(&t, bad[i]), 0);
		ck_assert_int_eq(buf_append(&t, m.data, m.len), 0);
		check_verdict(t.data, t.len, &v, &f);
		ck_assert_msg(v.result == DKIM_VERDICT_FAIL, "%zu: %s", i, v.text);
		ck_assert_msg(strncmp(v.text, "fail", 4) == 0 && strlen(v.reason) > 0, "%s",
		    v.text);
		buf_free(&t);
	}
	buf_free(&m);
}
END_TEST

/* Mail stores may keep LF or CR line ends: the same signature passes. */
START_TEST(test_verify_line_endings)
{
	static const char *const ends[] = { "\n", "\r" };
	struct dkim_verdict v;
	struct fake_dns f;
	struct buf out, t;

	signed_by("tlsrpt", NULL, &out);
	for (size_t e = 0; e < 2; e++) {
		buf_init(&t, MAX_MSG);
		for (size_t i = 0; i < out.len; i++) {
			if (out.data[i] == '\r')
				continue;
			ck_assert_int_eq(out.data[i] == '\n' ? buf_puts(&t, ends[e]) :
			    buf_putc(&t, out.data[i]), 0);
		}
		check_verdict(t.data, t.len, &v, &f);
		ck_assert_msg(v.result == DKIM_VERDICT_PASS, "%s", v.text);
		/* ...and a changed byte still fails. */
		*strstr(t.data, "aggregate report") = 'A';
		check_verdict(t.data, t.len, &v, &f);
		ck_assert_str_eq(v.text, "fail d=reporter.example s=tlsrpt: body hash mismatch");
		buf_free(&t);
	}
	buf_free(&out);
}
END_TEST

/* Only the topmost signature (the one added last) counts. */
START_TEST(test_verify_first_signature)
{
	static const char *const order[][2] = {
		{ "missing", "tlsrpt" },	/* inner, outer */
		{ "tlsrpt", "missing" },
	};
	char err[256] = "";
	struct dkim_signer *outer;
	struct dkim_verdict v;
	struct fake_dns f;
	struct buf inner, both;

	signed_by(order[_i][0], NULL, &inner);
	outer = dkim_signer_new(path("rsa.pem"), order[_i][1], "reporter.example", err,
	    sizeof(err));
	ck_assert_msg(outer != NULL, "%s", err);
	sign(outer, &inner, &both);
	check_verdict(both.data, both.len, &v, &f);
	ck_assert_str_eq(v.selector, order[_i][1]);
	ck_assert_int_eq(v.result, strcmp(order[_i][1], "tlsrpt") == 0 ? DKIM_VERDICT_PASS :
	    DKIM_VERDICT_FAIL);
	ck_assert_int_eq(f.calls, 1);		/* the other key is never asked for */
	buf_free(&inner);
	buf_free(&both);
	dkim_signer_free(outer);
}
END_TEST

/* Longest names: text is cut to its field, domain kept whole. */
START_TEST(test_verify_caps)
{
	char domain[254], err[256] = "";
	struct dkim_verdict v;
	struct fake_dns f;
	struct buf out;

	for (size_t i = 0; i < sizeof(domain) - 1; i++)
		domain[i] = i % 2 ? '.' : 'a';
	domain[sizeof(domain) - 1] = '\0';		/* 253 bytes, 127 labels */
	signed_by("tlsrpt", domain, &out);
	check_verdict(out.data, out.len, &v, &f);
	ck_assert_int_eq(v.result, DKIM_VERDICT_FAIL);
	ck_assert_str_eq(v.domain, domain);
	ck_assert_uint_eq(strlen(v.text), sizeof(v.text) - 1);
	ck_assert_int_eq(strncmp(v.text, "fail d=a.a.a.", 13), 0);
	buf_free(&out);
	/* Over the message cap: refused before it is read. */
	ck_assert_int_eq(dkim_verify_mail_keys("", (size_t)DKIM_VERIFY_MAX_BYTES + 1, fake_fetch,
	    &f, &v, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "message larger than"));
	ck_assert_int_eq(v.result, DKIM_VERDICT_TEMPERROR);
	ck_assert_int_eq(strncmp(v.text, "temperror: message larger than", 30), 0);
}
END_TEST

struct worker {
	const char *selector;
	int tamper;
	int want;
	int ok;
	struct buf msg;
};

static void *
verify_many(void *arg)
{
	struct worker *w = arg;
	struct dkim_verdict v;
	struct fake_dns f;
	char err[256];

	w->ok = 1;
	for (int i = 0; i < 20; i++) {
		memset(&f, 0, sizeof(f));
		if (dkim_verify_mail_keys(w->msg.data, w->msg.len, fake_fetch, &f, &v, err,
		    sizeof(err)) != 0 || v.result != w->want || strcmp(v.selector, w->selector) != 0)
			w->ok = 0;
	}
	return NULL;
}

START_TEST(test_verify_threads)
{
	struct worker w[8];
	pthread_t t[8];

	for (int i = 0; i < 8; i++) {
		static const char *const sel[] = { "tlsrpt", "email", "missing", "slow" };

		w[i].selector = sel[i % 4];
		w[i].tamper = i >= 4;
		signed_by(w[i].selector, NULL, &w[i].msg);
		if (w[i].tamper)
			*strstr(after_signature(&w[i].msg), "aggregate report") = 'A';
		w[i].want = i % 4 == 3 ? DKIM_VERDICT_TEMPERROR : i % 4 == 2 || w[i].tamper ?
		    DKIM_VERDICT_FAIL : DKIM_VERDICT_PASS;
	}
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, verify_many, &w[i]), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_msg(w[i].ok, "thread %d (%s) got a wrong verdict", i, w[i].selector);
		buf_free(&w[i].msg);
	}
}
END_TEST

/* A UDP socket on loopback that takes queries and never answers. */
static int
silent_server(int family, char *server, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_DGRAM, 0);

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (family == AF_INET)
		snprintf(server, len, "127.0.0.1:%u",
		    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	else
		snprintf(server, len, "[::1]:%u", ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	return fd;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Real DNS path: no answer is a temperror, well within 10 s. */
START_TEST(test_verify_dns_silent)
{
	int family = _i == 0 ? AF_INET : AF_INET6;
	char server[64], err[256] = "", want[256];
	struct dkim_verdict v;
	struct buf out;
	double t0;
	int fd = silent_server(family, server, sizeof(server));

	if (fd < 0 && family == AF_INET6) {
		fprintf(stderr, "check_dkim: no ::1 here, IPv6 server not tested\n");
		return;
	}
	ck_assert_int_ge(fd, 0);
	signed_by("tlsrpt", NULL, &out);
	t0 = now_s();
	ck_assert_int_eq(dkim_verify_mail(out.data, out.len, server, &v, err, sizeof(err)), 0);
	ck_assert_double_lt(now_s() - t0, 10.0);
	ck_assert_int_eq(v.result, DKIM_VERDICT_TEMPERROR);
	snprintf(want, sizeof(want), "temperror d=reporter.example s=tlsrpt: key query: "
	    "tlsrpt._domainkey.reporter.example: no answer from %s: Connection timed out", server);
	ck_assert_str_eq(v.text, want);
	ck_assert_int_eq(v.key_service_tlsrpt, 0);
	close(fd);
	buf_free(&out);
}
END_TEST

START_TEST(test_verify_bad_server)
{
	static const char *const bad[] = { "dns.example", "127.0.0.1:x", "::1]:53", "[::1" };
	struct dkim_verdict v;
	char err[256];
	struct buf out;

	signed_by("tlsrpt", NULL, &out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(dkim_verify_mail(out.data, out.len, bad[i], &v, err, sizeof(err)),
		    -1);
		ck_assert_msg(strncmp(err, "bad DNS server", 14) == 0, "%s", err);
		ck_assert_int_eq(v.result, DKIM_VERDICT_TEMPERROR);
		ck_assert_int_eq(strncmp(v.text, "temperror: bad DNS server", 25), 0);
	}
	/* No signature: no query, whatever the server. */
	ck_assert_int_eq(dkim_verify_mail("From: a@b\r\n\r\n", 13, "", &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v.result, DKIM_VERDICT_NONE);
	ck_assert_int_eq(dkim_verify_mail("From: a@b\r\n\r\n", 13, NULL, &v, err, sizeof(err)),
	    0);
	buf_free(&out);
}
END_TEST

/* --- fixture ------------------------------------------------------ */

/* The p= of keys.txt, for fake_fetch(). */
static int
read_pubkey(void)
{
	char line[2048], *p;
	FILE *fp = fopen(path("keys.txt"), "r");

	if (fp == NULL)
		return -1;
	p = fgets(line, sizeof(line), fp) ? strstr(line, "p=") : NULL;
	fclose(fp);
	if (p == NULL)
		return -1;
	snprintf(pubkey, sizeof(pubkey), "%.*s", (int)strcspn(p + 2, "\n"), p + 2);
	return 0;
}

/* keys.txt for DKIM_QUERY_FILE: "tlsrpt._domainkey.reporter.example v=DKIM1; ..." */
static int
make_keys(void)
{
	char cmd[2048];
	static char huge[DKIM_KEY_MAX_BYTES + 1];

	snprintf(cmd, sizeof(cmd),
	    "cd '%s' && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out rsa.pem 2>/dev/null && "
	    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem "
	    "2>/dev/null && : >empty.pem && echo 'not a key' >garbage.pem && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 -out small.pem "
	    "2>/dev/null && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 "
	    "-aes256 -pass pass:secret -out encrypted.pem 2>/dev/null && "
	    "printf 'tlsrpt._domainkey.reporter.example v=DKIM1; k=rsa; p=%%s\\n' "
	    "\"$(openssl pkey -in rsa.pem -pubout -outform DER | base64 -w0)\" >keys.txt",
	    dir);
	FILE *fp;

	if (system(cmd) != 0 || read_pubkey() != 0 ||
	    (fp = fopen(path("huge.pem"), "wb")) == NULL)
		return -1;
	memset(huge, 'A', sizeof(huge));
	if (fwrite(huge, 1, sizeof(huge), fp) != sizeof(huge))
		return fclose(fp), -1;
	return fclose(fp);
}

static Suite *
dkim_suite(void)
{
	Suite *s = suite_create("dkim");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_new_rejects, 0, (int)(sizeof(bad_new) / sizeof(bad_new[0])));
	tcase_add_test(tc, test_signature_tags);
	tcase_add_test(tc, test_verifies);
	tcase_add_loop_test(tc, test_tamper, 0, (int)(sizeof(tamper) / sizeof(tamper[0])));
	tcase_add_test(tc, test_key_read_once);
	tcase_add_loop_test(tc, test_refuses_missing_header, 0,
	    (int)(sizeof(required) / sizeof(required[0])));
	tcase_add_test(tc, test_refuses_bad_messages);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_verify_key_records, 0,
	    (int)(sizeof(by_key) / sizeof(by_key[0])));
	tcase_add_loop_test(tc, test_verify_tamper, 0, (int)(sizeof(tamper) / sizeof(tamper[0])));
	tcase_add_test(tc, test_verify_none);
	tcase_add_test(tc, test_verify_malformed_signature);
	tcase_add_test(tc, test_verify_line_endings);
	tcase_add_loop_test(tc, test_verify_first_signature, 0, 2);
	tcase_add_test(tc, test_verify_caps);
	tcase_add_test(tc, test_verify_threads);
	tcase_add_loop_test(tc, test_verify_dns_silent, 0, 2);
	tcase_add_test(tc, test_verify_bad_server);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[512];
	SRunner *sr;
	int failed;

	snprintf(dir, sizeof(dir), "%s/check_dkim.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL || make_keys() != 0) {
		fprintf(stderr, "check_dkim: cannot make test keys (is openssl installed?)\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(dkim_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "check_dkim: cannot remove %s\n", dir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
