/*
 * NAME
 *	txt-lookup - find and parse a TLSRPT record (test tool)
 * SYNOPSIS
 *	txt-lookup [-a] [-s host[:port]] name
 * DESCRIPTION
 *	Looks up the TXT records of name with dns_txt(), picks the TLSRPT
 *	record with txt_select() and parses it with txt_parse(), the way
 *	the report sender does, and prints one result line:
 *
 *	ok <target> ...		the record's usable destinations
 *	none: <reason>		no TXT record, or no TLSRPT record
 *	invalid: <reason>	several TLSRPT records, or a bad one
 *	tempfail: <reason>	DNS failed; try later
 *
 *	Before it, "note: <text>" lines carry what dns_txt() or
 *	txt_parse() reported on success (caps hit, URIs skipped). -a also
 *	prints every TXT record as "txt: <record>", bytes outside
 *	printable ASCII and '\' written as \xHH. -s sends the query to
 *	that server instead of the ones in /etc/resolv.conf.
 * DIAGNOSTICS
 *	Exit 0 ok, 1 none, 2 invalid, 3 tempfail, 4 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dns.h"
#include "txt.h"

static void
print_escaped(const char *prefix, const char *s)
{
	fputs(prefix, stdout);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	putchar('\n');
}

/* Select and parse; prints the result line, returns the exit code. */
static int
show_tlsrpt(char **recs, size_t n)
{
	struct txt_record r;
	const char *chosen;
	char err[512];

	switch (txt_select((const char *const *)recs, n, &chosen, err, sizeof(err))) {
	case 1:
		printf("none: %s\n", err);
		return 1;
	case -1:
		printf("invalid: %s\n", err);
		return 2;
	}
	if (txt_parse(chosen, &r, err, sizeof(err)) != 0) {
		printf("invalid: %s\n", err);
		return 2;
	}
	if (err[0] != '\0')
		printf("note: %s\n", err);
	fputs("ok", stdout);
	for (size_t i = 0; i < r.nrua; i++)
		printf(" %s", r.rua[i].target);
	putchar('\n');
	txt_record_free(&r);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *server = NULL;
	char **recs, err[512];
	size_t n;
	int ch, all = 0, rc;

	while ((ch = getopt(argc, argv, "as:")) != -1) {
		switch (ch) {
		case 'a': all = 1; break;
		case 's': server = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	switch (dns_txt(argv[optind], server, &recs, &n, err, sizeof(err))) {
	case DNS_TEMPFAIL:
		printf("tempfail: %s\n", err);
		return 3;
	case DNS_NODATA:
		printf("none: %s\n", err);
		return 1;
	case DNS_OK:
		break;
	}
	if (err[0] != '\0')
		printf("note: %s\n", err);
	for (size_t i = 0; all && i < n; i++)
		print_escaped("txt: ", recs[i]);
	rc = show_tlsrpt(recs, n);
	dns_txt_free(recs, n);
	return rc;
usage:
	fprintf(stderr, "usage: txt-lookup [-a] [-s host[:port]] name\n");
	return 4;
}
