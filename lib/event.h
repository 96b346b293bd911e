/*
 * NAME
 *	event - the TLS session event: model and libtlsrpt datagram codec
 * SYNOPSIS
 *	struct ev_parser *p = ev_parser_new(max_datagram_bytes);
 *	const struct event *ev;
 *	struct ev_diag diag;
 *	if (ev_parse(p, buf, len, &ev, &diag) == EV_OK) ... use ev
 *	ev_encode(ev, &buf);		libtlsrpt byte layout
 * DESCRIPTION
 *	One datagram is one JSON object (PROTOCOL.md section 1). The parser
 *	is a single pass over the bytes with no allocation per datagram: it
 *	checks full JSON syntax, extracts the keys libtlsrpt writes, skips
 *	unknown keys, decodes strings into a per-parser arena and repairs
 *	bytes that are not UTF-8 (each such byte is read as ISO-8859-1, C1
 *	controls and lone surrogates become U+FFFD). The result is valid
 *	until the next ev_parse() on the same parser.
 *
 *	Errors are layered: a syntax error, a missing report domain or a
 *	missing policies array rejects the datagram; a policy that cannot
 *	be counted (no policy-type, no final result) is dropped and the
 *	rest kept; a malformed failure-details entry is dropped and its
 *	policy kept. ev->dropped_policies/dropped_failures count the parts
 *	and ev->part_error names the first reason.
 *
 *	Domains (d, policy-domain) are lower-cased and lose one trailing
 *	dot; a missing policy-domain defaults to d.
 * LIMITS
 *	EV_MAX_POLICIES per datagram, EV_MAX_STRINGS policy-string plus
 *	mx-host entries per datagram, EV_MAX_FAILURES failure-details per
 *	datagram, EV_MAX_DEPTH nesting, domains up to 253 bytes.
 */
#ifndef TLSRPTD_EVENT_H
#define TLSRPTD_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define EV_MAX_POLICIES 64
#define EV_MAX_STRINGS 1024
#define EV_MAX_FAILURES 256
#define EV_MAX_DEPTH 16
#define EV_MAX_DOMAIN 253

/* Numeric policy types and failure codes as libtlsrpt sends them. */
#define EV_POLICY_TLSA 1
#define EV_POLICY_STS 2
#define EV_POLICY_NONE 9

enum ev_error {
	EV_OK = 0,
	EV_ERR_EMPTY,		/* zero-length datagram */
	EV_ERR_SYNTAX,		/* not JSON, or truncated */
	EV_ERR_DEPTH,		/* nesting deeper than EV_MAX_DEPTH */
	EV_ERR_NOT_OBJECT,	/* top level is not an object */
	EV_ERR_TYPE,		/* a known member has the wrong JSON type */
	EV_ERR_RANGE,		/* a number is negative, fractional or huge */
	EV_ERR_MISSING,		/* a required member is missing */
	EV_ERR_DOMAIN,		/* a domain is empty, too long or has bad bytes */
	EV_ERR_DUPLICATE,	/* a known member appears twice */
	EV_ERR_LIMIT,		/* more policies/strings/failures than allowed */
	EV_ERR_NO_POLICIES,	/* policies missing, empty, or all dropped */
	EV_ERR_OVERSIZE,	/* larger than the receive limit (set by caller) */
	EV_ERR__COUNT
};

struct ev_str {
	const char *p;		/* NUL-terminated, valid UTF-8 */
	uint32_t len;
};

struct ev_failure {
	long code;		/* c; -1 when absent */
	struct ev_str sending_ip;	/* s */
	struct ev_str mx_hostname;	/* n */
	struct ev_str mx_helo;		/* h */
	struct ev_str receiving_ip;	/* r */
	struct ev_str additional_info;	/* a */
	struct ev_str reason;		/* f */
};

struct ev_policy {
	long type;		/* policy-type as sent */
	struct ev_str domain;	/* policy-domain, normalised, default d */
	const struct ev_str *strings;	/* policy-string */
	uint32_t nstrings;
	const struct ev_str *mx_hosts;	/* mx-host */
	uint32_t nmx_hosts;
	const struct ev_failure *failures;
	uint32_t nfailures;
	int failed;		/* f: 0 success, 1 failure */
	long t;			/* t as sent, -1 when absent, -2 when not a count */
};

struct event {
	struct ev_str dpv;	/* empty when absent */
	struct ev_str domain;	/* d, normalised */
	struct ev_str record;	/* pr, empty when absent */
	struct ev_policy policies[EV_MAX_POLICIES];
	uint32_t npolicies;
	uint32_t repaired_strings;	/* strings that were not valid UTF-8 */
	uint32_t dropped_policies;
	uint32_t dropped_failures;
	uint32_t t_mismatches;		/* t disagrees with failure-details */
	enum ev_error part_error;	/* first reason a part was dropped */
	struct ev_str strings[EV_MAX_STRINGS];
	uint32_t nstrings;
	struct ev_failure failures[EV_MAX_FAILURES];
	uint32_t nfailures;
};

struct ev_diag {
	size_t offset;		/* byte offset where the problem was found */
	const char *what;	/* static text, e.g. "expected ':'" */
};

struct ev_parser;

struct ev_parser *ev_parser_new(size_t max_datagram_bytes);
void ev_parser_free(struct ev_parser *p);
enum ev_error ev_parse(struct ev_parser *p, const char *data, size_t len,
    const struct event **out, struct ev_diag *diag)
    __attribute__((warn_unused_result));

/* Short stable name of an error, used in counters and logs. */
const char *ev_error_name(enum ev_error e);

/* RFC 8460 names; NULL for values outside the registry. */
const char *ev_policy_type_name(long type);
const char *ev_result_type_name(long code);
long ev_policy_type_from_name(const char *name);	/* -1 if unknown */
long ev_result_code_from_name(const char *name);	/* -1 if unknown */

/*
 * Writes the datagram for ev in libtlsrpt's byte layout (keys in its
 * order, `"key": "value"` strings, no other whitespace). Members with
 * empty strings are left out, as libtlsrpt leaves out NULL ones.
 * Returns -1 when out's cap is reached.
 */
int ev_encode(const struct event *ev, struct buf *out)
    __attribute__((warn_unused_result));

/* Appends p as the inside of a JSON string (no quotes), escaped as above. */
int ev_json_escape(struct buf *b, const char *p, size_t len)
    __attribute__((warn_unused_result));

#endif
