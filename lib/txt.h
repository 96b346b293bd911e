/*
 * NAME
 *	txt - the _smtp._tls TLSRPT record (RFC 8460 section 3)
 * SYNOPSIS
 *	const char *rec;
 *	struct txt_record r;
 *	char err[256];
 *
 *	switch (txt_select(records, n, &rec, err, sizeof(err))) {
 *	case 1:  ... no TLSRPT record at the name
 *	case -1: ... several: the domain has no TLSRPT either; log err
 *	}
 *	if (txt_parse(rec, &r, err, sizeof(err)) != 0)
 *		... invalid record, err says why
 *	for (size_t i = 0; i < r.nrua; i++)
 *		deliver(r.rua[i].scheme, r.rua[i].target);
 *	txt_record_free(&r);
 * DESCRIPTION
 *	txt_select() picks the TLSRPT record among all TXT records found at
 *	_smtp._tls.<domain>: a record counts when it starts with the exact
 *	bytes "v=TLSRPTv1" followed by optional spaces or tabs and a ';'.
 *	Everything else (SPF, "v=TLSRPTv10;", "v=TLSRPTv1" alone, leading
 *	spaces) is not a TLSRPT record. Exactly one must remain (RFC 8460:
 *	otherwise the domain does not implement TLSRPT).
 *
 *	txt_parse() checks the record against the RFC 8460 ABNF, with the
 *	rules of docs/PROTOCOL.md section 2: "v=TLSRPTv1" first and
 *	case-sensitive; fields separated by ';' with optional spaces/tabs
 *	around it; a trailing ';' allowed; an empty field (";;") is not;
 *	"rua=" case-sensitive with nothing around the '='; several rua
 *	fields merged; URIs separated by ',' with optional spaces/tabs;
 *	other fields must be extensions (name: a letter or digit then up
 *	to 31 of letters, digits, '_', '-', '.'; value: visible ASCII
 *	except '=' and ';') and are ignored. Spaces or tabs at the very end
 *	of the record are tolerated; at its start they are not.
 *
 *	Each URI is split off at raw commas first and must then be a URI
 *	(RFC 3986 characters only, every '%' followed by two hex digits, a
 *	scheme); a raw '!' is malformed (there is no DMARC-style size
 *	suffix). A URI that breaks these rules makes the whole record
 *	invalid. A well-formed URI is *skipped* (counted in skipped) when
 *	its scheme is neither mailto: nor https: (compared case-insensitively),
 *	when a mailto: target, percent-decoded and without ?hfields, does
 *	not look like local@domain (empty, no '@', spaces, control bytes,
 *	a bad domain), or when an https: URI has no host. A record without
 *	any usable URI is invalid. Identical targets are kept once.
 *
 *	For a mailto: URI target is the decoded address; for https: it is
 *	the URI with its scheme written in lower case, percent-encoding
 *	left as it is (it goes to the HTTP client unchanged).
 * DIAGNOSTICS
 *	txt_parse() returns 0 or -1; on -1 err holds one line naming the
 *	problem (bytes outside printable ASCII shown as \xHH) and *out is
 *	empty. On 0 err is empty, or notes why the first skipped URI was
 *	skipped. txt_select() returns 0 (one record, *chosen points into
 *	records), 1 (none; err "no TLSRPT record") or -1 (err "N TLSRPT
 *	records"); *chosen is NULL unless 0. err may be NULL when errlen
 *	is 0.
 * BUGS
 *	The mailto: local part is not checked against RFC 5322 beyond the
 *	rules above; the mail sender gets whatever the domain published.
 */
#ifndef TLSRPTD_TXT_H
#define TLSRPTD_TXT_H

#include <stddef.h>

#define TXT_MAX_RECORD_BYTES	4096	/* longer records are invalid */
#define TXT_MAX_RUA_URIS	32	/* across all rua= fields, skipped included */

enum txt_scheme {
	TXT_MAILTO,
	TXT_HTTPS,
};

struct txt_uri {
	enum txt_scheme scheme;
	char *uri;		/* as written, after splitting and trimming */
	char *target;		/* mailto: decoded addr-spec; https: the URI */
};

struct txt_record {
	struct txt_uri *rua;	/* usable destinations, in record order */
	size_t nrua;
	size_t skipped;		/* URIs with other schemes or unusable */
};

int txt_parse(const char *record, struct txt_record *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int txt_select(const char *const *records, size_t n, const char **chosen,
    char *err, size_t errlen) __attribute__((warn_unused_result));
void txt_record_free(struct txt_record *r);

#endif
