/*
 * NAME
 *	check_db - unit tests for lib/db: opening, migrating, statements,
 *	transactions and errors, on SQLite and on PostgreSQL
 * DESCRIPTION
 *	Every test that takes an engine runs as a loop test: _i 0 on a
 *	SQLite file, _i 1 on the PostgreSQL server TLSRPTD_TEST_PG names
 *	(test_pg.h; the run does nothing when it is not set), each starting
 *	from an empty database. Both must behave alike: migrations from
 *	empty, re-opening changes nothing, a newer schema is refused,
 *	upserts add up, constraint errors are DB_ERR_CONSTRAINT, ? ?NNN and
 *	:name parameters, blobs with NUL bytes, NULL columns, db_changes(),
 *	a transaction with a failed statement cannot commit, concurrent
 *	writers neither lose nor double count. Some tests are for one engine
 *	only: WAL, the busy timeout of a second writer and file permissions
 *	for SQLite; reconnecting, the reply timeout, a COMMIT whose answer
 *	is lost and deadlocks for PostgreSQL. No password of a URI may show
 *	in a message.
 *
 *	SQLite files live in a mkdtemp() directory under $TMPDIR, removed
 *	with their -wal and -shm files by an unchecked fixture.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "store.h"
#include "test_pg.h"

#define TMPDIR_SUITE "check_db"
#include "test_tmpdir.h"

#define ENGINES 2		/* loop tests: _i 0 SQLite, 1 PostgreSQL */
#define BUSY_MS 2000

/* Keep in step with SQL_POLICY in collector/flusher.c. */
static const char SQL_POLICY[] =
    "INSERT INTO policy_counter (day, report_domain, tlsrpt_record,"
    " policy_type, policy_domain, policy_strings, mx_hosts,"
    " successful_sessions, failed_sessions) VALUES (?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (day, report_domain, tlsrpt_record, policy_type,"
    " policy_domain, policy_strings, mx_hosts) DO UPDATE SET"
    " successful_sessions = policy_counter.successful_sessions"
    " + excluded.successful_sessions,"
    " failed_sessions = policy_counter.failed_sessions + excluded.failed_sessions"
    " RETURNING id";

static const char SQL_STAT_ADD[] =
    "INSERT INTO collector_stat (day, name, value) VALUES (?, ?, ?)"
    " ON CONFLICT (day, name) DO UPDATE SET"
    " value = collector_stat.value + excluded.value";

static void
tmp_path(char *out, size_t outlen, const char *name)
{
	ck_assert_uint_lt((size_t)snprintf(out, outlen, "%s/%s", tmpdir, name),
	    outlen);
}

/*
 * The database of engine e for a test: a new file name (SQLite) or the
 * test server, emptied (PostgreSQL). 0 when the engine is not there.
 */
static int
pick(int e, const char *file, char *target, size_t len)
{
	const char *uri = test_pg_uri();

	if (e == 0) {
		tmp_path(target, len, file);
		return 1;
	}
	if (uri == NULL)
		return 0;
	test_pg_reset(uri);
	ck_assert_uint_lt((size_t)snprintf(target, len, "%s", uri), len);
	return 1;
}

#define TARGET(file) \
	char target[PATH_MAX]; \
	if (!pick(_i, file, target, sizeof(target))) \
		return

/* PostgreSQL-only tests: the emptied server, or return. */
#define PG_ONLY() \
	const char *uri = test_pg_uri(); \
	if (uri == NULL) \
		return; \
	test_pg_reset(uri)

/* Waits for the n children in pids; each must have exited 0. */
static void
reap_ok(const pid_t *pids, int n, const char *what)
{
	for (int p = 0; p < n; p++) {
		int status;

		ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "%s %d failed", what, p);
	}
}

static struct db *
open_ok(const char *target)
{
	struct db *db = (struct db *)&db;	/* must be replaced */
	char err[512] = "";

	ck_assert_msg(db_open(target, "outbound", BUSY_MS, &db, err, sizeof(err)) == 0,
	    "db_open %s: %s", target, err);
	ck_assert_ptr_nonnull(db);
	return db;
}

/* db_open must fail, leave *out NULL and say something. */
static void
open_fails(const char *target, const char *mention, char *err, size_t errlen)
{
	struct db *db = (struct db *)&db;

	err[0] = '\0';
	ck_assert_int_eq(db_open(target, "outbound", BUSY_MS, &db, err, errlen), -1);
	ck_assert_ptr_null(db);
	ck_assert_msg(err[0] != '\0', "no error text for %s", target);
	if (mention != NULL)
		ck_assert_msg(strstr(err, mention) != NULL, "'%s' lacks '%s'", err,
		    mention);
}

static void
exec_ok(struct db *db, const char *sql)
{
	ck_assert_msg(db_exec(db, sql) == 0, "%s: %s", sql, db_errmsg(db));
}

/* The one integer a query returns. */
static int64_t
q_int(struct db *db, const char *sql)
{
	struct db_stmt *st;
	int64_t v;

	ck_assert_msg(db_prepare(db, sql, &st) == 0, "%s: %s", sql, db_errmsg(db));
	ck_assert_msg(db_step(st) == DB_ROW, "%s: %s", sql, db_errmsg(db));
	v = db_column_int64(st, 0);
	db_finalize(st);
	return v;
}

static void
q_text(struct db *db, const char *sql, char *out, size_t outlen)
{
	struct db_stmt *st;

	ck_assert_msg(db_prepare(db, sql, &st) == 0, "%s: %s", sql, db_errmsg(db));
	ck_assert_msg(db_step(st) == DB_ROW, "%s: %s", sql, db_errmsg(db));
	ck_assert_ptr_nonnull(db_column_text(st, 0));
	snprintf(out, outlen, "%s", db_column_text(st, 0));
	db_finalize(st);
}

static int
schema_version(struct db *db)
{
	return (int)q_int(db, db_engine(db) == DB_SQLITE ? "PRAGMA user_version" :
	    "SELECT version FROM tlsrptd_schema WHERE name = 'outbound'");
}

/* Tables, indexes, sequences: what a second migration would add to. */
static int64_t
schema_objects(struct db *db)
{
	return q_int(db, db_engine(db) == DB_SQLITE ?
	    "SELECT count(*) FROM sqlite_master" :
	    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON"
	    " n.oid = c.relnamespace WHERE n.nspname = 'tlsrptd_outbound'");
}

/* A statement on the test server outside lib/db, for setting up. */
static void
pg_raw(const char *sql)
{
	PGconn *c = PQconnectdb(test_pg_uri());
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* A raw SQLite handle that runs no migration. */
static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *s;

	ck_assert_int_eq(sqlite3_open(path, &s), SQLITE_OK);
	return s;
}

static void
raw_exec(sqlite3 *s, const char *sql)
{
	char *msg = NULL;

	ck_assert_msg(sqlite3_exec(s, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg ? msg : "?");
}

static long long
elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000LL + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void
stat_add(struct db_stmt *st, const char *day, const char *name, int64_t v)
{
	ck_assert_int_eq(db_bind_text(st, 1, day, -1), 0);
	ck_assert_int_eq(db_bind_text(st, 2, name, -1), 0);
	ck_assert_int_eq(db_bind_int64(st, 3, v), 0);
	ck_assert_msg(db_step_done(st) == 0, "%s", db_errmsg(db_stmt_db(st)));
}

/* ---- migrations ---------------------------------------------------- */

START_TEST(test_migrations_numbered)
{
	static const char *const sets[][2] = {
		{ "outbound", "pg-outbound" }, { "inbound", "pg-inbound" },
	};

	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		int want = store_schema_version(sets[s][0]);

		ck_assert_int_ge(want, 1);
		/* Each engine's migrations carry the same numbers. */
		ck_assert_int_eq(store_schema_version(sets[s][1]), want);
		for (int e = 0; e < 2; e++) {
			for (int v = 1; v <= want; v++) {
				const struct store_migration *m =
				    store_migration_find(sets[s][e], v);
				int n = 0;

				ck_assert_msg(m != NULL, "%s %d missing", sets[s][e], v);
				ck_assert_ptr_nonnull(m->sql);
				for (m = store_migrations; m->set; m++)
					n += strcmp(m->set, sets[s][e]) == 0 && m->version == v;
				ck_assert_msg(n == 1, "%s migration %d appears %d times",
				    sets[s][e], v, n);
			}
			ck_assert_ptr_null(store_migration_find(sets[s][e], want + 1));
		}
	}
	ck_assert_int_eq(store_schema_version("no-such-set"), 0);
}
END_TEST

START_TEST(test_new_database)
{
	struct db *db;
	TARGET("new.db");

	db = open_ok(target);
	ck_assert_int_eq(schema_version(db), store_schema_version("outbound"));
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM policy_counter"), 0);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM failure_counter"), 0);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM collector_stat"), 0);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM report"), 0);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM delivery"), 0);
	ck_assert(!db_in_transaction(db));	/* no transaction left open */
	if (_i == 0) {
		char mode[32];

		ck_assert_int_eq(db_engine(db), DB_SQLITE);
		q_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
		ck_assert_str_eq(mode, "wal");
		ck_assert_int_eq(q_int(db, "PRAGMA synchronous"), 1);	/* NORMAL */
		ck_assert_int_eq(q_int(db, "PRAGMA foreign_keys"), 1);
	} else {
		char path[128];

		ck_assert_int_eq(db_engine(db), DB_POSTGRESQL);
		q_text(db, "SHOW search_path", path, sizeof(path));
		ck_assert_str_eq(path, "tlsrptd_outbound");
	}
	db_close(db);
	db_close(NULL);
}
END_TEST

/* An existing empty file is a new database, as SQLite sees it. */
START_TEST(test_empty_file)
{
	char path[PATH_MAX];
	struct db *db;
	int fd;

	tmp_path(path, sizeof(path), "empty.db");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	db = open_ok(path);
	ck_assert_int_eq(schema_version(db), store_schema_version("outbound"));
	db_close(db);
}
END_TEST

START_TEST(test_reopen_idempotent)
{
	struct db *db, *db2;
	int64_t objects;
	TARGET("reopen.db");

	db = open_ok(target);
	objects = schema_objects(db);
	exec_ok(db, "INSERT INTO collector_stat (day, name, value)"
	    " VALUES ('2024-01-01', 'received', 7)");
	db_close(db);

	for (int i = 0; i < 3; i++) {
		db = open_ok(target);
		ck_assert_int_eq(schema_version(db), store_schema_version("outbound"));
		ck_assert_int_eq(schema_objects(db), objects);
		ck_assert_int_eq(q_int(db, "SELECT value FROM collector_stat"), 7);
		db_close(db);
	}

	/* Two handles at once, as collector and aggregator hold them. */
	db = open_ok(target);
	db2 = open_ok(target);
	ck_assert_int_eq(q_int(db2, "SELECT value FROM collector_stat"), 7);
	db_close(db2);
	db_close(db);
}
END_TEST

/* A database left at version `have`, with one counter row from then. */
static void
make_old(int e, const char *target, int have)
{
	const char *set = e == 0 ? "outbound" : "pg-outbound";
	char sql[256];

	if (e == 0) {
		sqlite3 *s = raw_open(target);

		for (int v = 1; v <= have; v++)
			raw_exec(s, store_migration_find(set, v)->sql);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", have);
		raw_exec(s, sql);
		if (have >= 1)
			raw_exec(s, "INSERT INTO collector_stat (day, name, value)"
			    " VALUES ('2024-01-01', 'kept', 1)");
		sqlite3_close(s);
		return;
	}
	if (have == 0)
		return;
	pg_raw("CREATE SCHEMA tlsrptd_outbound");
	pg_raw("CREATE TABLE tlsrptd_outbound.tlsrptd_schema"
	    " (name TEXT PRIMARY KEY, version INTEGER NOT NULL)");
	for (int v = 1; v <= have; v++) {
		char *all;
		size_t len = strlen(store_migration_find(set, v)->sql) + 64;

		all = malloc(len);
		ck_assert_ptr_nonnull(all);
		snprintf(all, len, "SET search_path = tlsrptd_outbound; %s",
		    store_migration_find(set, v)->sql);
		pg_raw(all);
		free(all);
	}
	snprintf(sql, sizeof(sql), "INSERT INTO tlsrptd_outbound.tlsrptd_schema"
	    " VALUES ('outbound', %d)", have);
	pg_raw(sql);
	pg_raw("INSERT INTO tlsrptd_outbound.collector_stat (day, name, value)"
	    " VALUES ('2024-01-01', 'kept', 1)");
}

/* Databases left at every older version are brought up to date. */
START_TEST(test_upgrade_from_each_version)
{
	int want = store_schema_version("outbound");

	for (int have = 0; have < want; have++) {
		char name[64];
		struct db *db;

		snprintf(name, sizeof(name), "v%d.db", have);
		TARGET(name);
		make_old(_i, target, have);
		db = open_ok(target);
		ck_assert_int_eq(schema_version(db), want);
		if (have >= 1)
			ck_assert_int_eq(q_int(db, "SELECT count(*) FROM"
			    " collector_stat WHERE name = 'kept'"), 1);
		ck_assert_int_eq(q_int(db, "SELECT count(*) FROM delivery"), 0);
		db_close(db);
	}
}
END_TEST

START_TEST(test_newer_refused)
{
	char sql[128], err[512];
	struct db *db;
	int newer = store_schema_version("outbound") + 1;
	TARGET("newer.db");

	db = open_ok(target);
	if (_i == 0)
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", newer);
	else
		snprintf(sql, sizeof(sql), "UPDATE tlsrptd_schema SET version = %d"
		    " WHERE name = 'outbound'", newer);
	exec_ok(db, sql);
	db_close(db);

	open_fails(target, "newer than this program knows", err, sizeof(err));
	/* It says which versions, and refused means untouched. */
	snprintf(sql, sizeof(sql), "version %d", newer);
	ck_assert_msg(strstr(err, sql) != NULL, "%s", err);
	if (_i == 0) {
		sqlite3 *s = raw_open(target);
		sqlite3_stmt *st;

		ck_assert_int_eq(sqlite3_prepare_v2(s, "PRAGMA user_version", -1,
		    &st, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(st, 0), newer);
		sqlite3_finalize(st);
		sqlite3_close(s);
	} else {
		int version;

		ck_assert_msg(db_open_readonly(target, "outbound", BUSY_MS, &db,
		    &version, err, sizeof(err)) == -1, "read-only open accepted it");
		pg_raw("SET search_path = tlsrptd_outbound; DO $$ BEGIN IF (SELECT"
		    " version FROM tlsrptd_schema) <> (SELECT max(version) FROM"
		    " tlsrptd_schema) THEN RAISE 'changed'; END IF; END $$");
	}
}
END_TEST

/* Refused means untouched: not even the journal mode changes. */
START_TEST(test_newer_file_untouched)
{
	char path[PATH_MAX], err[512];
	unsigned char before[65536], after[sizeof(before)];
	size_t nbefore, nafter;
	sqlite3 *s;
	FILE *fp;

	tmp_path(path, sizeof(path), "future.db");
	s = raw_open(path);
	raw_exec(s, "CREATE TABLE from_the_future (x); PRAGMA user_version = 999");
	sqlite3_close(s);
	fp = fopen(path, "rb");
	ck_assert_ptr_nonnull(fp);
	nbefore = fread(before, 1, sizeof(before), fp);
	fclose(fp);

	open_fails(path, "schema version 999 is newer", err, sizeof(err));
	ck_assert_msg(strstr(err, "refusing to touch it") != NULL, "%s", err);
	fp = fopen(path, "rb");
	ck_assert_ptr_nonnull(fp);
	nafter = fread(after, 1, sizeof(after), fp);
	fclose(fp);
	ck_assert_uint_eq(nafter, nbefore);
	ck_assert_mem_eq(after, before, nbefore);
}
END_TEST

/*
 * Collectors on many hosts start at once: one migrates, none fails. On
 * SQLite the switch of a new file to WAL used to answer "database is
 * locked" at once to one opener in about 25 rounds (SQLite does not call
 * its busy handler there), so the race is run many times, each on a new
 * file or an emptied server.
 */
START_TEST(test_concurrent_open)
{
	enum { PROCS = 6, ROUNDS = 30 };
	struct db *db;

	for (int round = 0; round < ROUNDS; round++) {
		pid_t pids[PROCS];
		char file[32], who[32];

		snprintf(file, sizeof(file), "together%d.db", round);
		TARGET(file);
		for (int p = 0; p < PROCS; p++) {
			pids[p] = fork();
			ck_assert_int_ge(pids[p], 0);
			if (pids[p] == 0) {
				char err[512];
				struct db *mine;

				if (db_open(target, "outbound", 10000, &mine, err,
				    sizeof(err)) != 0) {
					fprintf(stderr, "round %d child %d: %s\n",
					    round, p, err);
					_exit(1);
				}
				db_close(mine);
				_exit(0);
			}
		}
		snprintf(who, sizeof(who), "round %d: opener", round);
		reap_ok(pids, PROCS, who);
		db = open_ok(target);
		ck_assert_int_eq(schema_version(db), store_schema_version("outbound"));
		db_close(db);
	}
}
END_TEST

/* Random bytes, never starting like an SQLite header. */
START_TEST(test_not_a_database)
{
	char path[PATH_MAX], err[512];
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

	open_fails(path, path, err, sizeof(err));

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
	char path[PATH_MAX], err[512];
	struct stat st;

	tmp_path(path, sizeof(path), "no-such-dir/t.db");
	open_fails(path, path, err, sizeof(err));
	tmp_path(path, sizeof(path), "no-such-dir");
	ck_assert_int_eq(stat(path, &st), -1);
}
END_TEST

START_TEST(test_directory_as_database)
{
	char err[512];

	open_fails(tmpdir, tmpdir, err, sizeof(err));
}
END_TEST

/* A file the collector may not write: refused, not opened half-way. */
START_TEST(test_read_only_file)
{
	char path[PATH_MAX], err[512];
	int fd;

	if (geteuid() == 0)
		return;		/* root writes anyway */
	tmp_path(path, sizeof(path), "readonly.db");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0400);
	ck_assert_int_ge(fd, 0);
	close(fd);
	open_fails(path, path, err, sizeof(err));
}
END_TEST

/* ---- statements and transactions ----------------------------------- */

START_TEST(test_exec_and_rollback)
{
	struct db *db;
	TARGET("exec.db");

	db = open_ok(target);
	ck_assert_int_eq(db_exec(db, "SELECT * FROM no_such_table"), -1);
	ck_assert_msg(strstr(db_errmsg(db), "no_such_table") != NULL, "%s",
	    db_errmsg(db));
	ck_assert_int_eq(db_errclass(db), DB_ERR_OTHER);

	db_rollback(db);			/* no transaction: harmless */
	ck_assert_int_eq(db_begin(db), 0);
	ck_assert(db_in_transaction(db));
	exec_ok(db, "INSERT INTO collector_stat VALUES ('2024-01-01', 'x', 1)");
	db_rollback(db);
	ck_assert(!db_in_transaction(db));
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM collector_stat"), 0);

	ck_assert_int_eq(db_begin(db), 0);
	exec_ok(db, "INSERT INTO collector_stat VALUES ('2024-01-01', 'x', 1)");
	ck_assert_int_eq(db_commit(db), 0);
	ck_assert(!db_in_transaction(db));
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM collector_stat"), 1);
	/* COMMIT without a transaction is a mistake on both engines. */
	ck_assert_int_eq(db_commit(db), -1);
	ck_assert_int_eq(db_commit_outcome(db), DB_NOT_COMMITTED);
	db_close(db);
}
END_TEST

/*
 * After a statement failed in a transaction nothing more runs in it and
 * COMMIT fails: PostgreSQL's rule, which SQLite must follow too, or the
 * statements that went through would be committed without the one that
 * did not.
 */
START_TEST(test_commit_after_failed_statement)
{
	struct db *db;
	TARGET("failed.db");

	db = open_ok(target);
	ck_assert_int_eq(db_begin(db), 0);
	exec_ok(db, "INSERT INTO collector_stat VALUES ('d', 'x', 1)");
	ck_assert_int_eq(db_exec(db, "INSERT INTO collector_stat VALUES ('d', 'x', 2)"), -1);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONSTRAINT);
	ck_assert_int_eq(db_exec(db, "INSERT INTO collector_stat VALUES ('d', 'y', 3)"), -1);
	ck_assert(db_in_transaction(db));
	ck_assert_int_eq(db_commit(db), -1);
	ck_assert_msg(strstr(db_errmsg(db), "rolled back") != NULL, "%s", db_errmsg(db));
	ck_assert(!db_in_transaction(db));
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM collector_stat"), 0);

	/* A failed step, then ROLLBACK: the next transaction is clean. */
	ck_assert_int_eq(db_begin(db), 0);
	{
		struct db_stmt *st;

		ck_assert_int_eq(db_prepare(db, SQL_STAT_ADD, &st), 0);
		stat_add(st, "d", "a", 1);
		ck_assert_int_eq(db_bind_null(st, 3), 0);	/* value NOT NULL */
		ck_assert_int_eq(db_step_done(st), -1);
		ck_assert_int_eq(db_errclass(db), DB_ERR_CONSTRAINT);
		ck_assert_int_eq(db_bind_int64(st, 3, 5), 0);
		ck_assert_int_eq(db_step_done(st), -1);		/* refused */
		db_rollback(db);
		ck_assert(!db_in_transaction(db));
		ck_assert_int_eq(db_begin(db), 0);
		stat_add(st, "d", "b", 2);
		ck_assert_int_eq(db_commit(db), 0);
		db_finalize(st);
	}
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM collector_stat"), 1);
	ck_assert_int_eq(q_int(db, "SELECT value FROM collector_stat WHERE name = 'b'"), 2);

	/* A statement that does not even prepare counts as failed too. */
	ck_assert_int_eq(db_begin(db), 0);
	exec_ok(db, "INSERT INTO collector_stat VALUES ('d', 'c', 1)");
	{
		struct db_stmt *st = NULL;

		if (db_prepare(db, "INSERT INTO no_such_table VALUES (?)", &st) == 0) {
			ck_assert_int_eq(db_bind_int64(st, 1, 1), 0);
			ck_assert_int_eq(db_step_done(st), -1);
			db_finalize(st);
		}
	}
	ck_assert_int_eq(db_commit(db), -1);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM collector_stat"), 1);
	db_close(db);
}
END_TEST

/* A second writer waits about busy_timeout_ms, then gives up. */
START_TEST(test_busy_timeout)
{
	char path[PATH_MAX], err[512] = "";
	struct db *holder, *waiter = NULL;
	struct timespec t0;
	long long ms;

	tmp_path(path, sizeof(path), "busy.db");
	holder = open_ok(path);
	ck_assert_int_eq(db_begin(holder), 0);
	ck_assert_msg(db_open(path, "outbound", 200, &waiter, err, sizeof(err)) == 0,
	    "%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(db_begin(waiter), -1);
	ms = elapsed_ms(&t0);
	ck_assert_int_eq(db_errclass(waiter), DB_ERR_BUSY);
	ck_assert_msg(strstr(db_errmsg(waiter), "locked") != NULL, "%s", db_errmsg(waiter));
	ck_assert_msg(ms >= 150 && ms < 10000, "waited %lld ms for 200", ms);
	ck_assert(!db_in_transaction(waiter));
	db_rollback(holder);
	ck_assert_int_eq(db_begin(waiter), 0);
	ck_assert_int_eq(db_commit(waiter), 0);
	db_close(waiter);
	db_close(holder);
}
END_TEST

struct policy_row {
	const char *day, *report_domain, *tlsrpt_record;
	int policy_type;
	const char *policy_domain, *policy_strings, *mx_hosts;
	long long ok, failed;
};

/* Runs the collector's upsert once; returns the row id it reports. */
static int64_t
upsert_policy(struct db_stmt *st, const struct policy_row *r)
{
	int64_t id;

	db_reset(st);
	ck_assert_int_eq(db_bind_text_static(st, 1, r->day, -1), 0);
	ck_assert_int_eq(db_bind_text_static(st, 2, r->report_domain, -1), 0);
	ck_assert_int_eq(db_bind_text_static(st, 3, r->tlsrpt_record, -1), 0);
	ck_assert_int_eq(db_bind_int64(st, 4, r->policy_type), 0);
	ck_assert_int_eq(db_bind_text_static(st, 5, r->policy_domain, -1), 0);
	ck_assert_int_eq(db_bind_text_static(st, 6, r->policy_strings, -1), 0);
	ck_assert_int_eq(db_bind_text_static(st, 7, r->mx_hosts, -1), 0);
	ck_assert_int_eq(db_bind_int64(st, 8, r->ok), 0);
	ck_assert_int_eq(db_bind_int64(st, 9, r->failed), 0);
	ck_assert_msg(db_step(st) == DB_ROW, "%s", db_errmsg(db_stmt_db(st)));
	id = db_column_int64(st, 0);
	ck_assert_int_eq(db_step(st), DB_DONE);
	db_reset(st);
	return id;
}

static void
counts_of(struct db *db, int64_t id, int64_t *ok, int64_t *failed)
{
	struct db_stmt *st;

	ck_assert_int_eq(db_prepare(db, "SELECT successful_sessions,"
	    " failed_sessions FROM policy_counter WHERE id = ?", &st), 0);
	ck_assert_int_eq(db_bind_int64(st, 1, id), 0);
	ck_assert_int_eq(db_step(st), DB_ROW);
	*ok = db_column_int64(st, 0);
	*failed = db_column_int64(st, 1);
	db_finalize(st);
}

START_TEST(test_policy_upsert_adds)
{
	struct db *db;
	struct db_stmt *st;
	struct policy_row r = { "2024-02-29", "example.com",
	    "v=TLSRPTv1; rua=mailto:tlsrpt@example.com", 2, "example.com",
	    "[\"version: STSv1\",\"mode: enforce\"]", "[\"mx.example.com\"]", 3, 1 };
	int64_t id, id2, other, ok, failed;
	TARGET("upsert.db");

	db = open_ok(target);
	ck_assert_msg(db_prepare(db, SQL_POLICY, &st) == 0, "%s", db_errmsg(db));

	id = upsert_policy(st, &r);
	r.ok = 2;
	r.failed = 5;
	id2 = upsert_policy(st, &r);
	ck_assert_int_eq(id2, id);
	ck_assert_int_eq(db_changes(db), 1);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM policy_counter"), 1);
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
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM policy_counter"), 4);
	counts_of(db, id, &ok, &failed);
	ck_assert_int_eq(ok, 5);
	ck_assert_int_eq(failed, 6);
	db_finalize(st);

	/* The constraint itself, not only the statement, forbids duplicates. */
	ck_assert_int_eq(db_exec(db, "INSERT INTO policy_counter (day,"
	    " report_domain, tlsrpt_record, policy_type, policy_domain,"
	    " policy_strings, mx_hosts) SELECT day, report_domain, tlsrpt_record,"
	    " policy_type, policy_domain, policy_strings, mx_hosts FROM"
	    " policy_counter WHERE id = 1"), -1);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONSTRAINT);
	db_close(db);
}
END_TEST

/* Deleting a policy row takes its failures along; orphans are refused. */
START_TEST(test_failure_cascade)
{
	struct db *db;
	TARGET("cascade.db");

	db = open_ok(target);
	exec_ok(db, "INSERT INTO policy_counter (id, day, report_domain,"
	    " tlsrpt_record, policy_type, policy_domain, policy_strings, mx_hosts)"
	    " VALUES (1, '2024-01-01', 'a', 'r', 2, 'a', '[]', '[]')");
	exec_ok(db, "INSERT INTO failure_counter VALUES (1, 202, '192.0.2.1', 'mx',"
	    " 'helo', '192.0.2.2', '', '', 3)");
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM failure_counter"), 1);
	ck_assert_int_eq(db_exec(db, "INSERT INTO failure_counter VALUES (99,"
	    " 202, '', '', '', '', '', '', 1)"), -1);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONSTRAINT);
	exec_ok(db, "DELETE FROM policy_counter");
	ck_assert_int_eq(db_changes(db), 1);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM failure_counter"), 0);
	db_close(db);
}
END_TEST

/* Unique, NOT NULL, CHECK and foreign key: all DB_ERR_CONSTRAINT. */
START_TEST(test_constraint_classes)
{
	static const char *const bad[] = {
		"INSERT INTO collector_stat VALUES ('d', 'n', 2)",
		"INSERT INTO collector_stat VALUES ('d', NULL, 2)",
		"UPDATE report SET state = 'lost'",
		"INSERT INTO delivery (report, uri, scheme, target, next_attempt_at)"
		    " VALUES (424242, 'mailto:a@example', 'mailto', 'a@example', 0)",
		"UPDATE delivery SET scheme = 'ftp'",
	};
	struct db *db;
	TARGET("constraint.db");

	db = open_ok(target);
	exec_ok(db, "INSERT INTO collector_stat VALUES ('d', 'n', 1)");
	exec_ok(db, "INSERT INTO report (day, report_domain, tlsrpt_record,"
	    " report_id, json, gzip, policies, successful_sessions,"
	    " failed_sessions, created_at) VALUES ('d', 'a', 'r', 'id', '{}', '',"
	    " 0, 0, 0, 0)");
	exec_ok(db, "INSERT INTO delivery (report, uri, scheme, target,"
	    " next_attempt_at) SELECT id, 'mailto:a@example', 'mailto',"
	    " 'a@example', 0 FROM report");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(db_exec(db, bad[i]) == -1, "accepted: %s", bad[i]);
		ck_assert_msg(db_errclass(db) == DB_ERR_CONSTRAINT, "%s: class %d: %s",
		    bad[i], db_errclass(db), db_errmsg(db));
	}
	/* And a prepared statement's failure is classified the same. */
	{
		struct db_stmt *st;

		ck_assert_int_eq(db_prepare(db, "INSERT INTO collector_stat"
		    " VALUES (?, ?, ?)", &st), 0);
		ck_assert_int_eq(db_bind_text(st, 1, "d", -1), 0);
		ck_assert_int_eq(db_bind_text(st, 2, "n", -1), 0);
		ck_assert_int_eq(db_bind_int64(st, 3, 1), 0);
		ck_assert_int_eq(db_step(st), DB_ERROR);
		ck_assert_int_eq(db_errclass(db), DB_ERR_CONSTRAINT);
		db_finalize(st);
	}
	db_close(db);
}
END_TEST

struct param_case {
	const char *sql;
	const char *p1, *p2;	/* text parameters 1 and 2, by index or :name */
	int64_t p3;
	const char *want_day, *want_name;
	int64_t want_value;
};

static const struct param_case param_cases[] = {
	{ "INSERT INTO collector_stat (day, name, value) VALUES (?, ?, ?)",
	  "d1", "n1", 1, "d1", "n1", 1 },
	/* ?NNN in any order; a bare ? after them takes the next number. */
	{ "INSERT INTO collector_stat (day, name, value) VALUES (?2, ?1, ?)",
	  "n2", "d2", 2, "d2", "n2", 2 },
	{ "INSERT INTO collector_stat (name, value, day) VALUES (?1, ?3, ?2)",
	  "n3", "d3", 3, "d3", "n3", 3 },
	/* :name; the same name twice is one parameter. */
	{ "INSERT INTO collector_stat (day, name, value) VALUES (:p1, :p2, :p3)",
	  "d4", "n4", 4, "d4", "n4", 4 },
	{ "INSERT INTO collector_stat (day, name, value) VALUES"
	  " (:p1, :p1 || '-' || :p2, :p3)", "d5", "n5", 5, "d5", "d5-n5", 5 },
	/* No parameter in a string, a quoted name or a comment. */
	{ "INSERT INTO collector_stat (day, name, \"value\") VALUES"
	  " ('?:x', ? -- what? :y\n, ?)", "n6", NULL, 6, "?:x", "n6", 6 },
	/* A cast is not a name. */
	{ "INSERT INTO collector_stat (day, name, value) VALUES"
	  " (?, ?, CAST('7' AS INTEGER) + ?)", "d7", "n7", 0, "d7", "n7", 7 },
};

START_TEST(test_parameter_styles)
{
	struct db *db;
	TARGET("params.db");

	db = open_ok(target);
	for (size_t c = 0; c < sizeof(param_cases) / sizeof(param_cases[0]); c++) {
		const struct param_case *pc = &param_cases[c];
		struct db_stmt *st, *q;
		int named = strstr(pc->sql, ":p1") != NULL;
		char want_key[64];

		ck_assert_msg(db_prepare(db, pc->sql, &st) == 0, "%s: %s", pc->sql,
		    db_errmsg(db));
		if (named) {
			ck_assert_int_eq(db_param_index(st, ":p1"), 1);
			ck_assert_int_eq(db_param_index(st, ":p2"), 2);
			ck_assert_int_eq(db_param_index(st, ":p3"), 3);
			ck_assert_int_eq(db_param_index(st, ":nope"), 0);
		}
		if (pc->p2 == NULL) {
			ck_assert_int_eq(db_bind_text(st, 1, pc->p1, -1), 0);
			ck_assert_int_eq(db_bind_int64(st, 2, pc->p3), 0);
			ck_assert_int_ne(db_bind_int64(st, 3, 0), 0);	/* no third */
		} else {
			ck_assert_int_eq(db_bind_text(st, 1, pc->p1, -1), 0);
			ck_assert_int_eq(db_bind_text_static(st, 2, pc->p2, -1), 0);
			ck_assert_int_eq(db_bind_int64(st, 3, pc->p3), 0);
		}
		ck_assert_msg(db_step_done(st) == 0, "%s: %s", pc->sql, db_errmsg(db));
		db_finalize(st);

		ck_assert_int_eq(db_prepare(db, "SELECT name, value FROM"
		    " collector_stat WHERE day = ?", &q), 0);
		ck_assert_int_eq(db_bind_text(q, 1, pc->want_day, -1), 0);
		ck_assert_msg(db_step(q) == DB_ROW, "%s: no row for day %s",
		    pc->sql, pc->want_day);
		snprintf(want_key, sizeof(want_key), "%s", db_column_text(q, 0));
		ck_assert_str_eq(want_key, pc->want_name);
		ck_assert_int_eq(db_column_int64(q, 1), pc->want_value);
		ck_assert_int_eq(db_step(q), DB_DONE);
		db_finalize(q);
	}
	db_close(db);
}
END_TEST

/* Bytes with NUL and high bytes, and an empty blob, come back as sent. */
START_TEST(test_blob_round_trip)
{
	static const unsigned char gz[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0xff,
	    0x00, 'a', 0x00, 0x80, 0x7f, 0x00 };
	static const char json[] = "{\"caf\xc3\xa9\":\"\xe2\x9c\x93\"}";
	struct db *db;
	struct db_stmt *st;
	TARGET("blob.db");

	db = open_ok(target);
	ck_assert_int_eq(db_prepare(db, "INSERT INTO report (day, report_domain,"
	    " tlsrpt_record, report_id, json, gzip, policies, successful_sessions,"
	    " failed_sessions, created_at) VALUES ('d', ?1, 'r', ?1, ?2, ?3, 0, 0, 0, 0)",
	    &st), 0);
	ck_assert_int_eq(db_bind_text(st, 1, "full", -1), 0);
	ck_assert_int_eq(db_bind_text(st, 2, json, -1), 0);
	ck_assert_int_eq(db_bind_blob(st, 3, gz, sizeof(gz)), 0);
	ck_assert_msg(db_step_done(st) == 0, "%s", db_errmsg(db));
	ck_assert_int_eq(db_bind_text(st, 1, "empty", -1), 0);
	ck_assert_int_eq(db_bind_blob(st, 3, gz, 0), 0);
	ck_assert_msg(db_step_done(st) == 0, "%s", db_errmsg(db));
	db_finalize(st);

	ck_assert_int_eq(db_prepare(db, "SELECT gzip, json, length(gzip) FROM report"
	    " ORDER BY report_id DESC", &st), 0);
	ck_assert_int_eq(db_step(st), DB_ROW);		/* full */
	ck_assert_int_eq(db_column_type(st, 0), DB_T_BLOB);
	ck_assert_uint_eq(db_column_bytes(st, 0), sizeof(gz));
	ck_assert_mem_eq(db_column_blob(st, 0), gz, sizeof(gz));
	ck_assert_str_eq(db_column_text(st, 1), json);
	ck_assert_int_eq(db_column_type(st, 1), DB_T_TEXT);
	ck_assert_int_eq(db_column_int64(st, 2), (int64_t)sizeof(gz));
	ck_assert_int_eq(db_step(st), DB_ROW);		/* empty */
	ck_assert_int_eq(db_column_type(st, 0), DB_T_BLOB);
	ck_assert_uint_eq(db_column_bytes(st, 0), 0);
	ck_assert_int_eq(db_column_int64(st, 2), 0);
	ck_assert_int_eq(db_step(st), DB_DONE);
	db_finalize(st);
	db_close(db);
}
END_TEST

START_TEST(test_null_columns)
{
	struct db *db;
	struct db_stmt *st;
	TARGET("null.db");

	db = open_ok(target);
	exec_ok(db, "INSERT INTO report (day, report_domain, tlsrpt_record,"
	    " report_id, json, gzip, policies, successful_sessions,"
	    " failed_sessions, created_at) VALUES ('d', 'a', 'r', 'id', '{}', '',"
	    " 0, 0, 0, 0)");
	ck_assert_int_eq(db_prepare(db, "INSERT INTO delivery (report, uri, scheme,"
	    " target, next_attempt_at, response_code) SELECT id, ?, 'https', ?, 0, ?"
	    " FROM report", &st), 0);
	ck_assert_int_eq(db_bind_text(st, 1, "https://a.example/1", -1), 0);
	ck_assert_int_eq(db_bind_text(st, 2, "https://a.example/1", -1), 0);
	ck_assert_int_eq(db_bind_null(st, 3), 0);
	ck_assert_msg(db_step_done(st) == 0, "%s", db_errmsg(db));
	/* Bound NULL after an integer: the same statement takes both. */
	ck_assert_int_eq(db_bind_text(st, 1, "https://a.example/2", -1), 0);
	ck_assert_int_eq(db_bind_int64(st, 3, 250), 0);
	ck_assert_msg(db_step_done(st) == 0, "%s", db_errmsg(db));
	ck_assert_int_eq(db_bind_text(st, 1, "https://a.example/3", -1), 0);
	ck_assert_int_eq(db_bind_null(st, 3), 0);
	ck_assert_msg(db_step_done(st) == 0, "%s", db_errmsg(db));
	db_clear_bindings(st);
	ck_assert_int_eq(db_bind_text(st, 1, "https://a.example/4", -1), 0);
	ck_assert_int_eq(db_bind_text(st, 2, "https://a.example/4", -1), 0);
	ck_assert_msg(db_step_done(st) == 0, "%s", db_errmsg(db));
	db_finalize(st);

	ck_assert_int_eq(db_prepare(db, "SELECT response_code, delivered_at, uri"
	    " FROM delivery ORDER BY uri", &st), 0);
	for (int row = 1; row <= 4; row++) {
		ck_assert_int_eq(db_step(st), DB_ROW);
		if (row == 2) {
			ck_assert_int_eq(db_column_type(st, 0), DB_T_INTEGER);
			ck_assert_int_eq(db_column_int64(st, 0), 250);
		} else {
			ck_assert_int_eq(db_column_type(st, 0), DB_T_NULL);
			ck_assert_ptr_null(db_column_text(st, 0));
			ck_assert_int_eq(db_column_int64(st, 0), 0);
		}
		ck_assert_int_eq(db_column_type(st, 1), DB_T_NULL);
		ck_assert_ptr_null(db_column_text(st, 1));
		ck_assert_ptr_null(db_column_blob(st, 1));
		ck_assert_uint_eq(db_column_bytes(st, 1), 0);
		ck_assert_int_eq(db_column_type(st, 2), DB_T_TEXT);
	}
	ck_assert_int_eq(db_step(st), DB_DONE);
	db_finalize(st);
	db_close(db);
}
END_TEST

START_TEST(test_column_types)
{
	struct db *db;
	struct db_stmt *st;
	TARGET("types.db");

	db = open_ok(target);
	exec_ok(db, "INSERT INTO collector_stat VALUES ('d', 'a', 40), ('d', 'b', 2)");
	ck_assert_int_eq(db_prepare(db, "SELECT sum(value), count(*), 2.5, 'x',"
	    " max(name) FROM collector_stat", &st), 0);
	ck_assert_int_eq(db_step(st), DB_ROW);
	ck_assert_int_eq(db_column_count(st), 5);
	ck_assert_int_eq(db_column_type(st, 0), DB_T_INTEGER);	/* numeric on PG */
	ck_assert_int_eq(db_column_int64(st, 0), 42);
	ck_assert_int_eq(db_column_int(st, 1), 2);
	ck_assert_int_eq(db_column_type(st, 2), DB_T_FLOAT);
	ck_assert(db_column_double(st, 2) == 2.5);
	ck_assert_int_eq(db_column_type(st, 3), DB_T_TEXT);
	ck_assert_str_eq(db_column_text(st, 3), "x");
	ck_assert_str_eq(db_column_text(st, 4), "b");
	ck_assert_ptr_nonnull(db_column_name(st, 4));
	ck_assert(db_stmt_busy(st));
	ck_assert_int_eq(db_step(st), DB_DONE);
	ck_assert(!db_stmt_busy(st));
	db_finalize(st);
	db_close(db);
}
END_TEST

/* Rows changed by the last INSERT, UPDATE or DELETE; a SELECT is none. */
START_TEST(test_changes)
{
	struct db *db;
	struct db_stmt *st;
	TARGET("changes.db");

	db = open_ok(target);
	exec_ok(db, "INSERT INTO collector_stat VALUES ('d', 'a', 1), ('d', 'b', 1),"
	    " ('e', 'c', 1)");
	ck_assert_int_eq(db_changes(db), 3);
	exec_ok(db, "UPDATE collector_stat SET value = 2 WHERE day = 'd'");
	ck_assert_int_eq(db_changes(db), 2);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM collector_stat"), 3);
	ck_assert_int_eq(db_changes(db), 2);
	ck_assert_int_eq(db_begin(db), 0);
	ck_assert_int_eq(db_commit(db), 0);
	ck_assert_int_eq(db_changes(db), 2);

	ck_assert_int_eq(db_prepare(db, SQL_STAT_ADD, &st), 0);
	stat_add(st, "d", "a", 5);		/* DO UPDATE: one row */
	ck_assert_int_eq(db_changes(db), 1);
	stat_add(st, "f", "new", 5);		/* insert: one row */
	ck_assert_int_eq(db_changes(db), 1);
	db_finalize(st);
	exec_ok(db, "INSERT INTO collector_stat VALUES ('d', 'a', 9)"
	    " ON CONFLICT (day, name) DO NOTHING");
	ck_assert_int_eq(db_changes(db), 0);
	exec_ok(db, "DELETE FROM collector_stat WHERE value < 5");
	ck_assert_int_eq(db_changes(db), 2);
	ck_assert_int_eq(db_prepare(db, "UPDATE collector_stat SET value = value + 1"
	    " WHERE day = ?", &st), 0);
	ck_assert_int_eq(db_bind_text(st, 1, "nothing", -1), 0);
	ck_assert_int_eq(db_step_done(st), 0);
	ck_assert_int_eq(db_changes(db), 0);
	db_finalize(st);
	db_close(db);
}
END_TEST

/*
 * Writers in several processes add to the same keys, each transaction
 * taking them in one order, as the collector's flusher does: every
 * addition arrives exactly once.
 */
START_TEST(test_concurrent_upserts)
{
	enum { PROCS = 4, TXNS = 25, KEYS = 8 };
	pid_t pids[PROCS];
	struct db *db;
	TARGET("concurrent.db");

	db_close(open_ok(target));	/* migrated before the writers start */
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			char err[512], name[16];
			struct db *mine;
			struct db_stmt *st;
			int retries = 0;

			if (db_open(target, "outbound", 10000, &mine, err, sizeof(err)) != 0 ||
			    db_prepare(mine, SQL_STAT_ADD, &st) != 0)
				_exit(1);
			for (int t = 0; t < TXNS; t++) {
				int failed = db_begin(mine) != 0;

				for (int k = 0; !failed && k < KEYS; k++) {
					snprintf(name, sizeof(name), "k%d", k);
					failed = db_bind_text(st, 1, "d", -1) != 0 ||
					    db_bind_text(st, 2, name, -1) != 0 ||
					    db_bind_int64(st, 3, 1) != 0 ||
					    db_step_done(st) != 0;
				}
				if (!failed && db_commit(mine) == 0)
					continue;
				if (db_errclass(mine) != DB_ERR_BUSY || ++retries > 50) {
					fprintf(stderr, "writer %d: %s\n", p, db_errmsg(mine));
					_exit(2);
				}
				db_rollback(mine);
				t--;
			}
			db_close(mine);
			_exit(0);
		}
	}
	reap_ok(pids, PROCS, "writer");
	db = open_ok(target);
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM collector_stat"), KEYS);
	ck_assert_int_eq(q_int(db, "SELECT min(value) FROM collector_stat"), PROCS * TXNS);
	ck_assert_int_eq(q_int(db, "SELECT max(value) FROM collector_stat"), PROCS * TXNS);
	db_close(db);
}
END_TEST

/* ---- names and passwords ------------------------------------------- */

static const struct {
	const char *target, *shown;
} name_cases[] = {
	{ "/var/lib/tlsrptd/tlsrpt.db", "/var/lib/tlsrptd/tlsrpt.db" },
	{ "postgresql://db.example/tlsrptd", "postgresql://db.example/tlsrptd" },
	{ "postgresql://tlsrptd@db.example:5432/t", "postgresql://tlsrptd@db.example:5432/t" },
	{ "postgresql://tlsrptd:secret@db.example:5432/t",
	  "postgresql://tlsrptd:***@db.example:5432/t" },
	{ "postgres://u:secret@db.example/t", "postgres://u:***@db.example/t" },
	{ "postgresql://:secret@db.example/t", "postgresql://:***@db.example/t" },
	/* Characters a URI should have escaped, as people write them. */
	{ "postgresql://u:se/cr?et@db.example/t", "postgresql://u:***@db.example/t" },
	{ "postgresql://u:sec@ret@db.example/t", "postgresql://u:***@db.example/t" },
	{ "postgresql://db.example/t?user=u&password=secret&sslmode=require",
	  "postgresql://db.example/t?user=u&password=***&sslmode=require" },
	{ "postgresql://db.example/t?password=secret", "postgresql://db.example/t?password=***" },
	{ "postgresql://u:secret@db.example/t?password=secret",
	  "postgresql://u:***@db.example/t?password=***" },
};

START_TEST(test_safe_name)
{
	char out[256], small[24];

	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		db_safe_name(name_cases[i].target, out, sizeof(out));
		ck_assert_str_eq(out, name_cases[i].shown);
		db_safe_name(name_cases[i].target, small, sizeof(small));
		ck_assert_msg(strstr(small, "secret") == NULL && strstr(small, "se/") == NULL,
		    "%s", small);
		ck_assert_uint_lt(strlen(small), sizeof(small));
	}
}
END_TEST

/*
 * A server that accepts the connection and never answers (a stopped
 * server's kernel does that): db_open gives up after connect_timeout and
 * says so without the password.
 */
START_TEST(test_open_hung_server)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char uri[128], err[512];
	struct timespec t0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(uri, sizeof(uri), "postgresql://tlsrptd:secret@127.0.0.1:%d/t"
	    "?connect_timeout=2", ntohs(sa.sin_port));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	open_fails(uri, ":***@127.0.0.1", err, sizeof(err));
	ck_assert_msg(elapsed_ms(&t0) < 8000, "took %lld ms", elapsed_ms(&t0));
	ck_assert_msg(strstr(err, "secret") == NULL, "%s", err);
	ck_assert_msg(strchr(err, '\n') == NULL, "not one line: %s", err);
	close(fd);

	/* Nobody listening: refused at once, no password either. */
	snprintf(uri, sizeof(uri), "postgresql://tlsrptd:secret@127.0.0.1:%d/t",
	    ntohs(sa.sin_port));
	open_fails(uri, ":***@", err, sizeof(err));
	ck_assert_msg(strstr(err, "secret") == NULL, "%s", err);
}
END_TEST

/* A password in the URI the server does not ask for: never shown. */
START_TEST(test_pg_name_hides_password)
{
	char with_pw[512], err[512];
	struct db *db;
	PG_ONLY();

	ck_assert_uint_lt((size_t)snprintf(with_pw, sizeof(with_pw), "%s%s",
	    uri, strchr(uri, '?') ? "&password=secret" : "?password=secret"),
	    sizeof(with_pw));
	db = open_ok(with_pw);
	ck_assert_msg(strstr(db_name(db), "secret") == NULL, "%s", db_name(db));
	ck_assert_msg(strstr(db_name(db), "password=***") != NULL, "%s", db_name(db));
	ck_assert_int_eq(db_exec(db, "SELECT * FROM no_such_table"), -1);
	ck_assert_msg(strstr(db_errmsg(db), "secret") == NULL, "%s", db_errmsg(db));
	db_close(db);

	/* A database that does not exist: the message names it, not the password. */
	{
		const char *host = strstr(uri, "://") + 3, *at = strchr(host, '@');
		size_t hostlen;

		if (at != NULL && at < host + strcspn(host, "/"))
			host = at + 1;
		hostlen = strcspn(host, "/?");
		ck_assert_uint_lt((size_t)snprintf(with_pw, sizeof(with_pw),
		    "postgresql://tlsrptd:secret@%.*s/no_such_database", (int)hostlen,
		    host), sizeof(with_pw));
	}
	open_fails(with_pw, "no_such_database", err, sizeof(err));
	ck_assert_msg(strstr(err, "secret") == NULL, "%s", err);
}
END_TEST

/* ---- PostgreSQL: connections that break, hang or lose a COMMIT ------ */

static void
terminate(int64_t pid)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", (long long)pid);
	pg_raw(sql);
	/* Until the backend is gone, so that its FATAL message is on the wire. */
	for (int i = 0; i < 200; i++) {
		PGconn *c = PQconnectdb(test_pg_uri());
		PGresult *r;
		int alive;

		snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_stat_activity WHERE pid = %lld",
		    (long long)pid);
		r = PQexec(c, sql);
		alive = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
		PQclear(r);
		PQfinish(c);
		if (!alive)
			return;
		usleep(10000);
	}
	ck_abort_msg("backend %lld still there", (long long)pid);
}

/*
 * The server closed our connection (pg_terminate_backend here, a restart
 * in life): the next db_begin() opens a new one, prepared statements
 * work again; inside a transaction the loss is an error that COMMIT
 * repeats, never a silent switch to a connection without the transaction.
 */
START_TEST(test_pg_reconnect)
{
	struct db *db;
	struct db_stmt *st;
	int64_t pid, pid2;
	PG_ONLY();

	db = open_ok(uri);
	ck_assert_int_eq(db_prepare(db, SQL_STAT_ADD, &st), 0);
	stat_add(st, "d", "a", 1);			/* prepared on the server */
	pid = q_int(db, "SELECT pg_backend_pid()");

	terminate(pid);
	ck_assert_msg(db_begin(db) == 0, "%s", db_errmsg(db));
	stat_add(st, "d", "a", 1);
	ck_assert_int_eq(db_commit(db), 0);
	pid2 = q_int(db, "SELECT pg_backend_pid()");
	ck_assert_int_ne(pid2, pid);
	ck_assert_int_eq(q_int(db, "SELECT value FROM collector_stat"), 2);

	/* Lost inside a transaction. */
	ck_assert_int_eq(db_begin(db), 0);
	stat_add(st, "d", "a", 10);
	terminate(pid2);
	ck_assert_int_eq(db_bind_int64(st, 3, 100), 0);
	ck_assert_int_eq(db_step_done(st), -1);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONN);
	ck_assert_int_eq(db_step_done(st), -1);		/* still no */
	ck_assert(db_in_transaction(db));
	ck_assert_int_eq(db_commit(db), -1);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONN);
	ck_assert(!db_in_transaction(db));
	ck_assert_int_eq(db_commit_outcome(db), DB_NOT_COMMITTED);
	ck_assert_msg(db_begin(db) == 0, "%s", db_errmsg(db));
	ck_assert_int_eq(q_int(db, "SELECT value FROM collector_stat"), 2);
	db_rollback(db);

	/* Outside one: the first statement hears of it, the next reconnects. */
	terminate(q_int(db, "SELECT pg_backend_pid()"));
	ck_assert_int_eq(db_bind_int64(st, 3, 1), 0);
	ck_assert_int_eq(db_step_done(st), -1);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONN);
	ck_assert_msg(db_step_done(st) == 0, "%s", db_errmsg(db));
	ck_assert_int_eq(q_int(db, "SELECT value FROM collector_stat"), 3);
	db_finalize(st);
	db_close(db);
}
END_TEST

/* A server that does not answer in time: the connection is dropped. */
START_TEST(test_pg_reply_timeout)
{
	struct db *db;
	struct db_stmt *st;
	struct timespec t0;
	long long ms;
	PG_ONLY();

	db = open_ok(uri);
	db_set_timeout_ms(db, 300);
	ck_assert_int_eq(db_prepare(db, "SELECT pg_sleep(5)", &st), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(db_step(st), DB_ERROR);
	ms = elapsed_ms(&t0);
	ck_assert_msg(ms >= 250 && ms < 3000, "gave up after %lld ms", ms);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONN);
	ck_assert_msg(strstr(db_errmsg(db), "no answer") != NULL, "%s", db_errmsg(db));
	db_finalize(st);

	/* In a transaction: it is lost, and says so at COMMIT. */
	db_set_timeout_ms(db, 0);	/* reconnecting may be slow on a busy host */
	ck_assert_msg(db_begin(db) == 0, "%s", db_errmsg(db));
	exec_ok(db, "INSERT INTO collector_stat VALUES ('d', 'a', 1)");
	db_set_timeout_ms(db, 300);
	ck_assert_int_eq(db_exec(db, "SELECT pg_sleep(5)"), -1);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONN);
	ck_assert_int_eq(db_commit(db), -1);
	ck_assert_int_eq(db_commit_outcome(db), DB_NOT_COMMITTED);
	db_set_timeout_ms(db, 0);
	ck_assert_msg(db_begin(db) == 0, "%s", db_errmsg(db));
	ck_assert_int_eq(q_int(db, "SELECT count(*) FROM collector_stat"), 0);
	ck_assert_int_eq(db_commit(db), 0);
	db_close(db);
}
END_TEST

/* Polls db_commit_outcome() until it knows, for up to 20 s. */
static enum db_commit_outcome
outcome_when_known(struct db *db)
{
	enum db_commit_outcome o = DB_IN_DOUBT;

	for (int i = 0; i < 200 && (o = db_commit_outcome(db)) == DB_IN_DOUBT; i++)
		usleep(100000);
	return o;
}

/*
 * The answer to COMMIT is lost (here: the reply timeout passes while a
 * deferred trigger holds the COMMIT up, as a hung or crashing server
 * would): db_commit_outcome() asks the server whether it committed,
 * which is the difference between a retry that counts twice and one
 * that does not.
 */
START_TEST(test_pg_commit_in_doubt)
{
	static const struct { int id; enum db_commit_outcome want; } cases[] = {
		{ 1, DB_COMMITTED }, { -1, DB_NOT_COMMITTED },
	};
	struct db *db;
	PG_ONLY();

	db = open_ok(uri);
	exec_ok(db, "CREATE TABLE doubt (id INTEGER PRIMARY KEY)");
	exec_ok(db, "CREATE FUNCTION doubt_slow() RETURNS trigger LANGUAGE plpgsql"
	    " AS $$ BEGIN PERFORM pg_sleep(3); IF NEW.id < 0 THEN RAISE"
	    " EXCEPTION 'refused'; END IF; RETURN NULL; END $$");
	exec_ok(db, "CREATE CONSTRAINT TRIGGER doubt_slow AFTER INSERT ON doubt"
	    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION doubt_slow()");
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct db_stmt *st;

		db_set_timeout_ms(db, 0);
		ck_assert_msg(db_begin(db) == 0, "%s", db_errmsg(db));
		ck_assert_int_eq(db_prepare(db, "INSERT INTO doubt VALUES (?)", &st), 0);
		ck_assert_int_eq(db_bind_int64(st, 1, cases[c].id), 0);
		ck_assert_int_eq(db_step_done(st), 0);
		db_finalize(st);
		db_set_timeout_ms(db, 500);
		ck_assert_int_eq(db_commit(db), -1);
		ck_assert_int_eq(db_errclass(db), DB_ERR_CONN);
		ck_assert_msg(strstr(db_errmsg(db), "not known") != NULL, "%s",
		    db_errmsg(db));
		/* The trigger still sleeps: the transaction is running. */
		db_set_timeout_ms(db, 10000);
		ck_assert_int_eq(db_commit_outcome(db), DB_IN_DOUBT);
		ck_assert_int_eq(outcome_when_known(db), cases[c].want);
		/* Known now, and it stays known until the next db_begin(). */
		ck_assert_int_eq(db_commit_outcome(db), DB_NOT_COMMITTED);
		db_set_timeout_ms(db, 0);
		ck_assert_int_eq(q_int(db, "SELECT count(*) FROM doubt WHERE id > 0"), 1);
		ck_assert_int_eq(q_int(db, "SELECT count(*) FROM doubt WHERE id < 0"), 0);
	}
	db_close(db);
}
END_TEST

/*
 * Two transactions that take the same rows in opposite orders deadlock;
 * PostgreSQL fails one of them, and lib/db must call that DB_ERR_BUSY
 * (try again) so that the flusher retries at once. The other goes
 * through; nothing is counted twice.
 */
START_TEST(test_pg_deadlock_is_busy)
{
	int to_child[2], to_parent[2], status, parent_busy = 0;
	struct db *db;
	struct db_stmt *st;
	char c = 0;
	pid_t pid;
	PG_ONLY();

	db = open_ok(uri);
	exec_ok(db, "INSERT INTO collector_stat VALUES ('d', 'k1', 0), ('d', 'k2', 0)");
	ck_assert_int_eq(pipe(to_child), 0);
	ck_assert_int_eq(pipe(to_parent), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[512];
		struct db *mine;
		struct db_stmt *ms;
		int rc;

		if (db_open(uri, "outbound", 30000, &mine, err, sizeof(err)) != 0 ||
		    db_prepare(mine, SQL_STAT_ADD, &ms) != 0 || db_begin(mine) != 0 ||
		    db_bind_text(ms, 1, "d", -1) != 0 || db_bind_text(ms, 2, "k2", -1) != 0 ||
		    db_bind_int64(ms, 3, 1) != 0 || db_step_done(ms) != 0)
			_exit(1);
		if (write(to_parent[1], "x", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(1);
		(void)db_bind_text(ms, 2, "k1", -1);
		if (db_step_done(ms) != 0) {
			rc = db_errclass(mine) == DB_ERR_BUSY ? 2 : 3;
			db_rollback(mine);
			_exit(rc);
		}
		_exit(db_commit(mine) == 0 ? 0 : 4);
	}
	ck_assert_int_eq(db_prepare(db, SQL_STAT_ADD, &st), 0);
	ck_assert_int_eq(db_begin(db), 0);
	stat_add(st, "d", "k1", 1);
	ck_assert_int_eq(read(to_parent[0], &c, 1), 1);
	ck_assert_int_eq(write(to_child[1], "x", 1), 1);
	usleep(300000);		/* the child waits for k1 now */
	ck_assert_int_eq(db_bind_text(st, 1, "d", -1), 0);
	ck_assert_int_eq(db_bind_text(st, 2, "k2", -1), 0);
	ck_assert_int_eq(db_bind_int64(st, 3, 1), 0);
	if (db_step_done(st) != 0) {
		ck_assert_msg(db_errclass(db) == DB_ERR_BUSY, "class %d: %s",
		    db_errclass(db), db_errmsg(db));
		parent_busy = 1;
		db_rollback(db);
	} else
		ck_assert_int_eq(db_commit(db), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	/* Exactly one was chosen to fail, as busy. */
	ck_assert_int_eq(WEXITSTATUS(status), parent_busy ? 0 : 2);
	ck_assert_int_eq(q_int(db, "SELECT value FROM collector_stat WHERE name = 'k1'"), 1);
	ck_assert_int_eq(q_int(db, "SELECT value FROM collector_stat WHERE name = 'k2'"), 1);
	db_finalize(st);
	db_close(db);
}
END_TEST

static Suite *
db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_migrations_numbered);
	tcase_add_loop_test(tc, test_new_database, 0, ENGINES);
	tcase_add_test(tc, test_empty_file);
	tcase_add_loop_test(tc, test_reopen_idempotent, 0, ENGINES);
	tcase_add_loop_test(tc, test_upgrade_from_each_version, 0, ENGINES);
	tcase_add_loop_test(tc, test_newer_refused, 0, ENGINES);
	tcase_add_test(tc, test_newer_file_untouched);
	tcase_add_loop_test(tc, test_concurrent_open, 0, ENGINES);
	tcase_add_test(tc, test_not_a_database);
	tcase_add_test(tc, test_missing_directory);
	tcase_add_test(tc, test_directory_as_database);
	tcase_add_test(tc, test_read_only_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("statements");
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_exec_and_rollback, 0, ENGINES);
	tcase_add_loop_test(tc, test_commit_after_failed_statement, 0, ENGINES);
	tcase_add_test(tc, test_busy_timeout);
	tcase_add_loop_test(tc, test_policy_upsert_adds, 0, ENGINES);
	tcase_add_loop_test(tc, test_failure_cascade, 0, ENGINES);
	tcase_add_loop_test(tc, test_constraint_classes, 0, ENGINES);
	tcase_add_loop_test(tc, test_parameter_styles, 0, ENGINES);
	tcase_add_loop_test(tc, test_blob_round_trip, 0, ENGINES);
	tcase_add_loop_test(tc, test_null_columns, 0, ENGINES);
	tcase_add_loop_test(tc, test_column_types, 0, ENGINES);
	tcase_add_loop_test(tc, test_changes, 0, ENGINES);
	tcase_add_loop_test(tc, test_concurrent_upserts, 0, ENGINES);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_safe_name);
	tcase_add_test(tc, test_open_hung_server);
	tcase_add_test(tc, test_pg_name_hides_password);
	tcase_add_test(tc, test_pg_reconnect);
	tcase_add_test(tc, test_pg_reply_timeout);
	tcase_add_test(tc, test_pg_commit_in_doubt);
	tcase_add_test(tc, test_pg_deadlock_is_busy);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(db_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
