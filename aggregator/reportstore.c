/*
 * NAME
 *	reportstore - keep built reports in the outbound database
 * DESCRIPTION
 *	See reportstore.h. ON CONFLICT ... DO UPDATE names the table in
 *	its WHERE: PostgreSQL finds a bare column ambiguous there (excluded
 *	has the same columns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "gz.h"
#include "log.h"
#include "mem.h"
#include "report.h"
#include "reportstore.h"

static const char SQL_INSERT[] =
    "INSERT INTO report (day, report_domain, tlsrpt_record, report_id, json,"
    " gzip, policies, successful_sessions, failed_sessions, merged_details,"
    " created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (day, report_domain, tlsrpt_record) DO NOTHING";

static const char SQL_REPLACE[] =
    "INSERT INTO report (day, report_domain, tlsrpt_record, report_id, json,"
    " gzip, policies, successful_sessions, failed_sessions, merged_details,"
    " created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (day, report_domain, tlsrpt_record) DO UPDATE SET"
    " json = excluded.json, gzip = excluded.gzip, policies = excluded.policies,"
    " successful_sessions = excluded.successful_sessions,"
    " failed_sessions = excluded.failed_sessions,"
    " merged_details = excluded.merged_details, created_at = excluded.created_at"
    " WHERE report.state = 'pending'";

static const char SQL_EXISTS[] =
    "SELECT 1 FROM report WHERE day = ? AND report_domain = ? AND tlsrpt_record = ?";

static const char SQL_DAY_EXISTS[] = "SELECT 1 FROM report WHERE day = ? LIMIT 1";

struct reportstore {
	struct db *db;
	struct db_stmt *put, *exists, *day_exists;
	char day[16];		/* day of the last report put */
	int day_empty;		/* it had no reports before */
	int force;
	size_t max_bytes;
	struct buf json, gz;
	struct reportstore_stats st;
};

struct reportstore *
reportstore_open(struct db *db, int force, size_t max_bytes)
{
	struct reportstore *rs = xcalloc(1, sizeof(*rs));

	rs->db = db;
	rs->force = force;
	rs->max_bytes = max_bytes;
	if (db_prepare(db, force ? SQL_REPLACE : SQL_INSERT, &rs->put) != 0 ||
	    db_prepare(db, SQL_EXISTS, &rs->exists) != 0 ||
	    db_prepare(db, SQL_DAY_EXISTS, &rs->day_exists) != 0) {
		log_warnx("prepare: %s", db_errmsg(db));
		reportstore_close(rs);
		return NULL;
	}
	buf_init(&rs->json, max_bytes);
	buf_init(&rs->gz, max_bytes + 65536);
	return rs;
}

/* 1 found, 0 not, -1 error. */
static int
step_found(struct db_stmt *st)
{
	int rc = db_step(st);

	db_reset(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

/*
 * 1 found, 0 not, -1 error. A day without reports when its first one
 * comes (its first build, the common case) needs no look-up per report:
 * one round trip per report to a PostgreSQL server instead of two. A
 * report another aggregator stores meanwhile still meets ON CONFLICT.
 */
static int
exists(struct reportstore *rs, const struct day_report *r)
{
	int rc;

	if (strcmp(rs->day, r->day) != 0) {
		if (db_bind_text(rs->day_exists, 1, r->day, -1) != 0 ||
		    (rc = step_found(rs->day_exists)) < 0)
			return -1;
		snprintf(rs->day, sizeof(rs->day), "%s", r->day);
		rs->day_empty = rc == 0;
	}
	if (rs->day_empty)
		return 0;
	if (db_bind_text(rs->exists, 1, r->day, -1) != 0 ||
	    db_bind_text(rs->exists, 2, r->report_domain, -1) != 0 ||
	    db_bind_text(rs->exists, 3, r->record, -1) != 0)
		return -1;
	return step_found(rs->exists);
}

static int
bind_report(struct reportstore *rs, const struct day_report *r, size_t merged)
{
	struct db_stmt *st = rs->put;

	return db_bind_text(st, 1, r->day, -1) != 0 ||
	    db_bind_text(st, 2, r->report_domain, -1) != 0 ||
	    db_bind_text(st, 3, r->record, -1) != 0 ||
	    db_bind_text(st, 4, r->report_id, -1) != 0 ||
	    db_bind_text_static(st, 5, rs->json.data, (long)rs->json.len) != 0 ||
	    db_bind_blob(st, 6, rs->gz.data, rs->gz.len) != 0 ||
	    db_bind_int64(st, 7, (int64_t)r->policies) != 0 ||
	    db_bind_int64(st, 8, (int64_t)r->successes) != 0 ||
	    db_bind_int64(st, 9, (int64_t)r->failures) != 0 ||
	    db_bind_int64(st, 10, (int64_t)merged) != 0 ||
	    db_bind_int64(st, 11, (int64_t)time(NULL)) != 0 ? -1 : 0;
}

int
reportstore_put(struct reportstore *rs, struct day_report *r)
{
	size_t merged = 0;
	int existed = exists(rs, r);

	if (existed < 0) {
		log_warnx("%s %s: look up report: %s", r->day, r->report_domain,
		    db_errmsg(rs->db));
		return -1;
	}
	if (existed && !rs->force) {
		rs->st.kept++;
		return 0;
	}
	if (report_serialize(r->json, rs->max_bytes, &rs->json, &merged) != 0) {
		log_warnx("%s %s: report larger than report_max_bytes (%zu) even "
		    "with all failure details merged; not stored", r->day,
		    r->report_domain, rs->max_bytes);
		rs->st.too_big++;
		return 0;
	}
	if (merged > 0) {
		log_warnx("%s %s: merged %zu rare failure-details rows to stay under "
		    "report_max_bytes (%zu); session counts are exact", r->day,
		    r->report_domain, merged, rs->max_bytes);
		rs->st.merged_rows += merged;
	}
	if (gz_compress(rs->json.data, rs->json.len, &rs->gz) != 0) {
		log_warnx("%s %s: gzip failed", r->day, r->report_domain);
		return -1;
	}
	if (bind_report(rs, r, merged) != 0 || db_step_done(rs->put) != 0) {
		log_warnx("%s %s: store report: %s", r->day, r->report_domain,
		    db_errmsg(rs->db));
		return -1;
	}
	if (!existed && db_changes(rs->db) > 0)
		rs->st.inserted++;
	else if (!existed)
		rs->st.kept++;	/* another aggregator stored it meanwhile */
	else if (db_changes(rs->db) > 0)
		rs->st.replaced++;
	else {
		log_warnx("%s %s: report already handed to the sender; --force "
		    "does not rebuild it", r->day, r->report_domain);
		rs->st.kept++;
	}
	return 0;
}

const struct reportstore_stats *
reportstore_stats(const struct reportstore *rs)
{
	return &rs->st;
}

void
reportstore_close(struct reportstore *rs)
{
	if (rs == NULL)
		return;
	db_finalize(rs->put);
	db_finalize(rs->exists);
	db_finalize(rs->day_exists);
	buf_free(&rs->json);
	buf_free(&rs->gz);
	free(rs);
}
