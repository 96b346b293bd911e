/*
 * NAME
 *	rparse - read RFC 8460 aggregate reports that others send us
 * DESCRIPTION
 *	See rparse.h. Three stages: a linear pre-scan of the raw bytes
 *	(NUL, depth, container count) and a UTF-8 check with the Latin-1
 *	re-read, both in rparse_scan.c; then jansson and a walk of the
 *	tree that copies what we keep into the rp_* structures. Every
 *	error goes through fail(), which writes the reason once; repairs
 *	are bits, turned into text at the end so each note appears once
 *	and always in the same order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "mem.h"
#include "rparse.h"

#define POLICY_PATH_BYTES 32	/* "policies[" SIZE_MAX "]" */
#define PATH_BYTES	96	/* that + ".failure-details[" SIZE_MAX "]: " */
#define SNIPPET_BYTES	40	/* bytes of a bad value quoted in err */

enum repair {
	R_BOM = 1u << 0,
	R_LATIN1 = 1u << 1,
	R_NO_ZONE = 1u << 2,
	R_NO_CONTACT = 1u << 3,
	R_NULL = 1u << 4,
	R_COUNT_STRING = 1u << 5,
	R_COUNT_DECIMAL = 1u << 6,
	R_COUNT_MISSING = 1u << 7,
	R_NO_DOMAIN = 1u << 8,
	R_MX_STRING = 1u << 9,
	R_PS_STRING = 1u << 10,
	R_PS_JSON = 1u << 11,
	R_PS_TRIM = 1u << 12,
	R_MX_TRIM = 1u << 13,
};

/* In bit order; see rparse.h. */
static const char *const repair_text[] = {
	"byte order mark removed",
	"invalid UTF-8 read as Latin-1",
	"date without time zone",
	"no contact-info",
	"null member treated as absent",
	"count given as a string",
	"count given as a decimal number",
	"missing summary count set to 0",
	"no policy-domain",
	"mx-host given as a string",
	"policy-string given as a string",
	"policy-string JSON array in a string decoded",
	"trailing whitespace trimmed from policy-string",
	"trailing whitespace trimmed from mx-host",
};

enum { F_REQUIRED = 1, F_NOTE_NULL = 2 };	/* get_string() flags */

struct ctx {
	struct rp_limits lim;
	unsigned repairs;		/* enum repair bits */
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct ctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->err != NULL && c->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* err is one printable line whatever bytes jansson quoted from input. */
static void
sanitize(char *s)
{
	for (; s != NULL && *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void
limits_fill(struct rp_limits *l, const struct rp_limits *given)
{
	static const struct rp_limits def = { 64, 262144, 10000, 100000,
	    1024, 65536 };

	*l = given ? *given : def;
	l->max_depth = l->max_depth ? l->max_depth : def.max_depth;
	l->max_containers = l->max_containers ? l->max_containers :
	    def.max_containers;
	l->max_policies = l->max_policies ? l->max_policies : def.max_policies;
	l->max_failures = l->max_failures ? l->max_failures : def.max_failures;
	l->max_list_items = l->max_list_items ? l->max_list_items :
	    def.max_list_items;
	l->max_string_bytes = l->max_string_bytes ? l->max_string_bytes :
	    def.max_string_bytes;
}

static int
prescan_report(struct ctx *c, const char *text, size_t len)
{
	size_t at = 0;

	switch (rp_prescan(text, len, c->lim.max_depth, c->lim.max_containers,
	    &at)) {
	case RP_NOT_JSON:
		return fail(c, RP_NOT_JSON, "not JSON: NUL byte at offset %zu", at);
	case RP_TOO_DEEP:
		return fail(c, RP_TOO_DEEP, "nesting deeper than %zu (offset %zu)",
		    c->lim.max_depth, at);
	case RP_TOO_BIG:
		return fail(c, RP_TOO_BIG, "more than %zu objects and arrays",
		    c->lim.max_containers);
	}
	return 0;
}

/* obj[key], with null read as absent; null_note is noted when null. */
static json_t *
member(struct ctx *c, json_t *obj, const char *key, unsigned null_note)
{
	json_t *v = json_object_get(obj, key);

	if (v != NULL && json_is_null(v)) {
		c->repairs |= null_note;
		return NULL;
	}
	return v;
}

static int
copy_string(struct ctx *c, json_t *v, const char *path, const char *key,
    char **out)
{
	size_t n = json_string_length(v);

	if (n > c->lim.max_string_bytes)
		return fail(c, RP_TOO_BIG, "%s%s: string longer than %zu bytes",
		    path, key, c->lim.max_string_bytes);
	*out = xstrndup(json_string_value(v), n);
	return 0;
}

/*
 * obj[key] as a new string. path ("" or "policies[0].policy.") prefixes
 * the member in messages. Absent and not F_REQUIRED: *out stays NULL.
 */
static int
get_string(struct ctx *c, json_t *obj, const char *key, const char *path,
    int flags, char **out)
{
	json_t *v = member(c, obj, key, (flags & F_NOTE_NULL) ? R_NULL : 0);

	if (v == NULL || (json_is_string(v) && json_string_length(v) == 0 &&
	    (flags & F_REQUIRED))) {
		if (flags & F_REQUIRED)
			return fail(c, RP_MISSING, "%sno %s", path, key);
		return 0;
	}
	if (!json_is_string(v))
		return fail(c, RP_INVALID, "%s%s: not a string", path, key);
	return copy_string(c, v, path, key, out);
}

static int
count_string(struct ctx *c, const char *s, const char *path, const char *key,
    int64_t *out)
{
	int64_t n = 0;
	size_t i = s[0] == '-' ? 1 : 0;

	if (s[i] == '\0' || strlen(s + i) > 16 || strspn(s + i, "0123456789") !=
	    strlen(s + i))
		return fail(c, RP_INVALID, "%s%s: not a count", path, key);
	if (i == 1)
		return fail(c, RP_INVALID, "%s%s: negative count", path, key);
	for (; s[i]; i++)
		n = n * 10 + (s[i] - '0');
	if (n > RP_COUNT_MAX)
		return fail(c, RP_INVALID, "%s%s: count out of range", path, key);
	c->repairs |= R_COUNT_STRING;
	*out = n;
	return 0;
}

/* A session count: a non-negative integer up to 2^53-1, or "12", or 12.0. */
static int
count_value(struct ctx *c, json_t *v, const char *path, const char *key,
    int64_t *out)
{
	if (json_is_string(v))
		return count_string(c, json_string_value(v), path, key, out);
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
	} else if (json_is_real(v)) {
		double d = json_real_value(v);

		if (d < 0)
			return fail(c, RP_INVALID, "%s%s: negative count", path, key);
		if (d > (double)RP_COUNT_MAX)
			return fail(c, RP_INVALID, "%s%s: count out of range", path, key);
		*out = (int64_t)d;
		if ((double)*out != d)
			return fail(c, RP_INVALID, "%s%s: count is not an integer",
			    path, key);
		c->repairs |= R_COUNT_DECIMAL;
	} else {
		return fail(c, RP_INVALID, "%s%s: not a number", path, key);
	}
	if (*out < 0)
		return fail(c, RP_INVALID, "%s%s: negative count", path, key);
	if (*out > RP_COUNT_MAX)
		return fail(c, RP_INVALID, "%s%s: count out of range", path, key);
	return 0;
}

static int
one_date(struct ctx *c, json_t *range, const char *key, int64_t *t)
{
	json_t *v = member(c, range, key, 0);
	int zoneless;

	if (v == NULL)
		return fail(c, RP_MISSING, "date-range: no %s", key);
	if (!json_is_string(v))
		return fail(c, RP_INVALID, "date-range.%s: not a string", key);
	if (rp_datetime(json_string_value(v), t, &zoneless) != 0)
		return fail(c, RP_INVALID, "date-range.%s: not a date-time: "
		    "\"%.*s\"", key, SNIPPET_BYTES, json_string_value(v));
	if (zoneless)
		c->repairs |= R_NO_ZONE;
	return 0;
}

static int
parse_dates(struct ctx *c, json_t *root, struct rp_report *r)
{
	json_t *range = member(c, root, "date-range", 0);
	int rc;

	if (range == NULL)
		return fail(c, RP_MISSING, "no date-range");
	if (!json_is_object(range))
		return fail(c, RP_INVALID, "date-range: not an object");
	if ((rc = one_date(c, range, "start-datetime", &r->start)) != 0 ||
	    (rc = one_date(c, range, "end-datetime", &r->end)) != 0)
		return rc;
	if (r->end < r->start)
		return fail(c, RP_INVALID, "date-range: end-datetime before "
		    "start-datetime");
	return 0;
}

static void
free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/*
 * Microsoft's TLSA form: ["[\"2 1 1 ...\",\"2 1 1 ...\"]"]. A single
 * entry that parses as a JSON array of strings is replaced by them;
 * anything else that merely starts with '[' is kept as it is.
 */
static int
unwrap_json_list(struct ctx *c, const char *path, char ***list, size_t *n)
{
	const char *s = (*n == 1) ? (*list)[0] + strspn((*list)[0], " \t\r\n") : "";
	json_t *inner, *e;
	char **fresh;
	size_t at, cnt, i;

	if (*s != '[' || rp_prescan(s, strlen(s), c->lim.max_depth,
	    c->lim.max_containers, &at) != 0 ||
	    (inner = json_loads(s, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return 0;
	cnt = json_is_array(inner) ? json_array_size(inner) : 0;
	json_array_foreach(inner, i, e)
		if (!json_is_string(e))
			cnt = 0;
	if (cnt == 0 || cnt > c->lim.max_list_items) {
		json_decref(inner);
		if (cnt > c->lim.max_list_items)
			return fail(c, RP_TOO_BIG, "%spolicy-string: more than "
			    "%zu entries", path, c->lim.max_list_items);
		return 0;
	}
	fresh = xcalloc(cnt, sizeof(*fresh));
	json_array_foreach(inner, i, e)
		fresh[i] = xstrndup(json_string_value(e), json_string_length(e));
	json_decref(inner);
	free_list(*list, *n);
	*list = fresh;
	*n = cnt;
	c->repairs |= R_PS_JSON;
	return 0;
}

static void
trim_list(struct ctx *c, char **list, size_t n, unsigned note)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(list[i]), keep = len;

		while (keep > 0 && strchr(" \t\r\n\v\f", list[i][keep - 1]))
			keep--;
		if (keep != len) {
			list[i][keep] = '\0';
			c->repairs |= note;
		}
	}
}

/* policy-string or mx-host: an array of strings, a lone string, absent. */
static int
parse_list(struct ctx *c, json_t *pol, const char *key, const char *path,
    unsigned string_note, char ***list, size_t *n)
{
	json_t *v = member(c, pol, key, R_NULL), *e;
	size_t i;
	int rc;

	if (v == NULL)
		return 0;
	if (json_is_string(v)) {
		c->repairs |= string_note;
		*list = xcalloc(1, sizeof(**list));
		*n = 1;
		return copy_string(c, v, path, key, &(*list)[0]);
	}
	if (!json_is_array(v))
		return fail(c, RP_INVALID, "%s%s: not an array", path, key);
	if (json_array_size(v) > c->lim.max_list_items)
		return fail(c, RP_TOO_BIG, "%s%s: more than %zu entries", path,
		    key, c->lim.max_list_items);
	*list = xcalloc(json_array_size(v), sizeof(**list));
	json_array_foreach(v, i, e) {
		if (!json_is_string(e))
			return fail(c, RP_INVALID, "%s%s[%zu]: not a string",
			    path, key, i);
		*n = i + 1;
		if ((rc = copy_string(c, e, path, key, &(*list)[i])) != 0)
			return rc;
	}
	return 0;
}

static int
parse_failure(struct ctx *c, json_t *row, const char *path,
    struct rp_failure *f)
{
	char **const optional[] = { &f->sending_ip, &f->mx_hostname,
	    &f->mx_helo, &f->receiving_ip, &f->additional_info, &f->reason };
	static const char *const keys[] = { "sending-mta-ip",
	    "receiving-mx-hostname", "receiving-mx-helo", "receiving-ip",
	    "additional-information", "failure-reason-code" };
	json_t *v;
	int rc;

	if (!json_is_object(row))
		return fail(c, RP_INVALID, "%snot an object", path);
	if ((rc = get_string(c, row, "result-type", path, F_REQUIRED,
	    &f->result_type)) != 0)
		return rc;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((rc = get_string(c, row, keys[i], path, F_NOTE_NULL,
		    optional[i])) != 0)
			return rc;
	if ((v = member(c, row, "failed-session-count", 0)) == NULL)
		return fail(c, RP_MISSING, "%sno failed-session-count", path);
	return count_value(c, v, path, "failed-session-count", &f->count);
}

static int
parse_failures(struct ctx *c, json_t *entry, const char *path,
    struct rp_policy *p)
{
	json_t *arr = member(c, entry, "failure-details", R_NULL);
	char rowpath[PATH_BYTES];
	size_t n;
	int rc;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return fail(c, RP_INVALID, "%s.failure-details: not an array", path);
	if ((n = json_array_size(arr)) > c->lim.max_failures)
		return fail(c, RP_TOO_BIG, "%s: too many failure-details (%zu, "
		    "at most %zu)", path, n, c->lim.max_failures);
	if (n == 0)
		return 0;
	p->f = xcalloc(n, sizeof(*p->f));
	for (size_t k = 0; k < n; k++) {
		snprintf(rowpath, sizeof(rowpath), "%s.failure-details[%zu]: ", path, k);
		p->nf = k + 1;
		if ((rc = parse_failure(c, json_array_get(arr, k), rowpath,
		    &p->f[k])) != 0)
			return rc;
	}
	return 0;
}

static int
parse_summary(struct ctx *c, json_t *entry, const char *path,
    struct rp_policy *p)
{
	static const char *const keys[] = { "total-successful-session-count",
	    "total-failure-session-count" };
	int64_t *const dst[] = { &p->successes, &p->failures };
	json_t *sum = member(c, entry, "summary", 0), *v;
	char sumpath[PATH_BYTES];
	int rc;

	if (sum != NULL && !json_is_object(sum))
		return fail(c, RP_INVALID, "%s.summary: not an object", path);
	snprintf(sumpath, sizeof(sumpath), "%s.summary.", path);
	for (size_t i = 0; i < 2; i++) {
		v = sum ? member(c, sum, keys[i], 0) : NULL;
		if (v == NULL) {
			*dst[i] = 0;
			c->repairs |= R_COUNT_MISSING;
		} else if ((rc = count_value(c, v, sumpath, keys[i], dst[i])) != 0) {
			return rc;
		}
	}
	return 0;
}

static int
parse_policy(struct ctx *c, json_t *entry, size_t i, struct rp_policy *p)
{
	char path[POLICY_PATH_BYTES], ppath[PATH_BYTES];
	json_t *pol;
	int rc;

	snprintf(path, sizeof(path), "policies[%zu]", i);
	snprintf(ppath, sizeof(ppath), "%s.policy: ", path);
	if (!json_is_object(entry))
		return fail(c, RP_INVALID, "%s: not an object", path);
	if ((pol = member(c, entry, "policy", 0)) == NULL)
		return fail(c, RP_MISSING, "%s: no policy", path);
	if (!json_is_object(pol))
		return fail(c, RP_INVALID, "%s.policy: not an object", path);
	if ((rc = get_string(c, pol, "policy-type", ppath, F_REQUIRED,
	    &p->type)) != 0 ||
	    (rc = get_string(c, pol, "policy-domain", ppath, 0, &p->domain)) != 0 ||
	    (rc = parse_list(c, pol, "policy-string", ppath, R_PS_STRING,
	    &p->strings, &p->nstrings)) != 0 ||
	    (rc = unwrap_json_list(c, ppath, &p->strings, &p->nstrings)) != 0 ||
	    (rc = parse_list(c, pol, "mx-host", ppath, R_MX_STRING, &p->mx,
	    &p->nmx)) != 0 ||
	    (rc = parse_summary(c, entry, path, p)) != 0)
		return rc;
	if (p->domain == NULL)
		c->repairs |= R_NO_DOMAIN;
	trim_list(c, p->strings, p->nstrings, R_PS_TRIM);
	trim_list(c, p->mx, p->nmx, R_MX_TRIM);
	return parse_failures(c, entry, path, p);
}

static int
parse_policies(struct ctx *c, json_t *root, struct rp_report *r)
{
	json_t *arr = member(c, root, "policies", 0);
	int64_t ok = 0, failed = 0;
	size_t n;
	int rc;

	if (arr == NULL)
		return fail(c, RP_MISSING, "no policies");
	if (!json_is_array(arr))
		return fail(c, RP_INVALID, "policies: not an array");
	if ((n = json_array_size(arr)) == 0)
		return fail(c, RP_MISSING, "no policies: the array is empty");
	if (n > c->lim.max_policies)
		return fail(c, RP_TOO_BIG, "too many policies (%zu, at most %zu)",
		    n, c->lim.max_policies);
	r->p = xcalloc(n, sizeof(*r->p));
	for (size_t i = 0; i < n; i++) {
		r->np = i + 1;
		if ((rc = parse_policy(c, json_array_get(arr, i), i, &r->p[i])) != 0)
			return rc;
		/* Each term <= 2^53-1, so the sums cannot overflow int64. */
		ok += r->p[i].successes;
		failed += r->p[i].failures;
		if (ok > RP_COUNT_MAX || failed > RP_COUNT_MAX)
			return fail(c, RP_INVALID, "session totals out of range");
	}
	return 0;
}

static int
parse_root(struct ctx *c, json_t *root, struct rp_report *r)
{
	int rc;

	if (!json_is_object(root))
		return fail(c, RP_INVALID, "not a report: the top level is not "
		    "an object");
	if ((rc = get_string(c, root, "organization-name", "", F_REQUIRED,
	    &r->org)) != 0 ||
	    (rc = get_string(c, root, "report-id", "", F_REQUIRED,
	    &r->report_id)) != 0 ||
	    (rc = get_string(c, root, "contact-info", "", 0, &r->contact)) != 0 ||
	    (rc = parse_dates(c, root, r)) != 0)
		return rc;
	if (r->contact == NULL)
		c->repairs |= R_NO_CONTACT;
	return parse_policies(c, root, r);
}

static char *
repairs_string(unsigned bits)
{
	struct buf b;
	char *s;

	buf_init(&b, 4096);
	for (size_t i = 0; i < sizeof(repair_text) / sizeof(repair_text[0]); i++)
		if ((bits & (1u << i)) && (buf_puts(&b, b.len ? "; " : "") != 0 ||
		    buf_puts(&b, repair_text[i]) != 0))
			break;	/* cannot happen: the notes are < 1 KiB */
	s = xstrdup(b.data ? b.data : "");
	buf_free(&b);
	return s;
}

int
rp_parse(const char *json, size_t len, const struct rp_limits *lim,
    struct rp_report *out, char *err, size_t errlen)
{
	struct ctx c = { .err = err, .errlen = errlen };
	json_error_t jerr;
	json_t *root = NULL;
	char *fixed = NULL;
	int rc;

	limits_fill(&c.lim, lim);
	memset(out, 0, sizeof(*out));
	fail(&c, RP_OK, "%s", "");
	if (len >= 3 && memcmp(json, "\xef\xbb\xbf", 3) == 0) {
		json += 3;
		len -= 3;
		c.repairs |= R_BOM;
	}
	if ((rc = prescan_report(&c, json, len)) != 0)
		goto out;
	if (!rp_utf8_valid(json, len)) {
		json = fixed = rp_latin1_repair(json, len, &len);
		c.repairs |= R_LATIN1;
	}
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		rc = fail(&c, RP_NOT_JSON, "not JSON: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
		goto out;
	}
	if ((rc = parse_root(&c, root, out)) == 0)
		out->repairs = repairs_string(c.repairs);
out:
	json_decref(root);
	free(fixed);
	if (rc != 0)
		rp_free(out);
	if (err != NULL && errlen > 0)
		sanitize(err);
	return rc;
}

static void
free_policy(struct rp_policy *p)
{
	free(p->type);
	free(p->domain);
	free_list(p->strings, p->nstrings);
	free_list(p->mx, p->nmx);
	for (size_t k = 0; k < p->nf; k++) {
		struct rp_failure *f = &p->f[k];

		free(f->result_type);
		free(f->sending_ip);
		free(f->mx_hostname);
		free(f->mx_helo);
		free(f->receiving_ip);
		free(f->additional_info);
		free(f->reason);
	}
	free(p->f);
}

void
rp_free(struct rp_report *r)
{
	for (size_t i = 0; i < r->np; i++)
		free_policy(&r->p[i]);
	free(r->p);
	free(r->org);
	free(r->contact);
	free(r->report_id);
	free(r->repairs);
	memset(r, 0, sizeof(*r));
}

void
rp_totals(const struct rp_report *r, int64_t *ok, int64_t *failed)
{
	*ok = 0;
	*failed = 0;
	for (size_t i = 0; i < r->np; i++) {
		*ok += r->p[i].successes;
		*failed += r->p[i].failures;
	}
}

const char *
rp_error_name(int code)
{
	static const char *const names[] = { "ok", "not_json", "too_deep",
	    "too_big", "missing", "invalid" };

	if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[code];
}
