/*
 * NAME
 *	webapi - the dashboard's JSON API (/api/...)
 * DESCRIPTION
 *	See webapi.h and web.h. Query arguments are read through
 *	libmicrohttpd (already percent-decoded) and checked by
 *	query_filter_check(); nothing from the URL reaches SQL but as a
 *	bound parameter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"
#include "webapi.h"

#define JSON_TYPE "application/json; charset=utf-8"

typedef enum query_rc (*list_fn)(struct query *, const struct query_filter *,
    json_t **, char *, size_t);

static const struct {
	const char *path;
	list_fn fn;
} lists[] = {
	{ "/domains", query_domains },
	{ "/summary", query_summary },
	{ "/reports", query_reports },
	{ "/failures", query_failures },
	{ "/outbound", query_outbound },
};

static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned status, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);

	json_decref(v);
	if (text == NULL)
		return MHD_NO;
	return web_reply(c, status, JSON_TYPE, text, strlen(text), 1, "no-store");
}

static enum MHD_Result
send_error(struct MHD_Connection *c, enum query_rc rc, const char *why)
{
	static const unsigned status[] = {
		[QUERY_OK] = MHD_HTTP_OK,
		[QUERY_BAD_FILTER] = MHD_HTTP_BAD_REQUEST,
		[QUERY_NOT_FOUND] = MHD_HTTP_NOT_FOUND,
		[QUERY_UNAVAILABLE] = MHD_HTTP_SERVICE_UNAVAILABLE,
		[QUERY_FAULT] = MHD_HTTP_INTERNAL_SERVER_ERROR,
	};

	json_t *v = json_pack("{s:s}", "error", why);

	if (v == NULL)	/* not UTF-8 */
		v = json_pack("{s:s}", "error", "(unprintable error text)");
	return send_json(c, status[rc], v);
}

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static int
read_filter(struct MHD_Connection *c, struct query_filter *f, char *err,
    size_t errlen)
{
	const char *limit = arg(c, "limit");
	char *end;

	memset(f, 0, sizeof(*f));
	f->domain = arg(c, "domain");
	f->org = arg(c, "org");
	f->since = arg(c, "since");
	f->until = arg(c, "until");
	if (limit != NULL && *limit != '\0') {
		errno = 0;
		f->limit = strtol(limit, &end, 10);
		if (*end != '\0' || errno != 0 || f->limit < 1) {
			snprintf(err, errlen, "limit is 1 to %d", QUERY_MAX_LIMIT);
			return -1;
		}
	}
	return query_filter_check(f, err, errlen) == QUERY_OK ? 0 : -1;
}

/* "/reports/N" or "/reports/N/raw": *raw set for the latter. */
static int
report_id(const char *path, long long *id, int *raw)
{
	const char *p = path + strlen("/reports/");
	char *end;

	if (strncmp(path, "/reports/", 9) != 0 || *p < '1' || *p > '9')
		return -1;
	errno = 0;
	*id = strtoll(p, &end, 10);
	if (errno != 0)
		return -1;
	*raw = strcmp(end, "/raw") == 0;
	return *raw || *end == '\0' ? 0 : -1;
}

static enum MHD_Result
one_report(struct query *q, struct MHD_Connection *c, long long id, int raw)
{
	json_t *out;
	char *text;
	size_t len;
	enum query_rc rc;
	char err[512];

	if (!raw) {
		if ((rc = query_report(q, id, &out, err, sizeof(err))) != QUERY_OK)
			return send_error(c, rc, err);
		return send_json(c, MHD_HTTP_OK, out);
	}
	if ((rc = query_report_raw(q, id, &text, &len, err, sizeof(err))) != QUERY_OK)
		return send_error(c, rc, err);
	return web_reply(c, MHD_HTTP_OK, JSON_TYPE, text, len, 1, "no-store");
}

enum MHD_Result
webapi_handle(struct query *q, struct MHD_Connection *c, const char *path)
{
	struct query_filter f;
	json_t *out;
	long long id;
	enum query_rc rc;
	char err[512];
	int raw;

	if (strcmp(path, "/status") == 0) {
		if ((rc = query_status(q, &out, err, sizeof(err))) != QUERY_OK)
			return send_error(c, rc, err);
		return send_json(c, MHD_HTTP_OK, out);
	}
	if (report_id(path, &id, &raw) == 0)
		return one_report(q, c, id, raw);
	for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++) {
		if (strcmp(path, lists[i].path) != 0)
			continue;
		if (read_filter(c, &f, err, sizeof(err)) != 0)
			return send_error(c, QUERY_BAD_FILTER, err);
		if ((rc = lists[i].fn(q, &f, &out, err, sizeof(err))) != QUERY_OK)
			return send_error(c, rc, err);
		return send_json(c, MHD_HTTP_OK, out);
	}
	return send_error(c, QUERY_NOT_FOUND, "no such API endpoint");
}
