/*
 * NAME
 *	dayreports - turn one UTC day of collector counters into reports
 * SYNOPSIS
 *	struct build_opts o = { org, contact, submitter, end_inclusive };
 *	rc = dayreports_build(db, "2026-11-22", NULL, &o, callback, arg, &stats);
 * DESCRIPTION
 *	Reads policy_counter and failure_counter rows of the day in two
 *	ordered streams and merges them into one RFC 8460 report per (report
 *	domain, TLSRPT record); each report is handed to the callback, which
 *	owns nothing (the json is freed after it returns). only_domain, when
 *	not NULL, limits the build to that report domain.
 *
 *	Both statements run in one read transaction of db (db_begin_read),
 *	so they see the same counters even while the collector writes.
 *
 *	Rows whose policy type is outside RFC 8460 (libtlsrpt numbers other
 *	than 1, 2, 9) cannot be written into a report: they are skipped and
 *	counted. Failure codes outside the registry become validation-failure
 *	with the raw code in failure-reason-code.
 */
#ifndef TLSRPTD_DAYREPORTS_H
#define TLSRPTD_DAYREPORTS_H

#include <jansson.h>
#include <stdint.h>

#include "db.h"

struct build_opts {
	const char *org;
	const char *contact;
	const char *submitter;
	int end_inclusive;
};

struct day_report {
	const char *day;
	const char *report_domain;
	const char *record;
	char report_id[512];
	json_t *json;
	size_t policies;
	uint64_t successes, failures;
};

struct build_stats {
	size_t reports;
	size_t skipped_policies;	/* unknown policy type */
	size_t unknown_codes;		/* mapped to validation-failure */
};

typedef int (*day_report_cb)(struct day_report *r, void *arg);

int dayreports_build(struct db *db, const char *day, const char *only_domain,
    const struct build_opts *o, day_report_cb cb, void *arg,
    struct build_stats *st) __attribute__((warn_unused_result));

/* The stable report-id for (day, domain, record), usable as a msg-id. */
void dayreports_id(const char *day, const char *domain, const char *record,
    const char *submitter, char *out, size_t outlen);

#endif
