/*
 * NAME
 *	pflog_parse - recognise the Postfix (<= 3.9) log texts about TLS
 * SYNOPSIS
 *	struct pflog_line line;
 *	struct pflog_event ev;
 *	if (pflog_line_split(text, now, &line) == 0 &&
 *	    pflog_classify(&line, &ev) == 0) ... ev.kind
 * DESCRIPTION
 *	pflog_classify() recognises the smtp(8) and qmgr(8) texts the
 *	adapter needs (Postfix 3.7 wording, see postfix-log.c for the
 *	table) and copies their fields into bounded buffers. Host names
 *	keep only [A-Za-z0-9.-_], addresses must parse as IPv4 or IPv6,
 *	free text is cut at PF_REASON_MAX and control bytes become '?'.
 * DIAGNOSTICS
 *	-1 for a line it does not recognise; that is never an error for
 *	the caller, only a line to skip.
 */
#ifndef TLSRPTD_PFLOG_PARSE_H
#define TLSRPTD_PFLOG_PARSE_H

#include "pflog_line.h"

#define PF_HOST_MAX 253		/* DNS name */
#define PF_IP_MAX 45		/* INET6_ADDRSTRLEN - 1 */
#define PF_QID_MAX 31		/* long queue ids are 15-20 bytes */
#define PF_ADDR_MAX 320		/* local@domain, RFC 5321 limits */
#define PF_REASON_MAX 200	/* failure-reason-code text */

enum pflog_kind {
	PF_NONE,
	PF_TLS_ESTABLISHED,	/* summary line of a new TLS session */
	PF_VERIFY_FAILED,	/* "certificate verification failed for" */
	PF_HANDSHAKE_ERROR,	/* "SSL_connect error to" */
	PF_TLS_LIBRARY,		/* "warning: TLS library problem:" */
	PF_TLSA_UNUSABLE,	/* "all TLSA records unusable" */
	PF_DANE_MATCHED,	/* "Matched DANE" (smtp_tls_loglevel >= 2) */
	PF_POLICY_LOOKUP,	/* "warning: TLS policy lookup for d/h:" */
	PF_QUEUE_REASON,	/* "QID: text", a skipped MX host */
	PF_DELIVERY,		/* "QID: to=<...>, relay=..., status=" */
	PF_QUEUE_FROM,		/* qmgr "QID: from=<...>, size=" */
};

/* Summary line levels, weakest first. */
enum pflog_level {
	PF_LEVEL_NONE,
	PF_LEVEL_ANONYMOUS,
	PF_LEVEL_UNTRUSTED,
	PF_LEVEL_TRUSTED,
	PF_LEVEL_VERIFIED,
};

/* Pseudo code: "Server certificate not verified" needs the session. */
#define PF_CODE_NOT_VERIFIED 1

struct pflog_event {
	enum pflog_kind kind;
	enum pflog_level level;
	char host[PF_HOST_MAX + 1];	/* MX host, empty when unknown */
	char ip[PF_IP_MAX + 1];		/* its address, empty when unknown */
	char qid[PF_QID_MAX + 1];
	char addr[PF_ADDR_MAX + 1];	/* to= or from= address */
	long code;			/* result code, 0 when not TLS */
	int dane;			/* the failure belongs to a DANE policy */
	int relay_none;			/* delivery with relay=none */
	char reason[PF_REASON_MAX + 1];
};

int pflog_classify(const struct pflog_line *line, struct pflog_event *ev)
    __attribute__((warn_unused_result));

/*
 * Maps a delivery status or skipped-host text (what Postfix puts in
 * "status=deferred (...)") to a result code, or 0 when it is not about
 * TLS; fills ev->host/ip when the text names the server, ev->reason.
 */
long pflog_reason_code(const char *text, struct pflog_event *ev);

#endif
