/*
 * NAME
 *	mail-compose - build (and DKIM-sign) one report mail (test tool)
 * SYNOPSIS
 *	mail-compose [-k key.pem -s selector -d domain] [-f from] [-t to]
 *	    [-D report_domain] [-S submitter] [-i report_id] [-o org]
 *	    [-b begin] [-e end] [-T date] report.json
 * DESCRIPTION
 *	Gzips the file with gz_compress(), composes the message with
 *	mail_build() and, with -k, signs it with dkim_signer_sign(); writes
 *	the message to standard output. Every field has a default (see
 *	below) so tests name only the ones they vary. Times are Unix
 *	seconds.
 * DIAGNOSTICS
 *	Exit 0 on success; 1 with the library's message on standard error;
 *	2 for bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dkim.h"
#include "gz.h"
#include "mail.h"

#define REPORT_MAX_BYTES	(10 * 1024 * 1024)
#define MESSAGE_MAX_BYTES	(16 * 1024 * 1024)

static int
read_file(const char *path, struct buf *b)
{
	FILE *fp = fopen(path, "rb");
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (fp == NULL) {
		fprintf(stderr, "mail-compose: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(b, chunk, n) != 0) {
			fprintf(stderr, "mail-compose: %s: too large\n", path);
			rc = -1;
			break;
		}
	if (ferror(fp))
		rc = -1;
	fclose(fp);
	return rc;
}

static int
parse_time(const char *s, time_t *t)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*t = (time_t)v;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: mail-compose [-k key -s selector -d domain] [-f from] "
	    "[-t to] [-D report_domain] [-S submitter] [-i report_id] [-o org] "
	    "[-b begin] [-e end] [-T date] report.json\n");
	exit(2);
}

static void
parse_args(int argc, char **argv, struct mail_report *r, const char *key[3])
{
	int c;

	while ((c = getopt(argc, argv, "k:s:d:f:t:D:S:i:o:b:e:T:")) != -1) {
		switch (c) {
		case 'k': key[0] = optarg; break;
		case 's': key[1] = optarg; break;
		case 'd': key[2] = optarg; break;
		case 'f': r->from = optarg; break;
		case 't': r->to = optarg; break;
		case 'D': r->report_domain = optarg; break;
		case 'S': r->submitter = optarg; break;
		case 'i': r->report_id = optarg; break;
		case 'o': r->org = optarg; break;
		case 'b': if (parse_time(optarg, &r->begin) != 0) usage(); break;
		case 'e': if (parse_time(optarg, &r->end) != 0) usage(); break;
		case 'T': if (parse_time(optarg, &r->date) != 0) usage(); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || (key[0] && (!key[1] || !key[2])))
		usage();
}

static int
compose(const struct mail_report *r, const char *key[3], struct buf *out)
{
	struct dkim_signer *s;
	struct buf msg;
	char err[512];
	int rc = -1;

	buf_init(&msg, MESSAGE_MAX_BYTES);
	if (mail_build(r, key[0] ? &msg : out, err, sizeof(err)) != 0) {
		fprintf(stderr, "mail-compose: %s\n", err);
		goto out;
	}
	if (key[0] == NULL) {
		rc = 0;
		goto out;
	}
	if ((s = dkim_signer_new(key[0], key[1], key[2], err, sizeof(err))) == NULL) {
		fprintf(stderr, "mail-compose: %s\n", err);
		goto out;
	}
	rc = dkim_signer_sign(s, msg.data, msg.len, out, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "mail-compose: %s\n", err);
	dkim_signer_free(s);
out:
	buf_free(&msg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct mail_report r = {
		.from = "tlsrpt-noreply@reporter.example",
		.to = "tlsrpt@example.com",
		.report_domain = "example.com",
		.submitter = "reporter.example",
		.report_id = "2026-03-14T00:00:00Z_idx1_example.com@reporter.example",
		.org = "Reporter Example",
		.begin = 1773446400, .end = 1773532799, .date = 1773460800,
	};
	const char *key[3] = { NULL, NULL, NULL };
	struct buf json, gz, out;
	int rc = 1;

	parse_args(argc, argv, &r, key);
	buf_init(&json, REPORT_MAX_BYTES);
	buf_init(&gz, REPORT_MAX_BYTES);
	buf_init(&out, MESSAGE_MAX_BYTES);
	if (read_file(argv[optind], &json) != 0)
		goto out;
	if (gz_compress(json.data, json.len, &gz) != 0) {
		fprintf(stderr, "mail-compose: gzip failed\n");
		goto out;
	}
	r.gz = gz.data;
	r.gzlen = gz.len;
	if (compose(&r, key, &out) == 0 && fwrite(out.data, 1, out.len, stdout) == out.len &&
	    fflush(stdout) == 0)
		rc = 0;
out:
	buf_free(&json);
	buf_free(&gz);
	buf_free(&out);
	return rc;
}
