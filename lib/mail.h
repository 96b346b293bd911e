/*
 * NAME
 *	mail - compose the RFC 8460 report mail
 * SYNOPSIS
 *	struct mail_report r = {
 *		.from = "tlsrpt-noreply@reporter.example",
 *		.to = "tlsrpt@example.com",
 *		.report_domain = "example.com",
 *		.submitter = "reporter.example",
 *		.report_id = "2026-03-14T00:00:00Z_idx1_example.com@reporter.example",
 *		.org = "Reporter Example Ltd",
 *		.begin = 1773446400, .end = 1773532799,
 *		.gz = gz.data, .gzlen = gz.len,
 *		.date = time(NULL),
 *	};
 *	struct buf msg;
 *	char err[256];
 *	buf_init(&msg, 16 * 1024 * 1024);
 *	if (mail_build(&r, &msg, err, sizeof(err)) != 0) ... err says why
 *
 *	char name[MAIL_FILENAME_MAX];
 *	mail_filename(&r, name, sizeof(name));
 *	mail_base64(p, n, 76, &b);		appends CRLF-terminated lines
 *	mail_set_random(fn);			tests only; NULL: getrandom()
 * DESCRIPTION
 *	mail_build() writes one RFC 5322 message to out (replacing what was
 *	there): CRLF line endings, 7-bit ASCII only, header fields folded
 *	at blanks to at most 78 characters. A single word longer than that
 *	stays whole on its own line (every line is under 998 because every
 *	field is capped): a long domain, and the quoted attachment name,
 *	about 90 characters with typical domains. That name is not split
 *	into RFC 2231 continuations, because simple report parsers look for
 *	filename="..." (and Google sends it whole too). Header fields in
 *	this order: From, To, Date (UTC, "+0000"), Subject "Report Domain:
 *	<d> Submitter: <s> Report-ID: <<id>>", Message-ID
 *	"<YYYYMMDDhhmmss.32-hex-random@submitter>",
 *	MIME-Version, TLS-Report-Domain, TLS-Report-Submitter, TLS-Required:
 *	No (RFC 8689: deliver even if TLS fails, so a broken TLS setup still
 *	gets its report), Auto-Submitted: auto-generated, Content-Type:
 *	multipart/report; report-type="tlsrpt"; boundary="...". The first
 *	part is a text/plain summary, the second the gzipped report as
 *	application/tlsrpt+gzip, base64 in 76-character lines, as an
 *	attachment named by mail_filename(). The boundary is random and is
 *	checked against both parts. Nothing is signed here; see dkim.h.
 *
 *	Every field the message repeats is checked before anything is
 *	written, so a report domain or address taken from DNS cannot inject
 *	header fields: from and to must be local@domain (dot-atom local part
 *	of at most 64, LDH domain); report_domain and submitter LDH domains
 *	of at most 253 characters without a trailing dot; report_id printable
 *	ASCII without blanks or angle brackets, exactly one '@' with text on
 *	both sides, at most MAIL_REPORT_ID_MAX; org printable ASCII (blanks
 *	allowed) of at most MAIL_ORG_MAX, or NULL for the submitter;
 *	0 <= begin <= end; gz not empty.
 *
 *	mail_filename() gives the RECOMMENDED attachment name of RFC 8460
 *	section 5.3, "submitter!report_domain!begin!end!uid.json.gz", where
 *	uid is the letters and digits of report_id, at most
 *	MAIL_UNIQUE_ID_MAX of them; with none, the optional part is left
 *	out. mail_base64() appends the standard base64 of in, split into
 *	lines of line_chars (a multiple of 4, or 0 for one unbroken line
 *	without CRLF), each ending in CRLF.
 * DIAGNOSTICS
 *	mail_build() returns 0, or -1 with a message in err naming the bad
 *	field; it also fails when out->max is too small or getrandom()
 *	fails, and then out holds no message. mail_filename() returns -1
 *	when a field is bad (the same checks) or namelen is too small.
 *	mail_base64() returns -1 when out's cap is reached or line_chars is
 *	not a multiple of 4.
 */
#ifndef TLSRPTD_MAIL_H
#define TLSRPTD_MAIL_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"

#define MAIL_DOMAIN_MAX		253
#define MAIL_LOCAL_MAX		64
#define MAIL_REPORT_ID_MAX	255
#define MAIL_ORG_MAX		64
#define MAIL_UNIQUE_ID_MAX	32
/* submitter ! domain ! begin ! end ! uid .json.gz and NUL */
#define MAIL_FILENAME_MAX	(2 * MAIL_DOMAIN_MAX + 2 * 20 + MAIL_UNIQUE_ID_MAX + 4 + 8 + 1)
#define MAIL_LINE_MAX		78	/* RFC 5322 SHOULD, for header fields */
#define MAIL_B64_LINE		76	/* RFC 2045 limit for base64 lines */

struct mail_report {
	const char *from;		/* envelope and header From address */
	const char *to;			/* the mailto: target */
	const char *report_domain;	/* TLS-Report-Domain */
	const char *submitter;		/* TLS-Report-Submitter, domain of contact-info */
	const char *report_id;		/* id-left@id-right, Subject and filename */
	const char *org;		/* organization-name, or NULL */
	time_t begin, end;		/* report range, Unix seconds */
	const void *gz;			/* the gzipped report */
	size_t gzlen;
	time_t date;			/* Date header */
};

int mail_build(const struct mail_report *r, struct buf *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int mail_filename(const struct mail_report *r, char *name, size_t namelen)
    __attribute__((warn_unused_result));
int mail_base64(const void *in, size_t len, size_t line_chars, struct buf *out)
    __attribute__((warn_unused_result));
void mail_set_random(ssize_t (*fn)(void *buf, size_t len, unsigned int flags));

#endif
