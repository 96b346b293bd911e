/*
 * NAME
 *	dkim - DKIM-sign report mail and verify received report mail
 *	(libopendkim)
 * DESCRIPTION
 *	See dkim.h. libopendkim does the canonicalisation and the RSA work;
 *	this file splits our CRLF message into header fields and body,
 *	refuses messages that would be signed without a header RFC 8460
 *	relies on, and turns the library's folded signature into a CRLF
 *	header field. For verification it normalises line ends, fetches
 *	the key itself (key lookup hook, dns_txt()) so that an s=tlsrpt
 *	key can be let through, has libopendkim ignore all but the first
 *	signature (prescreen hook), and turns libopendkim's statuses and
 *	what the hooks saw into one verdict.
 */
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opendkim/dkim.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "dkim.h"
#include "dns.h"
#include "mem.h"

#define SIGNATURE_MAX_BYTES	8192	/* a 4096-bit b= is 684 bytes */
#define KEY_MIN_BITS		1024	/* RFC 8301 3.2: MUST be at least 1024 */

/* The order is h='s order; keep in step with DKIM_SIGNED_HEADERS. */
static const char *const signed_headers[] = {
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
	"TLS-Report-Domain", "TLS-Report-Submitter", "TLS-Required", "Content-Type",
	NULL
};
#define N_SIGNED (sizeof(signed_headers) / sizeof(signed_headers[0]) - 1)

/* Named once more in h= than they occur: an added copy breaks the signature. */
static const char *const oversigned_headers[] = {
	"From", "Subject", "TLS-Report-Domain", "TLS-Report-Submitter", NULL
};

struct dkim_signer {
	DKIM_LIB *lib;
	unsigned char *key;	/* PEM text, NUL-terminated */
	size_t key_len;
	char *key_file;
	char *selector;
	char *domain;
};

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

/* A DNS name made of letters, digits, hyphens and dots; nothing to inject. */
static int
valid_name(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0' || *s == '.' || *s == '-')
		return 0;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '.'))
			return 0;
	return n <= 253 && s[n - 1] != '.';
}

static int
read_key(const char *path, struct buf *key, char *err, size_t errlen)
{
	struct stat st;
	char chunk[4096];
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		set_err(err, errlen, "cannot read key %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "cannot read key %s: not a regular file", path);
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(key, chunk, (size_t)n) != 0) {
			set_err(err, errlen, "bad key %s: larger than %d bytes", path,
			    DKIM_KEY_MAX_BYTES);
			goto out;
		}
	if (n < 0)
		set_err(err, errlen, "cannot read key %s: %s", path, strerror(errno));
	else if (key->len == 0)
		set_err(err, errlen, "bad key %s: empty file", path);
	else
		rc = 0;
out:
	close(fd);
	return rc;
}

/* Never prompt for a passphrase: an encrypted key is simply unusable. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * Checked here rather than left to libopendkim: its errors are terse, it
 * leaks the key on some of them, and it would accept a 512-bit key.
 */
static int
check_key(const struct buf *key, const char *path, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(key->data, (int)key->len);
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	int rc = -1;

	if (pk == NULL)
		set_err(err, errlen, "bad key %s: not an unencrypted PEM private key", path);
	else if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)
		set_err(err, errlen, "bad key %s: not RSA (rsa-sha256 needs an RSA key)", path);
	else if (EVP_PKEY_get_bits(pk) < KEY_MIN_BITS)
		set_err(err, errlen, "bad key %s: %d bits, fewer than %d", path,
		    EVP_PKEY_get_bits(pk), KEY_MIN_BITS);
	else
		rc = 0;
	EVP_PKEY_free(pk);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

static int
lib_error(DKIM *d, DKIM_STAT st, const char *what, char *err, size_t errlen)
{
	const char *detail = d ? dkim_geterror(d) : NULL;
	const char *status = dkim_getresultstr(st);

	set_err(err, errlen, "%s: %s%s%s", what, status ? status : "error",
	    detail && *detail ? ": " : "", detail ? detail : "");
	return -1;
}

/*
 * Calls fn for each header field, without its final CRLF but with the
 * CRLFs of its folds; sets *body to where the body starts. Checked
 * before: every LF follows a CR and every CR precedes an LF.
 */
static int
walk_headers(const char *msg, size_t len, size_t *body,
    int (*fn)(void *arg, const char *field, size_t n), void *arg)
{
	size_t start = 0, i;

	for (i = 0; i + 1 < len; i++) {
		if (msg[i] != '\r')
			continue;
		if (i == start) {		/* empty line: end of header */
			*body = i + 2;
			return 0;
		}
		if (i + 2 < len && (msg[i + 2] == ' ' || msg[i + 2] == '\t'))
			continue;		/* folded */
		if (fn(arg, msg + start, i - start) != 0)
			return -1;
		start = i + 2;
		i++;
	}
	return -1;
}

static int
check_crlf(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (msg[i] == '\r' && (i + 1 == len || msg[i + 1] != '\n'))
			return -1;
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			return -1;
	}
	return 0;
}

static int
note_header(void *arg, const char *field, size_t n)
{
	unsigned *seen = arg;
	const char *colon = memchr(field, ':', n);
	size_t namelen, i;

	if (colon == NULL)
		return -1;
	namelen = (size_t)(colon - field);
	while (namelen > 0 && (field[namelen - 1] == ' ' || field[namelen - 1] == '\t'))
		namelen--;
	for (i = 0; i < N_SIGNED; i++)
		if (strlen(signed_headers[i]) == namelen &&
		    strncasecmp(signed_headers[i], field, namelen) == 0)
			*seen |= 1u << i;
	return 0;
}

static int
feed_header(void *arg, const char *field, size_t n)
{
	return dkim_header(arg, (u_char *)(uintptr_t)field, n) == DKIM_STAT_OK ? 0 : -1;
}

/* libopendkim folds with bare LF or CRLF depending on version: emit CRLF. */
static int
put_signature(const unsigned char *hdr, size_t len, struct buf *out)
{
	size_t i;

	if (buf_puts(out, DKIM_SIGNHEADER ": ") != 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (hdr[i] == '\r')
			continue;
		if (hdr[i] == '\n' ? buf_append(out, "\r\n", 2) : buf_putc(out, (char)hdr[i]))
			return -1;
	}
	return buf_append(out, "\r\n", 2);
}

static int
sign_message(struct dkim_signer *s, const char *msg, size_t len, struct buf *sig,
    char *err, size_t errlen)
{
	DKIM *d;
	DKIM_STAT st;
	unsigned char *hdr;
	size_t body = 0, hdrlen;
	int rc = -1;

	d = dkim_sign(s->lib, (const unsigned char *)"tlsrpt", NULL, s->key,
	    (const unsigned char *)s->selector, (const unsigned char *)s->domain,
	    DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &st);
	if (d == NULL)
		return lib_error(NULL, st, "cannot start signing", err, errlen);
	if (walk_headers(msg, len, &body, feed_header, d) != 0) {
		lib_error(d, DKIM_STAT_SYNTAX, "bad header field", err, errlen);
		goto out;
	}
	if ((st = dkim_eoh(d)) != DKIM_STAT_OK ||
	    (body < len && (st = dkim_body(d, (u_char *)(uintptr_t)(msg + body),
	    len - body)) != DKIM_STAT_OK) ||
	    (st = dkim_eom(d, NULL)) != DKIM_STAT_OK ||
	    (st = dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER) + 2, &hdr, &hdrlen)) !=
	    DKIM_STAT_OK) {
		lib_error(d, st, "cannot sign", err, errlen);
		goto out;
	}
	if (put_signature(hdr, hdrlen, sig) != 0) {
		set_err(err, errlen, "signature longer than %zu bytes", sig->max);
		goto out;
	}
	rc = 0;
out:
	dkim_free(d);
	return rc;
}

static int
setup_lib(struct dkim_signer *s, char *err, size_t errlen)
{
	DKIM_STAT st;

	if ((s->lib = dkim_init(NULL, NULL)) == NULL) {
		set_err(err, errlen, "cannot initialise libopendkim");
		return -1;
	}
	/* libopendkim keeps the pointers; the lists are static. */
	st = dkim_options(s->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS,
	    (void *)(uintptr_t)signed_headers, sizeof(char **));
	if (st == DKIM_STAT_OK)
		st = dkim_options(s->lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
		    (void *)(uintptr_t)oversigned_headers, sizeof(char **));
	if (st != DKIM_STAT_OK)
		return lib_error(NULL, st, "cannot set signed header list", err, errlen);
	return 0;
}

struct dkim_signer *
dkim_signer_new(const char *key_file, const char *selector, const char *domain,
    char *err, size_t errlen)
{
	static const char probe[] = "From: probe@invalid\r\nTo: probe@invalid\r\n\r\nprobe\r\n";
	struct dkim_signer *s;
	struct buf key, sig;
	char why[512];

	if (!valid_name(selector) || !valid_name(domain)) {
		set_err(err, errlen, "bad DKIM %s (want a DNS name)",
		    valid_name(selector) ? "domain" : "selector");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	buf_init(&key, DKIM_KEY_MAX_BYTES);
	buf_init(&sig, SIGNATURE_MAX_BYTES);
	s->selector = xstrdup(selector);
	s->domain = xstrdup(domain);
	s->key_file = xstrdup(key_file);
	if (read_key(key_file, &key, err, errlen) != 0 ||
	    check_key(&key, key_file, err, errlen) != 0 || setup_lib(s, err, errlen) != 0)
		goto fail;
	s->key = (unsigned char *)key.data;
	s->key_len = key.len;
	key.data = NULL;
	if (sign_message(s, probe, sizeof(probe) - 1, &sig, why, sizeof(why)) != 0) {
		set_err(err, errlen, "bad key %s: %s", key_file, why);
		goto fail;
	}
	buf_free(&sig);
	return s;
fail:
	if (key.data)
		explicit_bzero(key.data, key.len);
	buf_free(&key);
	buf_free(&sig);
	dkim_signer_free(s);
	return NULL;
}

int
dkim_signer_sign(struct dkim_signer *s, const char *msg, size_t len, struct buf *out,
    char *err, size_t errlen)
{
	unsigned seen = 0;
	size_t body, i;

	buf_reset(out);
	if (check_crlf(msg, len) != 0) {
		set_err(err, errlen, "message has a bare CR or LF");
		return -1;
	}
	if (walk_headers(msg, len, &body, note_header, &seen) != 0) {
		set_err(err, errlen, "message has a header line without ':' or no body");
		return -1;
	}
	for (i = 0; i < N_SIGNED; i++)
		if (!(seen & (1u << i))) {
			set_err(err, errlen, "message lacks a %s header field", signed_headers[i]);
			return -1;
		}
	if (sign_message(s, msg, len, out, err, errlen) != 0) {
		buf_reset(out);
		return -1;
	}
	if (buf_append(out, msg, len) != 0) {
		set_err(err, errlen, "signed message would exceed %zu bytes", out->max);
		buf_reset(out);
		return -1;
	}
	return 0;
}

void
dkim_signer_free(struct dkim_signer *s)
{
	if (s == NULL)
		return;
	if (s->lib)
		dkim_close(s->lib);
	if (s->key) {
		explicit_bzero(s->key, s->key_len);
		free(s->key);
	}
	free(s->key_file);
	free(s->selector);
	free(s->domain);
	free(s);
}

/* --- verification ------------------------------------------------- */

/* What the key lookup hook saw, for the verdict; one per call. */
struct verify_ctx {
	dkim_key_fetch_fn fetch;
	void *fetch_arg;
	int key_queried;
	enum dns_result key_result;
	int key_unusable;		/* fetched, but too long for libopendkim */
	char key_err[192];		/* why the fetch failed */
	char key_service[64];		/* s= as published, "*" when absent */
	int key_service_tlsrpt;
	DKIM_SIGINFO *first;		/* the signature verified, if any */
	int bad_header;			/* libopendkim refused a header field */
};

const char *
dkim_verdict_name(int result)
{
	switch (result) {
	case DKIM_VERDICT_PASS:
		return "pass";
	case DKIM_VERDICT_FAIL:
		return "fail";
	case DKIM_VERDICT_TEMPERROR:
		return "temperror";
	default:
		return "none";
	}
}

/*
 * At most srclen bytes of src, printable ASCII only and cut to fit: the
 * verdict goes to logs and SQL.
 */
static void
copy_printable_n(char *dst, size_t dstlen, const char *src, size_t srclen, int drop_blanks)
{
	size_t n = 0;

	for (const char *end = src ? src + srclen : NULL; src && src < end && *src &&
	    n + 1 < dstlen; src++) {
		unsigned char c = (unsigned char)*src;

		if (drop_blanks && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
			continue;
		dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (dstlen > 0)
		dst[n] = '\0';
}

static void
copy_printable(char *dst, size_t dstlen, const char *src, int drop_blanks)
{
	copy_printable_n(dst, dstlen, src, src ? strlen(src) : 0, drop_blanks);
}

/*
 * The key record at name: of several TXT records (RFC 6376 3.6.2.2 lets
 * the verifier choose), the first that starts "v=DKIM1", else the first.
 */
static enum dns_result
dns_fetch(void *fetch_arg, const char *name, char *record, size_t recordlen, char *err,
    size_t errlen)
{
	char **recs;
	size_t n, pick = 0;
	enum dns_result r = dns_txt(name, fetch_arg, &recs, &n, err, errlen);

	if (r != DNS_OK)
		return r;
	for (size_t i = n; i-- > 0;)
		if (strncmp(recs[i] + strspn(recs[i], " \t"), "v=DKIM1", 7) == 0)
			pick = i;
	snprintf(record, recordlen, "%s", recs[pick]);
	dns_txt_free(recs, n);
	return DNS_OK;
}

/*
 * RFC 6376 3.2 tag list: finds tag name, sets [*vstart, *vend) to its
 * value without surrounding blanks. 0 when absent or the list is
 * malformed before it (libopendkim then says what is wrong).
 */
static int
find_tag(const char *list, const char *name, size_t *vstart, size_t *vend)
{
	size_t i = 0, nstart, nend;

	for (;;) {
		while (list[i] == ' ' || list[i] == '\t' || list[i] == '\r' || list[i] == '\n')
			i++;
		if (list[i] == '\0')
			return 0;
		nstart = i;
		while (list[i] && list[i] != '=' && list[i] != ';' && list[i] != ' ' &&
		    list[i] != '\t')
			i++;
		nend = i;
		while (list[i] == ' ' || list[i] == '\t')
			i++;
		if (list[i] != '=')
			return 0;
		i++;
		while (list[i] == ' ' || list[i] == '\t' || list[i] == '\r' || list[i] == '\n')
			i++;
		*vstart = i;
		while (list[i] && list[i] != ';')
			i++;
		*vend = i;
		while (*vend > *vstart && strchr(" \t\r\n", list[*vend - 1]) != NULL)
			(*vend)--;
		if (nend - nstart == strlen(name) && strncmp(list + nstart, name, nend - nstart) == 0)
			return 1;
		if (list[i] == ';')
			i++;
	}
}

/* Is word (case-insensitive) one of the colon-separated services? */
static int
has_service(const char *services, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = services; p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL)
		if (strncasecmp(p, word, wl) == 0 && (p[wl] == ':' || p[wl] == '\0'))
			return 1;
	return 0;
}

/*
 * Notes the key record's service types and, for an s= that names
 * tlsrpt but neither email nor '*', writes the record into buf with
 * "email:" put in front of the s= value so libopendkim accepts it.
 */
static int
admit_tlsrpt_key(struct verify_ctx *ctx, const char *rec, unsigned char *buf, size_t buflen)
{
	size_t vstart, vend;
	int need;

	if (!find_tag(rec, "s", &vstart, &vend)) {
		snprintf(ctx->key_service, sizeof(ctx->key_service), "*");
		ctx->key_service_tlsrpt = 1;
		return snprintf((char *)buf, buflen, "%s", rec) < (int)buflen ? 0 : -1;
	}
	copy_printable_n(ctx->key_service, sizeof(ctx->key_service), rec + vstart, vend - vstart,
	    1);
	ctx->key_service_tlsrpt = has_service(ctx->key_service, "tlsrpt") ||
	    has_service(ctx->key_service, "*");
	if (!has_service(ctx->key_service, "tlsrpt") || has_service(ctx->key_service, "email") ||
	    has_service(ctx->key_service, "*"))
		need = snprintf((char *)buf, buflen, "%s", rec);
	else
		need = snprintf((char *)buf, buflen, "%.*semail:%s", (int)vstart, rec,
		    rec + vstart);
	return need >= 0 && (size_t)need < buflen ? 0 : -1;
}

/* libopendkim's key lookup hook: every key query of a verification. */
static DKIM_CBSTAT
key_lookup(DKIM *d, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen)
{
	struct verify_ctx *ctx = dkim_get_user_context(d);
	char name[NS_MAXDNAME], rec[DKIM_KEY_RECORD_MAX_BYTES + 2];
	const char *sel = (const char *)dkim_sig_getselector(sig);
	const char *dom = (const char *)dkim_sig_getdomain(sig);

	ctx->key_queried = 1;
	if (snprintf(name, sizeof(name), "%s._domainkey.%s", sel ? sel : "", dom ? dom : "") >=
	    (int)sizeof(name)) {
		ctx->key_result = DNS_NODATA;
		snprintf(ctx->key_err, sizeof(ctx->key_err), "key name too long");
		return DKIM_CBSTAT_NOTFOUND;
	}
	ctx->key_result = ctx->fetch(ctx->fetch_arg, name, rec, sizeof(rec), ctx->key_err,
	    sizeof(ctx->key_err));
	if (ctx->key_result == DNS_NODATA)
		return DKIM_CBSTAT_NOTFOUND;
	if (ctx->key_result != DNS_OK)
		return DKIM_CBSTAT_TRYAGAIN;
	if (strlen(rec) > DKIM_KEY_RECORD_MAX_BYTES ||
	    admit_tlsrpt_key(ctx, rec, buf, buflen) != 0) {
		ctx->key_unusable = 1;
		snprintf(ctx->key_err, sizeof(ctx->key_err), "key record too long (%zu bytes; "
		    "libopendkim takes %zu)", strlen(rec), buflen - 1);
		return DKIM_CBSTAT_ERROR;
	}
	return DKIM_CBSTAT_CONTINUE;
}

/*
 * Only the first (topmost) signature is verified. It is noted here
 * because dkim_getsiglist() fails once dkim_eoh() has failed, and
 * dkim_eoh() fetches the key.
 */
static DKIM_CBSTAT
only_first(DKIM *d, DKIM_SIGINFO **sigs, int nsigs)
{
	struct verify_ctx *ctx = dkim_get_user_context(d);

	if (nsigs > 0)
		ctx->first = sigs[0];
	for (int i = 1; i < nsigs; i++)
		dkim_sig_ignore(sigs[i]);
	return DKIM_CBSTAT_CONTINUE;
}

/*
 * The message with every line ending as CRLF and an empty line after
 * the header, so that walk_headers() can split it.
 */
static void
to_crlf(const char *msg, size_t len, struct buf *out)
{
	size_t i;
	int rc = 0;

	buf_init(out, 2 * len + 4);	/* each byte at most doubles */
	for (i = 0; i < len && rc == 0; i++) {
		if (msg[i] == '\r' || msg[i] == '\n') {
			rc = buf_append(out, "\r\n", 2);
			if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
				i++;
		} else {
			rc = buf_putc(out, msg[i]);
		}
	}
	if (rc == 0 && !(out->len >= 2 && memcmp(out->data, "\r\n", 2) == 0) &&
	    memmem(out->data ? out->data : "", out->len, "\r\n\r\n", 4) == NULL) {
		if (out->len > 0 && !(out->len >= 2 && memcmp(out->data + out->len - 2,
		    "\r\n", 2) == 0))
			rc = buf_append(out, "\r\n", 2);
		if (rc == 0)
			rc = buf_append(out, "\r\n", 2);
	}
	if (rc != 0)
		abort();	/* fits by construction */
}

static int
is_signature(void *arg, const char *field, size_t n)
{
	static const char name[] = DKIM_SIGNHEADER;
	size_t nl = sizeof(name) - 1, i = nl;

	while (i < n && (field[i] == ' ' || field[i] == '\t'))
		i++;
	if (n > nl && strncasecmp(field, name, nl) == 0 && i < n && field[i] == ':')
		*(int *)arg = 1;
	return 0;
}

/* Appends src to the string in dst, cut to fit: verdict fields are capped. */
static void
append_cut(char *dst, size_t dstlen, const char *src)
{
	size_t have = strlen(dst), n = strlen(src);

	if (have + 1 >= dstlen)
		return;
	if (n > dstlen - have - 1)
		n = dstlen - have - 1;
	memcpy(dst + have, src, n);
	dst[have + n] = '\0';
}

static void
verdict_line(struct dkim_verdict *v)
{
	v->text[0] = '\0';
	append_cut(v->text, sizeof(v->text), dkim_verdict_name(v->result));
	if (v->domain[0]) {
		append_cut(v->text, sizeof(v->text), " d=");
		append_cut(v->text, sizeof(v->text), v->domain);
	}
	if (v->selector[0]) {
		append_cut(v->text, sizeof(v->text), " s=");
		append_cut(v->text, sizeof(v->text), v->selector);
	}
	if (v->reason[0]) {
		append_cut(v->text, sizeof(v->text), ": ");
		append_cut(v->text, sizeof(v->text), v->reason);
	}
}

static void
set_reason(struct dkim_verdict *v, int result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_reason(struct dkim_verdict *v, int result, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	v->result = result;
	copy_printable(v->reason, sizeof(v->reason), why, 0);
}

/* Why the first signature did not pass; the result is FAIL unless said. */
static void
failure(DKIM *d, DKIM_STAT st, DKIM_SIGINFO *sig, const struct verify_ctx *ctx,
    struct dkim_verdict *v)
{
	int sigerr = sig ? dkim_sig_geterror(sig) : DKIM_SIGERROR_OK;
	const char *liberr = dkim_geterror(d), *str = dkim_getresultstr(st);

	if (liberr && *liberr)
		str = liberr;
	else if (str == NULL)
		str = "signature verification failed";

	if (ctx->key_queried && ctx->key_result == DNS_TEMPFAIL)
		set_reason(v, DKIM_VERDICT_TEMPERROR, "key query: %s", ctx->key_err);
	else if (ctx->bad_header)
		set_reason(v, DKIM_VERDICT_FAIL, "malformed header field: %s", str);
	else if (sig == NULL)
		set_reason(v, DKIM_VERDICT_FAIL, "unusable signature: %s", str);
	else if (ctx->key_queried && ctx->key_result == DNS_NODATA)
		set_reason(v, DKIM_VERDICT_FAIL, "no key: %s", ctx->key_err);
	else if (ctx->key_unusable)
		set_reason(v, DKIM_VERDICT_FAIL, "%s", ctx->key_err);
	else if (v->body_hash == DKIM_BODY_HASH_MISMATCH)
		set_reason(v, DKIM_VERDICT_FAIL, "body hash mismatch");
	else if (sigerr == DKIM_SIGERROR_NOTEMAILKEY)
		set_reason(v, DKIM_VERDICT_FAIL, "key not for e-mail (s=%s)", ctx->key_service);
	else if (sigerr != DKIM_SIGERROR_OK && dkim_sig_geterrorstr(sigerr) != NULL)
		set_reason(v, DKIM_VERDICT_FAIL, "%s", dkim_sig_geterrorstr(sigerr));
	else if (st == DKIM_STAT_REVOKED)
		set_reason(v, DKIM_VERDICT_FAIL, "key revoked");
	else
		set_reason(v, DKIM_VERDICT_FAIL, "%s", str);
}

static void
judge(DKIM *d, DKIM_STAT st, const struct verify_ctx *ctx, struct dkim_verdict *v)
{
	DKIM_SIGINFO *sig = ctx->first;
	int bh;

	if (sig) {
		copy_printable(v->domain, sizeof(v->domain),
		    (const char *)dkim_sig_getdomain(sig), 1);
		copy_printable(v->selector, sizeof(v->selector),
		    (const char *)dkim_sig_getselector(sig), 1);
		copy_printable(v->signed_headers, sizeof(v->signed_headers),
		    (const char *)dkim_sig_gettagvalue(sig, 0, (u_char *)(uintptr_t)"h"), 1);
		bh = dkim_sig_getbh(sig);
		v->body_hash = bh == DKIM_SIGBH_MATCH ? DKIM_BODY_HASH_MATCH :
		    bh == DKIM_SIGBH_MISMATCH ? DKIM_BODY_HASH_MISMATCH :
		    DKIM_BODY_HASH_UNTESTED;
	}
	if (ctx->key_queried && ctx->key_result == DNS_OK && !ctx->key_unusable) {
		copy_printable(v->key_service, sizeof(v->key_service), ctx->key_service, 1);
		v->key_service_tlsrpt = ctx->key_service_tlsrpt;
	}
	if (st == DKIM_STAT_OK && sig && (dkim_sig_getflags(sig) & DKIM_SIGFLAG_PASSED) &&
	    v->body_hash == DKIM_BODY_HASH_MATCH)
		v->result = DKIM_VERDICT_PASS;
	else
		failure(d, st, sig, ctx, v);
}

static DKIM_LIB *
verifier_lib(void)
{
	unsigned flags = DKIM_LIBFLAGS_BADSIGHANDLES;
	DKIM_LIB *lib = dkim_init(NULL, NULL);

	if (lib == NULL)
		return NULL;
	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
	    DKIM_STAT_OK || dkim_set_key_lookup(lib, key_lookup) != DKIM_STAT_OK ||
	    dkim_set_prescreen(lib, only_first) != DKIM_STAT_OK) {
		dkim_close(lib);
		return NULL;
	}
	return lib;
}

/* Runs libopendkim over the CRLF message m and fills in the verdict. */
static int
run_verifier(const struct buf *m, struct verify_ctx *ctx, struct dkim_verdict *v,
    char *err, size_t errlen)
{
	DKIM_LIB *lib = verifier_lib();
	DKIM *d = NULL;
	DKIM_STAT st;
	size_t body = 0;

	if (lib == NULL || (d = dkim_verify(lib, (const unsigned char *)"tlsrpt", NULL,
	    &st)) == NULL || dkim_set_user_context(d, ctx) != DKIM_STAT_OK) {
		set_err(err, errlen, "cannot initialise libopendkim");
		if (d)
			dkim_free(d);
		if (lib)
			dkim_close(lib);
		return -1;
	}
	if (walk_headers(m->data, m->len, &body, feed_header, d) != 0) {
		ctx->bad_header = 1;
		st = DKIM_STAT_SYNTAX;
	} else if ((st = dkim_eoh(d)) == DKIM_STAT_OK) {
		if (body < m->len)
			st = dkim_body(d, (u_char *)(uintptr_t)(m->data + body), m->len - body);
		if (st == DKIM_STAT_OK)
			st = dkim_eom(d, NULL);
	}
	judge(d, st, ctx, v);
	dkim_free(d);
	dkim_close(lib);
	return 0;
}

/* No verdict could be reached: say why, and make the verdict a temperror. */
static int
cannot_judge(struct dkim_verdict *v, const char *why, char *err, size_t errlen)
{
	set_err(err, errlen, "%s", why);
	memset(v, 0, sizeof(*v));
	v->result = DKIM_VERDICT_TEMPERROR;
	copy_printable(v->reason, sizeof(v->reason), why, 0);
	verdict_line(v);
	return -1;
}

int
dkim_verify_mail_keys(const char *msg, size_t len, dkim_key_fetch_fn fetch, void *fetch_arg,
    struct dkim_verdict *v, char *err, size_t errlen)
{
	struct verify_ctx ctx;
	struct buf m;
	char why[256];
	size_t body;
	int signed_msg = 0, rc;

	if (len > DKIM_VERIFY_MAX_BYTES) {
		snprintf(why, sizeof(why), "message larger than %d bytes", DKIM_VERIFY_MAX_BYTES);
		return cannot_judge(v, why, err, errlen);
	}
	memset(v, 0, sizeof(*v));
	set_err(err, errlen, "%s", "");
	to_crlf(msg, len, &m);
	if (walk_headers(m.data, m.len, &body, is_signature, &signed_msg) != 0 || !signed_msg) {
		v->result = DKIM_VERDICT_NONE;
		verdict_line(v);
		buf_free(&m);
		return 0;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.fetch = fetch;
	ctx.fetch_arg = fetch_arg;
	rc = run_verifier(&m, &ctx, v, why, sizeof(why));
	buf_free(&m);
	if (rc != 0)
		return cannot_judge(v, why, err, errlen);
	verdict_line(v);
	return 0;
}

int
dkim_verify_mail(const char *msg, size_t len, const char *dns_server, struct dkim_verdict *v,
    char *err, size_t errlen)
{
	char why[256];

	if (dns_server_check(dns_server, why, sizeof(why)) != 0)
		return cannot_judge(v, why, err, errlen);
	return dkim_verify_mail_keys(msg, len, dns_fetch, (void *)(uintptr_t)(dns_server ?
	    dns_server : ""), v, err, errlen);
}
