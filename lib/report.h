/*
 * NAME
 *	report - build RFC 8460 aggregate reports
 * SYNOPSIS
 *	json_t *r = report_new(org, contact, report_id, "2026-11-23", end_inclusive);
 *	json_t *p = report_add_policy(r, "sts", "example.com", strings, mx, ok, failed);
 *	report_add_failure(p, "certificate-expired", &detail, count);
 *	report_serialize(r, max_bytes, &out, &merged);
 *	json_decref(r);
 * DESCRIPTION
 *	The report is a jansson object built in RFC order. Empty optional
 *	members are left out, never written as null: policy-string and
 *	mx-host when empty, failure-details when there are none, and each
 *	failure field that is empty.
 *
 *	report_serialize() writes compact JSON. When that is larger than
 *	max_bytes it merges the least frequent failure-details rows, half of
 *	them per round: rows with the same policy and result-type are summed
 *	into one row that keeps only the fields they share and says in
 *	failure-reason-code how many rows it stands for. Session counts stay
 *	exact. *merged tells how many rows were merged away.
 */
#ifndef TLSRPTD_REPORT_H
#define TLSRPTD_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "buf.h"

struct report_detail {
	const char *sending_ip;
	const char *mx_hostname;
	const char *mx_helo;
	const char *receiving_ip;
	const char *additional_info;
	const char *reason;
};

json_t *report_new(const char *org, const char *contact, const char *report_id,
    const char *day, int end_inclusive);
/* strings and mx: JSON arrays of strings, may be NULL or empty; stolen. */
json_t *report_add_policy(json_t *report, const char *type, const char *domain,
    json_t *strings, json_t *mx, uint64_t successes, uint64_t failures);
void report_add_failure(json_t *policy, const char *result_type,
    const struct report_detail *d, uint64_t count);
int report_serialize(json_t *report, size_t max_bytes, struct buf *out,
    size_t *merged) __attribute__((warn_unused_result));

/*
 * Checks our identity settings: all three set, and contact-info an
 * address at the submitter domain (RFC 8460 4.4). -1 with err set.
 */
int report_check_identity(const char *org, const char *contact,
    const char *submitter, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* "2026-11-23" -> "2026-11-23T00:00:00Z" and the end of that day. */
int report_date_range(const char *day, int end_inclusive, char start[21],
    char end[21]) __attribute__((warn_unused_result));

#endif
