/*
 * NAME
 *	dkim-verify - verify a DKIM signature as tlsrpt-ingest does (test tool)
 * SYNOPSIS
 *	dkim-verify -n SERVER [file]
 * DESCRIPTION
 *	Runs dkim_verify_mail() (lib/dkim.c, libopendkim underneath) on the
 *	message (standard input without a file). Key queries go to SERVER,
 *	"host[:port]" with an IPv4 or [IPv6] literal (a dnsmasq started by
 *	the test), or to the system resolver when SERVER is "". Prints one
 *	"name: value" line each for result (pass, fail, none or
 *	temperror), reason ("ok" on pass, "no signature" for none), domain,
 *	selector, headers (the h= tag), key-service (the key record's s=
 *	tag as published, "*" when it has none, "-" without a key),
 *	key-tlsrpt (yes or no: may the key sign reports) and body-hash
 *	(match, mismatch or unknown); "-" stands for an empty value.
 *
 *	A key record with s=tlsrpt, as RFC 8460 suggests, passes: see
 *	dkim.h for how libopendkim 2.11 is made to accept it.
 * DIAGNOSTICS
 *	Exit 0 when the signature verifies, 1 when it does not (any other
 *	verdict), 2 for bad usage, a bad server or an unreadable message.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dkim.h"

static int
read_message(const char *path, struct buf *b)
{
	FILE *fp = path ? fopen(path, "rb") : stdin;
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (fp == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(b, chunk, n) != 0) {
			rc = -1;
			break;
		}
	if (ferror(fp))
		rc = -1;
	if (fp != stdin)
		fclose(fp);
	return rc;
}

static const char *
or_dash(const char *s)
{
	return s[0] ? s : "-";
}

static void
report(const struct dkim_verdict *v)
{
	printf("result: %s\n", dkim_verdict_name(v->result));
	printf("reason: %s\n", v->result == DKIM_VERDICT_PASS ? "ok" :
	    v->result == DKIM_VERDICT_NONE ? "no signature" : or_dash(v->reason));
	printf("domain: %s\n", or_dash(v->domain));
	printf("selector: %s\n", or_dash(v->selector));
	printf("headers: %s\n", or_dash(v->signed_headers));
	printf("key-service: %s\n", or_dash(v->key_service));
	printf("key-tlsrpt: %s\n", v->key_service_tlsrpt ? "yes" : "no");
	printf("body-hash: %s\n", v->body_hash == DKIM_BODY_HASH_MATCH ? "match" :
	    v->body_hash == DKIM_BODY_HASH_MISMATCH ? "mismatch" : "unknown");
}

int
main(int argc, char **argv)
{
	const char *server = NULL;
	struct dkim_verdict v;
	char err[256];
	struct buf m;
	int c;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n')
			goto usage;
		server = optarg;
	}
	if (server == NULL || argc - optind > 1)
		goto usage;
	buf_init(&m, DKIM_VERIFY_MAX_BYTES);
	if (read_message(optind < argc ? argv[optind] : NULL, &m) != 0) {
		fprintf(stderr, "dkim-verify: cannot read message\n");
		buf_free(&m);
		return 2;
	}
	if (dkim_verify_mail(m.data ? m.data : "", m.len, server, &v, err, sizeof(err)) != 0) {
		fprintf(stderr, "dkim-verify: %s\n", err);
		buf_free(&m);
		return 2;
	}
	report(&v);
	buf_free(&m);
	return v.result == DKIM_VERDICT_PASS ? 0 : 1;
usage:
	fprintf(stderr, "usage: dkim-verify -n 'host[:port]'|'' [file]\n");
	return 2;
}
