/*
 * NAME
 *	check_inbound - unit tests for lib/inbound.c and schema/inbound/
 * DESCRIPTION
 *	Reports from tests/data/real-reports/ (the .json and .json.gz ones;
 *	the .eml files are the mail path's business) are parsed with
 *	rp_parse() and stored in a fresh inbound database, then every
 *	column is read back: report, policy (JSON arrays of strings) and
 *	failure rows with NULL for what the reporter left out. A second
 *	copy of a report (same organization-name and report-id) changes
 *	nothing and says so, also inside a batch transaction, which it
 *	must not spoil; the same report-id from another organisation is a
 *	different report; ids have no gaps for duplicates. A failure
 *	half-way (a trigger that aborts the n-th failure row, a CHECK
 *	constraint) leaves no row behind. The ingest_stat counters add up
 *	and refuse bad names.
 *
 *	Every test runs on SQLite and, when TLSRPTD_TEST_PG names a server
 *	(test_pg.h), again on PostgreSQL (a loop test: _i is the engine).
 *	The SQL that reads back is written in the dialect both accept; where
 *	an engine has its own means (types of a column, triggers, query
 *	plans), each is asked in its own words for the same fact.
 *
 *	SQLite databases live in a mkdtemp() directory under $TMPDIR,
 *	removed by an unchecked fixture; PostgreSQL schemas are dropped
 *	before each test.
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "db.h"
#include "gz.h"
#include "inbound.h"
#include "rparse.h"
#include "store.h"
#include "test_pg.h"

#define FIXTURES	"tests/data/real-reports"

#define TMPDIR_SUITE "check_inbound"
#include "test_tmpdir.h"

/* The engine of a loop test (_i). */
enum { ENGINE_SQLITE, ENGINE_PG };

static int
engines(void)
{
	return test_pg_uri() != NULL ? 2 : 1;
}

/* A new database per test: a file named after it, or an emptied server. */
static struct db *
open_db(const char *name, int engine)
{
	char path[PATH_MAX], err[512];
	const char *target = path;
	struct db *db;

	if (engine == ENGINE_PG) {
		target = test_pg_uri();
		ck_assert_ptr_nonnull(target);
		test_pg_reset(target);
	} else
		ck_assert_uint_lt((size_t)snprintf(path, sizeof(path), "%s/%s.db",
		    tmpdir, name), sizeof(path));
	ck_assert_msg(db_open(target, "inbound", 2000, &db, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(db_engine(db), engine == ENGINE_PG ? DB_POSTGRESQL : DB_SQLITE);
	return db;
}

static int
is_pg(struct db *db)
{
	return db_engine(db) == DB_POSTGRESQL;
}

static struct db_stmt *
prepare(struct db *db, const char *sql)
{
	struct db_stmt *st;

	ck_assert_msg(db_prepare(db, sql, &st) == 0, "%s: %s", sql, db_errmsg(db));
	return st;
}

static long long
query_int(struct db *db, const char *sql)
{
	struct db_stmt *st = prepare(db, sql);
	long long v;

	ck_assert_msg(db_step(st) == DB_ROW, "%s: no row: %s", sql, db_errmsg(db));
	v = db_column_int64(st, 0);
	db_finalize(st);
	return v;
}

/* Column 0 of the first row as text; "NULL" for NULL. */
static void
query_text(struct db *db, const char *sql, char *out, size_t outlen)
{
	struct db_stmt *st = prepare(db, sql);
	const char *s;

	ck_assert_msg(db_step(st) == DB_ROW, "%s: no row: %s", sql, db_errmsg(db));
	s = db_column_text(st, 0);
	snprintf(out, outlen, "%s", s ? s : "NULL");
	db_finalize(st);
}

static void
expect_text(struct db *db, const char *sql, const char *want)
{
	char got[1024];

	query_text(db, sql, got, sizeof(got));
	ck_assert_msg(strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"", sql,
	    got, want);
}

/* Column 0 of every row joined by sep ("NULL" for NULL), as group_concat(). */
static void
expect_rows_text(struct db *db, const char *sql, const char *sep,
    const char *want)
{
	struct db_stmt *st = prepare(db, sql);
	struct buf got;
	int rc, n = 0;

	buf_init(&got, 1 << 16);
	while ((rc = db_step(st)) == DB_ROW) {
		const char *s = db_column_text(st, 0);

		ck_assert_int_eq(buf_printf(&got, "%s%s", n++ ? sep : "",
		    s ? s : "NULL"), 0);
	}
	ck_assert_msg(rc == DB_DONE, "%s: %s", sql, db_errmsg(db));
	db_finalize(st);
	ck_assert_msg(strcmp(got.data ? got.data : "", want) == 0,
	    "%s: got \"%s\", want \"%s\"", sql, got.data ? got.data : "", want);
	buf_free(&got);
}

static void
exec_ok(struct db *db, const char *sql)
{
	ck_assert_msg(db_exec(db, sql) == 0, "%s: %s", sql, db_errmsg(db));
}

static void
read_file(const char *name, struct buf *out)
{
	char path[512], chunk[4096];
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
	ck_assert_msg((fp = fopen(path, "rb")) != NULL, "%s (run from the top "
	    "of the tree)", path);
	buf_reset(out);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		ck_assert_int_eq(buf_append(out, chunk, n), 0);
	fclose(fp);
}

/* A fixture as received (raw) and as JSON, parsed into *r. */
struct loaded {
	struct buf raw;
	struct buf json;
	struct rp_report r;
};

static void
load(const char *name, struct loaded *l)
{
	char err[256];

	buf_init(&l->raw, 1 << 20);
	buf_init(&l->json, 1 << 20);
	read_file(name, &l->raw);
	if (gz_is_gzip(l->raw.data, l->raw.len))
		ck_assert_int_eq(gz_decompress(l->raw.data, l->raw.len, &l->json), GZ_OK);
	else
		ck_assert_int_eq(buf_append(&l->json, l->raw.data, l->raw.len), 0);
	ck_assert_msg(rp_parse(l->json.data, l->json.len, NULL, &l->r, err,
	    sizeof(err)) == 0, "%s: %s", name, err);
}

static void
unload(struct loaded *l)
{
	rp_free(&l->r);
	buf_free(&l->raw);
	buf_free(&l->json);
}

static struct inbound_meta
meta_for(const struct loaded *l, const char *source, int64_t received_at)
{
	struct inbound_meta m = {
		.source = source, .submitter = "reporter.example",
		.peer = "192.0.2.7", .dkim = NULL,
		.raw = l->raw.data, .raw_len = l->raw.len,
		.json = l->json.data, .json_len = l->json.len,
		.received_at = received_at,
	};

	return m;
}

static void
store_ok(struct db *db, const struct rp_report *r, const struct inbound_meta *m,
    int want_duplicate)
{
	char err[512];
	int dup = -1;

	ck_assert_msg(inbound_store(db, r, m, &dup, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(dup, want_duplicate);
	ck_assert(!db_in_transaction(db));
}

static void
expect_rows(struct db *db, long long reports, long long policies,
    long long failures)
{
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM report"), reports);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM policy"), policies);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM failure"), failures);
}

START_TEST(test_schema)
{
	struct db *db = open_db("schema", _i);

	ck_assert_int_eq(store_schema_version("inbound"), 1);
	ck_assert_int_eq(store_schema_version("pg-inbound"), 1);
	if (!is_pg(db)) {
		ck_assert_int_eq(query_int(db, "PRAGMA user_version"), 1);
		ck_assert_int_eq(query_int(db, "PRAGMA foreign_keys"), 1);
		ck_assert_int_eq(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE"
		    " type = 'table' AND name IN ('report', 'policy', 'failure',"
		    " 'ingest_stat')"), 4);
	} else {
		ck_assert_int_eq(query_int(db, "SELECT version FROM tlsrptd_schema"
		    " WHERE name = 'inbound'"), 1);
		ck_assert_int_eq(query_int(db, "SELECT count(*) FROM"
		    " information_schema.tables WHERE table_schema = 'tlsrptd_inbound'"
		    " AND table_name IN ('report', 'policy', 'failure',"
		    " 'ingest_stat')"), 4);
	}
	/* Foreign keys are enforced, on either engine. */
	ck_assert_int_eq(db_exec(db, "INSERT INTO policy (report, idx, type,"
	    " successful_sessions, failed_sessions) VALUES (999, 0, 'sts', 0, 0)"), -1);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONSTRAINT);
	expect_rows(db, 0, 0, 0);
	db_close(db);
}
END_TEST

START_TEST(test_store_read_back)
{
	struct db *db = open_db("readback", _i);
	struct loaded l;
	struct inbound_meta m;

	load("rfc8460-example.json", &l);
	m = meta_for(&l, "https", 1700000000);
	store_ok(db, &l.r, &m, 0);
	expect_rows(db, 1, 1, 3);
	expect_text(db, "SELECT org || '|' || report_id || '|' || contact || '|' ||"
	    " day || '|' || start_at || '|' || end_at || '|' || received_at ||"
	    " '|' || source || '|' || submitter || '|' || peer || '|' ||"
	    " coalesce(dkim, 'NULL') || '|' || repairs || '|' || policies || '|' ||"
	    " successful_sessions || '|' || failed_sessions FROM report",
	    "Company-X|5065427c-23d3-47ca-b6e0-946ea0e8c4be|"
	    "sts-reporting@company-x.example|2016-04-01|1459468800|1459555199|"
	    "1700000000|https|reporter.example|192.0.2.7|NULL|"
	    "mx-host given as a string|1|5326|303");
	ck_assert_int_eq(query_int(db, "SELECT length(raw) FROM report"),
	    (long long)l.raw.len);
	if (!is_pg(db)) {
		ck_assert_int_eq(query_int(db, "SELECT typeof(raw) = 'blob' AND"
		    " typeof(raw_json) = 'text' FROM report"), 1);
		ck_assert_int_eq(query_int(db, "SELECT raw = CAST(raw_json AS BLOB)"
		    " FROM report"), 1);
	} else {
		ck_assert_int_eq(query_int(db, "SELECT pg_typeof(raw) = 'bytea'::regtype"
		    " AND pg_typeof(raw_json) = 'text'::regtype FROM report"), 1);
		ck_assert_int_eq(query_int(db, "SELECT raw = convert_to(raw_json,"
		    " 'UTF8') FROM report"), 1);
	}
	expect_text(db, "SELECT idx || '|' || type || '|' || domain || '|' ||"
	    " strings || '|' || mx || '|' || successful_sessions || '|' ||"
	    " failed_sessions FROM policy",
	    "0|sts|company-y.example|[\"version: STSv1\",\"mode: testing\","
	    "\"mx: *.mail.company-y.example\",\"max_age: 86400\"]|"
	    "[\"*.mail.company-y.example\"]|5326|303");
	expect_rows_text(db, "SELECT result_type || ',' || coalesce(sending_ip,"
	    " 'NULL') || ',' || coalesce(mx_hostname, 'NULL') || ',' ||"
	    " coalesce(mx_helo, 'NULL') || ',' || coalesce(receiving_ip, 'NULL') ||"
	    " ',' || coalesce(reason, 'NULL') || ',' || count FROM failure"
	    " ORDER BY id", ";",
	    "certificate-expired,2001:db8:abcd:0012::1,mx1.mail.company-y.example,"
	    "NULL,NULL,NULL,100;starttls-not-supported,2001:db8:abcd:0013::1,"
	    "mx2.mail.company-y.example,NULL,203.0.113.56,NULL,200;"
	    "validation-failure,198.51.100.62,mx-backup.mail.company-y.example,"
	    "NULL,203.0.113.58,X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED,3");
	expect_text(db, "SELECT additional_information FROM (SELECT"
	    " additional_info AS additional_information FROM failure WHERE"
	    " result_type = 'starttls-not-supported') AS f",
	    "https://reports.company-x.example/report_info ? id = 5065427 c - 23 "
	    "d3# StarttlsNotSupported ");
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM failure JOIN policy"
	    " ON failure.policy = policy.id JOIN report ON policy.report ="
	    " report.id"), 3);
	unload(&l);
	db_close(db);
}
END_TEST

/* The raw bytes of the only report start with gzip's magic and have len bytes. */
static void
expect_raw_gzip(struct db *db, size_t len)
{
	struct db_stmt *st = prepare(db, "SELECT raw FROM report");
	const unsigned char *raw;

	ck_assert_int_eq(db_step(st), DB_ROW);
	raw = db_column_blob(st, 0);
	ck_assert_int_eq(db_column_type(st, 0), DB_T_BLOB);
	ck_assert_uint_eq(db_column_bytes(st, 0), len);
	ck_assert(raw != NULL && raw[0] == 0x1f && raw[1] == 0x8b);
	ck_assert_int_eq(db_step(st), DB_DONE);
	db_finalize(st);
}

/* type:number of strings of each policy of the report, in order. */
static void
expect_policy_lengths(struct db *db, const char *report_id_like, const char *want)
{
	struct db_stmt *st = prepare(db, "SELECT type, strings FROM policy JOIN"
	    " report ON policy.report = report.id WHERE report_id LIKE ? ORDER BY idx");
	char got[256] = "";
	size_t o = 0;

	ck_assert_int_eq(db_bind_text(st, 1, report_id_like, -1), 0);
	while (db_step(st) == DB_ROW) {
		json_t *a = json_loads(db_column_text(st, 1), 0, NULL);

		ck_assert_msg(json_is_array(a), "strings not a JSON array: %s",
		    db_column_text(st, 1));
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s:%zu", o ? "," : "",
		    db_column_text(st, 0), json_array_size(a));
		ck_assert_uint_lt(o, sizeof(got));
		json_decref(a);
	}
	db_finalize(st);
	ck_assert_str_eq(got, want);
}

/* gzip as received, JSON as parsed; Microsoft's two policies, NULLs. */
START_TEST(test_store_gz_and_sparse)
{
	struct db *db = open_db("sparse", _i);
	struct loaded l;
	struct inbound_meta m;

	load("google-imparser-1.json.gz", &l);
	m = meta_for(&l, "mail", 1700000000);
	m.dkim = "pass";
	m.submitter = m.peer = NULL;
	store_ok(db, &l.r, &m, 0);
	expect_raw_gzip(db, 293);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM report WHERE"
	    " raw_json LIKE '{\"organization-name\":%'"), 1);
	expect_text(db, "SELECT dkim || coalesce(submitter, '-') || coalesce(peer, '-')"
	    " FROM report", "pass--");
	expect_text(db, "SELECT strings || mx FROM policy", "[\"version: STSv1\","
	    "\"mode: enforce\",\"max_age: 2419200\",\"mx: digilicious.com\"][]");
	unload(&l);

	load("microsoft-cryinc-2.json", &l);
	m = meta_for(&l, "https", 1700000001);
	store_ok(db, &l.r, &m, 0);
	expect_text(db, "SELECT coalesce(sending_ip, 'NULL') || coalesce(mx_hostname,"
	    " 'NULL') || result_type || count FROM failure",
	    "NULLNULLsts-policy-fetch-error3");
	unload(&l);

	load("microsoft-cryinc-1.json", &l);
	m = meta_for(&l, "https", 1700000002);
	store_ok(db, &l.r, &m, 0);
	expect_policy_lengths(db, "133925885310113267%", "sts:4,tlsa:2");
	expect_text(db, "SELECT policies || '/' || successful_sessions FROM report"
	    " WHERE org = 'Microsoft Corporation' AND successful_sessions > 0",
	    "2/4");
	expect_rows(db, 3, 4, 1);
	unload(&l);

	load("stalwart-cryinc-1.json", &l);
	m = meta_for(&l, "https", 1700000003);
	store_ok(db, &l.r, &m, 0);
	expect_text(db, "SELECT coalesce(contact, 'NULL') || '|' || repairs || '|' ||"
	    " day FROM report WHERE org = 'server.com'",
	    "NULL|no contact-info|2026-01-11");
	unload(&l);
	db_close(db);
}
END_TEST

START_TEST(test_duplicate)
{
	struct db *db = open_db("dup", _i);
	struct loaded l;
	struct inbound_meta m;
	char *org;

	load("google-parsedmarc-2.json", &l);
	m = meta_for(&l, "https", 1700000000);
	store_ok(db, &l.r, &m, 0);
	expect_rows(db, 1, 1, 2);

	/* Again, via mail, later: nothing changes. */
	m = meta_for(&l, "mail", 1800000000);
	m.peer = "198.51.100.1";
	store_ok(db, &l.r, &m, 1);
	expect_rows(db, 1, 1, 2);
	expect_text(db, "SELECT source || received_at || peer FROM report",
	    "https1700000000192.0.2.7");

	/* The same report-id from another organisation is another report. */
	org = l.r.org;
	l.r.org = (char *)"Other Org";
	store_ok(db, &l.r, &m, 0);
	expect_rows(db, 2, 2, 4);
	store_ok(db, &l.r, &m, 1);

	/* And another report-id from the first organisation too. */
	l.r.org = org;
	free(l.r.report_id);
	l.r.report_id = strdup("2024-01-10T00:00:00Z_example.com");
	store_ok(db, &l.r, &m, 0);
	expect_rows(db, 3, 3, 6);
	/* report-id compares exactly: case matters. */
	l.r.report_id[21] = 'X';
	store_ok(db, &l.r, &m, 0);
	expect_rows(db, 4, 4, 8);
	/* Duplicates took no id: the same numbers on either engine. */
	expect_rows_text(db, "SELECT id FROM report ORDER BY id", ",", "1,2,3,4");
	unload(&l);
	db_close(db);
}
END_TEST

/*
 * Many reports in the caller's transaction: a duplicate among them is
 * no error, so the rest of the batch and its commit go through (after
 * an error, PostgreSQL refuses the rest of a transaction).
 */
START_TEST(test_batch_with_duplicate)
{
	struct db *db = open_db("batch", _i);
	struct loaded a, b;
	struct inbound_meta ma, mb;
	char err[512];
	int dup = -1;

	load("google-parsedmarc-2.json", &a);
	load("rfc8460-example.json", &b);
	ma = meta_for(&a, "https", 1700000000);
	mb = meta_for(&b, "https", 1700000001);
	store_ok(db, &a.r, &ma, 0);

	ck_assert_int_eq(db_begin(db), 0);
	ck_assert_msg(inbound_store_tx(db, &a.r, &ma, &dup, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(dup, 1);
	ck_assert_msg(inbound_store_tx(db, &b.r, &mb, &dup, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(dup, 0);
	ck_assert_msg(inbound_store_tx(db, &b.r, &mb, &dup, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(dup, 1);
	ck_assert_int_eq(inbound_count(db, "duplicates", 2), 0);
	ck_assert_msg(db_commit(db) == 0, "%s", db_errmsg(db));
	expect_rows(db, 2, 2, 5);
	ck_assert_int_eq(query_int(db, "SELECT value FROM ingest_stat WHERE"
	    " name = 'duplicates'"), 2);

	/* Outside a transaction it refuses, and stores nothing. */
	ck_assert_int_eq(inbound_store_tx(db, &b.r, &mb, &dup, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "outside a transaction") != NULL, "%s", err);

	/* A failing report: the caller rolls the whole batch back. */
	free(b.r.report_id);
	b.r.report_id = strdup("another");
	ck_assert_int_eq(db_begin(db), 0);
	ck_assert_int_eq(inbound_store_tx(db, &b.r, &mb, &dup, err, sizeof(err)), 0);
	a.r.p[0].failures = -1;	/* rp_parse never gives this */
	free(a.r.report_id);
	a.r.report_id = strdup("bad");
	ck_assert_int_eq(inbound_store_tx(db, &a.r, &ma, &dup, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "report: ", 8) == 0, "%s", err);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONSTRAINT);
	db_rollback(db);
	ck_assert(!db_in_transaction(db));
	expect_rows(db, 2, 2, 5);
	unload(&a);
	unload(&b);
	db_close(db);
}
END_TEST

START_TEST(test_counters)
{
	struct db *db = open_db("counters", _i);
	char name[INBOUND_STAT_NAME_MAX + 2];
	int64_t v = -1;

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(inbound_count(db, "received", 1), 0);
	ck_assert_int_eq(inbound_count(db, "stored", 2), 0);
	ck_assert_int_eq(inbound_count(db, "stored", -1), 0);
	ck_assert_int_eq(inbound_count(db, "rejected_not_json", 1), 0);
	ck_assert_int_eq(inbound_stat(db, "received", &v), 0);
	ck_assert_int_eq(v, 3);
	ck_assert_int_eq(inbound_stat(db, "stored", &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(inbound_stat(db, "rejected_not_json", &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(inbound_stat(db, "duplicates", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(query_int(db, "SELECT sum(value) FROM ingest_stat"), 5);

	memset(name, 'a', sizeof(name));
	name[INBOUND_STAT_NAME_MAX] = '\0';
	ck_assert_int_eq(inbound_count(db, name, 1), 0);
	name[INBOUND_STAT_NAME_MAX] = 'a';
	name[INBOUND_STAT_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(inbound_count(db, name, 1), -1);
	ck_assert_int_eq(inbound_count(db, "", 1), -1);
	ck_assert_int_eq(inbound_count(db, NULL, 1), -1);
	ck_assert_int_eq(inbound_count(db, "Stored", 1), -1);
	ck_assert_int_eq(inbound_count(db, "a b", 1), -1);
	ck_assert_int_eq(inbound_count(db, "x'; DROP TABLE report; --", 1), -1);
	ck_assert_int_eq(inbound_stat(db, "a-b", &v), -1);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM ingest_stat"), 4);
	db_close(db);
}
END_TEST

/* A trigger that aborts on the third failure row, or drops it again. */
static void
trigger_boom(struct db *db, int on)
{
	if (!is_pg(db))
		exec_ok(db, on ? "CREATE TEMP TRIGGER boom BEFORE INSERT ON failure"
		    " WHEN NEW.result_type = 'validation-failure' BEGIN"
		    " SELECT RAISE(ABORT, 'boom'); END" : "DROP TRIGGER boom");
	else
		exec_ok(db, on ? "CREATE FUNCTION boom() RETURNS trigger LANGUAGE"
		    " plpgsql AS $$ BEGIN IF NEW.result_type = 'validation-failure'"
		    " THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$;"
		    " CREATE TRIGGER boom BEFORE INSERT ON failure FOR EACH ROW"
		    " EXECUTE FUNCTION boom()" : "DROP TRIGGER boom ON failure");
}

/* A failure half-way through a report leaves nothing behind. */
START_TEST(test_atomic_trigger)
{
	struct db *db = open_db("atomic", _i);
	struct loaded l;
	struct inbound_meta m;
	char err[512];
	int dup = -1;

	load("rfc8460-example.json", &l);
	m = meta_for(&l, "https", 1700000000);
	/* Abort on the third failure row, after report, policy, 2 rows. */
	trigger_boom(db, 1);
	ck_assert_int_eq(inbound_store(db, &l.r, &m, &dup, err, sizeof(err)), -1);
	ck_assert_int_eq(dup, 0);
	ck_assert_msg(strstr(err, "policy 0: boom") != NULL, "%s", err);
	ck_assert(!db_in_transaction(db));
	expect_rows(db, 0, 0, 0);

	/* Once the cause is gone it stores, and is not a duplicate. */
	trigger_boom(db, 0);
	store_ok(db, &l.r, &m, 0);
	expect_rows(db, 1, 1, 3);
	unload(&l);
	db_close(db);
}
END_TEST

/* A CHECK in the last policy undoes the policies before it. */
START_TEST(test_atomic_check)
{
	struct db *db = open_db("check", _i);
	struct loaded l;
	struct inbound_meta m;
	char err[512];
	int dup = -1;

	load("microsoft-cryinc-1.json", &l);
	m = meta_for(&l, "https", 1700000000);
	l.r.p[1].successes = -1;	/* rp_parse never gives this */
	ck_assert_int_eq(inbound_store(db, &l.r, &m, &dup, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, is_pg(db) ? "policy 1: new row for relation"
	    " \"policy\" violates check constraint" : "policy 1: CHECK constraint"
	    " failed") != NULL, "%s", err);
	ck_assert_int_eq(db_errclass(db), DB_ERR_CONSTRAINT);
	ck_assert(!db_in_transaction(db));
	expect_rows(db, 0, 0, 0);
	l.r.p[1].successes = 2;
	store_ok(db, &l.r, &m, 0);
	expect_rows(db, 1, 2, 0);
	unload(&l);
	db_close(db);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct db *db = open_db("args", _i);
	struct loaded l;
	struct inbound_meta m;
	char err[512], *saved;
	int dup = -1;

	load("google-phiag-1.json", &l);
	m = meta_for(&l, "ftp", 1700000000);
	ck_assert_int_eq(inbound_store(db, &l.r, &m, &dup, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "source") != NULL, "%s", err);
	m.source = NULL;
	ck_assert_int_eq(inbound_store(db, &l.r, &m, &dup, err, sizeof(err)), -1);
	m.source = "mail";
	saved = l.r.p[0].type;
	l.r.p[0].type = NULL;
	ck_assert_int_eq(inbound_store(db, &l.r, &m, &dup, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "policy 0 has no type") != NULL, "%s", err);
	l.r.p[0].type = saved;
	expect_rows(db, 0, 0, 0);

	/* Inside the caller's transaction: refused, and theirs left open. */
	exec_ok(db, "BEGIN");
	ck_assert_int_eq(inbound_store(db, &l.r, &m, &dup, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "within a transaction") != NULL, "%s", err);
	ck_assert(db_in_transaction(db));
	db_rollback(db);
	ck_assert(!db_in_transaction(db));
	expect_rows(db, 0, 0, 0);
	unload(&l);
	db_close(db);
}
END_TEST

START_TEST(test_received_now)
{
	struct db *db = open_db("now", _i);
	struct loaded l;
	struct inbound_meta m;
	long long before = (long long)time(NULL), at;

	load("google-cryinc-2.json", &l);
	m = meta_for(&l, "https", 0);
	store_ok(db, &l.r, &m, 0);
	at = query_int(db, "SELECT received_at FROM report");
	ck_assert_int_ge(at, before);
	ck_assert_int_le(at, (long long)time(NULL));
	unload(&l);
	db_close(db);
}
END_TEST

/*
 * The query plan of sql names the index: SQLite's EXPLAIN QUERY PLAN,
 * or PostgreSQL's EXPLAIN with sequential scans priced out (its tables
 * here are far too small for an index to win on cost alone).
 */
static void
expect_plan(struct db *db, const char *sql, const char *index)
{
	char explain[1024];
	struct buf plan;
	struct db_stmt *st;
	int col = is_pg(db) ? 0 : 3;

	if (is_pg(db))
		exec_ok(db, "SET enable_seqscan = off");
	snprintf(explain, sizeof(explain), "%s %s", is_pg(db) ? "EXPLAIN" :
	    "EXPLAIN QUERY PLAN", sql);
	st = prepare(db, explain);
	buf_init(&plan, 4096);
	while (db_step(st) == DB_ROW)
		ck_assert_int_eq(buf_printf(&plan, "%s; ", db_column_text(st, col)), 0);
	db_finalize(st);
	if (is_pg(db))
		exec_ok(db, "RESET enable_seqscan");
	ck_assert_msg(plan.data && strstr(plan.data, index) != NULL,
	    "%s: plan \"%s\" does not use %s", sql, plan.data, index);
	buf_free(&plan);
}

static const char *const json_fixtures[] = {
	"google-cryinc-1.json", "google-cryinc-2.json", "google-imparser-1.json.gz",
	"google-parsedmarc-2.json", "google-phiag-1.json", "microsoft-cryinc-1.json",
	"microsoft-cryinc-2.json", "microsoft-phiag-1.json", "rfc8460-example.json",
	"stalwart-cryinc-1.json",
};

/* All of them in one database; the two summary queries use the indexes. */
START_TEST(test_all_and_summaries)
{
	struct db *db = open_db("all", _i);
	size_t n = sizeof(json_fixtures) / sizeof(json_fixtures[0]);
	int64_t ok_sum = 0, failed_sum = 0, ok, failed;

	for (size_t i = 0; i < n; i++) {
		struct loaded l;
		struct inbound_meta m;

		load(json_fixtures[i], &l);
		m = meta_for(&l, "https", 1700000000 + (int64_t)i);
		store_ok(db, &l.r, &m, 0);
		rp_totals(&l.r, &ok, &failed);
		ok_sum += ok;
		failed_sum += failed;
		unload(&l);
	}
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM report"), (long long)n);
	ck_assert_int_eq(query_int(db, "SELECT sum(successful_sessions) FROM"
	    " policy"), ok_sum);
	ck_assert_int_eq(query_int(db, "SELECT sum(failed_sessions) FROM report"),
	    failed_sum);
	ck_assert_int_eq(ok_sum, 1 + 1 + 5 + 0 + 53 + 4 + 0 + 18 + 5326 + 1);
	ck_assert_int_eq(failed_sum, 3 + 3 + 303);
	/* Top result types, most failed sessions first. */
	expect_rows_text(db, "SELECT result_type || '=' || sum(count) FROM failure"
	    " GROUP BY result_type ORDER BY sum(count) DESC, result_type", ",",
	    "starttls-not-supported=200,certificate-expired=100,"
	    "validation-failure=6,sts-policy-fetch-error=3");
	expect_plan(db, "SELECT domain, org, sum(policy.successful_sessions) FROM"
	    " report JOIN policy ON policy.report = report.id WHERE day BETWEEN"
	    " '2024-01-01' AND '2024-12-31' GROUP BY domain, org", "report_day");
	expect_plan(db, "SELECT day, org, sum(policy.failed_sessions) FROM policy"
	    " JOIN report ON policy.report = report.id WHERE domain = 'example.com'"
	    " GROUP BY day, org", "policy_domain");
	expect_plan(db, "SELECT result_type, sum(count) FROM failure JOIN policy ON"
	    " failure.policy = policy.id WHERE policy.domain = 'example.com'"
	    " GROUP BY result_type", "failure_policy");
	db_close(db);
}
END_TEST

static Suite *
inbound_suite(void)
{
	Suite *s = suite_create("inbound");
	TCase *tc = tcase_create("store");
	int n = engines();

	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_schema, 0, n);
	tcase_add_loop_test(tc, test_store_read_back, 0, n);
	tcase_add_loop_test(tc, test_store_gz_and_sparse, 0, n);
	tcase_add_loop_test(tc, test_duplicate, 0, n);
	tcase_add_loop_test(tc, test_batch_with_duplicate, 0, n);
	tcase_add_loop_test(tc, test_counters, 0, n);
	tcase_add_loop_test(tc, test_atomic_trigger, 0, n);
	tcase_add_loop_test(tc, test_atomic_check, 0, n);
	tcase_add_loop_test(tc, test_bad_arguments, 0, n);
	tcase_add_loop_test(tc, test_received_now, 0, n);
	tcase_add_loop_test(tc, test_all_and_summaries, 0, n);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(inbound_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
