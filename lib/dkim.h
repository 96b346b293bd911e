/*
 * NAME
 *	dkim - DKIM-sign report mail (libopendkim)
 * SYNOPSIS
 *	char err[256];
 *	struct dkim_signer *s = dkim_signer_new("/etc/tlsrptd/dkim.pem",
 *	    "tlsrpt", "reporter.example", err, sizeof(err));
 *	if (s == NULL) ... err: "cannot read key ...", "bad key ..."
 *	struct buf signed_msg;
 *	buf_init(&signed_msg, 16 * 1024 * 1024);
 *	if (dkim_signer_sign(s, msg.data, msg.len, &signed_msg, err, sizeof(err)) != 0) ...
 *	dkim_signer_free(s);
 * DESCRIPTION
 *	RFC 8460 section 3: report mail MUST carry a valid DKIM signature of
 *	the reporting domain, and receivers MUST ignore unsigned reports.
 *
 *	dkim_signer_new() reads the private key file once: an unencrypted
 *	PEM RSA key of at least 1024 bits (RFC 8301; use 2048), at most
 *	DKIM_KEY_MAX_BYTES. It proves the key usable by signing a
 *	throw-away message, so a bad key is found at start-up, not at the
 *	first report. selector and domain must be DNS names (letters,
 *	digits, hyphens, dots).
 *
 *	dkim_signer_sign() signs a message with CRLF line endings (as
 *	mail_build() writes it) and puts "DKIM-Signature: ...\r\n" followed
 *	by the unchanged message into out (replacing what was there). The
 *	signature is rsa-sha256, c=relaxed/relaxed, has no l= tag (RFC 8460
 *	forbids it: l= lets anyone append to the report), and h= lists
 *	exactly DKIM_SIGNED_HEADERS that occur in the message; the ones RFC
 *	8460 relies on (From, Subject, TLS-Report-Domain and
 *	TLS-Report-Submitter) are also over-signed: h= names them once more
 *	than they occur, so a second copy added in transit breaks the
 *	signature. A message that lacks one of DKIM_SIGNED_HEADERS is
 *	refused rather than signed without it.
 *
 *	The public half goes into DNS at <selector>._domainkey.<domain> as
 *	"v=DKIM1; k=rsa; s=tlsrpt; p=<base64 SubjectPublicKeyInfo>". RFC
 *	8460 asks for s=tlsrpt, but libopendkim 2.11 verifiers refuse a key
 *	whose s= lacks "email" and dkimpy refuses s=email:tlsrpt;
 *	tests/integration/dkim.sh records which verifier takes which s=.
 *
 *	A signer is not thread-safe; use one per thread. The functions are
 *	dkim_signer_*, not dkim_sign(): libopendkim owns dkim_sign() and
 *	most of the dkim_ prefix. Its header is included as
 *	<opendkim/dkim.h>, so do not put pkg-config's -I.../opendkim on the
 *	command line, or "dkim.h" could mean either file.
 * DIAGNOSTICS
 *	dkim_signer_new() returns NULL and dkim_signer_sign() -1 with a
 *	message in err: "cannot read key FILE: errno text", "bad key FILE:
 *	not RSA ..." (or not PEM, or too short), "bad DKIM selector",
 *	"message lacks a NAME header field", "message has a bare CR or LF",
 *	or libopendkim's own text.
 */
#ifndef TLSRPTD_DKIM_H
#define TLSRPTD_DKIM_H

#include <stddef.h>

#include "buf.h"

#define DKIM_KEY_MAX_BYTES	(64 * 1024)

/* Comma-separated, for documentation and tests; dkim.c holds the list. */
#define DKIM_SIGNED_HEADERS "From,To,Subject,Date,Message-ID,MIME-Version," \
	"TLS-Report-Domain,TLS-Report-Submitter,TLS-Required,Content-Type"

struct dkim_signer;

struct dkim_signer *dkim_signer_new(const char *key_file, const char *selector,
    const char *domain, char *err, size_t errlen) __attribute__((warn_unused_result));
int dkim_signer_sign(struct dkim_signer *s, const char *msg, size_t len, struct buf *out,
    char *err, size_t errlen) __attribute__((warn_unused_result));
void dkim_signer_free(struct dkim_signer *s);

#endif
