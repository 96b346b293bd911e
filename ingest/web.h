/*
 * NAME
 *	web - the dashboard, its JSON API and /metrics in tlsrpt-ingestd
 * SYNOPSIS
 *	struct web_opts o = { inbound_db, outbound_db, user, password, 5000 };
 *	struct web *w = web_open(&o, err, sizeof(err));
 *	in the libmicrohttpd handler, first call of a request:
 *		return web_handle(w, connection, url, method);
 *	web_close(w);
 * DESCRIPTION
 *	Answers GET and HEAD (anything else: 405) from the first call of
 *	the request, so the caller keeps no state for it. Everything is
 *	read from the databases on each request, read-only (ingest/query.h):
 *
 *	Pages (HTML shells; ingest/web/app.js fills them from the API):
 *	  /              per-domain success rate over time, domain totals
 *	  /failures      failures by result type and by receiving MX
 *	  /reports       recent received reports
 *	  /report?id=N   one report: policies, failure details, its JSON
 *	  /outbound      reports we sent and each delivery's state
 *	  /assets/NAME   style.css, app.js, icon.svg
 *	Pages take domain, org, since, until (YYYY-MM-DD) in the query
 *	string and pass them on to the API.
 *
 *	JSON API (application/json; filters domain, org, since, until,
 *	limit as query arguments, see query.h):
 *	  /api/status            totals of both databases, ingest and
 *	                         collector counters
 *	  /api/domains           per policy domain
 *	  /api/summary           per policy domain, day and organization
 *	  /api/reports           received reports, newest first
 *	  /api/reports/N         one report with policies and failures
 *	  /api/reports/N/raw     its JSON text as received (after gunzip)
 *	  /api/failures          per result type and receiving MX
 *	  /api/outbound          our reports with their deliveries
 *	Errors are {"error": "..."} with 400 (bad filter), 404 (no such
 *	report or endpoint), 503 (database unavailable, e.g. no outbound
 *	database) or 500.
 *
 *	/metrics: Prometheus text format 0.0.4; see ingest/metrics.h.
 *
 *	Basic auth: when user is not "", every URL served here needs it,
 *	/metrics included (it names the same domains and organisations as
 *	the dashboard; Prometheus scrape configs take basic_auth). Report
 *	POSTs to ingest_path never reach this module and never need it.
 *	Credentials are compared in constant time; failures are logged,
 *	rate-limited. Every answer carries a Content-Security-Policy that
 *	allows only this origin: no inline script, nothing from elsewhere.
 * DIAGNOSTICS
 *	web_open() returns NULL with a reason in err when user and
 *	password do not come together.
 */
#ifndef TLSRPTD_WEB_H
#define TLSRPTD_WEB_H

#include <stddef.h>
#include <microhttpd.h>

struct web_opts {
	const char *inbound_db;
	const char *outbound_db;	/* "" when there is none */
	const char *user;		/* "" for no authentication */
	const char *password;
	long busy_timeout_ms;
};

struct web;

struct web *web_open(const struct web_opts *o, char *err, size_t errlen);
void web_close(struct web *w);
enum MHD_Result web_handle(struct web *w, struct MHD_Connection *c,
    const char *url, const char *method);

/*
 * For webapi.c: queues body (freed with free() when must_free, else
 * static) with the security headers and cache_control.
 */
enum MHD_Result web_reply(struct MHD_Connection *c, unsigned status,
    const char *content_type, const void *body, size_t len, int must_free,
    const char *cache_control);

#endif
