/*
 * NAME
 *	check_conf - unit tests for lib/conf.c and the table in lib/conf_table.c
 * DESCRIPTION
 *	Defaults, "key = value" assignments, the bounds of every integer and
 *	mode key (generated from conf_table() itself, so a new key is tested
 *	without touching this file), boolean spellings, the file parser
 *	(comments, blank lines, CRLF, "file:line" errors, the line length
 *	cap, missing files), and that conf_print and conf_print_sample
 *	produce files conf_load_file reads back unchanged.
 *
 *	Files live in a mkdtemp() directory under $TMPDIR, created once per
 *	test case by an unchecked fixture (it runs in the parent, so the
 *	directory is removed even when a forked test fails).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"

/* Mirror the private caps in lib/conf.c; the tests check them at the edge. */
#define TEST_VALUE_MAX 4096		/* CONF_MAX_VALUE */
#define TEST_LINE_MAX 8190		/* CONF_MAX_LINE - 2: text before '\n' */

#define TMPDIR_SUITE "check_conf"
#include "test_tmpdir.h"

static void
reset_conf(void)
{
	conf_defaults();
}

static void
tmp_path(char *out, size_t outlen, const char *name)
{
	ck_assert_uint_lt((size_t)snprintf(out, outlen, "%s/%s", tmpdir, name),
	    outlen);
}

/* Writes len bytes to tmpdir/name; the path goes to out. */
static void
write_file(char *out, size_t outlen, const char *name, const char *data,
    size_t len)
{
	FILE *fp;

	tmp_path(out, outlen, name);
	fp = fopen(out, "w");
	ck_assert_msg(fp != NULL, "fopen %s: %s", out, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

static void
write_text(char *out, size_t outlen, const char *name, const char *text)
{
	write_file(out, outlen, name, text, strlen(text));
}

static const struct conf_key *
key_of_type(enum conf_type type)
{
	size_t n;
	const struct conf_key *t = conf_table(&n);

	for (size_t i = 0; i < n; i++)
		if (t[i].type == type)
			return &t[i];
	return NULL;
}

/* The table's default for a key the tests name. */
static const char *
default_of(const char *name)
{
	size_t n;
	const struct conf_key *t = conf_table(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return t[i].def;
	ck_abort_msg("no key '%s' in conf_table()", name);
	return NULL;
}

/* Independent of conf.c: the spellings conf.h documents. */
static int
bool_spelling(const char *v)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* A number as conf would want it written: decimal, or octal for modes. */
static void
format_num(const struct conf_key *k, long long v, char *out, size_t outlen)
{
	unsigned long long mag;

	if (k->type != CONF_MODE) {
		snprintf(out, outlen, "%lld", v);
		return;
	}
	mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	snprintf(out, outlen, "%s0%llo", v < 0 ? "-" : "", mag);
}

/* conf_print into a malloc'd string, so two configurations compare. */
static char *
print_to_string(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(fp);
	conf_print(fp);
	ck_assert_int_eq(fclose(fp), 0);
	return text;
}

START_TEST(test_defaults_every_key)
{
	size_t n;
	const struct conf_key *t = conf_table(&n);
	char *end;

	ck_assert_uint_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		const struct conf_key *k = &t[i];
		long long num;

		ck_assert_msg(k->name != NULL && *k->name, "row %zu has no name", i);
		ck_assert_msg(k->def != NULL, "%s has no default", k->name);
		ck_assert_msg(k->doc != NULL && *k->doc, "%s has no doc", k->name);
		ck_assert_msg(strchr(k->doc, '\n') == NULL,
		    "%s: doc must be one line", k->name);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(t[j].name, k->name) != 0,
			    "%s listed twice", k->name);
		switch (k->type) {
		case CONF_STR:
			ck_assert_str_eq(conf_str(k->name), k->def);
			break;
		case CONF_INT:
		case CONF_MODE:
			errno = 0;
			num = strtoll(k->def, &end, k->type == CONF_MODE ? 8 : 10);
			ck_assert_msg(errno == 0 && end != k->def && *end == '\0',
			    "%s: default '%s' is not a number", k->name, k->def);
			ck_assert_msg(num >= k->min && num <= k->max,
			    "%s: default outside its bounds", k->name);
			ck_assert_int_eq(conf_int(k->name), num);
			break;
		case CONF_BOOL:
			ck_assert_int_ne(bool_spelling(k->def), -1);
			ck_assert_int_eq(conf_bool(k->name), bool_spelling(k->def));
			break;
		default:
			ck_abort_msg("%s: unknown type %d", k->name, (int)k->type);
		}
	}
}
END_TEST

/* conf_defaults() undoes earlier assignments. */
START_TEST(test_defaults_reset)
{
	char err[256];
	char *before, *after;

	before = print_to_string();
	ck_assert_int_eq(conf_set("flush_interval_ms=12345", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set("database=/elsewhere.db", err, sizeof(err)), 0);
	conf_defaults();
	after = print_to_string();
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
}
END_TEST

static const struct {
	const char *assignment;
	const char *key;
	const char *value;		/* as conf_str() should return it */
} set_cases[] = {
	{ "database=/a.db", "database", "/a.db" },
	{ "database = /b.db", "database", "/b.db" },
	{ "  database\t=\t/c.db  ", "database", "/c.db" },
	{ "database = \"/with space.db\"", "database", "/with space.db" },
	{ "database=\"  padded  \"", "database", "  padded  " },
	{ "database = \"\"", "database", "" },
	{ "database =", "database", "" },
	{ "database = /a=b", "database", "/a=b" },
	{ "database = \"x", "database", "\"x" },
	{ "database = \"", "database", "\"" },
	{ "database = \"\"x\"\"", "database", "\"x\"" },
	{ "collector_user = \"tlsrpt\"", "collector_user", "tlsrpt" },
};

START_TEST(test_set_forms)
{
	char err[256] = "";

	ck_assert_msg(conf_set(set_cases[_i].assignment, err, sizeof(err)) == 0,
	    "'%s': %s", set_cases[_i].assignment, err);
	ck_assert_str_eq(conf_str(set_cases[_i].key), set_cases[_i].value);
}
END_TEST

START_TEST(test_set_int_forms)
{
	char err[256];

	ck_assert_int_eq(conf_set("flush_interval_ms=500", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_int("flush_interval_ms"), 500);
	ck_assert_int_eq(conf_set("flush_interval_ms = 750", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_int("flush_interval_ms"), 750);
	ck_assert_int_eq(conf_set("flush_interval_ms = \"42\"", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_int("flush_interval_ms"), 42);
	ck_assert_int_eq(conf_set_kv("flush_interval_ms", "43", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_int("flush_interval_ms"), 43);
}
END_TEST

static const char *const bad_assignments[] = {
	"", "   ", "database", "= /a.db", " = x", "database /a.db",
};

START_TEST(test_set_not_assignment)
{
	char err[256] = "";

	ck_assert_int_eq(conf_set(bad_assignments[_i], err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "key=value") != NULL, "'%s': %s",
	    bad_assignments[_i], err);
	ck_assert_str_eq(conf_str("database"), default_of("database"));
}
END_TEST

START_TEST(test_set_unknown_key)
{
	char err[256] = "";
	char *before = print_to_string(), *after;

	ck_assert_int_eq(conf_set("no_such_key = 1", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no_such_key") != NULL, "%s", err);
	err[0] = '\0';
	ck_assert_int_eq(conf_set_kv("other_missing_key", "1", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "other_missing_key") != NULL, "%s", err);
	/* Case matters: keys are identifiers, not words. */
	ck_assert_int_eq(conf_set("DATABASE = /x", err, sizeof(err)), -1);
	after = print_to_string();
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
}
END_TEST

/* A rejected value leaves the previous one in place. */
START_TEST(test_set_failure_keeps_value)
{
	char err[256] = "";

	ck_assert_int_eq(conf_set("flush_interval_ms=500", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set("flush_interval_ms=abc", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "flush_interval_ms") != NULL, "%s", err);
	ck_assert_int_eq(conf_int("flush_interval_ms"), 500);
}
END_TEST

static const char *const not_numbers[] = {
	"", " ", "abc", "12abc", "1.5", "0x10", "1e3", "99999999999999999999",
	"-99999999999999999999", "12 34",
};

START_TEST(test_int_not_number)
{
	char err[256] = "";

	ck_assert_msg(conf_set_kv("flush_interval_ms", not_numbers[_i], err,
	    sizeof(err)) == -1, "'%s' accepted", not_numbers[_i]);
	ck_assert_msg(strstr(err, "flush_interval_ms") != NULL, "%s", err);
	ck_assert_int_eq(conf_int("flush_interval_ms"),
	    strtoll(default_of("flush_interval_ms"), NULL, 10));
}
END_TEST

/* Loop over every row of the table; rows that are not numbers pass. */
START_TEST(test_int_bounds_table)
{
	size_t n;
	const struct conf_key *k = &conf_table(&n)[_i];
	char v[64], err[256];

	if (k->type != CONF_INT && k->type != CONF_MODE)
		return;
	ck_assert_int_le(k->min, k->max);

	format_num(k, k->min, v, sizeof(v));
	ck_assert_msg(conf_set_kv(k->name, v, err, sizeof(err)) == 0,
	    "%s = %s (min): %s", k->name, v, err);
	ck_assert_int_eq(conf_int(k->name), k->min);
	if (k->min > LLONG_MIN) {
		format_num(k, k->min - 1, v, sizeof(v));
		err[0] = '\0';
		ck_assert_msg(conf_set_kv(k->name, v, err, sizeof(err)) == -1,
		    "%s = %s (min-1) accepted", k->name, v);
		ck_assert_msg(strstr(err, k->name) != NULL, "%s", err);
		ck_assert_int_eq(conf_int(k->name), k->min);
	}

	format_num(k, k->max, v, sizeof(v));
	ck_assert_msg(conf_set_kv(k->name, v, err, sizeof(err)) == 0,
	    "%s = %s (max): %s", k->name, v, err);
	ck_assert_int_eq(conf_int(k->name), k->max);
	if (k->max < LLONG_MAX) {
		format_num(k, k->max + 1, v, sizeof(v));
		err[0] = '\0';
		ck_assert_msg(conf_set_kv(k->name, v, err, sizeof(err)) == -1,
		    "%s = %s (max+1) accepted", k->name, v);
		ck_assert_msg(strstr(err, k->name) != NULL, "%s", err);
		ck_assert_int_eq(conf_int(k->name), k->max);
	}
}
END_TEST

START_TEST(test_mode_octal)
{
	const struct conf_key *k = key_of_type(CONF_MODE);
	char err[256] = "", want[64];
	static const char *const not_octal[] = { "8", "0778", "0x1ff", "rw", "" };

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(conf_set_kv(k->name, "0660", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_int(k->name), 0660);
	ck_assert_int_eq(conf_set_kv(k->name, "640", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_int(k->name), 0640);
	ck_assert_int_eq(conf_set_kv(k->name, "0777", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_int(k->name), 511);
	for (size_t i = 0; i < sizeof(not_octal) / sizeof(not_octal[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(conf_set_kv(k->name, not_octal[i], err,
		    sizeof(err)) == -1, "'%s' accepted", not_octal[i]);
		ck_assert_msg(strstr(err, "octal") != NULL, "%s", err);
	}
	/* Out of range is reported in octal, as the value was written. */
	format_num(k, k->max + 1, want, sizeof(want));
	ck_assert_int_eq(conf_set_kv(k->name, want, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%llo..%llo", (unsigned long long)k->min,
	    (unsigned long long)k->max);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
	ck_assert_int_eq(conf_int(k->name), 0777);
}
END_TEST

static const struct {
	const char *spelling;
	int value;		/* -1: must be rejected */
} bool_cases[] = {
	{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
	{ "on", 1 }, { "off", 0 }, { "1", 1 }, { "0", 0 },
	{ "YES", 1 }, { "Off", 0 }, { "True", 1 },
	{ "maybe", -1 }, { "", -1 }, { "2", -1 }, { "y", -1 }, { "n", -1 },
	{ "yes ", -1 }, { "nope", -1 },
};

START_TEST(test_bool_spellings)
{
	const struct conf_key *k = key_of_type(CONF_BOOL);
	const char *v = bool_cases[_i].spelling;
	int want = bool_cases[_i].value;
	char err[256] = "";

	ck_assert_ptr_nonnull(k);
	/* Start from the opposite value so a no-op cannot pass. */
	ck_assert_int_eq(conf_set_kv(k->name, want == 1 ? "no" : "yes", err,
	    sizeof(err)), 0);
	if (want < 0) {
		ck_assert_msg(conf_set_kv(k->name, v, err, sizeof(err)) == -1,
		    "'%s' accepted", v);
		ck_assert_msg(strstr(err, k->name) != NULL, "%s", err);
		ck_assert_int_eq(conf_bool(k->name), 1);
		return;
	}
	ck_assert_msg(conf_set_kv(k->name, v, err, sizeof(err)) == 0, "'%s': %s",
	    v, err);
	ck_assert_int_eq(conf_bool(k->name), want);
}
END_TEST

START_TEST(test_value_length_cap)
{
	char *v = malloc(TEST_VALUE_MAX + 2), err[256] = "";

	ck_assert_ptr_nonnull(v);
	memset(v, 'a', TEST_VALUE_MAX);
	v[TEST_VALUE_MAX] = '\0';
	ck_assert_msg(conf_set_kv("database", v, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(conf_str("database"), v);
	v[TEST_VALUE_MAX] = 'a';
	v[TEST_VALUE_MAX + 1] = '\0';
	ck_assert_int_eq(conf_set_kv("database", v, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "database") != NULL, "%s", err);
	ck_assert_uint_eq(strlen(conf_str("database")), TEST_VALUE_MAX);
	free(v);
}
END_TEST

/* Errors are truncated to the caller's buffer, never overrun it. */
START_TEST(test_error_buffer)
{
	char err[8];

	memset(err, 'X', sizeof(err));
	ck_assert_int_eq(conf_set("no_such_key_with_a_long_name=1", err, 5), -1);
	ck_assert_int_eq(err[4], '\0');
	ck_assert_int_eq(err[5], 'X');
	ck_assert_int_eq(conf_set("no_such_key=1", NULL, 0), -1);
	ck_assert_int_eq(conf_load_file("/nonexistent/tlsrptd.conf", NULL, 0), -1);
}
END_TEST

START_TEST(test_file_comments_blank_lines)
{
	char path[PATH_MAX], err[512] = "";

	write_text(path, sizeof(path), "comments.conf",
	    "# a comment line\n"
	    "\n"
	    "   \n"
	    "\t\n"
	    "  # indented comment\n"
	    "flush_interval_ms = 250   # trailing comment\n"
	    "database=/x/y.db#no space before the comment\n"
	    "collector_user = \"tlsrpt\"\n"
	    "log_debug = on\n"
	    "#flush_interval_ms = 999\n"
	    "collector_socket_mode = 0600");	/* no final newline */
	ck_assert_msg(conf_load_file(path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(conf_int("flush_interval_ms"), 250);
	ck_assert_str_eq(conf_str("database"), "/x/y.db");
	ck_assert_str_eq(conf_str("collector_user"), "tlsrpt");
	ck_assert_int_eq(conf_bool("log_debug"), 1);
	ck_assert_int_eq(conf_int("collector_socket_mode"), 0600);
}
END_TEST

/* A key set twice is a mistake (a forgotten earlier line), not an override. */
START_TEST(test_file_duplicate_key)
{
	char path[PATH_MAX], err[512] = "";

	write_text(path, sizeof(path), "dup.conf",
	    "flush_interval_ms = 500\n"
	    "database = /a.db\n"
	    "flush_interval_ms = 700\n");
	ck_assert_int_eq(conf_load_file(path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "dup.conf:3: flush_interval_ms is already set on line 1"),
	    "%s", err);
}
END_TEST

START_TEST(test_file_empty)
{
	char path[PATH_MAX], err[512] = "";
	char *before = print_to_string(), *after;

	write_text(path, sizeof(path), "empty.conf", "");
	ck_assert_msg(conf_load_file(path, err, sizeof(err)) == 0, "%s", err);
	after = print_to_string();
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
}
END_TEST

/* Files edited on Windows end lines in CRLF; the '\r' is whitespace. */
START_TEST(test_file_crlf)
{
	char path[PATH_MAX], err[512] = "";

	write_text(path, sizeof(path), "crlf.conf",
	    "# written on Windows\r\n"
	    "\r\n"
	    "flush_interval_ms = 250\r\n"
	    "database = \"/a b.db\"\r\n"
	    "collector_user = tlsrpt\r\n"
	    "log_debug = yes\r\n"
	    "collector_socket_mode = 0640 # comment\r\n");
	ck_assert_msg(conf_load_file(path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(conf_int("flush_interval_ms"), 250);
	ck_assert_str_eq(conf_str("database"), "/a b.db");
	ck_assert_str_eq(conf_str("collector_user"), "tlsrpt");
	ck_assert_int_eq(conf_bool("log_debug"), 1);
	ck_assert_int_eq(conf_int("collector_socket_mode"), 0640);
}
END_TEST

static const struct {
	const char *text;
	unsigned line;		/* where the error is */
	const char *mention;	/* what the message must name */
} file_errors[] = {
	{ "flush_interval_ms = 250\n\nbogus_key = 1\n", 3, "bogus_key" },
	{ "# ok\nflush_interval_ms = 5\n", 2, "flush_interval_ms" },
	{ "log_debug = maybe\n", 1, "log_debug" },
	{ "database = /a\njust some words\n", 2, "key = value" },
	{ "\n\n\n\n= 5\n", 5, "key = value" },
	{ "collector_socket_mode = 0999\r\n", 1, "collector_socket_mode" },
};

START_TEST(test_file_error_names_line)
{
	char path[PATH_MAX], err[512] = "", want[PATH_MAX + 32];

	write_text(path, sizeof(path), "error.conf", file_errors[_i].text);
	ck_assert_int_eq(conf_load_file(path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:%u:", path, file_errors[_i].line);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
	ck_assert_msg(strstr(err, file_errors[_i].mention) != NULL,
	    "'%s' lacks '%s'", err, file_errors[_i].mention);
}
END_TEST

/*
 * A comment line of exactly TEST_LINE_MAX bytes is fine, with or without
 * a final newline; one byte more is an error naming the line, and the
 * rest of that line must not be read as a line of its own.
 */
static void
long_line_file(char *path, size_t pathlen, size_t len, int newline,
    const char *after)
{
	size_t alen = strlen(after), total = len + (newline ? 1 : 0) + alen;
	char *text = malloc(total + 1);

	ck_assert_ptr_nonnull(text);
	text[0] = '#';
	memset(text + 1, 'x', len - 1);
	if (newline)
		text[len] = '\n';
	memcpy(text + len + (newline ? 1 : 0), after, alen);
	text[total] = '\0';
	write_file(path, pathlen, "long.conf", text, total);
	free(text);
}

START_TEST(test_file_line_at_limit)
{
	char path[PATH_MAX], err[512] = "";

	long_line_file(path, sizeof(path), TEST_LINE_MAX, 1,
	    "flush_interval_ms = 300\n");
	ck_assert_msg(conf_load_file(path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(conf_int("flush_interval_ms"), 300);

	long_line_file(path, sizeof(path), TEST_LINE_MAX, 0, "");
	ck_assert_msg(conf_load_file(path, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

START_TEST(test_file_line_too_long)
{
	char path[PATH_MAX], err[512] = "", want[PATH_MAX + 32];

	long_line_file(path, sizeof(path), TEST_LINE_MAX + 1, 1,
	    "flush_interval_ms = 300\n");
	ck_assert_int_eq(conf_load_file(path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1:", path);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
	ck_assert_msg(strstr(err, "longer") != NULL, "%s", err);
	ck_assert_int_eq(conf_int("flush_interval_ms"),
	    strtoll(default_of("flush_interval_ms"), NULL, 10));

	long_line_file(path, sizeof(path), TEST_LINE_MAX + 1, 0, "");
	ck_assert_int_eq(conf_load_file(path, err, sizeof(err)), -1);

	/* Far longer, with what would parse as a key after the cut. */
	long_line_file(path, sizeof(path), 3 * TEST_LINE_MAX, 1, "");
	ck_assert_int_eq(conf_load_file(path, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_file_missing)
{
	char path[PATH_MAX], err[512] = "";

	tmp_path(path, sizeof(path), "does-not-exist.conf");
	ck_assert_int_eq(conf_load_file(path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_msg(strstr(err, strerror(ENOENT)) != NULL, "%s", err);
}
END_TEST

/* A directory opens for reading on Linux but cannot be read. */
START_TEST(test_file_is_directory)
{
	char err[512] = "";

	ck_assert_int_eq(conf_load_file(tmpdir, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, tmpdir) != NULL, "%s", err);
	ck_assert_msg(strstr(err, strerror(EISDIR)) != NULL, "says why: %s", err);
}
END_TEST

/* Sets every key to a value other than its default, chosen from the table. */
static void
set_all_nondefault(void)
{
	size_t n;
	const struct conf_key *t = conf_table(&n);
	char v[256], err[256];

	for (size_t i = 0; i < n; i++) {
		const struct conf_key *k = &t[i];
		long long def;

		switch (k->type) {
		case CONF_STR:
			snprintf(v, sizeof(v), "/srv/round trip/%s", k->name);
			break;
		case CONF_INT:
		case CONF_MODE:
			def = strtoll(k->def, NULL, k->type == CONF_MODE ? 8 : 10);
			format_num(k, def == k->max ? k->min : k->max, v, sizeof(v));
			break;
		case CONF_BOOL:
			snprintf(v, sizeof(v), "%s",
			    bool_spelling(k->def) ? "off" : "on");
			break;
		default:
			ck_abort_msg("%s: unknown type %d", k->name, (int)k->type);
		}
		ck_assert_msg(conf_set_kv(k->name, v, err, sizeof(err)) == 0,
		    "%s = %s: %s", k->name, v, err);
	}
}

/* Prints the configuration, resets, loads the print: nothing may change. */
static void
assert_round_trip(const char *name)
{
	char path[PATH_MAX], err[512] = "";
	char *before = print_to_string(), *after;
	size_t n;
	const struct conf_key *t = conf_table(&n);
	struct {
		char *str;
		long long num;
	} *want = calloc(n, sizeof(*want));

	ck_assert_ptr_nonnull(want);
	for (size_t i = 0; i < n; i++) {
		if (t[i].type == CONF_STR)
			want[i].str = strdup(conf_str(t[i].name));
		else if (t[i].type == CONF_BOOL)
			want[i].num = conf_bool(t[i].name);
		else
			want[i].num = conf_int(t[i].name);
	}
	write_text(path, sizeof(path), name, before);
	conf_defaults();
	ck_assert_msg(conf_load_file(path, err, sizeof(err)) == 0, "%s\n%s",
	    err, before);
	for (size_t i = 0; i < n; i++) {
		if (t[i].type == CONF_STR)
			ck_assert_msg(strcmp(conf_str(t[i].name), want[i].str) == 0,
			    "%s: '%s' came back as '%s'", t[i].name, want[i].str,
			    conf_str(t[i].name));
		else if (t[i].type == CONF_BOOL)
			ck_assert_int_eq(conf_bool(t[i].name), want[i].num);
		else
			ck_assert_int_eq(conf_int(t[i].name), want[i].num);
		free(want[i].str);
	}
	after = print_to_string();
	ck_assert_str_eq(after, before);
	free(want);
	free(before);
	free(after);
}

START_TEST(test_print_round_trip_defaults)
{
	assert_round_trip("defaults.conf");
}
END_TEST

START_TEST(test_print_round_trip_changed)
{
	set_all_nondefault();
	assert_round_trip("changed.conf");
}
END_TEST

/*
 * Values a -o override can hold; conf_print quotes strings with '#',
 * blanks or nothing in them, so each must survive print and reload.
 */
static const char *const awkward_strings[] = {
	"", " leading", "trailing ", "in\tbetween", "a = b", "a\"b",
	"/var/lib/tlsrptd#2/t.db", "#", "\"quoted\"", "\"",
};

START_TEST(test_print_round_trip_awkward)
{
	char err[256] = "";

	ck_assert_msg(conf_set_kv("database", awkward_strings[_i], err,
	    sizeof(err)) == 0, "%s", err);
	assert_round_trip("awkward.conf");
}
END_TEST

/* The sample with the '#' taken off each "#key = value" line. */
static void
uncomment_sample(const char *in, const char *out, size_t *keys_seen)
{
	size_t n, cap = 0;
	const struct conf_key *t = conf_table(&n);
	char *line = NULL;
	FILE *rp = fopen(in, "r"), *wp = fopen(out, "w");

	ck_assert_ptr_nonnull(rp);
	ck_assert_ptr_nonnull(wp);
	while (getline(&line, &cap, rp) != -1) {
		const char *p = line;

		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(t[i].name);

			if (line[0] == '#' && strncmp(line + 1, t[i].name, len) == 0 &&
			    strncmp(line + 1 + len, " = ", 3) == 0) {
				keys_seen[i]++;
				p = line + 1;
			}
		}
		ck_assert_int_ge(fputs(p, wp), 0);
	}
	free(line);
	fclose(rp);
	ck_assert_int_eq(fclose(wp), 0);
}

START_TEST(test_sample_loads)
{
	char sample[PATH_MAX], live[PATH_MAX], err[512] = "";
	char *defaults = print_to_string(), *changed, *after;
	size_t n, *seen;
	FILE *fp;

	conf_table(&n);
	seen = calloc(n, sizeof(*seen));
	ck_assert_ptr_nonnull(seen);
	tmp_path(sample, sizeof(sample), "sample.conf");
	tmp_path(live, sizeof(live), "live.conf");
	fp = fopen(sample, "w");
	ck_assert_ptr_nonnull(fp);
	conf_print_sample(fp);
	ck_assert_int_eq(fclose(fp), 0);

	/* As shipped, everything is commented out: loading changes nothing. */
	set_all_nondefault();
	changed = print_to_string();
	ck_assert_msg(conf_load_file(sample, err, sizeof(err)) == 0, "%s", err);
	after = print_to_string();
	ck_assert_str_eq(after, changed);
	free(after);
	free(changed);
	conf_defaults();

	uncomment_sample(sample, live, seen);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(seen[i] == 1, "%s appears %zu times in the sample",
		    conf_table(&n)[i].name, seen[i]);
	set_all_nondefault();
	ck_assert_msg(conf_load_file(live, err, sizeof(err)) == 0, "%s", err);
	after = print_to_string();
	ck_assert_str_eq(after, defaults);
	free(seen);
	free(defaults);
	free(after);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;
	size_t nkeys;

	conf_table(&nkeys);

	tc = tcase_create("defaults");
	tcase_add_checked_fixture(tc, reset_conf, NULL);
	tcase_add_test(tc, test_defaults_every_key);
	tcase_add_test(tc, test_defaults_reset);
	suite_add_tcase(s, tc);

	tc = tcase_create("set");
	tcase_add_checked_fixture(tc, reset_conf, NULL);
	tcase_add_loop_test(tc, test_set_forms, 0,
	    (int)(sizeof(set_cases) / sizeof(set_cases[0])));
	tcase_add_test(tc, test_set_int_forms);
	tcase_add_loop_test(tc, test_set_not_assignment, 0,
	    (int)(sizeof(bad_assignments) / sizeof(bad_assignments[0])));
	tcase_add_test(tc, test_set_unknown_key);
	tcase_add_test(tc, test_set_failure_keeps_value);
	tcase_add_test(tc, test_value_length_cap);
	tcase_add_test(tc, test_error_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_checked_fixture(tc, reset_conf, NULL);
	tcase_add_loop_test(tc, test_int_not_number, 0,
	    (int)(sizeof(not_numbers) / sizeof(not_numbers[0])));
	tcase_add_loop_test(tc, test_int_bounds_table, 0, (int)nkeys);
	tcase_add_test(tc, test_mode_octal);
	tcase_add_loop_test(tc, test_bool_spellings, 0,
	    (int)(sizeof(bool_cases) / sizeof(bool_cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_add_checked_fixture(tc, reset_conf, NULL);
	tcase_add_test(tc, test_file_comments_blank_lines);
	tcase_add_test(tc, test_file_empty);
	tcase_add_test(tc, test_file_duplicate_key);
	tcase_add_test(tc, test_file_crlf);
	tcase_add_loop_test(tc, test_file_error_names_line, 0,
	    (int)(sizeof(file_errors) / sizeof(file_errors[0])));
	tcase_add_test(tc, test_file_line_at_limit);
	tcase_add_test(tc, test_file_line_too_long);
	tcase_add_test(tc, test_file_missing);
	tcase_add_test(tc, test_file_is_directory);
	suite_add_tcase(s, tc);

	tc = tcase_create("print");
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_add_checked_fixture(tc, reset_conf, NULL);
	tcase_add_test(tc, test_print_round_trip_defaults);
	tcase_add_test(tc, test_print_round_trip_changed);
	tcase_add_loop_test(tc, test_print_round_trip_awkward, 0,
	    (int)(sizeof(awkward_strings) / sizeof(awkward_strings[0])));
	tcase_add_test(tc, test_sample_loads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
