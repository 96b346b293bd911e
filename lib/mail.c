/*
 * NAME
 *	mail - compose the RFC 8460 report mail
 * DESCRIPTION
 *	See mail.h. The message is built in three steps: check every field
 *	(nothing is written for a bad report), render the two body parts,
 *	then pick a boundary that occurs in neither and write headers and
 *	parts around it.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "mail.h"

#define BOUNDARY_PREFIX		"=_tlsrpt_"	/* "=_" never occurs in base64 */
#define BOUNDARY_RANDOM_BYTES	12
#define BOUNDARY_TRIES		8
#define MSGID_RANDOM_BYTES	16

static ssize_t (*mail_random)(void *, size_t, unsigned int) = getrandom;

void
mail_set_random(ssize_t (*fn)(void *buf, size_t len, unsigned int flags))
{
	mail_random = fn ? fn : getrandom;
}

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* --- field checks ------------------------------------------------- */

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* LDH labels of 1-63 characters, no leading or trailing hyphen. */
static int
valid_domain(const char *d)
{
	size_t len, label = 0;
	const char *p;

	if (d == NULL || (len = strlen(d)) == 0 || len > MAIL_DOMAIN_MAX)
		return 0;
	for (p = d; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!is_alnum((unsigned char)*p) && *p != '-')
			return 0;
		if ((label == 0 && *p == '-') || ++label > 63)
			return 0;
	}
	return label > 0 && p[-1] != '-';
}

/* RFC 5322 dot-atom: atext runs separated by single dots. */
static int
valid_local(const char *s, size_t len)
{
	static const char atext_extra[] = "!#$%&'*+-/=?^_`{|}~";
	size_t i;

	if (len == 0 || len > MAIL_LOCAL_MAX || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' && s[i + 1] == '.')
			return 0;
		if (c != '.' && !is_alnum(c) && (c == '\0' || !strchr(atext_extra, c)))
			return 0;
	}
	return 1;
}

static int
valid_addr(const char *a)
{
	const char *at;

	if (a == NULL || (at = strrchr(a, '@')) == NULL)
		return 0;
	return valid_local(a, (size_t)(at - a)) && valid_domain(at + 1);
}

static int
valid_report_id(const char *id)
{
	const char *p, *at = NULL;

	if (id == NULL || strlen(id) > MAIL_REPORT_ID_MAX)
		return 0;
	for (p = id; *p; p++) {
		if (*p <= ' ' || *p > '~' || *p == '<' || *p == '>')
			return 0;
		if (*p == '@') {
			if (at != NULL)
				return 0;
			at = p;
		}
	}
	return at != NULL && at != id && at[1] != '\0';
}

static int
valid_org(const char *org)
{
	const char *p;

	if (org == NULL)
		return 1;
	if (*org == '\0' || strlen(org) > MAIL_ORG_MAX)
		return 0;
	for (p = org; *p; p++)
		if (*p < ' ' || *p > '~')
			return 0;
	return 1;
}

static int
check_report(const struct mail_report *r, char *err, size_t errlen)
{
	if (!valid_addr(r->from))
		set_err(err, errlen, "bad from address (want local@domain, ASCII)");
	else if (!valid_addr(r->to))
		set_err(err, errlen, "bad to address (want local@domain, ASCII)");
	else if (!valid_domain(r->report_domain))
		set_err(err, errlen, "bad report domain");
	else if (!valid_domain(r->submitter))
		set_err(err, errlen, "bad submitter domain");
	else if (!valid_report_id(r->report_id))
		set_err(err, errlen, "bad report id (want id-left@id-right, printable ASCII)");
	else if (!valid_org(r->org))
		set_err(err, errlen, "bad organization name (printable ASCII, at most %d)",
		    MAIL_ORG_MAX);
	else if (r->begin < 0 || r->end < r->begin)
		set_err(err, errlen, "bad report range %lld..%lld",
		    (long long)r->begin, (long long)r->end);
	else if (r->gz == NULL || r->gzlen == 0)
		set_err(err, errlen, "no report data");
	else
		return 0;
	return -1;
}

/* --- pieces ------------------------------------------------------- */

int
mail_filename(const struct mail_report *r, char *name, size_t namelen)
{
	char uid[MAIL_UNIQUE_ID_MAX + 1];
	size_t n = 0;
	const char *p;
	int len;

	if (check_report(r, NULL, 0) != 0)
		return -1;
	/* The id-left: the part after '@' is our domain, already in the name. */
	for (p = r->report_id; *p && *p != '@' && n < MAIL_UNIQUE_ID_MAX; p++)
		if (is_alnum((unsigned char)*p))
			uid[n++] = *p;
	uid[n] = '\0';
	len = snprintf(name, namelen, "%s!%s!%lld!%lld%s%s.json.gz", r->submitter,
	    r->report_domain, (long long)r->begin, (long long)r->end, n ? "!" : "", uid);
	return len < 0 || (size_t)len >= namelen ? -1 : 0;
}

int
mail_base64(const void *in, size_t len, size_t line_chars, struct buf *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t i, col = 0;
	char quad[4];

	if (line_chars % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		quad[0] = alphabet[v >> 18];
		quad[1] = alphabet[(v >> 12) & 63];
		quad[2] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		quad[3] = i + 2 < len ? alphabet[v & 63] : '=';
		if (buf_append(out, quad, 4) != 0)
			return -1;
		col += 4;
		if (line_chars && (col == line_chars || i + 3 >= len)) {
			if (buf_append(out, "\r\n", 2) != 0)
				return -1;
			col = 0;
		}
	}
	return 0;
}

static int
random_hex(char *hex, size_t nbytes)
{
	unsigned char raw[32];
	size_t i;

	if (nbytes > sizeof(raw) || mail_random(raw, nbytes, 0) != (ssize_t)nbytes)
		return -1;
	for (i = 0; i < nbytes; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* Locale-independent: RFC 5322 names are English whatever LC_TIME says. */
static int
format_date(time_t t, char *out, size_t outlen)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int n;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return -1;
	n = snprintf(out, outlen, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
format_iso(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	int n;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return -1;
	n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/*
 * "Name: value" folded before a blank whenever the next word would pass
 * MAIL_LINE_MAX; the blank stays, so unfolding gives the value back.
 */
static int
put_field(struct buf *out, const char *name, const char *value)
{
	size_t col, wlen;
	const char *w, *end;
	int rc;

	rc = buf_printf(out, "%s:", name);
	col = strlen(name) + 1;
	for (w = value; rc == 0; w = end + 1) {
		end = strchr(w, ' ');
		if (end == NULL)
			end = w + strlen(w);
		wlen = (size_t)(end - w);
		if (col + 1 + wlen > MAIL_LINE_MAX && col > strlen(name) + 1 && wlen > 0) {
			rc = buf_append(out, "\r\n", 2);
			col = 0;
		}
		if (rc == 0)
			rc = buf_putc(out, ' ');
		if (rc == 0)
			rc = buf_append(out, w, wlen);
		col += 1 + wlen;
		if (*end == '\0')
			break;
	}
	return rc == 0 ? buf_append(out, "\r\n", 2) : -1;
}

/* --- the message -------------------------------------------------- */

static int
render_text(const struct mail_report *r, const char *filename, struct buf *text)
{
	char begin[32], end[32];

	if (format_iso(r->begin, begin, sizeof(begin)) != 0 ||
	    format_iso(r->end, end, sizeof(end)) != 0)
		return -1;
	return buf_printf(text,
	    "This is an aggregate report on TLS connections to your mail servers\r\n"
	    "(SMTP TLS Reporting, RFC 8460).\r\n"
	    "\r\n"
	    "Organization:  %s\r\n"
	    "Submitter:     %s\r\n"
	    "Report domain: %s\r\n"
	    "Period (UTC):  %s to %s\r\n"
	    "Report-ID:     <%s>\r\n"
	    "\r\n"
	    "The attachment is the report in the JSON format of RFC 8460,\r\n"
	    "gzip-compressed (application/tlsrpt+gzip):\r\n"
	    "%s\r\n"
	    "\r\n"
	    "It was sent because the _smtp._tls TXT record of the report domain\r\n"
	    "asks for reports at this address. This message was generated\r\n"
	    "automatically; replies are not read.\r\n",
	    r->org ? r->org : r->submitter, r->submitter, r->report_domain, begin, end,
	    r->report_id, filename);
}

/* A boundary that occurs in neither part. */
static int
pick_boundary(const struct buf *text, const struct buf *b64, char *boundary,
    size_t boundlen)
{
	size_t prefix = strlen(BOUNDARY_PREFIX);
	char hex[2 * BOUNDARY_RANDOM_BYTES + 1];
	int i;

	if (boundlen < prefix + sizeof(hex))
		return -1;
	for (i = 0; i < BOUNDARY_TRIES; i++) {
		if (random_hex(hex, BOUNDARY_RANDOM_BYTES) != 0)
			return -1;
		snprintf(boundary, boundlen, "%s%s", BOUNDARY_PREFIX, hex);
		if (memmem(text->data, text->len, boundary, strlen(boundary)) == NULL &&
		    memmem(b64->data, b64->len, boundary, strlen(boundary)) == NULL)
			return 0;
	}
	return -1;
}

static int
put_headers(const struct mail_report *r, const char *msgid_hex, const char *boundary,
    struct buf *out)
{
	char date[64], stamp[32];
	struct buf v;
	int rc = -1;

	if (format_date(r->date, date, sizeof(date)) != 0 ||
	    format_iso(r->date, stamp, sizeof(stamp)) != 0)
		return -1;
	buf_init(&v, 1024);
	if (put_field(out, "From", r->from) != 0 || put_field(out, "To", r->to) != 0 ||
	    put_field(out, "Date", date) != 0)
		goto out;
	if (buf_printf(&v, "Report Domain: %s Submitter: %s Report-ID: <%s>",
	    r->report_domain, r->submitter, r->report_id) != 0 ||
	    put_field(out, "Subject", v.data) != 0)
		goto out;
	buf_reset(&v);
	/* The stamp's digits ("20260314T000000Z" -> 20260314000000) sort by time. */
	if (buf_printf(&v, "<%.4s%.2s%.2s%.2s%.2s%.2s.%s@%s>", stamp, stamp + 5, stamp + 8,
	    stamp + 11, stamp + 14, stamp + 17, msgid_hex, r->submitter) != 0 ||
	    put_field(out, "Message-ID", v.data) != 0 ||
	    put_field(out, "MIME-Version", "1.0") != 0 ||
	    put_field(out, "TLS-Report-Domain", r->report_domain) != 0 ||
	    put_field(out, "TLS-Report-Submitter", r->submitter) != 0 ||
	    put_field(out, "TLS-Required", "No") != 0 ||
	    put_field(out, "Auto-Submitted", "auto-generated") != 0)
		goto out;
	buf_reset(&v);
	if (buf_printf(&v, "multipart/report; report-type=\"tlsrpt\"; boundary=\"%s\"",
	    boundary) != 0 || put_field(out, "Content-Type", v.data) != 0)
		goto out;
	rc = buf_append(out, "\r\n", 2);
out:
	buf_free(&v);
	return rc;
}

static int
put_body(const char *boundary, const char *filename, const struct buf *text,
    const struct buf *b64, struct buf *out)
{
	char value[MAIL_FILENAME_MAX + 64];

	if (buf_printf(out, "This is a TLS report (RFC 8460) in MIME format.\r\n"
	    "\r\n--%s\r\n", boundary) != 0 ||
	    put_field(out, "Content-Type", "text/plain; charset=us-ascii") != 0 ||
	    put_field(out, "Content-Transfer-Encoding", "7bit") != 0 ||
	    buf_append(out, "\r\n", 2) != 0 || buf_append(out, text->data, text->len) != 0 ||
	    buf_printf(out, "\r\n--%s\r\n", boundary) != 0)
		return -1;
	snprintf(value, sizeof(value), "application/tlsrpt+gzip; name=\"%s\"", filename);
	if (put_field(out, "Content-Type", value) != 0 ||
	    put_field(out, "Content-Transfer-Encoding", "base64") != 0)
		return -1;
	snprintf(value, sizeof(value), "attachment; filename=\"%s\"", filename);
	if (put_field(out, "Content-Disposition", value) != 0 ||
	    buf_append(out, "\r\n", 2) != 0 || buf_append(out, b64->data, b64->len) != 0 ||
	    buf_printf(out, "\r\n--%s--\r\n", boundary) != 0)
		return -1;
	return 0;
}

int
mail_build(const struct mail_report *r, struct buf *out, char *err, size_t errlen)
{
	char filename[MAIL_FILENAME_MAX], boundary[64], msgid_hex[2 * MSGID_RANDOM_BYTES + 1];
	struct buf text, b64;
	int rc = -1;

	buf_reset(out);
	if (check_report(r, err, errlen) != 0)
		return -1;
	if (mail_filename(r, filename, sizeof(filename)) != 0) {
		set_err(err, errlen, "attachment name too long");
		return -1;
	}
	buf_init(&text, 16 * 1024);
	buf_init(&b64, out->max);
	if (render_text(r, filename, &text) != 0 ||
	    mail_base64(r->gz, r->gzlen, MAIL_B64_LINE, &b64) != 0) {
		set_err(err, errlen, "message would exceed %zu bytes", out->max);
		goto out;
	}
	if (random_hex(msgid_hex, MSGID_RANDOM_BYTES) != 0 ||
	    pick_boundary(&text, &b64, boundary, sizeof(boundary)) != 0) {
		set_err(err, errlen, "no random Message-ID or MIME boundary (getrandom failed"
		    " or every boundary tried occurs in the body)");
		goto out;
	}
	if (put_headers(r, msgid_hex, boundary, out) != 0 ||
	    put_body(boundary, filename, &text, &b64, out) != 0) {
		set_err(err, errlen, "message would exceed %zu bytes", out->max);
		buf_reset(out);
		goto out;
	}
	rc = 0;
out:
	buf_free(&text);
	buf_free(&b64);
	return rc;
}
