/*
 * NAME
 *	inbound - store reports received from other organisations
 * SYNOPSIS
 *	struct db *db;
 *	struct inbound_meta m = {
 *		.source = "mail", .submitter = "google.com",
 *		.peer = "209.85.128.1", .dkim = "pass",
 *		.raw = gz, .raw_len = gzlen,		as received
 *		.json = json, .json_len = jsonlen,	as given to rp_parse()
 *	};
 *	int dup;
 *
 *	db_open(target, "inbound", busy_timeout_ms, &db, err, sizeof(err));
 *	inbound_count(db, "received", 1);
 *	if (inbound_store(db, &report, &m, &dup, err, sizeof(err)) != 0)
 *		... database error, err says why; nothing was stored
 *	inbound_count(db, dup ? "duplicates" : "stored", 1);
 * DESCRIPTION
 *	The inbound database (schema/inbound/, or schema/pg-inbound/ for
 *	a postgresql:// target; lib/db) holds one row per report with its
 *	policies and failure-details rows beneath it, plus the ingest_stat
 *	counters.
 *
 *	inbound_store() writes a parsed report (rparse.h) and what the
 *	front end knows about its arrival in one write transaction
 *	(db_begin()). Reports are deduplicated on (organization-name,
 *	report-id): when that pair is already stored, nothing changes,
 *	*duplicate is 1 and the call succeeds; a duplicate is not an error,
 *	so it never spoils the caller's transaction (after any error a
 *	PostgreSQL transaction refuses everything else). Report ids are
 *	given out only to reports stored, on both engines, so that a run
 *	numbers its reports alike on either. It does not touch the
 *	counters, so that a
 *	duplicate really changes nothing; callers count. Policy strings
 *	and mx patterns are stored as compact JSON arrays. received_at 0
 *	means now. source must be "https" or "mail"; submitter, peer and
 *	dkim may be NULL.
 *
 *	inbound_store_tx() is the same inside the caller's transaction
 *	(db_begin() ... db_commit() around many reports: one commit for a
 *	batch). When it fails, what it wrote of the report is not undone:
 *	the caller must roll the transaction back. (A savepoint per report
 *	would undo just that one, but cost 15% of the daemon's CPU: SQLite
 *	copies every page already changed in the transaction to a statement
 *	journal, and spills that to a temporary file.)
 *
 *	inbound_count() adds delta to the counter name (created at 0);
 *	names are 1 to 64 of [a-z0-9_]. inbound_stat() reads one (0 when
 *	it was never counted). Both work inside or outside a transaction.
 * DIAGNOSTICS
 *	inbound_store() returns 0 or -1 with one line in err (the
 *	database's message, or what is wrong with the arguments); on -1 the
 *	transaction is rolled back, so a failure half-way leaves nothing.
 *	It fails when called inside an open transaction. inbound_count()
 *	and inbound_stat() return 0 or -1 (bad name, database error).
 */
#ifndef TLSRPTD_INBOUND_H
#define TLSRPTD_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "rparse.h"

#define INBOUND_STAT_NAME_MAX	64

struct inbound_meta {
	const char *source;		/* "https" or "mail" */
	const char *submitter;		/* TLS-Report-Submitter, or NULL */
	const char *peer;		/* client or relay, free text, or NULL */
	const char *dkim;		/* DKIM verdict for mail, or NULL */
	const void *raw;		/* the bytes as received */
	size_t raw_len;
	const char *json;		/* the JSON text that was parsed */
	size_t json_len;
	int64_t received_at;		/* Unix seconds; 0: now */
};

int inbound_store(struct db *db, const struct rp_report *r,
    const struct inbound_meta *m, int *duplicate, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int inbound_store_tx(struct db *db, const struct rp_report *r,
    const struct inbound_meta *m, int *duplicate, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int inbound_count(struct db *db, const char *name, int64_t delta)
    __attribute__((warn_unused_result));
int inbound_stat(struct db *db, const char *name, int64_t *value)
    __attribute__((warn_unused_result));

#endif
