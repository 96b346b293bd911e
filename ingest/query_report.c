/*
 * NAME
 *	query_report - one received report in full
 * DESCRIPTION
 *	See query.h: query_report() and query_report_raw(). Three small
 *	statements (the report, its policies, their failure details) under
 *	one lock, so the answer is one consistent snapshot.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "query_int.h"

static const char SQL_REPORT_ONE[] =
    "SELECT id, org AS organization, report_id, contact, day,"
    " start_at AS \"start:time\", end_at AS \"end:time\","
    " received_at AS \"received:time\", source, submitter, peer, dkim,"
    " length(raw) AS raw_bytes, repairs, policies AS policy_count,"
    " successful_sessions, failed_sessions,"
    QUERY_RATE("successful_sessions", "failed_sessions") " AS success_rate,"
    " raw_json FROM report WHERE id = :id";

static const char SQL_REPORT_POLICIES[] =
    "SELECT id, idx, type AS policy_type, domain AS policy_domain,"
    " strings AS \"policy_strings:json\", mx AS \"mx_hosts:json\","
    " successful_sessions, failed_sessions"
    " FROM policy WHERE report = :id ORDER BY idx";

static const char SQL_REPORT_FAILURES[] =
    "SELECT f.policy AS policy, f.result_type AS result_type,"
    " f.sending_ip AS sending_mta_ip, f.mx_hostname AS receiving_mx_hostname,"
    " f.mx_helo AS receiving_mx_helo, f.receiving_ip AS receiving_ip,"
    " f.additional_info AS additional_information,"
    " f.reason AS failure_reason_code, f.count AS failed_session_count"
    " FROM failure f JOIN policy p ON p.id = f.policy"
    " WHERE p.report = :id ORDER BY p.idx, f.id";

static const char SQL_REPORT_RAW[] = "SELECT raw_json FROM report WHERE id = :id";

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

/* All rows of a statement bound to one :id. */
static enum query_rc
rows_by_id(struct db *db, const char *sql, long long id, json_t **rows,
    char *err, size_t errlen)
{
	struct db_stmt *st;
	enum query_rc rc;

	*rows = json_array();
	if ((rc = query_prepare(db, sql, NULL, 0, &st, err, errlen)) != QUERY_OK)
		return rc;
	(void)db_bind_int64(st, db_param_index(st, ":id"), id);
	return query_collect(db, st, *rows, err, errlen);
}

/* Hangs each failure under its policy (matched on the policy row id). */
static void
nest_failures(json_t *policies, json_t *failures)
{
	size_t i, k;
	json_t *p, *f;

	json_array_foreach(policies, i, p)
		json_object_set_new(p, "failure_details", json_array());
	json_array_foreach(failures, k, f) {
		json_int_t pid = json_integer_value(json_object_get(f, "policy"));

		json_array_foreach(policies, i, p)
			if (json_integer_value(json_object_get(p, "id")) == pid)
				json_array_append(json_object_get(p, "failure_details"), f);
		json_object_del(f, "policy");
	}
	json_array_foreach(policies, i, p)
		json_object_del(p, "id");
}

enum query_rc
query_report(struct query *q, long long id, json_t **out, char *err,
    size_t errlen)
{
	json_t *meta = NULL, *policies = NULL, *failures = NULL;
	struct db *db;
	enum query_rc rc;

	*out = NULL;
	if ((rc = query_lock(q, QUERY_INBOUND, &db, err, errlen)) != QUERY_OK)
		return rc;
	rc = rows_by_id(db, SQL_REPORT_ONE, id, &meta, err, errlen);
	if (rc == QUERY_OK)
		rc = rows_by_id(db, SQL_REPORT_POLICIES, id, &policies, err, errlen);
	if (rc == QUERY_OK)
		rc = rows_by_id(db, SQL_REPORT_FAILURES, id, &failures, err, errlen);
	query_unlock(q, QUERY_INBOUND);
	if (rc == QUERY_OK && json_array_size(meta) == 0) {
		errf(err, errlen, "no report %lld", id);
		rc = QUERY_NOT_FOUND;
	}
	if (rc == QUERY_OK) {
		nest_failures(policies, failures);
		*out = json_incref(json_array_get(meta, 0));
		json_object_set(*out, "policies", policies);
	}
	json_decref(meta);
	json_decref(policies);
	json_decref(failures);
	return rc;
}

enum query_rc
query_report_raw(struct query *q, long long id, char **out, size_t *len,
    char *err, size_t errlen)
{
	struct db_stmt *st;
	struct db *db;
	enum query_rc rc;
	int step;

	*out = NULL;
	*len = 0;
	if ((rc = query_lock(q, QUERY_INBOUND, &db, err, errlen)) != QUERY_OK)
		return rc;
	rc = query_prepare(db, SQL_REPORT_RAW, NULL, 0, &st, err, errlen);
	if (rc != QUERY_OK) {
		query_unlock(q, QUERY_INBOUND);
		return rc;
	}
	(void)db_bind_int64(st, 1, id);
	if ((step = db_step(st)) == DB_ROW) {
		const void *text = db_column_blob(st, 0);

		*len = db_column_bytes(st, 0);
		*out = xmalloc(*len + 1);
		if (*len > 0)
			memcpy(*out, text, *len);
		(*out)[*len] = '\0';
	} else if (step == DB_DONE) {
		errf(err, errlen, "no report %lld", id);
		rc = QUERY_NOT_FOUND;
	} else {
		rc = query_db_error(db, err, errlen);
	}
	db_finalize(st);
	query_unlock(q, QUERY_INBOUND);
	return rc;
}
