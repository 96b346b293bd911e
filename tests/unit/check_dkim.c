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
 *	output cap) must fail with a clear message. The DNS path and a
 *	second verifier are in tests/integration/dkim.sh.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
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

/* --- fixture ------------------------------------------------------ */

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

	if (system(cmd) != 0 || (fp = fopen(path("huge.pem"), "wb")) == NULL)
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
