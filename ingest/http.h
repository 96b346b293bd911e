/*
 * NAME
 *	http - the ingest endpoint's HTTP server (libmicrohttpd)
 * SYNOPSIS
 *	struct http_opts o = { ... };
 *	struct http_server *s = http_start(&o, acceptor, err, errlen);
 *	port = http_port(s);
 *	http_stop(s);
 * DESCRIPTION
 *	POST to opts->path hands the body to the acceptor and answers:
 *	200 "stored" or "duplicate"; 400 with a short reason for a body that
 *	is not a report; 413 for a body over max_body_bytes (refused from
 *	Content-Length before it is read) or a report inflating beyond the
 *	cap; 415 for a body that is neither gzip nor JSON under a foreign
 *	Content-Type; 500 when we cannot store it. Other methods on the path
 *	get 405, other paths 404. A request not complete within
 *	request_timeout_s is cut off (slow senders); idle connections close
 *	after connection_timeout_s; connections are capped overall and per
 *	address; headers are limited by max_header_bytes.
 *
 *	With opts->web set, every other URL goes to web_handle() (the
 *	dashboard, its API and /metrics; see web.h; it answers 405 to
 *	anything but GET and HEAD) instead of 404, and is not counted as
 *	rejected_not_found. With web_only also set, the server is the
 *	separate dashboard listener: every request goes to the web, reports
 *	are not taken there.
 */
#ifndef TLSRPTD_HTTP_H
#define TLSRPTD_HTTP_H

#include <stddef.h>

#include "accept.h"

struct web;

struct http_opts {
	const char *path;
	const char *tls_cert_file;	/* "" for plain HTTP */
	const char *tls_key_file;
	unsigned threads;
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned connection_timeout_s;
	unsigned request_timeout_s;
	size_t max_header_bytes;
	size_t max_body_bytes;
	struct web *web;		/* NULL: no dashboard on this server */
	int web_only;			/* dashboard listener: no report POSTs */
};

struct http_server;

/* Binds and listens, so privileges can be dropped before http_start. */
int http_bind(const char *listen_spec, char *err, size_t errlen);
struct http_server *http_start(const struct http_opts *o, int listen_fd,
    struct acceptor *a, char *err, size_t errlen);
unsigned http_port(struct http_server *s);
void http_stop(struct http_server *s);

#endif
