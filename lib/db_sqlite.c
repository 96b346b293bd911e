/*
 * NAME
 *	db_sqlite - the SQLite engine of lib/db
 * DESCRIPTION
 *	Every SQLite database is opened the same way: WAL journal (readers
 *	never block the collector's writes), synchronous=NORMAL (a power loss
 *	may lose the last transaction, never corrupt), a busy timeout,
 *	foreign keys on. The schema is brought up to date from the numbered
 *	migrations in schema/<set>/ (embedded at build time), each in its own
 *	transaction, tracked in PRAGMA user_version. A database newer than
 *	the program is refused rather than misread.
 *
 *	A statement that fails inside a transaction marks it failed, as
 *	PostgreSQL does (db.h): SQLite would undo only that statement and
 *	let COMMIT keep the others, or, after some errors (disk full, I/O),
 *	roll the whole transaction back by itself and run the statements
 *	that follow outside any transaction.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "db_int.h"
#include "store.h"

#define CONN(db)	((sqlite3 *)(db)->engine_conn)
#define STMT(st)	((sqlite3_stmt *)(st)->engine_stmt)

static enum db_errclass
classify(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return DB_ERR_NONE;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_ERR_BUSY;
	case SQLITE_FULL:
		return DB_ERR_FULL;
	case SQLITE_CONSTRAINT:
		return DB_ERR_CONSTRAINT;
	default:
		return DB_ERR_OTHER;
	}
}

static void
note(struct db *db, int rc)
{
	db_seterr(db, classify(rc), "%s", sqlite3_errmsg(CONN(db)));
}

static int
s_in_transaction(struct db *db)
{
	return !sqlite3_get_autocommit(CONN(db)) || db->txn_failed;
}

/* Called before running anything: refuses while the transaction failed. */
static int
refuse_if_failed(struct db *db)
{
	if (!db->txn_failed)
		return 0;
	db_seterr(db, DB_ERR_OTHER, "current transaction is aborted after an "
	    "earlier error; roll back first");
	return -1;
}

static int
run(struct db *db, const char *sql)
{
	char *msg = NULL;
	int in_txn = !sqlite3_get_autocommit(CONN(db));
	int rc = sqlite3_exec(CONN(db), sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		db_seterr(db, classify(sqlite3_extended_errcode(CONN(db))), "%s",
		    msg ? msg : sqlite3_errmsg(CONN(db)));
		sqlite3_free(msg);
		if (in_txn)
			db->txn_failed = 1;
		return -1;
	}
	db->changes = sqlite3_changes(CONN(db));
	return 0;
}

static int
s_exec(struct db *db, const char *sql)
{
	if (strcmp(sql, "ROLLBACK") == 0) {
		db->txn_failed = 0;
		/* SQLite may have rolled back already (disk full, I/O error). */
		if (sqlite3_get_autocommit(CONN(db)))
			return 0;
		return run(db, sql);
	}
	if (strcmp(sql, "COMMIT") == 0 && db->txn_failed) {
		char keep[sizeof(db->errmsg)];

		snprintf(keep, sizeof(keep), "%s", db->errmsg);
		db->txn_failed = 0;
		if (!sqlite3_get_autocommit(CONN(db)))
			(void)run(db, "ROLLBACK");
		db_seterr(db, DB_ERR_OTHER, "transaction rolled back after an "
		    "earlier error%s%s", keep[0] ? ": " : "", keep);
		return -1;
	}
	if (strcmp(sql, "COMMIT") != 0 && refuse_if_failed(db) != 0)
		return -1;
	return run(db, sql);
}

static int
s_begin(struct db *db)
{
	/* A transaction SQLite ended by itself after an error is over. */
	if (db->txn_failed && sqlite3_get_autocommit(CONN(db)))
		db->txn_failed = 0;
	return s_exec(db, "BEGIN IMMEDIATE");
}

static void
s_close(struct db *db)
{
	sqlite3_close(CONN(db));
}

static int
s_prepare(struct db *db, const char *sql, struct db_stmt *st)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v3(CONN(db), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);

	if (rc != SQLITE_OK) {
		note(db, rc);
		/* PostgreSQL finds the same error at the first step. */
		if (!sqlite3_get_autocommit(CONN(db)))
			db->txn_failed = 1;
		return -1;
	}
	st->engine_stmt = s;
	return 0;
}

static void
s_finalize(struct db_stmt *st)
{
	sqlite3_finalize(STMT(st));
}

static void
s_reset(struct db_stmt *st)
{
	sqlite3_reset(STMT(st));
}

static void
s_clear_bindings(struct db_stmt *st)
{
	sqlite3_clear_bindings(STMT(st));
}

static int
s_param_index(struct db_stmt *st, const char *name)
{
	return sqlite3_bind_parameter_index(STMT(st), name);
}

static int
bound(struct db_stmt *st, int rc)
{
	if (rc == SQLITE_OK)
		return 0;
	note(st->db, rc);
	return -1;
}

static int
s_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	return bound(st, sqlite3_bind_int64(STMT(st), i, v));
}

static int
s_bind_double(struct db_stmt *st, int i, double v)
{
	return bound(st, sqlite3_bind_double(STMT(st), i, v));
}

static int
s_bind_text(struct db_stmt *st, int i, const char *p, size_t len, int copy)
{
	return bound(st, sqlite3_bind_text64(STMT(st), i, p, len,
	    copy ? SQLITE_TRANSIENT : SQLITE_STATIC, SQLITE_UTF8));
}

static int
s_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	return bound(st, sqlite3_bind_blob64(STMT(st), i, p, len, SQLITE_TRANSIENT));
}

static int
s_bind_null(struct db_stmt *st, int i)
{
	return bound(st, sqlite3_bind_null(STMT(st), i));
}

static int
s_step(struct db_stmt *st)
{
	struct db *db = st->db;
	int in_txn = !sqlite3_get_autocommit(CONN(db)), rc;

	if (refuse_if_failed(db) != 0)
		return DB_ERROR;
	rc = sqlite3_step(STMT(st));
	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE) {
		db->changes = sqlite3_changes(CONN(db));
		return DB_DONE;
	}
	note(db, sqlite3_extended_errcode(CONN(db)));
	if (in_txn)
		db->txn_failed = 1;
	return DB_ERROR;
}

static int
s_column_count(struct db_stmt *st)
{
	return sqlite3_column_count(STMT(st));
}

static const char *
s_column_name(struct db_stmt *st, int col)
{
	return sqlite3_column_name(STMT(st), col);
}

static enum db_type
s_column_type(struct db_stmt *st, int col)
{
	switch (sqlite3_column_type(STMT(st), col)) {
	case SQLITE_INTEGER:
		return DB_T_INTEGER;
	case SQLITE_FLOAT:
		return DB_T_FLOAT;
	case SQLITE_TEXT:
		return DB_T_TEXT;
	case SQLITE_BLOB:
		return DB_T_BLOB;
	default:
		return DB_T_NULL;
	}
}

static int64_t
s_column_int64(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(STMT(st), col);
}

static double
s_column_double(struct db_stmt *st, int col)
{
	return sqlite3_column_double(STMT(st), col);
}

static const char *
s_column_text(struct db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(STMT(st), col);
}

static const void *
s_column_blob(struct db_stmt *st, int col)
{
	return sqlite3_column_blob(STMT(st), col);
}

static size_t
s_column_bytes(struct db_stmt *st, int col)
{
	return (size_t)sqlite3_column_bytes(STMT(st), col);
}

static const struct db_ops sqlite_ops = {
	s_exec, s_begin, s_in_transaction, s_close, s_prepare, s_finalize,
	s_reset, s_clear_bindings, s_param_index, s_bind_int64, s_bind_double,
	s_bind_text, s_bind_blob, s_bind_null, s_step, s_column_count,
	s_column_name, s_column_type, s_column_int64, s_column_double,
	s_column_text, s_column_blob, s_column_bytes,
};

static int
user_version(sqlite3 *conn, int *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Before anything is written, not even the journal mode: a file that
 * cannot be written (SQLite opens it read-only without a word, and
 * only the first flush would fail) or whose schema is newer than the
 * program's is refused as it is.
 */
static int
check_writable(struct db *db, const char *set, char *err, size_t errlen)
{
	int have, want = store_schema_version(set);

	if (sqlite3_db_readonly(CONN(db), "main") == 1) {
		snprintf(err, errlen, "%s: attempt to write a readonly database "
		    "(read-only file or file system)", db->name);
		return -1;
	}
	if (user_version(CONN(db), &have) != 0) {
		snprintf(err, errlen, "%s: %s", db->name, sqlite3_errmsg(CONN(db)));
		return -1;
	}
	if (have > want) {
		snprintf(err, errlen, "%s: schema version %d is newer than this "
		    "program knows (%d); refusing to touch it", db->name, have, want);
		return -1;
	}
	return 0;
}

static int
migrate(struct db *db, const char *set, char *err, size_t errlen)
{
	int have, want = store_schema_version(set);
	char pragma[64];

	if (user_version(CONN(db), &have) != 0) {
		snprintf(err, errlen, "%s: %s", db->name, sqlite3_errmsg(CONN(db)));
		return -1;
	}
	if (have > want) {
		snprintf(err, errlen, "%s: schema version %d is newer than this "
		    "program knows (%d); refusing to touch it", db->name, have, want);
		return -1;
	}
	for (int v = have + 1; v <= want; v++) {
		const struct store_migration *m = store_migration_find(set, v);

		if (m == NULL) {
			snprintf(err, errlen, "internal error: %s migration %d missing", set, v);
			return -1;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v);
		if (s_begin(db) != 0)
			goto fail;
		/* Another process may have migrated while we waited. */
		if (user_version(CONN(db), &have) == 0 && have >= v) {
			db_rollback(db);
			continue;
		}
		if (s_exec(db, m->sql) != 0 || s_exec(db, pragma) != 0 ||
		    s_exec(db, "COMMIT") != 0) {
			db_rollback(db);
			goto fail;
		}
		continue;
fail:
		snprintf(err, errlen, "%s: migration %s: %s", db->name, m->name,
		    db_errmsg(db));
		return -1;
	}
	return 0;
}

/*
 * Switching a new file to WAL takes an exclusive lock, and SQLite answers
 * SQLITE_BUSY at once, without its busy handler, when another process
 * opens the same new file at that moment (several collectors or the
 * aggregator starting together on a fresh file). Wait for it here within
 * the same busy timeout; once the file is in WAL mode the pragma takes no
 * lock at all.
 */
static int
set_wal(struct db *db, long busy_timeout_ms)
{
	long waited = 0;
	int pause = 5;

	for (;;) {
		if (s_exec(db, "PRAGMA journal_mode = WAL") == 0)
			return 0;
		if (db_errclass(db) != DB_ERR_BUSY || waited >= busy_timeout_ms)
			return -1;
		sqlite3_sleep(pause);
		waited += pause;
		if (pause < 50)
			pause *= 2;
	}
}

int
db_sqlite_open(const char *path, const char *set, long busy_timeout_ms,
    struct db *db, char *err, size_t errlen)
{
	sqlite3 *conn = NULL;

	db->ops = &sqlite_ops;
	if (store_schema_version(set) == 0) {
		snprintf(err, errlen, "internal error: no schema set '%s'", set);
		return -1;
	}
	if (sqlite3_open_v2(path, &conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, conn ? sqlite3_errmsg(conn) : "out of memory");
		sqlite3_close(conn);
		return -1;
	}
	db->engine_conn = conn;
	sqlite3_busy_timeout(conn, (int)busy_timeout_ms);
	if (check_writable(db, set, err, errlen) != 0) {
		sqlite3_close(conn);
		return -1;
	}
	if (set_wal(db, busy_timeout_ms) != 0 ||
	    s_exec(db, "PRAGMA synchronous = NORMAL") != 0 ||
	    s_exec(db, "PRAGMA foreign_keys = ON") != 0) {
		snprintf(err, errlen, "%s: %s", path, db_errmsg(db));
		sqlite3_close(conn);
		return -1;
	}
	if (migrate(db, set, err, errlen) != 0) {
		sqlite3_close(conn);
		return -1;
	}
	return 0;
}

/* Readers never create, migrate or write: see db_open_readonly(). */
int
db_sqlite_open_readonly(const char *path, long busy_timeout_ms, struct db *db,
    int *version, char *err, size_t errlen)
{
	sqlite3 *conn = NULL;

	db->ops = &sqlite_ops;
	if (sqlite3_open_v2(path, &conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    conn ? sqlite3_errmsg(conn) : "out of memory");
		sqlite3_close(conn);
		return -1;
	}
	db->engine_conn = conn;
	sqlite3_busy_timeout(conn, (int)busy_timeout_ms);
	if (s_exec(db, "PRAGMA query_only = 1") != 0 ||
	    user_version(conn, version) != 0) {
		snprintf(err, errlen, "%s: %s", path, db->errmsg[0] ? db_errmsg(db) :
		    sqlite3_errmsg(conn));
		sqlite3_close(conn);
		return -1;
	}
	return 0;
}
