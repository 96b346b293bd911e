/*
 * NAME
 *	fuzz_event - libFuzzer target for the datagram codec (lib/event)
 * SYNOPSIS
 *	fuzz_event [libFuzzer options] [corpus directory or input file ...]
 * DESCRIPTION
 *	Each input is one datagram, passed to ev_parse() in the fuzzer's
 *	exact-size buffer, so AddressSanitizer sees any read past its end.
 *
 *	When the datagram is refused, the error must be one of enum
 *	ev_error with a diagnostic inside the input. When it is accepted,
 *	the event must keep the promises of event.h (every string valid
 *	UTF-8 without NUL, domains normalised, counts within the limits),
 *	and ev_encode() followed by a second ev_parse() must give the same
 *	event again: every field equal except the two the encoder writes
 *	on purpose (dpv "1" when there was none, t = the failure-details
 *	kept), nothing dropped, repaired or mismatched the second time, and
 *	encoding the second event must give the same bytes as the first.
 * DIAGNOSTICS
 *	A broken promise prints the field at fault on stderr and calls
 *	abort(), which libFuzzer reports as a crash and saves the input.
 * LIMITS
 *	The first parser takes datagrams up to FUZZ_MAX_DATAGRAM bytes (the
 *	collector's default limit); the second is sized for the largest
 *	re-encoding of such a datagram.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "../unit/event_cmp.h"

#define FUZZ_MAX_DATAGRAM	(256 * 1024)
/*
 * Re-encoding grows a datagram: a raw 0x7F becomes "\u007f" (6 bytes),
 * and each policy gains its defaulted policy-domain and a t member.
 */
#define FUZZ_MAX_ENCODED	(8 * FUZZ_MAX_DATAGRAM + 64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ev_parser *parser, *parser2;
static struct buf enc1, enc2;

static void
broken(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_event: %s (input %zu bytes: %.*s)\n", what, size,
	    size > 200 ? 200 : (int)size, (const char *)data);
	abort();
}

/* Shortest-form UTF-8 without surrogates or NUL, written here again. */
static int
text_ok(const struct ev_str *s)
{
	const unsigned char *p = (const unsigned char *)s->p;
	size_t i = 0;

	if (p == NULL || p[s->len] != '\0')
		return 0;
	while (i < s->len) {
		uint32_t cp, min;
		size_t k;

		if (p[i] == 0)
			return 0;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xE0) == 0xC0)
			k = 1, cp = p[i] & 0x1F, min = 0x80;
		else if ((p[i] & 0xF0) == 0xE0)
			k = 2, cp = p[i] & 0x0F, min = 0x800;
		else if ((p[i] & 0xF8) == 0xF0)
			k = 3, cp = p[i] & 0x07, min = 0x10000;
		else
			return 0;
		if (s->len - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int
domain_ok(const struct ev_str *d)
{
	if (!text_ok(d) || d->len == 0 || d->len > EV_MAX_DOMAIN ||
	    d->p[d->len - 1] == '.')
		return 0;
	for (uint32_t i = 0; i < d->len; i++) {
		char c = d->p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_'))
			return 0;
	}
	return 1;
}

/* The ev_str array [first, first + n) lies inside pool[0..npool). */
static int
inside(const void *first, uint32_t n, const void *pool, uint32_t npool, size_t elem)
{
	const char *f = first, *p = pool;

	return n == 0 || (f >= p && (size_t)(f - p) % elem == 0 &&
	    (size_t)(f - p) / elem + n <= npool);
}

static const char *
failure_violation(const struct ev_failure *f)
{
	if (f->code < 0 || f->code > 0x7FFFFFFFL)
		return "failure code out of range";
	if (!text_ok(&f->sending_ip) || !text_ok(&f->mx_hostname) ||
	    !text_ok(&f->mx_helo) || !text_ok(&f->receiving_ip) ||
	    !text_ok(&f->additional_info) || !text_ok(&f->reason))
		return "failure string not valid UTF-8";
	return NULL;
}

/* What event.h promises about an accepted event; NULL when it holds. */
static const char *
violation(const struct event *ev)
{
	const char *why;

	if (!text_ok(&ev->dpv) || !text_ok(&ev->record))
		return "dpv/pr not valid UTF-8";
	if (!domain_ok(&ev->domain))
		return "d not normalised";
	if (ev->npolicies < 1 || ev->npolicies > EV_MAX_POLICIES ||
	    ev->nstrings > EV_MAX_STRINGS || ev->nfailures > EV_MAX_FAILURES)
		return "counts out of range";
	for (uint32_t i = 0; i < ev->npolicies; i++) {
		const struct ev_policy *p = &ev->policies[i];

		if (!domain_ok(&p->domain))
			return "policy-domain not normalised";
		if (p->type < 0 || p->type > 0x7FFFFFFFL || (p->failed != 0 && p->failed != 1))
			return "policy-type or f out of range";
		if (p->t < -2 || p->t > 0x7FFFFFFFL)
			return "t out of range";
		if (!inside(p->strings, p->nstrings, ev->strings, ev->nstrings,
		    sizeof(*p->strings)) || !inside(p->mx_hosts, p->nmx_hosts,
		    ev->strings, ev->nstrings, sizeof(*p->mx_hosts)) ||
		    !inside(p->failures, p->nfailures, ev->failures, ev->nfailures,
		    sizeof(*p->failures)))
			return "policy lists outside the event's pools";
		for (uint32_t j = 0; j < p->nstrings; j++)
			if (!text_ok(&p->strings[j]))
				return "policy-string not valid UTF-8";
		for (uint32_t j = 0; j < p->nmx_hosts; j++)
			if (!text_ok(&p->mx_hosts[j]))
				return "mx-host not valid UTF-8";
		for (uint32_t j = 0; j < p->nfailures; j++)
			if ((why = failure_violation(&p->failures[j])) != NULL)
				return why;
	}
	return NULL;
}

/* The first field where the re-parsed b differs from a, or NULL. */
static const char *
difference(const struct event *a, const struct event *b)
{
	const char *why = event_cmp(a, b, EVCMP_DPV_DEFAULT | EVCMP_T_IS_COUNT);

	if (why != NULL)
		return why;
	if (b->repaired_strings != 0 || b->dropped_policies != 0 ||
	    b->dropped_failures != 0 || b->t_mismatches != 0 ||
	    b->part_error != EV_OK)
		return "the re-encoding was repaired, trimmed or mismatched";
	return NULL;
}

static void
setup(void)
{
	parser = ev_parser_new(FUZZ_MAX_DATAGRAM);
	parser2 = ev_parser_new(FUZZ_MAX_ENCODED);
	buf_init(&enc1, FUZZ_MAX_ENCODED);
	buf_init(&enc2, FUZZ_MAX_ENCODED);
}

static void
check_refusal(enum ev_error rc, const struct ev_diag *diag, const uint8_t *data,
    size_t size)
{
	if ((unsigned)rc >= EV_ERR__COUNT || strcmp(ev_error_name(rc), "unknown") == 0)
		broken("error outside enum ev_error", data, size);
	if (diag->what == NULL || diag->what[0] == '\0' || diag->offset > size)
		broken("diagnostic missing or outside the input", data, size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct event *ev, *ev2;
	struct ev_diag diag;
	enum ev_error rc;
	const char *why;

	if (parser == NULL)
		setup();
	rc = ev_parse(parser, (const char *)data, size, &ev, &diag);
	if (rc != EV_OK) {
		check_refusal(rc, &diag, data, size);
		return 0;
	}
	if ((why = violation(ev)) != NULL)
		broken(why, data, size);
	buf_reset(&enc1);
	if (ev_encode(ev, &enc1) != 0)
		broken("ev_encode reached its cap", data, size);
	rc = ev_parse(parser2, enc1.data, enc1.len, &ev2, &diag);
	if (rc != EV_OK) {
		fprintf(stderr, "fuzz_event: re-encoding refused: %s at %zu: %s\n%s\n",
		    ev_error_name(rc), diag.offset, diag.what, enc1.data);
		broken("re-encoding refused", data, size);
	}
	if ((why = difference(ev, ev2)) != NULL) {
		fprintf(stderr, "fuzz_event: re-encoding:\n%s\n", enc1.data);
		broken(why, data, size);
	}
	buf_reset(&enc2);
	if (ev_encode(ev2, &enc2) != 0 || enc2.len != enc1.len ||
	    memcmp(enc1.data, enc2.data, enc1.len) != 0)
		broken("encoding is not stable", data, size);
	return 0;
}
