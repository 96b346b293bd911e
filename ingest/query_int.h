/*
 * NAME
 *	query_int - what query.c shares with query_out.c, nobody else
 * DESCRIPTION
 *	Connections are locked per side; rows become JSON objects keyed by
 *	the column names of the SQL. A column alias may carry a kind after
 *	a colon: "start:time" is Unix seconds shown as an ISO 8601 string,
 *	"strings:json" is JSON text stored in a column and returned parsed.
 *	Filters bind by name (:domain :org :since :until :limit), so a
 *	statement uses only the ones it needs.
 */
#ifndef TLSRPTD_QUERY_INT_H
#define TLSRPTD_QUERY_INT_H

#include "db.h"
#include "query.h"

enum query_side {
	QUERY_INBOUND,
	QUERY_OUTBOUND,
};

/*
 * CASE expression for success_rate over two sum expressions. DOUBLE
 * PRECISION: REAL is a 4-byte float on PostgreSQL (SQLite reads any type
 * name with DOUB as its 8-byte REAL).
 */
#define QUERY_RATE(ok, failed) \
	" CASE WHEN " ok " + " failed " > 0 THEN CAST(" ok " AS DOUBLE PRECISION)" \
	" / CAST(" ok " + " failed " AS DOUBLE PRECISION) END"

enum query_rc query_lock(struct query *q, enum query_side side, struct db **db,
    char *err, size_t errlen) __attribute__((warn_unused_result));
void query_unlock(struct query *q, enum query_side side);

/* One result row as an object; NULL only when out of memory. */
json_t *query_row(struct db_stmt *st);
/* The same with the first ncols columns only. */
json_t *query_row_n(struct db_stmt *st, int ncols);
enum query_rc query_prepare(struct db *db, const char *sql,
    const struct query_filter *f, long limit, struct db_stmt **st, char *err,
    size_t errlen) __attribute__((warn_unused_result));
/* Steps st to the end: every row appended to rows; finalizes st. */
enum query_rc query_collect(struct db *db, struct db_stmt *st, json_t *rows,
    char *err, size_t errlen) __attribute__((warn_unused_result));
/* A whole list query: {"rows": [...], "truncated": bool}. */
enum query_rc query_list(struct query *q, enum query_side side,
    const char *sql, const struct query_filter *f, json_t **out, char *err,
    size_t errlen) __attribute__((warn_unused_result));
/*
 * The error of db's last statement in err: QUERY_UNAVAILABLE when the
 * connection to the server is lost (a PostgreSQL restart: the next call
 * connects again), else QUERY_FAULT.
 */
enum query_rc query_db_error(struct db *db, char *err, size_t errlen);
long query_limit(const struct query_filter *f);
json_t *query_time(long long unix_seconds);

#endif
