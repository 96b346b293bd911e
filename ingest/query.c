/*
 * NAME
 *	query - read-only queries over the inbound and outbound databases
 * DESCRIPTION
 *	See query.h. This file holds the connections, the row-to-JSON
 *	conversion and the inbound list queries; query_report.c one report
 *	in full; query_out.c the outbound side, the status totals and the
 *	/metrics series.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "day.h"
#include "mem.h"
#include "query_int.h"

/* A PostgreSQL server's time to answer beyond its lock wait. */
#define REPLY_MARGIN_MS 30000L

struct conn {
	pthread_mutex_t mu;
	struct db *db;
	char *path;
	const char *set;	/* schema set: "inbound", "outbound" */
	int need_version;	/* the tables we read exist from this one */
};

struct query {
	struct conn side[2];
	long busy_timeout_ms;
};

/*
 * The filter every inbound list statement applies to report r and policy
 * p. CAST: PostgreSQL cannot tell a parameter's type from IS NULL alone.
 */
#define INBOUND_FILTER \
	" (CAST(:domain AS TEXT) IS NULL OR p.domain = :domain)" \
	" AND (CAST(:org AS TEXT) IS NULL OR r.org = :org)" \
	" AND (CAST(:since AS TEXT) IS NULL OR r.day >= :since)" \
	" AND (CAST(:until AS TEXT) IS NULL OR r.day <= :until)"

static const char SQL_DOMAINS[] =
    "SELECT p.domain AS policy_domain, count(DISTINCT r.id) AS reports,"
    " count(DISTINCT r.org) AS organizations, min(r.day) AS first_day,"
    " max(r.day) AS last_day,"
    " sum(p.successful_sessions) AS successful_sessions,"
    " sum(p.failed_sessions) AS failed_sessions,"
    QUERY_RATE("sum(p.successful_sessions)", "sum(p.failed_sessions)")
    " AS success_rate"
    " FROM policy p JOIN report r ON r.id = p.report WHERE" INBOUND_FILTER
    " GROUP BY p.domain ORDER BY p.domain NULLS FIRST LIMIT :limit";

/*
 * One row per report and policy domain (the last column), merged into
 * the report's policy_domains by collect_reports(): the engines share
 * no aggregate that builds a list. The limit applies to the reports.
 */
static const char SQL_REPORTS[] =
    "SELECT r.id AS id, r.org AS organization, r.report_id AS report_id,"
    " r.day AS day, r.start_at AS \"start:time\", r.end_at AS \"end:time\","
    " r.received_at AS \"received:time\", r.source AS source,"
    " r.submitter AS submitter, r.contact AS contact,"
    " NULL AS policy_domains, r.policies AS policy_count,"
    " r.successful_sessions AS successful_sessions,"
    " r.failed_sessions AS failed_sessions,"
    QUERY_RATE("r.successful_sessions", "r.failed_sessions") " AS success_rate,"
    " r.repairs AS repairs, d.domain AS policy_domain"
    " FROM (SELECT r.id, r.org, r.report_id, r.day, r.start_at, r.end_at,"
    "  r.received_at, r.source, r.submitter, r.contact, r.policies,"
    "  r.successful_sessions, r.failed_sessions, r.repairs FROM report r"
    "  WHERE (CAST(:domain AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM policy p"
    "   WHERE p.report = r.id AND p.domain = :domain))"
    "  AND (CAST(:org AS TEXT) IS NULL OR r.org = :org)"
    "  AND (CAST(:since AS TEXT) IS NULL OR r.day >= :since)"
    "  AND (CAST(:until AS TEXT) IS NULL OR r.day <= :until)"
    "  ORDER BY r.start_at DESC, r.id DESC LIMIT :limit) r"
    " LEFT JOIN policy d ON d.report = r.id AND d.domain IS NOT NULL"
    " ORDER BY r.start_at DESC, r.id DESC, d.domain";

static const char SQL_SUMMARY[] =
    "SELECT p.domain AS policy_domain, r.day AS day, r.org AS organization,"
    " count(DISTINCT r.id) AS reports,"
    " sum(p.successful_sessions) AS successful_sessions,"
    " sum(p.failed_sessions) AS failed_sessions,"
    QUERY_RATE("sum(p.successful_sessions)", "sum(p.failed_sessions)")
    " AS success_rate"
    " FROM policy p JOIN report r ON r.id = p.report WHERE" INBOUND_FILTER
    " GROUP BY p.domain, r.day, r.org"
    " ORDER BY r.day DESC, p.domain NULLS FIRST, r.org LIMIT :limit";

/* MX names as reporters write them vary in case and a trailing dot. */
static const char SQL_FAILURES[] =
    "SELECT f.result_type AS result_type,"
    " sum(sum(f.count)) OVER (PARTITION BY f.result_type)"
    " AS result_type_sessions,"
    " lower(rtrim(f.mx_hostname, '.')) AS receiving_mx,"
    " sum(f.count) AS sessions, count(DISTINCT r.id) AS reports"
    " FROM failure f JOIN policy p ON p.id = f.policy"
    " JOIN report r ON r.id = p.report WHERE" INBOUND_FILTER
    " GROUP BY f.result_type, lower(rtrim(f.mx_hostname, '.'))"
    " ORDER BY result_type_sessions DESC, result_type, sessions DESC,"
    " receiving_mx NULLS FIRST LIMIT :limit";

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
conn_init(struct conn *c, const char *path, const char *set, int need_version)
{
	pthread_mutex_init(&c->mu, NULL);
	c->db = NULL;
	c->path = xstrdup(path ? path : "");
	c->set = set;
	c->need_version = need_version;
}

struct query *
query_open(const char *inbound_path, const char *outbound_path,
    long busy_timeout_ms)
{
	struct query *q = xcalloc(1, sizeof(*q));

	/* inbound 1 has every table; outbound needs 3 for delivery. */
	conn_init(&q->side[QUERY_INBOUND], inbound_path, "inbound", 1);
	conn_init(&q->side[QUERY_OUTBOUND], outbound_path, "outbound", 3);
	q->busy_timeout_ms = busy_timeout_ms;
	return q;
}

void
query_close(struct query *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		db_close(q->side[i].db);
		free(q->side[i].path);
		pthread_mutex_destroy(&q->side[i].mu);
	}
	free(q);
}

/* Read-only: we never create, migrate or lock out a writer. */
static enum query_rc
conn_open(struct conn *c, long busy_ms, char *err, size_t errlen)
{
	char why[512];
	int version = 0;

	if (*c->path == '\0') {
		errf(err, errlen, "no %s database configured", c->set);
		return QUERY_UNAVAILABLE;
	}
	if (!db_target_is_pg(c->path) && access(c->path, R_OK) != 0) {
		errf(err, errlen, "%s database %s: %s", c->set, c->path, strerror(errno));
		return QUERY_UNAVAILABLE;
	}
	if (db_open_readonly(c->path, c->set, busy_ms, &c->db, &version, why,
	    sizeof(why)) != 0) {
		errf(err, errlen, "%s database %s", c->set, why);
		return QUERY_UNAVAILABLE;
	}
	/* A hung PostgreSQL server answers 503 in time, not never. */
	db_set_timeout_ms(c->db, busy_ms + REPLY_MARGIN_MS);
	if (version < c->need_version) {
		errf(err, errlen, "%s database %s: schema version %d, this program "
		    "reads %d or newer", c->set, db_name(c->db), version,
		    c->need_version);
		db_close(c->db);
		c->db = NULL;
		return QUERY_UNAVAILABLE;
	}
	return QUERY_OK;
}

enum query_rc
query_lock(struct query *q, enum query_side side, struct db **db, char *err,
    size_t errlen)
{
	struct conn *c = &q->side[side];
	enum query_rc rc = QUERY_OK;

	pthread_mutex_lock(&c->mu);
	if (c->db == NULL)
		rc = conn_open(c, q->busy_timeout_ms, err, errlen);
	if (rc != QUERY_OK) {
		pthread_mutex_unlock(&c->mu);
		return rc;
	}
	*db = c->db;
	return QUERY_OK;
}

void
query_unlock(struct query *q, enum query_side side)
{
	pthread_mutex_unlock(&q->side[side].mu);
}

static int
day_ok(const char *s)
{
	time_t t;

	return s == NULL || *s == '\0' || (strlen(s) == 10 && day_parse(s, &t) == 0);
}

enum query_rc
query_filter_check(const struct query_filter *f, char *err, size_t errlen)
{
	if ((f->domain && strlen(f->domain) > QUERY_MAX_TEXT) ||
	    (f->org && strlen(f->org) > QUERY_MAX_TEXT)) {
		errf(err, errlen, "domain and org are at most %d bytes", QUERY_MAX_TEXT);
		return QUERY_BAD_FILTER;
	}
	if (!day_ok(f->since) || !day_ok(f->until)) {
		errf(err, errlen, "since and until are days as YYYY-MM-DD");
		return QUERY_BAD_FILTER;
	}
	if (f->limit < 0 || f->limit > QUERY_MAX_LIMIT) {
		errf(err, errlen, "limit is 1 to %d", QUERY_MAX_LIMIT);
		return QUERY_BAD_FILTER;
	}
	if (f->since && f->until && *f->since && *f->until &&
	    strcmp(f->since, f->until) > 0) {
		errf(err, errlen, "since %s is after until %s", f->since, f->until);
		return QUERY_BAD_FILTER;
	}
	return QUERY_OK;
}

enum query_rc
query_db_error(struct db *db, char *err, size_t errlen)
{
	errf(err, errlen, "%s", db_errmsg(db));
	return db_errclass(db) == DB_ERR_CONN ? QUERY_UNAVAILABLE : QUERY_FAULT;
}

long
query_limit(const struct query_filter *f)
{
	return f == NULL || f->limit <= 0 ? QUERY_DEFAULT_LIMIT : f->limit;
}

json_t *
query_time(long long unix_seconds)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;
	char text[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return json_null();
	return json_string(text);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Text from the database; bytes that are not UTF-8 become U+FFFD. */
static json_t *
text_value(const unsigned char *s, size_t n)
{
	json_t *v = json_stringn((const char *)s, n);
	char *fixed;
	size_t i = 0, o = 0, k;

	if (v != NULL || s == NULL)
		return v;
	fixed = xmalloc(n * 3 + 1);
	while (i < n) {
		if ((k = utf8_len(s + i, n - i)) == 0 || (k == 1 && s[i] == 0)) {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(fixed + o, s + i, k);
		o += k;
		i += k;
	}
	v = json_stringn(fixed, o);
	free(fixed);
	return v;
}

static json_t *
column_value(struct db_stmt *st, int i, const char *kind)
{
	const char *text;
	json_t *v;

	switch (db_column_type(st, i)) {
	case DB_T_NULL:
		return json_null();
	case DB_T_INTEGER:
		if (kind != NULL && strcmp(kind, "time") == 0)
			return query_time(db_column_int64(st, i));
		return json_integer(db_column_int64(st, i));
	case DB_T_FLOAT:
		return json_real(db_column_double(st, i));
	default:
		text = db_column_text(st, i);
		if (kind != NULL && strcmp(kind, "json") == 0 &&
		    (v = json_loads(text, JSON_DECODE_ANY, NULL)) != NULL)
			return v;
		return text_value((const unsigned char *)text, db_column_bytes(st, i));
	}
}

json_t *
query_row_n(struct db_stmt *st, int ncols)
{
	json_t *row = json_object();
	char key[64];

	for (int i = 0; row != NULL && i < ncols; i++) {
		const char *name = db_column_name(st, i);
		char *colon;

		snprintf(key, sizeof(key), "%s", name ? name : "?");
		if ((colon = strchr(key, ':')) != NULL)
			*colon++ = '\0';
		if (json_object_set_new(row, key, column_value(st, i, colon)) != 0) {
			json_decref(row);
			return NULL;
		}
	}
	return row;
}

json_t *
query_row(struct db_stmt *st)
{
	return query_row_n(st, db_column_count(st));
}

static void
bind_opt(struct db_stmt *st, const char *name, const char *value)
{
	int i = db_param_index(st, name);

	if (i > 0 && value != NULL && *value != '\0')
		(void)db_bind_text(st, i, value, -1);
}

enum query_rc
query_prepare(struct db *db, const char *sql, const struct query_filter *f,
    long limit, struct db_stmt **st, char *err, size_t errlen)
{
	int i;

	if (db_prepare(db, sql, st) != 0)
		return query_db_error(db, err, errlen);
	if (f != NULL) {
		bind_opt(*st, ":domain", f->domain);
		bind_opt(*st, ":org", f->org);
		bind_opt(*st, ":since", f->since);
		bind_opt(*st, ":until", f->until);
	}
	if ((i = db_param_index(*st, ":limit")) > 0)
		(void)db_bind_int64(*st, i, limit);
	return QUERY_OK;
}

enum query_rc
query_collect(struct db *db, struct db_stmt *st, json_t *rows, char *err,
    size_t errlen)
{
	int rc, nomem = 0;

	while ((rc = db_step(st)) == DB_ROW)
		if (json_array_append_new(rows, query_row(st)) != 0) {
			nomem = 1;
			break;
		}
	db_finalize(st);
	if (nomem) {
		errf(err, errlen, "out of memory");
		return QUERY_FAULT;
	}
	return rc == DB_DONE ? QUERY_OK : query_db_error(db, err, errlen);
}

/*
 * SQL_REPORTS: consecutive rows of one report become one object whose
 * policy_domains lists the last column's values (sorted, once each).
 */
static enum query_rc
collect_reports(struct db *db, struct db_stmt *st, json_t *rows, char *err,
    size_t errlen)
{
	json_t *row = NULL, *domains = NULL;
	int64_t last_id = 0;
	int rc = DB_ERROR, nomem = 0, last;

	while (!nomem && (rc = db_step(st)) == DB_ROW) {
		const char *d, *prev;
		size_t n;

		last = db_column_count(st) - 1;
		if (row == NULL || db_column_int64(st, 0) != last_id) {
			last_id = db_column_int64(st, 0);
			row = query_row_n(st, last);
			domains = json_array();
			if (row == NULL || domains == NULL ||
			    json_object_set_new(row, "policy_domains", domains) != 0 ||
			    json_array_append_new(rows, row) != 0) {
				nomem = 1;
				break;
			}
		}
		if ((d = db_column_text(st, last)) == NULL)
			continue;
		n = json_array_size(domains);
		prev = n ? json_string_value(json_array_get(domains, n - 1)) : NULL;
		if (prev != NULL && strcmp(prev, d) == 0)
			continue;
		if (json_array_append_new(domains, text_value((const unsigned char *)d,
		    db_column_bytes(st, last))) != 0)
			nomem = 1;
	}
	db_finalize(st);
	if (nomem) {
		errf(err, errlen, "out of memory");
		return QUERY_FAULT;
	}
	return rc == DB_DONE ? QUERY_OK : query_db_error(db, err, errlen);
}

typedef enum query_rc collect_fn(struct db *, struct db_stmt *, json_t *,
    char *, size_t);

/* One row more than the limit is asked for: it says "truncated". */
static enum query_rc
list_rows(struct query *q, enum query_side side, const char *sql,
    collect_fn *collect, const struct query_filter *f, json_t **out, char *err,
    size_t errlen)
{
	long limit = query_limit(f);
	json_t *rows;
	struct db_stmt *st;
	struct db *db;
	enum query_rc rc;
	int truncated;

	*out = NULL;
	if ((rc = query_filter_check(f, err, errlen)) != QUERY_OK ||
	    (rc = query_lock(q, side, &db, err, errlen)) != QUERY_OK)
		return rc;
	rows = json_array();
	rc = query_prepare(db, sql, f, limit + 1, &st, err, errlen);
	if (rc == QUERY_OK)
		rc = collect(db, st, rows, err, errlen);
	query_unlock(q, side);
	if (rc != QUERY_OK) {
		json_decref(rows);
		return rc;
	}
	truncated = json_array_size(rows) > (size_t)limit;
	if (truncated)
		json_array_remove(rows, (size_t)limit);
	*out = json_pack("{s:o, s:b}", "rows", rows, "truncated", truncated);
	return *out ? QUERY_OK : QUERY_FAULT;
}

enum query_rc
query_list(struct query *q, enum query_side side, const char *sql,
    const struct query_filter *f, json_t **out, char *err, size_t errlen)
{
	return list_rows(q, side, sql, query_collect, f, out, err, errlen);
}

enum query_rc
query_domains(struct query *q, const struct query_filter *f, json_t **out,
    char *err, size_t errlen)
{
	return query_list(q, QUERY_INBOUND, SQL_DOMAINS, f, out, err, errlen);
}

enum query_rc
query_reports(struct query *q, const struct query_filter *f, json_t **out,
    char *err, size_t errlen)
{
	return list_rows(q, QUERY_INBOUND, SQL_REPORTS, collect_reports, f, out,
	    err, errlen);
}

enum query_rc
query_summary(struct query *q, const struct query_filter *f, json_t **out,
    char *err, size_t errlen)
{
	return query_list(q, QUERY_INBOUND, SQL_SUMMARY, f, out, err, errlen);
}

enum query_rc
query_failures(struct query *q, const struct query_filter *f, json_t **out,
    char *err, size_t errlen)
{
	return query_list(q, QUERY_INBOUND, SQL_FAILURES, f, out, err, errlen);
}
