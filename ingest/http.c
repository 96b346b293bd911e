/*
 * NAME
 *	http - the ingest endpoint's HTTP server (libmicrohttpd)
 * DESCRIPTION
 *	See http.h. libmicrohttpd calls the handler once when the headers
 *	are in, then once per piece of body, then once more with nothing:
 *	the answer is queued on the first call (refusals that need no body)
 *	or on the last.
 *
 *	libmicrohttpd's own timeout only notices idle connections, and the
 *	handler only runs once the headers are in: a client sending a byte
 *	every few seconds, of headers or body, would hold a connection for
 *	ever. So a watchdog thread looks at every connection twice a second
 *	and shuts down the socket of one whose request has taken more than
 *	request_timeout_s (counted from the connection's start, or from the
 *	end of its previous request); libmicrohttpd then sees end of file
 *	and closes it. A socket is only shut down while its connection is
 *	listed, and libmicrohttpd unlists it (NOTIFY_CLOSED) before it
 *	closes the descriptor, so a reused descriptor is never hit.
 *
 *	A report to store is not stored in the handler: the connection is
 *	suspended and the parsed report queued for the acceptor's writer,
 *	which commits everything waiting at once and resumes each
 *	connection; the handler then answers. So ingest_threads parse
 *	while the database takes batches. http_stop() stops queueing (a
 *	report is then stored in the handler) and waits for the queued ones:
 *	libmicrohttpd must not be stopped with a connection suspended.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "mem.h"
#include "web.h"

#define MAX_PEM_BYTES (1024 * 1024)
#define WATCH_INTERVAL_MS 500

/* A connection the watchdog knows of. */
struct watched {
	int fd;
	int cut;			/* shut down already */
	struct timespec since;		/* start of the current request */
	struct watched *prev, *next;
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct acceptor *acceptor;
	struct http_opts opts;
	char *cert, *key;
	struct ratelimit rl;
	pthread_mutex_t rl_mu;		/* rl: pool threads and the watchdog log */
	pthread_mutex_t watch_mu;	/* the list and watch_stop */
	pthread_cond_t watch_cv;
	pthread_t watch_thread;
	int watch_running, watch_stop;
	struct watched *watch_head;
	pthread_mutex_t pend_mu;	/* pending, stopping */
	pthread_cond_t pend_cv;
	unsigned pending;		/* suspended, waiting for the writer */
	int stopping;
};

enum request_state { RQ_READING, RQ_QUEUED, RQ_DONE };

struct request {
	struct buf body;
	unsigned refuse;	/* status to answer once the body is drained */
	const char *refuse_text;
	char content_type[128];
	char peer[INET6_ADDRSTRLEN + 8];
	struct http_server *server;
	struct MHD_Connection *conn;
	enum request_state state;
	enum accept_result result;	/* RQ_DONE */
	char why[256];
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

static enum MHD_Result
count_length_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	(void)kind;
	(void)value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		(*(unsigned *)cls)++;
	return MHD_YES;
}

/* First call: decide from the request line and headers alone. */
static enum MHD_Result
begin(struct http_server *s, struct MHD_Connection *c, const char *url,
    const char *method, void **con_cls)
{
	struct request *rq;
	const char *len, *ct;
	char peer[64];
	unsigned nlen;

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
	/*
	 * Two Content-Length headers: a proxy in front may have framed the
	 * body by the other one (request smuggling). RFC 9112 6.3: refuse.
	 */
	nlen = 0;
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_length_header, &nlen);
	if (nlen > 1) {
		peer_text(c, peer, sizeof(peer));
		pthread_mutex_lock(&s->rl_mu);
		log_limited(&s->rl, "%s: request with %u Content-Length headers "
		    "refused", peer, nlen);
		pthread_mutex_unlock(&s->rl_mu);
		return answer(c, MHD_HTTP_BAD_REQUEST, "several Content-Length headers\n");
	}
	len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len != NULL && strtoull(len, NULL, 10) > s->opts.max_body_bytes) {
		acceptor_count(s->acceptor, "rejected_too_big");
		return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
	}
	rq = xcalloc(1, sizeof(*rq));
	buf_init(&rq->body, s->opts.max_body_bytes);
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
answer_result(struct MHD_Connection *c, enum accept_result r, const char *why)
{
	char text[320];

	if (r == ACCEPT_STORED || r == ACCEPT_DUPLICATE)
		snprintf(text, sizeof(text), "%s\n", accept_result_name(r));
	else
		snprintf(text, sizeof(text), "%s: %s\n", accept_result_name(r), why);
	return answer(c, status_of(r), text);
}

/* The writer's callback, on its thread: the answer is ready. */
static void
stored(void *arg, enum accept_result r, const char *why)
{
	struct request *rq = arg;
	struct http_server *s = rq->server;

	rq->result = r;
	snprintf(rq->why, sizeof(rq->why), "%s", why);
	rq->state = RQ_DONE;
	MHD_resume_connection(rq->conn);	/* the handler runs again */
	pthread_mutex_lock(&s->pend_mu);
	if (--s->pending == 0)
		pthread_cond_broadcast(&s->pend_cv);
	pthread_mutex_unlock(&s->pend_mu);
}

static enum MHD_Result
finish(struct http_server *s, struct MHD_Connection *c, struct request *rq)
{
	struct accept_meta meta = { "https", rq->peer, NULL, NULL, NULL };
	struct accept_job *job;
	enum accept_result r;
	int stopping;

	if (rq->refuse)
		return answer(c, rq->refuse, rq->refuse_text);
	if (rq->state == RQ_DONE)
		return answer_result(c, rq->result, rq->why);
	if (rq->state == RQ_QUEUED)
		return MHD_YES;		/* not expected: still suspended */
	job = acceptor_prepare(s->acceptor, rq->body.data ? rq->body.data : "",
	    rq->body.len, rq->content_type, &meta, &r, rq->why, sizeof(rq->why));
	if (job == NULL)
		return answer_result(c, r, rq->why);
	pthread_mutex_lock(&s->pend_mu);
	if (!(stopping = s->stopping))
		s->pending++;
	pthread_mutex_unlock(&s->pend_mu);
	if (stopping) {
		r = acceptor_store(s->acceptor, job, rq->why, sizeof(rq->why));
		return answer_result(c, r, rq->why);
	}
	rq->server = s;
	rq->conn = c;
	rq->state = RQ_QUEUED;
	MHD_suspend_connection(c);	/* before the writer can resume it */
	acceptor_submit(s->acceptor, job, stored, rq);
	return MHD_YES;
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
	struct http_server *s = cls;
	struct request *rq = *con_cls;
	const union MHD_ConnectionInfo *ci;

	(void)toe;
	/* A kept-alive connection starts the clock of its next request. */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && ci->socket_context != NULL) {
		pthread_mutex_lock(&s->watch_mu);
		clock_gettime(CLOCK_MONOTONIC,
		    &((struct watched *)ci->socket_context)->since);
		pthread_mutex_unlock(&s->watch_mu);
	}
	if (rq != NULL) {
		buf_free(&rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void
notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;
	struct watched *w = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL)
			return;
		w = xcalloc(1, sizeof(*w));
		w->fd = ci->connect_fd;
		clock_gettime(CLOCK_MONOTONIC, &w->since);
		pthread_mutex_lock(&s->watch_mu);
		w->next = s->watch_head;
		if (s->watch_head != NULL)
			s->watch_head->prev = w;
		s->watch_head = w;
		pthread_mutex_unlock(&s->watch_mu);
		*socket_context = w;
		return;
	}
	if (w == NULL)
		return;
	pthread_mutex_lock(&s->watch_mu);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		s->watch_head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	pthread_mutex_unlock(&s->watch_mu);
	free(w);
	*socket_context = NULL;
}

static int64_t
elapsed_ms(const struct timespec *since, const struct timespec *now)
{
	return (int64_t)(now->tv_sec - since->tv_sec) * 1000 +
	    (now->tv_nsec - since->tv_nsec) / 1000000;
}

/* Cuts off requests that take longer than request_timeout_s. */
static void *
watchdog(void *arg)
{
	struct http_server *s = arg;
	int64_t limit_ms = (int64_t)s->opts.request_timeout_s * 1000;
	struct timespec now, wake;
	unsigned cut;

	pthread_mutex_lock(&s->watch_mu);
	while (!s->watch_stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		cut = 0;
		for (struct watched *w = s->watch_head; w != NULL; w = w->next)
			if (!w->cut && elapsed_ms(&w->since, &now) > limit_ms) {
				(void)shutdown(w->fd, SHUT_RDWR);
				w->cut = 1;
				cut++;
			}
		if (cut > 0) {
			/* Not under watch_mu: counting may write the database. */
			pthread_mutex_unlock(&s->watch_mu);
			for (unsigned i = 0; i < cut; i++)
				acceptor_count(s->acceptor, "rejected_slow");
			pthread_mutex_lock(&s->rl_mu);
			log_limited(&s->rl, "%u request(s) not complete after %u s; "
			    "cut off", cut, s->opts.request_timeout_s);
			pthread_mutex_unlock(&s->rl_mu);
			pthread_mutex_lock(&s->watch_mu);
		}
		wake = now;
		wake.tv_nsec += WATCH_INTERVAL_MS * 1000000L;
		wake.tv_sec += wake.tv_nsec / 1000000000L;
		wake.tv_nsec %= 1000000000L;
		while (!s->watch_stop &&
		    pthread_cond_timedwait(&s->watch_cv, &s->watch_mu, &wake) == 0)
			;
	}
	pthread_mutex_unlock(&s->watch_mu);
	return NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pthread_mutex_lock(&s->rl_mu);	/* called from every pool thread */
	log_limited(&s->rl, "http: %s", msg);
	pthread_mutex_unlock(&s->rl_mu);
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
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
	    MHD_ALLOW_SUSPEND_RESUME;
	int tls = *o->tls_cert_file != '\0';
	pthread_condattr_t ca;

	s->opts = *o;
	pthread_mutex_init(&s->rl_mu, NULL);
	pthread_mutex_init(&s->watch_mu, NULL);
	pthread_mutex_init(&s->pend_mu, NULL);
	pthread_cond_init(&s->pend_cv, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->watch_cv, &ca);
	pthread_condattr_destroy(&ca);
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
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, s },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, s },
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
	if (pthread_create(&s->watch_thread, NULL, watchdog, s) != 0) {
		snprintf(err, errlen, "cannot start the request watchdog");
		MHD_stop_daemon(s->daemon);
		goto fail;
	}
	s->watch_running = 1;
	return s;
fail:
	pthread_cond_destroy(&s->watch_cv);
	pthread_mutex_destroy(&s->watch_mu);
	pthread_cond_destroy(&s->pend_cv);
	pthread_mutex_destroy(&s->pend_mu);
	pthread_mutex_destroy(&s->rl_mu);
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
	pthread_mutex_lock(&s->pend_mu);
	s->stopping = 1;
	while (s->pending > 0)
		pthread_cond_wait(&s->pend_cv, &s->pend_mu);
	pthread_mutex_unlock(&s->pend_mu);
	if (s->watch_running) {
		pthread_mutex_lock(&s->watch_mu);
		s->watch_stop = 1;
		pthread_cond_signal(&s->watch_cv);
		pthread_mutex_unlock(&s->watch_mu);
		pthread_join(s->watch_thread, NULL);
	}
	MHD_stop_daemon(s->daemon);	/* empties the list (NOTIFY_CLOSED) */
	pthread_cond_destroy(&s->watch_cv);
	pthread_mutex_destroy(&s->watch_mu);
	pthread_cond_destroy(&s->pend_cv);
	pthread_mutex_destroy(&s->pend_mu);
	pthread_mutex_destroy(&s->rl_mu);
	free(s->cert);
	free(s->key);
	free(s);
}
