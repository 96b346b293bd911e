/*
 * NAME
 *	tlsrpt-postfix-log - TLSRPT datagrams from a Postfix <= 3.9 mail log
 * SYNOPSIS
 *	tlsrpt-postfix-log [-c file] [-o key=value] [-d] [-F FILE [--from-start]]
 *	    [--socket PATH] [--print]
 *	journalctl -f -u postfix -o short-iso | tlsrpt-postfix-log
 * DESCRIPTION
 *	Postfix sends TLSRPT datagrams itself only from 3.10 on. For older
 *	versions (Debian 12 ships 3.7) this adapter reads the mail log,
 *	pairs each TLS outcome the smtp(8) client logs with the delivery
 *	line that names the recipient (pflog_track.h), and sends the
 *	datagram Postfix 3.10 would have sent for that session (one policy,
 *	success f:0, or f:1 with one failure entry) to collector_socket with
 *	MSG_DONTWAIT, or writes it to standard output with --print.
 *
 *	-F FILE follows FILE like `tail -F` (from its end unless
 *	--from-start; rotation and truncation are survived). Without -F,
 *	standard input is read to its end. Syslog (Nov 23 10:00:01),
 *	RFC 3339 (rsyslog, journalctl -o short-iso[-precise]) and
 *	journalctl short[-precise|-unix] lines are understood; other lines
 *	are counted and skipped.
 *
 *	Postfix must run with smtp_tls_loglevel >= 1: at the default 0 it
 *	logs failures but no successful session.
 *
 *	What is recognised (Postfix 3.7 texts, H[A]:P the server):
 *
 *	log text					result (c, reason f)
 *	Verified|Trusted|Untrusted|Anonymous TLS	success, unless a line below
 *	  connection established to H[A]:P: ...		  hit the same connection
 *	... TLS connection reused to ...		nothing (no handshake)
 *	TLS is required, but was not offered by host	201 starttls-not-offered
 *	TLS is required, but host H[A] refused to	201 starttls-refused: REPLY
 *	  start TLS: REPLY
 *	[server |CA ]certificate verification failed for H[A]:P: TEXT, f = TEXT:
 *	  certificate has expired, num=10		204 certificate-expired
 *	  self-signed certificate, untrusted issuer X,	203 certificate-not-trusted
 *	  not trusted by local or TLSA policy, chain
 *	  longer than limit, num=2,18,19,20,21,24,27
 *	  num=62:hostname mismatch			202 certificate-host-mismatch
 *	  num=65:No matching DANE TLSA records		304 tlsa-invalid (tlsa)
 *	  certificate not yet valid, anything else	205 validation-failure
 *	Server certificate not verified (status text)	the line above if logged,
 *							else Trusted 202, other 203
 *							(what Postfix 3.10 reports)
 *	Server certificate not trusted (older text)	203
 *	SSL_connect error to H[A]:P: X			205 tls-handshake-failure: X,
 *	  warning: TLS library problem: error:C:L:F:R	  X becomes the OpenSSL R
 *	Cannot start TLS: handshake failure		205 tls-handshake-failure
 *	warning: H[A]:P: all TLSA records unusable[,	304 all-TLSA-records-unusable
 *	  fallback to unauthenticated TLS]		  (tlsa), even if delivered
 *	warning: TLS policy lookup for D/H: R, then a relay=none status; R =
 *	  TLSA lookup error for H:P			305 dnssec-invalid (tlsa)
 *	  TLSA records unusable (dane-only)		304 (tlsa)
 *	  no TLSA records found, non DNSSEC		306 dane-required
 *	  destination, Verification not possible,
 *	  MX RRset is insecure (dane-only)
 *	H[A]:P: Matched DANE ... (loglevel >= 2)	session is tlsa
 *	qmgr: QID: from=<S>, size=...			S is mail_from (else
 *							contact_info): our report
 *							mail, its sessions skipped
 *	QID: to=<R>, relay=..., status=S (TEXT)		d = R's domain; sends the
 *							process's sessions
 *
 *	Policy: Postfix 3.7 logs none. A session is tlsa (policy-domain =
 *	MX host, no policy-string: the records are not logged) when a DANE
 *	line above hit it, or when it is "Verified" and
 *	postfix_log_dane_verified = yes; otherwise no-policy-found with
 *	policy-domain = d. dane-required stays no-policy-found: there are
 *	no TLSA records to name (Postfix 3.10 reports DANE without TLSA
 *	records as no-policy-found). The policy lookup failures happen
 *	before any connection, so n is the MX host and r is empty; they
 *	are reported so that the domain learns of its DNSSEC/DANE trouble.
 *	Datagram members: d (recipient domain, lower case), n and r from the
 *	log; no pr (tlsrpt-send looks the record up), no s, no h.
 * LIMITS
 *	See pflog_track.h (postfix_log_max_pending, _session_timeout_s) and
 *	pflog_follow.h (line length). With smtp_tls_connection_reuse = yes
 *	the handshake lines come from tlsproxy(8) under another pid and are
 *	not paired. d is the recipient domain, which is the next-hop domain
 *	Postfix 3.10 reports only without relayhost/transport overrides.
 *	TLSRPT records are not looked up here, so every domain is sent.
 * DIAGNOSTICS
 *	Counters are logged on SIGUSR1 and at exit. Exit 0 at the end of
 *	standard input or on SIGTERM/SIGINT, 1 on a read error or when
 *	--print cannot write, 2 on a usage or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "conf.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "pflog_follow.h"
#include "pflog_line.h"
#include "pflog_parse.h"
#include "pflog_track.h"

#define PROG "tlsrpt-postfix-log"
#define EXIT_USAGE 2
#define FOLLOW_POLL_MS 250
#define SIGNAL_CHECK_LINES 1024
#define OPT_FROM_START 256
#define OPT_PRINT 257
#define OPT_SOCKET 258

struct app {
	const char *follow_path;
	const char *socket_path;
	int from_start;
	int print;
	int sock;
	int sigfd;
	int write_failed;
	struct sockaddr_un sun;
	struct buf out;
	struct event *ev;
	struct pflog_track *track;
	struct ratelimit rl_send;
	time_t log_now;		/* newest Postfix log time seen */
	unsigned long long lines, unparsed, oversize, sent, dropped;
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: " PROG " [-c file] [-o key=value] [-d]"
	    " [-F FILE [--from-start]]\n"
	    "           [--socket PATH] [--print]\n"
	    "       " PROG " -n | -V | -h\n"
	    "  -F FILE        follow FILE like tail -F (default: read standard"
	    " input to its end)\n"
	    "  --from-start   with -F, read FILE from its start, not its end\n"
	    "  --socket PATH  collector socket (default: collector_socket)\n"
	    "  --print        write the datagrams to standard output, one a"
	    " line\n"
	    "  -d debug (log each datagram)   -n print config   -V version\n"
	    "Counters are logged on SIGUSR1 and at exit; SIGTERM stops.\n");
}

static struct ev_str
str(const char *s)
{
	struct ev_str v = { s, (uint32_t)strlen(s) };

	return v;
}

/* One policy, as Postfix sends it; the rest of *ev stays zero. */
static void
build_event(struct event *ev, const struct pflog_result *r)
{
	struct ev_policy *p = &ev->policies[0];
	struct ev_failure *f = &ev->failures[0];

	ev->domain = str(r->domain);
	ev->npolicies = 1;
	p->type = r->policy_type;
	p->domain = str(r->policy_domain);
	p->failed = r->code != 0;
	p->nfailures = p->failed ? 1 : 0;
	p->failures = p->failed ? f : NULL;
	p->t = (long)p->nfailures;
	f->code = r->code;
	f->mx_hostname = str(r->mx_host);
	f->receiving_ip = str(r->ip);
	f->reason = str(r->reason);
}

static void
send_datagram(struct app *a, const char *domain)
{
	ssize_t n;

	if (a->sock < 0 &&
	    (a->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		fatal("socket");
	do
		n = sendto(a->sock, a->out.data, a->out.len,
		    MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a->sun,
		    sizeof(a->sun));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)a->out.len) {
		a->sent++;
		return;
	}
	/* As libtlsrpt: no collector, stale socket, queue full, too big. */
	a->dropped++;
	log_limited(&a->rl_send, "datagram for %s lost: %s: %s", domain,
	    a->socket_path, n < 0 ? strerror(errno) : "short send");
}

static void
emit(void *arg, const struct pflog_result *r)
{
	struct app *a = arg;

	build_event(a->ev, r);
	buf_reset(&a->out);
	if (ev_encode(a->ev, &a->out) != 0) {
		a->dropped++;
		log_warnx("datagram for %s larger than "
		    "collector_max_datagram_bytes", r->domain);
		return;
	}
	log_debug("datagram: %s", a->out.data);
	if (!a->print) {
		send_datagram(a, r->domain);
		return;
	}
	if (fwrite(a->out.data, 1, a->out.len, stdout) != a->out.len ||
	    putchar('\n') == EOF) {
		if (!a->write_failed)
			log_warn("stdout");
		a->write_failed = 1;
		return;
	}
	a->sent++;
}

static void
log_counters(const struct app *a)
{
	const struct pflog_counts *c = pflog_track_counts(a->track);
	struct buf b;
	int rc;

	buf_init(&b, 4096);
	rc = buf_printf(&b, "lines_read=%llu lines_unparsed=%llu "
	    "lines_oversize=%llu tls_lines=%llu sessions=%llu success=%llu",
	    a->lines, a->unparsed, a->oversize, c->tls_lines, c->emitted,
	    c->success);
	for (int i = 0; rc == 0 && i < PF_NCODES; i++)
		rc = buf_printf(&b, " %s=%llu",
		    ev_result_type_name(pflog_index_code(i)), c->by_code[i]);
	if (rc == 0)
		rc = buf_printf(&b, " unmatched=%llu own_report_mail=%llu "
		    "bad_domain=%llu %s=%llu dropped=%llu", c->unmatched,
		    c->own_mail, c->bad_domain, a->print ? "printed" : "sent",
		    a->sent, a->dropped);
	log_info("counters: %s", b.data != NULL ? b.data : "");
	buf_free(&b);
}

static void
handle_line(struct app *a, char *line, size_t len)
{
	struct pflog_line pl;
	struct pflog_event ev;
	time_t now = time(NULL);

	a->lines++;
	/* A year-less stamp takes the year of the newest Postfix line seen. */
	if (a->log_now > now)
		now = a->log_now;
	if (memchr(line, '\0', len) != NULL || pflog_line_split(line, now, &pl) != 0) {
		a->unparsed++;
		return;
	}
	if (pl.postfix && pl.when > a->log_now)
		a->log_now = pl.when;
	if (pflog_classify(&pl, &ev) == 0)
		pflog_track_feed(a->track, &pl, &ev);
}

static int
block_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		fatal("sigprocmask");
	if ((fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		fatal("signalfd");
	return fd;
}

/* Returns 1 when a stop was asked for. */
static int
handle_signals(const struct app *a)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			stop = 1;
		else if (si.ssi_signo == SIGUSR1)
			log_counters(a);
		else if (si.ssi_signo == SIGHUP)
			log_info("SIGHUP ignored: nothing to reload");
	}
	return stop;
}

/* Waits for input or a signal; returns 1 when a stop was asked for. */
static int
wait_input(const struct app *a, const struct pflog_reader *r)
{
	struct pollfd pfd[2] = {
		{ a->sigfd, POLLIN, 0 }, { pflog_reader_poll_fd(r), POLLIN, 0 },
	};
	int nfds = pfd[1].fd >= 0 ? 2 : 1;

	if (poll(pfd, (nfds_t)nfds, nfds == 2 ? -1 : FOLLOW_POLL_MS) < 0 &&
	    errno != EINTR)
		fatal("poll");
	return handle_signals(a);
}

static int
run(struct app *a, struct pflog_reader *r)
{
	unsigned long batch = 0;
	char *line;
	size_t len;

	for (;;) {
		switch (pflog_reader_next(r, &line, &len)) {
		case PF_READ_LINE:
			handle_line(a, line, len);
			break;
		case PF_READ_OVERSIZE:
			a->lines++;
			a->oversize++;
			break;
		case PF_READ_IDLE:
			if (fflush(stdout) != 0 && a->print)
				a->write_failed = 1;
			if (wait_input(a, r))
				return 0;
			continue;
		case PF_READ_EOF:
			return 0;
		case PF_READ_ERROR:
			log_warn("%s", a->follow_path ? a->follow_path : "stdin");
			return 1;
		}
		if (a->write_failed)
			return 1;
		if (++batch % SIGNAL_CHECK_LINES == 0 && handle_signals(a))
			return 0;
	}
}

/* Returns 1 for -h, 0 when parsed, -1 on a usage error (told). */
static int
parse_args(int argc, char **argv, struct cli *cli, struct app *a)
{
	static const struct option lo[] = {
		{ "from-start", no_argument, NULL, OPT_FROM_START },
		{ "print", no_argument, NULL, OPT_PRINT },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, CLI_COMMON_OPTS "F:h", lo,
	    NULL)) != -1) {
		if (cli_option(cli, ch, optarg))
			continue;
		switch (ch) {
		case 'F':
			a->follow_path = optarg;
			break;
		case OPT_FROM_START:
			a->from_start = 1;
			break;
		case OPT_PRINT:
			a->print = 1;
			break;
		case OPT_SOCKET:
			a->socket_path = optarg;
			break;
		case 'h':
			return 1;
		default:
			return -1;
		}
	}
	if (optind < argc)
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
	else if (a->from_start && a->follow_path == NULL)
		fprintf(stderr, PROG ": --from-start needs -F FILE\n");
	else
		return 0;
	return -1;
}

/* After cli_finish(): everything the run needs from the configuration. */
static int
configure(struct app *a, struct pflog_config *cfg)
{
	const char *sender = conf_str("mail_from");

	if (a->socket_path == NULL)
		a->socket_path = conf_str("collector_socket");
	if (!a->print && (*a->socket_path == '\0' ||
	    strlen(a->socket_path) >= sizeof(a->sun.sun_path))) {
		fprintf(stderr, PROG ": collector socket path empty or longer "
		    "than %zu bytes: %s\n", sizeof(a->sun.sun_path) - 1,
		    a->socket_path);
		return -1;
	}
	a->sun.sun_family = AF_UNIX;
	memcpy(a->sun.sun_path, a->socket_path, strlen(a->socket_path) + 1);
	cfg->timeout_s = conf_int("postfix_log_session_timeout_s");
	cfg->max_pending = (size_t)conf_int("postfix_log_max_pending");
	cfg->dane_verified = conf_bool("postfix_log_dane_verified");
	cfg->own_sender = *sender ? sender : conf_str("contact_info");
	buf_init(&a->out, (size_t)conf_int("collector_max_datagram_bytes"));
	return 0;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	struct app a;
	struct pflog_config cfg;
	struct pflog_reader *r;
	int rc;

	log_init(PROG, LOG_TO_STDERR);
	cli_init(&cli, PROG, argc);
	memset(&a, 0, sizeof(a));
	a.sock = -1;
	a.rl_send = (struct ratelimit)RATELIMIT_INIT(5, 60);
	if ((rc = parse_args(argc, argv, &cli, &a)) != 0) {
		usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : EXIT_USAGE;
	}
	cli_finish(&cli);	/* exits for -n, -V and configuration errors */
	if (configure(&a, &cfg) != 0)
		return EXIT_USAGE;
	a.sigfd = block_signals();
	a.ev = xcalloc(1, sizeof(*a.ev));
	a.track = pflog_track_new(&cfg, emit, &a);
	if (a.follow_path != NULL) {
		r = pflog_reader_file(a.follow_path, a.from_start);
		log_info("following %s from its %s", a.follow_path,
		    a.from_start ? "start" : "end");
	} else
		r = pflog_reader_stream(STDIN_FILENO);
	rc = run(&a, r);
	pflog_track_finish(a.track);	/* sessions still waiting: unmatched */
	if (fflush(stdout) != 0 && a.print)
		rc = 1;
	log_counters(&a);
	pflog_reader_free(r);
	pflog_track_free(a.track);
	buf_free(&a.out);
	free(a.ev);
	if (a.sock >= 0)
		close(a.sock);
	close(a.sigfd);
	cli_free(&cli);
	return rc != 0 || a.write_failed ? 1 : 0;
}
