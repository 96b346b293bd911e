/*
 * NAME
 *	dkim-verify - verify a DKIM signature with libopendkim (test tool)
 * SYNOPSIS
 *	dkim-verify -n 127.0.0.1:PORT [file]
 * DESCRIPTION
 *	Verifies the first DKIM signature of the message (standard input
 *	without a file) the way a receiver running libopendkim would, except
 *	that key queries go to the one name server given with -n (a
 *	dnsmasq started by the test) instead of /etc/resolv.conf. Prints
 *	one "name: value" line each for result (pass or fail), reason,
 *	domain, selector, headers (the h= tag), key-service (the key
 *	record's s= tag, "*" when it has none) and body-hash (match,
 *	mismatch or unknown).
 *
 *	libopendkim 2.11 accepts a key only when its s= tag lists "email"
 *	or "*" ("not an e-mail key" otherwise), so a record with s=tlsrpt
 *	alone, as RFC 8460 suggests, fails here.
 * DIAGNOSTICS
 *	Exit 0 when the signature verifies, 1 when it does not, 2 for bad
 *	usage or an unreadable message.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <opendkim/dkim.h>

#include "buf.h"

#define MESSAGE_MAX_BYTES	(16 * 1024 * 1024)

struct reply {
	size_t len;
	int error;
};

/*
 * libopendkim's resolver hooks: the query is answered synchronously
 * through glibc's resolver with its server list replaced by ours.
 */
static int
query_start(void *srv, int type, unsigned char *query, unsigned char *buf, size_t buflen,
    void **qh)
{
	struct __res_state rs;
	unsigned char q[512];
	struct reply *r;
	int n, got;

	memset(&rs, 0, sizeof(rs));
	if (res_ninit(&rs) != 0)
		return DKIM_DNS_ERROR;
	rs.nscount = 1;
	rs.nsaddr_list[0] = *(struct sockaddr_in *)srv;
	rs.retrans = 2;
	rs.retry = 2;
	n = res_nmkquery(&rs, QUERY, (char *)query, C_IN, type, NULL, 0, NULL, q, sizeof(q));
	got = n < 0 ? -1 : res_nsend(&rs, q, n, buf, (int)buflen);
	res_nclose(&rs);
	if ((r = malloc(sizeof(*r))) == NULL)
		return DKIM_DNS_ERROR;
	r->len = got < 0 ? 0 : (size_t)got;
	r->error = got < 0 ? (errno ? errno : EIO) : 0;
	*qh = r;
	return DKIM_DNS_SUCCESS;
}

static int
query_wait(void *srv, void *qh, struct timeval *to, size_t *bytes, int *error, int *dnssec)
{
	struct reply *r = qh;

	(void)srv;
	(void)to;
	if (bytes)
		*bytes = r->len;
	if (error)
		*error = r->error;
	if (dnssec)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	return DKIM_DNS_SUCCESS;
}

static int
query_cancel(void *srv, void *qh)
{
	(void)srv;
	free(qh);
	return 0;
}

/* dkim_close() hands the service handle to this; it is ours (malloc'd). */
static void
service_close(void *srv)
{
	free(srv);
}

static int
parse_server(const char *arg, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(arg, ':');
	char *end;
	long port;

	if (colon == NULL || (size_t)(colon - arg) >= sizeof(host))
		return -1;
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

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

/* Feeds header fields (with their folds) to d; returns the body offset. */
static long
feed_headers(DKIM *d, const char *msg, size_t len)
{
	size_t start = 0, i;

	for (i = 0; i + 1 < len; i++) {
		if (msg[i] != '\r' || msg[i + 1] != '\n')
			continue;
		if (i == start)
			return (long)(i + 2);
		if (i + 2 < len && (msg[i + 2] == ' ' || msg[i + 2] == '\t'))
			continue;
		if (dkim_header(d, (u_char *)(uintptr_t)(msg + start), i - start) !=
		    DKIM_STAT_OK)
			return -1;
		start = i + 2;
		i++;
	}
	return -1;
}

static const char *
tag(DKIM_SIGINFO *sig, _Bool key, const char *name, const char *absent)
{
	u_char *v = sig ? dkim_sig_gettagvalue(sig, key, (u_char *)(uintptr_t)name) : NULL;

	return v ? (const char *)v : absent;
}

static void
report(DKIM *d, DKIM_STAT st)
{
	DKIM_SIGINFO *sig = dkim_getsignature(d);
	const char *reason = dkim_getresultstr(st);
	int bh = sig ? dkim_sig_getbh(sig) : DKIM_SIGBH_UNTESTED;

	if (sig && dkim_sig_geterror(sig) != DKIM_SIGERROR_OK)
		reason = dkim_sig_geterrorstr(dkim_sig_geterror(sig));
	else if (st != DKIM_STAT_OK && dkim_geterror(d) && *dkim_geterror(d))
		reason = dkim_geterror(d);
	printf("result: %s\n", st == DKIM_STAT_OK ? "pass" : "fail");
	printf("reason: %s\n", st == DKIM_STAT_OK ? "ok" : reason);
	printf("domain: %s\n", tag(sig, 0, "d", "-"));
	printf("selector: %s\n", tag(sig, 0, "s", "-"));
	printf("headers: %s\n", tag(sig, 0, "h", "-"));
	/* No s= in a key record that was found means "*". */
	printf("key-service: %s\n", tag(sig, 1, "s", tag(sig, 1, "p", NULL) ? "*" : "-"));
	printf("body-hash: %s\n", bh == DKIM_SIGBH_MATCH ? "match" :
	    bh == DKIM_SIGBH_MISMATCH ? "mismatch" : "unknown");
}

static DKIM_STAT
verify(DKIM_LIB *lib, const struct buf *m)
{
	DKIM_STAT st;
	DKIM *d;
	long body;

	if ((d = dkim_verify(lib, (const unsigned char *)"verify", NULL, &st)) == NULL) {
		printf("result: fail\nreason: %s\n", dkim_getresultstr(st));
		return st;
	}
	if ((body = feed_headers(d, m->data, m->len)) < 0)
		st = DKIM_STAT_SYNTAX;
	else if ((st = dkim_eoh(d)) == DKIM_STAT_OK && (size_t)body < m->len)
		st = dkim_body(d, (u_char *)m->data + body, m->len - (size_t)body);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	report(d, st);
	dkim_free(d);
	return st;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in ns, *service;
	struct buf m;
	DKIM_LIB *lib;
	DKIM_STAT st;
	int c;

	memset(&ns, 0, sizeof(ns));
	while ((c = getopt(argc, argv, "n:")) != -1)
		if (c != 'n' || parse_server(optarg, &ns) != 0)
			goto usage;
	if (ns.sin_family != AF_INET || argc - optind > 1)
		goto usage;
	buf_init(&m, MESSAGE_MAX_BYTES);
	if (read_message(optind < argc ? argv[optind] : NULL, &m) != 0) {
		fprintf(stderr, "dkim-verify: cannot read message\n");
		return 2;
	}
	if ((lib = dkim_init(NULL, NULL)) == NULL || (service = malloc(sizeof(ns))) == NULL)
		return 2;
	*service = ns;
	dkim_dns_set_close(lib, service_close);
	dkim_dns_set_query_service(lib, service);
	dkim_dns_set_query_start(lib, query_start);
	dkim_dns_set_query_waitreply(lib, query_wait);
	dkim_dns_set_query_cancel(lib, query_cancel);
	st = verify(lib, &m);
	dkim_close(lib);
	buf_free(&m);
	return st == DKIM_STAT_OK ? 0 : 1;
usage:
	fprintf(stderr, "usage: dkim-verify -n ipv4-address:port [file]\n");
	return 2;
}
