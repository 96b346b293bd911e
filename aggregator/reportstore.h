/*
 * NAME
 *	reportstore - keep built reports in the outbound database
 * SYNOPSIS
 *	struct reportstore *rs = reportstore_open(db, force, max_bytes);
 *	reportstore_put(rs, report);	inside the caller's transaction
 *	reportstore_close(rs);
 * DESCRIPTION
 *	Serialises (with the size cap), gzips once and inserts a report.
 *	An existing report for the same (day, domain, record) is kept as it
 *	is, so re-running a day changes nothing; with force, a report the
 *	sender has not delivered yet (state pending) is replaced.
 *
 *	Two aggregators may build the same day at once (PostgreSQL shared by
 *	several hosts): the UNIQUE (day, report_domain, tlsrpt_record) and
 *	ON CONFLICT keep one report; the later insert waits for the earlier
 *	transaction and then counts the report as kept.
 */
#ifndef TLSRPTD_REPORTSTORE_H
#define TLSRPTD_REPORTSTORE_H

#include "db.h"
#include "dayreports.h"

struct reportstore_stats {
	size_t inserted, replaced, kept, merged_rows, too_big;
};

struct reportstore;

struct reportstore *reportstore_open(struct db *db, int force, size_t max_bytes);
int reportstore_put(struct reportstore *rs, struct day_report *r)
    __attribute__((warn_unused_result));
const struct reportstore_stats *reportstore_stats(const struct reportstore *rs);
void reportstore_close(struct reportstore *rs);

#endif
