/*
 * NAME
 *	inbound - store reports received from other organisations
 * DESCRIPTION
 *	See inbound.h. Three statements per report (report, policy,
 *	failure); the report row goes first with ON CONFLICT DO NOTHING, so
 *	a duplicate is seen before anything else is written.
 *
 *	Statements are prepared once per connection (SQLITE_PREPARE_
 *	PERSISTENT) and found again in the connection's own list of
 *	statements: compiling the SQL took as long as the inserts. They
 *	are finalized by store_close().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "day.h"
#include "inbound.h"
#include "store.h"

static const char SQL_REPORT[] =
    "INSERT INTO report (org, report_id, contact, day, start_at, end_at,"
    " received_at, source, submitter, peer, dkim, raw, raw_json, repairs,"
    " policies, successful_sessions, failed_sessions)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (org, report_id) DO NOTHING";

static const char SQL_POLICY[] =
    "INSERT INTO policy (report, idx, type, domain, strings, mx,"
    " successful_sessions, failed_sessions) VALUES (?,?,?,?,?,?,?,?)";

static const char SQL_FAILURE[] =
    "INSERT INTO failure (policy, result_type, sending_ip, mx_hostname,"
    " mx_helo, receiving_ip, additional_info, reason, count)"
    " VALUES (?,?,?,?,?,?,?,?,?)";

static const char SQL_COUNT[] =
    "INSERT INTO ingest_stat (name, value) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

static const char SQL_STAT[] = "SELECT value FROM ingest_stat WHERE name = ?";

struct stmts {
	sqlite3_stmt *report;
	sqlite3_stmt *policy;
	sqlite3_stmt *failure;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* NULL stays NULL in the database. */
static void
bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

/* A list of strings as a compact JSON array; NULL if not UTF-8. */
static char *
list_json(char *const *list, size_t n)
{
	json_t *a = json_array();
	char *s = NULL;
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(list[i])) != 0)
			break;
	if (a != NULL && i == n)
		s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

static int
check_args(const struct rp_report *r, const struct inbound_meta *m,
    char *err, size_t errlen)
{
	if (m->source == NULL || (strcmp(m->source, "https") != 0 &&
	    strcmp(m->source, "mail") != 0)) {
		errf(err, errlen, "source must be \"https\" or \"mail\"");
		return -1;
	}
	if (r->org == NULL || r->report_id == NULL || m->json == NULL ||
	    (m->raw == NULL && m->raw_len > 0)) {
		errf(err, errlen, "report without org, report-id or JSON text");
		return -1;
	}
	for (size_t i = 0; i < r->np; i++) {
		if (r->p[i].type == NULL) {
			errf(err, errlen, "policy %zu has no type", i);
			return -1;
		}
		for (size_t k = 0; k < r->p[i].nf; k++)
			if (r->p[i].f[k].result_type == NULL) {
				errf(err, errlen, "policy %zu failure %zu has no "
				    "result-type", i, k);
				return -1;
			}
	}
	return 0;
}

/*
 * The connection's statement for sql, reset, prepared on first use.
 * Callers use a connection from one thread at a time and reset what
 * they got before asking again.
 */
static sqlite3_stmt *
stmt(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	while ((st = sqlite3_next_stmt(db, st)) != NULL)
		if (!sqlite3_stmt_busy(st) && strcmp(sqlite3_sql(st), sql) == 0) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK)
		return NULL;
	return st;
}

static int
prepare(sqlite3 *db, struct stmts *st)
{
	if ((st->report = stmt(db, SQL_REPORT)) == NULL ||
	    (st->policy = stmt(db, SQL_POLICY)) == NULL ||
	    (st->failure = stmt(db, SQL_FAILURE)) == NULL)
		return -1;
	return 0;
}

static void
finalize(struct stmts *st)
{
	if (st->report)
		sqlite3_reset(st->report);
	if (st->policy)
		sqlite3_reset(st->policy);
	if (st->failure)
		sqlite3_reset(st->failure);
}

/* *id: the new row, or 0 when (org, report_id) was already there. */
static int
insert_report(sqlite3 *db, sqlite3_stmt *st, const struct rp_report *r,
    const struct inbound_meta *m, sqlite3_int64 *id)
{
	char day[DAY_LEN];
	int64_t ok, failed;

	day_format((time_t)r->start, day);
	rp_totals(r, &ok, &failed);
	bind_text(st, 1, r->org);
	bind_text(st, 2, r->report_id);
	bind_text(st, 3, r->contact);
	bind_text(st, 4, day);
	sqlite3_bind_int64(st, 5, r->start);
	sqlite3_bind_int64(st, 6, r->end);
	sqlite3_bind_int64(st, 7, m->received_at ? m->received_at :
	    (int64_t)time(NULL));
	bind_text(st, 8, m->source);
	bind_text(st, 9, m->submitter);
	bind_text(st, 10, m->peer);
	bind_text(st, 11, m->dkim);
	sqlite3_bind_blob64(st, 12, m->raw ? m->raw : "", m->raw_len, SQLITE_STATIC);
	sqlite3_bind_text64(st, 13, m->json, m->json_len, SQLITE_STATIC, SQLITE_UTF8);
	bind_text(st, 14, r->repairs ? r->repairs : "");
	sqlite3_bind_int64(st, 15, (sqlite3_int64)r->np);
	sqlite3_bind_int64(st, 16, ok);
	sqlite3_bind_int64(st, 17, failed);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -1;
	*id = sqlite3_changes(db) == 1 ? sqlite3_last_insert_rowid(db) : 0;
	return 0;
}

static int
insert_failure(sqlite3_stmt *st, sqlite3_int64 policy_id,
    const struct rp_failure *f)
{
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, policy_id);
	bind_text(st, 2, f->result_type);
	bind_text(st, 3, f->sending_ip);
	bind_text(st, 4, f->mx_hostname);
	bind_text(st, 5, f->mx_helo);
	bind_text(st, 6, f->receiving_ip);
	bind_text(st, 7, f->additional_info);
	bind_text(st, 8, f->reason);
	sqlite3_bind_int64(st, 9, f->count);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

static int
insert_policy(sqlite3 *db, struct stmts *st, sqlite3_int64 report_id,
    size_t idx, const struct rp_policy *p, char *err, size_t errlen)
{
	char *strings = list_json(p->strings, p->nstrings);
	char *mx = list_json(p->mx, p->nmx);
	sqlite3_int64 id;
	int rc = -1;

	if (strings == NULL || mx == NULL) {
		errf(err, errlen, "policy %zu: strings not UTF-8", idx);
		goto out;
	}
	sqlite3_reset(st->policy);
	sqlite3_bind_int64(st->policy, 1, report_id);
	sqlite3_bind_int64(st->policy, 2, (sqlite3_int64)idx);
	bind_text(st->policy, 3, p->type);
	bind_text(st->policy, 4, p->domain);
	bind_text(st->policy, 5, strings);
	bind_text(st->policy, 6, mx);
	sqlite3_bind_int64(st->policy, 7, p->successes);
	sqlite3_bind_int64(st->policy, 8, p->failures);
	if (sqlite3_step(st->policy) != SQLITE_DONE)
		goto sqlerr;
	id = sqlite3_last_insert_rowid(db);
	for (size_t k = 0; k < p->nf; k++)
		if (insert_failure(st->failure, id, &p->f[k]) != 0)
			goto sqlerr;
	rc = 0;
	goto out;
sqlerr:
	errf(err, errlen, "policy %zu: %s", idx, sqlite3_errmsg(db));
out:
	free(strings);
	free(mx);
	return rc;
}

int
inbound_store_tx(sqlite3 *db, const struct rp_report *r,
    const struct inbound_meta *m, int *duplicate, char *err, size_t errlen)
{
	struct stmts st = { NULL, NULL, NULL };
	sqlite3_int64 id;
	int rc = -1;

	*duplicate = 0;
	errf(err, errlen, "%s", "");
	if (check_args(r, m, err, errlen) != 0)
		return -1;
	if (sqlite3_get_autocommit(db)) {
		errf(err, errlen, "inbound_store_tx outside a transaction");
		return -1;
	}
	if (prepare(db, &st) != 0 || insert_report(db, st.report, r, m, &id) != 0) {
		errf(err, errlen, "report: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (id == 0) {
		*duplicate = 1;
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < r->np; i++)
		if (insert_policy(db, &st, id, i, &r->p[i], err, errlen) != 0)
			goto out;
	rc = 0;
out:
	finalize(&st);
	return rc;
}

int
inbound_store(sqlite3 *db, const struct rp_report *r,
    const struct inbound_meta *m, int *duplicate, char *err, size_t errlen)
{
	*duplicate = 0;
	errf(err, errlen, "%s", "");
	if (check_args(r, m, err, errlen) != 0)
		return -1;
	if (store_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
		return -1;
	if (inbound_store_tx(db, r, m, duplicate, err, errlen) != 0 ||
	    store_exec(db, "COMMIT", err, errlen) != 0) {
		store_rollback(db);
		return -1;
	}
	return 0;
}

static int
stat_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n >= 1 && n <= INBOUND_STAT_NAME_MAX &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

int
inbound_count(sqlite3 *db, const char *name, int64_t delta)
{
	sqlite3_stmt *st;
	int rc;

	if (!stat_name_ok(name) || (st = stmt(db, SQL_COUNT)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, delta);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

int
inbound_stat(sqlite3 *db, const char *name, int64_t *value)
{
	sqlite3_stmt *st;
	int rc;

	*value = 0;
	if (!stat_name_ok(name) ||
	    sqlite3_prepare_v2(db, SQL_STAT, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*value = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}
