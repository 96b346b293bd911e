/*
 * NAME
 *	store - SQLite databases: open, configure, migrate
 * DESCRIPTION
 *	See store.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		errf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int
store_schema_version(const char *set)
{
	int v = 0;

	for (const struct store_migration *m = store_migrations; m->set; m++)
		if (strcmp(m->set, set) == 0 && m->version > v)
			v = m->version;
	return v;
}

const struct store_migration *
store_migration_find(const char *set, int version)
{
	for (const struct store_migration *m = store_migrations; m->set; m++)
		if (strcmp(m->set, set) == 0 && m->version == version)
			return m;
	return NULL;
}

static int
user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
migrate(sqlite3 *db, const char *set, const char *path, char *err, size_t errlen)
{
	int have, want = store_schema_version(set);
	char inner[512], pragma[64];

	if (user_version(db, &have) != 0) {
		errf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if (have > want) {
		errf(err, errlen, "%s: schema version %d is newer than this "
		    "program knows (%d); refusing to touch it", path, have, want);
		return -1;
	}
	for (int v = have + 1; v <= want; v++) {
		const struct store_migration *m;

		for (m = store_migrations; m->set; m++)
			if (strcmp(m->set, set) == 0 && m->version == v)
				break;
		if (m->set == NULL) {
			errf(err, errlen, "internal error: %s migration %d missing", set, v);
			return -1;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v);
		if (store_exec(db, "BEGIN IMMEDIATE", inner, sizeof(inner)) != 0)
			goto fail;
		/* Another process may have migrated while we waited. */
		if (user_version(db, &have) == 0 && have >= v) {
			store_rollback(db);
			continue;
		}
		if (store_exec(db, m->sql, inner, sizeof(inner)) != 0 ||
		    store_exec(db, pragma, inner, sizeof(inner)) != 0 ||
		    store_exec(db, "COMMIT", inner, sizeof(inner)) != 0) {
			store_rollback(db);
			goto fail;
		}
		continue;
fail:
		errf(err, errlen, "%s: migration %s: %s", path, m->name, inner);
		return -1;
	}
	return 0;
}

int
store_open(const char *path, const char *set, long busy_timeout_ms,
    sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char inner[512];

	*out = NULL;
	if (store_schema_version(set) == 0) {
		errf(err, errlen, "internal error: no schema set '%s'", set);
		return -1;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		errf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, (int)busy_timeout_ms);
	if (store_exec(db, "PRAGMA journal_mode = WAL", inner, sizeof(inner)) != 0 ||
	    store_exec(db, "PRAGMA synchronous = NORMAL", inner, sizeof(inner)) != 0 ||
	    store_exec(db, "PRAGMA foreign_keys = ON", inner, sizeof(inner)) != 0) {
		errf(err, errlen, "%s: %s", path, inner);
		sqlite3_close(db);
		return -1;
	}
	if (migrate(db, set, path, err, errlen) != 0) {
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

void
store_close(sqlite3 *db)
{
	sqlite3_stmt *st;

	if (db == NULL)
		return;
	/* Statements kept for reuse (inbound.c) would make close fail. */
	while ((st = sqlite3_next_stmt(db, NULL)) != NULL)
		sqlite3_finalize(st);
	sqlite3_close(db);
}

void
store_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}
