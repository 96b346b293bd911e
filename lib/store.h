/*
 * NAME
 *	store - SQLite databases: open, configure, migrate
 * SYNOPSIS
 *	sqlite3 *db;
 *	if (store_open(path, "outbound", busy_timeout_ms, &db, err, sizeof(err)) != 0)
 *		...
 *	store_exec(db, "BEGIN IMMEDIATE", err, sizeof(err));
 *	store_close(db);
 * DESCRIPTION
 *	Every database is opened the same way: WAL journal (readers never
 *	block the collector's writes), synchronous=NORMAL (a power loss may
 *	lose the last transaction, never corrupt), a busy timeout, foreign
 *	keys on. The schema is brought up to date from the numbered
 *	migrations in schema/<set>/ (embedded at build time), each in its
 *	own transaction, tracked in PRAGMA user_version. A database newer
 *	than the program is refused rather than misread.
 */
#ifndef TLSRPTD_STORE_H
#define TLSRPTD_STORE_H

#include <stddef.h>
#include <sqlite3.h>

struct store_migration {
	const char *set;	/* "outbound", "inbound" */
	int version;		/* from the file name, 1.. */
	const char *name;	/* file name, for messages */
	const char *sql;
};

extern const struct store_migration store_migrations[];

int store_open(const char *path, const char *set, long busy_timeout_ms,
    sqlite3 **out, char *err, size_t errlen) __attribute__((warn_unused_result));
void store_close(sqlite3 *db);
int store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
    __attribute__((warn_unused_result));
int store_schema_version(const char *set);
const struct store_migration *store_migration_find(const char *set, int version);
/* ROLLBACK when a transaction is open; for error paths. */
void store_rollback(sqlite3 *db);	/* newest known version */

#endif
