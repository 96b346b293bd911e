/*
 * NAME
 *	fuzz_accept - libFuzzer target for the ingest endpoint's body handling
 * SYNOPSIS
 *	fuzz_accept [libFuzzer options] [corpus directory or input file ...]
 * DESCRIPTION
 *	Each input is a POST as tlsrpt-ingestd receives it: the first line
 *	is the Content-Type header value (cut at the first NUL and to the
 *	127 bytes ingest/http.c keeps), the rest is the body. The body goes
 *	through accept_decode() (ingest/accept.c): the sniff, the capped
 *	gzip inflation and the report parser, everything acceptor_prepare()
 *	does before the database. The server does not look at
 *	Content-Encoding: the bytes decide.
 *
 *	Checked against accept.h: ACCEPT_STORED comes with a parsed report
 *	and no counter; every refusal with an empty report, a reason, and
 *	a counter (except ACCEPT_FAULT, which is ours and not the sender's);
 *	ACCEPT_DUPLICATE never comes from the decoder.
 * DIAGNOSTICS
 *	A broken promise prints what and calls abort().
 * LIMITS
 *	The inflate cap is FUZZ_MAX_INFLATED (50 MiB by default in
 *	tlsrpt-ingestd; the paths are the same at 256 KiB).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "buf.h"
#include "rparse.h"

#define FUZZ_MAX_INFLATED	(256 * 1024)
#define FUZZ_JSON_DEPTH		64	/* ingest_max_json_depth default */
#define FUZZ_TYPE_BYTES		128	/* ingest/http.c: content_type[128] */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what, enum accept_result r, const char *why)
{
	fprintf(stderr, "fuzz_accept: %s (result %s, why: %s)\n", what,
	    accept_result_name(r), why);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct accept_limits lim = { FUZZ_MAX_INFLATED, FUZZ_JSON_DEPTH };
	const uint8_t *nl = memchr(data, '\n', size);
	size_t typelen = nl ? (size_t)(nl - data) : 0, start = nl ? typelen + 1 : 0;
	char type[FUZZ_TYPE_BYTES], counter[64], why[256];
	struct rp_report r;
	struct buf json;
	enum accept_result res;
	uint8_t *body;

	snprintf(type, sizeof(type), "%.*s", (int)typelen, (const char *)data);
	/* The body in a block of its exact size, so over-reads show. */
	body = malloc(size - start + 1);
	if (body == NULL)
		abort();
	memcpy(body, data + start, size - start);
	buf_init(&json, FUZZ_MAX_INFLATED);
	memset(&r, 0, sizeof(r));	/* as acceptor_prepare() has it */
	res = accept_decode(&lim, body, size - start, type, &json, &r, counter,
	    sizeof(counter), why, sizeof(why));
	switch (res) {
	case ACCEPT_STORED:
		if (counter[0] != '\0' || why[0] != '\0' || r.org == NULL ||
		    r.report_id == NULL || r.np == 0 || json.len == 0)
			broken("stored without a report, or with a reason", res, why);
		rp_free(&r);
		break;
	case ACCEPT_MALFORMED:
	case ACCEPT_TOO_BIG:
	case ACCEPT_UNSUPPORTED:
		if (counter[0] == '\0')
			broken("refusal not counted", res, why);
		/* FALLTHROUGH */
	case ACCEPT_FAULT:
		if (why[0] == '\0')
			broken("refusal without a reason", res, why);
		if (r.org != NULL || r.report_id != NULL || r.p != NULL || r.np != 0)
			broken("refusal with a report", res, why);
		break;
	default:
		broken("result the decoder never gives", res, why);
	}
	buf_free(&json);
	free(body);
	return 0;
}
