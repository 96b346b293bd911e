/*
 * NAME
 *	web - the dashboard, its JSON API and /metrics in tlsrpt-ingestd
 * DESCRIPTION
 *	See web.h. This file routes, authenticates and serves the embedded
 *	files; webapi.c answers /api/, metrics.c writes /metrics.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "query.h"
#include "web.h"
#include "webapi.h"
#include "webassets.h"

#define REALM "tlsrptd"
#define METRICS_MAX_BYTES (64 * 1024 * 1024)

struct web {
	struct query *q;
	char *user, *password;	/* NULL: no authentication */
	pthread_mutex_t log_mu;	/* the rate limiter is not thread-safe */
	struct ratelimit rl;
};

/* Same origin only: scripts and styles from /assets, data from /api. */
static const char CSP[] = "default-src 'none'; script-src 'self'; "
    "style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/* Pages by URL; each is an HTML shell from ingest/web/. */
static const struct {
	const char *url;
	const char *file;
} pages[] = {
	{ "/", "index.html" },
	{ "/failures", "failures.html" },
	{ "/reports", "reports.html" },
	{ "/report", "report.html" },
	{ "/outbound", "outbound.html" },
};

struct web *
web_open(const struct web_opts *o, char *err, size_t errlen)
{
	struct ratelimit rl = RATELIMIT_INIT(10, 60);
	struct web *w;

	if ((*o->user == '\0') != (o->password == NULL || *o->password == '\0')) {
		snprintf(err, errlen, "dashboard_user and dashboard_password_file go "
		    "together (and the password must not be empty)");
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->q = query_open(o->inbound_db, o->outbound_db, o->busy_timeout_ms);
	if (*o->user != '\0') {
		w->user = xstrdup(o->user);
		w->password = xstrdup(o->password);
	}
	pthread_mutex_init(&w->log_mu, NULL);
	w->rl = rl;
	return w;
}

void
web_close(struct web *w)
{
	if (w == NULL)
		return;
	query_close(w->q);
	free(w->user);
	if (w->password != NULL) {
		explicit_bzero(w->password, strlen(w->password));
		free(w->password);
	}
	pthread_mutex_destroy(&w->log_mu);
	free(w);
}

static void
add_headers(struct MHD_Response *r, const char *content_type,
    const char *cache_control)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

enum MHD_Result
web_reply(struct MHD_Connection *c, unsigned status, const char *content_type,
    const void *body, size_t len, int must_free, const char *cache_control)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (must_free)
			free((void *)(uintptr_t)body);
		return MHD_NO;
	}
	add_headers(r, content_type, cache_control);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return web_reply(c, status, "text/plain; charset=utf-8", text,
	    strlen(text), 0, "no-store");
}

/*
 * Time depends on the length of the expected value only, never on
 * where the given one differs.
 */
static int
same_secret(const char *given, const char *expected)
{
	size_t glen = strlen(given), elen = strlen(expected);
	unsigned diff = glen != elen;

	for (size_t i = 0; i < elen; i++)
		diff |= (unsigned char)expected[i] ^
		    (unsigned char)(i < glen ? given[i] : 0);
	return diff == 0;
}

static int
authorized(struct web *w, struct MHD_Connection *c)
{
	char *user, *password = NULL;
	int ok;

	if (w->user == NULL)
		return 1;
	user = MHD_basic_auth_get_username_password(c, &password);
	/* Both compared, always: no early answer on a wrong user. */
	ok = user != NULL && password != NULL;
	ok &= same_secret(user ? user : "", w->user);
	ok &= same_secret(password ? password : "", w->password);
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		MHD_free(password);
	}
	if (user != NULL)
		MHD_free(user);
	return ok;
}

static void
peer_text(struct MHD_Connection *c, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	const void *addr = NULL;

	snprintf(out, outlen, "unknown");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (addr != NULL)
		inet_ntop(sa->sa_family, addr, out, (socklen_t)outlen);
}

static enum MHD_Result
refuse_auth(struct web *w, struct MHD_Connection *c)
{
	static const char text[] = "authentication required\n";
	struct MHD_Response *r;
	enum MHD_Result ret;
	char peer[INET6_ADDRSTRLEN];

	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION) != NULL) {
		peer_text(c, peer, sizeof(peer));
		pthread_mutex_lock(&w->log_mu);
		log_limited(&w->rl, "dashboard: wrong user or password from %s", peer);
		pthread_mutex_unlock(&w->log_mu);
	}
	r = MHD_create_response_from_buffer(sizeof(text) - 1, (void *)(uintptr_t)text,
	    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	add_headers(r, "text/plain; charset=utf-8", "no-store");
	ret = MHD_queue_basic_auth_fail_response(c, REALM, r);
	MHD_destroy_response(r);
	return ret;
}

static const struct web_asset *
asset(const char *name)
{
	for (const struct web_asset *a = web_assets; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

static enum MHD_Result
serve_file(struct MHD_Connection *c, const char *url)
{
	const struct web_asset *a = NULL;

	for (size_t i = 0; i < sizeof(pages) / sizeof(*pages); i++)
		if (strcmp(url, pages[i].url) == 0)
			a = asset(pages[i].file);
	if (strncmp(url, "/assets/", 8) == 0 && strchr(url + 8, '/') == NULL &&
	    (a = asset(url + 8)) != NULL && strstr(a->name, ".html") != NULL)
		a = NULL;	/* pages only under their own URL */
	if (a == NULL)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	return web_reply(c, MHD_HTTP_OK, a->type, a->data, a->size, 0, "no-cache");
}

static enum MHD_Result
serve_metrics(struct web *w, struct MHD_Connection *c)
{
	struct buf b;
	char err[512];

	buf_init(&b, METRICS_MAX_BYTES);
	if (metrics_text(w->q, &b, err, sizeof(err)) != 0) {
		buf_free(&b);
		pthread_mutex_lock(&w->log_mu);
		log_limited(&w->rl, "/metrics: %s", err);
		pthread_mutex_unlock(&w->log_mu);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics failed\n");
	}
	return web_reply(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, b.data ? b.data :
	    xstrdup(""), b.len, 1, "no-store");
}

enum MHD_Result
web_handle(struct web *w, struct MHD_Connection *c, const char *url,
    const char *method)
{
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!authorized(w, c))
		return refuse_auth(w, c);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(w, c);
	if (strncmp(url, "/api/", 5) == 0)
		return webapi_handle(w->q, c, url + 4);
	return serve_file(c, url);
}
