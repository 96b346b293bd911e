/*
 * NAME
 *	outbox - delivery state of reports in the outbound database
 * DESCRIPTION
 *	See outbox.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "mem.h"
#include "outbox.h"
#include "store.h"

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
	sqlite3 *db;
	sqlite3_stmt *st[S__COUNT];
	struct backoff bo;
};

struct outbox *
outbox_open(sqlite3 *db, const struct backoff *bo)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));

	ob->db = db;
	ob->bo = *bo;
	for (int i = 0; i < S__COUNT; i++)
		if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &ob->st[i], NULL) != SQLITE_OK) {
			log_warnx("prepare: %s", sqlite3_errmsg(db));
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
		sqlite3_finalize(ob->st[i]);
	free(ob);
}

static int
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

/* Steps a statement that returns no rows, then resets it. */
static int
run(struct outbox *ob, int which)
{
	int rc = sqlite3_step(ob->st[which]);

	sqlite3_reset(ob->st[which]);
	sqlite3_clear_bindings(ob->st[which]);
	if (rc != SQLITE_DONE) {
		log_warnx("outbox: %s", sqlite3_errmsg(ob->db));
		return -1;
	}
	return 0;
}

static int
tx(struct outbox *ob, const char *what)
{
	char err[256];

	if (store_exec(ob->db, what, err, sizeof(err)) != 0) {
		log_warnx("outbox: %s: %s", what, err);
		store_rollback(ob->db);
		return -1;
	}
	return 0;
}

int
outbox_recover(struct outbox *ob)
{
	sqlite3_bind_int64(ob->st[S_RECOVER], 1, (sqlite3_int64)time(NULL));
	if (run(ob, S_RECOVER) != 0)
		return -1;
	return sqlite3_changes(ob->db);
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return xstrdup(t ? (const char *)t : "");
}

int
outbox_unplanned(struct outbox *ob, time_t now, struct unplanned **out, size_t *n)
{
	sqlite3_stmt *st = ob->st[S_UNPLANNED];
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct unplanned *u;

		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		u = &(*out)[(*n)++];
		u->id = sqlite3_column_int64(st, 0);
		u->report_domain = col_dup(st, 1);
		u->record = col_dup(st, 2);
		u->day = col_dup(st, 3);
		u->plan_attempts = sqlite3_column_int(st, 4);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("outbox: %s", sqlite3_errmsg(ob->db));
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
	sqlite3_stmt *st = ob->st[S_ADD];

	if (tx(ob, "BEGIN IMMEDIATE") != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, report);
		bind_text(st, 2, uris[i]);
		bind_text(st, 3, schemes[i]);
		bind_text(st, 4, targets[i]);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)first_at[i]);
		if (run(ob, S_ADD) != 0) {
			store_rollback(ob->db);
			return -1;
		}
	}
	sqlite3_bind_int64(ob->st[S_LATER], 1, report);
	sqlite3_bind_int(ob->st[S_LATER], 2, 0);
	sqlite3_bind_int64(ob->st[S_LATER], 3, 0);
	bind_text(ob->st[S_LATER], 4, "");
	if (run(ob, S_LATER) != 0) {
		store_rollback(ob->db);
		return -1;
	}
	return tx(ob, "COMMIT");
}

int
outbox_no_destination(struct outbox *ob, int64_t report, const char *why)
{
	sqlite3_bind_int64(ob->st[S_NODEST], 1, report);
	bind_text(ob->st[S_NODEST], 2, why);
	return run(ob, S_NODEST);
}

int
outbox_plan_later(struct outbox *ob, int64_t report, int attempts, time_t next,
    const char *why)
{
	sqlite3_bind_int64(ob->st[S_LATER], 1, report);
	sqlite3_bind_int(ob->st[S_LATER], 2, attempts);
	sqlite3_bind_int64(ob->st[S_LATER], 3, (sqlite3_int64)next);
	bind_text(ob->st[S_LATER], 4, why);
	return run(ob, S_LATER);
}

int
outbox_due(struct outbox *ob, time_t now, size_t limit, struct due **out, size_t *n)
{
	sqlite3_stmt *st = ob->st[S_DUE];
	int rc = SQLITE_DONE;

	*out = xcalloc(limit ? limit : 1, sizeof(**out));
	*n = 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct due *d = &(*out)[(*n)++];
		const void *blob = sqlite3_column_blob(st, 9);

		d->id = sqlite3_column_int64(st, 0);
		d->report = sqlite3_column_int64(st, 1);
		snprintf(d->scheme, sizeof(d->scheme), "%s", sqlite3_column_text(st, 2));
		d->target = col_dup(st, 3);
		d->uri = col_dup(st, 4);
		d->attempts = sqlite3_column_int(st, 5);
		d->report_id = col_dup(st, 6);
		d->report_domain = col_dup(st, 7);
		d->day = col_dup(st, 8);
		d->gzlen = (size_t)sqlite3_column_bytes(st, 9);
		d->gz = xmalloc(d->gzlen);
		if (d->gzlen)
			memcpy(d->gz, blob, d->gzlen);
	}
	if (*n < limit && rc != SQLITE_DONE) {
		log_warnx("outbox: %s", sqlite3_errmsg(ob->db));
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
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
	sqlite3_bind_int64(ob->st[S_CLAIM], 1, id);
	sqlite3_bind_int64(ob->st[S_CLAIM], 2, (sqlite3_int64)now);
	if (run(ob, S_CLAIM) != 0)
		return -1;
	return sqlite3_changes(ob->db) == 1 ? 0 : -1;
}

int
outbox_delivered(struct outbox *ob, int64_t id, time_t now, long code,
    const char *excerpt)
{
	if (tx(ob, "BEGIN IMMEDIATE") != 0)
		return -1;
	sqlite3_bind_int64(ob->st[S_DELIVERED], 1, id);
	sqlite3_bind_int64(ob->st[S_DELIVERED], 2, (sqlite3_int64)now);
	sqlite3_bind_int64(ob->st[S_DELIVERED], 3, code);
	bind_text(ob->st[S_DELIVERED], 4, excerpt);
	sqlite3_bind_int64(ob->st[S_REPORT_DELIVERED], 1, id);
	if (run(ob, S_DELIVERED) != 0 || run(ob, S_REPORT_DELIVERED) != 0) {
		store_rollback(ob->db);
		return -1;
	}
	return tx(ob, "COMMIT");
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

int
outbox_failed(struct outbox *ob, int64_t id, time_t now, const char *error,
    long code, const char *excerpt, int *final)
{
	sqlite3_stmt *q = ob->st[S_ATTEMPTS];
	int attempts = 0;
	int64_t first = now, report = 0;
	int which;

	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		attempts = sqlite3_column_int(q, 0);
		if (sqlite3_column_type(q, 1) != SQLITE_NULL)
			first = sqlite3_column_int64(q, 1);
		report = sqlite3_column_int64(q, 2);
	}
	sqlite3_reset(q);
	time_t next = now + outbox_retry_delay(&ob->bo, attempts);
	*final = next > first + ob->bo.window_s;
	which = *final ? S_GIVEUP : S_RETRY;
	if (tx(ob, "BEGIN IMMEDIATE") != 0)
		return -1;
	sqlite3_bind_int64(ob->st[which], 1, id);
	if (*final) {
		bind_text(ob->st[which], 2, error);
		sqlite3_bind_int64(ob->st[which], 3, code);
		bind_text(ob->st[which], 4, excerpt);
	} else {
		sqlite3_bind_int64(ob->st[which], 2, (sqlite3_int64)next);
		bind_text(ob->st[which], 3, error);
		sqlite3_bind_int64(ob->st[which], 4, code);
		bind_text(ob->st[which], 5, excerpt);
	}
	sqlite3_bind_int64(ob->st[S_REPORT_FAILED], 1, report);
	if (run(ob, which) != 0 || (*final && run(ob, S_REPORT_FAILED) != 0)) {
		store_rollback(ob->db);
		return -1;
	}
	return tx(ob, "COMMIT");
}
