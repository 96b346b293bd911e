/*
 * NAME
 *	fuzz_rparse - libFuzzer target for the report JSON parser (lib/rparse)
 * SYNOPSIS
 *	fuzz_rparse [libFuzzer options] [corpus directory or input file ...]
 * DESCRIPTION
 *	Each input is the JSON text of one report as ingest hands it over
 *	(not NUL-terminated). rp_parse() reads it twice, with the default
 *	limits and with tight ones, so that every cap is reached by small
 *	inputs.
 *
 *	Checked against rparse.h: on success organization-name, report-id
 *	and each policy-type are non-empty, the end is not before the
 *	start, every count and both sums are within 0 .. 2^53-1 (so that
 *	rp_totals() cannot overflow), lists and strings respect the limits
 *	and repairs is a string; on failure the code is an enum rp_error
 *	with a name, err is one non-empty printable line and *out is empty.
 *	rp_free() is called twice. The byte helpers are checked too: the
 *	Latin-1 re-read always yields valid UTF-8 and leaves valid UTF-8
 *	unchanged, and rp_datetime() reads a short input as a C string.
 * DIAGNOSTICS
 *	A broken promise prints what and calls abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rparse.h"

#define FUZZ_DATETIME_BYTES 64	/* longer inputs are no date-time */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct rp_limits tight = { 4, 32, 3, 4, 3, 40 };

static void
broken(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_rparse: %s (err: %s)\n", what, err);
	abort();
}

static int
string_ok(const char *s, size_t max)
{
	return s == NULL || strnlen(s, max + 1) <= max;
}

static const char *
failure_violation(const struct rp_failure *f, size_t max)
{
	if (f->result_type == NULL || f->result_type[0] == '\0')
		return "failure without result-type";
	if (!string_ok(f->result_type, max) || !string_ok(f->sending_ip, max) ||
	    !string_ok(f->mx_hostname, max) || !string_ok(f->mx_helo, max) ||
	    !string_ok(f->receiving_ip, max) || !string_ok(f->additional_info, max) ||
	    !string_ok(f->reason, max))
		return "failure string over the cap";
	if (f->count < 0 || f->count > RP_COUNT_MAX)
		return "failed-session-count out of range";
	return NULL;
}

static const char *
policy_violation(const struct rp_policy *p, const struct rp_limits *lim)
{
	size_t max = lim->max_string_bytes;
	const char *why;

	if (p->type == NULL || p->type[0] == '\0' || !string_ok(p->type, max) ||
	    !string_ok(p->domain, max))
		return "policy-type missing or policy string over the cap";
	if (p->nstrings > lim->max_list_items || p->nmx > lim->max_list_items ||
	    p->nf > lim->max_failures)
		return "list over its cap";
	if ((p->nstrings > 0 && p->strings == NULL) || (p->nmx > 0 && p->mx == NULL) ||
	    (p->nf > 0 && p->f == NULL))
		return "list missing";
	for (size_t i = 0; i < p->nstrings; i++)
		if (p->strings[i] == NULL || !string_ok(p->strings[i], max))
			return "policy-string entry";
	for (size_t i = 0; i < p->nmx; i++)
		if (p->mx[i] == NULL || !string_ok(p->mx[i], max))
			return "mx-host entry";
	if (p->successes < 0 || p->successes > RP_COUNT_MAX || p->failures < 0 ||
	    p->failures > RP_COUNT_MAX)
		return "summary count out of range";
	for (size_t k = 0; k < p->nf; k++)
		if ((why = failure_violation(&p->f[k], max)) != NULL)
			return why;
	return NULL;
}

/* What rparse.h promises about a parsed report; NULL when it holds. */
static const char *
violation(const struct rp_report *r, const struct rp_limits *lim)
{
	int64_t ok, failed;
	const char *why;

	if (r->org == NULL || r->org[0] == '\0' || r->report_id == NULL ||
	    r->report_id[0] == '\0' || r->repairs == NULL)
		return "organization-name, report-id or repairs missing";
	if (r->end < r->start)
		return "end before start";
	if (r->np < 1 || r->np > lim->max_policies || r->p == NULL)
		return "number of policies";
	for (size_t i = 0; i < r->np; i++)
		if ((why = policy_violation(&r->p[i], lim)) != NULL)
			return why;
	rp_totals(r, &ok, &failed);
	if (ok < 0 || ok > RP_COUNT_MAX || failed < 0 || failed > RP_COUNT_MAX)
		return "totals out of range";
	return NULL;
}

static int
printable_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int
empty(const struct rp_report *r)
{
	return r->org == NULL && r->contact == NULL && r->report_id == NULL &&
	    r->p == NULL && r->np == 0 && r->repairs == NULL;
}

/* One parse; lim NULL means the defaults, which check against `defaults`. */
static int
parse_with(const char *json, size_t len, const struct rp_limits *lim)
{
	static const struct rp_limits defaults = { 64, 262144, 10000, 100000,
	    1024, 65536 };
	struct rp_report r;
	char err[256];
	const char *why;
	int rc;

	rc = rp_parse(json, len, lim, &r, err, sizeof(err));
	if (!printable_line(err))
		broken("err not printable", err);
	if (rc == 0) {
		if (err[0] != '\0')
			broken("err set on success", err);
		if ((why = violation(&r, lim ? lim : &defaults)) != NULL)
			broken(why, "");
	} else if (rc < RP_NOT_JSON || rc > RP_INVALID ||
	    strcmp(rp_error_name(rc), "unknown") == 0 || err[0] == '\0' || !empty(&r)) {
		broken("refusal without reason, or with a result", err);
	}
	rp_free(&r);
	rp_free(&r);
	if (!empty(&r))
		broken("rp_free left something", "");
	return rc;
}

static void
check_bytes(const char *text, size_t len)
{
	size_t outlen;
	char *fixed = rp_latin1_repair(text, len, &outlen);

	if (outlen > 2 * len || fixed[outlen] != '\0' || !rp_utf8_valid(fixed, outlen))
		broken("Latin-1 re-read is not valid UTF-8", "");
	if (rp_utf8_valid(text, len) && (outlen != len || memcmp(fixed, text, len) != 0))
		broken("Latin-1 re-read changed valid UTF-8", "");
	free(fixed);
	if (len < FUZZ_DATETIME_BYTES) {
		char s[FUZZ_DATETIME_BYTES];
		int64_t t;
		int zoneless;

		memcpy(s, text, len);
		s[len] = '\0';
		if (rp_datetime(s, &t, &zoneless) == 0 && zoneless != 0 && zoneless != 1)
			broken("rp_datetime zoneless flag", "");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *)data;
	struct rp_report r;

	(void)parse_with(json, size, NULL);
	(void)parse_with(json, size, &tight);
	/* err may be NULL; a quarter of the inputs is enough to show it. */
	if (size % 4 == 0 && rp_parse(json, size, NULL, &r, NULL, 0) == 0)
		rp_free(&r);
	check_bytes(json, size);
	return 0;
}
