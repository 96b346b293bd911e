/*
 * NAME
 *	rparse - read RFC 8460 aggregate reports that others send us
 * SYNOPSIS
 *	struct rp_report r;
 *	struct rp_limits lim = { .max_policies = 1000 };	0: default
 *	char err[256];
 *	int64_t ok, failed;
 *
 *	if ((rc = rp_parse(json, len, &lim, &r, err, sizeof(err))) != 0) {
 *		log_warnx("report rejected: %s", err);
 *		count("rejected_%s", rp_error_name(rc));
 *	}
 *	for (size_t i = 0; i < r.np; i++) ... r.p[i].type, r.p[i].f[j] ...
 *	rp_totals(&r, &ok, &failed);
 *	if (*r.repairs) log_info("%s: repaired: %s", r.report_id, r.repairs);
 *	rp_free(&r);
 * DESCRIPTION
 *	rp_parse() turns the JSON of one TLSRPT report (PROTOCOL.md section
 *	3) into plain C structures, tolerating what real reporters send
 *	(section 6) and refusing what no report can be. json need not be
 *	NUL-terminated; lim may be NULL for the defaults.
 *
 *	Before jansson sees the text, one linear pass without recursion
 *	rejects NUL bytes, nesting deeper than max_depth and documents with
 *	more than max_containers objects and arrays (jansson recurses once
 *	per level, up to its compile-time 2048, and spends a few hundred
 *	bytes per container). Input that is not valid UTF-8 is re-read
 *	byte by byte: valid UTF-8 sequences stay, every other byte is taken
 *	as Latin-1. Duplicate member names are refused (their meaning is
 *	ambiguous and no known reporter writes them).
 *
 *	Required: organization-name and report-id (non-empty strings: they
 *	are the deduplication key), date-range with both date-times,
 *	policies (an array of 1 to max_policies objects), and in each
 *	policy policy-type (any non-empty string; unknown types are kept
 *	as given). A missing organization-name is an error rather than a
 *	repair: with "" every nameless reporter would share one
 *	deduplication namespace. In each failure-details row result-type
 *	and failed-session-count are required (PROTOCOL.md 3); every other
 *	field may be missing.
 *
 *	Tolerated, each noted once in repairs (in this fixed order):
 *	"byte order mark removed"; "invalid UTF-8 read as Latin-1"; "date
 *	without time zone" (taken as UTC); "no contact-info" (missing or
 *	null; contact is NULL); "null member treated as absent" (any other
 *	optional member); "count given as a string" ("12"); "count given as
 *	a decimal number" (12.0); "missing summary count set to 0";
 *	"no policy-domain" (domain is NULL); "mx-host given as a string";
 *	"policy-string given as a string"; "policy-string JSON array in a
 *	string decoded" (Microsoft's TLSA form: a single element holding
 *	a non-empty JSON array of strings becomes those strings; a lone
 *	element that only starts with '[' stays as it is); "trailing
 *	whitespace trimmed from policy-string"; "trailing whitespace trimmed
 *	from mx-host". Members that reporters commonly leave out
 *	(policy-string, mx-host, failure-details, the failure fields other
 *	than the two required) are not repairs: absent, they are NULL or
 *	empty. Unknown members are ignored whatever their size (the
 *	string cap applies to the strings we keep).
 *
 *	Date-times are RFC 3339 (T, t or a space between date and time;
 *	fractional seconds ignored; Z, z, +hh:mm, -hh:mm or no zone; a leap
 *	second counts as :59), converted to Unix seconds UTC. The end may be
 *	23:59:59Z or the next day's 00:00:00Z and is stored as given; it
 *	must not be before the start. Counts are integers 0 .. 2^53-1 (the
 *	I-JSON range); each of the report's successful and failed sums must
 *	stay in that range too, so rp_totals() cannot overflow.
 *
 *	rp_totals() adds the summary counts of all policies. Microsoft
 *	counts the same sessions under an sts and a tlsa policy for one
 *	domain, so the sum can be twice the number of sessions; callers
 *	that show "sessions" per report should know it.
 *
 *	rp_free() releases everything and leaves *r empty; it is safe on an
 *	empty or already freed report.
 * DIAGNOSTICS
 *	rp_parse() returns 0 (err empty) or an enum rp_error with a one-line
 *	printable reason in err, naming the member at fault, e.g. "not JSON:
 *	...", "no report-id", "nesting deeper than 64", "too many policies
 *	(10001, at most 10000)", "policies[2].summary.total-failure-session-
 *	count: negative count"; *out is then empty. err may be NULL when
 *	errlen is 0. rp_error_name() gives a short name for counters.
 * BUGS
 *	Memory: jansson holds the whole tree, and only the caller's cap on
 *	the JSON size bounds it. Measured with jansson 2.14: up to about 30
 *	times the text for small scalars (8.6 MiB of empty strings took
 *	252 MiB), plus about 230 bytes per object or array (60 MiB at the
 *	default max_containers). Real reports are a few KiB; a cap of a few MiB on
 *	the decompressed JSON keeps a hostile one under ~200 MiB.
 */
#ifndef TLSRPTD_RPARSE_H
#define TLSRPTD_RPARSE_H

#include <stddef.h>
#include <stdint.h>

#define RP_COUNT_MAX	9007199254740991LL	/* 2^53 - 1 */

enum rp_error {
	RP_OK = 0,
	RP_NOT_JSON,		/* syntax, NUL byte, duplicate member */
	RP_TOO_DEEP,		/* nesting deeper than max_depth */
	RP_TOO_BIG,		/* over one of the caps in rp_limits */
	RP_MISSING,		/* a required member is absent, null or empty */
	RP_INVALID,		/* a member of the wrong type or out of range */
};

struct rp_limits {		/* 0 in a field means its default */
	size_t max_depth;		/* 64 levels of objects and arrays */
	size_t max_containers;		/* 262144 objects and arrays in all */
	size_t max_policies;		/* 10000 */
	size_t max_failures;		/* 100000 failure-details rows per policy */
	size_t max_list_items;		/* 1024 policy-string / mx-host entries */
	size_t max_string_bytes;	/* 65536 per string kept */
};

struct rp_failure {
	char *result_type;		/* never NULL */
	char *sending_ip;		/* the rest: NULL when absent */
	char *mx_hostname;
	char *mx_helo;
	char *receiving_ip;
	char *additional_info;
	char *reason;			/* failure-reason-code */
	int64_t count;			/* failed-session-count */
};

struct rp_policy {
	char *type;			/* "sts", "tlsa", "no-policy-found", other */
	char *domain;			/* NULL when absent */
	char **strings;			/* policy-string lines, trimmed */
	size_t nstrings;
	char **mx;			/* mx-host patterns */
	size_t nmx;
	int64_t successes;		/* total-successful-session-count */
	int64_t failures;		/* total-failure-session-count */
	struct rp_failure *f;		/* failure-details */
	size_t nf;
};

struct rp_report {
	char *org;			/* organization-name, non-empty */
	char *contact;			/* contact-info, NULL when absent */
	char *report_id;		/* non-empty */
	int64_t start;			/* Unix seconds UTC */
	int64_t end;
	struct rp_policy *p;
	size_t np;
	char *repairs;			/* "; "-separated notes, "" if none */
};

int rp_parse(const char *json, size_t len, const struct rp_limits *lim,
    struct rp_report *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void rp_free(struct rp_report *r);
void rp_totals(const struct rp_report *r, int64_t *ok, int64_t *failed);
const char *rp_error_name(int code);	/* "not_json", "too_deep", ... */

/*
 * Byte-level helpers (rparse_scan.c), used by rp_parse() and open to
 * tests and to other readers of report text.
 *
 * rp_prescan(): 0, or RP_NOT_JSON (a NUL byte), RP_TOO_DEEP or
 * RP_TOO_BIG (containers) with *at the offset where it was noticed.
 * It does not validate JSON; brackets inside strings do not count.
 * rp_utf8_valid(): 1 when text is UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF). rp_latin1_repair(): a new
 * NUL-terminated copy in which every byte not part of a valid
 * sequence is re-encoded as the Latin-1 character of that number.
 * rp_datetime(): RFC 3339 date-time (see DESCRIPTION) to Unix seconds;
 * *zoneless set when there was no zone; -1 when malformed.
 */
int rp_prescan(const char *text, size_t len, size_t max_depth,
    size_t max_containers, size_t *at) __attribute__((warn_unused_result));
int rp_utf8_valid(const char *text, size_t len);
char *rp_latin1_repair(const char *text, size_t len, size_t *outlen);
int rp_datetime(const char *s, int64_t *t, int *zoneless)
    __attribute__((warn_unused_result));

#endif
