/*
 * NAME
 *	reportstore - keep built reports in the outbound database
 * DESCRIPTION
 *	See reportstore.h.
 */
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
    " WHERE state = 'pending'";

static const char SQL_EXISTS[] =
    "SELECT 1 FROM report WHERE day = ? AND report_domain = ? AND tlsrpt_record = ?";

struct reportstore {
	sqlite3 *db;
	sqlite3_stmt *put, *exists;
	int force;
	size_t max_bytes;
	struct buf json, gz;
	struct reportstore_stats st;
};

struct reportstore *
reportstore_open(sqlite3 *db, int force, size_t max_bytes)
{
	struct reportstore *rs = xcalloc(1, sizeof(*rs));

	rs->db = db;
	rs->force = force;
	rs->max_bytes = max_bytes;
	if (sqlite3_prepare_v2(db, force ? SQL_REPLACE : SQL_INSERT, -1, &rs->put,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, SQL_EXISTS, -1, &rs->exists, NULL) != SQLITE_OK) {
		log_warnx("prepare: %s", sqlite3_errmsg(db));
		reportstore_close(rs);
		return NULL;
	}
	buf_init(&rs->json, max_bytes);
	buf_init(&rs->gz, max_bytes + 65536);
	return rs;
}

static int
exists(struct reportstore *rs, const struct day_report *r)
{
	int found;

	sqlite3_bind_text(rs->exists, 1, r->day, -1, SQLITE_STATIC);
	sqlite3_bind_text(rs->exists, 2, r->report_domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(rs->exists, 3, r->record, -1, SQLITE_STATIC);
	found = sqlite3_step(rs->exists) == SQLITE_ROW;
	sqlite3_reset(rs->exists);
	return found;
}

int
reportstore_put(struct reportstore *rs, struct day_report *r)
{
	sqlite3_stmt *st = rs->put;
	size_t merged = 0;
	int existed = exists(rs, r), rc;

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
	sqlite3_bind_text(st, 1, r->day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->report_domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->record, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->report_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, rs->json.data, (int)rs->json.len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, rs->gz.data, (int)rs->gz.len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)r->policies);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)r->successes);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)r->failures);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)merged);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s %s: store report: %s", r->day, r->report_domain,
		    sqlite3_errmsg(rs->db));
		return -1;
	}
	if (!existed)
		rs->st.inserted++;
	else if (sqlite3_changes(rs->db) > 0)
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
	sqlite3_finalize(rs->put);
	sqlite3_finalize(rs->exists);
	buf_free(&rs->json);
	buf_free(&rs->gz);
	free(rs);
}
