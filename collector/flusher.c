/*
 * NAME
 *	flusher - write tallies to the database off the receive path
 * DESCRIPTION
 *	See flusher.h.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "day.h"
#include "flusher.h"
#include "log.h"
#include "mem.h"
#include "store.h"

static const char SQL_POLICY[] =
    "INSERT INTO policy_counter (day, report_domain, tlsrpt_record,"
    " policy_type, policy_domain, policy_strings, mx_hosts,"
    " successful_sessions, failed_sessions) VALUES (?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (day, report_domain, tlsrpt_record, policy_type,"
    " policy_domain, policy_strings, mx_hosts) DO UPDATE SET"
    " successful_sessions = successful_sessions + excluded.successful_sessions,"
    " failed_sessions = failed_sessions + excluded.failed_sessions"
    " RETURNING id";

static const char SQL_FAILURE[] =
    "INSERT INTO failure_counter (policy_id, result_code, sending_mta_ip,"
    " receiving_mx_hostname, receiving_mx_helo, receiving_ip,"
    " additional_information, failure_reason_code, sessions)"
    " VALUES (?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (policy_id, result_code, sending_mta_ip,"
    " receiving_mx_hostname, receiving_mx_helo, receiving_ip,"
    " additional_information, failure_reason_code) DO UPDATE SET"
    " sessions = sessions + excluded.sessions";

static const char SQL_STAT[] =
    "INSERT INTO collector_stat (day, name, value) VALUES (?,?,?)"
    " ON CONFLICT (day, name) DO UPDATE SET value = value + excluded.value";

struct flusher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct tally *work;	/* being written, NULL when idle */
	struct tally *spare;	/* empty, for the receiver */
	int failing;
	int stop;		/* exit once idle */
	int stopping;		/* shutting down: give up retries after give_up_ms */
	long retry_ms;
	long give_up_ms;	/* when stopping: stop retrying after this */
	int lost;		/* a tally was given up */
	sqlite3 *db;
	sqlite3_stmt *st_policy, *st_failure, *st_stat;
	struct buf json;
	struct ratelimit rl;
};

static int
bind_text(sqlite3_stmt *st, int i, const char *p, size_t len)
{
	return sqlite3_bind_text(st, i, p, (int)len, SQLITE_STATIC);
}

/* Turns a list from a tally key into a JSON array of strings. */
static int
list_json(struct buf *b, const unsigned char *pos, uint32_t n)
{
	struct tally_str s;

	if (buf_putc(b, '[') != 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		pos = tally_list_get(pos, &s);
		if ((i > 0 && buf_putc(b, ',') != 0) || buf_putc(b, '"') != 0 ||
		    ev_json_escape(b, s.p, s.len) != 0 || buf_putc(b, '"') != 0)
			return -1;
	}
	return buf_putc(b, ']');
}

static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
write_policy(struct flusher *f, struct tally_entry *e)
{
	struct tally_policy_key k;
	sqlite3_stmt *st = f->st_policy;
	size_t mx_off;
	int rc;

	tally_policy_key(e, &k);
	buf_reset(&f->json);
	if (list_json(&f->json, k.strings, k.nstrings) != 0)
		return -1;
	mx_off = f->json.len;
	if (list_json(&f->json, k.mx, k.nmx) != 0)
		return -1;
	bind_text(st, 1, k.day.p, k.day.len);
	bind_text(st, 2, k.report_domain.p, k.report_domain.len);
	bind_text(st, 3, k.record.p, k.record.len);
	sqlite3_bind_int64(st, 4, k.type);
	bind_text(st, 5, k.policy_domain.p, k.policy_domain.len);
	bind_text(st, 6, f->json.data, mx_off);
	bind_text(st, 7, f->json.data + mx_off, f->json.len - mx_off);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)e->count_a);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)e->count_b);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		e->db_id = sqlite3_column_int64(st, 0);
	rc = (rc == SQLITE_ROW && sqlite3_step(st) == SQLITE_DONE) ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

static int
write_failure(struct flusher *f, struct tally *t, struct tally_entry *e)
{
	struct tally_failure_key k;
	sqlite3_stmt *st = f->st_failure;

	tally_failure_key(e, &k);
	sqlite3_bind_int64(st, 1, tally_entry(t, e->policy)->db_id);
	sqlite3_bind_int64(st, 2, k.code);
	bind_text(st, 3, k.sending_ip.p, k.sending_ip.len);
	bind_text(st, 4, k.mx_hostname.p, k.mx_hostname.len);
	bind_text(st, 5, k.mx_helo.p, k.mx_helo.len);
	bind_text(st, 6, k.receiving_ip.p, k.receiving_ip.len);
	bind_text(st, 7, k.additional_info.p, k.additional_info.len);
	bind_text(st, 8, k.reason.p, k.reason.len);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)e->count_a);
	return step_done(st);
}

static int
write_stats(struct flusher *f, struct tally *t)
{
	char day[DAY_LEN];

	day_format(time(NULL), day);
	for (int i = 0; i < STAT__COUNT; i++) {
		const char *name = tally_stat_name(i);

		if (name == NULL || t->stats[i] == 0)
			continue;
		bind_text(f->st_stat, 1, day, strlen(day));
		bind_text(f->st_stat, 2, name, strlen(name));
		sqlite3_bind_int64(f->st_stat, 3, (sqlite3_int64)t->stats[i]);
		if (step_done(f->st_stat) != 0)
			return -1;
	}
	return 0;
}

static int
write_tally(struct flusher *f, struct tally *t)
{
	char err[256];
	size_t n = tally_nkeys(t);

	if (store_exec(f->db, "BEGIN IMMEDIATE", err, sizeof(err)) != 0)
		goto fail_msg;
	for (size_t i = 0; i < n; i++) {
		struct tally_entry *e = tally_entry(t, i);
		int rc = tally_entry_is_policy(e) ? write_policy(f, e) :
		    write_failure(f, t, e);
		if (rc != 0)
			goto fail;
	}
	t->stats[STAT_FLUSHED_KEYS] += n;
	if (write_stats(f, t) != 0)
		goto fail_stats;
	if (store_exec(f->db, "COMMIT", err, sizeof(err)) != 0)
		goto fail_stats_msg;
	return 0;

fail_stats:
	t->stats[STAT_FLUSHED_KEYS] -= n;
fail:
	snprintf(err, sizeof(err), "%s", sqlite3_errmsg(f->db));
	goto fail_msg;
fail_stats_msg:
	t->stats[STAT_FLUSHED_KEYS] -= n;
fail_msg:
	store_rollback(f->db);
	t->stats[STAT_FLUSH_ERRORS]++;
	log_limited(&f->rl, "flush of %zu keys (%llu sessions) failed, "
	    "keeping them in memory and retrying: %s", n,
	    (unsigned long long)tally_nsessions(t), err);
	return -1;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *
flusher_main(void *arg)
{
	struct flusher *f = arg;
	struct timespec first_fail;

	/*
	 * Lowest priority for this thread only (Linux: per-thread nice).
	 * It inherits SCHED_FIFO from a real-time receiver: leave it first.
	 */
	struct sched_param sp = { .sched_priority = 0 };
	(void)pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (f->work == NULL && !f->stop)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->work == NULL)
			break;
		struct tally *t = f->work;
		pthread_mutex_unlock(&f->mu);

		int ok = write_tally(f, t) == 0;
		if (!ok) {
			clock_gettime(CLOCK_MONOTONIC, &first_fail);
			pthread_mutex_lock(&f->mu);
			f->failing = 1;
			pthread_cond_broadcast(&f->cv);
			pthread_mutex_unlock(&f->mu);
			for (;;) {
				struct timespec now;
				long elapsed;

				sleep_ms(f->retry_ms);
				if (write_tally(f, t) == 0) {
					ok = 1;
					log_info("database writable again; flushed "
					    "%zu keys", tally_nkeys(t));
					break;
				}
				clock_gettime(CLOCK_MONOTONIC, &now);
				elapsed = (now.tv_sec - first_fail.tv_sec) * 1000 +
				    (now.tv_nsec - first_fail.tv_nsec) / 1000000;
				pthread_mutex_lock(&f->mu);
				int give_up = f->stopping && elapsed >= f->give_up_ms;
				pthread_mutex_unlock(&f->mu);
				if (give_up) {
					log_warnx("giving up: %llu sessions in %zu "
					    "keys were not written",
					    (unsigned long long)tally_nsessions(t),
					    tally_nkeys(t));
					break;
				}
			}
		}
		tally_reset(t);
		pthread_mutex_lock(&f->mu);
		if (!ok)
			f->lost = 1;
		f->failing = 0;
		f->work = NULL;
		/* At stop the last tally arrives while the spare is still here. */
		if (f->spare != NULL)
			tally_free(t);
		else
			f->spare = t;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

struct flusher *
flusher_start(const char *db_path, long busy_timeout_ms, long retry_ms,
    size_t max_keys, size_t max_key_bytes, uint64_t seed, char *err,
    size_t errlen)
{
	struct flusher *f = xcalloc(1, sizeof(*f));
	struct ratelimit rl = RATELIMIT_INIT(5, 60);

	if (store_open(db_path, "outbound", busy_timeout_ms, &f->db, err, errlen) != 0)
		goto fail;
	if (sqlite3_prepare_v3(f->db, SQL_POLICY, -1, SQLITE_PREPARE_PERSISTENT,
	    &f->st_policy, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(f->db, SQL_FAILURE, -1, SQLITE_PREPARE_PERSISTENT,
	    &f->st_failure, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(f->db, SQL_STAT, -1, SQLITE_PREPARE_PERSISTENT,
	    &f->st_stat, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", db_path, sqlite3_errmsg(f->db));
		goto fail;
	}
	buf_init(&f->json, 64u * 1024 * 1024);
	f->rl = rl;
	f->retry_ms = retry_ms;
	f->spare = tally_new(max_keys, max_key_bytes, seed);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if ((errno = pthread_create(&f->thread, NULL, flusher_main, f)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(errno));
		tally_free(f->spare);
		goto fail;
	}
	return f;
fail:
	sqlite3_finalize(f->st_policy);
	sqlite3_finalize(f->st_failure);
	sqlite3_finalize(f->st_stat);
	store_close(f->db);
	free(f);
	return NULL;
}

int
flusher_handoff(struct flusher *f, struct tally **cur)
{
	int taken = 0;

	pthread_mutex_lock(&f->mu);
	if (f->work == NULL && f->spare != NULL) {
		f->work = *cur;
		*cur = f->spare;
		f->spare = NULL;
		taken = 1;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return taken;
}

int
flusher_wait_idle(struct flusher *f)
{
	int idle;

	pthread_mutex_lock(&f->mu);
	while (f->work != NULL && !f->failing)
		pthread_cond_wait(&f->cv, &f->mu);
	idle = f->work == NULL;
	pthread_mutex_unlock(&f->mu);
	return idle;
}

int
flusher_is_failing(struct flusher *f)
{
	int failing;

	pthread_mutex_lock(&f->mu);
	failing = f->failing;
	pthread_mutex_unlock(&f->mu);
	return failing;
}

int
flusher_stop(struct flusher *f, struct tally *last, long give_up_ms)
{
	int lost;

	pthread_mutex_lock(&f->mu);
	f->give_up_ms = give_up_ms;
	f->stopping = 1;
	if (last != NULL && !tally_is_empty(last)) {
		while (f->work != NULL)
			pthread_cond_wait(&f->cv, &f->mu);
		f->work = last;
		last = NULL;
	}
	f->stop = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	lost = f->lost;
	tally_free(f->spare);
	tally_free(last);
	sqlite3_finalize(f->st_policy);
	sqlite3_finalize(f->st_failure);
	sqlite3_finalize(f->st_stat);
	store_close(f->db);
	buf_free(&f->json);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
	return lost ? -1 : 0;
}
