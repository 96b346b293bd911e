/*
 * NAME
 *	tlsrpt-send - deliver the aggregator's reports
 * SYNOPSIS
 *	tlsrpt-send [-fdnV] [-c file] [-o key=value] [-D] [--dry-run]
 * DESCRIPTION
 *	Finds the destinations of new reports (plan), then delivers every
 *	delivery that is due, and exits; with -D it stays and does this
 *	every send_interval_s until SIGTERM. One tlsrpt-send per database:
 *	a lock file next to an SQLite file; for a postgresql:// database,
 *	shared by hosts, a session advisory lock on the server, checked
 *	again before every pass (a reconnect loses it). At start,
 *	deliveries a crashed run left in-flight are put back to pending:
 *	they are the only ones a receiver may get twice, and only the one
 *	sender may do that.
 *
 *	--dry-run shows what would be planned and sent, and changes nothing.
 *
 *	Loop guard: report mail carries TLS-Required: No (RFC 8689), so a
 *	receiving MTA with broken TLS still gets it, and Postfix 3.10+ does
 *	not emit TLSRPT datagrams for such mail; it also carries
 *	Auto-Submitted: auto-generated. Reports are therefore not reports
 *	about our own report deliveries.
 * DIAGNOSTICS
 *	Exit 0 when the run completed (individual failed deliveries are
 *	logged and retried later), 1 on database errors, 2 on bad usage or
 *	configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "deliver.h"
#include "dkim.h"
#include "log.h"
#include "plan.h"
#include "report.h"

#define DUE_BATCH 1000
#define SEND_LOCK "tlsrpt-send"
/* A PostgreSQL server silent this long beyond the lock wait is hung. */
#define DB_REPLY_MARGIN_MS 60000L

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tlsrpt-send [-fdnV] [-c file] [-o key=value] [-D] [--dry-run]\n");
	exit(2);
}

/* SQLite: a lock file next to the database, held while fd is open. */
static int
take_lock_file(const char *db_path)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s.send-lock", db_path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "tlsrpt-send: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "tlsrpt-send: another tlsrpt-send holds %s\n", path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * PostgreSQL: the server's advisory lock (a no-op on SQLite): 0 held,
 * 1 another sender has it, -1 the server could not say.
 */
static int
take_lock_db(struct db *db, const char *what)
{
	int rc = db_try_lock(db, SEND_LOCK);

	if (rc == 1)
		log_warnx("another tlsrpt-send is working on %s; %s", db_name(db), what);
	else if (rc != 0)
		log_warnx("%s: sender lock: %s", db_name(db), db_errmsg(db));
	return rc;
}

static int
setup(struct deliver_opts *d, struct plan_opts *p, int dry_run, char *password,
    size_t pwlen)
{
	char err[512];

	if (report_check_identity(conf_str("organization_name"),
	    conf_str("contact_info"), conf_str("report_submitter"), err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "tlsrpt-send: %s\n", err);
		return -1;
	}
	p->dns_server = conf_str("dns_server");
	p->always_lookup = conf_bool("sender_always_lookup");
	p->spread_s = (long)conf_int("send_spread_s");
	p->dry_run = dry_run;
	p->bo.base_s = (long)conf_int("send_retry_base_s");
	p->bo.max_s = (long)conf_int("send_retry_max_s");
	p->bo.window_s = (long)conf_int("send_retry_window_s");
	memset(d, 0, sizeof(*d));
	d->timeout_s = (long)conf_int("send_timeout_s");
	d->concurrency = (long)conf_int("send_concurrency");
	d->https_ca_file = conf_str("https_ca_file");
	d->https_verify = conf_bool("https_verify");
	d->smtp_relay = conf_str("smtp_relay");
	d->smtp_require_tls = conf_bool("smtp_require_tls");
	d->smtp_ca_file = conf_str("smtp_ca_file");
	d->smtp_user = conf_str("smtp_user");
	d->sendmail_path = conf_str("sendmail_path");
	d->mail_from = *conf_str("mail_from") ? conf_str("mail_from") :
	    conf_str("contact_info");
	d->submitter = conf_str("report_submitter");
	d->org = conf_str("organization_name");
	d->end_inclusive = conf_bool("report_end_inclusive");
	if (cli_read_secret("smtp_password_file", password, pwlen, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "tlsrpt-send: %s\n", err);
		return -1;
	}
	d->smtp_password = password;
	if (*conf_str("dkim_key") == '\0')
		return 0;
	if (*conf_str("dkim_selector") == '\0' || *conf_str("dkim_domain") == '\0') {
		fprintf(stderr, "tlsrpt-send: dkim_key needs dkim_selector and dkim_domain\n");
		return -1;
	}
	d->dkim = dkim_signer_new(conf_str("dkim_key"), conf_str("dkim_selector"),
	    conf_str("dkim_domain"), err, sizeof(err));
	if (d->dkim == NULL) {
		fprintf(stderr, "tlsrpt-send: DKIM: %s\n", err);
		return -1;
	}
	return 0;
}

static int
show_due(struct outbox *ob)
{
	struct due *dues;
	size_t n;

	if (outbox_due(ob, time(NULL), DUE_BATCH, &dues, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		printf("due: %s (%s, %s) to %s, attempt %d\n", dues[i].report_id,
		    dues[i].report_domain, dues[i].day, dues[i].uri,
		    dues[i].attempts + 1);
	outbox_due_free(dues, n);
	return 0;
}

/* One pass: plan new reports, deliver everything due. */
static int
pass(struct db *db, struct outbox *ob, const struct plan_opts *p,
    const struct deliver_opts *d)
{
	struct plan_stats ps = { 0, 0, 0, 0 };
	struct deliver_stats ds = { 0, 0, 0, 0 };
	struct due *dues;
	size_t n;
	int rc;

	/* Taken again if a reconnect lost it; -2: someone else has it now. */
	if ((rc = take_lock_db(db, "stopping")) != 0)
		return rc == 1 ? -2 : -1;
	rc = plan_reports(ob, p, &ps);

	if (p->dry_run)
		return show_due(ob) == 0 ? rc : -1;
	do {
		if (outbox_due(ob, time(NULL), DUE_BATCH, &dues, &n) != 0)
			return -1;
		if (n > 0)
			deliver_batch(ob, d, dues, n, &ds);
		outbox_due_free(dues, n);
	} while (n == DUE_BATCH && !stop_requested);
	if (ps.planned + ps.no_destination + ds.delivered + ds.retrying + ds.failed > 0)
		log_info("planned %zu reports (%zu destinations, %zu without), "
		    "delivered %zu, will retry %zu, gave up %zu", ps.planned,
		    ps.destinations, ps.no_destination, ds.delivered, ds.retrying,
		    ds.failed);
	return rc == 0 && ds.errors == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli;
	struct deliver_opts d;
	struct plan_opts p;
	struct outbox *ob;
	struct db *db;
	char err[512], password[512];
	int ch, daemon_mode = 0, dry_run = 0, lock = -1, rc, recovered;

	cli_init(&cli, "tlsrpt-send", argc);
	while ((ch = getopt_long(argc, argv, CLI_COMMON_OPTS "Dh", longopts, NULL)) != -1) {
		if (cli_option(&cli, ch, optarg))
			continue;
		switch (ch) {
		case 'D': daemon_mode = 1; break;
		case 'N': dry_run = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	cli_finish(&cli);
	log_init("tlsrpt-send", LOG_TO_STDERR);
	if (setup(&d, &p, dry_run, password, sizeof(password)) != 0)
		return 2;
	if (!db_target_is_pg(conf_str("database")) &&
	    (lock = take_lock_file(conf_str("database"))) < 0)
		return 1;
	if (db_open(conf_str("database"), "outbound",
	    (long)conf_int("db_busy_timeout_ms"), &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "tlsrpt-send: %s\n", err);
		return 1;
	}
	db_set_timeout_ms(db, (long)conf_int("db_busy_timeout_ms") + DB_REPLY_MARGIN_MS);
	/* Before the recovery below: it must not touch another's in-flight rows. */
	if (take_lock_db(db, "not starting") != 0)
		return 1;
	if ((ob = outbox_open(db, &p.bo)) == NULL || deliver_init() != 0)
		return 1;
	if (!dry_run && (recovered = outbox_recover(ob)) > 0)
		log_warnx("%d deliveries were in flight when the last run stopped; "
		    "sending them again", recovered);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	do {
		rc = pass(db, ob, &p, &d);
		for (long s = 0; rc != -2 && daemon_mode && !stop_requested &&
		    s < conf_int("send_interval_s"); s++)
			sleep(1);
	} while (rc != -2 && daemon_mode && !stop_requested);
	outbox_close(ob);
	if (rc != -2)
		(void)db_unlock(db, SEND_LOCK);
	db_close(db);
	deliver_cleanup();
	dkim_signer_free(d.dkim);
	if (lock >= 0)
		close(lock);
	cli_free(&cli);
	return rc == 0 ? 0 : 1;
}
