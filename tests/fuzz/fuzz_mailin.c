/*
 * NAME
 *	fuzz_mailin - libFuzzer target for the mail ingest path (lib/mailin)
 * SYNOPSIS
 *	fuzz_mailin [libFuzzer options] [corpus directory or input file ...]
 * DESCRIPTION
 *	Each input is one mail message as the MTA pipes it to tlsrpt-ingest,
 *	or, when it starts with a NUL byte, the raw bytes of an attachment
 *	that the target wraps (base64) into a multipart/report message, so
 *	that the fuzzer mutates gzip and zip structures directly instead of
 *	their base64 text. Either way the message goes the way tlsrpt-ingest
 *	sends it, without the database:
 *	mailin_parse() (GMime, part selection, transfer decoding, gzip and
 *	zip inflation under a cap), then rp_parse() of the report found,
 *	with the depth limit tlsrpt-ingest uses by default.
 *
 *	Checked against mailin.h: on success the JSON starts with '{', is
 *	NUL-terminated, within the cap, and `how` says where it came from;
 *	on failure err starts with one of the documented reasons. Header
 *	fields are NULL or non-empty, trimmed, without control bytes and at
 *	most MAILIN_FIELD_MAX_BYTES long. mailin_free() is called twice.
 * DIAGNOSTICS
 *	A broken promise prints what and calls abort().
 * LIMITS
 *	The inflate cap is FUZZ_MAX_JSON (tlsrpt-ingest defaults to 50 MiB:
 *	the code paths are the same, and a small cap lets the fuzzer reach
 *	them without spending its memory).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailin.h"
#include "rparse.h"

#define FUZZ_MAX_JSON		(256 * 1024)
#define FUZZ_JSON_DEPTH		64	/* ingest_max_json_depth default */
#define FUZZ_ATTACHMENT_MODE	'\0'	/* first byte: the rest is an attachment */

static const char wrap_head[] =
    "From: reporter@reporter.example\r\n"
    "Subject: Report Domain: example.com Report-ID: <fuzz@reporter.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=tlsrpt; boundary=\"fuzzb\"\r\n\r\n"
    "--fuzzb\r\nContent-Type: text/plain\r\n\r\nA report.\r\n"
    "--fuzzb\r\nContent-Type: application/tlsrpt+gzip; name=\"r.json.gz\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n";
static const char wrap_tail[] = "\r\n--fuzzb--\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* mailin.h, DIAGNOSTICS: what err starts with. */
static const char *const reasons[] = {
	"not a MIME message", "no attachment looks like a report",
	"attachment is not gzip/zip/JSON", "corrupt gzip data", "corrupt zip data",
	"unsupported zip entry", "zip has no file entry",
	"inflated attachment is not JSON", "inflated report larger than ",
	"report larger than ", "cannot inflate",
};

static void
broken(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_mailin: %s (%s)\n", what, detail ? detail : "");
	abort();
}

static int
space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void
field_broken(const char *what, const char *name, const char *v)
{
	fprintf(stderr, "fuzz_mailin: %s: %s: \"", name, what);
	for (size_t i = 0; v[i] != '\0' && i < 200; i++)
		fprintf(stderr, (unsigned char)v[i] >= 0x20 && (unsigned char)v[i] < 0x7f ?
		    "%c" : "\\x%02x", (unsigned char)v[i]);
	fprintf(stderr, "\"\n");
	abort();
}

static void
check_field(const char *name, const char *v)
{
	size_t n;

	if (v == NULL)
		return;
	n = strlen(v);
	if (n == 0 || n > MAILIN_FIELD_MAX_BYTES || space(v[0]) || space(v[n - 1]))
		field_broken("empty, too long or not trimmed", name, v);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			field_broken("control byte", name, v);
}

static int
known_reason(const char *err)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strncmp(err, reasons[i], strlen(reasons[i])) == 0)
			return 1;
	return 0;
}

/* What tlsrpt-ingest does next: parse the report (acceptor_json). */
static void
parse_report(const struct mailin_result *r)
{
	struct rp_limits lim;
	struct rp_report rep;
	char err[256];

	memset(&lim, 0, sizeof(lim));
	lim.max_depth = FUZZ_JSON_DEPTH;
	if (rp_parse(r->json.data, r->json.len, &lim, &rep, err, sizeof(err)) == 0 &&
	    (rep.org == NULL || rep.report_id == NULL))
		broken("report without its key", NULL);
	rp_free(&rep);
}

/* The message around an attachment: headers, base64 in 76-column lines. */
static char *
wrap(const uint8_t *att, size_t n, size_t *len)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t cap = sizeof(wrap_head) + (n + 2) / 3 * 4 + (n / 57 + 1) * 2 +
	    sizeof(wrap_tail);
	char *m = malloc(cap), *o;

	if (m == NULL)
		abort();
	memcpy(m, wrap_head, sizeof(wrap_head) - 1);
	o = m + sizeof(wrap_head) - 1;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)att[i] << 16 |
		    (i + 1 < n ? (uint32_t)att[i + 1] << 8 : 0) |
		    (i + 2 < n ? att[i + 2] : 0);

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
		if ((i / 3 + 1) % 19 == 0) {
			*o++ = '\r';
			*o++ = '\n';
		}
	}
	memcpy(o, wrap_tail, sizeof(wrap_tail) - 1);
	o += sizeof(wrap_tail) - 1;
	*len = (size_t)(o - m);
	return m;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailin_result r;
	char err[256], *msg = NULL;
	size_t len = size;
	int rc;

	if (size > 0 && data[0] == FUZZ_ATTACHMENT_MODE)
		msg = wrap(data + 1, size - 1, &len);
	rc = mailin_parse(msg ? msg : (const char *)data, len, FUZZ_MAX_JSON, &r, err,
	    sizeof(err));
	free(msg);
	check_field("Subject", r.subject);
	check_field("From", r.from);
	check_field("Message-ID", r.message_id);
	check_field("TLS-Report-Domain", r.report_domain);
	check_field("TLS-Report-Submitter", r.submitter);
	check_field("Report-ID", r.subject_report_id);
	if (rc == 0) {
		if (err[0] != '\0' || r.how == NULL || r.json.data == NULL ||
		    r.json.len == 0 || r.json.data[0] != '{' ||
		    r.json.data[r.json.len] != '\0' || r.json.len > FUZZ_MAX_JSON)
			broken("report found but not as promised", r.how);
		parse_report(&r);
	} else if (rc != -1 || !known_reason(err) || r.how != NULL) {
		broken("refusal with an undocumented reason", err);
	}
	mailin_free(&r);
	mailin_free(&r);
	return 0;
}
