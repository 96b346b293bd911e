/*
 * NAME
 *	check_buf - unit tests for lib/buf.c, the capped growable buffer
 * DESCRIPTION
 *	The cap is the point of the module, so most cases sit on it: filling
 *	to exactly max succeeds, one byte more fails and changes nothing,
 *	for buf_append, buf_putc, buf_puts and buf_printf alike; max 0; data
 *	is NUL-terminated after every success; reset keeps the memory and
 *	the cap; growth across many appends keeps every byte.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Content and length must be exactly what the caller appended. */
static void
assert_content(const struct buf *b, const char *want, size_t wantlen)
{
	ck_assert_uint_eq(b->len, wantlen);
	ck_assert_ptr_nonnull(b->data);
	ck_assert_mem_eq(b->data, want, wantlen);
	ck_assert_int_eq(b->data[b->len], '\0');
	ck_assert_uint_ge(b->cap, b->len + 1);
	ck_assert_uint_le(b->len, b->max);
}

/*
 * Index of the first byte that differs from pattern(i), or len; checked
 * once, because a check assertion per byte is slow in fork mode.
 */
static size_t
first_mismatch(const struct buf *b, int (*pattern)(size_t))
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] != pattern(i))
			break;
	return i;
}

static int
bytewise_pattern(size_t i)
{
	return (int)(i * 7 % 251 + 1);
}

static int
alphabet_pattern(size_t i)
{
	return 'a' + (int)(i % 26);
}

START_TEST(test_init)
{
	struct buf b;

	memset(&b, 0xa5, sizeof(b));
	buf_init(&b, 100);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(b.max, 100);
	buf_free(&b);
}
END_TEST

/* Loop over the cap, including ones around the first allocation (64). */
static const size_t caps[] = { 1, 2, 16, 63, 64, 65, 127, 128, 1000, 4096 };

START_TEST(test_append_to_exact_max)
{
	size_t max = caps[_i];
	char *want = malloc(max + 1);
	struct buf b;

	ck_assert_ptr_nonnull(want);
	for (size_t i = 0; i <= max; i++)
		want[i] = (char)('a' + i % 26);
	buf_init(&b, max);
	ck_assert_int_eq(buf_append(&b, want, max / 2), 0);
	ck_assert_int_eq(buf_append(&b, want + max / 2, max - max / 2), 0);
	assert_content(&b, want, max);
	ck_assert_uint_le(b.cap, max + 1);

	ck_assert_int_eq(buf_append(&b, "z", 1), -1);
	assert_content(&b, want, max);
	ck_assert_int_eq(buf_putc(&b, 'z'), -1);
	ck_assert_int_eq(buf_puts(&b, "z"), -1);
	ck_assert_int_eq(buf_printf(&b, "%c", 'z'), -1);
	assert_content(&b, want, max);
	/* Nothing is still something that fits. */
	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	ck_assert_int_eq(buf_puts(&b, ""), 0);
	assert_content(&b, want, max);
	buf_free(&b);
	free(want);
}
END_TEST

/* One append of max+1 to an empty buffer fails whole, not in part. */
START_TEST(test_append_over_max_at_once)
{
	size_t max = caps[_i];
	char *src = malloc(max + 1);
	struct buf b;

	ck_assert_ptr_nonnull(src);
	memset(src, 'q', max + 1);
	buf_init(&b, max);
	ck_assert_int_eq(buf_append(&b, src, max + 1), -1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(buf_putc(&b, 'a'), 0);
	ck_assert_int_eq(buf_append(&b, src, max), -1);
	assert_content(&b, "a", 1);
	buf_free(&b);
	free(src);
}
END_TEST

/* A length that would wrap size_t arithmetic must not pass the check. */
START_TEST(test_append_huge_length)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_int_eq(buf_puts(&b, "abc"), 0);
	ck_assert_int_eq(buf_append(&b, "x", SIZE_MAX), -1);
	ck_assert_int_eq(buf_append(&b, "x", SIZE_MAX - 2), -1);
	ck_assert_int_eq(buf_append(&b, "x", SIZE_MAX - 3), -1);
	assert_content(&b, "abc", 3);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_at_cap)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_printf(&b, "%s", "12345"), 0);
	ck_assert_int_eq(buf_printf(&b, "%d", 67890), 0);
	assert_content(&b, "1234567890", 10);
	ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
	ck_assert_int_eq(buf_printf(&b, "%c", 'x'), -1);
	assert_content(&b, "1234567890", 10);

	/* Partly fitting output is refused, not truncated. */
	buf_reset(&b);
	ck_assert_int_eq(buf_printf(&b, "%08d", 1234), 0);
	ck_assert_int_eq(buf_printf(&b, "%s", "abc"), -1);
	assert_content(&b, "00001234", 8);
	ck_assert_int_eq(buf_printf(&b, "%s", "ab"), 0);
	assert_content(&b, "00001234ab", 10);
	buf_free(&b);
}
END_TEST

/* A single printf of exactly max bytes into an empty buffer. */
START_TEST(test_printf_exact_max_fresh)
{
	size_t max = caps[_i];
	char *want = malloc(max + 1);
	struct buf b;

	ck_assert_ptr_nonnull(want);
	memset(want, 'p', max);
	want[max] = '\0';
	buf_init(&b, max);
	ck_assert_int_eq(buf_printf(&b, "%s", want), 0);
	assert_content(&b, want, max);
	buf_reset(&b);
	ck_assert_int_eq(buf_printf(&b, "%s!", want), -1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(b.data[0], '\0');
	buf_free(&b);
	free(want);
}
END_TEST

START_TEST(test_printf_empty_fresh)
{
	struct buf b;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
	assert_content(&b, "", 0);
	ck_assert_str_eq(b.data, "");
	buf_free(&b);
}
END_TEST

/* Appending bytes that carry no NUL still leaves a C string. */
START_TEST(test_nul_termination)
{
	char src[300];
	struct buf b;

	memset(src, 'A', sizeof(src));
	buf_init(&b, 1000);
	for (size_t n = 1; n <= 3; n++) {
		ck_assert_int_eq(buf_append(&b, src, 100 * n - 1), 0);
		ck_assert_int_eq(b.data[b.len], '\0');
		ck_assert_uint_eq(strlen(b.data), b.len);
	}
	buf_reset(&b);
	ck_assert_int_eq(buf_append(&b, "a\0b", 3), 0);
	assert_content(&b, "a\0b", 3);
	ck_assert_int_eq(buf_putc(&b, '\0'), 0);
	assert_content(&b, "a\0b\0", 4);
	buf_free(&b);
}
END_TEST

START_TEST(test_reset)
{
	struct buf b;
	char *data;
	size_t cap;

	buf_init(&b, 16);
	buf_reset(&b);			/* nothing allocated yet */
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(buf_puts(&b, "0123456789abcdef"), 0);
	data = b.data;
	cap = b.cap;
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	ck_assert_ptr_eq(b.data, data);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_uint_eq(b.max, 16);
	/* The cap counts from the reset, and still holds. */
	ck_assert_int_eq(buf_puts(&b, "fedcba9876543210"), 0);
	assert_content(&b, "fedcba9876543210", 16);
	ck_assert_int_eq(buf_putc(&b, 'x'), -1);
	buf_free(&b);
}
END_TEST

START_TEST(test_free_and_reuse)
{
	struct buf b;

	buf_init(&b, 32);
	ck_assert_int_eq(buf_puts(&b, "hello"), 0);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	ck_assert_uint_eq(b.max, 32);
	buf_free(&b);			/* twice is harmless */
	ck_assert_int_eq(buf_puts(&b, "again"), 0);
	assert_content(&b, "again", 5);
	buf_free(&b);
}
END_TEST

/* Byte at a time through many reallocations; every byte survives. */
START_TEST(test_growth_bytewise)
{
	const size_t n = 100000;
	struct buf b;
	size_t prev_cap = 0, grows = 0;

	buf_init(&b, n);
	for (size_t i = 0; i < n; i++) {
		if (buf_putc(&b, (char)(i * 7 % 251 + 1)) != 0)
			ck_abort_msg("byte %zu refused", i);
		if (b.cap != prev_cap) {
			grows++;
			prev_cap = b.cap;
		}
	}
	ck_assert_uint_eq(b.len, n);
	ck_assert_uint_le(b.cap, n + 1);
	ck_assert_uint_eq(first_mismatch(&b, bytewise_pattern), n);
	ck_assert_int_eq(b.data[n], '\0');
	/* Geometric growth: a few dozen reallocations, not one per byte. */
	ck_assert_uint_lt(grows, 40);
	ck_assert_int_eq(buf_putc(&b, 'x'), -1);
	buf_free(&b);
}
END_TEST

/* Chunks of uneven sizes until the cap is hit exactly. */
START_TEST(test_growth_chunks_to_cap)
{
	const size_t max = 1u << 20;
	char chunk[97];
	struct buf b;
	size_t size = 1;
	unsigned seq = 0;

	buf_init(&b, max);
	while (b.len < max) {
		size_t want = size < max - b.len ? size : max - b.len;

		for (size_t i = 0; i < want; i++)
			chunk[i] = (char)('a' + (seq + i) % 26);
		if (buf_append(&b, chunk, want) != 0)
			ck_abort_msg("chunk of %zu at %zu refused", want, b.len);
		seq += (unsigned)want;
		size = size % 97 + 1;
	}
	ck_assert_uint_eq(b.len, max);
	ck_assert_uint_le(b.cap, max + 1);
	ck_assert_uint_eq(first_mismatch(&b, alphabet_pattern), max);
	ck_assert_int_eq(b.data[max], '\0');
	ck_assert_int_eq(buf_append(&b, "x", 1), -1);
	ck_assert_uint_eq(b.len, max);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_growth)
{
	struct buf b;
	char want[32];

	buf_init(&b, 1u << 20);
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(buf_printf(&b, "%05d,", i), 0);
	ck_assert_uint_eq(b.len, 60000);
	for (int i = 0; i < 10000; i += 997) {
		snprintf(want, sizeof(want), "%05d,", i);
		ck_assert_mem_eq(b.data + 6 * i, want, 6);
	}
	ck_assert_int_eq(b.data[b.len], '\0');
	buf_free(&b);
}
END_TEST

START_TEST(test_zero_max)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_putc(&b, 'x'), -1);
	ck_assert_int_eq(buf_append(&b, "x", 1), -1);
	ck_assert_int_eq(buf_printf(&b, "%d", 1), -1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
	assert_content(&b, "", 0);
	ck_assert_uint_eq(b.cap, 1);
	ck_assert_int_eq(buf_puts(&b, "x"), -1);
	assert_content(&b, "", 0);
	buf_free(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc;
	int ncaps = (int)(sizeof(caps) / sizeof(caps[0]));

	tc = tcase_create("cap");
	tcase_add_test(tc, test_init);
	tcase_add_loop_test(tc, test_append_to_exact_max, 0, ncaps);
	tcase_add_loop_test(tc, test_append_over_max_at_once, 0, ncaps);
	tcase_add_test(tc, test_append_huge_length);
	tcase_add_test(tc, test_printf_at_cap);
	tcase_add_loop_test(tc, test_printf_exact_max_fresh, 0, ncaps);
	tcase_add_test(tc, test_printf_empty_fresh);
	tcase_add_test(tc, test_zero_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("content");
	tcase_add_test(tc, test_nul_termination);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_free_and_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("growth");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_growth_bytewise);
	tcase_add_test(tc, test_growth_chunks_to_cap);
	tcase_add_test(tc, test_printf_growth);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
