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
 *	statements are prepared again on their next step; db_begin() tries
 *	once more on a fresh connection when the old one turns out to have
 *	been closed by the server meanwhile.
 *
 *	Both engines treat a transaction alike after a statement in it
 *	failed: every further statement fails, and db_commit() rolls back and
 *	returns an error (SQLite by itself would commit the statements that
 *	did succeed). Only db_rollback() ends such a transaction quietly.
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
/*
 * For readers (tlsrptctl, the dashboard): never creates, migrates or
 * writes (SQLite opened read-only with query_only; PostgreSQL sessions
 * whose transactions are read-only). *version is the schema version of
 * set found there, 0 when it has no tables yet: the caller decides
 * whether it can read that. A version newer than the program knows is
 * refused, as by db_open().
 */
int db_open_readonly(const char *target, const char *set, long busy_timeout_ms,
    struct db **out, int *version, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void db_close(struct db *db);
enum db_engine db_engine(const struct db *db);
/* target with any password removed, for messages. */
const char *db_name(const struct db *db);
/* The same for a target not opened (yet): into out[0..outlen). */
void db_safe_name(const char *target, char *out, size_t outlen);

/*
 * PostgreSQL: the longest wait for the server, per request and per
 * reconnect. libpq has none of its own, and a server that stops
 * answering without closing the connection (stopped, or a network that
 * drops packets) would hold the caller for good; TCP keepalives do not
 * see a stopped server, whose kernel still answers them. When the time
 * passes the connection is closed (DB_ERR_CONN) and re-opened at the
 * next db_begin(). 0, the default, waits as long as the server takes
 * (connecting is still bounded by connect_timeout, 10 s unless the URI
 * says otherwise). Choose it above busy_timeout_ms, the server's own
 * limit on waiting for a lock. SQLite ignores it.
 */
void db_set_timeout_ms(struct db *db, long timeout_ms);

int db_exec(struct db *db, const char *sql) __attribute__((warn_unused_result));
int db_begin(struct db *db) __attribute__((warn_unused_result));
int db_commit(struct db *db) __attribute__((warn_unused_result));
/*
 * After db_commit() failed: was the transaction committed after all? On
 * PostgreSQL a connection that breaks while the COMMIT is on its way
 * leaves that open (the server may have committed and then lost the
 * connection, or a stopped server may commit when it goes on), and
 * writing the same changes again would apply them twice. This asks the
 * server, reconnecting when needed: DB_COMMITTED, DB_NOT_COMMITTED, or
 * DB_IN_DOUBT while the server cannot be reached or the transaction is
 * still running: ask again later. Always DB_NOT_COMMITTED on SQLite,
 * whose failed COMMIT never commits. Valid until the next db_begin().
 */
enum db_commit_outcome { DB_IN_DOUBT = -1, DB_NOT_COMMITTED = 0, DB_COMMITTED = 1 };
enum db_commit_outcome db_commit_outcome(struct db *db);
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
/*
 * The open statements of db, for finding a prepared one again (as
 * sqlite3_next_stmt()): the first when st is NULL, then the one after
 * st; NULL at the end.
 */
struct db_stmt *db_next_stmt(struct db *db, struct db_stmt *st);

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

/*
 * A read transaction whose statements all see one snapshot: BEGIN on
 * SQLite; REPEATABLE READ, READ ONLY on PostgreSQL, where each statement
 * would otherwise see its own. End it with db_commit() or db_rollback().
 */
int db_begin_read(struct db *db) __attribute__((warn_unused_result));
/*
 * One holder of name at a time, across hosts: a PostgreSQL session
 * advisory lock, kept until db_close(). A broken connection loses it;
 * calling again takes it again (and is a no-op while it is held).
 * 0: this connection holds it; 1: another session does; -1: error
 * (db_errmsg). SQLite has no sessions: always 0, callers lock a file.
 */
int db_try_lock(struct db *db, const char *name) __attribute__((warn_unused_result));
/* Let go of name at once, so that the next holder need not wait for
 * the server to end this session: 0 or -1; a no-op on SQLite. */
int db_unlock(struct db *db, const char *name);

#endif
