/*
 * NAME
 *	tlsrpt-ingestd - receive TLSRPT reports about our domains over HTTPS
 * SYNOPSIS
 *	tlsrpt-ingestd [-fdnV] [-c file] [-o key=value]
 * DESCRIPTION
 *	Listens on ingest_listen (HTTPS with ingest_tls_cert/key, or plain
 *	HTTP behind a proxy) and stores every report POSTed to ingest_path
 *	in ingest_database; see ingest/http.h for the answers and limits.
 *	With dashboard_enable, the other URLs serve the dashboard, its JSON
 *	API and /metrics (ingest/web.h) over ingest_database and database,
 *	read-only; dashboard_listen moves them to a listener of their own
 *	(same TLS settings). Started as root with ingest_user set, it binds
 *	and reads dashboard_password_file, then switches to that user
 *	before it opens a database or reads a request.
 *	TERM/INT stop it after the requests in progress.
 * DIAGNOSTICS
 *	Logs "listening on ADDRESS port N" when ready, and "dashboard on
 *	ADDRESS port N" for a dashboard listener of its own. Exit 0 on a
 *	clean stop, 1 on errors, 2 on configuration errors.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accept.h"
#include "cli.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "web.h"

#define MAX_PASSWORD_BYTES 1024

/* The dashboard: on the ingest server, or on a listener of its own. */
struct dashboard {
	struct web *web;
	int fd;			/* dashboard_listen socket, or -1 */
	struct http_server *server;
	char password[MAX_PASSWORD_BYTES];
};

static void
usage(void)
{
	fprintf(stderr, "usage: tlsrpt-ingestd [-fdnV] [-c file] [-o key=value]\n");
	exit(2);
}

static void
fill_opts(struct http_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->path = conf_str("ingest_path");
	o->tls_cert_file = conf_str("ingest_tls_cert");
	o->tls_key_file = conf_str("ingest_tls_key");
	o->threads = (unsigned)conf_int("ingest_threads");
	o->max_connections = (unsigned)conf_int("ingest_max_connections");
	o->max_connections_per_ip = (unsigned)conf_int("ingest_max_connections_per_ip");
	o->connection_timeout_s = (unsigned)conf_int("ingest_connection_timeout_s");
	o->request_timeout_s = (unsigned)conf_int("ingest_request_timeout_s");
	o->max_header_bytes = (size_t)conf_int("ingest_max_header_bytes");
	o->max_body_bytes = (size_t)conf_int("ingest_max_body_bytes");
}

/* Before privileges are dropped: the password file may be root's. */
static int
dashboard_prepare(struct dashboard *d)
{
	const char *user = conf_str("dashboard_user");
	const char *file = conf_str("dashboard_password_file");
	const char *listen = conf_str("dashboard_listen");
	char err[512];

	d->fd = -1;
	if (!conf_bool("dashboard_enable"))
		return 0;
	if ((*user == '\0') != (*file == '\0')) {
		fprintf(stderr, "tlsrpt-ingestd: dashboard_user and "
		    "dashboard_password_file go together\n");
		return 2;
	}
	if (cli_read_secret("dashboard_password_file", d->password,
	    sizeof(d->password), err, sizeof(err)) != 0) {
		fprintf(stderr, "tlsrpt-ingestd: %s\n", err);
		return 1;
	}
	if (*file != '\0' && d->password[0] == '\0') {
		fprintf(stderr, "tlsrpt-ingestd: dashboard_password_file %s: no "
		    "password on its first line\n", file);
		return 2;
	}
	if (*listen != '\0' && (d->fd = http_bind(listen, err, sizeof(err))) < 0) {
		fprintf(stderr, "tlsrpt-ingestd: dashboard_listen: %s\n", err);
		return 1;
	}
	return 0;
}

/* After the inbound database exists (acceptor_open creates it). */
static int
dashboard_open(struct dashboard *d)
{
	struct web_opts wo;
	char err[512];

	if (!conf_bool("dashboard_enable"))
		return 0;
	wo.inbound_db = conf_str("ingest_database");
	wo.outbound_db = conf_str("database");
	wo.user = conf_str("dashboard_user");
	wo.password = d->password;
	wo.busy_timeout_ms = (long)conf_int("db_busy_timeout_ms");
	d->web = web_open(&wo, err, sizeof(err));
	explicit_bzero(d->password, sizeof(d->password));
	if (d->web == NULL) {
		fprintf(stderr, "tlsrpt-ingestd: %s\n", err);
		return 2;
	}
	return 0;
}

static int
dashboard_start(struct dashboard *d, const struct http_opts *ingest,
    struct acceptor *a)
{
	struct http_opts o = *ingest;
	const char *listen = *conf_str("dashboard_listen") ? conf_str("dashboard_listen") :
	    conf_str("ingest_listen");
	char err[512];

	if (d->web == NULL)
		return 0;
	if (*conf_str("dashboard_user") == '\0' && strncmp(listen, "127.", 4) != 0 &&
	    strncmp(listen, "[::1]:", 6) != 0)
		log_warnx("dashboard on %s without dashboard_user: whoever reaches "
		    "it can read every report", listen);
	if (d->fd < 0) {
		log_info("dashboard, API and /metrics beside %s on the same listener",
		    ingest->path);
		return 0;
	}
	o.web = d->web;
	o.web_only = 1;
	if ((d->server = http_start(&o, d->fd, a, err, sizeof(err))) == NULL) {
		log_warnx("dashboard_listen: %s", err);
		return 1;
	}
	log_info("dashboard on %s port %u (%s)", listen, http_port(d->server),
	    *o.tls_cert_file ? "https" : "http");
	return 0;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	struct http_opts o;
	struct accept_limits lim;
	struct acceptor *a;
	struct http_server *s;
	struct dashboard dash;
	sigset_t set;
	char err[512];
	int ch, fd, sig, rc;

	cli_init(&cli, "tlsrpt-ingestd", argc);
	while ((ch = getopt(argc, argv, CLI_COMMON_OPTS "h")) != -1)
		if (!cli_option(&cli, ch, optarg))
			usage();
	if (optind != argc)
		usage();
	cli_finish(&cli);
	log_init("tlsrpt-ingestd", cli.foreground ? LOG_TO_STDERR : LOG_TO_SYSLOG);
	if ((*conf_str("ingest_tls_cert") == '\0') != (*conf_str("ingest_tls_key") == '\0')) {
		fprintf(stderr, "tlsrpt-ingestd: ingest_tls_cert and ingest_tls_key go together\n");
		return 2;
	}
	if ((fd = http_bind(conf_str("ingest_listen"), err, sizeof(err))) < 0) {
		fprintf(stderr, "tlsrpt-ingestd: %s\n", err);
		return 1;
	}
	memset(&dash, 0, sizeof(dash));
	if ((rc = dashboard_prepare(&dash)) != 0)
		return rc;
	cli_drop_privileges("ingest_user");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* before any thread starts */
	signal(SIGPIPE, SIG_IGN);
	lim.max_inflated_bytes = (size_t)conf_int("ingest_max_inflated_bytes");
	lim.max_json_depth = (int)conf_int("ingest_max_json_depth");
	a = acceptor_open(&lim, conf_str("ingest_database"),
	    (long)conf_int("db_busy_timeout_ms"), err, sizeof(err));
	if (a == NULL) {
		fprintf(stderr, "tlsrpt-ingestd: %s\n", err);
		return 1;
	}
	if ((rc = dashboard_open(&dash)) != 0) {
		acceptor_close(a);
		return rc;
	}
	fill_opts(&o);
	if (dash.fd < 0)
		o.web = dash.web;	/* NULL when the dashboard is off */
	/* Before any thread exists: fork keeps only the calling thread. */
	if (!cli.foreground && daemon(0, 0) != 0)
		fatal("daemon");
	if (acceptor_start_writer(a, err, sizeof(err)) != 0 ||
	    (s = http_start(&o, fd, a, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		web_close(dash.web);
		acceptor_close(a);
		return 1;
	}
	log_info("listening on %s port %u (%s), path %s, database %s",
	    conf_str("ingest_listen"), http_port(s), *o.tls_cert_file ? "https" : "http",
	    o.path, conf_str("ingest_database"));
	rc = dashboard_start(&dash, &o, a);
	while (rc == 0) {
		/* Wake every second to write the ingest counters (metrics). */
		struct timespec second = { 1, 0 };
		sig = sigtimedwait(&set, NULL, &second);
		if (sig < 0) {
			acceptor_flush(a);
			continue;
		}
		if (sig != SIGHUP)
			break;
		log_info("SIGHUP: nothing to reload; restart to apply changes");
	}
	log_info("stopping");
	http_stop(dash.server);
	http_stop(s);
	web_close(dash.web);
	acceptor_close(a);
	cli_free(&cli);
	return rc;
}
