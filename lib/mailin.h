/*
 * NAME
 *	mailin - find the TLSRPT report in one inbound mail message
 * SYNOPSIS
 *	struct mailin_result r;
 *	char err[256];
 *
 *	if (mailin_parse(msg, msg_len, 16 * 1024 * 1024, &r, err, sizeof(err)) == 0)
 *		ingest(r.json.data, r.json.len, r.submitter, r.how);
 *	else
 *		log_warnx("mail <%s> from %s: %s", r.message_id ? r.message_id : "?",
 *		    r.from ? r.from : "?", err);
 *	mailin_free(&r);
 * DESCRIPTION
 *	RFC 8460 section 5.3 wants the report as the second part of a
 *	multipart/report, application/tlsrpt+gzip or +json, base64. Real
 *	reporters differ (docs/PROTOCOL.md section 6): LF or CRLF line
 *	endings, no close-delimiter (Mail.ru), text/html first (Microsoft),
 *	no name= parameter, other content types, reports inline as text.
 *	So the content decides, not the labels.
 *
 *	mailin_parse() reads msg[0..len) with GMime, which copes with the
 *	line endings, folding and missing delimiters. It looks at the MIME
 *	entities in document order, at most MAILIN_MAX_PARTS of them (the
 *	top level, each multipart and each leaf count) and at most
 *	MAILIN_MAX_DEPTH levels deep; it descends into multiparts and into
 *	attached message/rfc822 mails. Leaf parts are tried in three rounds,
 *	document order within each:
 *	 1. parts whose type is application/tlsrpt+gzip, tlsrpt+json,
 *	    tlsrpt+zip, gzip, x-gzip, json, zip, x-zip-compressed or
 *	    octet-stream, or whose file name (Content-Disposition filename=
 *	    or Content-Type name=) ends in .json, .gz or .zip;
 *	 2. any other type except text/plain and text/html;
 *	 3. text/plain and text/html (a report sent inline as text).
 *	For each, the transfer encoding is undone (base64, quoted-printable,
 *	7bit/8bit/binary, x-uuencode) and the bytes are sniffed whatever the
 *	labels say: 1f 8b is gzip (gz_decompress()); "PK\3\4" is a zip,
 *	from which the first entry named *.json is taken (or, if none, the
 *	first entry that is not a directory); otherwise text that starts,
 *	after an optional UTF-8 BOM and white space, with '{' is the JSON
 *	itself. The first part whose (inflated) bytes start that way wins.
 *	This is a sniff, not a JSON parse: the caller parses the JSON.
 *
 *	Zip support is a reader of the central directory plus stored and
 *	deflated entries, checked against their CRC-32; encrypted and
 *	zip64 entries are refused, and at most MAILIN_ZIP_MAX_ENTRIES
 *	central directory entries are looked at.
 *
 *	On success out->json holds the report (NUL-terminated, starting with
 *	'{': a BOM or white space before it is dropped), never more than
 *	max_json_bytes (out->json.max) after inflating; out->how says where
 *	it was found, e.g. `part 2 application/tlsrpt+gzip "a!b!1!2.json.gz"
 *	base64, gzip` or `part 1 text/plain quoted-printable, json`. Part
 *	numbers are dotted paths like IMAP's ("2", "2.1").
 *
 *	Whatever the result, the header fields are filled in when the
 *	message could be parsed, unfolded and RFC 2047-decoded, trimmed,
 *	with control characters turned into spaces; each is NULL when the
 *	header is absent, empty, or longer than MAILIN_FIELD_MAX_BYTES:
 *	subject; from (the addr-spec of the first mailbox, without display
 *	name or <>); message_id (without <>); report_domain and submitter
 *	(TLS-Report-Domain, TLS-Report-Submitter); subject_report_id (what
 *	follows "Report-ID:" in the Subject, matched case-insensitively:
 *	the text inside <...>, or up to the next white space when there are
 *	no brackets, as Microsoft writes it). If these disagree with the
 *	JSON, the JSON wins (RFC 8460); that check is the caller's.
 *
 *	mailin_free() releases what mailin_parse() put into r and leaves it
 *	empty; call it after every mailin_parse(), whatever it returned.
 *	Calling it twice is harmless.
 *
 *	GMime is initialised on first use, once per process (pthread_once);
 *	a program that uses GMime itself may call g_mime_init() first (it
 *	counts its callers). g_mime_shutdown() is never called. mailin
 *	keeps no state between calls; threads may parse at the same time.
 *
 *	The message size is the caller's cap: every copy and decoded body
 *	made here is at most len bytes, plus at most max_json_bytes of
 *	inflated report at a time.
 * DIAGNOSTICS
 *	mailin_parse() returns 0 when a report was found (err is empty) or
 *	-1 when not, with one line in err starting with one of:
 *	"not a MIME message", "no attachment looks like a report",
 *	"attachment is not gzip/zip/JSON", "corrupt gzip data", "corrupt zip
 *	data", "unsupported zip entry", "zip has no file entry", "inflated
 *	attachment is not JSON", "inflated report larger than N bytes",
 *	"report larger than N bytes" (a plain JSON part over the cap) or
 *	"cannot inflate". Except for the first two, the part follows in
 *	parentheses. When several parts fail, err describes the worst:
 *	the size cap first, then broken gzip/zip data, then a report-typed
 *	part that is none of gzip, zip or JSON. When the message has more
 *	entities than were looked at, err ends in "; looked at only the
 *	first 64 MIME parts" (or "... within 8 levels").
 */
#ifndef TLSRPTD_MAILIN_H
#define TLSRPTD_MAILIN_H

#include <stddef.h>

#include "buf.h"

#define MAILIN_MAX_PARTS	64	/* MIME entities looked at per message */
#define MAILIN_MAX_DEPTH	8	/* nesting levels below the top */
#define MAILIN_ZIP_MAX_ENTRIES	64	/* central directory entries looked at */
#define MAILIN_FIELD_MAX_BYTES	998	/* a longer header value is dropped */

struct mailin_result {
	struct buf json;		/* the report, max = max_json_bytes */
	char *how;			/* where and how the report was found */
	char *subject;
	char *from;			/* addr-spec of the first From mailbox */
	char *message_id;		/* without <> */
	char *report_domain;		/* TLS-Report-Domain */
	char *submitter;		/* TLS-Report-Submitter */
	char *subject_report_id;	/* Report-ID from the Subject, without <> */
};

int mailin_parse(const char *msg, size_t len, size_t max_json_bytes,
    struct mailin_result *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void mailin_free(struct mailin_result *r);

#endif
