/*
 * NAME
 *	tlsrptctl - look at received and sent TLSRPT data from the shell
 * SYNOPSIS
 *	tlsrptctl [-V] [-c file] [-o key=value] [--format table|json|csv]
 *	    [--domain D] [--org O] [--since DAY] [--until DAY] [--limit N]
 *	    domains | summary | reports | failures | show ID | outbound | status
 * DESCRIPTION
 *	Reads ingest_database (reports other organisations sent about our
 *	domains) and database (the reports we built and their deliveries),
 *	both read-only, through the same queries as the dashboard's JSON
 *	API (ingest/query.h); --format json prints exactly what the API
 *	answers. Tables are for people, CSV (RFC 4180) for spreadsheets;
 *	outbound prints one row per delivery, show one per failure detail
 *	(and the report's JSON after the table). status is nested and
 *	prints JSON whatever the format.
 * DIAGNOSTICS
 *	Exit 0 when the query ran (even with no rows), 1 when a database
 *	cannot be read or the report does not exist, 2 on usage and
 *	configuration errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "log.h"
#include "query.h"
#include "render.h"

enum { OPT_FORMAT = 256, OPT_DOMAIN, OPT_ORG, OPT_SINCE, OPT_UNTIL, OPT_LIMIT };

struct ctl {
	struct query *q;
	struct query_filter f;
	enum render_format fmt;
	char err[512];
};

typedef enum query_rc (*list_fn)(struct query *, const struct query_filter *,
    json_t **, char *, size_t);

static const struct render_col domain_cols[] = {
	{ "policy_domain", "DOMAIN", RENDER_TEXT },
	{ "reports", "REPORTS", RENDER_NUMBER },
	{ "organizations", "ORGS", RENDER_NUMBER },
	{ "first_day", "FIRST", RENDER_TEXT },
	{ "last_day", "LAST", RENDER_TEXT },
	{ "successful_sessions", "SUCCESSFUL", RENDER_NUMBER },
	{ "failed_sessions", "FAILED", RENDER_NUMBER },
	{ "success_rate", "RATE", RENDER_RATE },
	{ NULL, NULL, 0 },
};
static const struct render_col summary_cols[] = {
	{ "day", "DAY", RENDER_TEXT },
	{ "policy_domain", "DOMAIN", RENDER_TEXT },
	{ "organization", "ORGANIZATION", RENDER_TEXT },
	{ "reports", "REPORTS", RENDER_NUMBER },
	{ "successful_sessions", "SUCCESSFUL", RENDER_NUMBER },
	{ "failed_sessions", "FAILED", RENDER_NUMBER },
	{ "success_rate", "RATE", RENDER_RATE },
	{ NULL, NULL, 0 },
};
static const struct render_col report_cols[] = {
	{ "id", "ID", RENDER_NUMBER },
	{ "day", "DAY", RENDER_TEXT },
	{ "organization", "ORGANIZATION", RENDER_TEXT },
	{ "policy_domains", "DOMAINS", RENDER_TEXT },
	{ "successful_sessions", "SUCCESSFUL", RENDER_NUMBER },
	{ "failed_sessions", "FAILED", RENDER_NUMBER },
	{ "success_rate", "RATE", RENDER_RATE },
	{ "received", "RECEIVED", RENDER_TEXT },
	{ "source", "VIA", RENDER_TEXT },
	{ "report_id", "REPORT-ID", RENDER_TEXT },
	{ NULL, NULL, 0 },
};
static const struct render_col failure_cols[] = {
	{ "result_type", "RESULT-TYPE", RENDER_TEXT },
	{ "result_type_sessions", "TYPE-TOTAL", RENDER_NUMBER },
	{ "receiving_mx", "RECEIVING-MX", RENDER_TEXT },
	{ "sessions", "SESSIONS", RENDER_NUMBER },
	{ "reports", "REPORTS", RENDER_NUMBER },
	{ NULL, NULL, 0 },
};
/* outbound and show print one row per delivery / failure detail. */
static const struct render_col outbound_cols[] = {
	{ "day", "DAY", RENDER_TEXT },
	{ "report_domain", "DOMAIN", RENDER_TEXT },
	{ "state", "STATE", RENDER_TEXT },
	{ "successful_sessions", "SUCCESSFUL", RENDER_NUMBER },
	{ "failed_sessions", "FAILED", RENDER_NUMBER },
	{ "delivery_uri", "DESTINATION", RENDER_TEXT },
	{ "delivery_state", "DELIVERY", RENDER_TEXT },
	{ "attempts", "TRIES", RENDER_NUMBER },
	{ "next_attempt", "NEXT-ATTEMPT", RENDER_TEXT },
	{ "last_error", "LAST-ERROR", RENDER_TEXT },
	{ "report_id", "REPORT-ID", RENDER_TEXT },
	{ NULL, NULL, 0 },
};
static const struct render_col show_cols[] = {
	{ "idx", "POLICY", RENDER_NUMBER },
	{ "policy_type", "TYPE", RENDER_TEXT },
	{ "policy_domain", "DOMAIN", RENDER_TEXT },
	{ "successful_sessions", "SUCCESSFUL", RENDER_NUMBER },
	{ "failed_sessions", "FAILED", RENDER_NUMBER },
	{ "result_type", "RESULT-TYPE", RENDER_TEXT },
	{ "receiving_mx_hostname", "RECEIVING-MX", RENDER_TEXT },
	{ "receiving_ip", "RECEIVING-IP", RENDER_TEXT },
	{ "sending_mta_ip", "SENDING-IP", RENDER_TEXT },
	{ "failed_session_count", "COUNT", RENDER_NUMBER },
	{ "failure_reason_code", "REASON", RENDER_TEXT },
	{ NULL, NULL, 0 },
};
static const char *const show_meta[] = {
	"id", "organization", "report_id", "contact", "day", "start", "end",
	"received", "source", "submitter", "peer", "dkim", "raw_bytes", "repairs",
	"policy_count", "successful_sessions", "failed_sessions", NULL,
};

static void
usage(void)
{
	fprintf(stderr, "usage: tlsrptctl [-V] [-c file] [-o key=value] "
	    "[--format table|json|csv]\n"
	    "    [--domain D] [--org O] [--since YYYY-MM-DD] [--until YYYY-MM-DD] "
	    "[--limit N] command\n"
	    "commands:\n"
	    "  domains    policy domains with report and session totals\n"
	    "  summary    sessions per policy domain, day and reporting organization\n"
	    "  reports    received reports, newest first\n"
	    "  failures   failure result types, by receiving MX\n"
	    "  show ID    one received report in full, with its JSON\n"
	    "  outbound   reports we built and the state of each delivery\n"
	    "  status     totals of both databases\n");
	exit(2);
}

/* One row per delivery, report columns repeated (one row without any). */
static json_t *
flatten_outbound(json_t *reports)
{
	static const char *const keys[][2] = {	/* row key, delivery key */
		{ "delivery_uri", "uri" }, { "delivery_state", "state" },
		{ "attempts", "attempts" }, { "next_attempt", "next_attempt" },
		{ "last_error", "last_error" },
	};
	const size_t nkeys = sizeof(keys) / sizeof(*keys);
	json_t *rows = json_array(), *r, *d, *row, *ds;
	size_t i, k;

	json_array_foreach(reports, i, r) {
		ds = json_object_get(r, "deliveries");
		k = 0;
		do {
			d = json_array_get(ds, k);
			row = json_deep_copy(r);
			json_object_del(row, "deliveries");
			for (size_t j = 0; d != NULL && j < nkeys; j++)
				json_object_set(row, keys[j][0], json_object_get(d, keys[j][1]));
			json_array_append_new(rows, row);
		} while (++k < json_array_size(ds));
	}
	return rows;
}

/* One row per failure detail, policy columns repeated. */
static json_t *
flatten_report(json_t *report)
{
	json_t *rows = json_array(), *p, *f, *row, *details;
	size_t i, k;

	json_array_foreach(json_object_get(report, "policies"), i, p) {
		details = json_object_get(p, "failure_details");
		k = 0;
		do {
			row = json_deep_copy(p);
			json_object_del(row, "failure_details");
			if ((f = json_array_get(details, k)) != NULL)
				json_object_update(row, f);
			json_array_append_new(rows, row);
		} while (++k < json_array_size(details));
	}
	return rows;
}

/* Raw JSON for people: re-indented when jansson can read it. */
static void
print_raw(const char *raw)
{
	json_t *v = json_loads(raw, JSON_DECODE_ANY, NULL);

	if (v != NULL) {
		render_json(stdout, v);
		json_decref(v);
		return;
	}
	for (const char *p = raw; *p; p++)
		putchar((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t' ? '?' : *p);
	putchar('\n');
}

static int
show_table(json_t *report)
{
	json_t *rows = flatten_report(report);
	char *cell;
	int rc;

	for (size_t i = 0; show_meta[i] != NULL; i++) {
		cell = render_cell(json_object_get(report, show_meta[i]), RENDER_TEXT);
		printf("%-20s %s\n", show_meta[i], cell);
		free(cell);
	}
	printf("\n");
	rc = render_rows(stdout, RENDER_TABLE, show_cols, rows);
	printf("\n");
	if (json_is_string(json_object_get(report, "raw_json")))
		print_raw(json_string_value(json_object_get(report, "raw_json")));
	json_decref(rows);
	return rc;
}

static int
cmd_show(struct ctl *c, const char *arg)
{
	json_t *report = NULL, *rows;
	char *end;
	long long id;
	int rc;

	errno = 0;
	id = strtoll(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || errno != 0 || id <= 0) {
		fprintf(stderr, "tlsrptctl: show: '%s' is not a report id\n", arg);
		return 2;
	}
	if (query_report(c->q, id, &report, c->err, sizeof(c->err)) != QUERY_OK) {
		fprintf(stderr, "tlsrptctl: %s\n", c->err);
		return 1;
	}
	if (c->fmt == RENDER_JSON)
		rc = render_json(stdout, report);
	else if (c->fmt == RENDER_CSV) {
		rows = flatten_report(report);
		rc = render_rows(stdout, RENDER_CSV, show_cols, rows);
		json_decref(rows);
	} else
		rc = show_table(report);
	json_decref(report);
	return rc == 0 ? 0 : 1;
}

static int
cmd_list(struct ctl *c, list_fn fn, const struct render_col *cols, int outbound)
{
	json_t *out = NULL, *rows;
	int rc;

	if (fn(c->q, &c->f, &out, c->err, sizeof(c->err)) != QUERY_OK) {
		fprintf(stderr, "tlsrptctl: %s\n", c->err);
		return 1;
	}
	rows = json_object_get(out, "rows");
	if (c->fmt == RENDER_JSON)
		rc = render_json(stdout, out);
	else if (outbound) {
		rows = flatten_outbound(rows);
		rc = render_rows(stdout, c->fmt, cols, rows);
		json_decref(rows);
	} else
		rc = render_rows(stdout, c->fmt, cols, rows);
	if (json_is_true(json_object_get(out, "truncated")))
		fprintf(stderr, "tlsrptctl: more rows than --limit %ld\n",
		    c->f.limit ? c->f.limit : (long)QUERY_DEFAULT_LIMIT);
	json_decref(out);
	return rc == 0 ? 0 : 1;
}

static int
cmd_status(struct ctl *c)
{
	json_t *out = NULL;
	int rc;

	if (query_status(c->q, &out, c->err, sizeof(c->err)) != QUERY_OK) {
		fprintf(stderr, "tlsrptctl: %s\n", c->err);
		return 1;
	}
	rc = render_json(stdout, out);	/* nested: JSON in every format */
	json_decref(out);
	return rc == 0 ? 0 : 1;
}

static int
run(struct ctl *c, int argc, char **argv)
{
	const char *cmd = argv[0];

	if (strcmp(cmd, "show") == 0 && argc == 2)
		return cmd_show(c, argv[1]);
	if (argc != 1)
		usage();
	if (strcmp(cmd, "domains") == 0)
		return cmd_list(c, query_domains, domain_cols, 0);
	if (strcmp(cmd, "summary") == 0)
		return cmd_list(c, query_summary, summary_cols, 0);
	if (strcmp(cmd, "reports") == 0)
		return cmd_list(c, query_reports, report_cols, 0);
	if (strcmp(cmd, "failures") == 0)
		return cmd_list(c, query_failures, failure_cols, 0);
	if (strcmp(cmd, "outbound") == 0)
		return cmd_list(c, query_outbound, outbound_cols, 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(c);
	usage();
	return 2;
}

static long
parse_limit(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 1 || v > QUERY_MAX_LIMIT) {
		fprintf(stderr, "tlsrptctl: --limit is 1 to %d\n", QUERY_MAX_LIMIT);
		exit(2);
	}
	return v;
}

static void
parse_options(struct ctl *c, struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "domain", required_argument, NULL, OPT_DOMAIN },
		{ "org", required_argument, NULL, OPT_ORG },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_OPTS "h", longopts, NULL)) != -1) {
		if (cli_option(cli, ch, optarg))
			continue;
		switch (ch) {
		case OPT_FORMAT:
			if (render_format_parse(optarg, &c->fmt) != 0)
				usage();
			break;
		case OPT_DOMAIN: c->f.domain = optarg; break;
		case OPT_ORG: c->f.org = optarg; break;
		case OPT_SINCE: c->f.since = optarg; break;
		case OPT_UNTIL: c->f.until = optarg; break;
		case OPT_LIMIT: c->f.limit = parse_limit(optarg); break;
		default: usage();
		}
	}
}

int
main(int argc, char **argv)
{
	struct ctl c;
	struct cli cli;
	int rc;

	memset(&c, 0, sizeof(c));
	c.fmt = RENDER_TABLE;
	cli_init(&cli, "tlsrptctl", argc);
	parse_options(&c, &cli, argc, argv);
	cli_finish(&cli);	/* -V and -n need no command */
	if (optind >= argc)
		usage();
	log_init("tlsrptctl", LOG_TO_STDERR);
	if (query_filter_check(&c.f, c.err, sizeof(c.err)) != QUERY_OK) {
		fprintf(stderr, "tlsrptctl: %s\n", c.err);
		return 2;
	}
	c.q = query_open(conf_str("ingest_database"), conf_str("database"),
	    (long)conf_int("db_busy_timeout_ms"));
	rc = run(&c, argc - optind, argv + optind);
	query_close(c.q);
	cli_free(&cli);
	if (fflush(stdout) != 0 && rc == 0)
		rc = 1;
	return rc;
}
