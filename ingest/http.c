/*
 * NAME
 *	http - the ingest endpoint's HTTP server (libmicrohttpd)
 * DESCRIPTION
 *	See http.h. libmicrohttpd calls the handler once when the headers
 *	are in, then once per piece of body, then once more with nothing:
 *	the answer is queued on the first call (refusals that need no body)
 *	or on the last.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "mem.h"
#include "web.h"

#define MAX_PEM_BYTES (1024 * 1024)

struct http_server {
	struct MHD_Daemon *daemon;
	struct acceptor *acceptor;
	struct http_opts opts;
	char *cert, *key;
	struct ratelimit rl;
};

struct request {
	struct buf body;
	time_t start;
	unsigned refuse;	/* status to answer once the body is drained */
	const char *refuse_text;
	char content_type[128];
	char peer[INET6_ADDRSTRLEN + 8];
};

static enum MHD_Result
answer(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=us-ascii");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "POST");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void
peer_text(struct MHD_Connection *c, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	snprintf(out, outlen, "unknown");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    out, (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    out, (socklen_t)outlen);
}

/* First call: decide from the request line and headers alone. */
static enum MHD_Result
begin(struct http_server *s, struct MHD_Connection *c, const char *url,
    const char *method, void **con_cls)
{
	struct request *rq;
	const char *len, *ct;

	if (s->opts.web != NULL && (s->opts.web_only || strcmp(url, s->opts.path) != 0))
		return web_handle(s->opts.web, c, url, method);
	if (strcmp(url, s->opts.path) != 0) {
		acceptor_count(s->acceptor, "rejected_not_found");
		return answer(c, MHD_HTTP_NOT_FOUND, "not found\n");
	}
	if (strcmp(method, "POST") != 0) {
		acceptor_count(s->acceptor, "rejected_method");
		return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only POST\n");
	}
	len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len != NULL && strtoull(len, NULL, 10) > s->opts.max_body_bytes) {
		acceptor_count(s->acceptor, "rejected_too_big");
		return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
	}
	rq = xcalloc(1, sizeof(*rq));
	buf_init(&rq->body, s->opts.max_body_bytes);
	rq->start = time(NULL);
	ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	snprintf(rq->content_type, sizeof(rq->content_type), "%s", ct ? ct : "");
	peer_text(c, rq->peer, sizeof(rq->peer));
	*con_cls = rq;
	return MHD_YES;
}

static unsigned
status_of(enum accept_result r)
{
	switch (r) {
	case ACCEPT_STORED:
	case ACCEPT_DUPLICATE: return MHD_HTTP_OK;
	case ACCEPT_MALFORMED: return MHD_HTTP_BAD_REQUEST;
	case ACCEPT_TOO_BIG: return MHD_HTTP_CONTENT_TOO_LARGE;
	case ACCEPT_UNSUPPORTED: return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
	case ACCEPT_FAULT: break;
	}
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static enum MHD_Result
finish(struct http_server *s, struct MHD_Connection *c, struct request *rq)
{
	struct accept_meta meta = { "https", rq->peer, NULL, NULL, NULL };
	enum accept_result r;
	char why[256], text[320];

	if (rq->refuse)
		return answer(c, rq->refuse, rq->refuse_text);
	r = acceptor_body(s->acceptor, rq->body.data ? rq->body.data : "",
	    rq->body.len, rq->content_type, &meta, why, sizeof(why));
	if (r == ACCEPT_STORED || r == ACCEPT_DUPLICATE)
		snprintf(text, sizeof(text), "%s\n", accept_result_name(r));
	else
		snprintf(text, sizeof(text), "%s: %s\n", accept_result_name(r), why);
	return answer(c, status_of(r), text);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **con_cls)
{
	struct http_server *s = cls;
	struct request *rq = *con_cls;

	(void)version;
	if (rq == NULL)
		return begin(s, c, url, method, con_cls);
	if (*size == 0)
		return finish(s, c, rq);
	if (time(NULL) - rq->start > (time_t)s->opts.request_timeout_s) {
		acceptor_count(s->acceptor, "rejected_slow");
		log_limited(&s->rl, "%s: request not complete after %u s; cut off",
		    rq->peer, s->opts.request_timeout_s);
		return MHD_NO;	/* closes the connection */
	}
	if (!rq->refuse && buf_append(&rq->body, data, *size) != 0) {
		acceptor_count(s->acceptor, "rejected_too_big");
		rq->refuse = MHD_HTTP_CONTENT_TOO_LARGE;
		rq->refuse_text = "body too large\n";
		buf_free(&rq->body);
	}
	*size = 0;
	return MHD_YES;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq != NULL) {
		buf_free(&rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_limited(&s->rl, "http: %s", msg);
}

static char *
read_file(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	struct buf b;
	char chunk[4096];
	size_t n;

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf_init(&b, MAX_PEM_BYTES);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(&b, chunk, n) != 0) {
			snprintf(err, errlen, "%s: larger than %d bytes", path, MAX_PEM_BYTES);
			buf_free(&b);
			fclose(fp);
			return NULL;
		}
	fclose(fp);
	if (b.data == NULL || b.len == 0) {
		snprintf(err, errlen, "%s: empty file", path);
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* "127.0.0.1:8460" or "[::1]:8460" into a socket address. */
static int
parse_listen(const char *spec, struct sockaddr_storage *ss, int *v6)
{
	char host[128];
	const char *colon;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host))
			return -1;
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
			return -1;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
	}
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535)
		return -1;
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*v6 = 0;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*v6 = 1;
		return 0;
	}
	return -1;
}

int
http_bind(const char *listen_spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int v6, fd, one = 1;

	if (parse_listen(listen_spec, &ss, &v6) != 0) {
		snprintf(err, errlen, "ingest_listen: '%s' is not address:port", listen_spec);
		return -1;
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, v6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in)) != 0 || listen(fd, 1024) != 0) {
		snprintf(err, errlen, "listen on %s: %s", listen_spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct http_server *
http_start(const struct http_opts *o, int listen_fd, struct acceptor *a,
    char *err, size_t errlen)
{
	struct http_server *s = xcalloc(1, sizeof(*s));
	struct ratelimit rl = RATELIMIT_INIT(5, 60);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int tls = *o->tls_cert_file != '\0';

	s->opts = *o;
	s->acceptor = a;
	s->rl = rl;
	if (tls && ((s->cert = read_file(o->tls_cert_file, err, errlen)) == NULL ||
	    (s->key = read_file(o->tls_key_file, err, errlen)) == NULL))
		goto fail;
	if (tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s },
		{ MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL },
		{ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)o->threads, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o->max_connections, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)o->max_connections_per_ip, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o->connection_timeout_s, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)o->max_header_bytes, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL },
		{ tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert },
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->key },
		{ MHD_OPTION_END, 0, NULL },
	};
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handler, s,
	    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (s->daemon == NULL) {
		snprintf(err, errlen, "cannot start the HTTP server (bad certificate "
		    "or key?)");
		goto fail;
	}
	return s;
fail:
	free(s->cert);
	free(s->key);
	free(s);
	return NULL;
}

unsigned
http_port(struct http_server *s)
{
	const union MHD_DaemonInfo *di;

	di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return di ? di->port : 0;
}

void
http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->daemon);
	free(s->cert);
	free(s->key);
	free(s);
}
