/*
 * NAME
 *	event_enc - write a datagram in libtlsrpt's byte layout
 * DESCRIPTION
 *	Used by tlsrpt-log and the load generator, so what they send is
 *	byte-for-byte what Postfix would send for the same session: keys
 *	in libtlsrpt's order, string members as `"key": "value"`, numbers
 *	as `"key":9`, no other whitespace. Escaping follows libtlsrpt:
 *	'"' and '\\' get a backslash, bytes below 0x20 and 0x7F are escaped,
 *	everything else is copied.
 */
#include <stdio.h>

#include "event.h"

int
ev_json_escape(struct buf *b, const char *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		char esc[7];
		int n = 0;

		switch (c) {
		case '"': esc[n++] = '\\'; esc[n++] = '"'; break;
		case '\\': esc[n++] = '\\'; esc[n++] = '\\'; break;
		case '\b': esc[n++] = '\\'; esc[n++] = 'b'; break;
		case '\f': esc[n++] = '\\'; esc[n++] = 'f'; break;
		case '\n': esc[n++] = '\\'; esc[n++] = 'n'; break;
		case '\r': esc[n++] = '\\'; esc[n++] = 'r'; break;
		case '\t': esc[n++] = '\\'; esc[n++] = 't'; break;
		default:
			if (c < 0x20 || c == 0x7F) {
				esc[n++] = '\\';
				esc[n++] = 'u';
				esc[n++] = '0';
				esc[n++] = '0';
				esc[n++] = hex[c >> 4];
				esc[n++] = hex[c & 15];
			} else {
				esc[n++] = (char)c;
			}
		}
		if (buf_append(b, esc, (size_t)n) != 0)
			return -1;
	}
	return 0;
}

static int
put_member(struct buf *b, int *comma, const char *key, const struct ev_str *v)
{
	if (v->len == 0)
		return 0;
	if ((*comma && buf_putc(b, ',') != 0) ||
	    buf_printf(b, "\"%s\": \"", key) != 0 ||
	    ev_json_escape(b, v->p, v->len) != 0 || buf_putc(b, '"') != 0)
		return -1;
	*comma = 1;
	return 0;
}

static int
put_array(struct buf *b, const char *key, const struct ev_str *v, uint32_t n)
{
	if (n == 0)
		return 0;
	if (buf_printf(b, ",\"%s\":[", key) != 0)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if ((i > 0 && buf_putc(b, ',') != 0) || buf_putc(b, '"') != 0 ||
		    ev_json_escape(b, v[i].p, v[i].len) != 0 || buf_putc(b, '"') != 0)
			return -1;
	return buf_putc(b, ']');
}

static int
put_failure(struct buf *b, const struct ev_failure *f)
{
	int comma = 1;

	if (buf_printf(b, "{\"c\":%ld", f->code) != 0 ||
	    put_member(b, &comma, "s", &f->sending_ip) != 0 ||
	    put_member(b, &comma, "n", &f->mx_hostname) != 0 ||
	    put_member(b, &comma, "h", &f->mx_helo) != 0 ||
	    put_member(b, &comma, "r", &f->receiving_ip) != 0 ||
	    put_member(b, &comma, "a", &f->additional_info) != 0 ||
	    put_member(b, &comma, "f", &f->reason) != 0)
		return -1;
	return buf_putc(b, '}');
}

static int
put_policy(struct buf *b, const struct ev_policy *p)
{
	int comma = 1;

	if (buf_printf(b, "{\"policy-type\":%ld", p->type) != 0 ||
	    put_member(b, &comma, "policy-domain", &p->domain) != 0 ||
	    put_array(b, "policy-string", p->strings, p->nstrings) != 0 ||
	    put_array(b, "mx-host", p->mx_hosts, p->nmx_hosts) != 0)
		return -1;
	if (p->nfailures > 0) {
		if (buf_puts(b, ",\"failure-details\":[") != 0)
			return -1;
		for (uint32_t i = 0; i < p->nfailures; i++)
			if ((i > 0 && buf_putc(b, ',') != 0) ||
			    put_failure(b, &p->failures[i]) != 0)
				return -1;
		if (buf_putc(b, ']') != 0)
			return -1;
	}
	return buf_printf(b, ",\"t\":%u,\"f\":%d}", p->nfailures, p->failed);
}

int
ev_encode(const struct event *ev, struct buf *out)
{
	static const struct ev_str version = { "1", 1 };
	int comma = 0;

	if (buf_putc(out, '{') != 0 ||
	    put_member(out, &comma, "dpv", ev->dpv.len ? &ev->dpv : &version) != 0 ||
	    put_member(out, &comma, "d", &ev->domain) != 0 ||
	    put_member(out, &comma, "pr", &ev->record) != 0 ||
	    buf_puts(out, ",\"policies\":[") != 0)
		return -1;
	for (uint32_t i = 0; i < ev->npolicies; i++)
		if ((i > 0 && buf_putc(out, ',') != 0) ||
		    put_policy(out, &ev->policies[i]) != 0)
			return -1;
	return buf_puts(out, "]}");
}
