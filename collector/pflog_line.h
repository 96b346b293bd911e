/*
 * NAME
 *	pflog_line - split a syslog or journal line into time, tag and text
 * SYNOPSIS
 *	struct pflog_line line;
 *	if (pflog_line_split(text, now, &line) == 0) ... line.prog, line.msg
 * DESCRIPTION
 *	Takes one NUL-terminated log line in any of the forms syslog daemons
 *	and journalctl write:
 *
 *	    Nov 23 10:00:01 mx postfix/smtp[1234]: text
 *	    Nov  3 10:00:01.123456 mx postfix/smtp[1234]: text
 *	    2026-11-23T10:00:01.123456+00:00 mx postfix/smtp[1234]: text
 *	    2026-11-23T10:00:01+0000 mx postfix/smtp[1234]: text
 *	    1763892001.123456 mx postfix/smtp[1234]: text
 *
 *	and returns the time (seconds; a year-less stamp gets the year of
 *	`now`, or the year before when that would put it in the future),
 *	the program (the part of the tag after the last '/', so
 *	postfix-out/smtp and postfix/relay/smtp are "smtp"), the pid and
 *	the text. A tag without '/' is not Postfix (out->postfix = 0) but
 *	still a log line.
 * DIAGNOSTICS
 *	-1 for anything that is not a log line in one of these forms.
 */
#ifndef TLSRPTD_PFLOG_LINE_H
#define TLSRPTD_PFLOG_LINE_H

#include <stddef.h>
#include <time.h>

struct pflog_line {
	time_t when;
	const char *prog;	/* "smtp", "qmgr", ... (not NUL-terminated) */
	size_t prog_len;
	long pid;		/* 0 when the tag has none */
	int postfix;		/* the tag has a '/': postfix/smtp */
	const char *msg;	/* NUL-terminated */
};

int pflog_line_split(char *text, time_t now, struct pflog_line *out)
    __attribute__((warn_unused_result));

#endif
