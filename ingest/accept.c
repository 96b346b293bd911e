/*
 * NAME
 *	accept - take one received report: sniff, inflate, parse, store
 * DESCRIPTION
 *	See accept.h.
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
#include "store.h"

#define MAX_COUNTERS 64
#define COUNTER_FLUSH_S 1

/*
 * Counters are summed in memory and written at most once a second (and
 * at close) in one transaction: a write per request would double the
 * database work of every report.
 */
struct counter {
	char name[48];
	int64_t delta;
};

struct acceptor {
	pthread_mutex_t mu;
	sqlite3 *db;
	struct accept_limits lim;
	struct ratelimit rl;
	struct counter counters[MAX_COUNTERS];
	size_t ncounters;
	time_t flushed_at;
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

	if (store_open(db_path, "inbound", busy_timeout_ms, &a->db, err, errlen) != 0) {
		free(a);
		return NULL;
	}
	a->lim = *lim;
	a->rl = rl;
	pthread_mutex_init(&a->mu, NULL);
	return a;
}

/* Under a->mu. */
static void
flush_counters(struct acceptor *a, int force)
{
	time_t now = time(NULL);
	char err[128];

	if (!force && now - a->flushed_at < COUNTER_FLUSH_S)
		return;
	a->flushed_at = now;
	if (store_exec(a->db, "BEGIN IMMEDIATE", err, sizeof(err)) != 0) {
		log_limited(&a->rl, "counters not written yet: %s", err);
		return;
	}
	for (size_t i = 0; i < a->ncounters; i++)
		if (a->counters[i].delta != 0 &&
		    inbound_count(a->db, a->counters[i].name, a->counters[i].delta) != 0) {
			store_rollback(a->db);
			log_limited(&a->rl, "counters not written yet: %s",
			    sqlite3_errmsg(a->db));
			return;
		}
	if (store_exec(a->db, "COMMIT", err, sizeof(err)) != 0) {
		store_rollback(a->db);
		return;
	}
	for (size_t i = 0; i < a->ncounters; i++)
		a->counters[i].delta = 0;
}

void
acceptor_flush(struct acceptor *a)
{
	pthread_mutex_lock(&a->mu);
	flush_counters(a, 1);
	pthread_mutex_unlock(&a->mu);
}

void
acceptor_close(struct acceptor *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	flush_counters(a, 1);
	pthread_mutex_unlock(&a->mu);
	store_close(a->db);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

void
acceptor_count(struct acceptor *a, const char *name)
{
	size_t i;

	pthread_mutex_lock(&a->mu);
	for (i = 0; i < a->ncounters; i++)
		if (strcmp(a->counters[i].name, name) == 0)
			break;
	if (i == a->ncounters && i < MAX_COUNTERS) {
		snprintf(a->counters[i].name, sizeof(a->counters[i].name), "%s", name);
		a->ncounters++;
	}
	if (i < a->ncounters)
		a->counters[i].delta++;
	flush_counters(a, 0);
	pthread_mutex_unlock(&a->mu);
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

static enum accept_result
store(struct acceptor *a, const struct rp_report *r, const char *json,
    size_t jsonlen, const void *raw, size_t rawlen, const struct accept_meta *m,
    char *why, size_t whylen)
{
	struct inbound_meta im;
	int dup = 0, rc;

	memset(&im, 0, sizeof(im));
	im.source = m->source;
	im.peer = m->peer;
	im.dkim = m->dkim;
	im.submitter = m->submitter;
	im.raw = raw;
	im.raw_len = rawlen;
	im.json = json;
	im.json_len = jsonlen;
	pthread_mutex_lock(&a->mu);
	rc = inbound_store(a->db, r, &im, &dup, why, whylen);
	pthread_mutex_unlock(&a->mu);
	if (rc != 0) {
		acceptor_count(a, "store_errors");
		return ACCEPT_FAULT;
	}
	acceptor_count(a, dup ? "duplicates" : "stored");
	return dup ? ACCEPT_DUPLICATE : ACCEPT_STORED;
}

static enum accept_result
take_json(struct acceptor *a, const char *json, size_t len, const void *raw,
    size_t rawlen, const struct accept_meta *m, char *why, size_t whylen)
{
	struct rp_limits lim;
	struct rp_report r;
	enum accept_result res;
	char name[64];
	int rc;

	memset(&lim, 0, sizeof(lim));
	lim.max_depth = (size_t)a->lim.max_json_depth;
	rc = rp_parse(json, len, &lim, &r, why, whylen);
	if (rc != 0) {
		snprintf(name, sizeof(name), "rejected_%s", rp_error_name(rc));
		acceptor_count(a, name);
		return rc == RP_TOO_BIG ? ACCEPT_TOO_BIG : ACCEPT_MALFORMED;
	}
	res = store(a, &r, json, len, raw, rawlen, m, why, whylen);
	if (res == ACCEPT_STORED && *r.repairs && log_debug_enabled())
		log_debug("report %s from %s stored with repairs: %s", r.report_id,
		    r.org, r.repairs);
	rp_free(&r);
	return res;
}

/* Logging is rate-limited per acceptor; the limiter is not thread-safe. */
static void
note(struct acceptor *a, enum accept_result r, const struct accept_meta *m,
    const char *why)
{
	if (r == ACCEPT_STORED || r == ACCEPT_DUPLICATE)
		return;
	pthread_mutex_lock(&a->mu);
	log_limited(&a->rl, "report from %s (%s) refused: %s: %s", m->peer,
	    m->source, accept_result_name(r), why);
	pthread_mutex_unlock(&a->mu);
}

enum accept_result
acceptor_body(struct acceptor *a, const void *body, size_t len,
    const char *content_type, const struct accept_meta *m, char *why,
    size_t whylen)
{
	enum accept_result r;
	struct buf json;

	*why = '\0';
	acceptor_count(a, "received");
	buf_init(&json, a->lim.max_inflated_bytes);
	if (gz_is_gzip(body, len)) {
		switch (gz_decompress(body, len, &json)) {
		case GZ_OK:
			r = take_json(a, json.data ? json.data : "", json.len, body,
			    len, m, why, whylen);
			break;
		case GZ_TOO_BIG:
			snprintf(why, whylen, "inflates to more than %zu bytes",
			    a->lim.max_inflated_bytes);
			acceptor_count(a, "rejected_too_big");
			r = ACCEPT_TOO_BIG;
			break;
		default:
			snprintf(why, whylen, "broken gzip data");
			acceptor_count(a, "rejected_bad_gzip");
			r = ACCEPT_MALFORMED;
		}
	} else if (looks_like_json(body, len)) {
		r = take_json(a, body, len, body, len, m, why, whylen);
	} else if (!ours(content_type)) {
		snprintf(why, whylen, "%s is neither gzip nor JSON", content_type);
		acceptor_count(a, "rejected_unsupported");
		r = ACCEPT_UNSUPPORTED;
	} else {
		snprintf(why, whylen, "body is neither gzip nor JSON");
		acceptor_count(a, "rejected_not_report");
		r = ACCEPT_MALFORMED;
	}
	buf_free(&json);
	note(a, r, m, why);
	return r;
}

enum accept_result
acceptor_json(struct acceptor *a, const char *json, size_t len, const void *raw,
    size_t rawlen, const struct accept_meta *m, char *why, size_t whylen)
{
	enum accept_result r;

	*why = '\0';
	acceptor_count(a, "received");
	r = take_json(a, json, len, raw, rawlen, m, why, whylen);
	note(a, r, m, why);
	return r;
}
