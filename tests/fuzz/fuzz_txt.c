/*
 * NAME
 *	fuzz_txt - libFuzzer target for the TLSRPT TXT record (lib/txt)
 * SYNOPSIS
 *	fuzz_txt [libFuzzer options] [corpus directory or input file ...]
 * DESCRIPTION
 *	An input is what a DNS answer can hold: one or more TXT records,
 *	separated here by NUL bytes (a record, as txt.h takes it, is a C
 *	string). txt_select() picks among them and txt_parse() reads the
 *	first record and the chosen one, each from an exact-size heap copy
 *	so that AddressSanitizer sees a read past its NUL.
 *
 *	Checked against txt.h: txt_select() returns 0 with a pointer to one
 *	of the records, or 1 or -1 with none; txt_parse() returns 0 with 1
 *	to TXT_MAX_RUA_URIS usable URIs, each with a mailto: target that
 *	has an '@' and no spaces or control bytes or an https: target that
 *	starts with "https:", no (scheme, target) pair twice; or -1 with an
 *	empty result. err is always one line of printable ASCII, non-empty
 *	on -1, and the result does not depend on err being NULL or short.
 * DIAGNOSTICS
 *	A broken promise prints what and calls abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txt.h"

#define FUZZ_MAX_RECORDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what, const char *rec)
{
	fprintf(stderr, "fuzz_txt: %s (record: %.200s)\n", what, rec);
	abort();
}

static int
printable_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int
target_ok(const struct txt_uri *u)
{
	if (u->uri == NULL || u->target == NULL || u->uri[0] == '\0')
		return 0;
	if (u->scheme == TXT_HTTPS)
		return strncmp(u->target, "https:", 6) == 0;
	if (u->scheme != TXT_MAILTO || strchr(u->target, '@') == NULL)
		return 0;
	for (const char *p = u->target; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static void
check_record(const struct txt_record *r, const char *rec)
{
	if (r->nrua < 1 || r->nrua > TXT_MAX_RUA_URIS ||
	    r->nrua + r->skipped > TXT_MAX_RUA_URIS)
		broken("number of URIs out of range", rec);
	for (size_t i = 0; i < r->nrua; i++) {
		if (!target_ok(&r->rua[i]))
			broken("unusable URI kept", rec);
		for (size_t j = 0; j < i; j++)
			if (r->rua[j].scheme == r->rua[i].scheme &&
			    strcmp(r->rua[j].target, r->rua[i].target) == 0)
				broken("target kept twice", rec);
	}
}

/* Parses rec three ways (full err, short err, no err); they must agree. */
static void
parse_one(const char *rec)
{
	struct txt_record r, r2;
	char err[256], small[8];
	int rc, rc2, rc3;

	rc = txt_parse(rec, &r, err, sizeof(err));
	if (!printable_line(err))
		broken("err not printable", rec);
	if (rc == 0) {
		check_record(&r, rec);
	} else if (rc != -1 || err[0] == '\0' || r.rua != NULL || r.nrua != 0 ||
	    r.skipped != 0) {
		broken("refusal without reason or with a result", rec);
	}
	rc2 = txt_parse(rec, &r2, small, sizeof(small));
	if (rc2 != rc || r2.nrua != r.nrua || r2.skipped != r.skipped ||
	    strlen(small) >= sizeof(small))
		broken("result depends on the err buffer", rec);
	txt_record_free(&r2);
	rc3 = txt_parse(rec, &r2, NULL, 0);
	if (rc3 != rc || r2.nrua != r.nrua)
		broken("result depends on err being NULL", rec);
	txt_record_free(&r2);
	txt_record_free(&r);
	txt_record_free(&r);		/* twice is harmless */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *recs[FUZZ_MAX_RECORDS];
	const char *chosen;
	char err[128];
	size_t n = 0, start = 0;
	int rc;

	/* Split at NUL; each record in a heap block of its exact size. */
	while (n < FUZZ_MAX_RECORDS) {
		const uint8_t *nul = memchr(data + start, '\0', size - start);
		size_t end = nul ? (size_t)(nul - data) : size;

		recs[n] = malloc(end - start + 1);
		if (recs[n] == NULL)
			abort();
		memcpy(recs[n], data + start, end - start);
		recs[n][end - start] = '\0';
		n++;
		if (nul == NULL)
			break;
		start = end + 1;
	}
	parse_one(recs[0]);
	rc = txt_select((const char *const *)recs, n, &chosen, err, sizeof(err));
	if (!printable_line(err))
		broken("txt_select err not printable", recs[0]);
	if (rc == 0) {
		size_t i;

		for (i = 0; i < n && recs[i] != chosen; i++)
			;
		if (i == n || err[0] != '\0')
			broken("txt_select chose no record of ours", recs[0]);
		if (chosen != recs[0])
			parse_one(chosen);
	} else if ((rc != 1 && rc != -1) || chosen != NULL || err[0] == '\0') {
		broken("txt_select refusal", recs[0]);
	}
	for (size_t i = 0; i < n; i++)
		free(recs[i]);
	return 0;
}
