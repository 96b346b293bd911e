/*
 * NAME
 *	pflog_line - split a syslog or journal line into time, tag and text
 * DESCRIPTION
 *	See pflog_line.h. Input is untrusted: every read stops at the first
 *	byte that does not fit, so a short or odd line gives -1, never a
 *	read past its end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pflog_line.h"

#define MAX_HOSTNAME_FIELD 255	/* syslog HOSTNAME */
#define FUTURE_SLACK_S (2 * 86400)

static int
digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* "HH:MM:SS" with an optional ".fraction"; returns the end or NULL. */
static const char *
parse_clock(const char *s, struct tm *tm)
{
	if (digits(s, 2, &tm->tm_hour) != 0 || s[2] != ':' ||
	    digits(s + 3, 2, &tm->tm_min) != 0 || s[5] != ':' ||
	    digits(s + 6, 2, &tm->tm_sec) != 0)
		return NULL;
	if (tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60)
		return NULL;
	s += 8;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return s;
}

/* "Z", "+HH:MM" or "+HHMM"; returns the end or NULL. */
static const char *
parse_offset(const char *s, long *offset_s)
{
	int h, m, sign;

	*offset_s = 0;
	if (*s == 'Z' || *s == 'z')
		return s + 1;
	if (*s != '+' && *s != '-')
		return NULL;
	sign = *s++ == '-' ? -1 : 1;
	if (digits(s, 2, &h) != 0)
		return NULL;
	s += 2;
	if (*s == ':')
		s++;
	if (digits(s, 2, &m) != 0 || h > 23 || m > 59)
		return NULL;
	*offset_s = sign * (h * 3600L + m * 60L);
	return s + 2;
}

/* 2026-11-23T10:00:01[.frac](Z|+HH:MM|+HHMM) */
static const char *
parse_iso_time(const char *s, time_t *when)
{
	struct tm tm;
	long offset_s;
	int year, mon;

	memset(&tm, 0, sizeof(tm));
	if (digits(s, 4, &year) != 0 || s[4] != '-' ||
	    digits(s + 5, 2, &mon) != 0 || s[7] != '-' ||
	    digits(s + 8, 2, &tm.tm_mday) != 0 || s[10] != 'T')
		return NULL;
	if (year < 1970 || mon < 1 || mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31)
		return NULL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	if ((s = parse_clock(s + 11, &tm)) == NULL ||
	    (s = parse_offset(s, &offset_s)) == NULL)
		return NULL;
	*when = timegm(&tm) - offset_s;
	return s;
}

/* 1763892001[.123456] (journalctl -o short-unix) */
static const char *
parse_unix_time(const char *s, time_t *when)
{
	long long t = 0;
	int n;

	for (n = 0; n < 12 && s[n] >= '0' && s[n] <= '9'; n++)
		t = t * 10 + (s[n] - '0');
	if (n < 9 || n == 12)
		return NULL;
	s += n;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	*when = (time_t)t;
	return s;
}

/* Nov 23 10:00:01[.frac], day space-padded; the year comes from now. */
static const char *
parse_bsd_time(const char *s, time_t now, time_t *when)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm, now_tm;
	const char *m;

	memset(&tm, 0, sizeof(tm));
	if (s[0] == '\0' || s[1] == '\0' || s[2] == '\0' || s[3] != ' ')
		return NULL;
	for (m = months; *m != '\0'; m += 3)
		if (strncmp(m, s, 3) == 0)
			break;
	if (*m == '\0')
		return NULL;
	tm.tm_mon = (int)(m - months) / 3;
	/* syslog pads the day with a space: "Nov  3" */
	if (digits(s + 4 + (s[4] == ' '), 2 - (s[4] == ' '), &tm.tm_mday) != 0)
		return NULL;
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || s[6] != ' ' ||
	    (s = parse_clock(s + 7, &tm)) == NULL)
		return NULL;
	gmtime_r(&now, &now_tm);
	tm.tm_year = now_tm.tm_year;
	*when = timegm(&tm);
	if (*when > now + FUTURE_SLACK_S) {	/* December's lines in January */
		tm.tm_year--;
		*when = timegm(&tm);
	}
	return s;
}

/*
 * "postfix/smtp[1234]: " -> prog "smtp", pid 1234, from Postfix; also
 * other programs' tags ("kernel: ", "sshd[1]: "). Returns the text.
 */
static const char *
parse_tag(const char *s, struct pflog_line *out)
{
	const char *slash = NULL, *p;
	char *end;

	for (p = s; *p != '\0' && *p != ' ' && *p != '[' && *p != ':'; p++)
		if (*p == '/')
			slash = p;
	if (p == s)
		return NULL;
	out->prog = slash != NULL ? slash + 1 : s;
	out->prog_len = (size_t)(p - out->prog);
	out->postfix = slash != NULL && slash != s;
	if (*p == '[') {
		if (p[1] < '0' || p[1] > '9')
			return NULL;
		errno = 0;
		out->pid = strtol(p + 1, &end, 10);
		if (*end != ']' || errno != 0 || out->pid <= 0)
			return NULL;
		p = end + 1;
	}
	if (p[0] != ':' || (p[1] != ' ' && p[1] != '\0'))
		return NULL;
	return p[1] == ' ' ? p + 2 : p + 1;
}

int
pflog_line_split(char *text, time_t now, struct pflog_line *out)
{
	const char *s = text, *host;
	size_t ndigits = strspn(s, "0123456789");

	memset(out, 0, sizeof(*out));
	if (ndigits == 4 && s[4] == '-')
		s = parse_iso_time(s, &out->when);
	else if (ndigits > 0)
		s = parse_unix_time(s, &out->when);
	else
		s = parse_bsd_time(s, now, &out->when);
	if (s == NULL || *s++ != ' ')
		return -1;
	for (host = s; *s != '\0' && *s != ' '; s++)
		;
	if (s == host || s - host > MAX_HOSTNAME_FIELD || *s++ != ' ')
		return -1;
	if ((s = parse_tag(s, out)) == NULL)
		return -1;
	out->msg = s;
	return 0;
}
