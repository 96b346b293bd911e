/*
 * NAME
 *	accept - take one received report: sniff, inflate, parse, store
 * SYNOPSIS
 *	struct acceptor *a = acceptor_open(&limits, target, busy_ms, err, errlen);
 *	r = acceptor_body(a, body, len, content_type, &meta, why, whylen);
 *	acceptor_close(a);
 * DESCRIPTION
 *	Shared by the HTTPS endpoint and the mail path. The bytes decide
 *	what they are, not the Content-Type: gzip magic is inflated (with a
 *	cap: a zip bomb costs at most max_inflated bytes), text starting
 *	with '{' is JSON. The JSON is parsed tolerantly (lib/rparse) and
 *	stored with the raw bytes in the inbound database (lib/inbound;
 *	target is a SQLite file or a postgresql:// URI, lib/db),
 *	deduplicated on (organization-name, report-id). Every outcome bumps
 *	a counter in ingest_stat. Thread-safe: one database connection
 *	behind a mutex.
 *
 *	A server that must not wait for the database splits the work:
 *	acceptor_prepare() does everything acceptor_body() does before the
 *	write (a refusal comes back at once: NULL and *r), and
 *	acceptor_submit() queues the parsed report for the writer thread
 *	(acceptor_start_writer(), once), which stores whatever is waiting
 *	in one transaction and then calls done(arg, result, why) for each
 *	report, from its own thread; acceptor_store() stores a prepared
 *	report at once instead. Both take the job over. acceptor_close()
 *	lets the writer finish the queue first.
 *
 *	accept_decode() is the part of acceptor_prepare() that needs no
 *	database (tests and tests/fuzz call it): it sniffs body, inflates
 *	gzip into json (json->max is the inflate cap; a JSON body replaces
 *	json with a copy capped at its own length) and parses the JSON
 *	into *r. ACCEPT_STORED means *r is filled (rp_free() it); any other
 *	result leaves *r empty, with the reason in why and the ingest_stat
 *	counter to bump in counter ("" when none). buf_free(json) after
 *	either.
 */
#ifndef TLSRPTD_ACCEPT_H
#define TLSRPTD_ACCEPT_H

#include <stddef.h>

enum accept_result {
	ACCEPT_STORED,
	ACCEPT_DUPLICATE,
	ACCEPT_MALFORMED,	/* not a report: 400, EX_DATAERR */
	ACCEPT_TOO_BIG,		/* inflates beyond the cap: 413 */
	ACCEPT_UNSUPPORTED,	/* neither gzip nor JSON, foreign type: 415 */
	ACCEPT_FAULT,		/* our fault (database): 500, EX_TEMPFAIL */
};

struct accept_limits {
	size_t max_inflated_bytes;
	int max_json_depth;
};

struct accept_meta {
	const char *source;	/* "https" or "mail" */
	const char *peer;	/* client address or mail From */
	const char *dkim;	/* DKIM verdict text for mail, NULL otherwise */
	const char *submitter;	/* TLS-Report-Submitter of a mail, or NULL */
	const char *how;	/* where in the message the report was found */
};

struct acceptor;
struct accept_job;
struct buf;
struct rp_report;
typedef void accept_done_fn(void *arg, enum accept_result r, const char *why);

struct acceptor *acceptor_open(const struct accept_limits *lim,
    const char *target, long busy_timeout_ms, char *err, size_t errlen);
void acceptor_close(struct acceptor *a);
enum accept_result acceptor_body(struct acceptor *a, const void *body,
    size_t len, const char *content_type, const struct accept_meta *meta,
    char *why, size_t whylen);
/* For the mail path: JSON already extracted, raw = the whole message. */
enum accept_result acceptor_json(struct acceptor *a, const char *json,
    size_t len, const void *raw, size_t rawlen, const struct accept_meta *meta,
    char *why, size_t whylen);
int acceptor_start_writer(struct acceptor *a, char *err, size_t errlen)
    __attribute__((warn_unused_result));
struct accept_job *acceptor_prepare(struct acceptor *a, const void *body,
    size_t len, const char *content_type, const struct accept_meta *meta,
    enum accept_result *r, char *why, size_t whylen);
void acceptor_submit(struct acceptor *a, struct accept_job *job,
    accept_done_fn *done, void *arg);
enum accept_result acceptor_store(struct acceptor *a, struct accept_job *job,
    char *why, size_t whylen);
/* Writes the counters summed in memory (at most a second old otherwise). */
void acceptor_flush(struct acceptor *a);
/* Counts a rejection that never reached acceptor_body (e.g. 413, 405). */
void acceptor_count(struct acceptor *a, const char *name);
const char *accept_result_name(enum accept_result r);
enum accept_result accept_decode(const struct accept_limits *lim,
    const void *body, size_t len, const char *content_type, struct buf *json,
    struct rp_report *r, char *counter, size_t counterlen, char *why,
    size_t whylen);

#endif
