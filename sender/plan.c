/*
 * NAME
 *	plan - find where each new report goes
 * DESCRIPTION
 *	See plan.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dns.h"
#include "log.h"
#include "mem.h"
#include "plan.h"
#include "txt.h"

/* 1: record copied to out; 0: no destination (why set); -1: try later. */
static int
lookup(const struct plan_opts *o, const char *domain, char **out, char *why,
    size_t whylen)
{
	char name[300], err[256];
	char **records = NULL;
	const char *chosen = NULL;
	size_t n = 0;
	enum dns_result r;
	int rc;

	snprintf(name, sizeof(name), "_smtp._tls.%s", domain);
	r = dns_txt(name, o->dns_server, &records, &n, err, sizeof(err));
	if (r == DNS_TEMPFAIL) {
		snprintf(why, whylen, "DNS lookup of %s failed: %s", name, err);
		return -1;
	}
	if (r == DNS_NODATA) {
		snprintf(why, whylen, "no TXT record at %s", name);
		dns_txt_free(records, n);
		return 0;
	}
	rc = txt_select((const char *const *)records, n, &chosen, err, sizeof(err));
	if (rc == 0)
		*out = xstrdup(chosen);
	else
		snprintf(why, whylen, "%s: %s", name, err);
	dns_txt_free(records, n);
	return rc == 0 ? 1 : 0;
}

/* Time spent waiting before try n+1 (without jitter): base, 2 base, ... */
static long
waited(const struct backoff *bo, int n)
{
	long total = 0, d = bo->base_s;

	for (int i = 0; i < n; i++) {
		total += d;
		if (d < bo->max_s)
			d = d * 2 > bo->max_s ? bo->max_s : d * 2;
	}
	return total;
}

static time_t
first_attempt(const struct plan_opts *o, time_t now)
{
	uint32_t r = 0;

	if (o->spread_s <= 0)
		return now;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)now;
	return now + (time_t)(r % (uint32_t)(o->spread_s + 1));
}

static int
add_destinations(struct outbox *ob, const struct plan_opts *o,
    const struct unplanned *u, const struct txt_record *tr, struct plan_stats *st)
{
	const char **uris = xcalloc(tr->nrua, sizeof(char *));
	const char **schemes = xcalloc(tr->nrua, sizeof(char *));
	const char **targets = xcalloc(tr->nrua, sizeof(char *));
	time_t *at = xcalloc(tr->nrua, sizeof(time_t)), now = time(NULL);
	int rc = 0;

	for (size_t i = 0; i < tr->nrua; i++) {
		uris[i] = tr->rua[i].uri;
		schemes[i] = tr->rua[i].scheme == TXT_MAILTO ? "mailto" : "https";
		targets[i] = tr->rua[i].target;
		at[i] = first_attempt(o, now);
		if (o->dry_run)
			printf("report %lld %s %s: would send to %s\n",
			    (long long)u->id, u->report_domain, u->day, uris[i]);
	}
	if (!o->dry_run)
		rc = outbox_plan(ob, u->id, uris, schemes, targets, tr->nrua, at);
	if (rc == 0) {
		st->planned++;
		st->destinations += tr->nrua;
		log_info("%s %s: %zu destination(s)%s", u->report_domain, u->day,
		    tr->nrua, tr->skipped ? " (some rua URIs skipped)" : "");
	}
	free(uris);
	free(schemes);
	free(targets);
	free(at);
	return rc;
}

static int
no_destination(struct outbox *ob, const struct plan_opts *o,
    const struct unplanned *u, const char *why, struct plan_stats *st)
{
	st->no_destination++;
	log_warnx("%s %s: no report sent: %s", u->report_domain, u->day, why);
	if (o->dry_run) {
		printf("report %lld %s %s: no destination: %s\n", (long long)u->id,
		    u->report_domain, u->day, why);
		return 0;
	}
	return outbox_no_destination(ob, u->id, why);
}

static int
plan_one(struct outbox *ob, const struct plan_opts *o, const struct unplanned *u,
    struct plan_stats *st)
{
	char why[1024] = "", err[256];
	char *record = NULL;
	struct txt_record tr;
	int rc;

	if (!o->always_lookup && *u->record)
		record = xstrdup(u->record);
	else if ((rc = lookup(o, u->report_domain, &record, why, sizeof(why))) <= 0) {
		if (rc == 0)
			return no_destination(ob, o, u, why, st);
		long delay = outbox_retry_delay(&o->bo, u->plan_attempts + 1);
		st->deferred++;
		log_warnx("%s %s: %s; will try again", u->report_domain, u->day, why);
		if (o->dry_run) {
			printf("report %lld %s %s: lookup failed, would try again: %s\n",
			    (long long)u->id, u->report_domain, u->day, why);
			return 0;
		}
		if (waited(&o->bo, u->plan_attempts + 1) > o->bo.window_s)
			return no_destination(ob, o, u, why, st);
		return outbox_plan_later(ob, u->id, u->plan_attempts + 1,
		    time(NULL) + delay, why);
	}
	if (txt_parse(record, &tr, err, sizeof(err)) != 0) {
		snprintf(why, sizeof(why), "invalid TLSRPT record \"%.200s\": %s",
		    record, err);
		free(record);
		return no_destination(ob, o, u, why, st);
	}
	free(record);
	rc = add_destinations(ob, o, u, &tr, st);
	txt_record_free(&tr);
	return rc;
}

int
plan_reports(struct outbox *ob, const struct plan_opts *o, struct plan_stats *st)
{
	struct unplanned *u;
	size_t n;
	int rc = 0;

	if (outbox_unplanned(ob, time(NULL), &u, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (plan_one(ob, o, &u[i], st) != 0)
			rc = -1;
	outbox_unplanned_free(u, n);
	return rc;
}
