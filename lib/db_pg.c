/*
 * NAME
 *	db_pg - the PostgreSQL engine of lib/db (libpq)
 * DESCRIPTION
 *	Statements are written in the common dialect with ?, ?NNN and :name
 *	parameters; they are rewritten once to $n and prepared on the server
 *	lazily, at the first step, when the types of the bound values are
 *	known: integers are sent as int8, reals as float8, blobs as bytea in
 *	binary, text with no declared type so that the server infers it
 *	from the context, as SQLite would accept it. A change of bound types
 *	prepares the statement again.
 *
 *	Each set of tables lives in its own schema (tlsrptd_outbound,
 *	tlsrptd_inbound), so both can share one database. Migrations come
 *	from schema/pg-<set>/, are tracked in <schema>.tlsrptd_schema and run
 *	under an advisory lock, so collectors starting together on many hosts
 *	migrate once.
 *
 *	A broken connection is reset at the next begin, exec or step outside
 *	a transaction; prepared statements are then prepared again, found by
 *	a generation number. Inside a transaction it is not: the statements
 *	that follow fail, and so does COMMIT.
 *
 *	Every request goes out with libpq's asynchronous calls and waits in
 *	poll() (await()), so that db_set_timeout_ms() can bound it. COMMIT
 *	first asks for the transaction's id, so that when its answer is
 *	lost db_commit_outcome() can ask the server what became of it
 *	(txid_status()).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <libpq-fe.h>

#include "db_int.h"
#include "mem.h"
#include "store.h"

#define OID_BOOL	16
#define OID_BYTEA	17
#define OID_INT8	20
#define OID_INT2	21
#define OID_INT4	23
#define OID_FLOAT4	700
#define OID_FLOAT8	701
#define OID_NUMERIC	1700

#define MIGRATE_LOCK	"8460001"	/* pg_advisory_lock key */

struct pg_conn {
	PGconn *conn;
	unsigned generation;	/* bumped at each reconnect */
	unsigned next_name;
	long timeout_ms;	/* per request and reconnect; 0: none */
	int timed_out;		/* the last request was given up */
	int in_txn;		/* as the server last said */
	int doubt;		/* the last COMMIT's outcome is not known */
	char doubt_xid[24];	/* its transaction */
};

struct pg_param {
	Oid type;		/* declared at bind: 0 for text and NULL */
	int is_null;
	int format;		/* 0 text, 1 binary */
	const char *value;	/* into buf or the caller's bytes */
	int length;
	char *buf;
	size_t bufsize;
};

struct pg_stmt {
	char *pgsql;
	int nparams;
	char **names;		/* :name of each parameter or NULL */
	struct pg_param *params;
	Oid *prepared_types;
	unsigned prepared_generation;	/* 0: not prepared */
	char stmt_name[32];
	PGresult *res;
	int row, nrows;
	unsigned char *blob;	/* unescaped bytea of the last column_blob */
	size_t blob_len;
	int blob_col;
};

#define PGC(db)		((struct pg_conn *)(db)->engine_state)
#define PGS(st)		((struct pg_stmt *)(st)->engine_stmt)

static void
noop_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static enum db_errclass
classify_state(const char *sqlstate)
{
	if (sqlstate == NULL)
		return DB_ERR_OTHER;
	if (strcmp(sqlstate, "40P01") == 0 || strcmp(sqlstate, "40001") == 0 ||
	    strcmp(sqlstate, "55P03") == 0 || strcmp(sqlstate, "57014") == 0)
		return DB_ERR_BUSY;
	if (strcmp(sqlstate, "53100") == 0)
		return DB_ERR_FULL;
	if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P", 3) == 0)
		return DB_ERR_CONN;
	if (strncmp(sqlstate, "23", 2) == 0)
		return DB_ERR_CONSTRAINT;
	return DB_ERR_OTHER;
}

/* Record the error of res (or of the connection when res is NULL). */
static void
note(struct db *db, const PGresult *res)
{
	struct pg_conn *pc = PGC(db);
	PGconn *c = pc->conn;
	/* The primary message only: one line, no "LINE 1:" excerpt. */
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	enum db_errclass cls;

	if (pc->timed_out) {
		db_seterr(db, DB_ERR_CONN, "no answer from the server in %ld ms; "
		    "connection closed", pc->timeout_ms);
		return;
	}
	if (msg == NULL || *msg == '\0')
		msg = PQerrorMessage(c);
	if (PQstatus(c) != CONNECTION_OK)
		cls = DB_ERR_CONN;
	else
		cls = classify_state(res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL);
	db_seterr(db, cls, "%s", *msg ? msg : "unknown PostgreSQL error");
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when fd is ready, 0 at the deadline (0: none), -1 on error. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd = { fd, events, 0 };

	if (fd < 0)
		return -1;
	for (;;) {
		int ms = -1, n;

		if (deadline != 0) {
			long long left = deadline - mono_ms();

			if (left <= 0)
				return 0;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Like PQexec: the last result, or the first error. */
static void
keep_result(PGresult **kept, PGresult *res)
{
	ExecStatusType s = PQresultStatus(*kept);

	if (*kept != NULL && (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE)) {
		PQclear(res);
		return;
	}
	PQclear(*kept);
	*kept = res;
}

/*
 * The answer to what a PQsend* call (its result: sent) put on the wire,
 * as PQexec would return it, but waiting no longer than the timeout.
 * Then the socket is shut down: libpq sees the connection closed, the
 * caller gets DB_ERR_CONN, and the server ends the session when it
 * notices (rolling back an open transaction; a COMMIT it has already
 * received may still commit: db_commit_outcome()).
 */
static PGresult *
await(struct db *db, int sent)
{
	struct pg_conn *pc = PGC(db);
	PGconn *c = pc->conn;
	long long deadline = pc->timeout_ms > 0 ? mono_ms() + pc->timeout_ms : 0;
	PGresult *res, *kept = NULL;
	int flushing = 1;

	pc->timed_out = 0;
	if (!sent)
		return NULL;	/* PQerrorMessage says why */
	for (;;) {
		short events = POLLIN;
		int r;

		if (flushing && PQflush(c) <= 0)
			flushing = 0;	/* all sent, or failed: the result says */
		if (flushing)
			events |= POLLOUT;
		while (!flushing && !PQisBusy(c)) {
			if ((res = PQgetResult(c)) == NULL)
				goto done;
			keep_result(&kept, res);
		}
		r = wait_fd(PQsocket(c), events, deadline);
		if (r > 0 && PQconsumeInput(c))
			continue;
		flushing = 0;
		if (PQstatus(c) != CONNECTION_OK)
			continue;	/* libpq noticed: its result says why */
		if (r == 0)
			pc->timed_out = 1;
		/* After shutdown() reads see the end: libpq stops waiting too. */
		shutdown(PQsocket(c), SHUT_RDWR);
		for (int i = 0; i < 100 && PQstatus(c) == CONNECTION_OK &&
		    PQconsumeInput(c); i++)
			;
		while (!PQisBusy(c) && (res = PQgetResult(c)) != NULL)
			keep_result(&kept, res);
		break;
	}
done:
	if (PQstatus(c) == CONNECTION_OK) {
		PGTransactionStatusType t = PQtransactionStatus(c);

		pc->in_txn = t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
	}
	return kept;
}

/* PQreset, no longer than the timeout when there is one. */
static int
reset_conn(struct pg_conn *pc)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	long long deadline = mono_ms() + pc->timeout_ms;

	if (pc->timeout_ms <= 0) {
		PQreset(pc->conn);
		return PQstatus(pc->conn) == CONNECTION_OK ? 0 : -1;
	}
	if (!PQresetStart(pc->conn))
		return -1;
	for (;;) {
		int r;

		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			return -1;
		r = wait_fd(PQsocket(pc->conn),
		    st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (r == 0) {
			pc->timed_out = 1;
			return -1;
		}
		if (r < 0)
			return -1;
		st = PQresetPoll(pc->conn);
	}
}

/*
 * Reconnect a broken connection, outside a transaction only: statements
 * after a connection broke inside one must fail, not run on a new
 * connection outside any transaction.
 */
static int
ensure_conn(struct db *db)
{
	struct pg_conn *pc = PGC(db);

	if (PQstatus(pc->conn) == CONNECTION_OK)
		return 0;
	pc->timed_out = 0;
	if (reset_conn(pc) != 0) {
		if (pc->timed_out)
			db_seterr(db, DB_ERR_CONN, "connecting: no answer from the "
			    "server in %ld ms", pc->timeout_ms);
		else
			db_seterr(db, DB_ERR_CONN, "%s", PQerrorMessage(pc->conn));
		pc->timed_out = 0;
		return -1;
	}
	(void)PQsetnonblocking(pc->conn, 1);
	pc->generation++;
	pc->in_txn = 0;
	return 0;
}

/* Rows changed, as SQLite counts them: INSERT, UPDATE, DELETE only. */
static void
count_changes(struct db *db, const PGresult *res)
{
	const char *tag = PQcmdStatus((PGresult *)res);

	if (strncmp(tag, "INSERT ", 7) == 0 || strncmp(tag, "UPDATE ", 7) == 0 ||
	    strncmp(tag, "DELETE ", 7) == 0 || strncmp(tag, "MERGE ", 6) == 0)
		db->changes = strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

static int
command(struct db *db, const char *sql)
{
	PGresult *res = await(db, PQsendQuery(PGC(db)->conn, sql));
	ExecStatusType s = PQresultStatus(res);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		note(db, res);
		PQclear(res);
		return -1;
	}
	count_changes(db, res);
	PQclear(res);
	return 0;
}

static int
p_in_transaction(struct db *db)
{
	struct pg_conn *pc = PGC(db);
	PGTransactionStatusType t;

	/* Broken: what the server last said; its side is rolled back. */
	if (PQstatus(pc->conn) != CONNECTION_OK)
		return pc->in_txn;
	t = PQtransactionStatus(pc->conn);
	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

/* The outcome of the COMMIT of transaction doubt_xid (see db.h). */
static enum db_commit_outcome
resolve(struct db *db)
{
	struct pg_conn *pc = PGC(db);
	const char *params[1] = { pc->doubt_xid };
	enum db_commit_outcome outcome = DB_IN_DOUBT;
	const char *state, *status;
	PGresult *res;

	if (!pc->doubt)
		return DB_NOT_COMMITTED;
	if (ensure_conn(db) != 0)
		return DB_IN_DOUBT;
	res = await(db, PQsendQueryParams(pc->conn, "SELECT txid_status($1::bigint)",
	    1, NULL, params, NULL, NULL, 0));
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		status = PQgetisnull(res, 0, 0) ? "unknown" : PQgetvalue(res, 0, 0);
		if (strcmp(status, "committed") == 0)
			outcome = DB_COMMITTED;
		else if (strcmp(status, "aborted") == 0)
			outcome = DB_NOT_COMMITTED;
		else
			db_seterr(db, DB_ERR_CONN, "transaction %s: %s", pc->doubt_xid,
			    status);
	} else if (state != NULL && strcmp(state, "22023") == 0) {
		/* "in the future": a server that crashed lost it, uncommitted. */
		outcome = DB_NOT_COMMITTED;
	} else
		note(db, res);
	PQclear(res);
	if (outcome != DB_IN_DOUBT)
		pc->doubt = 0;
	return outcome;
}

/*
 * COMMIT that says what happened: an error when the transaction had
 * failed (PostgreSQL answers such a COMMIT with a quiet ROLLBACK) or was
 * lost with its connection, and, when the connection breaks during the
 * COMMIT itself, the server asked whether it committed.
 */
static int
p_commit(struct db *db)
{
	struct pg_conn *pc = PGC(db);
	char keep[sizeof(db->errmsg)], xid[24] = "";
	PGresult *res;
	int ok;

	snprintf(keep, sizeof(keep), "%s", db->errmsg);
	if (!p_in_transaction(db)) {
		db_seterr(db, DB_ERR_OTHER, "cannot commit - no transaction is active");
		return -1;
	}
	if (PQstatus(pc->conn) != CONNECTION_OK) {
		pc->in_txn = 0;
		db_seterr(db, DB_ERR_CONN, "connection to the server lost; the "
		    "transaction was rolled back%s%s", keep[0] ? ": " : "", keep);
		return -1;
	}
	if (PQtransactionStatus(pc->conn) == PQTRANS_INERROR) {
		(void)command(db, "ROLLBACK");
		db_seterr(db, DB_ERR_OTHER, "transaction rolled back after an "
		    "earlier error%s%s", keep[0] ? ": " : "", keep);
		return -1;
	}
	/* Its id, to look the outcome up should the answer to COMMIT be lost. */
	res = await(db, PQsendQuery(pc->conn, "SELECT txid_current_if_assigned()"));
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		note(db, res);
		PQclear(res);
		db_rollback(db);
		return -1;
	}
	if (!PQgetisnull(res, 0, 0))
		snprintf(xid, sizeof(xid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = await(db, PQsendQuery(pc->conn, "COMMIT"));
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (ok && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		db_seterr(db, DB_ERR_OTHER, "transaction rolled back: server "
		    "answered %s", PQcmdStatus(res));
		PQclear(res);
		return -1;
	}
	if (!ok)
		note(db, res);
	PQclear(res);
	if (ok)
		return 0;
	/* The server said no, or nothing was written: not committed. */
	if (PQstatus(pc->conn) == CONNECTION_OK || xid[0] == '\0') {
		pc->in_txn = 0;
		return -1;
	}
	pc->in_txn = 0;
	pc->doubt = 1;
	snprintf(pc->doubt_xid, sizeof(pc->doubt_xid), "%s", xid);
	/* A server that only closed the connection can answer at once. */
	snprintf(keep, sizeof(keep), "%s", db->errmsg);
	if (!pc->timed_out) {
		enum db_commit_outcome o = resolve(db);

		if (o == DB_COMMITTED)
			return 0;
		if (o == DB_NOT_COMMITTED) {
			db_seterr(db, DB_ERR_CONN, "%s; not committed", keep);
			return -1;
		}
	}
	db_seterr(db, DB_ERR_CONN, "%s; whether the transaction committed is "
	    "not known yet", keep);
	return -1;
}

static int
p_exec(struct db *db, const char *sql)
{
	struct pg_conn *pc = PGC(db);

	if (strcmp(sql, "COMMIT") == 0)
		return p_commit(db);
	/* The server rolled back when the connection broke. */
	if (strcmp(sql, "ROLLBACK") == 0 && PQstatus(pc->conn) != CONNECTION_OK) {
		pc->in_txn = 0;
		return 0;
	}
	if (!p_in_transaction(db) && ensure_conn(db) != 0)
		return -1;
	return command(db, sql);
}

static int
p_begin(struct db *db)
{
	struct pg_conn *pc = PGC(db);
	int was_up = PQstatus(pc->conn) == CONNECTION_OK;

	pc->doubt = 0;
	if (p_exec(db, "BEGIN") == 0)
		return 0;
	/*
	 * A connection the server closed while it was idle (restart,
	 * pg_terminate_backend) shows only when used: once more on a new
	 * one, as BEGIN changes nothing. Not when connecting failed or the
	 * server did not answer in time: the caller should hear so now.
	 */
	if (!was_up || db->errclass != DB_ERR_CONN || pc->timed_out ||
	    p_in_transaction(db))
		return -1;
	return p_exec(db, "BEGIN");
}

static void
p_close(struct db *db)
{
	PQfinish(PGC(db)->conn);
	free(PGC(db));
}

/* Room for parameter n (1-based). */
static void
grow_params(struct pg_stmt *ps, int n)
{
	if (n <= ps->nparams)
		return;
	ps->names = xreallocarray(ps->names, (size_t)n, sizeof(*ps->names));
	ps->params = xreallocarray(ps->params, (size_t)n, sizeof(*ps->params));
	ps->prepared_types = xreallocarray(ps->prepared_types, (size_t)n,
	    sizeof(*ps->prepared_types));
	for (int i = ps->nparams; i < n; i++) {
		ps->names[i] = NULL;
		memset(&ps->params[i], 0, sizeof(ps->params[i]));
		ps->params[i].is_null = 1;
		ps->prepared_types[i] = 0;
	}
	ps->nparams = n;
}

static int
named_index(struct pg_stmt *ps, const char *name, size_t len)
{
	for (int i = 0; i < ps->nparams; i++)
		if (ps->names[i] && strlen(ps->names[i]) == len &&
		    memcmp(ps->names[i], name, len) == 0)
			return i + 1;
	return 0;
}

/*
 * ? -> $n (n = highest so far + 1), ?NNN -> $NNN, :name -> $n (same
 * name, same n), skipping string literals, quoted names and comments.
 */
static int
rewrite(struct db *db, const char *sql, struct pg_stmt *ps)
{
	size_t len = strlen(sql), o = 0;
	char *out = xmalloc(len * 4 + 1);
	const char *p = sql;

	while (*p) {
		if (*p == '\'' || *p == '"') {
			char q = *p;

			out[o++] = *p++;
			while (*p && !(*p == q && p[1] != q)) {
				if (*p == q)
					out[o++] = *p++;
				out[o++] = *p++;
			}
			if (*p)
				out[o++] = *p++;
		} else if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				out[o++] = *p++;
		} else if (*p == '?') {
			int n;

			p++;
			if (isdigit((unsigned char)*p)) {
				n = (int)strtol(p, (char **)&p, 10);
				if (n < 1 || n > 999) {
					db_seterr(db, DB_ERR_OTHER, "bad parameter ?%d", n);
					free(out);
					return -1;
				}
			} else
				n = ps->nparams + 1;
			grow_params(ps, n);
			o += (size_t)snprintf(out + o, 8, "$%d", n);
		} else if (*p == ':' && p[1] != ':' && (o == 0 || out[o - 1] != ':') &&
		    (isalpha((unsigned char)p[1]) || p[1] == '_')) {
			const char *name = p;
			size_t nlen = 1;
			int n;

			while (isalnum((unsigned char)name[nlen]) || name[nlen] == '_')
				nlen++;
			if ((n = named_index(ps, name, nlen)) == 0) {
				n = ps->nparams + 1;
				grow_params(ps, n);
				ps->names[n - 1] = xstrndup(name, nlen);
			}
			o += (size_t)snprintf(out + o, 8, "$%d", n);
			p += nlen;
		} else
			out[o++] = *p++;
	}
	out[o] = '\0';
	ps->pgsql = out;
	return 0;
}

static void
free_result(struct pg_stmt *ps)
{
	PQclear(ps->res);
	ps->res = NULL;
	ps->row = ps->nrows = 0;
	PQfreemem(ps->blob);
	ps->blob = NULL;
	ps->blob_col = -1;
}

static int
p_prepare(struct db *db, const char *sql, struct db_stmt *st)
{
	struct pg_stmt *ps = xcalloc(1, sizeof(*ps));

	ps->blob_col = -1;
	if (rewrite(db, sql, ps) != 0) {
		free(ps);
		return -1;
	}
	st->engine_stmt = ps;
	return 0;
}

static void
deallocate(struct db *db, struct pg_stmt *ps)
{
	char cmd[64];
	PGresult *res;

	/* At close, ending the session frees them all without waiting. */
	if (db->closing || ps->prepared_generation != PGC(db)->generation ||
	    PQstatus(PGC(db)->conn) != CONNECTION_OK ||
	    PQtransactionStatus(PGC(db)->conn) == PQTRANS_INERROR)
		return;
	snprintf(cmd, sizeof(cmd), "DEALLOCATE %s", ps->stmt_name);
	res = await(db, PQsendQuery(PGC(db)->conn, cmd));
	PQclear(res);
}

static void
p_finalize(struct db_stmt *st)
{
	struct pg_stmt *ps = PGS(st);

	free_result(ps);
	if (ps->prepared_generation)
		deallocate(st->db, ps);
	for (int i = 0; i < ps->nparams; i++) {
		free(ps->names[i]);
		free(ps->params[i].buf);
	}
	free(ps->names);
	free(ps->params);
	free(ps->prepared_types);
	free(ps->pgsql);
	free(ps);
}

static void
p_reset(struct db_stmt *st)
{
	free_result(PGS(st));
}

static void
p_clear_bindings(struct db_stmt *st)
{
	struct pg_stmt *ps = PGS(st);

	for (int i = 0; i < ps->nparams; i++) {
		ps->params[i].is_null = 1;
		ps->params[i].type = 0;
	}
}

static int
p_param_index(struct db_stmt *st, const char *name)
{
	struct pg_stmt *ps = PGS(st);

	return named_index(ps, name, strlen(name));
}

static struct pg_param *
param(struct db_stmt *st, int i)
{
	struct pg_stmt *ps = PGS(st);

	if (i < 1 || i > ps->nparams) {
		db_seterr(st->db, DB_ERR_OTHER, "parameter index %d out of range", i);
		return NULL;
	}
	return &ps->params[i - 1];
}

/* Copy len bytes (+ NUL) into the parameter's own buffer. */
static void
keep(struct pg_param *pp, const void *p, size_t len)
{
	if (pp->bufsize < len + 1) {
		free(pp->buf);
		pp->bufsize = len + 1 < 32 ? 32 : len + 1;
		pp->buf = xmalloc(pp->bufsize);
	}
	if (len)
		memcpy(pp->buf, p, len);
	pp->buf[len] = '\0';
	pp->value = pp->buf;
	pp->length = (int)len;
}

static int
p_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	struct pg_param *pp = param(st, i);
	char tmp[32];

	if (pp == NULL)
		return -1;
	keep(pp, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, v));
	pp->type = OID_INT8;
	pp->is_null = 0;
	pp->format = 0;
	return 0;
}

static int
p_bind_double(struct db_stmt *st, int i, double v)
{
	struct pg_param *pp = param(st, i);
	char tmp[64];

	if (pp == NULL)
		return -1;
	keep(pp, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%.17g", v));
	pp->type = OID_FLOAT8;
	pp->is_null = 0;
	pp->format = 0;
	return 0;
}

static int
p_bind_text(struct db_stmt *st, int i, const char *p, size_t len, int copy)
{
	struct pg_param *pp = param(st, i);

	(void)copy;	/* text goes as a C string: always copied */
	if (pp == NULL)
		return -1;
	if (memchr(p, '\0', len) != NULL) {
		db_seterr(st->db, DB_ERR_OTHER, "text parameter %d contains NUL", i);
		return -1;
	}
	keep(pp, p, len);
	pp->type = 0;
	pp->is_null = 0;
	pp->format = 0;
	return 0;
}

static int
p_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	struct pg_param *pp = param(st, i);

	if (pp == NULL)
		return -1;
	if (len > INT32_MAX) {
		db_seterr(st->db, DB_ERR_OTHER, "blob parameter %d too large", i);
		return -1;
	}
	keep(pp, p, len);
	pp->type = OID_BYTEA;
	pp->is_null = 0;
	pp->format = 1;
	return 0;
}

static int
p_bind_null(struct db_stmt *st, int i)
{
	struct pg_param *pp = param(st, i);

	if (pp == NULL)
		return -1;
	pp->is_null = 1;
	return 0;
}

/* Prepare on the server when never done, after a reconnect, or when the
 * bound types differ from those it was prepared with. */
static int
server_prepare(struct db_stmt *st)
{
	struct db *db = st->db;
	struct pg_stmt *ps = PGS(st);
	struct pg_conn *pc = PGC(db);
	int same = ps->prepared_generation == pc->generation;
	PGresult *res;

	for (int i = 0; same && i < ps->nparams; i++)
		if (!ps->params[i].is_null && ps->params[i].type != ps->prepared_types[i])
			same = 0;
	if (same)
		return 0;
	if (ps->prepared_generation)
		deallocate(db, ps);
	for (int i = 0; i < ps->nparams; i++)
		ps->prepared_types[i] = ps->params[i].is_null ? 0 : ps->params[i].type;
	snprintf(ps->stmt_name, sizeof(ps->stmt_name), "tlsrptd_%u", ++pc->next_name);
	res = await(db, PQsendPrepare(pc->conn, ps->stmt_name, ps->pgsql,
	    ps->nparams, ps->prepared_types));
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		note(db, res);
		PQclear(res);
		ps->prepared_generation = 0;
		return -1;
	}
	PQclear(res);
	ps->prepared_generation = pc->generation;
	return 0;
}

static int
execute(struct db_stmt *st)
{
	struct db *db = st->db;
	struct pg_stmt *ps = PGS(st);
	const char **values = NULL;
	int *lengths = NULL, *formats = NULL, rc = -1;
	ExecStatusType s;

	if (!p_in_transaction(db) && ensure_conn(db) != 0)
		return -1;
	if (server_prepare(st) != 0)
		return -1;
	if (ps->nparams > 0) {
		values = xcalloc((size_t)ps->nparams, sizeof(*values));
		lengths = xcalloc((size_t)ps->nparams, sizeof(*lengths));
		formats = xcalloc((size_t)ps->nparams, sizeof(*formats));
	}
	for (int i = 0; i < ps->nparams; i++) {
		const struct pg_param *pp = &ps->params[i];

		values[i] = pp->is_null ? NULL : pp->value;
		lengths[i] = pp->length;
		formats[i] = pp->format;
	}
	ps->res = await(db, PQsendQueryPrepared(PGC(db)->conn, ps->stmt_name,
	    ps->nparams, values, lengths, formats, 0));
	s = PQresultStatus(ps->res);
	if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
		ps->nrows = s == PGRES_TUPLES_OK ? PQntuples(ps->res) : 0;
		ps->row = -1;
		count_changes(db, ps->res);
		rc = 0;
	} else {
		note(db, ps->res);
		/* A statement prepared before a server restart is gone. */
		if (PQresultErrorField(ps->res, PG_DIAG_SQLSTATE) != NULL &&
		    strcmp(PQresultErrorField(ps->res, PG_DIAG_SQLSTATE), "26000") == 0)
			ps->prepared_generation = 0;
		free_result(ps);
	}
	free(values);
	free(lengths);
	free(formats);
	return rc;
}

static int
p_step(struct db_stmt *st)
{
	struct pg_stmt *ps = PGS(st);

	if (ps->res == NULL && execute(st) != 0)
		return DB_ERROR;
	PQfreemem(ps->blob);
	ps->blob = NULL;
	ps->blob_col = -1;
	if (++ps->row < ps->nrows)
		return DB_ROW;
	ps->row = ps->nrows;
	return DB_DONE;
}

static int
valid(struct pg_stmt *ps, int col)
{
	return ps->res != NULL && ps->row >= 0 && ps->row < ps->nrows &&
	    col >= 0 && col < PQnfields(ps->res);
}

static int
p_column_count(struct db_stmt *st)
{
	struct pg_stmt *ps = PGS(st);

	return ps->res ? PQnfields(ps->res) : 0;
}

static const char *
p_column_name(struct db_stmt *st, int col)
{
	struct pg_stmt *ps = PGS(st);

	return ps->res && col >= 0 && col < PQnfields(ps->res) ?
	    PQfname(ps->res, col) : NULL;
}

static enum db_type
p_column_type(struct db_stmt *st, int col)
{
	struct pg_stmt *ps = PGS(st);

	if (!valid(ps, col) || PQgetisnull(ps->res, ps->row, col))
		return DB_T_NULL;
	switch (PQftype(ps->res, col)) {
	case OID_BOOL:
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
		return DB_T_INTEGER;
	case OID_NUMERIC:
		/* sum() of integers is numeric: an integer when it has no point. */
		return strchr(PQgetvalue(ps->res, ps->row, col), '.') ?
		    DB_T_FLOAT : DB_T_INTEGER;
	case OID_FLOAT4:
	case OID_FLOAT8:
		return DB_T_FLOAT;
	case OID_BYTEA:
		return DB_T_BLOB;
	default:
		return DB_T_TEXT;
	}
}

static int64_t
p_column_int64(struct db_stmt *st, int col)
{
	struct pg_stmt *ps = PGS(st);
	const char *v;

	if (!valid(ps, col) || PQgetisnull(ps->res, ps->row, col))
		return 0;
	v = PQgetvalue(ps->res, ps->row, col);
	if (PQftype(ps->res, col) == OID_BOOL)
		return *v == 't';
	if (PQftype(ps->res, col) == OID_FLOAT4 || PQftype(ps->res, col) == OID_FLOAT8)
		return (int64_t)strtod(v, NULL);
	return strtoll(v, NULL, 10);
}

static double
p_column_double(struct db_stmt *st, int col)
{
	struct pg_stmt *ps = PGS(st);

	if (!valid(ps, col) || PQgetisnull(ps->res, ps->row, col))
		return 0;
	return strtod(PQgetvalue(ps->res, ps->row, col), NULL);
}

static const char *
p_column_text(struct db_stmt *st, int col)
{
	struct pg_stmt *ps = PGS(st);

	if (!valid(ps, col) || PQgetisnull(ps->res, ps->row, col))
		return NULL;
	if (PQftype(ps->res, col) == OID_BOOL)
		return *PQgetvalue(ps->res, ps->row, col) == 't' ? "1" : "0";
	return PQgetvalue(ps->res, ps->row, col);
}

static const void *
p_column_blob(struct db_stmt *st, int col)
{
	struct pg_stmt *ps = PGS(st);

	if (!valid(ps, col) || PQgetisnull(ps->res, ps->row, col))
		return NULL;
	if (PQftype(ps->res, col) != OID_BYTEA)
		return PQgetvalue(ps->res, ps->row, col);
	if (ps->blob_col != col) {
		PQfreemem(ps->blob);
		ps->blob = PQunescapeBytea((const unsigned char *)
		    PQgetvalue(ps->res, ps->row, col), &ps->blob_len);
		ps->blob_col = ps->blob ? col : -1;
	}
	return ps->blob;
}

static size_t
p_column_bytes(struct db_stmt *st, int col)
{
	struct pg_stmt *ps = PGS(st);

	if (!valid(ps, col) || PQgetisnull(ps->res, ps->row, col))
		return 0;
	if (PQftype(ps->res, col) != OID_BYTEA)
		return (size_t)PQgetlength(ps->res, ps->row, col);
	if (p_column_blob(st, col) == NULL)
		return 0;
	return ps->blob_len;
}

static const struct db_ops pg_ops = {
	p_exec, p_begin, p_in_transaction, p_close, p_prepare, p_finalize,
	p_reset, p_clear_bindings, p_param_index, p_bind_int64, p_bind_double,
	p_bind_text, p_bind_blob, p_bind_null, p_step, p_column_count,
	p_column_name, p_column_type, p_column_int64, p_column_double,
	p_column_text, p_column_blob, p_column_bytes,
};

static int
schema_version(struct db *db, const char *set, int *have)
{
	const char *params[1] = { set };
	PGresult *res = await(db, PQsendQueryParams(PGC(db)->conn,
	    "SELECT version FROM tlsrptd_schema WHERE name = $1", 1, NULL,
	    params, NULL, NULL, 0));

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		note(db, res);
		PQclear(res);
		return -1;
	}
	*have = PQntuples(res) ? (int)strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	return 0;
}

static int
run_migrations(struct db *db, const char *set, const char *pgset, char *err, size_t errlen)
{
	int have, want = store_schema_version(pgset);
	char record[160];

	if (schema_version(db, set, &have) != 0) {
		snprintf(err, errlen, "%s: %s", db->name, db_errmsg(db));
		return -1;
	}
	if (have > want) {
		snprintf(err, errlen, "%s: schema version %d is newer than this "
		    "program knows (%d); refusing to touch it", db->name, have, want);
		return -1;
	}
	for (int v = have + 1; v <= want; v++) {
		const struct store_migration *m = store_migration_find(pgset, v);

		if (m == NULL) {
			snprintf(err, errlen, "internal error: %s migration %d missing", pgset, v);
			return -1;
		}
		snprintf(record, sizeof(record), "INSERT INTO tlsrptd_schema VALUES "
		    "('%s', %d) ON CONFLICT (name) DO UPDATE SET version = %d", set, v, v);
		if (command(db, "BEGIN") != 0 || command(db, m->sql) != 0 ||
		    command(db, record) != 0 || command(db, "COMMIT") != 0) {
			snprintf(err, errlen, "%s: migration %s: %s", db->name, m->name,
			    db_errmsg(db));
			db_rollback(db);
			return -1;
		}
	}
	return 0;
}

static int
migrate(struct db *db, const char *set, char *err, size_t errlen)
{
	char pgset[64], sql[256];
	int rc;

	snprintf(pgset, sizeof(pgset), "pg-%s", set);
	if (store_schema_version(pgset) == 0) {
		snprintf(err, errlen, "internal error: no schema set '%s'", pgset);
		return -1;
	}
	snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS tlsrptd_%s; "
	    "SET search_path = tlsrptd_%s; CREATE TABLE IF NOT EXISTS tlsrptd_schema "
	    "(name TEXT PRIMARY KEY, version INTEGER NOT NULL)", set, set);
	/* One migrating process at a time, across hosts. */
	if (command(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")") != 0) {
		snprintf(err, errlen, "%s: %s", db->name, db_errmsg(db));
		return -1;
	}
	if (command(db, sql) != 0) {
		snprintf(err, errlen, "%s: %s", db->name, db_errmsg(db));
		rc = -1;
	} else
		rc = run_migrations(db, set, pgset, err, errlen);
	(void)command(db, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")");
	return rc;
}

int
db_pg_open(const char *uri, const char *set, long busy_timeout_ms,
    struct db *db, char *err, size_t errlen)
{
	/* The URI's own connect_timeout or application_name win. */
	const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *vals[] = { "10", "tlsrptd", uri, NULL };
	struct pg_conn *pc = xcalloc(1, sizeof(*pc));
	char sql[256];

	db->ops = &pg_ops;
	db->engine_state = pc;
	/* expand_dbname: the URI's own parameters override the defaults. */
	pc->conn = PQconnectdbParams(keys, vals, 1);
	if (pc->conn == NULL || PQstatus(pc->conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: %s", db->name,
		    pc->conn ? PQerrorMessage(pc->conn) : "out of memory");
		goto fail;
	}
	PQsetNoticeReceiver(pc->conn, NULL, NULL);
	PQsetNoticeProcessor(pc->conn, noop_notice, NULL);
	pc->generation = 1;
	/*
	 * The search path and the lock timeout are session settings: put
	 * them in the connection options so that PQreset keeps them.
	 */
	if (migrate(db, set, err, errlen) != 0)
		goto fail;
	PQfinish(pc->conn);
	snprintf(sql, sizeof(sql), "-c search_path=tlsrptd_%s -c lock_timeout=%ld "
	    "-c TimeZone=UTC -c client_min_messages=warning", set, busy_timeout_ms);
	{
		const char *k2[] = { "connect_timeout", "application_name", "dbname",
		    "options", NULL };
		const char *v2[] = { "10", "tlsrptd", uri, sql, NULL };

		pc->conn = PQconnectdbParams(k2, v2, 1);
	}
	if (pc->conn == NULL || PQstatus(pc->conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: %s", db->name,
		    pc->conn ? PQerrorMessage(pc->conn) : "out of memory");
		goto fail;
	}
	PQsetNoticeProcessor(pc->conn, noop_notice, NULL);
	/* Sending never blocks either: await() bounds the whole request. */
	(void)PQsetnonblocking(pc->conn, 1);
	db->engine_conn = pc->conn;
	return 0;
fail:
	{
		size_t n = strlen(err);

		while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		/* One line: libpq adds "\n\tIs the server running...". */
		for (size_t i = 0, o = 0; i <= n; i++) {
			char c = err[i] == '\n' || err[i] == '\t' ? ' ' : err[i];

			if (c != ' ' || o == 0 || err[o - 1] != ' ')
				err[o++] = c;
		}
	}
	PQfinish(pc->conn);
	free(pc);
	db->engine_state = NULL;
	return -1;
}

void
db_pg_set_timeout_ms(struct db *db, long timeout_ms)
{
	PGC(db)->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

enum db_commit_outcome
db_pg_commit_outcome(struct db *db)
{
	return resolve(db);
}

/*
 * Readers never create, migrate or write: the session's transactions are
 * read-only, and the schema version is only read (none yet: 0).
 */
int
db_pg_open_readonly(const char *uri, const char *set, long busy_timeout_ms,
    struct db *db, int *version, char *err, size_t errlen)
{
	struct pg_conn *pc = xcalloc(1, sizeof(*pc));
	const char *params[1] = { set };
	char options[256];
	const char *keys[] = { "connect_timeout", "application_name", "dbname",
	    "options", NULL };
	const char *vals[] = { "10", "tlsrptd", uri, options, NULL };
	PGresult *res;
	const char *state;

	db->ops = &pg_ops;
	db->engine_state = pc;
	snprintf(options, sizeof(options), "-c search_path=tlsrptd_%s "
	    "-c default_transaction_read_only=on -c lock_timeout=%ld "
	    "-c TimeZone=UTC -c client_min_messages=warning", set, busy_timeout_ms);
	pc->conn = PQconnectdbParams(keys, vals, 1);
	if (pc->conn == NULL || PQstatus(pc->conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: %s", db->name,
		    pc->conn ? PQerrorMessage(pc->conn) : "out of memory");
		goto fail;
	}
	PQsetNoticeProcessor(pc->conn, noop_notice, NULL);
	pc->generation = 1;
	db->engine_conn = pc->conn;
	res = PQexecParams(pc->conn, "SELECT version FROM tlsrptd_schema"
	    " WHERE name = $1", 1, NULL, params, NULL, NULL, 0);
	/* 42P01: no such table, nothing was ever migrated here. */
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) == PGRES_TUPLES_OK ||
	    (state != NULL && strcmp(state, "42P01") == 0)) {
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
			*version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		/* As db_pg_open(): requests are bounded by db_set_timeout_ms(). */
		(void)PQsetnonblocking(pc->conn, 1);
		return 0;
	}
	note(db, res);
	PQclear(res);
	snprintf(err, errlen, "%s: %s", db->name, db_errmsg(db));
fail:
	/* One line: libpq adds "\n\tIs the server running...". */
	{
		size_t o = 0;

		for (size_t i = 0; err[i] != '\0'; i++) {
			char c = err[i] == '\n' || err[i] == '\t' ? ' ' : err[i];

			if (c != ' ' || (o > 0 && err[o - 1] != ' '))
				err[o++] = c;
		}
		while (o > 0 && err[o - 1] == ' ')
			o--;
		err[o] = '\0';
	}
	PQfinish(pc->conn);
	free(pc);
	db->engine_state = NULL;
	db->engine_conn = NULL;
	return -1;
}
