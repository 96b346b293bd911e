/*
 * NAME
 *	outbox - delivery state of reports in the outbound database
 * SYNOPSIS
 *	struct outbox *ob = outbox_open(db, &backoff);
 *	n = outbox_recover(ob);			in-flight rows back to pending
 *	outbox_claim(ob, id, now);		pending -> in-flight, committed
 *	outbox_delivered(ob, id, now, code, excerpt);
 *	outbox_failed(ob, id, now, error, code, excerpt, &final);
 * DESCRIPTION
 *	Every transition is its own committed transaction, so the database
 *	always says what happened: a row is in-flight before a byte leaves
 *	and delivered only after the receiver said yes. After a crash only
 *	in-flight rows are in doubt; outbox_recover() retries them (the one
 *	case where a receiver may see a report twice).
 *
 *	Back-off: the n-th failure waits send_retry_base_s * 2^(n-1), at most
 *	send_retry_max_s, with +-10% jitter; a destination whose next
 *	attempt would fall later than send_retry_window_s after its first
 *	attempt is marked failed. A report is delivered as soon as one of
 *	its destinations is, failed when all of them have failed.
 */
#ifndef TLSRPTD_OUTBOX_H
#define TLSRPTD_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "db.h"

struct backoff {
	long base_s, max_s, window_s;
};

/* A delivery that is due, with what is needed to send it. */
struct due {
	int64_t id, report;
	char scheme[8];		/* "mailto" or "https" */
	char *target, *uri;
	int attempts;
	char *report_id, *report_domain, *day;
	unsigned char *gz;
	size_t gzlen;
};

/* A report still waiting for its destinations. */
struct unplanned {
	int64_t id;
	char *report_domain, *record, *day;
	int plan_attempts;
};

struct outbox;

struct outbox *outbox_open(struct db *db, const struct backoff *bo);
void outbox_close(struct outbox *ob);
int outbox_recover(struct outbox *ob);
int outbox_unplanned(struct outbox *ob, time_t now, struct unplanned **out,
    size_t *n);
void outbox_unplanned_free(struct unplanned *u, size_t n);
int outbox_plan(struct outbox *ob, int64_t report, const char *const *uris,
    const char *const *schemes, const char *const *targets, size_t n,
    const time_t *first_at) __attribute__((warn_unused_result));
int outbox_no_destination(struct outbox *ob, int64_t report, const char *why)
    __attribute__((warn_unused_result));
int outbox_plan_later(struct outbox *ob, int64_t report, int attempts,
    time_t next, const char *why) __attribute__((warn_unused_result));
int outbox_due(struct outbox *ob, time_t now, size_t limit, struct due **out,
    size_t *n) __attribute__((warn_unused_result));
void outbox_due_free(struct due *d, size_t n);
int outbox_claim(struct outbox *ob, int64_t id, time_t now)
    __attribute__((warn_unused_result));
int outbox_delivered(struct outbox *ob, int64_t id, time_t now, long code,
    const char *excerpt) __attribute__((warn_unused_result));
int outbox_failed(struct outbox *ob, int64_t id, time_t now, const char *error,
    long code, const char *excerpt, int *final) __attribute__((warn_unused_result));
/* Seconds to wait after the attempts-th failure (jittered). */
long outbox_retry_delay(const struct backoff *bo, int attempts);

#endif
