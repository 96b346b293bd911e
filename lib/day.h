/*
 * NAME
 *	day - UTC day arithmetic
 * SYNOPSIS
 *	char d[DAY_LEN];
 *	day_format(time(NULL), d);		"2026-11-23"
 *	if (day_parse("2026-11-23", &start) == 0) ...	00:00:00Z as time_t
 * DESCRIPTION
 *	Reports cover UTC days whatever the machine's time zone, so every
 *	day boundary in tlsrptd goes through these two functions and never
 *	through localtime().
 */
#ifndef TLSRPTD_DAY_H
#define TLSRPTD_DAY_H

#include <time.h>

#define DAY_LEN 11		/* "YYYY-MM-DD" and NUL */

void day_format(time_t t, char out[DAY_LEN]);
int day_parse(const char *s, time_t *start) __attribute__((warn_unused_result));

#endif
