/*
 * NAME
 *	mailin - find the TLSRPT report in one inbound mail message
 * DESCRIPTION
 *	See mailin.h. GMime does the MIME parsing and the transfer
 *	decoding; this file chooses which parts to try, sniffs their bytes,
 *	inflates gzip (gz.c) and zip entries (a small central directory
 *	reader below) under the caller's cap, and copies the header fields
 *	the caller records.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>
#include <zlib.h>

#include "buf.h"
#include "gz.h"
#include "mailin.h"
#include "mem.h"

#define PATH_BYTES	32	/* "1.2.3": MAILIN_MAX_DEPTH levels of "NN." */
#define TYPE_BYTES	64	/* type/subtype as shown in `how` */
#define NAME_BYTES	104	/* file names as shown in `how` and err */
#define HOW_BYTES	512

#define ZIP_LOCAL_SIG	0x04034b50u
#define ZIP_CENTRAL_SIG	0x02014b50u
#define ZIP_END_SIG	0x06054b50u
#define ZIP_END_BYTES	22	/* end of central directory, no comment */
#define ZIP_CENTRAL_BYTES 46	/* central directory header, fixed part */
#define ZIP_LOCAL_BYTES	30	/* local file header, fixed part */

/* Rounds of mailin.h: report-like labels, anything else, then text. */
/*
 * Parts are tried in tiers: the RFC 8460 media types first, so that
 * another JSON attachment (delivery metadata, say) before the report
 * cannot take its place; then other report-like types and names.
 */
enum tier { TIER_TLSRPT, TIER_REPORT, TIER_OTHER, TIER_TEXT, TIER_COUNT };

/* How bad a failed part's reason is; the worst one goes into err. */
enum rank { RANK_NONE, RANK_NOT_REPORT, RANK_BROKEN, RANK_TOO_BIG };

struct candidate {
	GMimePart *part;
	enum tier tier;
	char path[PATH_BYTES];
	char type[TYPE_BYTES];
	char name[NAME_BYTES];		/* quoted file name or "" */
};

struct search {
	struct candidate cand[MAILIN_MAX_PARTS];
	size_t ncand;
	unsigned entities;		/* MIME entities looked at */
	int over_parts, over_depth;	/* some entities were not */
	enum rank rank;
	char why[400];			/* worst reason so far */
};

static const char *const report_types[] = {
	"application/tlsrpt+gzip", "application/tlsrpt+json", "application/tlsrpt+zip",
	"application/gzip", "application/x-gzip", "application/json",
	"application/zip", "application/x-zip-compressed", "application/octet-stream",
	NULL
};
static const char *const report_suffixes[] = { ".json", ".gz", ".zip", NULL };

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(struct search *s, const struct candidate *c, enum rank rank,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

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

/* Keeps the first reason of the worst rank, naming the part. */
static void
note(struct search *s, const struct candidate *c, enum rank rank, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	if (rank <= s->rank)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(s->why, sizeof(s->why), "%s (part %s %s%s%s)", what, c->path,
	    c->type, c->name[0] ? " " : "", c->name);
	s->rank = rank;
}

/* --- text helpers -------------------------------------------------- */

static int
ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Copies untrusted text for display: printable ASCII only, bounded. */
static void
display_copy(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t i;

	for (i = 0; i < srclen && i + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	dst[i] = '\0';
	if (i < srclen && dstlen > 4)
		memcpy(dst + dstlen - 4, "...", 4);
}

/* White space or a control byte: what field_dup() trims or blanks. */
static int
blank(unsigned char c)
{
	return isspace(c) || c < 0x20 || c == 0x7f;
}

/*
 * A header value for the record: trimmed, one line, bounded; or NULL.
 * Control bytes at the ends are trimmed like spaces, so that turning
 * the inner ones into spaces cannot leave a value that ends in one.
 */
static char *
field_dup(const char *v)
{
	size_t start = 0, end;
	char *s;

	if (v == NULL)
		return NULL;
	end = strlen(v);
	while (start < end && blank((unsigned char)v[start]))
		start++;
	while (end > start && blank((unsigned char)v[end - 1]))
		end--;
	if (end == start || end - start > MAILIN_FIELD_MAX_BYTES)
		return NULL;
	s = xstrndup(v + start, end - start);
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

/*
 * "Report-ID: <id>" as RFC 8460 writes it, or "Report-ID: id" as
 * Microsoft does.
 */
static char *
subject_report_id(const char *subject)
{
	static const char key[] = "Report-ID:";
	const char *p, *end;

	if (subject == NULL || (p = strcasestr(subject, key)) == NULL)
		return NULL;
	p += sizeof(key) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '<') {
		if ((end = strchr(++p, '>')) == NULL)
			return NULL;
		/* Trimmed like the other fields: "< id\x01>" gives "id". */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
	} else {
		for (end = p; *end != '\0' && *end != ' ' && *end != '\t'; end++)
			continue;
	}
	return end > p ? xstrndup(p, (size_t)(end - p)) : NULL;
}

static char *
from_address(GMimeMessage *m)
{
	InternetAddressList *list = g_mime_message_get_from(m);
	int n = list ? internet_address_list_length(list) : 0;

	for (int i = 0; i < n; i++) {
		InternetAddress *a = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(a))
			return field_dup(internet_address_mailbox_get_addr(
			    INTERNET_ADDRESS_MAILBOX(a)));
	}
	return NULL;
}

static void
read_headers(GMimeMessage *m, struct mailin_result *out)
{
	GMimeObject *obj = GMIME_OBJECT(m);

	out->subject = field_dup(g_mime_message_get_subject(m));
	out->subject_report_id = subject_report_id(out->subject);
	out->from = from_address(m);
	out->message_id = field_dup(g_mime_message_get_message_id(m));
	out->report_domain = field_dup(g_mime_object_get_header(obj, "TLS-Report-Domain"));
	out->submitter = field_dup(g_mime_object_get_header(obj, "TLS-Report-Submitter"));
}

/* --- choosing parts ------------------------------------------------ */

static enum tier
tier_of(const char *type, const char *filename)
{
	if (strncmp(type, "application/tlsrpt+", 19) == 0)
		return TIER_TLSRPT;
	for (size_t i = 0; report_types[i] != NULL; i++)
		if (strcmp(type, report_types[i]) == 0)
			return TIER_REPORT;
	for (size_t i = 0; filename != NULL && report_suffixes[i] != NULL; i++)
		if (ends_with_ci(filename, report_suffixes[i]))
			return TIER_REPORT;
	if (strcmp(type, "text/plain") == 0 || strcmp(type, "text/html") == 0)
		return TIER_TEXT;
	return TIER_OTHER;
}

static void
add_candidate(struct search *s, GMimePart *part, const char *path)
{
	struct candidate *c = &s->cand[s->ncand++];
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	char *mime_type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	const char *filename = g_mime_part_get_filename(part);
	char shown[NAME_BYTES - 2];

	c->part = part;
	snprintf(c->path, sizeof(c->path), "%s", path);
	display_copy(c->type, sizeof(c->type), mime_type ? mime_type : "text/plain",
	    strlen(mime_type ? mime_type : "text/plain"));
	for (char *p = c->type; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	c->name[0] = '\0';
	if (filename != NULL && filename[0] != '\0') {
		display_copy(shown, sizeof(shown), filename, strlen(filename));
		snprintf(c->name, sizeof(c->name), "\"%s\"", shown);
	}
	c->tier = tier_of(c->type, filename);
	g_free(mime_type);
}

static void walk(struct search *s, GMimeObject *obj, const char *path, unsigned depth);

static void
walk_multipart(struct search *s, GMimeMultipart *mp, const char *path, unsigned depth)
{
	int n = g_mime_multipart_get_count(mp);
	char child[PATH_BYTES];

	for (int i = 0; i < n; i++) {
		snprintf(child, sizeof(child), "%s%s%d", path, path[0] ? "." : "", i + 1);
		walk(s, g_mime_multipart_get_part(mp, i), child, depth + 1);
	}
}

/* Collects the leaf parts in document order, IMAP-style paths. */
static void
walk(struct search *s, GMimeObject *obj, const char *path, unsigned depth)
{
	GMimeMessage *inner;
	GMimeObject *body;
	char child[PATH_BYTES];

	if (obj == NULL)
		return;
	if (depth > MAILIN_MAX_DEPTH) {
		s->over_depth = 1;
		return;
	}
	if (s->entities >= MAILIN_MAX_PARTS) {
		s->over_parts = 1;
		return;
	}
	s->entities++;
	if (GMIME_IS_MULTIPART(obj)) {
		walk_multipart(s, GMIME_MULTIPART(obj), path, depth);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
		body = inner ? g_mime_message_get_mime_part(inner) : NULL;
		snprintf(child, sizeof(child), "%s.1", path);
		walk(s, body, body && GMIME_IS_MULTIPART(body) ? path : child, depth + 1);
	} else if (GMIME_IS_PART(obj)) {
		add_candidate(s, GMIME_PART(obj), path);
	}
}

/* --- sniffing and inflating ---------------------------------------- */

/* Length of a UTF-8 BOM and white space at the start of p. */
static size_t
json_lead(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

static int
looks_like_json(const unsigned char *p, size_t n)
{
	size_t i = json_lead(p, n);

	return i < n && p[i] == '{';
}

static uint32_t
le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t
le32(const unsigned char *p)
{
	return le16(p) | le16(p + 2) << 16;
}

struct zip_entry {
	const unsigned char *name;
	size_t name_len;
	uint32_t flags, method, crc, csize, usize, local_off;
};

/* The end record: last in the file, before a comment of < 64 KiB. */
static const unsigned char *
zip_find_end(const unsigned char *p, size_t n)
{
	size_t i, stop;

	if (n < ZIP_END_BYTES)
		return NULL;
	stop = n - ZIP_END_BYTES > 0xffff ? n - ZIP_END_BYTES - 0xffff : 0;
	for (i = n - ZIP_END_BYTES;; i--) {
		if (le32(p + i) == ZIP_END_SIG)
			return p + i;
		if (i == stop)
			return NULL;
	}
}

/* First *.json entry, else the first that is not a directory. */
static int
zip_pick(const unsigned char *p, size_t n, struct zip_entry *pick)
{
	const unsigned char *end = zip_find_end(p, n);
	size_t off, dir_end, count, rec;
	int found = 0;

	if (end == NULL)
		return -1;
	count = le16(end + 10);
	off = le32(end + 16);
	if (off > (size_t)(end - p) || le32(end + 12) > (size_t)(end - p) - off)
		return -1;
	dir_end = off + le32(end + 12);
	for (size_t i = 0; i < count && i < MAILIN_ZIP_MAX_ENTRIES; i++, off += rec) {
		struct zip_entry e;

		if (off + ZIP_CENTRAL_BYTES > dir_end || le32(p + off) != ZIP_CENTRAL_SIG)
			return -1;
		e.name = p + off + ZIP_CENTRAL_BYTES;
		e.name_len = le16(p + off + 28);
		rec = ZIP_CENTRAL_BYTES + e.name_len + le16(p + off + 30) + le16(p + off + 32);
		if (off + rec > dir_end)
			return -1;
		e.flags = le16(p + off + 8);
		e.method = le16(p + off + 10);
		e.crc = le32(p + off + 16);
		e.csize = le32(p + off + 20);
		e.usize = le32(p + off + 24);
		e.local_off = le32(p + off + 42);
		if (e.name_len >= 5 && strncasecmp((const char *)e.name + e.name_len - 5,
		    ".json", 5) == 0) {
			*pick = e;
			return 0;
		}
		if (!found && e.name_len > 0 && e.name[e.name_len - 1] != '/') {
			*pick = e;
			found = 1;
		}
	}
	return found ? 0 : 1;
}

/* Inflates one entry; its data starts after the local header. */
static enum gz_result
zip_entry_data(const unsigned char *p, size_t n, const struct zip_entry *e, struct buf *out)
{
	size_t off = e->local_off, data;
	enum gz_result res;

	if (off + ZIP_LOCAL_BYTES > n || le32(p + off) != ZIP_LOCAL_SIG)
		return GZ_CORRUPT;
	data = off + ZIP_LOCAL_BYTES + le16(p + off + 26) + le16(p + off + 28);
	if (data > n || e->csize > n - data)
		return GZ_CORRUPT;
	buf_reset(out);
	if (e->method == 0)
		res = e->csize != e->usize ? GZ_CORRUPT :
		    buf_append(out, p + data, e->csize) != 0 ? GZ_TOO_BIG : GZ_OK;
	else
		res = gz_inflate_raw(p + data, e->csize, out);
	if (res == GZ_OK && (out->len != e->usize ||
	    crc32(0L, (const Bytef *)out->data, (uInt)out->len) != e->crc))
		res = GZ_CORRUPT;
	return res;
}

static enum gz_result
zip_extract(const unsigned char *p, size_t n, struct buf *out, char *label,
    size_t labellen, const char **why)
{
	struct zip_entry e;
	char shown[NAME_BYTES - 2];
	int rc;

	memset(&e, 0, sizeof(e));
	rc = zip_pick(p, n, &e);
	*why = rc < 0 ? "corrupt zip data" : "zip has no file entry";
	if (rc != 0)
		return GZ_CORRUPT;
	display_copy(shown, sizeof(shown), (const char *)e.name, e.name_len);
	snprintf(label, labellen, "zip entry \"%s\" %s", shown,
	    e.method == 0 ? "stored" : "deflate");
	*why = "unsupported zip entry";
	if ((e.flags & 1) || (e.method != 0 && e.method != 8) ||
	    e.csize == 0xffffffffu || e.usize == 0xffffffffu)
		return GZ_CORRUPT;
	*why = "corrupt zip data";
	return zip_entry_data(p, n, &e, out);
}

/* Drops a BOM and white space before the '{' so json starts with it. */
static void
strip_lead(struct buf *b)
{
	size_t lead = json_lead((const unsigned char *)b->data, b->len);

	memmove(b->data, b->data + lead, b->len - lead + 1);
	b->len -= lead;
}

/* Inflates a gzip or zip body into out; 0 or -1 with the reason noted. */
static int
unpack(struct search *s, const struct candidate *c, const unsigned char *p, size_t n,
    struct buf *out, char *label, size_t labellen)
{
	const char *why = "corrupt gzip data";
	enum gz_result res;

	if (p[0] == 0x1f) {
		snprintf(label, labellen, "gzip");
		res = gz_decompress(p, n, out);
	} else {
		res = zip_extract(p, n, out, label, labellen, &why);
	}
	if (res == GZ_TOO_BIG)
		note(s, c, RANK_TOO_BIG, "inflated report larger than %zu bytes", out->max);
	else if (res == GZ_ERROR)
		note(s, c, RANK_BROKEN, "cannot inflate");
	else if (res != GZ_OK)
		note(s, c, RANK_BROKEN, "%s", why);
	else if (!looks_like_json((const unsigned char *)out->data, out->len))
		note(s, c, RANK_BROKEN, "inflated attachment is not JSON");
	else
		return 0;
	return -1;
}

/* Sniffs one decoded body; 0 with the JSON in out->json, or -1. */
static int
try_body(struct search *s, const struct candidate *c, const unsigned char *p, size_t n,
    struct mailin_result *out, char *label, size_t labellen)
{
	size_t lead;

	if (gz_is_gzip(p, n) || (n >= 4 && memcmp(p, "PK\3\4", 4) == 0))
		return unpack(s, c, p, n, &out->json, label, labellen);
	if (!looks_like_json(p, n)) {
		if (c->tier <= TIER_REPORT)
			note(s, c, RANK_NOT_REPORT, "attachment is not gzip/zip/JSON");
		return -1;
	}
	snprintf(label, labellen, "json");
	lead = json_lead(p, n);
	buf_reset(&out->json);
	if (buf_append(&out->json, p + lead, n - lead) != 0) {
		note(s, c, RANK_TOO_BIG, "report larger than %zu bytes", out->json.max);
		return -1;
	}
	return 0;
}

/* Undoes the transfer encoding and tries the body; 0 when it is the report. */
static int
try_part(struct search *s, const struct candidate *c, struct mailin_result *out)
{
	GMimeDataWrapper *content = g_mime_part_get_content(c->part);
	const char *cte = g_mime_content_encoding_to_string(
	    g_mime_part_get_content_encoding(c->part));
	char label[NAME_BYTES + 32], how[HOW_BYTES];
	GByteArray *bytes = g_byte_array_new();
	GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(bytes);
	int rc = -1;

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	if (content != NULL && g_mime_data_wrapper_write_to_stream(content, mem) >= 0)
		rc = try_body(s, c, bytes->data, bytes->len, out, label, sizeof(label));
	g_object_unref(mem);
	g_byte_array_free(bytes, TRUE);
	if (rc != 0) {
		buf_reset(&out->json);
		return -1;
	}
	strip_lead(&out->json);
	snprintf(how, sizeof(how), "part %s %s%s%s %s, %s", c->path, c->type,
	    c->name[0] ? " " : "", c->name, cte ? cte : "7bit", label);
	out->how = xstrdup(how);
	return 0;
}

static int
find_report(struct search *s, struct mailin_result *out, char *err, size_t errlen)
{
	size_t used;

	for (int t = 0; t < TIER_COUNT; t++) {
		for (size_t i = 0; i < s->ncand; i++) {
			if (s->cand[i].tier == (enum tier)t &&
			    try_part(s, &s->cand[i], out) == 0)
				return 0;
		}
	}
	set_err(err, errlen, "%s", s->rank != RANK_NONE ? s->why :
	    "no attachment looks like a report");
	if (err == NULL || errlen == 0)
		return -1;
	used = strlen(err);
	if (s->over_parts)
		set_err(err + used, errlen - used, "; looked at only the first %d MIME parts",
		    MAILIN_MAX_PARTS);
	else if (s->over_depth)
		set_err(err + used, errlen - used,
		    "; looked at only the parts within %d levels", MAILIN_MAX_DEPTH);
	return -1;
}

/* --- entry points -------------------------------------------------- */

static GMimeMessage *
parse_message(const char *msg, size_t len)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *m;

	pthread_once(&gmime_once, g_mime_init);
	stream = g_mime_stream_mem_new_with_buffer(msg, len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	return m;
}

int
mailin_parse(const char *msg, size_t len, size_t max_json_bytes,
    struct mailin_result *out, char *err, size_t errlen)
{
	struct search *s;
	GMimeMessage *m;
	GMimeObject *top;
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&out->json, max_json_bytes);
	set_err(err, errlen, "%s", "");
	if (msg == NULL || len == 0 || (m = parse_message(msg, len)) == NULL) {
		set_err(err, errlen, "not a MIME message");
		return -1;
	}
	read_headers(m, out);
	s = xcalloc(1, sizeof(*s));
	top = g_mime_message_get_mime_part(m);
	walk(s, top, top && GMIME_IS_MULTIPART(top) ? "" : "1", 0);
	rc = find_report(s, out, err, errlen);
	free(s);
	g_object_unref(m);
	return rc;
}

void
mailin_free(struct mailin_result *r)
{
	buf_free(&r->json);
	free(r->how);
	free(r->subject);
	free(r->from);
	free(r->message_id);
	free(r->report_domain);
	free(r->submitter);
	free(r->subject_report_id);
	r->how = r->subject = r->from = r->message_id = NULL;
	r->report_domain = r->submitter = r->subject_report_id = NULL;
}
