/*
 * NAME
 *	inbound - store reports received from other organisations
 * DESCRIPTION
 *	See inbound.h. The statements of a report: report, policy,
 *	failure; the report row goes first, so a duplicate is seen before
 *	anything else is written. Its (org, report_id) is looked up first:
 *	PostgreSQL takes an identity value before it sees a conflict, so ON
 *	CONFLICT alone would leave a gap in the ids at every duplicate. ON
 *	CONFLICT DO NOTHING stays for writers that race; RETURNING gives
 *	the new row's id (no row: a duplicate). (One INSERT ... SELECT ...
 *	WHERE NOT EXISTS would save PostgreSQL the round trip, but SQLite
 *	runs a SELECT that reads the table it fills through a temporary
 *	table, at a cost that grows with the table: 4.7 million
 *	instructions a report at 1000 reports, against 0.2 million.)
 *
 *	Statements are prepared once per connection and found again in the
 *	connection's own list of statements (db_next_stmt()): compiling the
 *	SQL took as long as the inserts. They are finalized by db_close().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "day.h"
#include "inbound.h"

static const char SQL_EXISTS[] =
    "SELECT 1 FROM report WHERE org = ? AND report_id = ?";

static const char SQL_REPORT[] =
    "INSERT INTO report (org, report_id, contact, day, start_at, end_at,"
    " received_at, source, submitter, peer, dkim, raw, raw_json, repairs,"
    " policies, successful_sessions, failed_sessions)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (org, report_id) DO NOTHING RETURNING id";

static const char SQL_POLICY[] =
    "INSERT INTO policy (report, idx, type, domain, strings, mx,"
    " successful_sessions, failed_sessions) VALUES (?,?,?,?,?,?,?,?)"
    " RETURNING id";

static const char SQL_FAILURE[] =
    "INSERT INTO failure (policy, result_type, sending_ip, mx_hostname,"
    " mx_helo, receiving_ip, additional_info, reason, count)"
    " VALUES (?,?,?,?,?,?,?,?,?)";

static const char SQL_COUNT[] =
    "INSERT INTO ingest_stat (name, value) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = ingest_stat.value + excluded.value";

static const char SQL_STAT[] = "SELECT value FROM ingest_stat WHERE name = ?";

struct stmts {
	struct db_stmt *exists;
	struct db_stmt *report;
	struct db_stmt *policy;
	struct db_stmt *failure;
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

/*
 * NULL stays NULL in the database. The text must stay valid until the
 * statement is reset: the caller's report, or literals.
 */
static void
bind_text(struct db_stmt *st, int col, const char *s)
{
	if (s == NULL)
		(void)db_bind_null(st, col);
	else
		(void)db_bind_text_static(st, col, s, -1);
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
static struct db_stmt *
stmt(struct db *db, const char *sql)
{
	struct db_stmt *st = NULL;

	while ((st = db_next_stmt(db, st)) != NULL)
		if (!db_stmt_busy(st) && strcmp(db_stmt_sql(st), sql) == 0) {
			db_reset(st);
			db_clear_bindings(st);
			return st;
		}
	if (db_prepare(db, sql, &st) != 0)
		return NULL;
	return st;
}

static int
prepare(struct db *db, struct stmts *st)
{
	if ((st->exists = stmt(db, SQL_EXISTS)) == NULL ||
	    (st->report = stmt(db, SQL_REPORT)) == NULL ||
	    (st->policy = stmt(db, SQL_POLICY)) == NULL ||
	    (st->failure = stmt(db, SQL_FAILURE)) == NULL)
		return -1;
	return 0;
}

static void
finalize(struct stmts *st)
{
	if (st->exists)
		db_reset(st->exists);
	if (st->report)
		db_reset(st->report);
	if (st->policy)
		db_reset(st->policy);
	if (st->failure)
		db_reset(st->failure);
}

/* *id: the new row, or 0 when (org, report_id) was already there. */
static int
insert_report(const struct stmts *sts, const struct rp_report *r,
    const struct inbound_meta *m, int64_t *id)
{
	struct db_stmt *st = sts->report;
	char day[DAY_LEN];
	int64_t ok, failed;
	int rc;

	*id = 0;
	bind_text(sts->exists, 1, r->org);
	bind_text(sts->exists, 2, r->report_id);
	rc = db_step(sts->exists);
	db_reset(sts->exists);
	if (rc != DB_DONE)
		return rc == DB_ROW ? 0 : -1;
	day_format((time_t)r->start, day);
	rp_totals(r, &ok, &failed);
	bind_text(st, 1, r->org);
	bind_text(st, 2, r->report_id);
	bind_text(st, 3, r->contact);
	(void)db_bind_text(st, 4, day, -1);
	(void)db_bind_int64(st, 5, r->start);
	(void)db_bind_int64(st, 6, r->end);
	(void)db_bind_int64(st, 7, m->received_at ? m->received_at :
	    (int64_t)time(NULL));
	bind_text(st, 8, m->source);
	bind_text(st, 9, m->submitter);
	bind_text(st, 10, m->peer);
	bind_text(st, 11, m->dkim);
	(void)db_bind_blob(st, 12, m->raw ? m->raw : "", m->raw_len);
	if (db_bind_text_static(st, 13, m->json, (long)m->json_len) != 0)
		return -1;
	bind_text(st, 14, r->repairs ? r->repairs : "");
	(void)db_bind_int64(st, 15, (int64_t)r->np);
	(void)db_bind_int64(st, 16, ok);
	(void)db_bind_int64(st, 17, failed);
	if ((rc = db_step(st)) == DB_ROW)
		*id = db_column_int64(st, 0);
	db_reset(st);
	return rc == DB_ERROR ? -1 : 0;
}

static int
insert_failure(struct db_stmt *st, int64_t policy_id, const struct rp_failure *f)
{
	db_reset(st);
	(void)db_bind_int64(st, 1, policy_id);
	bind_text(st, 2, f->result_type);
	bind_text(st, 3, f->sending_ip);
	bind_text(st, 4, f->mx_hostname);
	bind_text(st, 5, f->mx_helo);
	bind_text(st, 6, f->receiving_ip);
	bind_text(st, 7, f->additional_info);
	bind_text(st, 8, f->reason);
	(void)db_bind_int64(st, 9, f->count);
	return db_step_done(st);
}

/* The new policy row's id, or 0 on error. */
static int64_t
insert_policy_row(struct db_stmt *st, int64_t report_id, size_t idx,
    const struct rp_policy *p, const char *strings, const char *mx)
{
	int64_t id = 0;

	db_reset(st);
	(void)db_bind_int64(st, 1, report_id);
	(void)db_bind_int64(st, 2, (int64_t)idx);
	bind_text(st, 3, p->type);
	bind_text(st, 4, p->domain);
	(void)db_bind_text(st, 5, strings, -1);
	(void)db_bind_text(st, 6, mx, -1);
	(void)db_bind_int64(st, 7, p->successes);
	(void)db_bind_int64(st, 8, p->failures);
	if (db_step(st) == DB_ROW)
		id = db_column_int64(st, 0);
	db_reset(st);
	return id;
}

static int
insert_policy(struct db *db, struct stmts *st, int64_t report_id,
    size_t idx, const struct rp_policy *p, char *err, size_t errlen)
{
	char *strings = list_json(p->strings, p->nstrings);
	char *mx = list_json(p->mx, p->nmx);
	int64_t id;
	int rc = -1;

	if (strings == NULL || mx == NULL) {
		errf(err, errlen, "policy %zu: strings not UTF-8", idx);
		goto out;
	}
	if ((id = insert_policy_row(st->policy, report_id, idx, p, strings, mx)) == 0)
		goto dberr;
	for (size_t k = 0; k < p->nf; k++)
		if (insert_failure(st->failure, id, &p->f[k]) != 0)
			goto dberr;
	rc = 0;
	goto out;
dberr:
	errf(err, errlen, "policy %zu: %s", idx, db_errmsg(db));
out:
	free(strings);
	free(mx);
	return rc;
}

int
inbound_store_tx(struct db *db, const struct rp_report *r,
    const struct inbound_meta *m, int *duplicate, char *err, size_t errlen)
{
	struct stmts st = { NULL, NULL, NULL, NULL };
	int64_t id;
	int rc = -1;

	*duplicate = 0;
	errf(err, errlen, "%s", "");
	if (check_args(r, m, err, errlen) != 0)
		return -1;
	if (!db_in_transaction(db)) {
		errf(err, errlen, "inbound_store_tx outside a transaction");
		return -1;
	}
	if (prepare(db, &st) != 0 || insert_report(&st, r, m, &id) != 0) {
		errf(err, errlen, "report: %s", db_errmsg(db));
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
inbound_store(struct db *db, const struct rp_report *r,
    const struct inbound_meta *m, int *duplicate, char *err, size_t errlen)
{
	*duplicate = 0;
	errf(err, errlen, "%s", "");
	if (check_args(r, m, err, errlen) != 0)
		return -1;
	/* PostgreSQL would only warn at a nested BEGIN: refuse it here. */
	if (db_in_transaction(db)) {
		errf(err, errlen, "inbound_store called within a transaction");
		return -1;
	}
	if (db_begin(db) != 0) {
		errf(err, errlen, "%s", db_errmsg(db));
		return -1;
	}
	if (inbound_store_tx(db, r, m, duplicate, err, errlen) != 0) {
		db_rollback(db);
		return -1;
	}
	if (db_commit(db) != 0) {
		errf(err, errlen, "%s", db_errmsg(db));
		db_rollback(db);
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
inbound_count(struct db *db, const char *name, int64_t delta)
{
	struct db_stmt *st;

	if (!stat_name_ok(name) || (st = stmt(db, SQL_COUNT)) == NULL)
		return -1;
	bind_text(st, 1, name);
	(void)db_bind_int64(st, 2, delta);
	return db_step_done(st);
}

int
inbound_stat(struct db *db, const char *name, int64_t *value)
{
	struct db_stmt *st;
	int rc;

	*value = 0;
	if (!stat_name_ok(name) || (st = stmt(db, SQL_STAT)) == NULL)
		return -1;
	bind_text(st, 1, name);
	rc = db_step(st);
	if (rc == DB_ROW)
		*value = db_column_int64(st, 0);
	db_reset(st);
	return rc == DB_ROW || rc == DB_DONE ? 0 : -1;
}
