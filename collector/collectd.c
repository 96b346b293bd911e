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
#include "flusher.h"
#include "log.h"
#include "receiver.h"
#include "sockopen.h"
#include "store.h"

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
	const char *path = conf_str("database");
	sqlite3 *db;
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "tlsrpt-collectd: %s: %s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	sqlite3_busy_timeout(db, (int)conf_int("db_busy_timeout_ms"));
	if (sqlite3_prepare_v2(db, "SELECT day, name, value FROM collector_stat"
	    " ORDER BY day, name", -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "tlsrpt-collectd: %s: %s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	printf("%-10s %-28s %s\n", "day", "counter", "value");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		printf("%-10s %-28s %lld\n", sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc == SQLITE_DONE ? 0 : 1;
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

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
handle_signals(int sigfd, struct receiver *r)
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
			receiver_log_stats(r);
			break;
		case SIGHUP:
			log_info("SIGHUP: nothing to reload; restart to apply "
			    "configuration changes");
			break;
		}
	}
	return stop;
}

/*
 * Busy polling: after the queue runs dry, keep reading for a few
 * microseconds before going to sleep. Under dense traffic the receiver
 * then stays on its CPU instead of being woken, possibly on the
 * sender's CPU behind the sender, while the kernel queue (11 datagrams
 * by default) overflows. Sparse traffic costs a few microseconds per
 * datagram. Returns 1 when datagrams came in.
 */
static int
spin(struct receiver *r, struct tally **cur, struct flusher *f, long us)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (receiver_batch(r, cur, f) > 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000000L +
	    (now.tv_nsec - start.tv_nsec) / 1000 < us);
	return 0;
}

static int
run(int fd, struct flusher *f, int sigfd, uint64_t seed)
{
	long qlimit = unix_queue_limit();
	struct receiver *r = receiver_new(fd,
	    (size_t)conf_int("collector_max_datagram_bytes"), qlimit);
	struct tally *cur = tally_new((size_t)conf_int("collector_max_keys"),
	    4 * (size_t)conf_int("collector_max_datagram_bytes"), seed);
	long long interval = conf_int("flush_interval_ms");
	long long next_flush = now_ms() + interval;
	long busy_poll_us = (long)conf_int("collector_busy_poll_us");
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

	for (;;) {
		int n = receiver_batch(r, &cur, f);
		long long now = now_ms();

		if (now >= next_flush) {
			if (!tally_is_empty(cur))
				(void)flusher_handoff(f, &cur);
			next_flush = now + interval;
		}
		if (n > 0)
			continue;
		if (stop)
			break;	/* socket drained */
		if (busy_poll_us > 0 && spin(r, &cur, f, busy_poll_us))
			continue;
		struct pollfd pfd[2] = { { fd, POLLIN, 0 }, { sigfd, POLLIN, 0 } };
		int timeout = (int)(next_flush - now);
		if (poll(pfd, 2, timeout < 0 ? 0 : timeout) < 0 && errno != EINTR)
			fatal("poll");
		if (pfd[1].revents & POLLIN)
			stop = handle_signals(sigfd, r);
	}
	receiver_log_stats(r);
	receiver_free(r);
	rc = flusher_stop(f, cur, SHUTDOWN_GIVE_UP_MS);
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
	sqlite3 *db;
	char err[512];
	uint64_t seed = 0;
	int ch, want_stats = 0, fd, lock_fd, sigfd, rc;

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
	if (store_open(conf_str("database"), "outbound",
	    (long)conf_int("db_busy_timeout_ms"), &db, err, sizeof(err)) != 0) {
		fprintf(stderr, "tlsrpt-collectd: %s\n", err);
		sockopen_unlink(so.path, lock_fd);
		return 1;
	}
	store_close(db);
	/* Before any thread exists: fork keeps only the calling thread. */
	if (!cli.foreground && daemon(0, 0) != 0)
		fatal("daemon");
	sigfd = block_signals();
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	f = flusher_start(conf_str("database"), (long)conf_int("db_busy_timeout_ms"),
	    (long)conf_int("flush_interval_ms"), (size_t)conf_int("collector_max_keys"),
	    4 * (size_t)conf_int("collector_max_datagram_bytes"), seed,
	    err, sizeof(err));
	if (f == NULL) {
		log_warnx("%s", err);
		sockopen_unlink(so.path, lock_fd);
		return 1;
	}
	log_info("listening on %s, database %s, flush every %lld ms", so.path,
	    conf_str("database"), conf_int("flush_interval_ms"));
	rc = run(fd, f, sigfd, seed);
	sockopen_unlink(so.path, lock_fd);
	cli_free(&cli);
	return rc;
}
