/*
 * NAME
 *	render - print query rows as an aligned table, CSV or JSON
 * SYNOPSIS
 *	static const struct render_col cols[] = {
 *		{ "policy_domain", "DOMAIN", RENDER_TEXT },
 *		{ "success_rate", "RATE", RENDER_RATE },
 *		{ NULL, NULL, 0 },
 *	};
 *	enum render_format fmt;
 *	if (render_format_parse("csv", &fmt) != 0) ... usage
 *	render_rows(stdout, fmt, cols, rows);	a JSON array of objects
 *	render_json(stdout, whole);
 *	text = render_cell(value, RENDER_TEXT);	free(text) after use
 * DESCRIPTION
 *	The table is for people: columns aligned on UTF-8 code points,
 *	numbers and their headings to the right, rates as percentages with
 *	one decimal, null as "-", cells longer than RENDER_MAX_CELL cut
 *	with "...", control characters shown as '?' so report text cannot
 *	drive the terminal.
 *	CSV is for programs (RFC 4180): a header line of the row keys,
 *	CRLF line ends, a field quoted when it holds a comma, quote, CR or
 *	LF, quotes doubled; rates as plain numbers (%.6g), null empty,
 *	lists joined with spaces. JSON is the object the web API returns,
 *	indented.
 * DIAGNOSTICS
 *	render_* return 0, or -1 when the stream failed (EPIPE, full disk).
 */
#ifndef TLSRPTD_RENDER_H
#define TLSRPTD_RENDER_H

#include <stdio.h>
#include <jansson.h>

#define RENDER_MAX_CELL 60

enum render_format {
	RENDER_TABLE,
	RENDER_JSON,
	RENDER_CSV,
};

enum render_kind {
	RENDER_TEXT,		/* strings, lists of strings */
	RENDER_NUMBER,		/* right-aligned */
	RENDER_RATE,		/* 0..1 as a percentage in tables */
};

struct render_col {
	const char *key;
	const char *head;
	enum render_kind kind;
};

int render_format_parse(const char *name, enum render_format *fmt)
    __attribute__((warn_unused_result));
int render_rows(FILE *fp, enum render_format fmt, const struct render_col *cols,
    json_t *rows);
int render_json(FILE *fp, json_t *v);
/* One value as a table cell (the rules above), malloc'd. */
char *render_cell(json_t *v, enum render_kind kind);

#endif
