/*
 * NAME
 *	report - build RFC 8460 aggregate reports
 * DESCRIPTION
 *	See report.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "day.h"
#include "mem.h"
#include "report.h"

int
report_check_identity(const char *org, const char *contact,
    const char *submitter, char *err, size_t errlen)
{
	const char *at = strrchr(contact, '@');

	if (*org == '\0' || *contact == '\0' || *submitter == '\0') {
		snprintf(err, errlen, "organization_name, contact_info and "
		    "report_submitter must be set");
		return -1;
	}
	if (at == NULL || strcasecmp(at + 1, submitter) != 0) {
		snprintf(err, errlen, "contact_info '%s' is not an address at "
		    "report_submitter '%s'", contact, submitter);
		return -1;
	}
	return 0;
}

int
report_date_range(const char *day, int end_inclusive, char start[21], char end[21])
{
	time_t t;
	char next[DAY_LEN];

	if (day_parse(day, &t) != 0)
		return -1;
	snprintf(start, 21, "%sT00:00:00Z", day);
	if (end_inclusive) {
		snprintf(end, 21, "%sT23:59:59Z", day);
	} else {
		day_format(t + 86400, next);
		snprintf(end, 21, "%sT00:00:00Z", next);
	}
	return 0;
}

json_t *
report_new(const char *org, const char *contact, const char *report_id,
    const char *day, int end_inclusive)
{
	char start[21], end[21];

	if (report_date_range(day, end_inclusive, start, end) != 0)
		return NULL;
	return json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:[]}",
	    "organization-name", org,
	    "date-range", "start-datetime", start, "end-datetime", end,
	    "contact-info", contact,
	    "report-id", report_id,
	    "policies");
}

static int
nonempty_array(json_t *a)
{
	return a != NULL && json_is_array(a) && json_array_size(a) > 0;
}

json_t *
report_add_policy(json_t *report, const char *type, const char *domain,
    json_t *strings, json_t *mx, uint64_t successes, uint64_t failures)
{
	json_t *pol = json_object(), *entry;

	json_object_set_new(pol, "policy-type", json_string(type));
	if (nonempty_array(strings))
		json_object_set(pol, "policy-string", strings);
	json_object_set_new(pol, "policy-domain", json_string(domain));
	if (nonempty_array(mx))
		json_object_set(pol, "mx-host", mx);
	json_decref(strings);
	json_decref(mx);
	entry = json_pack("{s:o, s:{s:I, s:I}}", "policy", pol, "summary",
	    "total-successful-session-count", (json_int_t)successes,
	    "total-failure-session-count", (json_int_t)failures);
	json_array_append_new(json_object_get(report, "policies"), entry);
	return entry;
}

static void
set_if(json_t *obj, const char *key, const char *v)
{
	if (v != NULL && *v != '\0')
		json_object_set_new(obj, key, json_string(v));
}

void
report_add_failure(json_t *policy, const char *result_type,
    const struct report_detail *d, uint64_t count)
{
	json_t *details = json_object_get(policy, "failure-details");
	json_t *row = json_object();

	if (details == NULL) {
		details = json_array();
		json_object_set_new(policy, "failure-details", details);
	}
	json_object_set_new(row, "result-type", json_string(result_type));
	set_if(row, "sending-mta-ip", d->sending_ip);
	set_if(row, "receiving-mx-hostname", d->mx_hostname);
	set_if(row, "receiving-mx-helo", d->mx_helo);
	set_if(row, "receiving-ip", d->receiving_ip);
	json_object_set_new(row, "failed-session-count", json_integer((json_int_t)count));
	set_if(row, "additional-information", d->additional_info);
	set_if(row, "failure-reason-code", d->reason);
	json_array_append_new(details, row);
}

/* One failure-details row, for sorting by count. */
struct row_ref {
	size_t policy;
	json_t *row;
	json_int_t count;
};

static int
by_count(const void *a, const void *b)
{
	const struct row_ref *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? -1 : 1;
	return x->policy < y->policy ? -1 : x->policy > y->policy;
}

static const char *const detail_fields[] = {
	"sending-mta-ip", "receiving-mx-hostname", "receiving-mx-helo",
	"receiving-ip", "additional-information", "failure-reason-code",
};

/* Folds row into acc: sums the count, keeps only fields both share. */
static void
fold(json_t *acc, json_t *row)
{
	json_int_t n = json_integer_value(json_object_get(acc, "failed-session-count")) +
	    json_integer_value(json_object_get(row, "failed-session-count"));

	json_object_set_new(acc, "failed-session-count", json_integer(n));
	for (size_t i = 0; i < sizeof(detail_fields) / sizeof(*detail_fields); i++) {
		json_t *a = json_object_get(acc, detail_fields[i]);
		json_t *b = json_object_get(row, detail_fields[i]);
		if (a != NULL && !json_equal(a, b))
			json_object_del(acc, detail_fields[i]);
	}
}

/* Temporary marks; never serialised (removed before the round ends). */
#define VICTIM "\001merge"

/* Merges the less frequent half of all rows; returns rows removed. */
static size_t
merge_round(json_t *report)
{
	json_t *policies = json_object_get(report, "policies"), *pol;
	struct row_ref *refs;
	size_t n = 0, i, j, take, removed = 0;

	json_array_foreach(policies, i, pol)
		n += json_array_size(json_object_get(pol, "failure-details"));
	if (n < 2)
		return 0;
	refs = xcalloc(n, sizeof(*refs));
	n = 0;
	json_array_foreach(policies, i, pol) {
		json_t *row;
		json_array_foreach(json_object_get(pol, "failure-details"), j, row) {
			refs[n].policy = i;
			refs[n].row = row;
			refs[n].count = json_integer_value(json_object_get(row,
			    "failed-session-count"));
			n++;
		}
	}
	qsort(refs, n, sizeof(*refs), by_count);
	take = n / 2 < 2 ? 2 : n / 2;
	for (size_t k = 0; k < take; k++)
		json_object_set_new(refs[k].row, VICTIM, json_true());
	json_array_foreach(policies, i, pol) {
		json_t *details = json_object_get(pol, "failure-details");
		json_t *kept = json_array(), *merged = json_object(), *row;
		size_t folded;

		/* Per result-type accumulator of this policy's merged rows. */
		json_array_foreach(details, j, row) {
			if (json_object_get(row, VICTIM) == NULL) {
				json_array_append(kept, row);
				continue;
			}
			const char *type = json_string_value(json_object_get(row, "result-type"));
			json_t *acc = json_object_get(merged, type ? type : "");
			if (acc == NULL) {
				acc = json_deep_copy(row);
				json_object_set_new(acc, "merged-rows", json_integer(1));
				json_object_set_new(merged, type ? type : "", acc);
			} else {
				fold(acc, row);
				json_object_set_new(acc, "merged-rows", json_integer(
				    json_integer_value(json_object_get(acc, "merged-rows")) + 1));
			}
		}
		const char *key;
		json_t *acc;
		json_object_foreach(merged, key, acc) {
			char note[96];
			folded = (size_t)json_integer_value(json_object_get(acc, "merged-rows"));
			json_object_del(acc, "merged-rows");
			json_object_del(acc, VICTIM);
			if (folded > 1) {
				removed += folded - 1;
				snprintf(note, sizeof(note), "%zu failure-details rows merged "
				    "to keep the report size bounded", folded);
				json_object_set_new(acc, "failure-reason-code", json_string(note));
			}
			json_array_append(kept, acc);
		}
		json_object_set_new(pol, "failure-details", kept);
		json_decref(merged);
	}
	free(refs);
	return removed;
}

int
report_serialize(json_t *report, size_t max_bytes, struct buf *out, size_t *merged)
{
	*merged = 0;
	for (;;) {
		char *text = json_dumps(report, JSON_COMPACT);
		size_t len, removed;

		if (text == NULL)
			return -1;
		len = strlen(text);
		if (len <= max_bytes) {
			buf_reset(out);
			int rc = buf_append(out, text, len);
			free(text);
			return rc;
		}
		free(text);
		removed = merge_round(report);
		if (removed == 0)
			return -1;	/* nothing left to merge */
		*merged += removed;
	}
}
