/*
 * NAME
 *	query - read-only queries over the inbound and outbound databases
 * SYNOPSIS
 *	struct query *q = query_open(inbound_path, outbound_path, busy_ms);
 *	struct query_filter f = { .domain = "example.com", .limit = 50 };
 *	json_t *out;
 *	if (query_reports(q, &f, &out, err, sizeof(err)) == QUERY_OK) ...
 *	json_decref(out);
 *	query_close(q);
 * DESCRIPTION
 *	Shared by tlsrptctl and the dashboard's JSON API, so both say the
 *	same thing: every list query returns {"rows": [...], "truncated":
 *	bool} with one object per row (truncated: the limit was reached).
 *	Times are ISO 8601 UTC strings; success_rate is successful /
 *	(successful + failed), null when both are 0. Session sums add up
 *	the policies of a report, so a reporter that counts the same
 *	sessions under sts and tlsa (Microsoft) is counted twice.
 *
 *	A database is a SQLite file or a postgresql:// URI (lib/db). The
 *	databases are opened read-only (db_open_readonly(): never created
 *	or migrated here) on first use, and again on every later call
 *	while they cannot be: the outbound database may appear after the
 *	daemon starts. "" as a path means not configured. Each connection
 *	is used under its own mutex, so one handle serves many threads.
 *
 *	Filters: domain is the policy domain (inbound) or the report domain
 *	(outbound); org the organization-name (inbound only); since and
 *	until are inclusive UTC days YYYY-MM-DD of the report's start;
 *	limit 0 means QUERY_DEFAULT_LIMIT, at most QUERY_MAX_LIMIT.
 *	Domain and org are at most QUERY_MAX_TEXT bytes; NULL or "" match
 *	anything.
 *
 *	query_report() returns one inbound report with its policies, each
 *	with its failure-details, and raw_json (the JSON text as parsed).
 *	query_report_raw() returns that text alone, malloc'd.
 *	query_status() gives totals for a dashboard header and /metrics:
 *	inbound counts and ingest_stat; outbound report and delivery counts
 *	per state and the collector's counters of the current UTC day.
 *	query_series() gives the labelled sums /metrics exposes, at most
 *	QUERY_MAX_SERIES rows each (dropped counts how many were left out).
 * DIAGNOSTICS
 *	Every function returns a query_rc; on anything but QUERY_OK, *out
 *	is NULL and err says why in one line.
 */
#ifndef TLSRPTD_QUERY_H
#define TLSRPTD_QUERY_H

#include <stddef.h>
#include <jansson.h>

#define QUERY_DEFAULT_LIMIT	1000
#define QUERY_MAX_LIMIT		100000
#define QUERY_MAX_TEXT		512
#define QUERY_MAX_SERIES	5000

enum query_rc {
	QUERY_OK,
	QUERY_BAD_FILTER,	/* 400 */
	QUERY_NOT_FOUND,	/* 404 */
	QUERY_UNAVAILABLE,	/* database missing, not ours, server gone: 503 */
	QUERY_FAULT,		/* database error: 500 */
};

struct query_filter {
	const char *domain;
	const char *org;
	const char *since;
	const char *until;
	long limit;
};

struct query;

struct query *query_open(const char *inbound_path, const char *outbound_path,
    long busy_timeout_ms);
void query_close(struct query *q);
enum query_rc query_filter_check(const struct query_filter *f, char *err,
    size_t errlen) __attribute__((warn_unused_result));

/* Inbound: reports other organisations sent about our domains. */
enum query_rc query_domains(struct query *q, const struct query_filter *f,
    json_t **out, char *err, size_t errlen) __attribute__((warn_unused_result));
enum query_rc query_reports(struct query *q, const struct query_filter *f,
    json_t **out, char *err, size_t errlen) __attribute__((warn_unused_result));
enum query_rc query_summary(struct query *q, const struct query_filter *f,
    json_t **out, char *err, size_t errlen) __attribute__((warn_unused_result));
enum query_rc query_failures(struct query *q, const struct query_filter *f,
    json_t **out, char *err, size_t errlen) __attribute__((warn_unused_result));
enum query_rc query_report(struct query *q, long long id, json_t **out,
    char *err, size_t errlen) __attribute__((warn_unused_result));
enum query_rc query_report_raw(struct query *q, long long id, char **out,
    size_t *len, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Outbound: the reports we built and where their delivery stands. */
enum query_rc query_outbound(struct query *q, const struct query_filter *f,
    json_t **out, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Both sides, for the dashboard header and /metrics. */
enum query_rc query_status(struct query *q, json_t **out, char *err,
    size_t errlen) __attribute__((warn_unused_result));
enum query_rc query_series(struct query *q, json_t **out, char *err,
    size_t errlen) __attribute__((warn_unused_result));

#endif
