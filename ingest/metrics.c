/*
 * NAME
 *	metrics - /metrics in the Prometheus text format 0.0.4
 * DESCRIPTION
 *	See metrics.h. Each family is written whole (HELP, TYPE, samples)
 *	so that its samples stay together, as the format requires.
 */
#include <stdio.h>
#include <string.h>

#include "metrics.h"

/* A label set: names and values alternate, NULL ends it. */
#define LABELS(...) ((const char *const[]){ __VA_ARGS__, NULL })

struct out {
	struct buf *b;
	int failed;	/* the cap was reached */
};

static void
put(struct out *o, const char *s)
{
	if (!o->failed && buf_puts(o->b, s) != 0)
		o->failed = 1;
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	if (!o->failed && buf_printf(o->b, "# HELP %s %s\n# TYPE %s %s\n", name,
	    help, name, type) != 0)
		o->failed = 1;
}

static void
label_value(struct out *o, const char *v)
{
	for (; *v && !o->failed; v++) {
		if (*v == '\\')
			put(o, "\\\\");
		else if (*v == '"')
			put(o, "\\\"");
		else if (*v == '\n')
			put(o, "\\n");
		else if (buf_putc(o->b, *v) != 0)
			o->failed = 1;
	}
}

static void
sample(struct out *o, const char *name, const char *const *labels,
    json_int_t value)
{
	put(o, name);
	for (size_t i = 0; labels != NULL && labels[i] != NULL; i += 2) {
		put(o, i == 0 ? "{" : ",");
		put(o, labels[i]);
		put(o, "=\"");
		label_value(o, labels[i + 1] ? labels[i + 1] : "");
		put(o, "\"");
	}
	if (labels != NULL && labels[0] != NULL)
		put(o, "}");
	if (!o->failed && buf_printf(o->b, " %lld\n", (long long)value) != 0)
		o->failed = 1;
}

static const char *
str(json_t *row, const char *key)
{
	const char *s = json_string_value(json_object_get(row, key));

	return s ? s : "";
}

static json_int_t
num(json_t *row, const char *key)
{
	return json_integer_value(json_object_get(row, key));
}

static void
inbound_sessions(struct out *o, json_t *series)
{
	static const char name[] = "tlsrpt_inbound_sessions_total";
	json_t *row;
	size_t i;

	family(o, name, "counter", "TLS sessions in the reports other "
	    "organizations sent about our domains.");
	json_array_foreach(json_object_get(json_object_get(series, "sessions"),
	    "rows"), i, row) {
		sample(o, name, LABELS("policy_domain", str(row, "policy_domain"),
		    "organization", str(row, "organization"), "result", "success"),
		    num(row, "successful"));
		sample(o, name, LABELS("policy_domain", str(row, "policy_domain"),
		    "organization", str(row, "organization"), "result", "failure"),
		    num(row, "failed"));
	}
}

static void
inbound_failures(struct out *o, json_t *series)
{
	static const char name[] = "tlsrpt_inbound_failures_total";
	json_t *row;
	size_t i;

	family(o, name, "counter", "Failed TLS sessions in received reports, "
	    "by result type.");
	json_array_foreach(json_object_get(json_object_get(series, "failures"),
	    "rows"), i, row)
		sample(o, name, LABELS("policy_domain", str(row, "policy_domain"),
		    "organization", str(row, "organization"), "result_type",
		    str(row, "result_type")), num(row, "sessions"));
}

static void
inbound_orgs(struct out *o, json_t *series)
{
	static const char reports[] = "tlsrpt_inbound_reports_total";
	static const char last[] = "tlsrpt_inbound_last_report_received_timestamp_seconds";
	json_t *rows = json_object_get(json_object_get(series, "organizations"), "rows");
	json_t *row;
	size_t i;

	family(o, reports, "counter", "Reports stored, by reporting organization.");
	json_array_foreach(rows, i, row)
		sample(o, reports, LABELS("organization", str(row, "organization")),
		    num(row, "reports"));
	family(o, last, "gauge", "When the newest report of an organization "
	    "arrived (Unix time).");
	json_array_foreach(rows, i, row)
		sample(o, last, LABELS("organization", str(row, "organization")),
		    num(row, "last_received"));
}

static void
dropped(struct out *o, json_t *series)
{
	static const char name[] = "tlsrpt_metrics_series_dropped";
	static const char *const parts[][2] = {
		{ "sessions", "tlsrpt_inbound_sessions_total" },
		{ "failures", "tlsrpt_inbound_failures_total" },
		{ "organizations", "tlsrpt_inbound_reports_total" },
	};

	family(o, name, "gauge", "Label sets left out of a metric beyond the "
	    "series cap (the largest are kept).");
	for (size_t i = 0; i < sizeof(parts) / sizeof(*parts); i++)
		sample(o, name, LABELS("metric", parts[i][1]),
		    num(json_object_get(series, parts[i][0]), "dropped"));
}

/* ingest_stat names as outcomes; "received" is the sum's own metric. */
static void
ingest(struct out *o, json_t *stat)
{
	static const char name[] = "tlsrpt_ingest_requests_total";
	const char *key, *outcome;
	json_t *v;

	family(o, "tlsrpt_ingest_received_total", "counter",
	    "Reports received over HTTPS and mail, before any check.");
	sample(o, "tlsrpt_ingest_received_total", NULL, num(stat, "received"));
	family(o, name, "counter", "Received reports and refused requests by "
	    "outcome (stored, duplicate, store_error, rejected_<reason>).");
	json_object_foreach(stat, key, v) {
		if (strcmp(key, "received") == 0)
			continue;
		outcome = strcmp(key, "duplicates") == 0 ? "duplicate" :
		    strcmp(key, "store_errors") == 0 ? "store_error" : key;
		sample(o, name, LABELS("outcome", outcome), json_integer_value(v));
	}
}

static void
states(struct out *o, const char *name, const char *help, json_t *counts)
{
	const char *key;
	json_t *v;

	family(o, name, "gauge", help);
	json_object_foreach(counts, key, v)
		sample(o, name, LABELS("state", key), json_integer_value(v));
}

static void
outbound(struct out *o, json_t *ob)
{
	static const char events[] = "tlsrpt_collector_events_total";
	json_t *collector = json_object_get(ob, "collector");
	const char *key;
	json_t *v;

	states(o, "tlsrpt_outbound_reports", "Reports we built, by state.",
	    json_object_get(ob, "reports"));
	states(o, "tlsrpt_outbound_deliveries", "Deliveries of our reports "
	    "to rua destinations, by state.", json_object_get(ob, "deliveries"));
	family(o, events, "counter", "The collector's counters since 00:00 UTC "
	    "(reset daily).");
	json_object_foreach(json_object_get(collector, "counters"), key, v)
		sample(o, events, LABELS("counter", key), json_integer_value(v));
}

int
metrics_text(struct query *q, struct buf *b, char *err, size_t errlen)
{
	struct out o = { b, 0 };
	json_t *status = NULL, *series = NULL, *in, *ob;
	enum query_rc rc;

	if (query_status(q, &status, err, errlen) != QUERY_OK)
		return -1;
	in = json_object_get(status, "inbound");
	ob = json_object_get(status, "outbound");
	family(&o, "tlsrpt_database_available", "gauge",
	    "1 when the database can be read.");
	sample(&o, "tlsrpt_database_available", LABELS("database", "inbound"),
	    json_is_true(json_object_get(in, "available")));
	sample(&o, "tlsrpt_database_available", LABELS("database", "outbound"),
	    json_is_true(json_object_get(ob, "available")));
	rc = query_series(q, &series, err, errlen);
	if (rc == QUERY_OK) {
		inbound_orgs(&o, series);
		inbound_sessions(&o, series);
		inbound_failures(&o, series);
		dropped(&o, series);
		ingest(&o, json_object_get(in, "ingest"));
	}
	if (json_is_true(json_object_get(ob, "available")))
		outbound(&o, ob);
	json_decref(status);
	json_decref(series);
	if (rc != QUERY_OK && rc != QUERY_UNAVAILABLE)
		return -1;
	if (o.failed)
		snprintf(err, errlen, "metrics text larger than %zu bytes", b->max);
	return o.failed ? -1 : 0;
}
