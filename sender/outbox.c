/*
 * NAME
 *	outbox - delivery state of reports in the outbound database
 * DESCRIPTION
 *	See outbox.h. The statements are in the dialect SQLite and
 *	PostgreSQL share (lib/db.h); integers are bound as 64-bit, which
 *	matches the BIGINT columns of the PostgreSQL schema. A transaction
 *	that failed halfway is rolled back at once: PostgreSQL would refuse
 *	everything after the error anyway.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "mem.h"
#include "outbox.h"

enum {
	S_RECOVER, S_UNPLANNED, S_ADD, S_NODEST, S_LATER, S_DUE, S_CLAIM,
	S_DELIVERED, S_REPORT_DELIVERED, S_ATTEMPTS, S_RETRY, S_GIVEUP,
	S_REPORT_FAILED, S__COUNT
};

static const char *const sql[S__COUNT] = {
	[S_RECOVER] = "UPDATE delivery SET state = 'pending', next_attempt_at = ?1"
	    " WHERE state = 'in-flight'",
	[S_UNPLANNED] = "SELECT id, report_domain, tlsrpt_record, day, plan_attempts"
	    " FROM report r WHERE state = 'pending' AND plan_next_at <= ?1"
	    " AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.report = r.id)"
	    " ORDER BY id",
	[S_ADD] = "INSERT INTO delivery (report, uri, scheme, target, next_attempt_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (report, uri) DO NOTHING",
	[S_NODEST] = "UPDATE report SET state = 'no-destination', plan_error = ?2"
	    " WHERE id = ?1",
	[S_LATER] = "UPDATE report SET plan_attempts = ?2, plan_next_at = ?3,"
	    " plan_error = ?4 WHERE id = ?1",
	[S_DUE] = "SELECT d.id, d.report, d.scheme, d.target, d.uri, d.attempts,"
	    " r.report_id, r.report_domain, r.day, r.gzip"
	    " FROM delivery d JOIN report r ON r.id = d.report"
	    " WHERE d.state = 'pending' AND d.next_attempt_at <= ?1"
	    " ORDER BY d.next_attempt_at, d.id LIMIT ?2",
	[S_CLAIM] = "UPDATE delivery SET state = 'in-flight', attempts = attempts + 1,"
	    " first_attempt_at = coalesce(first_attempt_at, ?2)"
	    " WHERE id = ?1 AND state = 'pending'",
	[S_DELIVERED] = "UPDATE delivery SET state = 'delivered', delivered_at = ?2,"
	    " response_code = ?3, response_excerpt = ?4, last_error = ''"
	    " WHERE id = ?1",
	[S_REPORT_DELIVERED] = "UPDATE report SET state = 'delivered' WHERE id ="
	    " (SELECT report FROM delivery WHERE id = ?1) AND state <> 'delivered'",
	[S_ATTEMPTS] = "SELECT attempts, first_attempt_at, report FROM delivery"
	    " WHERE id = ?1",
	[S_RETRY] = "UPDATE delivery SET state = 'pending', next_attempt_at = ?2,"
	    " last_error = ?3, response_code = ?4, response_excerpt = ?5 WHERE id = ?1",
	[S_GIVEUP] = "UPDATE delivery SET state = 'failed', last_error = ?2,"
	    " response_code = ?3, response_excerpt = ?4 WHERE id = ?1",
	[S_REPORT_FAILED] = "UPDATE report SET state = 'failed' WHERE id = ?1"
	    " AND state = 'pending' AND NOT EXISTS (SELECT 1 FROM delivery"
	    " WHERE report = ?1 AND state <> 'failed')",
};

struct outbox {
	struct db *db;
	struct db_stmt *st[S__COUNT];
	struct backoff bo;
};

struct outbox *
outbox_open(struct db *db, const struct backoff *bo)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));

	ob->db = db;
	ob->bo = *bo;
	for (int i = 0; i < S__COUNT; i++)
		if (db_prepare(db, sql[i], &ob->st[i]) != 0) {
			log_warnx("prepare: %s", db_errmsg(db));
			outbox_close(ob);
			return NULL;
		}
	return ob;
}

void
outbox_close(struct outbox *ob)
{
	if (ob == NULL)
		return;
	for (int i = 0; i < S__COUNT; i++)
		db_finalize(ob->st[i]);
	free(ob);
}

/*
 * Binders that remember the first failure in *ok, so that a statement
 * is bound in one run of calls and checked once, in run().
 */
static void
bind_int(struct outbox *ob, int which, int i, int64_t v, int *ok)
{
	if (db_bind_int64(ob->st[which], i, v) != 0)
		*ok = 0;
}

static void
bind_text(struct outbox *ob, int which, int i, const char *v, int *ok)
{
	if (db_bind_text(ob->st[which], i, v ? v : "", -1) != 0)
		*ok = 0;
}

/* Steps a statement that returns no rows, then resets it. */
static int
run(struct outbox *ob, int which, int ok)
{
	int rc = ok ? db_step_done(ob->st[which]) : -1;

	db_clear_bindings(ob->st[which]);
	if (rc != 0) {
		log_warnx("outbox: %s", db_errmsg(ob->db));
		return -1;
	}
	return 0;
}

static int
begin(struct outbox *ob)
{
	if (db_begin(ob->db) != 0) {
		log_warnx("outbox: BEGIN: %s", db_errmsg(ob->db));
		return -1;
	}
	return 0;
}

static int
commit(struct outbox *ob)
{
	if (db_commit(ob->db) != 0) {
		log_warnx("outbox: COMMIT: %s", db_errmsg(ob->db));
		db_rollback(ob->db);
		return -1;
	}
	return 0;
}

int
outbox_recover(struct outbox *ob)
{
	int ok = 1;

	bind_int(ob, S_RECOVER, 1, (int64_t)time(NULL), &ok);
	if (run(ob, S_RECOVER, ok) != 0)
		return -1;
	return (int)db_changes(ob->db);
}

static char *
col_dup(struct db_stmt *st, int i)
{
	const char *t = db_column_text(st, i);

	return xstrdup(t ? t : "");
}

int
outbox_unplanned(struct outbox *ob, time_t now, struct unplanned **out, size_t *n)
{
	struct db_stmt *st = ob->st[S_UNPLANNED];
	size_t cap = 0;
	int rc = DB_ERROR, ok = 1;

	*out = NULL;
	*n = 0;
	bind_int(ob, S_UNPLANNED, 1, (int64_t)now, &ok);
	while (ok && (rc = db_step(st)) == DB_ROW) {
		struct unplanned *u;

		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		u = &(*out)[(*n)++];
		u->id = db_column_int64(st, 0);
		u->report_domain = col_dup(st, 1);
		u->record = col_dup(st, 2);
		u->day = col_dup(st, 3);
		u->plan_attempts = db_column_int(st, 4);
	}
	db_reset(st);
	if (rc != DB_DONE) {
		log_warnx("outbox: %s", db_errmsg(ob->db));
		return -1;
	}
	return 0;
}

void
outbox_unplanned_free(struct unplanned *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(u[i].report_domain);
		free(u[i].record);
		free(u[i].day);
	}
	free(u);
}

int
outbox_plan(struct outbox *ob, int64_t report, const char *const *uris,
    const char *const *schemes, const char *const *targets, size_t n,
    const time_t *first_at)
{
	int ok = 1;

	if (begin(ob) != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bind_int(ob, S_ADD, 1, report, &ok);
		bind_text(ob, S_ADD, 2, uris[i], &ok);
		bind_text(ob, S_ADD, 3, schemes[i], &ok);
		bind_text(ob, S_ADD, 4, targets[i], &ok);
		bind_int(ob, S_ADD, 5, (int64_t)first_at[i], &ok);
		if (run(ob, S_ADD, ok) != 0) {
			db_rollback(ob->db);
			return -1;
		}
	}
	bind_int(ob, S_LATER, 1, report, &ok);
	bind_int(ob, S_LATER, 2, 0, &ok);
	bind_int(ob, S_LATER, 3, 0, &ok);
	bind_text(ob, S_LATER, 4, "", &ok);
	if (run(ob, S_LATER, ok) != 0) {
		db_rollback(ob->db);
		return -1;
	}
	return commit(ob);
}

int
outbox_no_destination(struct outbox *ob, int64_t report, const char *why)
{
	int ok = 1;

	bind_int(ob, S_NODEST, 1, report, &ok);
	bind_text(ob, S_NODEST, 2, why, &ok);
	return run(ob, S_NODEST, ok);
}

int
outbox_plan_later(struct outbox *ob, int64_t report, int attempts, time_t next,
    const char *why)
{
	int ok = 1;

	bind_int(ob, S_LATER, 1, report, &ok);
	bind_int(ob, S_LATER, 2, attempts, &ok);
	bind_int(ob, S_LATER, 3, (int64_t)next, &ok);
	bind_text(ob, S_LATER, 4, why, &ok);
	return run(ob, S_LATER, ok);
}

int
outbox_due(struct outbox *ob, time_t now, size_t limit, struct due **out, size_t *n)
{
	struct db_stmt *st = ob->st[S_DUE];
	int rc = DB_DONE, ok = 1;

	*out = xcalloc(limit ? limit : 1, sizeof(**out));
	*n = 0;
	bind_int(ob, S_DUE, 1, (int64_t)now, &ok);
	bind_int(ob, S_DUE, 2, (int64_t)limit, &ok);
	if (!ok)
		rc = DB_ERROR;
	while (ok && *n < limit && (rc = db_step(st)) == DB_ROW) {
		struct due *d = &(*out)[(*n)++];
		const void *blob = db_column_blob(st, 9);

		d->id = db_column_int64(st, 0);
		d->report = db_column_int64(st, 1);
		snprintf(d->scheme, sizeof(d->scheme), "%s", db_column_text(st, 2));
		d->target = col_dup(st, 3);
		d->uri = col_dup(st, 4);
		d->attempts = db_column_int(st, 5);
		d->report_id = col_dup(st, 6);
		d->report_domain = col_dup(st, 7);
		d->day = col_dup(st, 8);
		d->gzlen = db_column_bytes(st, 9);
		d->gz = xmalloc(d->gzlen ? d->gzlen : 1);
		if (d->gzlen)
			memcpy(d->gz, blob, d->gzlen);
	}
	db_reset(st);
	if (*n < limit && rc != DB_DONE) {
		log_warnx("outbox: %s", db_errmsg(ob->db));
		return -1;
	}
	return 0;
}

void
outbox_due_free(struct due *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].target);
		free(d[i].uri);
		free(d[i].report_id);
		free(d[i].report_domain);
		free(d[i].day);
		free(d[i].gz);
	}
	free(d);
}

int
outbox_claim(struct outbox *ob, int64_t id, time_t now)
{
	int ok = 1;

	bind_int(ob, S_CLAIM, 1, id, &ok);
	bind_int(ob, S_CLAIM, 2, (int64_t)now, &ok);
	if (run(ob, S_CLAIM, ok) != 0)
		return -1;
	return db_changes(ob->db) == 1 ? 0 : -1;
}

int
outbox_delivered(struct outbox *ob, int64_t id, time_t now, long code,
    const char *excerpt)
{
	int ok = 1;

	if (begin(ob) != 0)
		return -1;
	bind_int(ob, S_DELIVERED, 1, id, &ok);
	bind_int(ob, S_DELIVERED, 2, (int64_t)now, &ok);
	bind_int(ob, S_DELIVERED, 3, code, &ok);
	bind_text(ob, S_DELIVERED, 4, excerpt, &ok);
	bind_int(ob, S_REPORT_DELIVERED, 1, id, &ok);
	if (run(ob, S_DELIVERED, ok) != 0 || run(ob, S_REPORT_DELIVERED, ok) != 0) {
		db_rollback(ob->db);
		return -1;
	}
	return commit(ob);
}

long
outbox_retry_delay(const struct backoff *bo, int attempts)
{
	long delay = bo->base_s;
	uint32_t r = 0;

	for (int i = 1; i < attempts && delay < bo->max_s; i++)
		delay *= 2;
	if (delay > bo->max_s)
		delay = bo->max_s;
	/* +-10% so destinations that failed together do not retry together. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == sizeof(r) && delay >= 10)
		delay += (long)(r % (uint32_t)(delay / 5 + 1)) - delay / 10;
	return delay;
}

/* attempts, first attempt and report of delivery id. */
static int
attempts_of(struct outbox *ob, int64_t id, int *attempts, int64_t *first,
    int64_t *report)
{
	struct db_stmt *q = ob->st[S_ATTEMPTS];
	int ok = 1, rc;

	bind_int(ob, S_ATTEMPTS, 1, id, &ok);
	rc = ok ? db_step(q) : DB_ERROR;
	if (rc == DB_ROW) {
		*attempts = db_column_int(q, 0);
		if (db_column_type(q, 1) != DB_T_NULL)
			*first = db_column_int64(q, 1);
		*report = db_column_int64(q, 2);
	}
	db_reset(q);
	if (rc == DB_ERROR) {
		log_warnx("outbox: %s", db_errmsg(ob->db));
		return -1;
	}
	return 0;
}

int
outbox_failed(struct outbox *ob, int64_t id, time_t now, const char *error,
    long code, const char *excerpt, int *final)
{
	int attempts = 0, which, ok = 1;
	int64_t first = now, report = 0;
	time_t next;

	*final = 0;
	if (attempts_of(ob, id, &attempts, &first, &report) != 0)
		return -1;
	next = now + outbox_retry_delay(&ob->bo, attempts);
	*final = next > first + ob->bo.window_s;
	which = *final ? S_GIVEUP : S_RETRY;
	if (begin(ob) != 0)
		return -1;
	bind_int(ob, which, 1, id, &ok);
	if (*final) {
		bind_text(ob, which, 2, error, &ok);
		bind_int(ob, which, 3, code, &ok);
		bind_text(ob, which, 4, excerpt, &ok);
	} else {
		bind_int(ob, which, 2, (int64_t)next, &ok);
		bind_text(ob, which, 3, error, &ok);
		bind_int(ob, which, 4, code, &ok);
		bind_text(ob, which, 5, excerpt, &ok);
	}
	bind_int(ob, S_REPORT_FAILED, 1, report, &ok);
	if (run(ob, which, ok) != 0 || (*final && run(ob, S_REPORT_FAILED, ok) != 0)) {
		db_rollback(ob->db);
		return -1;
	}
	return commit(ob);
}
