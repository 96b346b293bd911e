/*
 * NAME
 *	metrics - /metrics in the Prometheus text format 0.0.4
 * SYNOPSIS
 *	struct buf b;
 *	buf_init(&b, cap);
 *	if (metrics_text(q, &b, err, sizeof(err)) != 0) ... 500
 * DESCRIPTION
 *	Everything is read from the databases at each scrape (query.h):
 *
 *	tlsrpt_database_available{database}		gauge, 1 or 0
 *	tlsrpt_inbound_reports_total{organization}	counter
 *	tlsrpt_inbound_last_report_received_timestamp_seconds{organization}
 *	tlsrpt_inbound_sessions_total{policy_domain,organization,result}
 *	    counter; result is "success" or "failure"
 *	tlsrpt_inbound_failures_total{policy_domain,organization,result_type}
 *	tlsrpt_metrics_series_dropped{metric}		gauge: series left
 *	    out beyond QUERY_MAX_SERIES per metric (largest kept)
 *	tlsrpt_ingest_received_total			counter
 *	tlsrpt_ingest_requests_total{outcome}		counter: stored,
 *	    duplicate, store_error, rejected_<reason>, from ingest_stat
 *	tlsrpt_outbound_reports{state}			gauge, every state
 *	tlsrpt_outbound_deliveries{state}		gauge, every state
 *	tlsrpt_collector_events_total{counter}		counter: the
 *	    collector's counters of the current UTC day (collector_stat is
 *	    kept per day and pruned by retention, so a running total would
 *	    drop; this one resets at 00:00 UTC, which rate() and increase()
 *	    read as a counter reset, as after a restart)
 *
 *	Inbound sums cover every stored report; the ingest counters lag
 *	by what the acceptor still holds in memory (it writes them at most
 *	once a second, when the next report arrives, and at exit). Label
 *	values are escaped (backslash, double quote, newline); a policy
 *	domain the reporter left out is "". Families of a database that is
 *	not available are left out, apart from tlsrpt_database_available.
 * DIAGNOSTICS
 *	Returns 0, or -1 with err on a database error or when the text
 *	would exceed the buffer's cap.
 */
#ifndef TLSRPTD_METRICS_H
#define TLSRPTD_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "query.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

int metrics_text(struct query *q, struct buf *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
