/*
 * NAME
 *	query_out - outbound reports and deliveries, status totals, series
 * DESCRIPTION
 *	See query.h. The outbound database belongs to the collector,
 *	aggregator and sender; we only read it. Its absence is a normal
 *	state (the ingest side may run alone), reported as "available":
 *	false with the reason rather than as an error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "day.h"
#include "query_int.h"

static const char SQL_OUT_REPORTS[] =
    "SELECT id, day, report_domain, report_id, state, policies AS policy_count,"
    " successful_sessions, failed_sessions,"
    QUERY_RATE("successful_sessions", "failed_sessions") " AS success_rate,"
    " merged_details, created_at AS \"created:time\", plan_attempts,"
    " plan_error FROM report"
    " WHERE (CAST(:domain AS TEXT) IS NULL OR report_domain = :domain)"
    " AND (CAST(:since AS TEXT) IS NULL OR day >= :since)"
    " AND (CAST(:until AS TEXT) IS NULL OR day <= :until)"
    " ORDER BY day DESC, report_domain, id LIMIT :limit";

/* next_attempt means something only while a delivery can still happen. */
static const char SQL_OUT_DELIVERIES[] =
    "SELECT uri, scheme, state, attempts,"
    " first_attempt_at AS \"first_attempt:time\","
    " CASE WHEN state IN ('pending', 'in-flight') THEN next_attempt_at END"
    " AS \"next_attempt:time\", last_error, response_code,"
    " delivered_at AS \"delivered:time\""
    " FROM delivery WHERE report = :id ORDER BY id";

static const char SQL_IN_TOTALS[] =
    "SELECT count(*) AS reports, count(DISTINCT org) AS organizations,"
    " (SELECT count(DISTINCT domain) FROM policy) AS policy_domains,"
    " min(day) AS first_day, max(day) AS last_day,"
    " max(received_at) AS \"last_received:time\","
    " coalesce(sum(successful_sessions), 0) AS successful_sessions,"
    " coalesce(sum(failed_sessions), 0) AS failed_sessions,"
    QUERY_RATE("sum(successful_sessions)", "sum(failed_sessions)")
    " AS success_rate FROM report";

static const char SQL_IN_STAT[] = "SELECT name, value FROM ingest_stat ORDER BY name";
static const char SQL_OUT_STATES[] = "SELECT state, count(*) FROM report GROUP BY state";
static const char SQL_DELIVERY_STATES[] =
    "SELECT state, count(*) FROM delivery GROUP BY state";
static const char SQL_COLLECTOR_DAY[] =
    "SELECT name, value FROM collector_stat WHERE day = :day ORDER BY name";
static const char SQL_COUNTERS_DAY[] =
    "SELECT coalesce(sum(successful_sessions), 0) AS successful_sessions,"
    " coalesce(sum(failed_sessions), 0) AS failed_sessions,"
    " count(DISTINCT report_domain) AS report_domains"
    " FROM policy_counter WHERE day = :day";

/*
 * The /metrics series. The largest groups are kept when there are more
 * than :limit (anyone can POST a report naming any domain), then sorted
 * by label for a stable output; groups counts them all.
 */
static const char SQL_SERIES_SESSIONS[] =
    "SELECT * FROM (SELECT coalesce(p.domain, '') AS policy_domain,"
    " r.org AS organization, sum(p.successful_sessions) AS successful,"
    " sum(p.failed_sessions) AS failed, count(*) OVER () AS groups"
    " FROM policy p JOIN report r ON r.id = p.report GROUP BY 1, 2"
    " ORDER BY sum(p.successful_sessions) + sum(p.failed_sessions) DESC, 1, 2"
    " LIMIT :limit) s ORDER BY policy_domain, organization";

static const char SQL_SERIES_FAILURES[] =
    "SELECT * FROM (SELECT coalesce(p.domain, '') AS policy_domain,"
    " r.org AS organization, f.result_type AS result_type,"
    " sum(f.count) AS sessions, count(*) OVER () AS groups"
    " FROM failure f JOIN policy p ON p.id = f.policy"
    " JOIN report r ON r.id = p.report GROUP BY 1, 2, 3"
    " ORDER BY sum(f.count) DESC, 1, 2, 3 LIMIT :limit) s"
    " ORDER BY policy_domain, organization, result_type";

static const char SQL_SERIES_ORGS[] =
    "SELECT * FROM (SELECT org AS organization, count(*) AS reports,"
    " max(received_at) AS last_received, count(*) OVER () AS groups"
    " FROM report GROUP BY org ORDER BY count(*) DESC, org LIMIT :limit) s"
    " ORDER BY organization";

static const char *const report_states[] = {
	"pending", "delivered", "failed", "no-destination", NULL,
};
static const char *const delivery_states[] = {
	"pending", "in-flight", "delivered", "failed", NULL,
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static enum query_rc
step_fail(struct db *db, struct db_stmt *st, char *err, size_t errlen)
{
	enum query_rc rc = query_db_error(db, err, errlen);

	db_finalize(st);
	return rc;
}

/* Adds the deliveries of every report row; the statement is reused. */
static enum query_rc
add_deliveries(struct db *db, json_t *reports, char *err, size_t errlen)
{
	struct db_stmt *st;
	json_t *r, *list;
	enum query_rc qrc;
	size_t i;
	int rc;

	qrc = query_prepare(db, SQL_OUT_DELIVERIES, NULL, 0, &st, err, errlen);
	if (qrc != QUERY_OK)
		return qrc;
	json_array_foreach(reports, i, r) {
		db_reset(st);
		(void)db_bind_int64(st, 1, json_integer_value(json_object_get(r, "id")));
		list = json_array();
		json_object_set_new(r, "deliveries", list);
		while ((rc = db_step(st)) == DB_ROW)
			json_array_append_new(list, query_row(st));
		if (rc != DB_DONE)
			return step_fail(db, st, err, errlen);
	}
	db_finalize(st);
	return QUERY_OK;
}

enum query_rc
query_outbound(struct query *q, const struct query_filter *f, json_t **out,
    char *err, size_t errlen)
{
	long limit = query_limit(f);
	struct db_stmt *st;
	struct db *db;
	json_t *rows;
	enum query_rc rc;
	int truncated = 0;

	*out = NULL;
	if ((rc = query_filter_check(f, err, errlen)) != QUERY_OK ||
	    (rc = query_lock(q, QUERY_OUTBOUND, &db, err, errlen)) != QUERY_OK)
		return rc;
	rows = json_array();
	rc = query_prepare(db, SQL_OUT_REPORTS, f, limit + 1, &st, err, errlen);
	if (rc == QUERY_OK)
		rc = query_collect(db, st, rows, err, errlen);
	if (rc == QUERY_OK && (truncated = json_array_size(rows) > (size_t)limit))
		json_array_remove(rows, (size_t)limit);
	if (rc == QUERY_OK)
		rc = add_deliveries(db, rows, err, errlen);
	query_unlock(q, QUERY_OUTBOUND);
	if (rc != QUERY_OK) {
		json_decref(rows);
		return rc;
	}
	*out = json_pack("{s:o, s:b}", "rows", rows, "truncated", truncated);
	return *out ? QUERY_OK : QUERY_FAULT;
}

/* First row of a one-row statement as an object, or "name -> value" pairs. */
static enum query_rc
fetch(struct db *db, const char *sql, const char *day, int pairs, json_t *into,
    char *err, size_t errlen)
{
	struct db_stmt *st;
	enum query_rc qrc;
	int rc, i;

	if ((qrc = query_prepare(db, sql, NULL, 0, &st, err, errlen)) != QUERY_OK)
		return qrc;
	if ((i = db_param_index(st, ":day")) > 0)
		(void)db_bind_text(st, i, day, -1);
	while ((rc = db_step(st)) == DB_ROW) {
		json_t *row;

		if (pairs) {
			const char *name = db_column_text(st, 0);

			if (name != NULL)
				json_object_set_new(into, name,
				    json_integer(db_column_int64(st, 1)));
			continue;
		}
		row = query_row(st);
		json_object_update(into, row);
		json_decref(row);
	}
	if (rc != DB_DONE)
		return step_fail(db, st, err, errlen);
	db_finalize(st);
	return QUERY_OK;
}

static json_t *
zero_states(const char *const *names)
{
	json_t *o = json_object();

	for (size_t i = 0; names[i] != NULL; i++)
		json_object_set_new(o, names[i], json_integer(0));
	return o;
}

/* A side that cannot be read is a state to show, not an error. */
static enum query_rc
unavailable(json_t *into, const char *why)
{
	json_object_clear(into);
	json_object_set_new(into, "available", json_false());
	json_object_set_new(into, "reason", json_string(why));
	return QUERY_OK;
}

static enum query_rc
inbound_status(struct query *q, json_t *into, char *err, size_t errlen)
{
	json_t *stat;
	struct db *db;
	enum query_rc rc;
	char why[512];

	if (query_lock(q, QUERY_INBOUND, &db, why, sizeof(why)) != QUERY_OK)
		return unavailable(into, why);
	stat = json_object();
	json_object_set_new(into, "available", json_true());
	json_object_set_new(into, "ingest", stat);
	if ((rc = fetch(db, SQL_IN_TOTALS, NULL, 0, into, why, sizeof(why))) == QUERY_OK)
		rc = fetch(db, SQL_IN_STAT, NULL, 1, stat, why, sizeof(why));
	query_unlock(q, QUERY_INBOUND);
	if (rc == QUERY_UNAVAILABLE)
		return unavailable(into, why);
	if (rc != QUERY_OK)
		errf(err, errlen, "%s", why);
	return rc;
}

static enum query_rc
outbound_status(struct query *q, json_t *into, char *err, size_t errlen)
{
	json_t *reports = zero_states(report_states);
	json_t *deliveries = zero_states(delivery_states);
	json_t *collector = json_object(), *counters = json_object();
	char day[DAY_LEN], why[512];
	enum query_rc rc;
	struct db *db;

	json_object_set_new(into, "reports", reports);
	json_object_set_new(into, "deliveries", deliveries);
	json_object_set_new(into, "collector", collector);
	json_object_set_new(collector, "counters", counters);
	if (query_lock(q, QUERY_OUTBOUND, &db, why, sizeof(why)) != QUERY_OK)
		return unavailable(into, why);
	json_object_set_new(into, "available", json_true());
	day_format(time(NULL), day);
	json_object_set_new(collector, "day", json_string(day));
	rc = fetch(db, SQL_OUT_STATES, NULL, 1, reports, why, sizeof(why));
	if (rc == QUERY_OK)
		rc = fetch(db, SQL_DELIVERY_STATES, NULL, 1, deliveries, why,
		    sizeof(why));
	if (rc == QUERY_OK)
		rc = fetch(db, SQL_COLLECTOR_DAY, day, 1, counters, why, sizeof(why));
	if (rc == QUERY_OK)
		rc = fetch(db, SQL_COUNTERS_DAY, day, 0, collector, why, sizeof(why));
	query_unlock(q, QUERY_OUTBOUND);
	if (rc == QUERY_UNAVAILABLE)
		return unavailable(into, why);
	if (rc != QUERY_OK)
		errf(err, errlen, "%s", why);
	return rc;
}

enum query_rc
query_status(struct query *q, json_t **out, char *err, size_t errlen)
{
	json_t *in = json_object(), *ob = json_object();
	enum query_rc rc;

	*out = json_pack("{s:o, s:o}", "inbound", in, "outbound", ob);
	if ((rc = inbound_status(q, in, err, errlen)) == QUERY_OK)
		rc = outbound_status(q, ob, err, errlen);
	if (rc != QUERY_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* {"rows": [...], "dropped": n}; the groups column becomes dropped. */
static enum query_rc
series(struct db *db, const char *sql, json_t **out, char *err, size_t errlen)
{
	json_t *rows = json_array(), *row;
	struct db_stmt *st;
	json_int_t groups = 0;
	enum query_rc rc;
	size_t i;

	*out = NULL;
	rc = query_prepare(db, sql, NULL, QUERY_MAX_SERIES, &st, err, errlen);
	if (rc == QUERY_OK)
		rc = query_collect(db, st, rows, err, errlen);
	if (rc != QUERY_OK) {
		json_decref(rows);
		return rc;
	}
	json_array_foreach(rows, i, row) {
		groups = json_integer_value(json_object_get(row, "groups"));
		json_object_del(row, "groups");
	}
	*out = json_pack("{s:o, s:I}", "rows", rows, "dropped",
	    (json_int_t)(groups - (json_int_t)json_array_size(rows)));
	return QUERY_OK;
}

enum query_rc
query_series(struct query *q, json_t **out, char *err, size_t errlen)
{
	json_t *sessions = NULL, *failures = NULL, *orgs = NULL;
	struct db *db;
	enum query_rc rc;

	*out = NULL;
	if ((rc = query_lock(q, QUERY_INBOUND, &db, err, errlen)) != QUERY_OK)
		return rc;
	if ((rc = series(db, SQL_SERIES_SESSIONS, &sessions, err, errlen)) == QUERY_OK &&
	    (rc = series(db, SQL_SERIES_FAILURES, &failures, err, errlen)) == QUERY_OK)
		rc = series(db, SQL_SERIES_ORGS, &orgs, err, errlen);
	query_unlock(q, QUERY_INBOUND);
	if (rc == QUERY_OK)
		*out = json_pack("{s:O, s:O, s:O}", "sessions", sessions,
		    "failures", failures, "organizations", orgs);
	json_decref(sessions);
	json_decref(failures);
	json_decref(orgs);
	return rc;
}
