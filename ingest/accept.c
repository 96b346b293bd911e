/*
 * NAME
 *	accept - take one received report: sniff, inflate, parse, store
 * DESCRIPTION
 *	See accept.h.
 *
 *	Two locks: mu guards the database connection, cnt_mu the counters
 *	in memory (taken alone, or inside mu, never the other way round),
 *	so that counting a request never waits for a commit.
 *
 *	The writer thread (acceptor_start_writer()) takes
 *	every job waiting, up to MAX_BATCH, and stores them in one
 *	transaction: at a few thousand reports a second the commit (WAL
 *	frames, and now and then a checkpoint with fdatasync) cost more
 *	than the inserts, and a batch shares the commit and the pages its
 *	reports touch. When one report fails, the batch is rolled back and
 *	each report stored again in a transaction of its own, so that only
 *	the failing one fails; a failing commit fails the whole batch.
 *	A duplicate is no failure (inbound.h), so on PostgreSQL, where
 *	an error spoils the rest of the transaction, it never costs the
 *	batch.
 *
 *	On SQLite the writer's connection checkpoints every
 *	CHECKPOINT_PAGES (40 MB of WAL) instead of SQLite's 1000: pages
 *	written again and again (index interior pages, the last leaf of
 *	each table) are then copied to the database once per checkpoint,
 *	not ten times; that was a sixth of the writer's time.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "accept.h"
#include "buf.h"
#include "gz.h"
#include "inbound.h"
#include "log.h"
#include "mem.h"
#include "rparse.h"

#define MAX_COUNTERS 64
#define COUNTER_FLUSH_S 1
#define MAX_BATCH 256
#define CHECKPOINT_PAGES "10000"	/* text: it goes into a PRAGMA */
/* A PostgreSQL server's time to answer beyond its lock wait. */
#define DB_REPLY_MARGIN_MS 30000L

/*
 * Counters are summed in memory and written at most once a second (and
 * at close), inside a batch's transaction or in one of their own: a
 * write per request would double the database work of every report.
 */
struct counter {
	char name[48];
	int64_t delta;
	int64_t flushing;	/* part of delta in a transaction not yet committed */
};

/* A parsed report waiting for the writer; owns everything it points to. */
struct accept_job {
	struct rp_report r;
	struct buf json;	/* the text parsed (inflated, or the body) */
	char *raw;
	size_t raw_len;
	char *peer, *dkim, *submitter;
	struct accept_meta meta;
	accept_done_fn *done;
	void *arg;
	enum accept_result result;
	char why[256];
	struct accept_job *next;
};

struct acceptor {
	pthread_mutex_t mu;		/* db */
	struct db *db;
	struct accept_limits lim;
	pthread_mutex_t log_mu;		/* rl: the limiter is not thread-safe */
	struct ratelimit rl;
	pthread_mutex_t cnt_mu;		/* counters, flushed_at */
	struct counter counters[MAX_COUNTERS];
	size_t ncounters;
	time_t flushed_at;
	pthread_mutex_t q_mu;		/* queue, writer state */
	pthread_cond_t q_cv;
	struct accept_job *q_head, **q_tail;
	pthread_t writer;
	int writer_running, writer_stop;
};

static const char *const result_names[] = {
	[ACCEPT_STORED] = "stored",
	[ACCEPT_DUPLICATE] = "duplicate",
	[ACCEPT_MALFORMED] = "malformed",
	[ACCEPT_TOO_BIG] = "too_big",
	[ACCEPT_UNSUPPORTED] = "unsupported",
	[ACCEPT_FAULT] = "fault",
};

const char *
accept_result_name(enum accept_result r)
{
	return (unsigned)r < sizeof(result_names) / sizeof(*result_names) ?
	    result_names[r] : "unknown";
}

struct acceptor *
acceptor_open(const struct accept_limits *lim, const char *db_path,
    long busy_timeout_ms, char *err, size_t errlen)
{
	struct acceptor *a = xcalloc(1, sizeof(*a));
	struct ratelimit rl = RATELIMIT_INIT(10, 60);

	if (db_open(db_path, "inbound", busy_timeout_ms, &a->db, err, errlen) != 0) {
		free(a);
		return NULL;
	}
	/* A hung PostgreSQL server must not hold the writer for good. */
	db_set_timeout_ms(a->db, busy_timeout_ms + DB_REPLY_MARGIN_MS);
	a->lim = *lim;
	a->rl = rl;
	a->q_tail = &a->q_head;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->log_mu, NULL);
	pthread_mutex_init(&a->cnt_mu, NULL);
	pthread_mutex_init(&a->q_mu, NULL);
	pthread_cond_init(&a->q_cv, NULL);
	return a;
}

static void
warn_limited(struct acceptor *a, const char *what, const char *why)
{
	pthread_mutex_lock(&a->log_mu);
	log_limited(&a->rl, "%s: %s", what, why);
	pthread_mutex_unlock(&a->log_mu);
}

static int
by_name(const void *x, const void *y)
{
	const struct counter *const *a = x, *const *b = y;

	return strcmp((*a)->name, (*b)->name);
}

/*
 * Under a->mu, inside a transaction: writes what was counted so far, in
 * name order, so that processes sharing a PostgreSQL database lock the
 * counter rows in one order and never deadlock on them.
 */
static int
write_counters(struct acceptor *a)
{
	struct counter *order[MAX_COUNTERS];
	size_t n;
	int rc = 0;

	pthread_mutex_lock(&a->cnt_mu);
	n = a->ncounters;
	for (size_t i = 0; i < n; i++) {
		a->counters[i].flushing = a->counters[i].delta;
		order[i] = &a->counters[i];
	}
	pthread_mutex_unlock(&a->cnt_mu);
	qsort(order, n, sizeof(*order), by_name);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (order[i]->flushing != 0 &&
		    inbound_count(a->db, order[i]->name, order[i]->flushing) != 0)
			rc = -1;
	return rc;
}

/* After the transaction of write_counters(): committed or not. */
static void
counters_written(struct acceptor *a, int committed)
{
	pthread_mutex_lock(&a->cnt_mu);
	for (size_t i = 0; i < a->ncounters; i++) {
		if (committed)
			a->counters[i].delta -= a->counters[i].flushing;
		a->counters[i].flushing = 0;
	}
	if (committed)
		a->flushed_at = time(NULL);
	pthread_mutex_unlock(&a->cnt_mu);
}

static int
flush_due(struct acceptor *a)
{
	int due;

	pthread_mutex_lock(&a->cnt_mu);
	due = time(NULL) - a->flushed_at >= COUNTER_FLUSH_S;
	pthread_mutex_unlock(&a->cnt_mu);
	return due;
}



/* Under a->mu: the counters in a transaction of their own. */
static void
flush_counters(struct acceptor *a)
{
	int ok;

	if (db_begin(a->db) != 0) {
		warn_limited(a, "counters not written yet", db_errmsg(a->db));
		return;
	}
	ok = write_counters(a) == 0 && (db_commit(a->db) == 0 ||
	    db_commit_outcome(a->db) == DB_COMMITTED);
	if (!ok) {
		warn_limited(a, "counters not written yet", db_errmsg(a->db));
		db_rollback(a->db);
	}
	counters_written(a, ok);
}

static void
bump(struct acceptor *a, const char *name, int64_t n)
{
	size_t i;

	pthread_mutex_lock(&a->cnt_mu);
	for (i = 0; i < a->ncounters; i++)
		if (strcmp(a->counters[i].name, name) == 0)
			break;
	if (i == a->ncounters && i < MAX_COUNTERS) {
		snprintf(a->counters[i].name, sizeof(a->counters[i].name), "%s", name);
		a->ncounters++;
	}
	if (i < a->ncounters)
		a->counters[i].delta += n;
	pthread_mutex_unlock(&a->cnt_mu);
}

void
acceptor_count(struct acceptor *a, const char *name)
{
	bump(a, name, 1);
	/* Whoever holds the database (the writer) flushes as well. */
	if (flush_due(a) && pthread_mutex_trylock(&a->mu) == 0) {
		if (flush_due(a))
			flush_counters(a);
		pthread_mutex_unlock(&a->mu);
	}
}

static void
job_free(struct accept_job *j)
{
	rp_free(&j->r);
	buf_free(&j->json);
	free(j->raw);
	free(j->peer);
	free(j->dkim);
	free(j->submitter);
	free(j);
}

static void
job_meta(const struct accept_job *j, struct inbound_meta *im)
{
	memset(im, 0, sizeof(*im));
	im->source = j->meta.source;
	im->peer = j->meta.peer;
	im->dkim = j->meta.dkim;
	im->submitter = j->meta.submitter;
	im->raw = j->raw;
	im->raw_len = j->raw_len;
	im->json = j->json.data ? j->json.data : "";
	im->json_len = j->json.len;
}

/* Under a->mu: after a failure in a batch, each report on its own. */
static void
store_one_by_one(struct acceptor *a, struct accept_job *jobs)
{
	struct inbound_meta im;
	int dup;

	for (struct accept_job *j = jobs; j != NULL; j = j->next) {
		job_meta(j, &im);
		if (inbound_store(a->db, &j->r, &im, &dup, j->why, sizeof(j->why)) != 0)
			j->result = ACCEPT_FAULT;
		else
			j->result = dup ? ACCEPT_DUPLICATE : ACCEPT_STORED;
	}
}

/* Under a->mu: one batch in one transaction; sets each job's result. */
static void
store_batch(struct acceptor *a, struct accept_job *jobs)
{
	struct inbound_meta im;
	int dup, ok;

	if (db_begin(a->db) != 0) {
		for (struct accept_job *j = jobs; j != NULL; j = j->next) {
			j->result = ACCEPT_FAULT;
			snprintf(j->why, sizeof(j->why), "%s", db_errmsg(a->db));
		}
		return;
	}
	for (struct accept_job *j = jobs; j != NULL; j = j->next) {
		job_meta(j, &im);
		if (inbound_store_tx(a->db, &j->r, &im, &dup, j->why, sizeof(j->why)) != 0) {
			db_rollback(a->db);
			if (jobs->next != NULL)
				store_one_by_one(a, jobs);
			else
				j->result = ACCEPT_FAULT;
			return;
		}
		j->result = dup ? ACCEPT_DUPLICATE : ACCEPT_STORED;
	}
	ok = !flush_due(a) || write_counters(a) == 0;
	/*
	 * A PostgreSQL connection lost during the COMMIT may have committed
	 * all the same: then the batch is stored and its counters written.
	 * While that is not known the reports fail (their senders try again
	 * and hear "duplicate" if it was stored after all).
	 */
	if (ok && db_commit(a->db) != 0 && db_commit_outcome(a->db) != DB_COMMITTED)
		ok = -1;
	if (ok != 1) {
		if (ok == -1)
			warn_limited(a, "batch not stored", db_errmsg(a->db));
		db_rollback(a->db);
		for (struct accept_job *j = jobs; j != NULL; j = j->next)
			if (j->result != ACCEPT_FAULT) {
				j->result = ACCEPT_FAULT;
				snprintf(j->why, sizeof(j->why), "commit failed: %s",
				    db_errmsg(a->db));
			}
		ok = 0;
	}
	counters_written(a, ok);
}

static const char *
result_counter(enum accept_result r)
{
	return r == ACCEPT_STORED ? "stored" : r == ACCEPT_DUPLICATE ?
	    "duplicates" : "store_errors";
}

static void *
writer(void *arg)
{
	struct acceptor *a = arg;
	struct accept_job *jobs, **tail, *j, *next;

	pthread_mutex_lock(&a->q_mu);
	for (;;) {
		while (a->q_head == NULL && !a->writer_stop)
			pthread_cond_wait(&a->q_cv, &a->q_mu);
		if (a->q_head == NULL)
			break;
		jobs = a->q_head;
		tail = &jobs->next;
		for (int n = 1; *tail != NULL && n < MAX_BATCH; n++)
			tail = &(*tail)->next;
		a->q_head = *tail;
		*tail = NULL;
		if (a->q_head == NULL)
			a->q_tail = &a->q_head;
		pthread_mutex_unlock(&a->q_mu);

		pthread_mutex_lock(&a->mu);
		store_batch(a, jobs);
		pthread_mutex_unlock(&a->mu);
		for (j = jobs; j != NULL; j = next) {
			next = j->next;
			bump(a, result_counter(j->result), 1);
			if (j->result == ACCEPT_STORED && *j->r.repairs && log_debug_enabled())
				log_debug("report %s from %s stored with repairs: %s",
				    j->r.report_id, j->r.org, j->r.repairs);
			j->done(j->arg, j->result, j->why);
			job_free(j);
		}
		pthread_mutex_lock(&a->q_mu);
	}
	pthread_mutex_unlock(&a->q_mu);
	return NULL;
}

void
acceptor_flush(struct acceptor *a)
{
	pthread_mutex_lock(&a->mu);
	flush_counters(a);
	pthread_mutex_unlock(&a->mu);
}

void
acceptor_close(struct acceptor *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->q_mu);
	a->writer_stop = 1;
	pthread_cond_signal(&a->q_cv);
	pthread_mutex_unlock(&a->q_mu);
	if (a->writer_running)
		pthread_join(a->writer, NULL);	/* after the queue is empty */
	pthread_mutex_lock(&a->mu);
	flush_counters(a);
	pthread_mutex_unlock(&a->mu);
	db_close(a->db);
	pthread_cond_destroy(&a->q_cv);
	pthread_mutex_destroy(&a->q_mu);
	pthread_mutex_destroy(&a->cnt_mu);
	pthread_mutex_destroy(&a->log_mu);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* The registered types and what reporters use instead (PROTOCOL.md 6). */
static int
ours(const char *content_type)
{
	static const char *const types[] = {
		"application/tlsrpt+gzip", "application/tlsrpt+json",
		"application/gzip", "application/x-gzip", "application/json",
		"application/octet-stream", "text/plain", "",
	};
	size_t n = strcspn(content_type, "; \t");

	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
		if (strlen(types[i]) == n && strncasecmp(content_type, types[i], n) == 0)
			return 1;
	return 0;
}

static int
looks_like_json(const char *p, size_t len)
{
	size_t i = 0;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < len && p[i] == '{';
}

/* Parses json; ACCEPT_STORED with *r filled, or the refusal and its counter. */
static enum accept_result
parse_json(const struct accept_limits *al, const char *json, size_t len,
    struct rp_report *r, char *counter, size_t counterlen, char *why, size_t whylen)
{
	struct rp_limits lim;
	int rc;

	memset(&lim, 0, sizeof(lim));
	lim.max_depth = (size_t)al->max_json_depth;
	rc = rp_parse(json, len, &lim, r, why, whylen);
	if (rc == 0)
		return ACCEPT_STORED;
	snprintf(counter, counterlen, "rejected_%s", rp_error_name(rc));
	return rc == RP_TOO_BIG ? ACCEPT_TOO_BIG : ACCEPT_MALFORMED;
}

/* Parses json; 0 with *r filled, or the refusal (counted). */
static enum accept_result
parse(struct acceptor *a, const char *json, size_t len, struct rp_report *r,
    char *why, size_t whylen)
{
	char name[64];
	enum accept_result res;

	res = parse_json(&a->lim, json, len, r, name, sizeof(name), why, whylen);
	if (res != ACCEPT_STORED)
		acceptor_count(a, name);
	return res;
}

/* Logging is rate-limited per acceptor; the limiter is not thread-safe. */
static void
note(struct acceptor *a, enum accept_result r, const struct accept_meta *m,
    const char *why)
{
	if (r == ACCEPT_STORED || r == ACCEPT_DUPLICATE)
		return;
	pthread_mutex_lock(&a->log_mu);
	log_limited(&a->rl, "report from %s (%s) refused: %s: %s", m->peer,
	    m->source, accept_result_name(r), why);
	pthread_mutex_unlock(&a->log_mu);
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static struct accept_job *
job_new(const void *raw, size_t raw_len, const struct accept_meta *m)
{
	struct accept_job *j = xcalloc(1, sizeof(*j));

	j->raw = xmalloc(raw_len ? raw_len : 1);
	memcpy(j->raw, raw, raw_len);
	j->raw_len = raw_len;
	j->meta.source = m->source;	/* a literal */
	j->meta.peer = j->peer = dup_or_null(m->peer);
	j->meta.dkim = j->dkim = dup_or_null(m->dkim);
	j->meta.submitter = j->submitter = dup_or_null(m->submitter);
	return j;
}

/* The JSON text as it came (not gzip): copied into the job. */
static int
take_text(struct accept_job *j, const char *text, size_t len)
{
	buf_init(&j->json, len);
	return buf_append(&j->json, text, len);
}

enum accept_result
accept_decode(const struct accept_limits *lim, const void *body, size_t len,
    const char *content_type, struct buf *json, struct rp_report *r,
    char *counter, size_t counterlen, char *why, size_t whylen)
{
	snprintf(counter, counterlen, "%s", "");
	snprintf(why, whylen, "%s", "");
	if (gz_is_gzip(body, len)) {
		switch (gz_decompress(body, len, json)) {
		case GZ_OK:
			return parse_json(lim, json->data ? json->data : "", json->len,
			    r, counter, counterlen, why, whylen);
		case GZ_TOO_BIG:
			snprintf(why, whylen, "inflates to more than %zu bytes",
			    lim->max_inflated_bytes);
			snprintf(counter, counterlen, "rejected_too_big");
			return ACCEPT_TOO_BIG;
		default:
			snprintf(why, whylen, "broken gzip data");
			snprintf(counter, counterlen, "rejected_bad_gzip");
			return ACCEPT_MALFORMED;
		}
	}
	if (looks_like_json(body, len)) {
		/* As it came: the body's own cap applies, not the inflate cap. */
		buf_free(json);
		buf_init(json, len);
		if (buf_append(json, body, len) != 0) {
			snprintf(why, whylen, "cannot copy the body");
			return ACCEPT_FAULT;
		}
		return parse_json(lim, json->data, json->len, r, counter, counterlen,
		    why, whylen);
	}
	if (!ours(content_type)) {
		snprintf(why, whylen, "%s is neither gzip nor a JSON object", content_type);
		snprintf(counter, counterlen, "rejected_unsupported");
		return ACCEPT_UNSUPPORTED;
	}
	snprintf(why, whylen, "body is neither gzip nor a JSON object");
	snprintf(counter, counterlen, "rejected_not_report");
	return ACCEPT_MALFORMED;
}

struct accept_job *
acceptor_prepare(struct acceptor *a, const void *body, size_t len,
    const char *content_type, const struct accept_meta *m, enum accept_result *res,
    char *why, size_t whylen)
{
	struct accept_job *j = job_new(body, len, m);
	char counter[64];
	enum accept_result r;

	acceptor_count(a, "received");
	buf_init(&j->json, a->lim.max_inflated_bytes);
	r = accept_decode(&a->lim, body, len, content_type, &j->json, &j->r,
	    counter, sizeof(counter), why, whylen);
	if (r == ACCEPT_STORED)
		return j;
	if (*counter != '\0')
		acceptor_count(a, counter);
	note(a, r, m, why);
	*res = r;
	job_free(j);
	return NULL;
}

int
acceptor_start_writer(struct acceptor *a, char *err, size_t errlen)
{
	int rc;

	/* No meaning for PostgreSQL, which checkpoints by itself. */
	if (db_engine(a->db) == DB_SQLITE &&
	    db_exec(a->db, "PRAGMA wal_autocheckpoint = " CHECKPOINT_PAGES) != 0)
		log_warnx("%s: wal_autocheckpoint: %s", db_name(a->db), db_errmsg(a->db));
	if ((rc = pthread_create(&a->writer, NULL, writer, a)) != 0) {
		snprintf(err, errlen, "cannot start the database writer: %s", strerror(rc));
		return -1;
	}
	a->writer_running = 1;
	return 0;
}

void
acceptor_submit(struct acceptor *a, struct accept_job *j, accept_done_fn *done,
    void *arg)
{
	j->done = done;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&a->q_mu);
	*a->q_tail = j;
	a->q_tail = &j->next;
	pthread_cond_signal(&a->q_cv);
	pthread_mutex_unlock(&a->q_mu);
}

/* The synchronous path: a batch of one, in the caller's thread. */
enum accept_result
acceptor_store(struct acceptor *a, struct accept_job *j, char *why, size_t whylen)
{
	enum accept_result r;

	pthread_mutex_lock(&a->mu);
	store_batch(a, j);
	pthread_mutex_unlock(&a->mu);
	r = j->result;
	bump(a, result_counter(r), 1);
	snprintf(why, whylen, "%s", j->why);
	if (r == ACCEPT_STORED && *j->r.repairs && log_debug_enabled())
		log_debug("report %s from %s stored with repairs: %s", j->r.report_id,
		    j->r.org, j->r.repairs);
	note(a, r, &j->meta, why);
	job_free(j);
	return r;
}

enum accept_result
acceptor_body(struct acceptor *a, const void *body, size_t len,
    const char *content_type, const struct accept_meta *m, char *why,
    size_t whylen)
{
	enum accept_result r;
	struct accept_job *j;

	if ((j = acceptor_prepare(a, body, len, content_type, m, &r, why, whylen)) == NULL)
		return r;
	return acceptor_store(a, j, why, whylen);
}

enum accept_result
acceptor_json(struct acceptor *a, const char *json, size_t len, const void *raw,
    size_t rawlen, const struct accept_meta *m, char *why, size_t whylen)
{
	struct accept_job *j = job_new(raw, rawlen, m);
	enum accept_result r;

	*why = '\0';
	acceptor_count(a, "received");
	if (take_text(j, json, len) != 0) {
		snprintf(why, whylen, "cannot copy the report");
		r = ACCEPT_FAULT;
	} else {
		r = parse(a, j->json.data ? j->json.data : "", j->json.len, &j->r,
		    why, whylen);
	}
	if (r != ACCEPT_STORED) {
		note(a, r, m, why);
		job_free(j);
		return r;
	}
	return acceptor_store(a, j, why, whylen);
}
