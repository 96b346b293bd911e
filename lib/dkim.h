/*
 * NAME
 *	dkim - DKIM-sign report mail and verify received report mail
 *	(libopendkim)
 * SYNOPSIS
 *	char err[256];
 *	struct dkim_signer *s = dkim_signer_new("/etc/tlsrptd/dkim.pem",
 *	    "tlsrpt", "reporter.example", err, sizeof(err));
 *	if (s == NULL) ... err: "cannot read key ...", "bad key ..."
 *	struct buf signed_msg;
 *	buf_init(&signed_msg, 16 * 1024 * 1024);
 *	if (dkim_signer_sign(s, msg.data, msg.len, &signed_msg, err, sizeof(err)) != 0) ...
 *	dkim_signer_free(s);
 *
 *	struct dkim_verdict v;
 *	if (dkim_verify_mail(msg, len, "" or "[::1]:53", &v, err,
 *	    sizeof(err)) != 0) ... err: bad DNS server, out of resources
 *	record v.text; v.result == DKIM_VERDICT_PASS && v.key_service_tlsrpt ...
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
 *	8460 asks for s=tlsrpt, but plain libopendkim 2.11 verifiers (the
 *	opendkim milter) refuse a key whose s= lacks "email", and dkimpy
 *	refuses s=email:tlsrpt; dkim_verify_mail() takes both.
 *	tests/integration/dkim.sh records which verifier takes which s=.
 *
 *	dkim_verify_mail() verifies the first DKIM-Signature field of a
 *	received message: the topmost one, which is the one added last.
 *	Further signatures are ignored, so one added in transit decides
 *	alone; v.domain tells whose it is and the caller compares it with
 *	TLS-Report-Submitter. Lines may end in CRLF, bare LF or bare CR
 *	(a mail store may have converted them); each is taken as CRLF, as
 *	signer and verifier both see the message on the wire. A message
 *	without an empty line is all header. At most
 *	DKIM_VERIFY_MAX_BYTES are accepted.
 *
 *	The key record is fetched from DNS: <s=>._domainkey.<d=> TXT, the
 *	strings of a record joined; of several records the first that
 *	starts "v=DKIM1", else the first. The query goes through dns_txt(),
 *	so dns_server is the same "host[:port]" with an IPv4 or [IPv6]
 *	literal as there, and NULL or "" means the system resolver
 *	(resolv.conf). A key query that gets no answer gives up after
 *	about 6 s per server (dns.h: 2 tries, 2 s then 4 s). libopendkim
 *	takes key records of at most 1024 bytes (its BUFRSZ), enough for
 *	a 4096-bit RSA key; a longer one fails.
 *
 *	The key is fetched through libopendkim's key lookup hook rather
 *	than its resolver hooks, because the hook sees the record before
 *	libopendkim parses it: libopendkim 2.11 refuses a key whose s= lists
 *	neither "email" nor "*" ("not an e-mail key"), while RFC 8460
 *	section 3 asks report signers for s=tlsrpt. A record whose s= lists
 *	"tlsrpt" but not "email" or "*" reaches libopendkim with "email:"
 *	put in front of the s= value; v.key_service keeps the value as
 *	published. This makes dkim_verify_mail() fit for report mail only:
 *	an ordinary mail verifier must refuse s=tlsrpt keys.
 *
 *	The verdict: result DKIM_VERDICT_PASS, _FAIL (bad signature, body
 *	hash mismatch, no key (NXDOMAIN or no TXT record), revoked or
 *	unusable key, malformed signature), _NONE (no DKIM-Signature
 *	field) or _TEMPERROR (the key query had no answer: timeout,
 *	SERVFAIL, network). DKIM_VERDICT_PASS is not 0, so a zeroed verdict
 *	never passes. text is one line for the log and the database:
 *	"pass d=D s=S", "fail d=D s=S: REASON", "none", "temperror d=D
 *	s=S: REASON", cut to fit. domain and selector are the signature's
 *	d= and s= ("" when it lacks them), key_service_tlsrpt is 1 when
 *	the key record's s= lists "tlsrpt" or "*", or is absent (RFC 6376:
 *	absent means "*"); 0 when no key was found. reason, key_service
 *	(the published s= value, "*" when absent, "" without a key),
 *	signed_headers (h=, blanks removed) and body_hash are details for
 *	tests and logs. Every string is NUL-terminated, printable ASCII
 *	and cut to its field.
 *
 *	dkim_verify_mail_keys() is the same with the key fetched by
 *	fetch(fetch_arg, name, record, recordlen, err, errlen), which
 *	writes the key record at name into record (NUL-terminated, cut to
 *	recordlen) and returns DNS_OK, or returns DNS_NODATA (no key: a
 *	fail) or DNS_TEMPFAIL (a temperror) with a reason in err: for
 *	tests, and for a caller with its own key source or cache.
 *
 *	Both are thread-safe: each call has its own libopendkim library
 *	handle (dkim_init/dkim_close, a few allocations) and its own
 *	resolver state, and shares nothing. The name is not dkim_verify():
 *	libopendkim has a dkim_verify() of its own.
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
 *
 *	dkim_verify_mail() returns 0 with a verdict, whatever it is, and
 *	-1 only when it could not judge: "bad DNS server ...", "message
 *	larger than N bytes", "cannot initialise libopendkim"; the
 *	verdict is then DKIM_VERDICT_TEMPERROR with "temperror: " and the
 *	same text, so a caller that ignores the return value still does
 *	not see a pass.
 */
#ifndef TLSRPTD_DKIM_H
#define TLSRPTD_DKIM_H

#include <stddef.h>

#include "buf.h"
#include "dns.h"

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

#define DKIM_VERIFY_MAX_BYTES	(64 * 1024 * 1024)
#define DKIM_KEY_RECORD_MAX_BYTES DNS_MAX_TXT_BYTES

enum {
	DKIM_VERDICT_NONE = 0,		/* no signature */
	DKIM_VERDICT_PASS = 1,
	DKIM_VERDICT_FAIL = 2,
	DKIM_VERDICT_TEMPERROR = 3,	/* key query unanswered; try later */
};

enum {
	DKIM_BODY_HASH_UNTESTED = 0,
	DKIM_BODY_HASH_MATCH = 1,
	DKIM_BODY_HASH_MISMATCH = 2,
};

struct dkim_verdict {
	int result;			/* DKIM_VERDICT_* */
	char text[256];			/* "pass d=D s=S", "fail d=D s=S: why", ... */
	char domain[256];		/* d= of the signature verified */
	char selector[64];		/* its s= */
	int key_service_tlsrpt;		/* key s= lists tlsrpt or '*', or is absent */
	char reason[192];		/* why it failed; "" on pass */
	char key_service[64];		/* key s= as published; "*" absent; "" no key */
	char signed_headers[512];	/* h= of the signature, blanks removed */
	int body_hash;			/* DKIM_BODY_HASH_* */
};

typedef enum dns_result (*dkim_key_fetch_fn)(void *fetch_arg, const char *name,
    char *record, size_t recordlen, char *err, size_t errlen);

int dkim_verify_mail(const char *msg, size_t len, const char *dns_server,
    struct dkim_verdict *v, char *err, size_t errlen) __attribute__((warn_unused_result));
int dkim_verify_mail_keys(const char *msg, size_t len, dkim_key_fetch_fn fetch,
    void *fetch_arg, struct dkim_verdict *v, char *err, size_t errlen)
    __attribute__((warn_unused_result));
const char *dkim_verdict_name(int result);

#endif
