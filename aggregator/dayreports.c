/*
 * NAME
 *	dayreports - turn one UTC day of collector counters into reports
 * DESCRIPTION
 *	See dayreports.h. Both statements order by the whole policy key
 *	(unique within a day, so the order is total and independent of the
 *	order datagrams arrived in), so one pass over each builds every
 *	report of the day with only one report in memory at a time.
 *
 *	The SQL is the dialect SQLite and PostgreSQL share (lib/db.h). The
 *	ORDER BY compares text bytewise on SQLite; PostgreSQL does so under
 *	the C collation, and then builds byte-identical reports.
 */
#include <stdio.h>
#include <string.h>

#include "dayreports.h"
#include "event.h"
#include "log.h"
#include "report.h"

static const char SQL_POLICIES[] =
    "SELECT id, report_domain, tlsrpt_record, policy_type, policy_domain,"
    " policy_strings, mx_hosts, successful_sessions, failed_sessions"
    " FROM policy_counter WHERE day = ?1"
    " AND report_domain = COALESCE(?2, report_domain)"
    " ORDER BY report_domain, tlsrpt_record, policy_type, policy_domain,"
    " policy_strings, mx_hosts";

static const char SQL_FAILURES[] =
    "SELECT f.policy_id, f.result_code, f.sending_mta_ip,"
    " f.receiving_mx_hostname, f.receiving_mx_helo, f.receiving_ip,"
    " f.additional_information, f.failure_reason_code, f.sessions"
    " FROM failure_counter f JOIN policy_counter p ON p.id = f.policy_id"
    " WHERE p.day = ?1 AND p.report_domain = COALESCE(?2, p.report_domain)"
    " ORDER BY p.report_domain, p.tlsrpt_record, p.policy_type,"
    " p.policy_domain, p.policy_strings, p.mx_hosts,"
    " f.sessions DESC, f.result_code, f.sending_mta_ip,"
    " f.receiving_mx_hostname, f.receiving_ip, f.receiving_mx_helo,"
    " f.additional_information, f.failure_reason_code";

void
dayreports_id(const char *day, const char *domain, const char *record,
    const char *submitter, char *out, size_t outlen)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a of the record */
	char compact[9];
	size_t j = 0;

	for (const char *p = record; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ULL;
	}
	for (const char *p = day; *p && j < 8; p++)
		if (*p != '-')
			compact[j++] = *p;
	compact[j] = '\0';
	snprintf(out, outlen, "%s.%s.%012llx@%s", compact, domain,
	    (unsigned long long)(h & 0xFFFFFFFFFFFFULL), submitter);
}

static const char *
col(struct db_stmt *st, int i)
{
	const char *t = db_column_text(st, i);

	return t ? t : "";
}

static json_t *
col_array(struct db_stmt *st, int i)
{
	json_t *a = json_loads(col(st, i), 0, NULL);

	if (a != NULL && !json_is_array(a)) {
		json_decref(a);
		a = NULL;
	}
	return a;
}

/* Adds the failures of policy `id`; fst is positioned on a row or done. */
static int
add_failures(struct db_stmt *fst, int *frc, int64_t id, json_t *pol,
    struct build_stats *st)
{
	/* Both streams are in the same order: this policy's rows are next. */
	while (*frc == DB_ROW && db_column_int64(fst, 0) == id) {
		if (pol != NULL) {
			long code = (long)db_column_int64(fst, 1);
			const char *type = ev_result_type_name(code);
			char reason[1024];
			struct report_detail d = {
				col(fst, 2), col(fst, 3), col(fst, 4), col(fst, 5),
				col(fst, 6), col(fst, 7),
			};
			if (type == NULL) {
				type = "validation-failure";
				snprintf(reason, sizeof(reason), "unknown result code %ld%s%s",
				    code, *d.reason ? ": " : "", d.reason);
				d.reason = reason;
				st->unknown_codes++;
			}
			report_add_failure(pol, type, &d,
			    (uint64_t)db_column_int64(fst, 8));
		}
		*frc = db_step(fst);
	}
	return *frc == DB_ERROR ? -1 : 0;
}

static int
finish(struct day_report *r, day_report_cb cb, void *arg, struct build_stats *st)
{
	int rc = 0;

	if (r->json != NULL && r->policies > 0) {
		rc = cb(r, arg);
		st->reports++;
	}
	json_decref(r->json);
	r->json = NULL;
	return rc;
}

static int
same_group(const struct day_report *r, struct db_stmt *pst)
{
	return r->json != NULL && strcmp(r->report_domain, col(pst, 1)) == 0 &&
	    strcmp(r->record, col(pst, 2)) == 0;
}

static int
walk(struct db_stmt *pst, struct db_stmt *fst, const char *day,
    const struct build_opts *o, day_report_cb cb, void *arg,
    struct build_stats *st)
{
	struct day_report r;
	char domain[256] = "", record[4096] = "";
	int prc, frc = db_step(fst);

	memset(&r, 0, sizeof(r));
	r.day = day;
	r.report_domain = domain;
	r.record = record;
	while ((prc = db_step(pst)) == DB_ROW) {
		const char *type = ev_policy_type_name((long)db_column_int64(pst, 3));
		json_t *pol = NULL;

		if (!same_group(&r, pst)) {
			if (finish(&r, cb, arg, st) != 0)
				return -1;
			snprintf(domain, sizeof(domain), "%s", col(pst, 1));
			snprintf(record, sizeof(record), "%s", col(pst, 2));
			dayreports_id(day, domain, record, o->submitter, r.report_id,
			    sizeof(r.report_id));
			r.json = report_new(o->org, o->contact, r.report_id, day,
			    o->end_inclusive);
			r.policies = 0;
			r.successes = r.failures = 0;
			if (r.json == NULL)
				return -1;
		}
		if (type == NULL) {
			st->skipped_policies++;
		} else {
			uint64_t ok = (uint64_t)db_column_int64(pst, 7);
			uint64_t bad = (uint64_t)db_column_int64(pst, 8);
			pol = report_add_policy(r.json, type, col(pst, 4),
			    col_array(pst, 5), col_array(pst, 6), ok, bad);
			r.policies++;
			r.successes += ok;
			r.failures += bad;
		}
		if (add_failures(fst, &frc, db_column_int64(pst, 0), pol, st) != 0)
			goto read_error;
	}
	if (prc != DB_DONE || frc == DB_ERROR)
		goto read_error;
	if (frc != DB_DONE) {
		log_warnx("%s: failure rows out of step with policy rows", day);
		json_decref(r.json);
		return -1;
	}
	return finish(&r, cb, arg, st);
read_error:
	log_warnx("%s: reading counters: %s", day, db_errmsg(db_stmt_db(pst)));
	json_decref(r.json);
	return -1;
}

int
dayreports_build(struct db *db, const char *day, const char *only_domain,
    const struct build_opts *o, day_report_cb cb, void *arg,
    struct build_stats *st)
{
	struct db_stmt *pst = NULL, *fst = NULL;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if (db_begin_read(db) != 0 || db_prepare(db, SQL_POLICIES, &pst) != 0 ||
	    db_prepare(db, SQL_FAILURES, &fst) != 0) {
		log_warnx("%s: reading counters: %s", day, db_errmsg(db));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		struct db_stmt *s = i ? fst : pst;

		if (db_bind_text(s, 1, day, -1) != 0 || (only_domain ?
		    db_bind_text(s, 2, only_domain, -1) : db_bind_null(s, 2)) != 0) {
			log_warnx("%s: reading counters: %s", day, db_errmsg(db));
			goto out;
		}
	}
	rc = walk(pst, fst, day, o, cb, arg, st);
out:
	db_finalize(pst);
	db_finalize(fst);
	/* Only read: ending the snapshot cannot lose anything. */
	db_rollback(db);
	return rc;
}
