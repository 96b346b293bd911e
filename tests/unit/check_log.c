/*
 * NAME
 *	check_log - unit tests for lib/log.c: rate limiting and stderr output
 * DESCRIPTION
 *	ratelimit_allow() is driven with explicit times: burst N passes per
 *	window, N+1 is suppressed, the next window starts afresh and reports
 *	how many were suppressed. log_limited() returns 0 when it drops a
 *	message. Text sent to stderr is captured by pointing fd 2 at a file
 *	in a mkdtemp() directory, then checked for the "warning:" prefix and
 *	the errno text log_warn adds.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

static char tmpdir[PATH_MAX];
static char capture_path[PATH_MAX];
static int saved_stderr = -1;
static char captured[16384];

static void
tmpdir_create(void)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/check_log.XXXXXX",
	    base) >= sizeof(tmpdir))
		ck_abort_msg("TMPDIR too long");
	if (mkdtemp(tmpdir) == NULL)
		ck_abort_msg("mkdtemp %s: %s", tmpdir, strerror(errno));
	if ((size_t)snprintf(capture_path, sizeof(capture_path), "%s/stderr",
	    tmpdir) >= sizeof(capture_path))
		ck_abort_msg("TMPDIR too long");
}

static void
tmpdir_remove(void)
{
	if (capture_path[0] != '\0')
		unlink(capture_path);
	if (tmpdir[0] != '\0')
		rmdir(tmpdir);
	tmpdir[0] = capture_path[0] = '\0';
}

static void
reset_log(void)
{
	log_init("check_log", LOG_TO_STDERR);
	log_set_debug(0);
}

/* Points stderr at an empty file until capture_end(). */
static void
capture_begin(void)
{
	int fd;

	fflush(stderr);
	fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_msg(fd >= 0, "open %s: %s", capture_path, strerror(errno));
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

/* Restores stderr; what was written is in captured, NUL-terminated. */
static const char *
capture_end(void)
{
	FILE *fp;
	size_t n;

	fflush(stderr);
	ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	fp = fopen(capture_path, "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(captured, 1, sizeof(captured) - 1, fp);
	captured[n] = '\0';
	fclose(fp);
	return captured;
}

static unsigned
count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static const struct {
	unsigned burst;
	unsigned window_s;
	time_t start;
} windows[] = {
	{ 1, 1, 1000000 },
	{ 3, 60, 1700000000 },
	{ 10, 10, 5000 },
	{ 100, 3600, 1700000000 },
	{ 5, 60, 0 },		/* the first window opens at time 0 */
};

/*
 * burst calls pass anywhere inside the window, the next ones do not,
 * and at start + window_s a new window lets burst through again.
 */
START_TEST(test_burst_per_window)
{
	struct ratelimit rl = RATELIMIT_INIT(windows[_i].burst, windows[_i].window_s);
	unsigned burst = windows[_i].burst, window_s = windows[_i].window_s;
	char want[64];
	const char *out;

	for (int round = 0; round < 3; round++) {
		time_t start = windows[_i].start + (time_t)round * window_s;
		time_t end = start + (time_t)window_s - 1;

		capture_begin();
		for (unsigned i = 0; i < burst; i++)
			ck_assert_msg(ratelimit_allow(&rl, i == 0 ? start : end) == 1,
			    "round %d: message %u of %u refused", round, i + 1, burst);
		out = capture_end();
		/* Each earlier window dropped two; the new one says so. */
		snprintf(want, sizeof(want), "2 similar messages suppressed in "
		    "the last %u s", window_s);
		if (round == 0)
			ck_assert_str_eq(out, "");
		else
			ck_assert_msg(strstr(out, want) != NULL, "%s", out);
		ck_assert_int_eq(ratelimit_allow(&rl, start), 0);
		ck_assert_int_eq(ratelimit_allow(&rl, end), 0);
		ck_assert_uint_eq(rl.suppressed, 2);
		ck_assert_uint_eq(rl.used, burst);
	}
}
END_TEST

START_TEST(test_new_window_resets)
{
	struct ratelimit rl = RATELIMIT_INIT(2, 60);
	const time_t t0 = 1700000000;
	const char *out;

	ck_assert_int_eq(ratelimit_allow(&rl, t0), 1);
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 1), 1);
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 2), 0);
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 59), 0);
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 59), 0);
	ck_assert_uint_eq(rl.suppressed, 3);

	/* The new window says how many were dropped, once. */
	capture_begin();
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 60), 1);
	out = capture_end();
	ck_assert_msg(strstr(out, "3 similar messages suppressed") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "warning:") != NULL, "%s", out);
	ck_assert_uint_eq(count_lines(out), 1);
	ck_assert_uint_eq(rl.suppressed, 0);
	ck_assert_uint_eq(rl.used, 1);

	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 61), 1);
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 62), 0);

	/* A quiet window is not announced. */
	capture_begin();
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 1000), 1);
	out = capture_end();
	ck_assert_msg(strstr(out, "1 similar messages suppressed") != NULL, "%s", out);
	capture_begin();
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 2000), 1);
	out = capture_end();
	ck_assert_str_eq(out, "");
}
END_TEST

/* A long silence is one new window, not many. */
START_TEST(test_gap_longer_than_window)
{
	struct ratelimit rl = RATELIMIT_INIT(1, 10);
	const time_t t0 = 1700000000;

	ck_assert_int_eq(ratelimit_allow(&rl, t0), 1);
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 9), 0);
	capture_begin();
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 86400), 1);
	(void)capture_end();
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 86400 + 9), 0);
	capture_begin();
	ck_assert_int_eq(ratelimit_allow(&rl, t0 + 86400 + 10), 1);
	(void)capture_end();
}
END_TEST

START_TEST(test_zero_burst)
{
	struct ratelimit rl = RATELIMIT_INIT(0, 60);
	const char *out;

	capture_begin();
	for (time_t t = 1000; t < 1000 + 600; t += 7)
		ck_assert_int_eq(ratelimit_allow(&rl, t), 0);
	out = capture_end();
	ck_assert_msg(strstr(out, "similar messages suppressed") != NULL, "%s", out);
}
END_TEST

START_TEST(test_log_limited)
{
	struct ratelimit rl = RATELIMIT_INIT(2, 3600);
	const char *out;

	capture_begin();
	ck_assert_int_eq(log_limited(&rl, "bad datagram %d", 1), 1);
	ck_assert_int_eq(log_limited(&rl, "bad datagram %d", 2), 1);
	ck_assert_int_eq(log_limited(&rl, "bad datagram %d", 3), 0);
	ck_assert_int_eq(log_limited(&rl, "bad datagram %d", 4), 0);
	out = capture_end();
	ck_assert_msg(strstr(out, "warning: bad datagram 1\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "warning: bad datagram 2\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "bad datagram 3") == NULL, "%s", out);
	ck_assert_msg(strstr(out, "bad datagram 4") == NULL, "%s", out);
	ck_assert_uint_eq(count_lines(out), 2);
	ck_assert_uint_eq(rl.suppressed, 2);
}
END_TEST

START_TEST(test_warn_adds_errno)
{
	const char *out;

	capture_begin();
	errno = ENOENT;
	log_warn("open %s", "/nonexistent/file");
	ck_assert_int_eq(errno, ENOENT);	/* callers may still test it */
	out = capture_end();
	ck_assert_msg(strstr(out, "check_log: warning: open /nonexistent/file: ")
	    != NULL, "%s", out);
	ck_assert_msg(strstr(out, strerror(ENOENT)) != NULL, "%s", out);
	ck_assert_int_eq(out[strlen(out) - 1], '\n');
	ck_assert_uint_eq(count_lines(out), 1);
}
END_TEST

START_TEST(test_warnx_no_errno)
{
	const char *out;

	capture_begin();
	errno = EACCES;
	log_warnx("value %d out of range", 42);
	out = capture_end();
	ck_assert_msg(strstr(out, "warning: value 42 out of range\n") != NULL,
	    "%s", out);
	ck_assert_msg(strstr(out, strerror(EACCES)) == NULL, "%s", out);
}
END_TEST

/* The stderr line starts with a UTC stamp: 2024-01-01T00:00:00Z. */
START_TEST(test_info_debug_format)
{
	const char *out;

	capture_begin();
	log_info("started %s", "ok");
	log_debug("hidden %d", 1);
	log_set_debug(1);
	ck_assert_int_eq(log_debug_enabled(), 1);
	log_debug("shown %d", 2);
	out = capture_end();
	ck_assert_msg(strstr(out, "check_log: started ok\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "warning:") == NULL, "%s", out);
	ck_assert_msg(strstr(out, "hidden") == NULL, "%s", out);
	ck_assert_msg(strstr(out, "check_log: debug: shown 2\n") != NULL, "%s", out);
	ck_assert_uint_eq(count_lines(out), 2);
	ck_assert_uint_ge(strlen(out), 21);
	ck_assert_int_eq(out[4], '-');
	ck_assert_int_eq(out[10], 'T');
	ck_assert_int_eq(out[19], 'Z');
	ck_assert_int_eq(out[20], ' ');
}
END_TEST

/* A message longer than the internal buffer is cut, not overrun. */
START_TEST(test_long_message)
{
	char *big = malloc(10000);
	const char *out;

	ck_assert_ptr_nonnull(big);
	memset(big, 'm', 9999);
	big[9999] = '\0';
	capture_begin();
	errno = EIO;
	log_warn("%s", big);
	out = capture_end();
	ck_assert_uint_eq(count_lines(out), 1);
	ck_assert_msg(strstr(out, "warning: mmmm") != NULL, "%.80s", out);
	ck_assert_uint_lt(strlen(out), 4096);
	free(big);
}
END_TEST

START_TEST(test_fatalx_exits)
{
	capture_begin();
	fatalx("gave up: %s", "test");
}
END_TEST

static Suite *
log_suite(int forking)
{
	Suite *s = suite_create("log");
	TCase *tc;

	tc = tcase_create("ratelimit");
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_add_checked_fixture(tc, reset_log, NULL);
	tcase_add_loop_test(tc, test_burst_per_window, 0,
	    (int)(sizeof(windows) / sizeof(windows[0])));
	tcase_add_test(tc, test_new_window_resets);
	tcase_add_test(tc, test_gap_longer_than_window);
	tcase_add_test(tc, test_zero_burst);
	tcase_add_test(tc, test_log_limited);
	suite_add_tcase(s, tc);

	tc = tcase_create("stderr");
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_add_checked_fixture(tc, reset_log, NULL);
	tcase_add_test(tc, test_warn_adds_errno);
	tcase_add_test(tc, test_warnx_no_errno);
	tcase_add_test(tc, test_info_debug_format);
	tcase_add_test(tc, test_long_message);
	/* An exit test would end the whole runner without fork. */
	if (forking)
		tcase_add_exit_test(tc, test_fatalx_exits, 1);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

	srunner_add_suite(sr, log_suite(srunner_fork_status(sr) == CK_FORK));
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
