/*
 * NAME
 *	tlsrpt-aggregate - build RFC 8460 reports for finished UTC days
 * SYNOPSIS
 *	tlsrpt-aggregate [-dnV] [-c file] [-o key=value] [--force]
 *	    [--day YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD]
 *	tlsrpt-aggregate --print DOMAIN --day YYYY-MM-DD
 * DESCRIPTION
 *	Without a day, builds every finished day (UTC midnight plus
 *	aggregate_grace_s has passed) that has counters and was not built
 *	before; with --day or --from/--to, those days. One report per (day,
 *	report domain, TLSRPT record), stored with its gzip bytes in state
 *	pending for tlsrpt-send. Re-running is harmless: existing reports
 *	are kept, unless --force and the sender has not taken them yet.
 *	Then deletes counters and reports older than retention_days.
 *
 *	database is an SQLite file or a postgresql:// URI (lib/db). Two
 *	runs at once are harmless on either: SQLite lets one writer in at a
 *	time, and on PostgreSQL the later insert of a report waits for the
 *	earlier run's transaction and keeps its report (reportstore.h).
 *
 *	--print builds the reports of one domain and day and writes them to
 *	standard output (pretty-printed JSON), storing nothing.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on database or build errors, 2 on bad usage or
 *	configuration.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "conf.h"
#include "day.h"
#include "dayreports.h"
#include "log.h"
#include "report.h"
#include "reportstore.h"

#define BATCH_REPORTS 500
/*
 * How long a PostgreSQL server may take to answer beyond the lock wait
 * (db_busy_timeout_ms) before it counts as hung (db_set_timeout_ms): a
 * day's counters arrive in one answer, so generous.
 */
#define DB_REPLY_MARGIN_MS 600000L

struct run {
	struct db *wdb;		/* writes reports */
	struct db *rdb;		/* reads counters, in its own snapshot */
	struct build_opts bo;
	int force;
	size_t max_bytes;
};

static void
usage(void)
{
	fprintf(stderr, "usage: tlsrpt-aggregate [-dnV] [-c file] [-o key=value] [--force]\n"
	    "           [--day YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD]\n"
	    "       tlsrpt-aggregate --print DOMAIN --day YYYY-MM-DD\n");
	exit(2);
}

static int
check_identity(void)
{
	char err[512];

	if (report_check_identity(conf_str("organization_name"),
	    conf_str("contact_info"), conf_str("report_submitter"), err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "tlsrpt-aggregate: %s\n", err);
		return -1;
	}
	return 0;
}

/* The last day that is finished at `now`. */
static void
last_finished_day(time_t now, char out[DAY_LEN])
{
	day_format(now - (time_t)conf_int("aggregate_grace_s") - 86400, out);
}

static int
print_cb(struct day_report *r, void *arg)
{
	(void)arg;
	return json_dumpf(r->json, stdout, JSON_INDENT(2)) == 0 &&
	    fputc('\n', stdout) != EOF ? 0 : -1;
}

static int
begin(struct db *db)
{
	if (db_begin(db) != 0) {
		log_warnx("%s: BEGIN: %s", db_name(db), db_errmsg(db));
		return -1;
	}
	return 0;
}

static int
commit(struct db *db)
{
	if (db_commit(db) != 0) {
		log_warnx("%s: COMMIT: %s", db_name(db), db_errmsg(db));
		return -1;
	}
	return 0;
}

struct store_ctx {
	struct run *run;
	struct reportstore *rs;
	size_t in_batch;
	size_t committed;	/* reports in batches already committed */
};

static int
store_cb(struct day_report *r, void *arg)
{
	struct store_ctx *c = arg;

	if (reportstore_put(c->rs, r) != 0)
		return -1;
	/* Short write transactions: the collector keeps flushing meanwhile. */
	if (++c->in_batch >= BATCH_REPORTS) {
		c->in_batch = 0;
		if (commit(c->run->wdb) != 0)
			return -1;
		c->committed += BATCH_REPORTS;
		if (begin(c->run->wdb) != 0)
			return -1;
	}
	return 0;
}

static int
mark_day(struct db *db, const char *day, size_t reports)
{
	struct db_stmt *st;
	int rc = -1;

	if (db_prepare(db, "INSERT INTO aggregated_day (day, finished_at,"
	    " reports) VALUES (?,?,?) ON CONFLICT (day) DO UPDATE SET"
	    " finished_at = excluded.finished_at, reports = excluded.reports",
	    &st) == 0 &&
	    db_bind_text(st, 1, day, -1) == 0 &&
	    db_bind_int64(st, 2, (int64_t)time(NULL)) == 0 &&
	    db_bind_int64(st, 3, (int64_t)reports) == 0)
		rc = db_step_done(st);
	if (rc != 0)
		log_warnx("%s: mark day: %s", day, db_errmsg(db));
	db_finalize(st);
	return rc;
}

static int
build_day(struct run *run, const char *day)
{
	struct store_ctx c = { run, NULL, 0, 0 };
	struct build_stats bs;
	const struct reportstore_stats *ss;
	char lock[32];
	int rc = -1, locked;

	/*
	 * Two runs on one PostgreSQL database (a timer on two hosts, an admin
	 * by hand): the second would wait on the first one's uncommitted
	 * report rows and give up after db_busy_timeout_ms. It leaves the
	 * day to the run that builds it. SQLite runs take turns on the
	 * file's write lock instead.
	 */
	snprintf(lock, sizeof(lock), "aggregate %s", day);
	if ((locked = db_try_lock(run->wdb, lock)) != 0) {
		if (locked < 0) {
			log_warnx("%s: day lock: %s", day, db_errmsg(run->wdb));
			return -1;
		}
		log_info("%s: another tlsrpt-aggregate is building this day; "
		    "left to it", day);
		return 0;
	}
	if ((c.rs = reportstore_open(run->wdb, run->force, run->max_bytes)) == NULL)
		goto out;
	if (begin(run->wdb) != 0)
		goto out;
	/* After any error PostgreSQL fails the rest of the transaction. */
	if (dayreports_build(run->rdb, day, NULL, &run->bo, store_cb, &c, &bs) != 0 ||
	    mark_day(run->wdb, day, bs.reports) != 0 ||
	    commit(run->wdb) != 0) {
		db_rollback(run->wdb);
		if (c.committed == 0)
			log_warnx("%s: not built; nothing of it stored", day);
		else
			log_warnx("%s: not finished; %zu reports committed before "
			    "the error stay, the next run completes the day", day,
			    c.committed);
		goto out;
	}
	ss = reportstore_stats(c.rs);
	log_info("%s: %zu reports (%zu new, %zu rebuilt, %zu kept), %zu failure rows "
	    "merged, %zu too big, %zu policies of unknown type skipped, %zu "
	    "unknown result codes", day, bs.reports, ss->inserted, ss->replaced,
	    ss->kept, ss->merged_rows, ss->too_big, bs.skipped_policies,
	    bs.unknown_codes);
	rc = 0;
out:
	reportstore_close(c.rs);
	(void)db_unlock(run->wdb, lock);
	return rc;
}

static int
pending_days(struct db *db, const char *last, char (**days)[DAY_LEN], size_t *n)
{
	struct db_stmt *st;
	size_t cap = 0;
	int rc;

	*days = NULL;
	*n = 0;
	if (db_prepare(db, "SELECT DISTINCT day FROM policy_counter"
	    " WHERE day <= ? AND day NOT IN (SELECT day FROM aggregated_day)"
	    " ORDER BY day", &st) != 0)
		return -1;
	if (db_bind_text(st, 1, last, -1) != 0) {
		db_finalize(st);
		return -1;
	}
	while ((rc = db_step(st)) == DB_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*days = realloc(*days, cap * sizeof(**days));
			if (*days == NULL)
				fatal("realloc");
		}
		snprintf((*days)[(*n)++], DAY_LEN, "%s", db_column_text(st, 0));
	}
	db_finalize(st);
	return rc == DB_DONE ? 0 : -1;
}

static int
retention(struct db *db)
{
	static const char *const tables[] = { "report", "policy_counter",
	    "collector_stat", "aggregated_day" };
	char cutoff[DAY_LEN], sql[128];
	struct db_stmt *st;
	int64_t total = 0;
	int rc;

	day_format(time(NULL) - (time_t)conf_int("retention_days") * 86400, cutoff);
	if (db_begin(db) != 0)
		goto fail;
	for (size_t i = 0; i < sizeof(tables) / sizeof(*tables); i++) {
		/* Table names from the list above, never from input. */
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE day < ?", tables[i]);
		if (db_prepare(db, sql, &st) != 0)
			goto fail;
		rc = db_bind_text(st, 1, cutoff, -1) == 0 ? db_step_done(st) : -1;
		db_finalize(st);
		if (rc != 0)
			goto fail;
		total += db_changes(db);
	}
	if (db_commit(db) != 0)
		goto fail;
	if (total > 0)
		log_info("retention: deleted %lld rows older than %s",
		    (long long)total, cutoff);
	return 0;
fail:
	log_warnx("retention: %s", db_errmsg(db));
	db_rollback(db);
	return -1;
}

static int
open_db(struct db **db)
{
	char err[512];

	if (db_open(conf_str("database"), "outbound",
	    (long)conf_int("db_busy_timeout_ms"), db, err, sizeof(err)) != 0) {
		log_warnx("%s", err);
		return -1;
	}
	db_set_timeout_ms(*db, (long)conf_int("db_busy_timeout_ms") + DB_REPLY_MARGIN_MS);
	return 0;
}

static int
run_days(struct run *run, const char *from, const char *to)
{
	char last[DAY_LEN], day[DAY_LEN];
	char (*days)[DAY_LEN] = NULL;
	size_t n = 0;
	time_t t, end;
	int rc = 0;

	last_finished_day(time(NULL), last);
	if (from == NULL) {
		if (pending_days(run->rdb, last, &days, &n) != 0) {
			log_warnx("listing days: %s", db_errmsg(run->rdb));
			return -1;
		}
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = build_day(run, days[i]);
		free(days);
		if (n == 0)
			log_info("no finished day waiting (last finished: %s)", last);
		return rc;
	}
	if (day_parse(from, &t) != 0 || day_parse(to, &end) != 0 || end < t) {
		fprintf(stderr, "tlsrpt-aggregate: bad day range %s..%s\n", from, to);
		return -2;
	}
	if (strcmp(to, last) > 0) {
		fprintf(stderr, "tlsrpt-aggregate: %s is not finished yet (last "
		    "finished day: %s)\n", to, last);
		return -2;
	}
	for (; t <= end && rc == 0; t += 86400) {
		day_format(t, day);
		rc = build_day(run, day);
	}
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "day", required_argument, NULL, 'D' },
		{ "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },
		{ "force", no_argument, NULL, 'R' },
		{ "print", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli;
	struct run run;
	const char *from = NULL, *to = NULL, *print = NULL;
	int ch, rc;

	memset(&run, 0, sizeof(run));
	cli_init(&cli, "tlsrpt-aggregate", argc);
	while ((ch = getopt_long(argc, argv, CLI_COMMON_OPTS "h", longopts, NULL)) != -1) {
		if (cli_option(&cli, ch, optarg))
			continue;
		switch (ch) {
		case 'D': from = to = optarg; break;
		case 'F': from = optarg; break;
		case 'T': to = optarg; break;
		case 'R': run.force = 1; break;
		case 'P': print = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || (from == NULL) != (to == NULL) ||
	    (print != NULL && (from == NULL || from != to)))
		usage();
	cli_finish(&cli);
	log_init("tlsrpt-aggregate", LOG_TO_STDERR);
	if (check_identity() != 0)
		return 2;
	run.bo.org = conf_str("organization_name");
	run.bo.contact = conf_str("contact_info");
	run.bo.submitter = conf_str("report_submitter");
	run.bo.end_inclusive = conf_bool("report_end_inclusive");
	run.max_bytes = (size_t)conf_int("report_max_bytes");
	if (open_db(&run.wdb) != 0 || open_db(&run.rdb) != 0)
		return 1;
	if (print != NULL) {
		struct build_stats bs;
		time_t t;

		if (day_parse(from, &t) != 0) {
			fprintf(stderr, "tlsrpt-aggregate: bad day '%s'\n", from);
			return 2;
		}
		rc = dayreports_build(run.rdb, from, print, &run.bo, print_cb, NULL, &bs);
		if (rc == 0 && bs.reports == 0) {
			fprintf(stderr, "tlsrpt-aggregate: no counters for %s on %s\n",
			    print, from);
			rc = 1;
		}
	} else {
		rc = run_days(&run, from, to);
		if (rc == 0)
			rc = retention(run.wdb);
	}
	db_close(run.rdb);
	db_close(run.wdb);
	cli_free(&cli);
	return rc == 0 ? 0 : rc == -2 ? 2 : 1;
}
