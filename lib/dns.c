/*
 * NAME
 *	dns - TXT lookup through the system stub resolver (libresolv)
 * DESCRIPTION
 *	See dns.h. The server override relies on glibc's resolver state:
 *	nsaddr_list[] holds IPv4 servers; an IPv6 server lives in
 *	_u._ext.nsaddrs[] (malloc'd, freed by res_nclose) with the
 *	nsaddr_list entry's family set to 0, which is how res_ninit()
 *	itself stores the IPv6 servers of resolv.conf (glibc 2.26 and
 *	later; Debian 12 has 2.36).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "buf.h"
#include "dns.h"
#include "mem.h"

#define DNS_ANSWER_MAX		65536	/* largest DNS message (TCP) */
#define DNS_RETRANS_S		2
#define DNS_RETRY		2
#define DNS_MAX_CNAME_HOPS	8
#define DNS_HOST_MAX		64	/* longest IPv6 literal is 45 */

struct dns_server {
	int family;		/* AF_INET or AF_INET6 */
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* What one answer gave: the records and what had to be cut. */
struct txt_answer {
	char **records;
	size_t n;
	size_t ignored;		/* records beyond DNS_MAX_TXT_RECORDS */
	size_t cut;		/* records longer than DNS_MAX_TXT_BYTES */
	size_t malformed;	/* rdata whose strings overrun it */
};

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

static int
parse_port(const char *s, in_port_t *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s < '0' || *s > '9' ||
	    v < 1 || v > 65535)
		return -1;
	*port = htons((uint16_t)v);
	return 0;
}

/* "host[:port]" with host an IPv4 literal, an IPv6 literal or [IPv6]. */
static int
parse_server(const char *server, struct dns_server *ds)
{
	char host[DNS_HOST_MAX];
	const char *port = NULL, *colon = strchr(server, ':');
	in_port_t nport = htons(53);
	size_t hlen;

	if (server[0] == '[') {
		const char *rb = strchr(server, ']');

		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
			return -1;
		hlen = (size_t)(rb - server - 1);
		server++;
		port = rb[1] == ':' ? rb + 2 : NULL;
	} else if (colon != NULL && strchr(colon + 1, ':') == NULL) {
		hlen = (size_t)(colon - server);
		port = colon + 1;
	} else {
		hlen = strlen(server);
	}
	if (hlen == 0 || hlen >= sizeof(host) || (port && parse_port(port, &nport) != 0))
		return -1;
	memcpy(host, server, hlen);
	host[hlen] = '\0';
	memset(ds, 0, sizeof(*ds));
	if (inet_pton(AF_INET, host, &ds->sin.sin_addr) == 1) {
		ds->family = ds->sin.sin_family = AF_INET;
		ds->sin.sin_port = nport;
	} else if (inet_pton(AF_INET6, host, &ds->sin6.sin6_addr) == 1) {
		ds->family = ds->sin6.sin6_family = AF_INET6;
		ds->sin6.sin6_port = nport;
	} else {
		return -1;
	}
	return 0;
}

int
dns_server_check(const char *server, char *err, size_t errlen)
{
	struct dns_server ds;

	set_err(err, errlen, "%s", "");
	if (server == NULL || server[0] == '\0' || parse_server(server, &ds) == 0)
		return 0;
	set_err(err, errlen, "bad DNS server '%.*s': want an IPv4 or IPv6 literal "
	    "with an optional :port ([IPv6]:port)", DNS_HOST_MAX, server);
	return -1;
}

/*
 * Replaces the servers res_ninit() read with ds alone. The IPv6 ones
 * res_ninit() allocated are freed first: res_nclose() only frees the
 * first nscount entries.
 */
static void
use_server(struct __res_state *st, const struct dns_server *ds)
{
	for (int i = 0; i < MAXNS; i++) {
		free(st->_u._ext.nsaddrs[i]);
		st->_u._ext.nsaddrs[i] = NULL;
	}
	memset(st->nsaddr_list, 0, sizeof(st->nsaddr_list));
	if (ds->family == AF_INET) {
		st->nsaddr_list[0] = ds->sin;
	} else {
		st->_u._ext.nsaddrs[0] = xmalloc(sizeof(ds->sin6));
		memcpy(st->_u._ext.nsaddrs[0], &ds->sin6, sizeof(ds->sin6));
	}
	st->nscount = 1;
}

static int
resolver_open(struct __res_state *st, const char *server, char *err, size_t errlen)
{
	struct dns_server ds;
	int override = server != NULL && server[0] != '\0';

	if (override && parse_server(server, &ds) != 0)
		return dns_server_check(server, err, errlen);
	memset(st, 0, sizeof(*st));
	if (res_ninit(st) != 0) {
		set_err(err, errlen, "res_ninit failed");
		return -1;
	}
	st->retrans = DNS_RETRANS_S;
	st->retry = DNS_RETRY;
	st->options |= RES_USE_EDNS0;
	st->options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (override)
		use_server(st, &ds);
	return 0;
}

/*
 * Labels of 1..63 bytes, 253 bytes at most, no spaces or control bytes:
 * nothing else can be a mail domain's _smtp._tls name.
 */
static int
name_ok(const char *name)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)name[i] <= 0x20 || name[i] == 0x7f)
			return 0;
		if (name[i] != '.')
			label++;
		else if (label == 0)
			return 0;
		else
			label = 0;
		if (label > 63)
			return 0;
	}
	return label > 0;
}

/*
 * Same DNS name, ignoring case and a trailing dot (ns_samename() is
 * deprecated). Both sides are in dn_expand()'s presentation form.
 */
static int
same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0 ? 1 : 0;
}

/*
 * Follows the CNAMEs of the answer section from name; cur gets the
 * end of the chain (name itself when there is none).
 */
static void
chase_cname(ns_msg *msg, const char *name, char *cur, size_t curlen)
{
	int count = ns_msg_count(*msg, ns_s_an);
	ns_rr rr;

	snprintf(cur, curlen, "%s", name);
	for (int hop = 0; hop < DNS_MAX_CNAME_HOPS; hop++) {
		int i;

		for (i = 0; i < count; i++) {
			if (ns_parserr(msg, ns_s_an, i, &rr) != 0 ||
			    ns_rr_type(rr) != ns_t_cname || ns_rr_class(rr) != ns_c_in ||
			    same_name(ns_rr_name(rr), cur) != 1)
				continue;
			if (dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), ns_rr_rdata(rr),
			    cur, (int)curlen) < 0)
				return;
			break;
		}
		if (i == count)
			return;
	}
}

/*
 * One TXT rdata: its character-strings joined, cut at the cap + 1.
 * Returns NULL when a string overruns the rdata.
 */
static char *
join_strings(const unsigned char *rd, size_t rdlen, int *cut)
{
	struct buf b;
	size_t off = 0;

	buf_init(&b, DNS_MAX_TXT_BYTES + 1);
	*cut = 0;
	while (off < rdlen) {
		size_t slen = rd[off++];

		if (slen > rdlen - off) {
			buf_free(&b);
			return NULL;
		}
		if (!*cut && buf_append(&b, rd + off, slen) != 0) {
			if (buf_append(&b, rd + off, b.max - b.len) != 0)
				abort();	/* fits by construction */
			*cut = 1;
		}
		off += slen;
	}
	if (buf_append(&b, "", 0) != 0)
		abort();
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\0')
			b.data[i] = 0x7f;
	return b.data;
}

static void
collect_txt(ns_msg *msg, const char *owner, struct txt_answer *ta)
{
	int count = ns_msg_count(*msg, ns_s_an), cut;
	ns_rr rr;
	char *rec;

	for (int i = 0; i < count; i++) {
		if (ns_parserr(msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_txt ||
		    ns_rr_class(rr) != ns_c_in || same_name(ns_rr_name(rr), owner) != 1)
			continue;
		if (ta->n == DNS_MAX_TXT_RECORDS) {
			ta->ignored++;
			continue;
		}
		rec = join_strings(ns_rr_rdata(rr), ns_rr_rdlen(rr), &cut);
		if (rec == NULL) {
			ta->malformed++;
			continue;
		}
		ta->cut += (size_t)cut;
		ta->records[ta->n++] = rec;
	}
}

/* Notes on caps hit, for the caller's log; empty when none. */
static void
note_caps(const struct txt_answer *ta, char *err, size_t errlen)
{
	struct buf b;
	int rc = 0;

	buf_init(&b, 256);
	rc |= buf_puts(&b, "");
	if (ta->ignored)
		rc |= buf_printf(&b, "; %zu TXT records beyond %d ignored", ta->ignored,
		    DNS_MAX_TXT_RECORDS);
	if (ta->cut)
		rc |= buf_printf(&b, "; %zu TXT records longer than %d bytes cut", ta->cut,
		    DNS_MAX_TXT_BYTES);
	if (ta->malformed)
		rc |= buf_printf(&b, "; %zu malformed TXT records skipped", ta->malformed);
	set_err(err, errlen, "%s", rc == 0 && b.len > 2 ? b.data + 2 : "");
	buf_free(&b);
}

static const char *
rcode_name(unsigned rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL",
	    "NXDOMAIN", "NOTIMP", "REFUSED" };

	return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : "error rcode";
}

/* res_nquery() failed: NXDOMAIN and NODATA are answers, the rest is not. */
static enum dns_result
query_failed(const struct __res_state *st, const unsigned char *ans, int saved_errno,
    const char *name, const char *via, char *err, size_t errlen)
{
	const HEADER *hp = (const HEADER *)(const void *)ans;

	switch (st->res_h_errno) {
	case HOST_NOT_FOUND:
		set_err(err, errlen, "%s: NXDOMAIN", name);
		return DNS_NODATA;
	case NO_DATA:
		set_err(err, errlen, "%s: no TXT record", name);
		return DNS_NODATA;
	}
	if (hp->qr)
		set_err(err, errlen, "%s: %s from %s", name, rcode_name(hp->rcode), via);
	else
		set_err(err, errlen, "%s: no answer from %s: %s", name, via,
		    saved_errno ? strerror(saved_errno) : "lookup failed");
	return DNS_TEMPFAIL;
}

/* The TXT records owned by the end of name's CNAME chain. */
static enum dns_result
read_answer(const unsigned char *ans, int len, const char *name, char ***records,
    size_t *n, char *err, size_t errlen)
{
	struct txt_answer ta;
	char owner[NS_MAXDNAME];
	ns_msg msg;

	if (ns_initparse(ans, len, &msg) != 0) {
		set_err(err, errlen, "%s: malformed answer", name);
		return DNS_TEMPFAIL;
	}
	memset(&ta, 0, sizeof(ta));
	ta.records = xcalloc(DNS_MAX_TXT_RECORDS, sizeof(*ta.records));
	chase_cname(&msg, name, owner, sizeof(owner));
	collect_txt(&msg, owner, &ta);
	if (ta.n == 0) {
		free(ta.records);
		set_err(err, errlen, "%s: no TXT record%s", name,
		    ta.malformed ? " (malformed ones skipped)" : "");
		return DNS_NODATA;
	}
	note_caps(&ta, err, errlen);
	*records = ta.records;
	*n = ta.n;
	return DNS_OK;
}

enum dns_result
dns_txt(const char *name, const char *server, char ***records, size_t *n,
    char *err, size_t errlen)
{
	struct __res_state st;
	const char *via = server != NULL && server[0] != '\0' ? server : "the system resolver";
	unsigned char *ans;
	enum dns_result res;
	int len, saved_errno;

	*records = NULL;
	*n = 0;
	set_err(err, errlen, "%s", "");
	if (!name_ok(name)) {
		set_err(err, errlen, "not a valid domain name");
		return DNS_NODATA;
	}
	if (resolver_open(&st, server, err, errlen) != 0)
		return DNS_TEMPFAIL;
	ans = xmalloc(DNS_ANSWER_MAX);
	memset(ans, 0, HFIXEDSZ);	/* tells "no answer" from an rcode */
	errno = 0;
	len = res_nquery(&st, name, ns_c_in, ns_t_txt, ans, DNS_ANSWER_MAX);
	saved_errno = errno;
	if (len < 0)
		res = query_failed(&st, ans, saved_errno, name, via, err, errlen);
	else
		res = read_answer(ans, len < DNS_ANSWER_MAX ? len : DNS_ANSWER_MAX, name,
		    records, n, err, errlen);
	free(ans);
	res_nclose(&st);
	return res;
}

void
dns_txt_free(char **records, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(records[i]);
	free(records);
}
