/*
 * NAME
 *	event - libtlsrpt datagram parser
 * DESCRIPTION
 *	See event.h. A recursive-descent JSON reader specialised for the
 *	datagram: known members are decoded straight into struct event,
 *	unknown ones are checked and skipped. jansson would build a tree
 *	and allocate for every member; measured at 8-16 us per datagram,
 *	that alone would cap the collector below its 250,000/s target,
 *	while this reader takes well under 1 us.
 *
 *	Functions return -1 only for errors that make the whole datagram
 *	unreadable (syntax, depth); problems with one part are reported
 *	through a "sem" (semantic) out-parameter so the caller can drop that
 *	part and keep reading.
 */
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "mem.h"

struct ev_parser {
	struct event ev;
	char *arena;
	size_t arena_cap;
	size_t arena_len;
	size_t max_datagram;
};

struct scan {
	const unsigned char *s, *end, *start;
	struct ev_parser *p;
	struct event *ev;
	int depth;
	enum ev_error err;
	const char *what;
	size_t err_off;
	int repaired;		/* set by the last parse_string */
};

static const char *const error_names[EV_ERR__COUNT] = {
	[EV_OK] = "ok",
	[EV_ERR_EMPTY] = "empty",
	[EV_ERR_SYNTAX] = "syntax",
	[EV_ERR_DEPTH] = "depth",
	[EV_ERR_NOT_OBJECT] = "not_object",
	[EV_ERR_TYPE] = "wrong_type",
	[EV_ERR_RANGE] = "bad_number",
	[EV_ERR_MISSING] = "missing_member",
	[EV_ERR_DOMAIN] = "bad_domain",
	[EV_ERR_DUPLICATE] = "duplicate_member",
	[EV_ERR_LIMIT] = "over_limit",
	[EV_ERR_NO_POLICIES] = "no_policies",
	[EV_ERR_OVERSIZE] = "oversize",
};

/* diag->what when every policy was dropped: the first reason, by name. */
static const char *const all_dropped_what[EV_ERR__COUNT] = {
	[EV_ERR_TYPE] = "no usable policy: every policy dropped (wrong_type)",
	[EV_ERR_RANGE] = "no usable policy: every policy dropped (bad_number)",
	[EV_ERR_MISSING] = "no usable policy: every policy dropped (missing_member)",
	[EV_ERR_DOMAIN] = "no usable policy: every policy dropped (bad_domain)",
	[EV_ERR_DUPLICATE] = "no usable policy: every policy dropped (duplicate_member)",
	[EV_ERR_LIMIT] = "no usable policy: every policy dropped (over_limit)",
};

const char *
ev_error_name(enum ev_error e)
{
	if ((unsigned)e >= EV_ERR__COUNT)
		return "unknown";
	return error_names[e];
}

static const struct {
	long code;
	const char *name;
} result_types[] = {
	{ 201, "starttls-not-supported" },
	{ 202, "certificate-host-mismatch" },
	{ 203, "certificate-not-trusted" },
	{ 204, "certificate-expired" },
	{ 205, "validation-failure" },
	{ 301, "sts-policy-fetch-error" },
	{ 302, "sts-policy-invalid" },
	{ 303, "sts-webpki-invalid" },
	{ 304, "tlsa-invalid" },
	{ 305, "dnssec-invalid" },
	{ 306, "dane-required" },
};

static const struct {
	long type;
	const char *name;
} policy_types[] = {
	{ EV_POLICY_TLSA, "tlsa" },
	{ EV_POLICY_STS, "sts" },
	{ EV_POLICY_NONE, "no-policy-found" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
ev_policy_type_name(long type)
{
	for (size_t i = 0; i < NELEM(policy_types); i++)
		if (policy_types[i].type == type)
			return policy_types[i].name;
	return NULL;
}

const char *
ev_result_type_name(long code)
{
	for (size_t i = 0; i < NELEM(result_types); i++)
		if (result_types[i].code == code)
			return result_types[i].name;
	return NULL;
}

long
ev_policy_type_from_name(const char *name)
{
	for (size_t i = 0; i < NELEM(policy_types); i++)
		if (strcmp(policy_types[i].name, name) == 0)
			return policy_types[i].type;
	return -1;
}

long
ev_result_code_from_name(const char *name)
{
	for (size_t i = 0; i < NELEM(result_types); i++)
		if (strcmp(result_types[i].name, name) == 0)
			return result_types[i].code;
	return -1;
}

struct ev_parser *
ev_parser_new(size_t max_datagram_bytes)
{
	struct ev_parser *p = xcalloc(1, sizeof(*p));

	p->max_datagram = max_datagram_bytes;
	/* A byte decodes to at most 3 (U+FFFD), plus a NUL per string. */
	p->arena_cap = 4 * max_datagram_bytes + 64;
	p->arena = xmalloc(p->arena_cap);
	return p;
}

void
ev_parser_free(struct ev_parser *p)
{
	if (p == NULL)
		return;
	free(p->arena);
	free(p);
}

static int
fail(struct scan *s, enum ev_error e, const char *what)
{
	if (s->err == EV_OK) {
		s->err = e;
		s->what = what;
		s->err_off = (size_t)(s->s - s->start);
	}
	return -1;
}

static void
ws(struct scan *s)
{
	while (s->s < s->end && (*s->s == ' ' || *s->s == '\t' ||
	    *s->s == '\n' || *s->s == '\r'))
		s->s++;
}

static int
expect(struct scan *s, unsigned char c, const char *what)
{
	ws(s);
	if (s->s >= s->end || *s->s != c)
		return fail(s, EV_ERR_SYNTAX, what);
	s->s++;
	return 0;
}

static char *
put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xC0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xE0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*o++ = (char)(0xF0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	}
	return o;
}

/* Length of a valid UTF-8 sequence at p, or 0 if it is not one. */
static size_t
utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n, avail = (size_t)(end - p);
	unsigned long cp;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

static int
hex4(const unsigned char *p, unsigned long *out)
{
	unsigned long v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned long)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned long)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* After "\u": decodes one escape (a surrogate pair counts as one). */
static int
unicode_escape(struct scan *s, char **o)
{
	unsigned long cp, lo;

	if (s->end - s->s < 4 || hex4(s->s, &cp) != 0)
		return fail(s, EV_ERR_SYNTAX, "bad \\u escape");
	s->s += 4;
	if (cp >= 0xD800 && cp <= 0xDBFF && s->end - s->s >= 6 &&
	    s->s[0] == '\\' && s->s[1] == 'u' && hex4(s->s + 2, &lo) == 0 &&
	    lo >= 0xDC00 && lo <= 0xDFFF) {
		s->s += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	} else if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) {
		/* Lone surrogate, or NUL that would cut a C string. */
		cp = 0xFFFD;
		s->repaired = 1;
	}
	*o = put_utf8(*o, cp);
	return 0;
}

static int
parse_escape(struct scan *s, char **o)
{
	unsigned char c;

	if (++s->s >= s->end)
		return fail(s, EV_ERR_SYNTAX, "truncated escape");
	c = *s->s++;
	switch (c) {
	case '"': case '\\': case '/':
		*(*o)++ = (char)c; return 0;
	case 'b': *(*o)++ = '\b'; return 0;
	case 'f': *(*o)++ = '\f'; return 0;
	case 'n': *(*o)++ = '\n'; return 0;
	case 'r': *(*o)++ = '\r'; return 0;
	case 't': *(*o)++ = '\t'; return 0;
	case 'u': return unicode_escape(s, o);
	}
	s->s--;
	return fail(s, EV_ERR_SYNTAX, "bad escape");
}

/*
 * Nonzero when one of the eight bytes in w is below 0x20, at or above
 * 0x80, '"' or '\\' (the bytes parse_string handles one by one). The
 * zero-byte tests (x - 0x01..) & ~x & 0x80.. have no false negatives; a
 * borrow can flag a byte wrongly, but only a more significant one than
 * a true hit, so on a little-endian machine the lowest flag is exact.
 */
static inline uint64_t
str_special8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
	    ((b - ones) & ~b) | w) & high;
}

/* s->s at '"'. Decodes into the arena; out is NUL-terminated UTF-8. */
static int
parse_string(struct scan *s, struct ev_str *out)
{
	struct ev_parser *p = s->p;
	char *o0 = p->arena + p->arena_len, *o = o0;
	const unsigned char *end = s->end;

	s->repaired = 0;
	s->s++;
	for (;;) {
		const unsigned char *r = s->s;
		uint64_t w, m = 0;

		/* Eight bytes at a time up to the first one to look at. */
		while (end - r >= 8) {
			memcpy(&w, r, 8);
			if ((m = str_special8(w)) != 0)
				break;
			r += 8;
		}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		if (m != 0)
			r += (unsigned)__builtin_ctzll(m) / 8;
		else
#endif
			while (r < end && *r >= 0x20 && *r < 0x80 &&
			    *r != '"' && *r != '\\')
				r++;
		memcpy(o, s->s, (size_t)(r - s->s));
		o += r - s->s;
		s->s = r;
		if (r >= end)
			return fail(s, EV_ERR_SYNTAX, "unterminated string");
		if (*r == '"')
			break;
		if (*r == '\\') {
			if (parse_escape(s, &o) != 0)
				return -1;
		} else if (*r < 0x20) {
			return fail(s, EV_ERR_SYNTAX, "control character in string");
		} else {
			size_t n = utf8_seq(r, end);
			if (n > 0) {
				memcpy(o, r, n);
				o += n;
				s->s += n;
			} else {
				/* Not UTF-8: read the byte as ISO-8859-1. */
				o = put_utf8(o, *r >= 0xA0 ? *r : 0xFFFD);
				s->repaired = 1;
				s->s++;
			}
		}
	}
	s->s++;
	*o = '\0';
	out->p = o0;
	out->len = (uint32_t)(o - o0);
	p->arena_len += (size_t)(o - o0) + 1;
	return 0;
}

/*
 * Checks JSON number syntax; *v gets the value when it is an integer in
 * 0..INT32_MAX, otherwise *sem is set to EV_ERR_RANGE.
 */
static int
parse_number(struct scan *s, long *v, enum ev_error *sem)
{
	const unsigned char *b;
	int neg = 0, nonint = 0;
	long val = 0;

	if (*s->s == '-') {
		neg = 1;
		s->s++;
	}
	b = s->s;
	if (s->s >= s->end)
		return fail(s, EV_ERR_SYNTAX, "truncated number");
	if (*s->s == '0') {
		s->s++;
	} else if (*s->s >= '1' && *s->s <= '9') {
		while (s->s < s->end && *s->s >= '0' && *s->s <= '9')
			s->s++;
	} else {
		return fail(s, EV_ERR_SYNTAX, "bad number");
	}
	if (s->s - b > 10)
		nonint = 1;
	for (const unsigned char *q = b; !nonint && q < s->s; q++)
		val = val * 10 + (*q - '0');
	if (s->s < s->end && *s->s == '.') {
		nonint = 1;
		if (++s->s >= s->end || *s->s < '0' || *s->s > '9')
			return fail(s, EV_ERR_SYNTAX, "bad fraction");
		while (s->s < s->end && *s->s >= '0' && *s->s <= '9')
			s->s++;
	}
	if (s->s < s->end && (*s->s == 'e' || *s->s == 'E')) {
		nonint = 1;
		if (++s->s < s->end && (*s->s == '+' || *s->s == '-'))
			s->s++;
		if (s->s >= s->end || *s->s < '0' || *s->s > '9')
			return fail(s, EV_ERR_SYNTAX, "bad exponent");
		while (s->s < s->end && *s->s >= '0' && *s->s <= '9')
			s->s++;
	}
	if (nonint || val > 0x7FFFFFFFL || (neg && val != 0))
		*sem = EV_ERR_RANGE;
	else
		*v = val;
	return 0;
}

static int
parse_literal(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->s) < n || memcmp(s->s, lit, n) != 0)
		return fail(s, EV_ERR_SYNTAX, "bad literal");
	s->s += n;
	return 0;
}

static int skip_value(struct scan *s);

static int
skip_container(struct scan *s, unsigned char close)
{
	if (++s->depth > EV_MAX_DEPTH)
		return fail(s, EV_ERR_DEPTH, "nesting too deep");
	s->s++;
	ws(s);
	if (s->s < s->end && *s->s == close) {
		s->s++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			struct ev_str key;
			ws(s);
			if (s->s >= s->end || *s->s != '"')
				return fail(s, EV_ERR_SYNTAX, "expected member name");
			if (parse_string(s, &key) != 0)
				return -1;
			s->p->arena_len -= key.len + 1;
			if (expect(s, ':', "expected ':'") != 0)
				return -1;
		}
		if (skip_value(s) != 0)
			return -1;
		ws(s);
		if (s->s < s->end && *s->s == ',') {
			s->s++;
			continue;
		}
		if (s->s < s->end && *s->s == close) {
			s->s++;
			s->depth--;
			return 0;
		}
		return fail(s, EV_ERR_SYNTAX, close == '}' ?
		    "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int
skip_value(struct scan *s)
{
	struct ev_str tmp;
	enum ev_error sem = EV_OK;
	long v;

	ws(s);
	if (s->s >= s->end)
		return fail(s, EV_ERR_SYNTAX, "truncated value");
	switch (*s->s) {
	case '{': return skip_container(s, '}');
	case '[': return skip_container(s, ']');
	case '"':
		if (parse_string(s, &tmp) != 0)
			return -1;
		s->p->arena_len -= tmp.len + 1;
		return 0;
	case 't': return parse_literal(s, "true");
	case 'f': return parse_literal(s, "false");
	case 'n': return parse_literal(s, "null");
	}
	if (*s->s == '-' || (*s->s >= '0' && *s->s <= '9'))
		return parse_number(s, &v, &sem);
	return fail(s, EV_ERR_SYNTAX, "unexpected character");
}

/*
 * Object iteration. obj_begin consumes '{'; obj_next reads the next
 * member name into *key (arena, released by the caller's next read) and
 * the ':' after it, returning 1, or returns 0 at '}'.
 */
static int
obj_begin(struct scan *s, int *first)
{
	if (++s->depth > EV_MAX_DEPTH)
		return fail(s, EV_ERR_DEPTH, "nesting too deep");
	s->s++;
	*first = 1;
	return 0;
}

static int
obj_next(struct scan *s, int *first, struct ev_str *key)
{
	ws(s);
	if (s->s >= s->end)
		return fail(s, EV_ERR_SYNTAX, "truncated object");
	if (*s->s == '}') {
		s->s++;
		s->depth--;
		return 0;
	}
	if (!*first) {
		if (*s->s != ',')
			return fail(s, EV_ERR_SYNTAX, "expected ',' or '}'");
		s->s++;
		ws(s);
	}
	*first = 0;
	if (s->s >= s->end || *s->s != '"')
		return fail(s, EV_ERR_SYNTAX, "expected member name");
	if (parse_string(s, key) != 0)
		return -1;
	s->p->arena_len -= key->len + 1;	/* keys are compared at once */
	if (expect(s, ':', "expected ':'") != 0)
		return -1;
	ws(s);
	if (s->s >= s->end)
		return fail(s, EV_ERR_SYNTAX, "truncated value");
	return 1;
}

/* Same for arrays: returns 1 with s->s at the next element, 0 at ']'. */
static int
arr_next(struct scan *s, int *first)
{
	ws(s);
	if (s->s >= s->end)
		return fail(s, EV_ERR_SYNTAX, "truncated array");
	if (*s->s == ']') {
		s->s++;
		s->depth--;
		return 0;
	}
	if (!*first) {
		if (*s->s != ',')
			return fail(s, EV_ERR_SYNTAX, "expected ',' or ']'");
		s->s++;
		ws(s);
		if (s->s >= s->end)
			return fail(s, EV_ERR_SYNTAX, "truncated array");
	}
	*first = 0;
	return 1;
}

/* Inlined with a constant name: a length test and a short memcmp. */
static inline int
key_is(const struct ev_str *k, const char *name)
{
	size_t n = strlen(name);

	return k->len == n && memcmp(k->p, name, n) == 0;
}

static void
sem_set(enum ev_error *sem, enum ev_error e)
{
	if (*sem == EV_OK)
		*sem = e;
}

/* A string member; wrong types are skipped and reported in *sem. */
static int
member_string(struct scan *s, struct ev_str *out, enum ev_error *sem)
{
	if (*s->s != '"') {
		sem_set(sem, EV_ERR_TYPE);
		return skip_value(s);
	}
	if (parse_string(s, out) != 0)
		return -1;
	if (s->repaired)
		s->ev->repaired_strings++;
	return 0;
}

static int
member_int(struct scan *s, long *out, enum ev_error *sem)
{
	if (*s->s != '-' && (*s->s < '0' || *s->s > '9')) {
		sem_set(sem, EV_ERR_TYPE);
		return skip_value(s);
	}
	return parse_number(s, out, sem);
}

/* An array of strings appended to the event's string pool. */
static int
member_strings(struct scan *s, const struct ev_str **first_out,
    uint32_t *n_out, enum ev_error *sem)
{
	struct event *ev = s->ev;
	uint32_t first_idx = ev->nstrings;
	int first, r;

	if (*s->s != '[') {
		sem_set(sem, EV_ERR_TYPE);
		return skip_value(s);
	}
	if (++s->depth > EV_MAX_DEPTH)
		return fail(s, EV_ERR_DEPTH, "nesting too deep");
	s->s++;
	first = 1;
	while ((r = arr_next(s, &first)) == 1) {
		if (ev->nstrings >= EV_MAX_STRINGS) {
			sem_set(sem, EV_ERR_LIMIT);
			if (skip_value(s) != 0)
				return -1;
			continue;
		}
		if (*s->s != '"') {
			sem_set(sem, EV_ERR_TYPE);
			if (skip_value(s) != 0)
				return -1;
			continue;
		}
		if (member_string(s, &ev->strings[ev->nstrings], sem) != 0)
			return -1;
		ev->nstrings++;
	}
	if (r < 0)
		return -1;
	*first_out = &ev->strings[first_idx];
	*n_out = ev->nstrings - first_idx;
	return 0;
}

static int
parse_failure(struct scan *s, struct ev_failure *f, enum ev_error *sem)
{
	static const struct ev_str empty = { "", 0 };
	struct ev_str key;
	unsigned seen = 0, bit;
	int first, r;

	f->code = -1;
	f->sending_ip = f->mx_hostname = f->mx_helo = empty;
	f->receiving_ip = f->additional_info = f->reason = empty;
	if (obj_begin(s, &first) != 0)
		return -1;
	while ((r = obj_next(s, &first, &key)) == 1) {
		struct ev_str *dst = NULL;

		if (key.len != 1) {
			if (skip_value(s) != 0)
				return -1;
			continue;
		}
		switch (key.p[0]) {
		case 'c': bit = 1; break;
		case 's': bit = 2; dst = &f->sending_ip; break;
		case 'n': bit = 4; dst = &f->mx_hostname; break;
		case 'h': bit = 8; dst = &f->mx_helo; break;
		case 'r': bit = 16; dst = &f->receiving_ip; break;
		case 'a': bit = 32; dst = &f->additional_info; break;
		case 'f': bit = 64; dst = &f->reason; break;
		default:
			if (skip_value(s) != 0)
				return -1;
			continue;
		}
		if (seen & bit)
			sem_set(sem, EV_ERR_DUPLICATE);
		seen |= bit;
		if (dst != NULL)
			r = member_string(s, dst, sem);
		else
			r = member_int(s, &f->code, sem);
		if (r != 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (!(seen & 1))
		sem_set(sem, EV_ERR_MISSING);
	return 0;
}

static int
member_failures(struct scan *s, struct ev_policy *pol, uint32_t *entries,
    enum ev_error *sem)
{
	struct event *ev = s->ev;
	uint32_t first_idx = ev->nfailures;
	int first, r;

	if (*s->s != '[') {
		sem_set(sem, EV_ERR_TYPE);
		return skip_value(s);
	}
	if (++s->depth > EV_MAX_DEPTH)
		return fail(s, EV_ERR_DEPTH, "nesting too deep");
	s->s++;
	first = 1;
	while ((r = arr_next(s, &first)) == 1) {
		enum ev_error fsem = EV_OK;
		struct ev_failure tmp;

		(*entries)++;
		if (*s->s != '{') {
			fsem = EV_ERR_TYPE;
			if (skip_value(s) != 0)
				return -1;
		} else if (parse_failure(s, ev->nfailures < EV_MAX_FAILURES ?
		    &ev->failures[ev->nfailures] : &tmp, &fsem) != 0) {
			return -1;
		} else if (ev->nfailures >= EV_MAX_FAILURES) {
			fsem = EV_ERR_LIMIT;
		}
		if (fsem != EV_OK) {
			ev->dropped_failures++;
			if (ev->part_error == EV_OK)
				ev->part_error = fsem;
			continue;
		}
		ev->nfailures++;
	}
	if (r < 0)
		return -1;
	pol->failures = &ev->failures[first_idx];
	pol->nfailures = ev->nfailures - first_idx;
	return 0;
}

enum {
	P_TYPE = 1, P_DOMAIN = 2, P_STRINGS = 4, P_MX = 8, P_FAIL = 16,
	P_T = 32, P_F = 64,
};

static int
policy_member(struct scan *s, struct ev_policy *pol, const struct ev_str *key,
    unsigned *seen, uint32_t *entries, enum ev_error *sem)
{
	enum ev_error tsem = EV_OK;
	long final = -1;
	unsigned bit;
	int r;

	if (key_is(key, "policy-type"))
		bit = P_TYPE;
	else if (key_is(key, "policy-domain"))
		bit = P_DOMAIN;
	else if (key_is(key, "policy-string"))
		bit = P_STRINGS;
	else if (key_is(key, "mx-host"))
		bit = P_MX;
	else if (key_is(key, "failure-details"))
		bit = P_FAIL;
	else if (key_is(key, "t"))
		bit = P_T;
	else if (key_is(key, "f"))
		bit = P_F;
	else
		return skip_value(s);
	if (*seen & bit)
		sem_set(sem, EV_ERR_DUPLICATE);
	*seen |= bit;
	switch (bit) {
	case P_TYPE: return member_int(s, &pol->type, sem);
	case P_DOMAIN: return member_string(s, &pol->domain, sem);
	case P_STRINGS:
		return member_strings(s, &pol->strings, &pol->nstrings, sem);
	case P_MX:
		return member_strings(s, &pol->mx_hosts, &pol->nmx_hosts, sem);
	case P_FAIL: return member_failures(s, pol, entries, sem);
	case P_T:
		/* PROTOCOL.md 1.6: a wrong t is only logged, never fatal. */
		r = member_int(s, &pol->t, &tsem);
		if (r == 0 && tsem != EV_OK)
			pol->t = -2;
		return r;
	}
	r = member_int(s, &final, sem);
	if (r == 0 && final != -1) {
		if (final == 0 || final == 1)
			pol->failed = (int)final;
		else
			sem_set(sem, EV_ERR_RANGE);
	}
	return r;
}

/* Lower-cases, drops one trailing dot, checks the characters. */
static enum ev_error
normalise_domain(struct ev_str *d)
{
	char *p = (char *)d->p;

	if (d->len > 0 && p[d->len - 1] == '.')
		p[--d->len] = '\0';
	/* "a.." would keep a dot, and lose it when read again (re-encoded). */
	if (d->len == 0 || d->len > EV_MAX_DOMAIN || p[d->len - 1] == '.')
		return EV_ERR_DOMAIN;
	for (uint32_t i = 0; i < d->len; i++) {
		char c = p[i];
		if (c >= 'A' && c <= 'Z')
			p[i] = (char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_'))
			return EV_ERR_DOMAIN;
	}
	return EV_OK;
}

static int
parse_policy(struct scan *s)
{
	struct event *ev = s->ev;
	uint32_t save_strings = ev->nstrings, save_failures = ev->nfailures;
	uint32_t entries = 0;
	struct ev_policy *pol;
	struct ev_policy tmp;
	struct ev_str key;
	enum ev_error sem = EV_OK;
	unsigned seen = 0;
	int first, r;

	pol = ev->npolicies < EV_MAX_POLICIES ? &ev->policies[ev->npolicies] : &tmp;
	memset(pol, 0, sizeof(*pol));
	pol->type = -1;
	pol->t = -1;
	pol->strings = pol->mx_hosts = &ev->strings[ev->nstrings];
	pol->failures = &ev->failures[ev->nfailures];
	if (obj_begin(s, &first) != 0)
		return -1;
	while ((r = obj_next(s, &first, &key)) == 1)
		if (policy_member(s, pol, &key, &seen, &entries, &sem) != 0)
			return -1;
	if (r < 0)
		return -1;
	if (!(seen & P_TYPE) || !(seen & P_F))
		sem_set(&sem, EV_ERR_MISSING);
	if (sem == EV_OK && (seen & P_DOMAIN) && pol->domain.len > 0)
		sem = normalise_domain(&pol->domain);
	if (sem == EV_OK && pol == &tmp)
		sem = EV_ERR_LIMIT;
	if (sem != EV_OK) {
		ev->nstrings = save_strings;
		ev->nfailures = save_failures;
		ev->dropped_policies++;
		if (ev->part_error == EV_OK)
			ev->part_error = sem;
		return 0;
	}
	if (pol->t == -2 || (pol->t >= 0 && (uint32_t)pol->t != entries))
		ev->t_mismatches++;
	ev->npolicies++;
	return 0;
}

static int
parse_policies(struct scan *s, enum ev_error *sem)
{
	int first, r;

	if (*s->s == 'n') {
		sem_set(sem, EV_ERR_NO_POLICIES);
		return parse_literal(s, "null");
	}
	if (*s->s != '[') {
		sem_set(sem, EV_ERR_TYPE);
		return skip_value(s);
	}
	if (++s->depth > EV_MAX_DEPTH)
		return fail(s, EV_ERR_DEPTH, "nesting too deep");
	s->s++;
	first = 1;
	while ((r = arr_next(s, &first)) == 1) {
		if (*s->s == '{') {
			if (parse_policy(s) != 0)
				return -1;
			continue;
		}
		if (skip_value(s) != 0)
			return -1;
		s->ev->dropped_policies++;
		if (s->ev->part_error == EV_OK)
			s->ev->part_error = EV_ERR_TYPE;
	}
	return r < 0 ? -1 : 0;
}

enum { T_DPV = 1, T_D = 2, T_PR = 4, T_POLICIES = 8 };

static int
parse_top(struct scan *s, enum ev_error *sem)
{
	struct event *ev = s->ev;
	struct ev_str key;
	unsigned seen = 0, bit;
	int first, r;

	if (obj_begin(s, &first) != 0)
		return -1;
	while ((r = obj_next(s, &first, &key)) == 1) {
		enum ev_error vsem = EV_OK;

		if (key_is(&key, "dpv"))
			bit = T_DPV;
		else if (key_is(&key, "d"))
			bit = T_D;
		else if (key_is(&key, "pr"))
			bit = T_PR;
		else if (key_is(&key, "policies"))
			bit = T_POLICIES;
		else {
			if (skip_value(s) != 0)
				return -1;
			continue;
		}
		if (seen & bit)
			sem_set(sem, EV_ERR_DUPLICATE);
		seen |= bit;
		switch (bit) {
		case T_DPV:
			r = member_string(s, &ev->dpv, &vsem);
			if (vsem != EV_OK) {
				/* A non-string version is an unknown version. */
				ev->dpv.p = "?";
				ev->dpv.len = 1;
				vsem = EV_OK;
			}
			break;
		case T_D: r = member_string(s, &ev->domain, &vsem); break;
		case T_PR: r = member_string(s, &ev->record, &vsem); break;
		default: r = parse_policies(s, &vsem); break;
		}
		if (r != 0)
			return -1;
		sem_set(sem, vsem);
	}
	if (r < 0)
		return -1;
	ws(s);
	if (s->s != s->end)
		return fail(s, EV_ERR_SYNTAX, "data after the JSON object");
	if (!(seen & T_D))
		sem_set(sem, EV_ERR_MISSING);
	if (!(seen & T_POLICIES))
		sem_set(sem, EV_ERR_NO_POLICIES);
	return 0;
}

enum ev_error
ev_parse(struct ev_parser *p, const char *data, size_t len,
    const struct event **out, struct ev_diag *diag)
{
	static const struct ev_str empty = { "", 0 };
	struct event *ev = &p->ev;
	struct scan s = { 0 };
	enum ev_error sem = EV_OK;

	diag->offset = 0;
	diag->what = "";
	if (len == 0) {
		diag->what = "empty datagram";
		return EV_ERR_EMPTY;
	}
	if (len > p->max_datagram) {
		diag->what = "datagram too large";
		return EV_ERR_OVERSIZE;
	}
	ev->dpv = ev->domain = ev->record = empty;
	ev->npolicies = ev->nstrings = ev->nfailures = 0;
	ev->repaired_strings = ev->dropped_policies = ev->dropped_failures = 0;
	ev->t_mismatches = 0;
	ev->part_error = EV_OK;
	p->arena_len = 0;
	s.s = s.start = (const unsigned char *)data;
	s.end = s.s + len;
	s.p = p;
	s.ev = ev;

	ws(&s);
	if (s.s < s.end && *s.s != '{') {
		if (skip_value(&s) == 0) {
			ws(&s);
			diag->what = "top level is not an object";
			return s.s == s.end ? EV_ERR_NOT_OBJECT : EV_ERR_SYNTAX;
		}
	} else if (s.s >= s.end) {
		fail(&s, EV_ERR_SYNTAX, "only whitespace");
	} else {
		parse_top(&s, &sem);
	}
	if (s.err != EV_OK) {
		diag->offset = s.err_off;
		diag->what = s.what;
		return s.err;
	}
	if (sem == EV_OK)
		sem = normalise_domain(&ev->domain);
	if (sem == EV_OK && ev->npolicies == 0)
		sem = EV_ERR_NO_POLICIES;
	if (sem != EV_OK) {
		diag->what = sem == EV_ERR_NO_POLICIES ?
		    "no usable policy" : "bad top-level member";
		/* Say why the policies went, not only that none is left. */
		if (sem == EV_ERR_NO_POLICIES && ev->dropped_policies > 0 &&
		    all_dropped_what[ev->part_error] != NULL)
			diag->what = all_dropped_what[ev->part_error];
		return sem;
	}
	for (uint32_t i = 0; i < ev->npolicies; i++)
		if (ev->policies[i].domain.p == NULL ||
		    ev->policies[i].domain.len == 0)
			ev->policies[i].domain = ev->domain;
	*out = ev;
	return EV_OK;
}
