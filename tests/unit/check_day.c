/*
 * NAME
 *	check_day - unit tests for lib/day.c, UTC day formatting and parsing
 * DESCRIPTION
 *	Day boundaries (first and last second of a day), leap days in 2024,
 *	2000 and (none) 2100, times before 1970, year 9999, a round trip of
 *	day_parse(day_format(t)) for 100000 pseudo-random times checked
 *	against gmtime_r() as an independent oracle, the dates day_parse
 *	must refuse, and that nothing changes with the TZ variable.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "day.h"

#define DAY_S 86400

static const struct {
	long long t;
	const char *day;
} format_cases[] = {
	{ 0, "1970-01-01" },
	{ DAY_S - 1, "1970-01-01" },		/* 23:59:59 */
	{ DAY_S, "1970-01-02" },		/* one second later */
	{ 1709164800 - 1, "2024-02-28" },
	{ 1709164800, "2024-02-29" },
	{ 1709164800 + DAY_S - 1, "2024-02-29" },
	{ 1709251200, "2024-03-01" },
	{ 951782400, "2000-02-29" },
	{ 951868800, "2000-03-01" },
	{ 4107456000 + DAY_S - 1, "2100-02-28" },
	{ 4107542400, "2100-03-01" },		/* 2100 is not a leap year */
	{ 1735689599, "2024-12-31" },
	{ 1735689600, "2025-01-01" },
	{ -1, "1969-12-31" },
	{ -DAY_S, "1969-12-31" },
	{ -DAY_S - 1, "1969-12-30" },
	{ -31536000, "1969-01-01" },
	{ -31536000 - 1, "1968-12-31" },
	{ -2208988800LL, "1900-01-01" },
	{ -62167219200LL, "0000-01-01" },
	{ 253402214400LL, "9999-12-31" },
	{ 253402300799LL, "9999-12-31" },
};

START_TEST(test_format)
{
	char out[DAY_LEN];

	memset(out, 'X', sizeof(out));
	day_format((time_t)format_cases[_i].t, out);
	ck_assert_msg(strcmp(out, format_cases[_i].day) == 0, "%lld: %.*s, want %s",
	    format_cases[_i].t, DAY_LEN, out, format_cases[_i].day);
}
END_TEST

/*
 * Years that do not fit four digits come out as "0000-00-00" rather
 * than as a wrong date. The last cases are 2^28 400-year eras away from
 * 2024-01-01: their year is 2024 modulo 2^32, so a year truncated to
 * 32 bits would look valid.
 */
static const long long out_of_range[] = {
	253402300800LL,				/* 10000-01-01 */
	-62167219201LL,				/* -0001-12-31 */
	1704067200LL + (1LL << 28) * 146097 * DAY_S,
	1704067200LL - (1LL << 28) * 146097 * DAY_S,
	INT64_MAX,
	INT64_MIN,
};

START_TEST(test_format_out_of_range)
{
	char out[DAY_LEN];

	memset(out, 'X', sizeof(out));
	day_format((time_t)out_of_range[_i], out);
	ck_assert_msg(strcmp(out, "0000-00-00") == 0, "%lld: %.*s",
	    out_of_range[_i], DAY_LEN, out);
}
END_TEST

static const struct {
	const char *day;
	long long start;
} parse_cases[] = {
	{ "1970-01-01", 0 },
	{ "1970-01-02", DAY_S },
	{ "2000-02-29", 951782400 },
	{ "2024-02-29", 1709164800 },
	{ "2024-03-01", 1709251200 },
	{ "2100-02-28", 4107456000 },
	{ "2100-03-01", 4107542400 },
	{ "2024-12-31", 1735603200 },
	{ "9999-12-31", 253402214400LL },
};

START_TEST(test_parse)
{
	time_t start = -12345;

	ck_assert_msg(day_parse(parse_cases[_i].day, &start) == 0, "%s refused",
	    parse_cases[_i].day);
	ck_assert_int_eq((long long)start, parse_cases[_i].start);
}
END_TEST

static const char *const bad_days[] = {
	"2023-02-29",		/* not a leap year */
	"2100-02-29",		/* century, not a leap year */
	"2024-02-30",
	"2024-04-31",
	"2024-01-32",
	"2024-13-01",
	"2024-00-10",
	"2024-01-00",
	"2024-1-01",
	"2024-01-1",
	"24-01-01",
	"",
	"2024-01-01x",
	"2024-01-01 ",
	" 2024-01-01",
	"2024-01-01T00:00:00Z",
	"2024/01/01",
	"2024-01_01",
	"2024-0a-01",
	"2024-01-0\n",
	"+024-01-01",
	"-024-01-01",
	"2024--1-01",
	"1969-12-31",		/* before the epoch */
	"0000-00-00",
	"99999-01-01",
};

START_TEST(test_parse_rejects)
{
	time_t start = 0;

	ck_assert_msg(day_parse(bad_days[_i], &start) == -1, "'%s' accepted",
	    bad_days[_i]);
}
END_TEST

/* Every day of 1970..2200 in turn: parse and format agree, no gaps. */
START_TEST(test_every_day)
{
	time_t last, start;
	char day[DAY_LEN], back[DAY_LEN];
	long long days = 0;

	ck_assert_int_eq(day_parse("2200-12-31", &last), 0);
	for (long long t = 0; t <= (long long)last; t += DAY_S, days++) {
		day_format((time_t)t, day);
		if (day_parse(day, &start) != 0 || (long long)start != t)
			ck_abort_msg("%lld -> %s -> %lld", t, day, (long long)start);
		day_format((time_t)(t + DAY_S - 1), back);
		if (strcmp(day, back) != 0)
			ck_abort_msg("%lld: %s but its last second is %s", t, day, back);
	}
	/* 231 years, 56 of them leap (2100 is not). */
	ck_assert_int_eq(days, 231 * 365 + 56);
}
END_TEST

/* splitmix64: fixed seed, so a failure names a time that reproduces. */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* What day_format should say, from the C library. */
static void
oracle_format(time_t t, char out[DAY_LEN])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		ck_abort_msg("gmtime_r(%lld) failed", (long long)t);
	/* Not strftime: its %Y does not pad years below 1000. */
	snprintf(out, DAY_LEN, "%04u-%02u-%02u",
	    (unsigned)(tm.tm_year + 1900) % 10000, (unsigned)tm.tm_mon % 12 + 1,
	    (unsigned)(tm.tm_mday - 1) % 31 + 1);
}

START_TEST(test_random_round_trip)
{
	uint64_t state = 20240229;
	time_t end, start;
	char day[DAY_LEN], want[DAY_LEN];

	ck_assert_int_eq(day_parse("2200-12-31", &end), 0);
	end += DAY_S;
	for (int i = 0; i < 100000; i++) {
		time_t t = (time_t)(next_random(&state) % (uint64_t)end);

		day_format(t, day);
		oracle_format(t, want);
		if (strcmp(day, want) != 0)
			ck_abort_msg("day_format(%lld) = %s, gmtime says %s",
			    (long long)t, day, want);
		if (day_parse(day, &start) != 0 || start != t - t % DAY_S)
			ck_abort_msg("day_parse(day_format(%lld)) = %lld", (long long)t,
			    (long long)start);
	}
}
END_TEST

/* Before 1970 only day_format applies; check it against gmtime too. */
START_TEST(test_random_negative)
{
	uint64_t state = 19691231;
	char day[DAY_LEN], want[DAY_LEN];

	for (int i = 0; i < 100000; i++) {
		time_t t = -(time_t)(next_random(&state) % 62167219200ULL);

		day_format(t, day);
		oracle_format(t, want);
		if (strcmp(day, want) != 0)
			ck_abort_msg("day_format(%lld) = %s, gmtime says %s",
			    (long long)t, day, want);
	}
}
END_TEST

/*
 * Zones far from UTC either way: Kiritimati is UTC+14, Adak UTC-10 with
 * summer time. The POSIX spellings need no zoneinfo files, so the test
 * means something on a machine without tzdata too.
 */
static const char *const zones[] = {
	"Pacific/Kiritimati", "America/Adak", "<+14>-14", "HST10HDT,M3.2.0,M11.1.0",
};

/* Everything day_format and day_parse say about a fixed set of inputs. */
static void
day_outputs(char *out, size_t outlen)
{
	size_t used = 0;
	char day[DAY_LEN];
	time_t start;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		static const long long shifts[] = { 0, -50400, -36000, 36000, 50400 };

		for (size_t j = 0; j < sizeof(shifts) / sizeof(shifts[0]); j++) {
			day_format((time_t)(format_cases[i].t + shifts[j]), day);
			used += (size_t)snprintf(out + used, outlen - used, "%s,", day);
			ck_assert_uint_lt(used, outlen);
		}
	}
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		ck_assert_int_eq(day_parse(parse_cases[i].day, &start), 0);
		used += (size_t)snprintf(out + used, outlen - used, "%lld,",
		    (long long)start);
		ck_assert_uint_lt(used, outlen);
	}
}

static void
set_tz(const char *tz)
{
	if (tz == NULL)
		unsetenv("TZ");
	else
		setenv("TZ", tz, 1);
	tzset();
}

START_TEST(test_tz_independent)
{
	char utc[8192], zoned[8192];
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	time_t probe = 1700000000;
	struct tm tm;

	set_tz("UTC");
	day_outputs(utc, sizeof(utc));
	set_tz(zones[_i]);
	/* The zone must really be in force, or the test proves nothing. */
	ck_assert_ptr_nonnull(localtime_r(&probe, &tm));
	if (zones[_i][0] == '<' || zones[_i][0] == 'H')
		ck_assert_int_ne(tm.tm_gmtoff, 0);
	day_outputs(zoned, sizeof(zoned));
	set_tz(saved);
	free(saved);
	ck_assert_str_eq(zoned, utc);
}
END_TEST

static Suite *
day_suite(void)
{
	Suite *s = suite_create("day");
	TCase *tc;

	tc = tcase_create("format");
	tcase_add_loop_test(tc, test_format, 0,
	    (int)(sizeof(format_cases) / sizeof(format_cases[0])));
	tcase_add_loop_test(tc, test_format_out_of_range, 0,
	    (int)(sizeof(out_of_range) / sizeof(out_of_range[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse, 0,
	    (int)(sizeof(parse_cases) / sizeof(parse_cases[0])));
	tcase_add_loop_test(tc, test_parse_rejects, 0,
	    (int)(sizeof(bad_days) / sizeof(bad_days[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("round_trip");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_day);
	tcase_add_test(tc, test_random_round_trip);
	tcase_add_test(tc, test_random_negative);
	suite_add_tcase(s, tc);

	tc = tcase_create("timezone");
	tcase_add_loop_test(tc, test_tz_independent, 0,
	    (int)(sizeof(zones) / sizeof(zones[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(day_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
