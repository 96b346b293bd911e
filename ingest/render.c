/*
 * NAME
 *	render - print query rows as an aligned table, CSV or JSON
 * DESCRIPTION
 *	See render.h. Cells are formatted into a buffer first, so the
 *	table can measure every column before it prints a line.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "render.h"

#define CELL_MAX_BYTES 65536	/* a CSV cell; raw JSON is never a cell */

int
render_format_parse(const char *name, enum render_format *fmt)
{
	if (strcmp(name, "table") == 0)
		*fmt = RENDER_TABLE;
	else if (strcmp(name, "json") == 0)
		*fmt = RENDER_JSON;
	else if (strcmp(name, "csv") == 0)
		*fmt = RENDER_CSV;
	else
		return -1;
	return 0;
}

/* Appends v as text; lists joined with spaces. */
static void
cell_text(struct buf *b, json_t *v, enum render_kind kind, int table)
{
	size_t i;
	json_t *e;
	char *s;
	int rc = 0;

	if (json_is_string(v))
		rc = buf_append(b, json_string_value(v), json_string_length(v));
	else if (json_is_integer(v))
		rc = buf_printf(b, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v) && kind == RENDER_RATE && table)
		rc = buf_printf(b, "%.1f%%", json_real_value(v) * 100.0);
	else if (json_is_real(v))
		rc = buf_printf(b, "%.6g", json_real_value(v));
	else if (json_is_null(v) || v == NULL)
		rc = table ? buf_puts(b, "-") : 0;
	else if (json_is_boolean(v))
		rc = buf_puts(b, json_is_true(v) ? "yes" : "no");
	else if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (i > 0 && buf_putc(b, ' ') != 0)
				break;
			cell_text(b, e, kind, table);
		}
	} else if ((s = json_dumps(v, JSON_COMPACT)) != NULL) {
		rc = buf_puts(b, s);
		free(s);
	}
	(void)rc;	/* a cell at the cap is cut; the rest still prints */
}

/* Display width: code points, not bytes. */
static size_t
width_of(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

char *
render_cell(json_t *v, enum render_kind kind)
{
	struct buf b;
	size_t w = 0, i;
	char *out;

	buf_init(&b, CELL_MAX_BYTES);
	cell_text(&b, v, kind, 1);
	out = xstrdup(b.data ? b.data : "");
	buf_free(&b);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
	if (width_of(out) <= RENDER_MAX_CELL)
		return out;
	/* At least 3 more code points follow the cut: room for "...". */
	for (i = 0; out[i]; i++)
		if (((unsigned char)out[i] & 0xc0) != 0x80 && ++w > RENDER_MAX_CELL - 3) {
			memcpy(out + i, "...", 4);
			break;
		}
	return out;
}

static void
print_cell(FILE *fp, const char *text, size_t width, enum render_kind kind,
    int last)
{
	size_t pad = width - width_of(text);

	if (kind != RENDER_TEXT)
		fprintf(fp, "%*s%s", (int)pad, "", text);
	else
		fprintf(fp, "%s%*s", text, last ? 0 : (int)pad, "");
	fputs(last ? "\n" : "  ", fp);
}

static int
render_table(FILE *fp, const struct render_col *cols, json_t *rows)
{
	size_t ncols = 0, nrows = json_array_size(rows), r, c;
	size_t *width;
	char **cells;

	while (cols[ncols].key != NULL)
		ncols++;
	width = xcalloc(ncols, sizeof(*width));
	cells = xcalloc(ncols * (nrows + 1), sizeof(*cells));
	for (c = 0; c < ncols; c++) {
		cells[c] = xstrdup(cols[c].head);
		width[c] = width_of(cells[c]);
	}
	for (r = 0; r < nrows; r++)
		for (c = 0; c < ncols; c++) {
			char *t = render_cell(json_object_get(json_array_get(rows, r),
			    cols[c].key), cols[c].kind);
			cells[(r + 1) * ncols + c] = t;
			if (width_of(t) > width[c])
				width[c] = width_of(t);
		}
	for (r = 0; r <= nrows; r++)
		for (c = 0; c < ncols; c++)
			print_cell(fp, cells[r * ncols + c], width[c], cols[c].kind,
			    c + 1 == ncols);
	for (c = 0; c < ncols * (nrows + 1); c++)
		free(cells[c]);
	free(cells);
	free(width);
	return ferror(fp) ? -1 : 0;
}

static void
csv_field(FILE *fp, const char *s, size_t len)
{
	if (strcspn(s, ",\"\r\n") == len) {
		fwrite(s, 1, len, fp);
		return;
	}
	fputc('"', fp);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', fp);
		fputc(s[i], fp);
	}
	fputc('"', fp);
}

static int
render_csv(FILE *fp, const struct render_col *cols, json_t *rows)
{
	struct buf b;
	json_t *row;
	size_t r, c;

	for (c = 0; cols[c].key != NULL; c++) {
		fputs(c ? "," : "", fp);
		csv_field(fp, cols[c].key, strlen(cols[c].key));
	}
	fputs("\r\n", fp);
	buf_init(&b, CELL_MAX_BYTES);
	json_array_foreach(rows, r, row) {
		for (c = 0; cols[c].key != NULL; c++) {
			buf_reset(&b);
			cell_text(&b, json_object_get(row, cols[c].key), cols[c].kind, 0);
			fputs(c ? "," : "", fp);
			csv_field(fp, b.data ? b.data : "", b.len);
		}
		fputs("\r\n", fp);
	}
	buf_free(&b);
	return ferror(fp) ? -1 : 0;
}

int
render_json(FILE *fp, json_t *v)
{
	if (json_dumpf(v, fp, JSON_INDENT(2) | JSON_ENCODE_ANY) != 0)
		return -1;
	fputc('\n', fp);
	return ferror(fp) ? -1 : 0;
}

int
render_rows(FILE *fp, enum render_format fmt, const struct render_col *cols,
    json_t *rows)
{
	switch (fmt) {
	case RENDER_TABLE:
		return render_table(fp, cols, rows);
	case RENDER_CSV:
		return render_csv(fp, cols, rows);
	case RENDER_JSON:
		break;
	}
	return render_json(fp, rows);
}
