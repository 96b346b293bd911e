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
#include "store.h"

int
db_target_is_pg(const char *target)
{
	return strncmp(target, "postgresql://", 13) == 0 ||
	    strncmp(target, "postgres://", 11) == 0;
}

/*
 * A URI without its password, for messages: the user:password@ part and
 * any password= parameter. libpq takes the credentials up to the first
 * '@' before a '/'; a password with an unescaped '/', '?' or '@' would
 * fool a strict parser, so everything from the first ':' after the
 * scheme up to the last '@' is hidden (too much, at worst, when an '@'
 * appears later in the URI).
 */
void
db_safe_name(const char *target, char *out, size_t n)
{
	const char *scheme = strstr(target, "://"), *auth, *at, *colon, *p;
	size_t o = 0;

	if (n == 0)
		return;
	if (scheme == NULL) {
		snprintf(out, n, "%s", target);
		return;
	}
	auth = scheme + 3;
	at = strrchr(auth, '@');
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	p = target;
	if (colon != NULL) {
		o = (size_t)snprintf(out, n, "%.*s:***", (int)(colon - target), target);
		p = at;
	}
	while (*p && o + 1 < n) {
		out[o++] = *p;
		if ((*p == '?' || *p == '&') && strncmp(p + 1, "password=", 9) == 0) {
			o += (size_t)snprintf(out + o, n - o, "password=***");
			p += 10;
			p += strcspn(p, "&");
			continue;
		}
		p++;
	}
	out[o < n ? o : n - 1] = '\0';
}

static void
set_name(struct db *db, const char *target)
{
	db_safe_name(target, db->name, sizeof(db->name));
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
	/* One line for the log: libpq adds "\n\tIs the server running...". */
	for (size_t i = 0, o = 0; i <= n; i++) {
		char c = db->errmsg[i] == '\n' || db->errmsg[i] == '\t' ? ' ' :
		    db->errmsg[i];

		if (c != ' ' || o == 0 || db->errmsg[o - 1] != ' ')
			db->errmsg[o++] = c;
	}
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

int
db_open_readonly(const char *target, const char *set, long busy_timeout_ms,
    struct db **out, int *version, char *err, size_t errlen)
{
	struct db *db = xcalloc(1, sizeof(*db));
	char known_set[64];
	int rc, known;

	*out = NULL;
	*version = 0;
	set_name(db, target);
	if (db_target_is_pg(target)) {
		db->engine = DB_POSTGRESQL;
		rc = db_pg_open_readonly(target, set, busy_timeout_ms, db, version,
		    err, errlen);
	} else {
		db->engine = DB_SQLITE;
		rc = db_sqlite_open_readonly(target, busy_timeout_ms, db, version,
		    err, errlen);
	}
	if (rc != 0) {
		free(db);
		return -1;
	}
	snprintf(known_set, sizeof(known_set), "%s%s",
	    db->engine == DB_POSTGRESQL ? "pg-" : "", set);
	if ((known = store_schema_version(known_set)) == 0 || *version > known) {
		snprintf(err, errlen, "%s: schema version %d is newer than this "
		    "program knows (%d)", db->name, *version, known);
		db_close(db);
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
	/* Closing the connection frees the server's statements. */
	db->closing = 1;
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

void
db_set_timeout_ms(struct db *db, long timeout_ms)
{
	if (db->engine == DB_POSTGRESQL)
		db_pg_set_timeout_ms(db, timeout_ms);
}

enum db_commit_outcome
db_commit_outcome(struct db *db)
{
	if (db->engine == DB_POSTGRESQL)
		return db_pg_commit_outcome(db);
	return DB_NOT_COMMITTED;
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

struct db_stmt *
db_next_stmt(struct db *db, struct db_stmt *st)
{
	return st == NULL ? db->stmts : st->next;
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

int
db_begin_read(struct db *db)
{
	return db_exec(db, db->engine == DB_POSTGRESQL ?
	    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" : "BEGIN");
}

/*
 * Two-key advisory locks (8460, hash of name), apart from the one-key
 * migration lock of db_pg.c. pg_locks is asked first so that calling
 * again while holding the lock does not stack it.
 */
static const char SQL_TRY_LOCK[] =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
    " AND pid = pg_backend_pid() AND granted AND classid = 8460"
    " AND objid = CAST(?1 AS oid) AND objsubid = 2) THEN 1"
    " WHEN pg_try_advisory_lock(8460, CAST(?1 AS integer)) THEN 1 ELSE 0 END";

static int64_t
lock_key(const char *name)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *p = name; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	return (int64_t)(h & 0x7fffffff);
}

int
db_try_lock(struct db *db, const char *name)
{
	struct db_stmt *st;
	int rc;

	if (db->engine != DB_POSTGRESQL)
		return 0;
	if (db_prepare(db, SQL_TRY_LOCK, &st) != 0)
		return -1;
	rc = db_bind_int64(st, 1, lock_key(name));
	if (rc == 0)
		rc = db_step(st) == DB_ROW ? !db_column_int(st, 0) : -1;
	/* A connection the server closed meanwhile: once more on a new one. */
	if (rc < 0 && db_errclass(db) == DB_ERR_CONN && !db_in_transaction(db)) {
		db_reset(st);
		rc = db_step(st) == DB_ROW ? !db_column_int(st, 0) : -1;
	}
	db_finalize(st);
	return rc;
}

int
db_unlock(struct db *db, const char *name)
{
	struct db_stmt *st;
	int rc;

	if (db->engine != DB_POSTGRESQL)
		return 0;
	if (db_prepare(db, "SELECT pg_advisory_unlock(8460, CAST(?1 AS integer))", &st) != 0)
		return -1;
	rc = db_bind_int64(st, 1, lock_key(name));
	if (rc == 0)
		rc = db_step(st) == DB_ROW ? 0 : -1;
	db_finalize(st);
	return rc;
}
