/*
 * NAME
 *	dns - TXT lookup through the system stub resolver (libresolv)
 * SYNOPSIS
 *	char **recs;
 *	size_t n;
 *	char err[256];
 *
 *	switch (dns_txt("_smtp._tls.example.com", server, &recs, &n, err,
 *	    sizeof(err))) {
 *	case DNS_OK:       ... recs[0..n), err may hold a note
 *	                   dns_txt_free(recs, n);
 *	case DNS_NODATA:   ... the name has no TXT record
 *	case DNS_TEMPFAIL: ... try again later
 *	}
 *	if (dns_server_check(server, err, sizeof(err)) != 0) ... config error
 * DESCRIPTION
 *	dns_txt() asks for the TXT records of name with res_nquery(), in a
 *	private resolver state (res_ninit/res_nclose per call), so any
 *	number of threads may call it at once. The query goes to the
 *	servers of /etc/resolv.conf when server is NULL or empty, else to
 *	server only: "host[:port]" with an IPv4 literal ("192.0.2.1",
 *	"127.0.0.1:5353") or an IPv6 literal ("::1", "[::1]",
 *	"[2001:db8::1]:5353"; no %scope). The port defaults to 53. Each try
 *	waits 2 s, with 2 tries per server; EDNS0 is on so large answers
 *	come in one UDP datagram, and the resolver retries over TCP when
 *	the answer is truncated. The name is queried as given: no search
 *	list. CNAMEs are followed by the recursive server; of its answer,
 *	only the TXT records owned by the end of the CNAME chain that
 *	starts at name are used.
 *
 *	The character-strings of one TXT record are joined with no
 *	separator (RFC 8460 section 3; dnsmasq, for one, splits a record at
 *	its commas). Bytes are kept as they are, so that txt_parse()
 *	rejects what it must, with one exception: a NUL byte becomes 0x7f
 *	(DEL) so that the record stays one C string and still fails the
 *	parser instead of being cut short.
 * DIAGNOSTICS
 *	DNS_NODATA: NXDOMAIN, no TXT record, or a name that cannot exist.
 *	DNS_TEMPFAIL: SERVFAIL, REFUSED, timeout, network error, a bad
 *	server string, a malformed answer. err holds one line naming the
 *	query and the server. On DNS_OK err is empty unless a cap was hit.
 *	dns_server_check() returns 0 or -1 with err set.
 * BUGS
 *	Caps: the first DNS_MAX_TXT_RECORDS records are kept and the rest
 *	ignored (noted in err). A record longer than DNS_MAX_TXT_BYTES
 *	after joining is cut to DNS_MAX_TXT_BYTES + 1 bytes rather than
 *	dropped (noted in err): it still counts in txt_select(), so an
 *	over-long second TLSRPT record cannot make the first one look
 *	unique, and txt_parse() rejects it as too long.
 */
#ifndef TLSRPTD_DNS_H
#define TLSRPTD_DNS_H

#include <stddef.h>

#define DNS_MAX_TXT_RECORDS	16
#define DNS_MAX_TXT_BYTES	4096	/* same as TXT_MAX_RECORD_BYTES */

enum dns_result {
	DNS_OK,
	DNS_NODATA,		/* NXDOMAIN or no TXT record */
	DNS_TEMPFAIL,		/* SERVFAIL, timeout, network */
};

enum dns_result dns_txt(const char *name, const char *server, char ***records,
    size_t *n, char *err, size_t errlen) __attribute__((warn_unused_result));
void dns_txt_free(char **records, size_t n);
int dns_server_check(const char *server, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
