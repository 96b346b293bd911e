/*
 * NAME
 *	db_int - what the two engines of lib/db share; not for callers
 * DESCRIPTION
 *	struct db and struct db_stmt carry a table of engine functions;
 *	db.c dispatches through it, db_sqlite.c and db_pg.c fill it in.
 */
#ifndef TLSRPTD_DB_INT_H
#define TLSRPTD_DB_INT_H

#include "db.h"

struct db_ops {
	int (*exec)(struct db *, const char *);
	int (*begin)(struct db *);
	int (*in_transaction)(struct db *);
	void (*close)(struct db *);
	int (*prepare)(struct db *, const char *, struct db_stmt *);
	void (*finalize)(struct db_stmt *);
	void (*reset)(struct db_stmt *);
	void (*clear_bindings)(struct db_stmt *);
	int (*param_index)(struct db_stmt *, const char *);
	int (*bind_int64)(struct db_stmt *, int, int64_t);
	int (*bind_double)(struct db_stmt *, int, double);
	int (*bind_text)(struct db_stmt *, int, const char *, size_t, int);
	int (*bind_blob)(struct db_stmt *, int, const void *, size_t);
	int (*bind_null)(struct db_stmt *, int);
	int (*step)(struct db_stmt *);
	int (*column_count)(struct db_stmt *);
	const char *(*column_name)(struct db_stmt *, int);
	enum db_type (*column_type)(struct db_stmt *, int);
	int64_t (*column_int64)(struct db_stmt *, int);
	double (*column_double)(struct db_stmt *, int);
	const char *(*column_text)(struct db_stmt *, int);
	const void *(*column_blob)(struct db_stmt *, int);
	size_t (*column_bytes)(struct db_stmt *, int);
};

struct db {
	const struct db_ops *ops;
	enum db_engine engine;
	char name[256];			/* target without password */
	char errmsg[512];
	enum db_errclass errclass;
	int64_t changes;
	int txn_failed;			/* SQLite: a statement failed in this transaction */
	int closing;			/* db_close(): no more requests to the server */
	struct db_stmt *stmts;		/* open statements, finalized at close */
	void *engine_conn;		/* sqlite3 * or PGconn * */
	void *engine_state;		/* engine's private state */
};

struct db_stmt {
	struct db *db;
	struct db_stmt *next, *prev;
	char *sql;
	int busy;
	void *engine_stmt;
};

void db_seterr(struct db *db, enum db_errclass cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int db_sqlite_open(const char *path, const char *set, long busy_timeout_ms,
    struct db *db, char *err, size_t errlen);
int db_pg_open(const char *uri, const char *set, long busy_timeout_ms,
    struct db *db, char *err, size_t errlen);
void db_pg_set_timeout_ms(struct db *db, long timeout_ms);
enum db_commit_outcome db_pg_commit_outcome(struct db *db);
int db_sqlite_open_readonly(const char *path, long busy_timeout_ms,
    struct db *db, int *version, char *err, size_t errlen);
int db_pg_open_readonly(const char *uri, const char *set, long busy_timeout_ms,
    struct db *db, int *version, char *err, size_t errlen);

#endif
