/*
 * NAME
 *	check_store - unit tests for lib/store.c, opening and migrating SQLite
 * DESCRIPTION
 *	A new file gets every "outbound" migration (user_version, tables),
 *	WAL, synchronous=NORMAL, foreign keys and the busy timeout; opening
 *	again changes nothing; a database part-way through its migrations is
 *	brought up to date; one newer than the program, a file that is not a
 *	database and a path in a missing directory are errors, not crashes.
 *	The UNIQUE key of policy_counter is checked with the collector's own
 *	upsert statement (a copy of SQL_POLICY in collector/flusher.c).
 *
 *	Databases live in a mkdtemp() directory under $TMPDIR, removed with
 *	their -wal and -shm files by an unchecked fixture.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

/* Keep in step with SQL_POLICY in collector/flusher.c. */
static const char SQL_POLICY[] =
    "INSERT INTO policy_counter (day, report_domain, tlsrpt_record,"
    " policy_type, policy_domain, policy_strings, mx_hosts,"
    " successful_sessions, failed_sessions) VALUES (?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (day, report_domain, tlsrpt_record, policy_type,"
    " policy_domain, policy_strings, mx_hosts) DO UPDATE SET"
    " successful_sessions = successful_sessions + excluded.successful_sessions,"
    " failed_sessions = failed_sessions + excluded.failed_sessions"
    " RETURNING id";

#define TMPDIR_SUITE "check_store"
#include "test_tmpdir.h"

static void
tmp_path(char *out, size_t outlen, const char *name)
{
	ck_assert_uint_lt((size_t)snprintf(out, outlen, "%s/%s", tmpdir, name),
	    outlen);
}

/* The one integer or text a query returns; for PRAGMAs and counts. */
static long long
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
query_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *st;

	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
	snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static int
table_exists(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	int found;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master"
	    " WHERE type = 'table' AND name = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static sqlite3 *
open_ok(const char *path)
{
	sqlite3 *db = (sqlite3 *)&db;		/* must be replaced */
	char err[512] = "";

	ck_assert_msg(store_open(path, "outbound", 2000, &db, err, sizeof(err)) == 0,
	    "store_open %s: %s", path, err);
	ck_assert_ptr_nonnull(db);
	return db;
}

/* store_open must fail, leave *out NULL and say something. */
static void
open_fails(const char *path, const char *mention)
{
	sqlite3 *db = (sqlite3 *)&db;
	char err[512] = "";

	ck_assert_int_eq(store_open(path, "outbound", 2000, &db, err, sizeof(err)), -1);
	ck_assert_ptr_null(db);
	ck_assert_msg(err[0] != '\0', "no error text for %s", path);
	if (mention != NULL)
		ck_assert_msg(strstr(err, mention) != NULL, "'%s' lacks '%s'", err,
		    mention);
}

/* A raw handle that runs no migration, to set up or inspect a file. */
static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	return db;
}

static void
raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg ? msg : "?");
}

START_TEST(test_migrations_numbered)
{
	int want = store_schema_version("outbound");
	int seen = 0;

	ck_assert_int_ge(want, 1);
	for (int v = 1; v <= want; v++) {
		int n = 0;

		for (const struct store_migration *m = store_migrations; m->set; m++)
			if (strcmp(m->set, "outbound") == 0 && m->version == v) {
				n++;
				ck_assert_ptr_nonnull(m->sql);
				ck_assert_ptr_nonnull(m->name);
			}
		ck_assert_msg(n == 1, "outbound migration %d appears %d times", v, n);
		seen += n;
	}
	ck_assert_int_eq(seen, want);
	ck_assert_int_eq(store_schema_version("no-such-set"), 0);
}
END_TEST

START_TEST(test_new_database)
{
	char path[PATH_MAX], mode[32];
	sqlite3 *db;

	tmp_path(path, sizeof(path), "new.db");
	db = open_ok(path);
	ck_assert_int_eq(query_int(db, "PRAGMA user_version"),
	    store_schema_version("outbound"));
	ck_assert(table_exists(db, "policy_counter"));
	ck_assert(table_exists(db, "failure_counter"));
	ck_assert(table_exists(db, "collector_stat"));
	query_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
	ck_assert_str_eq(mode, "wal");
	ck_assert_int_eq(query_int(db, "PRAGMA synchronous"), 1);	/* NORMAL */
	ck_assert_int_eq(query_int(db, "PRAGMA foreign_keys"), 1);
	ck_assert(sqlite3_get_autocommit(db));	/* no transaction left open */
	store_close(db);
	store_close(NULL);
}
END_TEST

/* An existing empty file is a new database, as SQLite sees it. */
START_TEST(test_empty_file)
{
	char path[PATH_MAX];
	sqlite3 *db;
	int fd;

	tmp_path(path, sizeof(path), "empty.db");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	db = open_ok(path);
	ck_assert_int_eq(query_int(db, "PRAGMA user_version"),
	    store_schema_version("outbound"));
	store_close(db);
}
END_TEST

START_TEST(test_reopen_idempotent)
{
	char path[PATH_MAX], err[256];
	sqlite3 *db, *db2;
	long long objects;

	tmp_path(path, sizeof(path), "reopen.db");
	db = open_ok(path);
	objects = query_int(db, "SELECT count(*) FROM sqlite_master");
	ck_assert_int_eq(store_exec(db, "INSERT INTO collector_stat (day, name,"
	    " value) VALUES ('2024-01-01', 'received', 7)", err, sizeof(err)), 0);
	store_close(db);

	for (int i = 0; i < 3; i++) {
		db = open_ok(path);
		ck_assert_int_eq(query_int(db, "PRAGMA user_version"),
		    store_schema_version("outbound"));
		ck_assert_int_eq(query_int(db, "SELECT count(*) FROM sqlite_master"),
		    objects);
		ck_assert_int_eq(query_int(db, "SELECT value FROM collector_stat"), 7);
		store_close(db);
	}

	/* Two handles at once, as collector and aggregator hold them. */
	db = open_ok(path);
	db2 = open_ok(path);
	ck_assert_int_eq(query_int(db2, "SELECT value FROM collector_stat"), 7);
	store_close(db2);
	store_close(db);
}
END_TEST

/* Databases left at every older version are brought up to date. */
START_TEST(test_upgrade_from_each_version)
{
	int want = store_schema_version("outbound");

	for (int have = 0; have < want; have++) {
		char path[PATH_MAX], name[64], pragma[64];
		sqlite3 *db;

		snprintf(name, sizeof(name), "v%d.db", have);
		tmp_path(path, sizeof(path), name);
		db = raw_open(path);
		for (const struct store_migration *m = store_migrations; m->set; m++)
			if (strcmp(m->set, "outbound") == 0 && m->version <= have)
				raw_exec(db, m->sql);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", have);
		raw_exec(db, pragma);
		if (have >= 1)
			raw_exec(db, "INSERT INTO collector_stat (day, name, value)"
			    " VALUES ('2024-01-01', 'kept', 1)");
		sqlite3_close(db);

		db = open_ok(path);
		ck_assert_int_eq(query_int(db, "PRAGMA user_version"), want);
		if (have >= 1)
			ck_assert_int_eq(query_int(db, "SELECT count(*) FROM"
			    " collector_stat WHERE name = 'kept'"), 1);
		store_close(db);
	}
}
END_TEST

START_TEST(test_newer_refused)
{
	char path[PATH_MAX], pragma[64];
	sqlite3 *db;
	int newer = store_schema_version("outbound") + 1;

	tmp_path(path, sizeof(path), "newer.db");
	db = open_ok(path);
	store_close(db);
	db = raw_open(path);
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", newer);
	raw_exec(db, pragma);
	sqlite3_close(db);

	open_fails(path, "newer");
	/* Refused means untouched. */
	db = raw_open(path);
	ck_assert_int_eq(query_int(db, "PRAGMA user_version"), newer);
	sqlite3_close(db);
}
END_TEST

/* Random bytes, never starting like an SQLite header. */
START_TEST(test_not_a_database)
{
	char path[PATH_MAX];
	unsigned char junk[8192], back[sizeof(junk)];
	uint64_t state = 8460;
	FILE *fp;

	for (size_t i = 0; i < sizeof(junk); i++) {
		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		junk[i] = (unsigned char)(state >> 56);
	}
	memcpy(junk, "not sqlite", 10);
	tmp_path(path, sizeof(path), "junk.db");
	fp = fopen(path, "wb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(junk, 1, sizeof(junk), fp), sizeof(junk));
	ck_assert_int_eq(fclose(fp), 0);

	open_fails(path, path);

	/* And the file is left as it was. */
	fp = fopen(path, "rb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fread(back, 1, sizeof(back), fp), sizeof(back));
	fclose(fp);
	ck_assert_mem_eq(back, junk, sizeof(junk));
}
END_TEST

START_TEST(test_missing_directory)
{
	char path[PATH_MAX];
	struct stat st;

	tmp_path(path, sizeof(path), "no-such-dir/t.db");
	open_fails(path, path);
	tmp_path(path, sizeof(path), "no-such-dir");
	ck_assert_int_eq(stat(path, &st), -1);
}
END_TEST

START_TEST(test_directory_as_database)
{
	open_fails(tmpdir, tmpdir);
}
END_TEST

START_TEST(test_exec_and_rollback)
{
	char path[PATH_MAX], err[256] = "";
	sqlite3 *db;

	tmp_path(path, sizeof(path), "exec.db");
	db = open_ok(path);
	ck_assert_int_eq(store_exec(db, "SELECT * FROM no_such_table", err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no_such_table") != NULL, "%s", err);

	store_rollback(db);			/* no transaction: harmless */
	ck_assert_int_eq(store_exec(db, "BEGIN IMMEDIATE", err, sizeof(err)), 0);
	ck_assert_int_eq(store_exec(db, "INSERT INTO collector_stat VALUES"
	    " ('2024-01-01', 'x', 1)", err, sizeof(err)), 0);
	store_rollback(db);
	ck_assert(sqlite3_get_autocommit(db));
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM collector_stat"), 0);
	store_close(db);
}
END_TEST

static long long
elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000LL + (b.tv_nsec - a->tv_nsec) / 1000000;
}

/* A second writer waits about busy_timeout_ms, then gives up. */
START_TEST(test_busy_timeout)
{
	char path[PATH_MAX], err[256] = "";
	sqlite3 *holder, *waiter = NULL;
	struct timespec t0;
	long long ms;

	tmp_path(path, sizeof(path), "busy.db");
	holder = open_ok(path);
	ck_assert_int_eq(store_exec(holder, "BEGIN IMMEDIATE", err, sizeof(err)), 0);
	ck_assert_msg(store_open(path, "outbound", 200, &waiter, err,
	    sizeof(err)) == 0, "%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(store_exec(waiter, "BEGIN IMMEDIATE", err, sizeof(err)), -1);
	ms = elapsed_ms(&t0);
	ck_assert_msg(strstr(err, "locked") != NULL, "%s", err);
	ck_assert_msg(ms >= 150 && ms < 10000, "waited %lld ms for 200", ms);
	store_rollback(holder);
	store_close(waiter);
	store_close(holder);
}
END_TEST

struct policy_row {
	const char *day, *report_domain, *tlsrpt_record;
	int policy_type;
	const char *policy_domain, *policy_strings, *mx_hosts;
	long long ok, failed;
};

/* Runs the collector's upsert once; returns the row id it reports. */
static long long
upsert_policy(sqlite3_stmt *st, const struct policy_row *r)
{
	long long id;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, r->day, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->report_domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->tlsrpt_record, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, r->policy_type);
	sqlite3_bind_text(st, 5, r->policy_domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->policy_strings, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->mx_hosts, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, r->ok);
	sqlite3_bind_int64(st, 9, r->failed);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	id = sqlite3_column_int64(st, 0);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	return id;
}

static void
counts_of(sqlite3 *db, long long id, long long *ok, long long *failed)
{
	sqlite3_stmt *st;

	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT successful_sessions,"
	    " failed_sessions FROM policy_counter WHERE id = ?", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	*ok = sqlite3_column_int64(st, 0);
	*failed = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
}

START_TEST(test_policy_upsert_adds)
{
	char path[PATH_MAX];
	sqlite3 *db;
	sqlite3_stmt *st;
	struct policy_row r = { "2024-02-29", "example.com",
	    "v=TLSRPTv1; rua=mailto:tlsrpt@example.com", 2, "example.com",
	    "[\"version: STSv1\",\"mode: enforce\"]", "[\"mx.example.com\"]", 3, 1 };
	long long id, id2, other, ok, failed;

	tmp_path(path, sizeof(path), "upsert.db");
	db = open_ok(path);
	ck_assert_msg(sqlite3_prepare_v2(db, SQL_POLICY, -1, &st, NULL) == SQLITE_OK,
	    "%s", sqlite3_errmsg(db));

	id = upsert_policy(st, &r);
	r.ok = 2;
	r.failed = 5;
	id2 = upsert_policy(st, &r);
	ck_assert_int_eq(id2, id);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM policy_counter"), 1);
	counts_of(db, id, &ok, &failed);
	ck_assert_int_eq(ok, 5);
	ck_assert_int_eq(failed, 6);

	/* Any one part of the key differing makes a row of its own. */
	r.mx_hosts = "[\"mx2.example.com\"]";
	other = upsert_policy(st, &r);
	ck_assert_int_ne(other, id);
	r.mx_hosts = "[\"mx.example.com\"]";
	r.day = "2024-03-01";
	ck_assert_int_ne(upsert_policy(st, &r), id);
	r.day = "2024-02-29";
	r.policy_type = 1;
	ck_assert_int_ne(upsert_policy(st, &r), id);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM policy_counter"), 4);
	counts_of(db, id, &ok, &failed);
	ck_assert_int_eq(ok, 5);
	ck_assert_int_eq(failed, 6);
	sqlite3_finalize(st);

	/* The constraint itself, not only the statement, forbids duplicates. */
	ck_assert_int_ne(sqlite3_exec(db, "INSERT INTO policy_counter (day,"
	    " report_domain, tlsrpt_record, policy_type, policy_domain,"
	    " policy_strings, mx_hosts) SELECT day, report_domain, tlsrpt_record,"
	    " policy_type, policy_domain, policy_strings, mx_hosts FROM"
	    " policy_counter LIMIT 1", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_UNIQUE);
	store_close(db);
}
END_TEST

/* foreign_keys = ON makes deleting a policy row take its failures along. */
START_TEST(test_failure_cascade)
{
	char path[PATH_MAX], err[256] = "";
	sqlite3 *db;

	tmp_path(path, sizeof(path), "cascade.db");
	db = open_ok(path);
	ck_assert_msg(store_exec(db, "INSERT INTO policy_counter (id, day,"
	    " report_domain, tlsrpt_record, policy_type, policy_domain,"
	    " policy_strings, mx_hosts) VALUES (1, '2024-01-01', 'a', 'r', 2,"
	    " 'a', '[]', '[]');"
	    "INSERT INTO failure_counter VALUES (1, 202, '192.0.2.1', 'mx', 'helo',"
	    " '192.0.2.2', '', '', 3)", err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM failure_counter"), 1);
	/* A failure for a policy that does not exist is refused. */
	ck_assert_int_eq(store_exec(db, "INSERT INTO failure_counter VALUES (99,"
	    " 202, '', '', '', '', '', '', 1)", err, sizeof(err)), -1);
	ck_assert_int_eq(store_exec(db, "DELETE FROM policy_counter", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM failure_counter"), 0);
	store_close(db);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_migrations_numbered);
	tcase_add_test(tc, test_new_database);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_reopen_idempotent);
	tcase_add_test(tc, test_upgrade_from_each_version);
	tcase_add_test(tc, test_newer_refused);
	tcase_add_test(tc, test_not_a_database);
	tcase_add_test(tc, test_missing_directory);
	tcase_add_test(tc, test_directory_as_database);
	tcase_add_test(tc, test_exec_and_rollback);
	tcase_add_test(tc, test_busy_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("schema");
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_policy_upsert_adds);
	tcase_add_test(tc, test_failure_cascade);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
