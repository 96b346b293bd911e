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
#include "db.h"
#include "log.h"
#include "mem.h"

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

static const char SQL_FAILURE[] =
    "INSERT INTO failure_counter (policy_id, result_code, sending_mta_ip,"
    " receiving_mx_hostname, receiving_mx_helo, receiving_ip,"
    " additional_information, failure_reason_code, sessions)"
    " VALUES (?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT (policy_id, result_code, sending_mta_ip,"
    " receiving_mx_hostname, receiving_mx_helo, receiving_ip,"
    " additional_information, failure_reason_code) DO UPDATE SET"
    " sessions = failure_counter.sessions + excluded.sessions";

static const char SQL_STAT[] =
    "INSERT INTO collector_stat (day, name, value) VALUES (?,?,?)"
    " ON CONFLICT (day, name) DO UPDATE SET"
    " value = collector_stat.value + excluded.value";

/*
 * The longest wait for one answer from PostgreSQL, beyond the server's
 * own lock_timeout (busy_timeout_ms): after it the server counts as
 * hung, the connection is dropped and the flush retried (db.h).
 */
#define REPLY_MARGIN_MS	5000

/*
 * A receiver whose table is full waits for a busy flusher, which will
 * hand it an empty table soon, but not for one stuck on the database:
 * after this long it counts the datagram as dropped instead.
 */
#define STALL_MS	1000

/*
 * Keys per transaction, about: a transaction holds the locks of the rows
 * it wrote until it ends, and other collectors that write the same rows
 * wait meanwhile; a tally that grew large during an outage must not
 * keep them waiting past their lock timeout.
 */
#define CHUNK_ITEMS	1000

/* A key to write, in the order of flush_item_cmp(). */
struct flush_item {
	struct tally_entry *e;
	const struct tally_entry *policy;	/* e itself for a policy */
};

/* One receiver thread's pair of tallies. */
struct lane {
	struct tally *work;	/* handed over, being written; NULL when idle */
	struct tally *spare;	/* empty, for the receiver */
};

struct flusher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct lane *lanes;
	int nlanes;
	struct tally **batch;	/* the flusher's own: tallies being written */
	int *batch_lane;
	int failing;
	int stop;		/* exit once idle */
	int stopping;		/* shutting down: give up retries after give_up_ms */
	long retry_ms;
	long give_up_ms;	/* when stopping: stop retrying after this */
	struct timespec stop_at;	/* when stopping began */
	struct timespec progress_at;	/* last chunk committed */
	int lost;		/* a tally was given up */
	struct timespec busy_since;	/* last handoff or start of a batch */
	/* The rest belongs to the flusher thread (and start/stop). */
	char *target;		/* file or URI; messages use db_name() */
	long busy_timeout_ms;
	struct db *db;		/* NULL until opened: a server may be down */
	struct db_stmt *st_policy, *st_failure, *st_stat;
	struct flush_item *items;	/* the batch's keys, sorted */
	size_t items_cap, nitems;
	size_t items_done;	/* written and committed, from the start */
	int batch_done;		/* counters too: the batch is written */
	int stat_order[STAT__COUNT], nstats;	/* counters by name */
	char day[DAY_LEN];
	uint64_t flush_errors;	/* failed attempts not written yet */
	int in_doubt;		/* the last COMMIT failed: did it commit? */
	size_t doubt_end;	/* the chunk it was for ended there */
	int doubt_last;		/* and was the last, with the counters */
	uint64_t doubt_errors;	/* flush_errors that COMMIT carried */
	struct buf json;
	struct ratelimit rl;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
bind_str(struct db_stmt *st, int i, const struct tally_str *s)
{
	return db_bind_text_static(st, i, s->p, (long)s->len);
}

/* Upserts a policy row and keeps its id for the failures under it. */
static int
write_policy(struct flusher *f, struct tally_entry *e)
{
	struct tally_policy_key k;
	struct db_stmt *st = f->st_policy;
	size_t mx_off;
	int rc;

	tally_policy_key(e, &k);
	buf_reset(&f->json);
	if (list_json(&f->json, k.strings, k.nstrings) != 0)
		return -1;
	mx_off = f->json.len;
	if (list_json(&f->json, k.mx, k.nmx) != 0)
		return -1;
	if (bind_str(st, 1, &k.day) != 0 || bind_str(st, 2, &k.report_domain) != 0 ||
	    bind_str(st, 3, &k.record) != 0 || db_bind_int64(st, 4, k.type) != 0 ||
	    bind_str(st, 5, &k.policy_domain) != 0 ||
	    db_bind_text_static(st, 6, f->json.data, (long)mx_off) != 0 ||
	    db_bind_text_static(st, 7, f->json.data + mx_off,
	    (long)(f->json.len - mx_off)) != 0 ||
	    db_bind_int64(st, 8, (int64_t)e->count_a) != 0 ||
	    db_bind_int64(st, 9, (int64_t)e->count_b) != 0)
		return -1;
	rc = db_step(st);
	if (rc == DB_ROW)
		e->db_id = db_column_int64(st, 0);
	rc = (rc == DB_ROW && db_step(st) == DB_DONE) ? 0 : -1;
	db_reset(st);
	return rc;
}

static int
write_failure(struct flusher *f, const struct flush_item *it)
{
	struct tally_failure_key k;
	struct db_stmt *st = f->st_failure;

	tally_failure_key(it->e, &k);
	if (db_bind_int64(st, 1, it->policy->db_id) != 0 ||
	    db_bind_int64(st, 2, k.code) != 0 ||
	    bind_str(st, 3, &k.sending_ip) != 0 || bind_str(st, 4, &k.mx_hostname) != 0 ||
	    bind_str(st, 5, &k.mx_helo) != 0 || bind_str(st, 6, &k.receiving_ip) != 0 ||
	    bind_str(st, 7, &k.additional_info) != 0 || bind_str(st, 8, &k.reason) != 0 ||
	    db_bind_int64(st, 9, (int64_t)it->e->count_a) != 0)
		return -1;
	return db_step_done(st);
}

/*
 * The collector counters of the batch, summed, in name order; with the
 * keys written (flushed_keys) and the failed attempts so far.
 */
static int
write_stats(struct flusher *f, struct tally **ts, int n, size_t keys,
    uint64_t flush_errors)
{
	day_format(time(NULL), f->day);
	for (int k = 0; k < f->nstats; k++) {
		int s = f->stat_order[k];
		uint64_t v = 0;

		for (int i = 0; i < n; i++)
			v += ts[i]->stats[s];
		if (s == STAT_FLUSHED_KEYS)
			v += keys;
		if (s == STAT_FLUSH_ERRORS)
			v += flush_errors;
		if (v == 0)
			continue;
		if (db_bind_text_static(f->st_stat, 1, f->day, -1) != 0 ||
		    db_bind_text_static(f->st_stat, 2, tally_stat_name(s), -1) != 0 ||
		    db_bind_int64(f->st_stat, 3, (int64_t)v) != 0 ||
		    db_step_done(f->st_stat) != 0)
			return -1;
	}
	return 0;
}

static int
key_cmp(const struct tally_entry *a, const struct tally_entry *b)
{
	int c = memcmp(a->key, b->key, a->keylen < b->keylen ? a->keylen : b->keylen);

	return c != 0 ? c : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

/*
 * The order rows are written in: by policy key, each policy before its
 * failures, those by their own key; the same on every host (of one byte
 * order), whatever order the datagrams came in. Collectors that upsert
 * the same rows of one PostgreSQL database then take the row locks in
 * the same order and wait for each other instead of deadlocking.
 */
static int
flush_item_cmp(const void *pa, const void *pb)
{
	const struct flush_item *a = pa, *b = pb;
	int a_policy = a->e == a->policy, b_policy = b->e == b->policy;
	int c = key_cmp(a->policy, b->policy);

	if (c != 0)
		return c;
	if (a_policy || b_policy)
		return b_policy - a_policy;
	return key_cmp(a->e, b->e);
}

static size_t
batch_keys(struct tally **ts, int n)
{
	size_t keys = 0;

	for (int i = 0; i < n; i++)
		keys += tally_nkeys(ts[i]);
	return keys;
}

/* The keys of ts[0..n) into f->items, sorted; returns how many. */
static size_t
sort_items(struct flusher *f, struct tally **ts, int n)
{
	size_t total = batch_keys(ts, n), k = 0;

	if (total > f->items_cap) {
		f->items = xreallocarray(f->items, total, sizeof(*f->items));
		f->items_cap = total;
	}
	for (int i = 0; i < n; i++) {
		size_t nk = tally_nkeys(ts[i]);

		for (size_t j = 0; j < nk; j++) {
			struct tally_entry *e = tally_entry(ts[i], j);

			f->items[k].e = e;
			f->items[k++].policy = tally_entry_is_policy(e) ? e :
			    tally_entry(ts[i], e->policy);
		}
	}
	/* A batch of rejected datagrams only has no keys, and items is NULL. */
	if (k > 1)
		qsort(f->items, k, sizeof(*f->items), flush_item_cmp);
	return k;
}

static int
stat_name_cmp(const void *pa, const void *pb)
{
	return strcmp(tally_stat_name(*(const int *)pa), tally_stat_name(*(const int *)pb));
}

/* Opens the database and prepares the statements, once. */
static int
open_db(struct flusher *f, char *err, size_t errlen)
{
	if (f->db != NULL)
		return 0;
	if (db_open(f->target, "outbound", f->busy_timeout_ms, &f->db, err, errlen) != 0)
		return -1;
	db_set_timeout_ms(f->db, f->busy_timeout_ms + REPLY_MARGIN_MS);
	if (db_prepare(f->db, SQL_POLICY, &f->st_policy) != 0 ||
	    db_prepare(f->db, SQL_FAILURE, &f->st_failure) != 0 ||
	    db_prepare(f->db, SQL_STAT, &f->st_stat) != 0) {
		snprintf(err, errlen, "%s: %s", db_name(f->db), db_errmsg(f->db));
		db_close(f->db);	/* and the statements prepared */
		f->db = NULL;
		f->st_policy = f->st_failure = f->st_stat = NULL;
		return -1;
	}
	return 0;
}

/*
 * Where the chunk that starts at item `start` ends: CHUNK_ITEMS on, at
 * the next policy that is not the same key as the one before it, so
 * that each chunk upserts the policies whose failures it writes (and
 * learns their ids there). Chunks are for PostgreSQL, where collectors
 * on other hosts wait for our row locks; SQLite has one writer and
 * takes the whole batch in one transaction, so that after a crash the
 * counters (sessions...) always match the rows they count.
 */
static size_t
chunk_end(const struct flusher *f, size_t start)
{
	size_t j = start + CHUNK_ITEMS;

	if (j >= f->nitems || (f->db != NULL && db_engine(f->db) == DB_SQLITE))
		return f->nitems;
	while (j < f->nitems && !(f->items[j].e == f->items[j].policy &&
	    key_cmp(f->items[j].policy, f->items[j - 1].policy) != 0))
		j++;
	return j;
}

/*
 * After a COMMIT failed: whether it went through after all (a connection
 * lost on the way, db_commit_outcome()). 1 yes: that chunk is written;
 * 0 no: write it again; -1 not known yet.
 */
static int
settle_doubt(struct flusher *f, char *err, size_t errlen)
{
	if (!f->in_doubt)
		return 0;
	switch (db_commit_outcome(f->db)) {
	case DB_COMMITTED:
		f->in_doubt = 0;
		f->items_done = f->doubt_end;
		if (f->doubt_last) {
			f->flush_errors -= f->doubt_errors;
			f->batch_done = 1;
		}
		return 1;
	case DB_NOT_COMMITTED:
		f->in_doubt = 0;
		return 0;
	default:
		snprintf(err, errlen, "%s: whether the last commit went through is "
		    "not known yet: %s", db_name(f->db), db_errmsg(f->db));
		return -1;
	}
}

/*
 * One try at writing what is left of the batch ts[0..n): the sorted keys
 * from items_done on, a chunk per transaction, the counters with the
 * last chunk. When a chunk fails it is rolled back and the next try
 * starts with it again; a chunk whose COMMIT failed is settled first
 * (settle_doubt), so that nothing is ever written twice.
 */
static int
write_attempt(struct flusher *f, struct tally **ts, int n, char *err, size_t errlen)
{
	if (open_db(f, err, errlen) != 0)
		return -1;
	if (settle_doubt(f, err, errlen) < 0)
		return -1;
	while (!f->batch_done) {
		size_t end = chunk_end(f, f->items_done);
		int last = end == f->nitems;
		uint64_t flush_errors = f->flush_errors;

		if (db_begin(f->db) != 0)
			goto fail;
		for (size_t i = f->items_done; i < end; i++) {
			const struct flush_item *it = &f->items[i];

			if ((it->e == it->policy ? write_policy(f, it->e) :
			    write_failure(f, it)) != 0)
				goto fail;
		}
		if (last && write_stats(f, ts, n, f->nitems, flush_errors) != 0)
			goto fail;
		if (db_commit(f->db) != 0) {
			f->in_doubt = 1;
			f->doubt_end = end;
			f->doubt_last = last;
			f->doubt_errors = flush_errors;
			goto fail;
		}
		f->items_done = end;
		pthread_mutex_lock(&f->mu);
		clock_gettime(CLOCK_MONOTONIC, &f->progress_at);
		pthread_mutex_unlock(&f->mu);
		if (last) {
			f->flush_errors -= flush_errors;
			f->batch_done = 1;
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", db_name(f->db), db_errmsg(f->db));
	db_rollback(f->db);
	return -1;
}

/*
 * The tallies ts[0..n), sorted into f->items. A transaction PostgreSQL
 * chose to fail (deadlock with another writer, serialization) is tried
 * again at once, for as long as a lock wait may take; one that waited
 * that long for a lock is not: the next retry comes after retry_ms.
 */
static int
write_batch(struct flusher *f, struct tally **ts, int n)
{
	char err[512];
	unsigned long long sessions = 0;
	long long start = now_ms();

	for (;;) {
		if (write_attempt(f, ts, n, err, sizeof(err)) == 0)
			return 0;
		f->flush_errors++;
		if (f->db == NULL || f->in_doubt || db_errclass(f->db) != DB_ERR_BUSY ||
		    now_ms() - start >= f->busy_timeout_ms)
			break;
	}
	for (int i = 0; i < n; i++)
		sessions += tally_nsessions(ts[i]);
	log_limited(&f->rl, "flush of %zu keys (%llu sessions) failed, "
	    "keeping them in memory and retrying: %s", batch_keys(ts, n),
	    sessions, err);
	return -1;
}

/* Under the lock: the lanes with a tally handed over go into the batch. */
static int
take_batch(struct flusher *f)
{
	int n = 0;

	for (int i = 0; i < f->nlanes; i++) {
		if (f->lanes[i].work != NULL) {
			f->batch[n] = f->lanes[i].work;
			f->batch_lane[n++] = i;
		}
	}
	return n;
}

/* Under the lock: the written (or given up) tallies go back as spares. */
static void
return_batch(struct flusher *f, int n)
{
	for (int i = 0; i < n; i++) {
		struct lane *l = &f->lanes[f->batch_lane[i]];

		l->work = NULL;
		/* At stop the last tally arrives while the spare is still here. */
		if (l->spare != NULL)
			tally_free(f->batch[i]);
		else
			l->spare = f->batch[i];
	}
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Stopping, and give_up_ms after the stop request: no more tries. It
 * counts from the request, for all tallies together: the one failing
 * at the stop and the last ones must not each get it. A database that
 * is slow but takes our chunks is not failing: the time counts from the
 * last chunk it committed, if that came after the request.
 */
static int
giving_up(struct flusher *f)
{
	struct timespec now, from;
	long elapsed;
	int give_up;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&f->mu);
	from = f->stop_at;
	if (f->progress_at.tv_sec > from.tv_sec || (f->progress_at.tv_sec == from.tv_sec &&
	    f->progress_at.tv_nsec > from.tv_nsec))
		from = f->progress_at;
	elapsed = (now.tv_sec - from.tv_sec) * 1000 + (now.tv_nsec - from.tv_nsec) / 1000000;
	give_up = f->stopping && elapsed >= f->give_up_ms;
	pthread_mutex_unlock(&f->mu);
	return give_up;
}

static void *
flusher_main(void *arg)
{
	struct flusher *f = arg;

	/*
	 * Lowest priority for this thread only (Linux: per-thread nice).
	 * It inherits SCHED_FIFO from a real-time receiver: leave it first.
	 */
	struct sched_param sp = { .sched_priority = 0 };
	(void)pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	pthread_mutex_lock(&f->mu);
	for (;;) {
		int n;

		while ((n = take_batch(f)) == 0 && !f->stop)
			pthread_cond_wait(&f->cv, &f->mu);
		if (n == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &f->busy_since);
		/*
		 * A batch was given up at stop: the database is failing and
		 * the give-up time has passed, so the last tallies are not
		 * tried again (each try may take the reply timeout).
		 */
		int skip = f->lost;
		pthread_mutex_unlock(&f->mu);
		f->nitems = sort_items(f, f->batch, n);
		f->items_done = 0;
		f->batch_done = 0;

		int ok = !skip && write_batch(f, f->batch, n) == 0;
		if (!ok && !skip) {
			pthread_mutex_lock(&f->mu);
			f->failing = 1;
			pthread_cond_broadcast(&f->cv);
			pthread_mutex_unlock(&f->mu);
			while (!giving_up(f)) {
				sleep_ms(f->retry_ms);
				if (write_batch(f, f->batch, n) == 0) {
					ok = 1;
					log_info("database writable again; flushed "
					    "%zu keys", batch_keys(f->batch, n));
					break;
				}
			}
		}
		if (!ok) {
			unsigned long long sessions = 0;

			for (int i = 0; i < n; i++)
				sessions += tally_nsessions(f->batch[i]);
			log_warnx("giving up: %llu sessions in %zu keys were not "
			    "written%s", sessions, batch_keys(f->batch, n),
			    f->in_doubt ? " (unless the last commit, whose answer "
			    "was lost, went through)" : "");
			f->in_doubt = 0;
		}
		for (int i = 0; i < n; i++)
			tally_reset(f->batch[i]);
		pthread_mutex_lock(&f->mu);
		if (!ok)
			f->lost = 1;
		f->failing = 0;
		return_batch(f, n);
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

struct flusher *
flusher_start(const char *db_path, long busy_timeout_ms, long retry_ms,
    size_t max_keys, size_t max_key_bytes, uint64_t seed, int nlanes,
    char *err, size_t errlen)
{
	struct flusher *f = xcalloc(1, sizeof(*f));
	struct ratelimit rl = RATELIMIT_INIT(5, 60);
	pthread_condattr_t ca;

	f->target = xstrdup(db_path);
	f->busy_timeout_ms = busy_timeout_ms;
	/* A PostgreSQL server that is down now is tried again at each flush. */
	if (open_db(f, err, errlen) != 0 && !db_target_is_pg(db_path))
		goto fail;
	for (int i = 0; i < STAT__COUNT; i++)
		if (tally_stat_name(i) != NULL)
			f->stat_order[f->nstats++] = i;
	qsort(f->stat_order, (size_t)f->nstats, sizeof(f->stat_order[0]), stat_name_cmp);
	buf_init(&f->json, 64u * 1024 * 1024);
	f->rl = rl;
	f->retry_ms = retry_ms;
	f->nlanes = nlanes;
	f->lanes = xcalloc((size_t)nlanes, sizeof(*f->lanes));
	f->batch = xcalloc((size_t)nlanes, sizeof(*f->batch));
	f->batch_lane = xcalloc((size_t)nlanes, sizeof(*f->batch_lane));
	for (int i = 0; i < nlanes; i++)
		f->lanes[i].spare = tally_new(max_keys, max_key_bytes, seed);
	pthread_mutex_init(&f->mu, NULL);
	/* Monotonic, for the timed wait of flusher_wait_idle(). */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&f->thread, NULL, flusher_main, f)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(errno));
		goto fail;
	}
	return f;
fail:
	for (int i = 0; f->lanes != NULL && i < nlanes; i++)
		tally_free(f->lanes[i].spare);
	free(f->lanes);
	free(f->batch);
	free(f->batch_lane);
	buf_free(&f->json);
	db_close(f->db);
	free(f->target);
	free(f);
	return NULL;
}

int
flusher_handoff(struct flusher *f, int lane, struct tally **cur)
{
	struct lane *l = &f->lanes[lane];
	int taken = 0;

	pthread_mutex_lock(&f->mu);
	if (l->work == NULL && l->spare != NULL) {
		l->work = *cur;
		*cur = l->spare;
		l->spare = NULL;
		taken = 1;
		clock_gettime(CLOCK_MONOTONIC, &f->busy_since);
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return taken;
}

int
flusher_wait_idle(struct flusher *f, int lane)
{
	struct lane *l = &f->lanes[lane];
	struct timespec until;
	int idle;

	pthread_mutex_lock(&f->mu);
	/* Not for a flusher stuck on the database (a server that hangs). */
	until = f->busy_since;
	until.tv_sec += STALL_MS / 1000;
	until.tv_nsec += (STALL_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (l->work != NULL && !f->failing &&
	    pthread_cond_timedwait(&f->cv, &f->mu, &until) != ETIMEDOUT)
		;
	idle = l->work == NULL;
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
flusher_stop(struct flusher *f, struct tally **last, int nlast, long give_up_ms)
{
	int lost;

	pthread_mutex_lock(&f->mu);
	f->give_up_ms = give_up_ms;
	clock_gettime(CLOCK_MONOTONIC, &f->stop_at);
	f->stopping = 1;
	for (int i = 0; i < nlast && i < f->nlanes; i++) {
		if (last[i] == NULL || tally_is_empty(last[i]))
			continue;
		while (f->lanes[i].work != NULL)
			pthread_cond_wait(&f->cv, &f->mu);
		f->lanes[i].work = last[i];
		last[i] = NULL;
		pthread_cond_broadcast(&f->cv);
	}
	f->stop = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	lost = f->lost;
	for (int i = 0; i < f->nlanes; i++)
		tally_free(f->lanes[i].spare);
	for (int i = 0; i < nlast; i++)
		tally_free(last[i]);
	free(f->lanes);
	free(f->batch);
	free(f->batch_lane);
	db_close(f->db);	/* and its statements */
	free(f->items);
	free(f->target);
	buf_free(&f->json);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
	return lost ? -1 : 0;
}
