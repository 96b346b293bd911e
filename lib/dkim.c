/*
 * NAME
 *	dkim - DKIM-sign report mail (libopendkim)
 * DESCRIPTION
 *	See dkim.h. libopendkim does the canonicalisation and the RSA work;
 *	this file splits our CRLF message into header fields and body,
 *	refuses messages that would be signed without a header RFC 8460
 *	relies on, and turns the library's folded signature into a CRLF
 *	header field.
 */
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
