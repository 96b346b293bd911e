/*
 * NAME
 *	day - UTC day arithmetic
 * DESCRIPTION
 *	See day.h. Days are computed with integer arithmetic on the epoch
 *	(civil-from-days), which needs no time zone database and no locks.
 */
#include <stdio.h>
#include <string.h>

#include "day.h"

/* Howard Hinnant's civil_from_days / days_from_civil algorithms. */
static void
civil_from_days(long long z, int *y, unsigned *m, unsigned *d)
{
	long long era, yy;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (long long)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

static long long
days_from_civil(int y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

void
day_format(time_t t, char out[DAY_LEN])
{
	long long days = (long long)t / 86400;
	int y;
	unsigned m, d;

	if ((long long)t % 86400 < 0)
		days--;
	/* 0000-01-01 .. 9999-12-31; outside, the year would not fit an int. */
	if (days < -719528 || days > 2932896) {
		memcpy(out, "0000-00-00", DAY_LEN);
		return;
	}
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		memcpy(out, "0000-00-00", DAY_LEN);
		return;
	}
	snprintf(out, DAY_LEN, "%04d-%02u-%02u", y, (m - 1) % 12 + 1, (d - 1) % 31 + 1);
}

int
day_parse(const char *s, time_t *start)
{
	unsigned y, m, d, mdays;
	static const unsigned month_days[] = { 31, 29, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 +
	    (s[2] - '0') * 10 + (s[3] - '0'));
	m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return -1;
	mdays = month_days[m - 1];
	if (m == 2 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		mdays = 28;
	if (d > mdays)
		return -1;
	*start = (time_t)(days_from_civil((int)y, m, d) * 86400);
	return 0;
}
