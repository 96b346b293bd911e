/*
 * NAME
 *	db - one small database API over SQLite and PostgreSQL
 * DESCRIPTION
 *	See db.h. This file holds what does not depend on the engine: the
 *	choice of engine from the target, the list of open statements, the
 *	error record, and the dispatch to db_sqlite.c or db_pg.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "mem.h"

int
db_target_is_pg(const char *target)
{
	return strncmp(target, "postgresql://", 13) == 0 ||
	    strncmp(target, "postgres://", 11) == 0;
}

/* Drop user:password@ from a URI so that messages never show a password. */
static void
set_name(struct db *db, const char *target)
{
	const char *scheme = strstr(target, "://"), *at, *end;

	if (scheme == NULL) {
		snprintf(db->name, sizeof(db->name), "%s", target);
		return;
	}
	end = scheme + 3 + strcspn(scheme + 3, "/?");
	at = memchr(scheme + 3, '@', (size_t)(end - (scheme + 3)));
	if (at == NULL || memchr(scheme + 3, ':', (size_t)(at - (scheme + 3))) == NULL) {
		snprintf(db->name, sizeof(db->name), "%s", target);
		return;
	}
	snprintf(db->name, sizeof(db->name), "%.*s%.*s:***%s",
	    (int)(scheme + 3 - target), target,
	    (int)strcspn(scheme + 3, ":"), scheme + 3, at);
}

void
db_seterr(struct db *db, enum db_errclass cls, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(db->errmsg, sizeof(db->errmsg), fmt, ap);
	va_end(ap);
	n = strlen(db->errmsg);
	while (n > 0 && (db->errmsg[n - 1] == '\n' || db->errmsg[n - 1] == ' '))
		db->errmsg[--n] = '\0';
	db->errclass = cls;
}

int
db_open(const char *target, const char *set, long busy_timeout_ms,
    struct db **out, char *err, size_t errlen)
{
	struct db *db = xcalloc(1, sizeof(*db));
	int rc;

	*out = NULL;
	set_name(db, target);
	if (db_target_is_pg(target)) {
		db->engine = DB_POSTGRESQL;
		rc = db_pg_open(target, set, busy_timeout_ms, db, err, errlen);
	} else {
		db->engine = DB_SQLITE;
		rc = db_sqlite_open(target, set, busy_timeout_ms, db, err, errlen);
	}
	if (rc != 0) {
		free(db);
		return -1;
	}
	*out = db;
	return 0;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	while (db->stmts != NULL)
		db_finalize(db->stmts);
	db->ops->close(db);
	free(db);
}

enum db_engine
db_engine(const struct db *db)
{
	return db->engine;
}

const char *
db_name(const struct db *db)
{
	return db->name;
}

const char *
db_errmsg(const struct db *db)
{
	return db->errmsg[0] ? db->errmsg : "no error";
}

enum db_errclass
db_errclass(const struct db *db)
{
	return db->errclass;
}

int64_t
db_changes(const struct db *db)
{
	return db->changes;
}

int
db_exec(struct db *db, const char *sql)
{
	return db->ops->exec(db, sql);
}

int
db_begin(struct db *db)
{
	return db->ops->begin(db);
}

int
db_commit(struct db *db)
{
	return db->ops->exec(db, "COMMIT");
}

void
db_rollback(struct db *db)
{
	char keep[sizeof(db->errmsg)];
	enum db_errclass cls = db->errclass;

	/* Keep the error that led here for the caller's message. */
	memcpy(keep, db->errmsg, sizeof(keep));
	if (db->ops->in_transaction(db))
		(void)db->ops->exec(db, "ROLLBACK");
	memcpy(db->errmsg, keep, sizeof(keep));
	db->errclass = cls;
}

int
db_in_transaction(struct db *db)
{
	return db->ops->in_transaction(db);
}

int
db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct db_stmt *st = xcalloc(1, sizeof(*st));

	*out = NULL;
	st->db = db;
	st->sql = xstrdup(sql);
	if (db->ops->prepare(db, sql, st) != 0) {
		free(st->sql);
		free(st);
		return -1;
	}
	st->next = db->stmts;
	if (db->stmts != NULL)
		db->stmts->prev = st;
	db->stmts = st;
	*out = st;
	return 0;
}

void
db_finalize(struct db_stmt *st)
{
	struct db *db;

	if (st == NULL)
		return;
	db = st->db;
	db->ops->finalize(st);
	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		db->stmts = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	free(st->sql);
	free(st);
}

void
db_reset(struct db_stmt *st)
{
	st->db->ops->reset(st);
	st->busy = 0;
}

void
db_clear_bindings(struct db_stmt *st)
{
	st->db->ops->clear_bindings(st);
}

const char *
db_stmt_sql(const struct db_stmt *st)
{
	return st->sql;
}

struct db *
db_stmt_db(const struct db_stmt *st)
{
	return st->db;
}

int
db_stmt_busy(const struct db_stmt *st)
{
	return st->busy;
}

int
db_param_index(struct db_stmt *st, const char *name)
{
	return st->db->ops->param_index(st, name);
}

int
db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	return st->db->ops->bind_int64(st, i, v);
}

int
db_bind_double(struct db_stmt *st, int i, double v)
{
	return st->db->ops->bind_double(st, i, v);
}

int
db_bind_text(struct db_stmt *st, int i, const char *p, long len)
{
	return st->db->ops->bind_text(st, i, p, len < 0 ? strlen(p) : (size_t)len, 1);
}

int
db_bind_text_static(struct db_stmt *st, int i, const char *p, long len)
{
	return st->db->ops->bind_text(st, i, p, len < 0 ? strlen(p) : (size_t)len, 0);
}

int
db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	return st->db->ops->bind_blob(st, i, p, len);
}

int
db_bind_null(struct db_stmt *st, int i)
{
	return st->db->ops->bind_null(st, i);
}

int
db_step(struct db_stmt *st)
{
	int rc = st->db->ops->step(st);

	st->busy = rc == DB_ROW;
	return rc;
}

int
db_step_done(struct db_stmt *st)
{
	int rc = db_step(st);

	db_reset(st);
	return rc == DB_DONE ? 0 : -1;
}

int
db_column_count(struct db_stmt *st)
{
	return st->db->ops->column_count(st);
}

const char *
db_column_name(struct db_stmt *st, int col)
{
	return st->db->ops->column_name(st, col);
}

enum db_type
db_column_type(struct db_stmt *st, int col)
{
	return st->db->ops->column_type(st, col);
}

int64_t
db_column_int64(struct db_stmt *st, int col)
{
	return st->db->ops->column_int64(st, col);
}

int
db_column_int(struct db_stmt *st, int col)
{
	return (int)st->db->ops->column_int64(st, col);
}

double
db_column_double(struct db_stmt *st, int col)
{
	return st->db->ops->column_double(st, col);
}

const char *
db_column_text(struct db_stmt *st, int col)
{
	return st->db->ops->column_text(st, col);
}

const void *
db_column_blob(struct db_stmt *st, int col)
{
	return st->db->ops->column_blob(st, col);
}

size_t
db_column_bytes(struct db_stmt *st, int col)
{
	return st->db->ops->column_bytes(st, col);
}
