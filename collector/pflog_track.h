/*
 * NAME
 *	pflog_track - pair Postfix TLS log lines with their delivery lines
 * SYNOPSIS
 *	struct pflog_track *t = pflog_track_new(&cfg, emit, arg);
 *	pflog_track_feed(t, &line, &event);	for every classified line
 *	pflog_track_finish(t);			pending sessions -> unmatched
 *	pflog_track_free(t);
 * DESCRIPTION
 *	Postfix <= 3.9 logs a TLS outcome with the smtp(8) process id and
 *	the server (host[addr]:port), but the recipient, and so the report
 *	domain, only in the delivery line ("QID: to=<r>, relay=h[a]:25,
 *	..., status=..."). One smtp(8) process handles one delivery request
 *	at a time, so every TLS outcome a process logs belongs to its next
 *	delivery line: the tracker keeps the outcomes per pid (one per
 *	connection, the last PF_MAX_PER_PID) and hands them to emit() with
 *	the recipient's domain when that line comes. The other recipients'
 *	lines of the same request find nothing left and emit nothing.
 *
 *	A failure that Postfix only states in the delivery line (TLS is
 *	required, but was not offered by host ...) becomes an outcome of
 *	the relay= server; a delivery reason about a session already known
 *	(Server certificate not verified) makes that session a failure.
 *
 *	Messages whose qmgr from= line names cfg->own_sender are our report
 *	mail: their sessions are dropped, so reports do not feed reports.
 * LIMITS
 *	cfg->max_pending smtp processes tracked at once (beyond that the
 *	least recently active of a sample of 32 is dropped); PF_MAX_PER_PID
 *	sessions per process; a process without a log line for
 *	cfg->timeout_s seconds of log time (checked 16 times per timeout) is
 *	dropped; the last PF_OWN_QIDS queue ids qmgr(8) activated for our own
 *	mail are remembered. Every session dropped without a delivery line
 *	counts as unmatched.
 */
#ifndef TLSRPTD_PFLOG_TRACK_H
#define TLSRPTD_PFLOG_TRACK_H

#include <stddef.h>

#include "pflog_parse.h"

#define PF_MAX_PER_PID 8
#define PF_OWN_QIDS 512
#define PF_DUP_WINDOW_S 60	/* other recipients' lines of one request */

/* Result codes counted: 201-205 and 301-306. */
#define PF_NCODES 11

struct pflog_config {
	long long timeout_s;
	size_t max_pending;
	const char *own_sender;	/* "" disables the report-loop check */
	int dane_verified;	/* "Verified" means DANE (tlsa policy) */
};

struct pflog_result {
	const char *domain;	/* report domain, lower case */
	long policy_type;	/* EV_POLICY_TLSA or EV_POLICY_NONE */
	const char *policy_domain;	/* MX host for tlsa, else domain */
	long code;		/* 0 for success */
	const char *mx_host;	/* "" when unknown */
	const char *ip;		/* "" when unknown */
	const char *reason;	/* "" for success */
};

struct pflog_counts {
	unsigned long long tls_lines;	/* lines that fed a session */
	unsigned long long emitted;	/* sessions handed to emit() */
	unsigned long long success;
	unsigned long long by_code[PF_NCODES];
	unsigned long long unmatched;	/* dropped without delivery line */
	unsigned long long own_mail;	/* sessions of our report mail */
	unsigned long long bad_domain;	/* recipient domain unusable */
};

typedef void pflog_emit_fn(void *arg, const struct pflog_result *r);

struct pflog_track;

struct pflog_track *pflog_track_new(const struct pflog_config *cfg,
    pflog_emit_fn *emit, void *arg);
void pflog_track_feed(struct pflog_track *t, const struct pflog_line *line,
    const struct pflog_event *ev);
void pflog_track_finish(struct pflog_track *t);
const struct pflog_counts *pflog_track_counts(const struct pflog_track *t);
void pflog_track_free(struct pflog_track *t);

/* Index into by_code[], or -1; and back. */
int pflog_code_index(long code);
long pflog_index_code(int index);

#endif
