/*
 * NAME
 *	txt - the _smtp._tls TLSRPT record (RFC 8460 section 3)
 * DESCRIPTION
 *	See txt.h. The parser walks the record once, field by field, and
 *	never copies more than one URI at a time; every error names the
 *	field or URI at fault, escaped so that it stays one printable line
 *	whatever bytes DNS delivered.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "txt.h"

#define TXT_VERSION	"v=TLSRPTv1"
#define SNIPPET_BYTES	48	/* bytes of input quoted in a message */
#define EXT_NAME_MAX	32	/* first character + up to 31 more */

struct parser {
	struct txt_record *out;
	size_t nuris;		/* every URI seen, for TXT_MAX_RUA_URIS */
	int have_rua;
	char *err;
	size_t errlen;
	char skip_note[192];	/* why the first skipped URI was skipped */
};

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

/*
 * Quotes at most SNIPPET_BYTES of p[0..n) into dst: the input is
 * whatever a DNS server sent, and the message must stay one line.
 */
static const char *
snippet(char *dst, size_t dstlen, const char *p, size_t n)
{
	size_t used = 0, i;

	for (i = 0; i < n && i < SNIPPET_BYTES && used + 8 < dstlen; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			dst[used++] = (char)c;
		else
			used += (size_t)snprintf(dst + used, dstlen - used,
			    "\\x%02x", c);
	}
	if (i < n && used + 4 <= dstlen) {
		memcpy(dst + used, "...", 3);
		used += 3;
	}
	dst[used] = '\0';
	return dst;
}

/* Does rec start "v=TLSRPTv1" *WSP ";"? (RFC 8460 section 3.) */
static int
is_tlsrpt(const char *rec)
{
	const char *p;

	if (strncmp(rec, TXT_VERSION, strlen(TXT_VERSION)) != 0)
		return 0;
	for (p = rec + strlen(TXT_VERSION); is_wsp(*p); p++)
		;
	return *p == ';';
}

int
txt_select(const char *const *records, size_t n, const char **chosen,
    char *err, size_t errlen)
{
	size_t found = 0;

	*chosen = NULL;
	set_err(err, errlen, "%s", "");
	for (size_t i = 0; i < n; i++) {
		if (records[i] == NULL || !is_tlsrpt(records[i]))
			continue;
		if (found++ == 0)
			*chosen = records[i];
	}
	if (found == 1)
		return 0;
	*chosen = NULL;
	if (found == 0) {
		set_err(err, errlen, "no TLSRPT record");
		return 1;
	}
	set_err(err, errlen, "%zu TLSRPT records", found);
	return -1;
}

void
txt_record_free(struct txt_record *r)
{
	for (size_t i = 0; i < r->nrua; i++) {
		free(r->rua[i].uri);
		free(r->rua[i].target);
	}
	free(r->rua);
	r->rua = NULL;
	r->nrua = 0;
	r->skipped = 0;
}

/*
 * Length of the scheme of p[0..n) (RFC 3986: ALPHA *(ALPHA / DIGIT /
 * "+" / "-" / ".") followed by ':'), or 0 when there is none.
 */
static size_t
scheme_len(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || !((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
		return 0;
	for (i = 1; i < n && (is_alnum(p[i]) || p[i] == '+' || p[i] == '-' ||
	    p[i] == '.'); i++)
		;
	return i < n && p[i] == ':' ? i : 0;
}

/*
 * RFC 3986 characters (unreserved, gen-delims, sub-delims and
 * pct-encoded), minus '!' which RFC 8460 wants encoded. ',' and ';'
 * never get here: they split URIs and fields.
 */
static int
uri_char_ok(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("-._~:/?#[]@$&'()*+=", c) != NULL);
}

/* Grammar of one URI; on failure why says what is wrong with it. */
static int
uri_check(const char *p, size_t n, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '%') {
			if (i + 2 >= n || hex_value(p[i + 1]) < 0 ||
			    hex_value(p[i + 2]) < 0) {
				set_err(why, whylen, "'%%' not followed by two hex digits");
				return -1;
			}
			i += 2;
		} else if (c == '!') {
			set_err(why, whylen, "raw '!' (must be written %%21)");
			return -1;
		} else if (is_wsp(c)) {
			set_err(why, whylen, "space inside the URI");
			return -1;
		} else if (!uri_char_ok(c)) {
			set_err(why, whylen, "%s byte 0x%02x not allowed in a URI",
			    c >= 0x80 ? "non-ASCII" : "character", c);
			return -1;
		}
	}
	if (scheme_len(p, n) == 0) {
		set_err(why, whylen, "no URI scheme");
		return -1;
	}
	return 0;
}

/* RFC 5321 domain, or an address literal in brackets; labels non-empty. */
static int
domain_ok(const char *d, size_t n)
{
	size_t label = 0;

	if (n >= 3 && d[0] == '[')
		return d[n - 1] == ']' && memchr(d + 1, '[', n - 2) == NULL &&
		    memchr(d + 1, ']', n - 2) == NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (is_alnum(c) || c == '-' || c == '_' || c >= 0x80) {
			label++;
		} else {
			return 0;
		}
	}
	return label > 0;
}

/*
 * mailto: target: the to-part before any ?hfields (or #fragment),
 * percent-decoded, must look like local@domain. NULL with why set
 * when it does not.
 */
static char *
mailto_target(const char *uri, size_t n, char *why, size_t whylen)
{
	size_t start = strlen("mailto:"), len = 0, at = 0;
	char *t = xmalloc(n + 1);

	for (size_t i = start; i < n && uri[i] != '?' && uri[i] != '#'; i++) {
		if (uri[i] == '%') {
			t[len] = (char)(hex_value(uri[i + 1]) * 16 + hex_value(uri[i + 2]));
			i += 2;
		} else {
			t[len] = uri[i];
		}
		if ((unsigned char)t[len] <= 0x20 || t[len] == 0x7f) {
			set_err(why, whylen, "space or control byte in the address");
			goto bad;
		}
		if (t[len++] == '@')
			at = len;
	}
	t[len] = '\0';
	if (len == 0)
		set_err(why, whylen, "empty address");
	else if (at == 0)
		set_err(why, whylen, "address without '@'");
	else if (at == 1)
		set_err(why, whylen, "address with an empty local part");
	else if (!domain_ok(t + at, len - at))
		set_err(why, whylen, "address with a bad domain");
	else
		return t;
bad:
	free(t);
	return NULL;
}

/* Port digits between colon and end: empty, or 1..65535. */
static int
port_ok(const char *uri, size_t colon, size_t end)
{
	long port = 0;

	if (colon + 1 >= end)
		return 1;
	for (size_t i = colon + 1; i < end; i++) {
		if (uri[i] < '0' || uri[i] > '9' || port > 65535)
			return 0;
		port = port * 10 + (uri[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/*
 * https: target: the URI itself, scheme in lower case, once it has an
 * authority with a non-empty host and a good port if any.
 */
static char *
https_target(const char *uri, size_t n, char *why, size_t whylen)
{
	size_t start = strlen("https://"), end, host, colon;
	char *t;

	if (n < start || memcmp(uri + start - 2, "//", 2) != 0) {
		set_err(why, whylen, "no host");
		return NULL;
	}
	for (end = start; end < n && strchr("/?#", uri[end]) == NULL; end++)
		;
	for (host = end; host > start && uri[host - 1] != '@'; host--)
		;
	if (host < end && uri[host] == '[') {
		const char *rb = memchr(uri + host, ']', end - host);

		colon = rb == NULL ? host : (size_t)(rb - uri) + 1;
		if (rb == NULL || colon == host + 2 || (colon < end && uri[colon] != ':')) {
			set_err(why, whylen, "bad IP literal host");
			return NULL;
		}
	} else {
		for (colon = host; colon < end && uri[colon] != ':'; colon++)
			;
	}
	if (colon == host) {
		set_err(why, whylen, "no host");
		return NULL;
	}
	if (!port_ok(uri, colon, end)) {
		set_err(why, whylen, "bad port");
		return NULL;
	}
	t = xstrndup(uri, n);
	memcpy(t, "https", 5);
	return t;
}

static void
skip_uri(struct parser *ps, const char *uri, size_t n, const char *why)
{
	char q[SNIPPET_BYTES * 4 + 8];

	if (ps->out->skipped++ == 0)
		snprintf(ps->skip_note, sizeof(ps->skip_note), "'%s': %s",
		    snippet(q, sizeof(q), uri, n), why);
}

/* Keeps a usable destination once; an identical target is dropped. */
static void
keep_uri(struct txt_record *out, enum txt_scheme scheme, const char *uri,
    size_t n, char *target)
{
	for (size_t i = 0; i < out->nrua; i++)
		if (out->rua[i].scheme == scheme && strcmp(out->rua[i].target, target) == 0) {
			free(target);
			return;
		}
	out->rua = xreallocarray(out->rua, out->nrua + 1, sizeof(*out->rua));
	out->rua[out->nrua].scheme = scheme;
	out->rua[out->nrua].uri = xstrndup(uri, n);
	out->rua[out->nrua].target = target;
	out->nrua++;
}

/* One URI of a rua field, already split and trimmed. */
static int
add_uri(struct parser *ps, const char *uri, size_t n)
{
	char why[96], q[SNIPPET_BYTES * 4 + 8], *target;
	size_t slen;

	if (n == 0) {
		set_err(ps->err, ps->errlen, "empty URI in rua field");
		return -1;
	}
	if (++ps->nuris > TXT_MAX_RUA_URIS) {
		set_err(ps->err, ps->errlen, "more than %d rua URIs", TXT_MAX_RUA_URIS);
		return -1;
	}
	if (uri_check(uri, n, why, sizeof(why)) != 0) {
		set_err(ps->err, ps->errlen, "malformed rua URI '%s': %s",
		    snippet(q, sizeof(q), uri, n), why);
		return -1;
	}
	slen = scheme_len(uri, n);
	if (slen == 6 && strncasecmp(uri, "mailto", 6) == 0) {
		if ((target = mailto_target(uri, n, why, sizeof(why))) != NULL)
			keep_uri(ps->out, TXT_MAILTO, uri, n, target);
	} else if (slen == 5 && strncasecmp(uri, "https", 5) == 0) {
		if ((target = https_target(uri, n, why, sizeof(why))) != NULL)
			keep_uri(ps->out, TXT_HTTPS, uri, n, target);
	} else {
		target = NULL;
		snprintf(why, sizeof(why), "scheme %.*s not supported", (int)slen, uri);
	}
	if (target == NULL)
		skip_uri(ps, uri, n, why);
	return 0;
}

/* The value of a rua= field: URIs separated by *WSP "," *WSP. */
static int
parse_rua(struct parser *ps, const char *v, size_t n)
{
	size_t start = 0, end;

	ps->have_rua = 1;
	if (n == 0) {
		set_err(ps->err, ps->errlen, "empty rua field");
		return -1;
	}
	if (is_wsp(v[0])) {
		set_err(ps->err, ps->errlen, "space after 'rua='");
		return -1;
	}
	for (;;) {
		const char *comma = memchr(v + start, ',', n - start);
		size_t next = comma ? (size_t)(comma - v) : n;

		for (end = next; end > start && is_wsp(v[end - 1]); end--)
			;
		while (start < end && is_wsp(v[start]))
			start++;
		if (add_uri(ps, v + start, end - start) != 0)
			return -1;
		if (comma == NULL)
			return 0;
		start = next + 1;
	}
}

/* An extension field: checked for the grammar, then ignored. */
static int
check_extension(struct parser *ps, const char *f, size_t namelen, size_t n)
{
	char q[SNIPPET_BYTES * 4 + 8];
	int bad = !is_alnum(f[0]) || namelen > EXT_NAME_MAX;

	for (size_t i = 1; i < namelen && !bad; i++)
		bad = !is_alnum(f[i]) && f[i] != '_' && f[i] != '-' && f[i] != '.';
	if (bad) {
		set_err(ps->err, ps->errlen, "bad field name '%s'",
		    snippet(q, sizeof(q), f, namelen));
		return -1;
	}
	if (namelen + 1 == n) {
		set_err(ps->err, ps->errlen, "empty value in field '%s'",
		    snippet(q, sizeof(q), f, namelen));
		return -1;
	}
	for (size_t i = namelen + 1; i < n; i++)
		if ((unsigned char)f[i] <= 0x20 || (unsigned char)f[i] >= 0x7f ||
		    f[i] == '=') {
			set_err(ps->err, ps->errlen,
			    "bad character in the value of field '%s': '%s'",
			    snippet(q, sizeof(q), f, namelen),
			    f[i] == '=' ? "=" : "not visible ASCII");
			return -1;
		}
	return 0;
}

/* One field between delimiters, surrounding spaces already removed. */
static int
parse_field(struct parser *ps, const char *f, size_t n)
{
	char q[SNIPPET_BYTES * 4 + 8];
	const char *eq = memchr(f, '=', n);

	if (eq == NULL || eq == f) {
		set_err(ps->err, ps->errlen, "field '%s' is not name=value",
		    snippet(q, sizeof(q), f, n));
		return -1;
	}
	if (eq - f == 3 && memcmp(f, "rua", 3) == 0)
		return parse_rua(ps, eq + 1, n - 4);
	return check_extension(ps, f, (size_t)(eq - f), n);
}

/* Version, then *WSP ";" *WSP field ... [*WSP ";" *WSP], then end. */
static int
parse_fields(struct parser *ps, const char *rec, size_t len)
{
	const char *p = rec + strlen(TXT_VERSION), *end = rec + len;
	char q[SNIPPET_BYTES * 4 + 8];

	for (;;) {
		const char *f, *fend;

		while (p < end && is_wsp(*p))
			p++;
		if (p == end)
			return 0;
		if (*p != ';') {
			set_err(ps->err, ps->errlen, "expected ';' before '%s'",
			    snippet(q, sizeof(q), p, (size_t)(end - p)));
			return -1;
		}
		for (p++; p < end && is_wsp(*p); p++)
			;
		if (p == end)
			return 0;	/* trailing delimiter */
		if (*p == ';') {
			set_err(ps->err, ps->errlen, "empty field (';;')");
			return -1;
		}
		f = p;
		p = memchr(f, ';', (size_t)(end - f));
		if (p == NULL)
			p = end;
		for (fend = p; is_wsp(fend[-1]); fend--)
			;
		if (parse_field(ps, f, (size_t)(fend - f)) != 0)
			return -1;
	}
}

int
txt_parse(const char *record, struct txt_record *out, char *err, size_t errlen)
{
	struct parser ps;
	size_t len = strnlen(record, TXT_MAX_RECORD_BYTES + 1);
	size_t vlen = strlen(TXT_VERSION);

	memset(out, 0, sizeof(*out));
	memset(&ps, 0, sizeof(ps));
	ps.out = out;
	ps.err = err;
	ps.errlen = errlen;
	set_err(err, errlen, "%s", "");
	if (len > TXT_MAX_RECORD_BYTES) {
		set_err(err, errlen, "record longer than %d bytes", TXT_MAX_RECORD_BYTES);
		return -1;
	}
	if (len < vlen || memcmp(record, TXT_VERSION, vlen) != 0 ||
	    (len > vlen && record[vlen] != ';' && !is_wsp(record[vlen]))) {
		set_err(err, errlen, "record does not start with '%s'", TXT_VERSION);
		return -1;
	}
	if (parse_fields(&ps, record, len) != 0)
		goto bad;
	if (!ps.have_rua) {
		set_err(err, errlen, "no rua field");
		goto bad;
	}
	if (out->nrua == 0) {
		set_err(err, errlen, "no usable rua URI (%zu skipped; first %s)",
		    out->skipped, ps.skip_note);
		goto bad;
	}
	if (out->skipped > 0)
		set_err(err, errlen, "%zu rua URI%s skipped; first %s", out->skipped,
		    out->skipped == 1 ? "" : "s", ps.skip_note);
	return 0;
bad:
	txt_record_free(out);
	return -1;
}
