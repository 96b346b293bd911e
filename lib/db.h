/*
 * NAME
 *	db - one small database API over SQLite and PostgreSQL
 * SYNOPSIS
 *	struct db *db;
 *	struct db_stmt *st;
 *	char err[512];
 *
 *	if (db_open(target, "outbound", busy_timeout_ms, &db, err, sizeof(err)) != 0)
 *		fatalx("%s", err);
 *	if (db_prepare(db, "SELECT id FROM report WHERE day = ?", &st) != 0)
 *		... db_errmsg(db) ...
 *	db_bind_text(st, 1, day, -1);
 *	while ((rc = db_step(st)) == DB_ROW)
 *		id = db_column_int64(st, 0);
 *	db_finalize(st);
 *	db_close(db);
 * DESCRIPTION
 *	target is a file name (SQLite, the zero-setup default) or a
 *	postgresql:// or postgres:// URI (libpq), so that many collectors on
 *	many MTA hosts can feed one shared database.
 *
 *	The calls mirror the SQLite statement API, so code reads the same for
 *	both engines: prepare once, bind (1-based), step until DB_DONE, read
 *	columns (0-based) while DB_ROW, reset, bind again. SQL is written
 *	once, in the common dialect: ? and ?NNN and :name parameters
 *	(rewritten to $n for PostgreSQL), INSERT ... ON CONFLICT ... DO
 *	UPDATE/NOTHING, RETURNING, no PRAGMA and no engine functions.
 *	Each engine has its own migrations: schema/<set>/ for SQLite and
 *	schema/pg-<set>/ for PostgreSQL, with the same version numbers.
 *
 *	db_begin() starts a write transaction (BEGIN IMMEDIATE on SQLite, so
 *	a busy database fails at BEGIN rather than halfway; BEGIN on
 *	PostgreSQL, whose upserts lock rows). A PostgreSQL connection that
 *	broke is re-opened at the next db_begin() or db_exec(), and its
 *	statements are prepared again on their next step.
 *
 *	A connection belongs to one thread at a time.
 * DIAGNOSTICS
 *	Functions return 0 or DB_ROW/DB_DONE on success and -1 (DB_ERROR)
 *	on failure; db_errmsg() says why and db_errclass() classifies it
 *	(busy/locked, disk full, connection lost, constraint, other).
 */
#ifndef TLSRPTD_DB_H
#define TLSRPTD_DB_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct db_stmt;

enum db_engine { DB_SQLITE, DB_POSTGRESQL };

enum { DB_ERROR = -1, DB_DONE = 0, DB_ROW = 1 };

enum db_errclass {
	DB_ERR_NONE,
	DB_ERR_BUSY,		/* locked, deadlock, serialization failure: retry */
	DB_ERR_FULL,		/* disk or file-size limit full */
	DB_ERR_CONN,		/* connection to the server lost */
	DB_ERR_CONSTRAINT,	/* unique, check or foreign key */
	DB_ERR_OTHER,
};

enum db_type { DB_T_NULL, DB_T_INTEGER, DB_T_FLOAT, DB_T_TEXT, DB_T_BLOB };

/* 1 when target names a PostgreSQL database (postgresql:// or postgres://). */
int db_target_is_pg(const char *target);

int db_open(const char *target, const char *set, long busy_timeout_ms,
    struct db **out, char *err, size_t errlen) __attribute__((warn_unused_result));
void db_close(struct db *db);
enum db_engine db_engine(const struct db *db);
/* target with any password removed, for messages. */
const char *db_name(const struct db *db);

int db_exec(struct db *db, const char *sql) __attribute__((warn_unused_result));
int db_begin(struct db *db) __attribute__((warn_unused_result));
int db_commit(struct db *db) __attribute__((warn_unused_result));
/* ROLLBACK when a transaction is open; for error paths. */
void db_rollback(struct db *db);
int db_in_transaction(struct db *db);

const char *db_errmsg(const struct db *db);
enum db_errclass db_errclass(const struct db *db);
/* Rows changed by the last INSERT/UPDATE/DELETE that finished. */
int64_t db_changes(const struct db *db);

int db_prepare(struct db *db, const char *sql, struct db_stmt **out)
    __attribute__((warn_unused_result));
void db_finalize(struct db_stmt *st);
/* Ends the current execution; bindings are kept. */
void db_reset(struct db_stmt *st);
void db_clear_bindings(struct db_stmt *st);
const char *db_stmt_sql(const struct db_stmt *st);
struct db *db_stmt_db(const struct db_stmt *st);
/* 1 while a step has returned DB_ROW and the statement was not reset. */
int db_stmt_busy(const struct db_stmt *st);

/* Index of a :name parameter, 0 when the statement has none. */
int db_param_index(struct db_stmt *st, const char *name);
/*
 * Bind 1-based parameters. The bytes are copied (len -1: up to NUL);
 * db_bind_text_static() only keeps the pointer, which must then stay
 * valid until the statement is reset or bound again: for hot loops.
 */
int db_bind_int64(struct db_stmt *st, int i, int64_t v);
int db_bind_double(struct db_stmt *st, int i, double v);
int db_bind_text(struct db_stmt *st, int i, const char *p, long len);
int db_bind_text_static(struct db_stmt *st, int i, const char *p, long len);
int db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len);
int db_bind_null(struct db_stmt *st, int i);

/* DB_ROW, DB_DONE or DB_ERROR. */
int db_step(struct db_stmt *st) __attribute__((warn_unused_result));
/* Step a statement that returns no rows, then reset it: 0 or -1. */
int db_step_done(struct db_stmt *st) __attribute__((warn_unused_result));

/* Columns of the current row, 0-based; valid until the next step/reset. */
int db_column_count(struct db_stmt *st);
const char *db_column_name(struct db_stmt *st, int col);
enum db_type db_column_type(struct db_stmt *st, int col);
int64_t db_column_int64(struct db_stmt *st, int col);
int db_column_int(struct db_stmt *st, int col);
double db_column_double(struct db_stmt *st, int col);
/* NULL for SQL NULL. */
const char *db_column_text(struct db_stmt *st, int col);
const void *db_column_blob(struct db_stmt *st, int col);
size_t db_column_bytes(struct db_stmt *st, int col);

#endif
