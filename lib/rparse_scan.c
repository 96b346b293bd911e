/*
 * NAME
 *	rparse_scan - byte-level checks of incoming report text
 * DESCRIPTION
 *	See rparse.h. The parts of the report parser that look at bytes
 *	rather than at the JSON tree: the pre-scan that runs before
 *	jansson, the UTF-8 check with its Latin-1 re-read, and RFC 3339
 *	date-times. None of them allocates except rp_latin1_repair(), and
 *	none recurses.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "day.h"
#include "mem.h"
#include "rparse.h"

int
rp_prescan(const char *text, size_t len, size_t max_depth,
    size_t max_containers, size_t *at)
{
	size_t depth = 0, containers = 0;
	int in_string = 0, escaped = 0;

	*at = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		*at = i;
		if (ch == '\0')
			return RP_NOT_JSON;
		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (ch == '\\')
				escaped = 1;
			else if (ch == '"')
				in_string = 0;
		} else if (ch == '"') {
			in_string = 1;
		} else if (ch == '[' || ch == '{') {
			if (++depth > max_depth)
				return RP_TOO_DEEP;
			if (++containers > max_containers)
				return RP_TOO_BIG;
		} else if ((ch == ']' || ch == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

/* Length of the valid UTF-8 sequence (RFC 3629) at p, or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned long cp, min;
	size_t need;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2, cp = p[0] & 0x1f, min = 0x80;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 3, cp = p[0] & 0x0f, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 4, cp = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

int
rp_utf8_valid(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t k;

	for (size_t i = 0; i < len; i += k)
		if ((k = utf8_seq(p + i, len - i)) == 0)
			return 0;
	return 1;
}

/*
 * An ISO-8859-1 organisation name becomes readable, a stray byte in
 * otherwise UTF-8 text costs one character, and ASCII (all of JSON's
 * syntax) is untouched. The result is at most twice as long.
 */
char *
rp_latin1_repair(const char *text, size_t len, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)text;
	char *out = xreallocarray(NULL, len + 1, 2);
	size_t o = 0, k;

	for (size_t i = 0; i < len; i += k) {
		if ((k = utf8_seq(p + i, len - i)) != 0) {
			memcpy(out + o, p + i, k);
			o += k;
		} else {
			out[o++] = (char)(0xc0 | p[i] >> 6);
			out[o++] = (char)(0x80 | (p[i] & 0x3f));
			k = 1;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static int
two_digits(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "+hh:mm" / "-hh:mm" in seconds east of UTC; -1 on error. */
static int
zone_offset(const char *p, int *off)
{
	int oh, om;

	if (strlen(p) != 6 || p[3] != ':')
		return -1;
	oh = two_digits(p + 1);
	om = two_digits(p + 4);
	if (oh < 0 || oh > 23 || om < 0 || om > 59)
		return -1;
	*off = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
	return 0;
}

int
rp_datetime(const char *s, int64_t *t, int *zoneless)
{
	char day[DAY_LEN];
	time_t midnight;
	int hh, mm, ss, off = 0;
	const char *p;

	if (strlen(s) < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	memcpy(day, s, 10);
	day[10] = '\0';
	hh = two_digits(s + 11);
	mm = two_digits(s + 14);
	ss = two_digits(s + 17);
	if (day_parse(day, &midnight) != 0 || hh < 0 || hh > 23 || mm < 0 ||
	    mm > 59 || ss < 0 || ss > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return -1;
		p += strspn(p, "0123456789");
	}
	*zoneless = *p == '\0';
	if ((*p == '+' || *p == '-') && zone_offset(p, &off) != 0)
		return -1;
	if (*p != '\0' && *p != '+' && *p != '-' &&
	    !((*p == 'Z' || *p == 'z') && p[1] == '\0'))
		return -1;
	/* A leap second (23:59:60) stays inside its minute. */
	*t = (int64_t)midnight + hh * 3600 + mm * 60 + (ss == 60 ? 59 : ss) - off;
	return 0;
}
