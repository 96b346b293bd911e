/*
 * NAME
 *	tlsrpt-ingest - store a TLSRPT report that arrives by mail
 * SYNOPSIS
 *	tlsrpt-ingest [-dnV] [-c file] [-o key=value] < message
 * DESCRIPTION
 *	For an MTA pipe (Postfix pipe(8) or an alias "|tlsrpt-ingest",
 *	Exim pipe transport, .forward): reads one message from standard
 *	input (at most ingest_max_mail_bytes), finds the report whatever the
 *	MIME labels say (lib/mailin), verifies the DKIM signature when
 *	ingest_dkim_verify is set and records the verdict, and stores the
 *	report in ingest_database like tlsrpt-ingestd does, deduplicated on
 *	(organization-name, report-id). With ingest_require_dkim, mail
 *	without a passing signature is ignored (RFC 8460 4.3: receivers
 *	MUST ignore unsigned reports): counted, logged, exit 0.
 * DIAGNOSTICS
 *	Exit codes the MTA understands (sysexits.h): 0 stored, duplicate or
 *	ignored; 65 (EX_DATAERR) the message holds no usable report: the
 *	MTA bounces it with our one-line reason; 75 (EX_TEMPFAIL) our fault
 *	(database, memory, a broken configuration file): the MTA keeps the
 *	mail and retries; 78 (EX_CONFIG) bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accept.h"
#include "buf.h"
#include "cli.h"
#include "conf.h"
#include "dkim.h"
#include "log.h"
#include "mailin.h"

#define EX_OK_ 0
#define EX_DATAERR_ 65
#define EX_TEMPFAIL_ 75
#define EX_CONFIG_ 78

static void
usage(void)
{
	fprintf(stderr, "usage: tlsrpt-ingest [-dnV] [-c file] [-o key=value] < message\n");
	exit(EX_CONFIG_);
}

static int
read_stdin(struct buf *b)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(0, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (buf_append(b, chunk, (size_t)n) != 0)
			return 1;
	}
	return 0;
}

static int
exit_code(enum accept_result r)
{
	switch (r) {
	case ACCEPT_STORED:
	case ACCEPT_DUPLICATE:
		return EX_OK_;
	case ACCEPT_FAULT:
		return EX_TEMPFAIL_;
	default:
		return EX_DATAERR_;
	}
}

static int
ingest(struct acceptor *a, const struct buf *msg)
{
	struct mailin_result mr;
	struct dkim_verdict v;
	struct accept_meta meta;
	enum accept_result r;
	char err[512], why[512];
	int verified = conf_bool("ingest_dkim_verify");

	memset(&mr, 0, sizeof(mr));
	if (mailin_parse(msg->data, msg->len, (size_t)conf_int("ingest_max_inflated_bytes"),
	    &mr, err, sizeof(err)) != 0) {
		acceptor_count(a, "rejected_no_report");
		fprintf(stderr, "tlsrpt-ingest: no TLSRPT report in this message: %s\n", err);
		log_warnx("mail from %s: no report: %s", mr.from ? mr.from : "?", err);
		mailin_free(&mr);
		return EX_DATAERR_;
	}
	memset(&v, 0, sizeof(v));
	snprintf(v.text, sizeof(v.text), "not checked");
	if (verified && dkim_verify_mail(msg->data, msg->len, conf_str("dns_server"), &v,
	    err, sizeof(err)) != 0)
		snprintf(v.text, sizeof(v.text), "error: %.200s", err);
	if (conf_bool("ingest_require_dkim") && v.result != DKIM_VERDICT_PASS) {
		acceptor_count(a, "ignored_unsigned");
		log_warnx("mail from %s ignored: DKIM %s", mr.from ? mr.from : "?", v.text);
		mailin_free(&mr);
		return EX_OK_;
	}
	meta.source = "mail";
	meta.peer = mr.from ? mr.from : "";
	meta.dkim = v.text;
	meta.submitter = mr.submitter;
	meta.how = mr.how;
	r = acceptor_json(a, mr.json.data ? mr.json.data : "", mr.json.len, msg->data,
	    msg->len, &meta, why, sizeof(why));
	if (r != ACCEPT_STORED && r != ACCEPT_DUPLICATE)
		fprintf(stderr, "tlsrpt-ingest: report refused: %s: %s\n",
		    accept_result_name(r), why);
	mailin_free(&mr);
	return exit_code(r);
}

int
main(int argc, char **argv)
{
	struct cli cli;
	struct accept_limits lim;
	struct acceptor *a;
	struct buf msg;
	char err[512];
	int ch, rc;

	cli_init(&cli, "tlsrpt-ingest", argc);
	/* A broken config is our fault: the MTA must keep the mail, not bounce it. */
	cli.config_error_exit = EX_TEMPFAIL_;
	while ((ch = getopt(argc, argv, CLI_COMMON_OPTS "h")) != -1)
		if (!cli_option(&cli, ch, optarg))
			usage();
	if (optind != argc)
		usage();
	cli_finish(&cli);
	log_init("tlsrpt-ingest", isatty(2) || cli.foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG);
	buf_init(&msg, (size_t)conf_int("ingest_max_mail_bytes"));
	if ((rc = read_stdin(&msg)) < 0) {
		fprintf(stderr, "tlsrpt-ingest: %s\n", strerror(errno));
		rc = EX_TEMPFAIL_;
		goto out;
	}
	lim.max_inflated_bytes = (size_t)conf_int("ingest_max_inflated_bytes");
	lim.max_json_depth = (int)conf_int("ingest_max_json_depth");
	a = acceptor_open(&lim, conf_str("ingest_database"),
	    (long)conf_int("db_busy_timeout_ms"), err, sizeof(err));
	if (a == NULL) {
		fprintf(stderr, "tlsrpt-ingest: %s\n", err);
		rc = EX_TEMPFAIL_;
		goto out;
	}
	if (rc > 0) {
		/* Counted like the endpoint's oversized bodies. */
		acceptor_count(a, "rejected_too_big");
		fprintf(stderr, "tlsrpt-ingest: message larger than ingest_max_mail_bytes\n");
		log_warnx("mail refused: larger than ingest_max_mail_bytes (%lld)",
		    conf_int("ingest_max_mail_bytes"));
		rc = EX_DATAERR_;
	} else
		rc = ingest(a, &msg);
	acceptor_close(a);
out:
	buf_free(&msg);
	cli_free(&cli);
	return rc;
}
