/*
 * NAME
 *	tlsrpt-collectd - collect TLS session results from MTAs
 * SYNOPSIS
 *	tlsrpt-collectd [-fdnV] [-c file] [-o key=value] [-s] [-C]
 * DESCRIPTION
 *	Binds collector_socket, reads libtlsrpt datagrams, pre-aggregates
 *	them in memory and writes the counters to the database every
 *	flush_interval_ms. -s prints the collector counters stored in the
 *	database and exits; -C prints a sample configuration file.
 *
 *	database is an SQLite file, or a postgresql:// URI shared by the
 *	collectors of many MTA hosts. A file that cannot be opened stops the
 *	start; a PostgreSQL server that cannot be reached does not: the
 *	collector counts in memory meanwhile, as through any outage, and
 *	writes when the server is back.
 *
 *	Signals: TERM/INT read what is queued on the socket, flush, exit 0;
 *	USR1 logs the counters since start; HUP is logged and ignored
 *	(nothing is cached that a reload would change; restart to apply
 *	configuration changes).
 * DIAGNOSTICS
 *	Exit 0 on a clean stop, 1 when counts could not be written, 2 on a
 *	configuration error.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "db.h"
#include "flusher.h"
#include "log.h"
#include "receiver.h"
#include "sockopen.h"

#define SHUTDOWN_GIVE_UP_MS 10000

static void
usage(void)
{
	fprintf(stderr, "usage: tlsrpt-collectd [-fdnV] [-c file] [-o key=value]"
	    " [-s] [-C]\n"
	    "  -f foreground, log to stderr   -d debug logging\n"
	    "  -n print effective config      -V version\n"
	    "  -s print stored collector counters   -C print sample config\n");
	exit(2);
}

static int
print_stats(void)
{
	struct db *db;
	struct db_stmt *st;
	char err[512];
	int rc, version;

	if (db_open_readonly(conf_str("database"), "outbound",
	    (long)conf_int("db_busy_timeout_ms"), &db, &version, err, sizeof(err)) != 0) {
		fprintf(stderr, "tlsrpt-collectd: %s\n", err);
		return 1;
	}
	printf("%-10s %-28s %s\n", "day", "counter", "value");
	if (version == 0) {
		/* No collector has written here yet. */
		db_close(db);
		return 0;
	}
	if (db_prepare(db, "SELECT day, name, value FROM collector_stat"
	    " ORDER BY day, name", &st) != 0) {
		fprintf(stderr, "tlsrpt-collectd: %s: %s\n", db_name(db), db_errmsg(db));
		db_close(db);
		return 1;
	}
	while ((rc = db_step(st)) == DB_ROW) {
		const char *day = db_column_text(st, 0), *name = db_column_text(st, 1);

		printf("%-10s %-28s %lld\n", day ? day : "", name ? name : "",
		    (long long)db_column_int64(st, 2));
	}
	if (rc != DB_DONE)
		fprintf(stderr, "tlsrpt-collectd: %s: %s\n", db_name(db), db_errmsg(db));
	db_close(db);
	return rc == DB_DONE ? 0 : 1;
}

/* Datagrams the kernel queues on a unix socket: max_dgram_qlen + 1. */
static long
unix_queue_limit(void)
{
	FILE *fp = fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
	long qlen = -1;

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%ld", &qlen) != 1)
		qlen = -1;
	fclose(fp);
	return qlen >= 0 ? qlen + 1 : 0;
}

static int
block_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	/* Blocked before threads start, so only the signalfd sees them. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		fatalx("pthread_sigmask failed");
	if ((fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		fatal("signalfd");
	return fd;
}

/* Returns 1 when a stop was asked for. */
static int
handle_signals(int sigfd, struct receivers *rx)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			stop = 1;
			break;
		case SIGUSR1:
			receivers_log_stats(rx);
			break;
		case SIGHUP:
			log_info("SIGHUP: nothing to reload; restart to apply "
			    "configuration changes");
			break;
		}
	}
	return stop;
}

/* The receiver threads read and count; this one waits for signals. */
static int
run(int fd, struct flusher *f, int sigfd, uint64_t seed, int nreceivers,
    size_t max_keys_each)
{
	long qlimit = unix_queue_limit();
	struct receiver_opts o = {
		.fd = fd,
		.max_datagram_bytes = (size_t)conf_int("collector_max_datagram_bytes"),
		.queue_limit = qlimit,
		.max_keys = max_keys_each,
		.seed = seed,
		.flush_interval_ms = conf_int("flush_interval_ms"),
		.busy_poll_us = (long)conf_int("collector_busy_poll_us"),
	};
	struct tally *last[RECEIVER_MAX_THREADS] = { NULL };
	struct receivers *rx;
	char err[256];
	int stop = 0, rc;

	/*
	 * The kernel queues max_dgram_qlen + 1 datagrams on a unix socket,
	 * whatever SO_RCVBUF says, and MTAs send with MSG_DONTWAIT: at
	 * 50,000/s ten datagrams are 200 us, less than one scheduling delay.
	 */
	if (qlimit > 0 && qlimit < 128)
		log_warnx("net.unix.max_dgram_qlen is %ld: only %ld datagrams can "
		    "wait for the collector and MTAs lose the rest of a burst "
		    "(EAGAIN); set it to 512 (the systemd default) in sysctl.d "
		    "and restart the collector, the socket keeps the value it "
		    "was created with", qlimit - 1, qlimit);

	if ((rx = receivers_start(&o, nreceivers, f, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		(void)flusher_stop(f, NULL, 0, 0);
		return 1;
	}
	while (!stop) {
		struct pollfd pfd = { sigfd, POLLIN, 0 };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			fatal("poll");
		stop = handle_signals(sigfd, rx);
	}
	/* Each receiver reads until the socket is empty, then hands back. */
	receivers_stop(rx, last);
	receivers_log_stats(rx);
	receivers_free(rx);
	rc = flusher_stop(f, last, nreceivers, SHUTDOWN_GIVE_UP_MS);
	if (rc != 0)
		log_warnx("stopped with counts that could not be written");
	else
		log_info("stopped; all counts written");
	return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	struct sockopen_opts so;
	struct flusher *f;
	struct db *db;
	char err[512], db_shown[256];
	uint64_t seed = 0;
	size_t max_keys_each;
	int ch, want_stats = 0, fd, lock_fd, sigfd, rc, nreceivers;

	cli_init(&cli, "tlsrpt-collectd", argc);
	while ((ch = getopt(argc, argv, CLI_COMMON_OPTS "sCh")) != -1) {
		if (cli_option(&cli, ch, optarg))
			continue;
		switch (ch) {
		case 's': want_stats = 1; break;
		case 'C': conf_print_sample(stdout); return 0;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	cli_finish(&cli);
	if (want_stats)
		return print_stats();
	/*
	 * Over a file-size limit (RLIMIT_FSIZE) a write must fail with EFBIG,
	 * so that SQLite returns an error and the flusher keeps the counts
	 * and retries, instead of SIGXFSZ killing the process with them.
	 */
	signal(SIGXFSZ, SIG_IGN);

	log_init("tlsrpt-collectd", cli.foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG);
	so.path = conf_str("collector_socket");
	so.mode = (mode_t)conf_int("collector_socket_mode");
	so.owner = conf_str("collector_socket_owner");
	so.group = conf_str("collector_socket_group");
	so.rcvbuf_bytes = (int)conf_int("collector_rcvbuf_bytes");
	if ((fd = sockopen_bind(&so, &lock_fd, err, sizeof(err))) < 0) {
		fprintf(stderr, "tlsrpt-collectd: %s\n", err);
		return 1;
	}
	/* Before dropping root; the flusher thread lowers itself again. */
	if (conf_bool("collector_realtime")) {
		struct sched_param sp = { .sched_priority = 1 };
		int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
		if (e != 0)
			log_warnx("collector_realtime: SCHED_FIFO: %s; receiving at "
			    "normal priority", strerror(e));
	}
	cli_drop_privileges("collector_user");
	/* Open (and migrate) once here so errors reach the terminal. */
	if (db_open(conf_str("database"), "outbound",
	    (long)conf_int("db_busy_timeout_ms"), &db, err, sizeof(err)) == 0)
		db_close(db);
	else if (db_target_is_pg(conf_str("database"))) {
		/*
		 * The shared server may be down for a while: an MTA host
		 * keeps counting meanwhile, as it does through an outage.
		 */
		log_warnx("%s; counting in memory and trying again at each "
		    "flush", err);
	} else {
		fprintf(stderr, "tlsrpt-collectd: %s\n", err);
		sockopen_unlink(so.path, lock_fd);
		return 1;
	}
	/* Before any thread exists: fork keeps only the calling thread. */
	if (!cli.foreground && daemon(0, 0) != 0)
		fatal("daemon");
	sigfd = block_signals();
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	/* collector_max_keys bounds memory: the receivers share it. */
	nreceivers = (int)conf_int("collector_receivers");
	max_keys_each = ((size_t)conf_int("collector_max_keys") +
	    (size_t)nreceivers - 1) / (size_t)nreceivers;
	f = flusher_start(conf_str("database"), (long)conf_int("db_busy_timeout_ms"),
	    (long)conf_int("flush_interval_ms"), max_keys_each,
	    4 * (size_t)conf_int("collector_max_datagram_bytes"), seed,
	    nreceivers, err, sizeof(err));
	if (f == NULL) {
		log_warnx("%s", err);
		sockopen_unlink(so.path, lock_fd);
		return 1;
	}
	db_safe_name(conf_str("database"), db_shown, sizeof(db_shown));
	log_info("listening on %s, database %s, flush every %lld ms, %d "
	    "receiver thread%s", so.path, db_shown,
	    conf_int("flush_interval_ms"), nreceivers, nreceivers == 1 ? "" : "s");
	rc = run(fd, f, sigfd, seed, nreceivers, max_keys_each);
	sockopen_unlink(so.path, lock_fd);
	cli_free(&cli);
	return rc;
}
