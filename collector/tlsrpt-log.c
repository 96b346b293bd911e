/*
 * NAME
 *	tlsrpt-log - report one TLS session result to the collector
 * SYNOPSIS
 *	tlsrpt-log [-c file] [-o key=value] --domain D --result R
 *	    [--policy-type T] [--policy-domain D] [--policy-string S]...
 *	    [--mx-host H]... [--record TXT] [failure details]
 *	    [--socket PATH] [--print] [--wait]
 *	tlsrpt-log -n | -V | -h
 * DESCRIPTION
 *	For MTAs and scripts that cannot link libtlsrpt. Builds the datagram
 *	libtlsrpt would send for one session under one policy (as Postfix
 *	does: success is f:0 without failure-details, a failure is f:1, t:1
 *	and one failure entry) with ev_encode(), so the bytes are the same,
 *	and sends it to collector_socket with MSG_DONTWAIT, or prints it.
 *
 *	Values are checked but sent as given: the collector normalises
 *	domains, and doing it here too would hide what the caller sent.
 *	Every check runs before anything is sent, so a rejected invocation
 *	never reaches the collector.
 * DIAGNOSTICS
 *	Exit 0 when the datagram was sent (or printed). Exit 2 with one line
 *	on stderr on a usage, validation or configuration error. Exit 75
 *	(EX_TEMPFAIL) when the collector could not take the datagram: no
 *	socket, stale socket, queue full, datagram too big for the kernel.
 *	Exit 1 when --print cannot write to stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "conf.h"
#include "event.h"
#include "log.h"
#include "mem.h"

#define PROG "tlsrpt-log"
#define EXIT_USAGE 2
#define WAIT_TIMEOUT_S 5
#define RECORD_PREFIX "v=TLSRPTv1"
#define OPT_BASE 256		/* getopt_long values for long-only options */
#define ERR_LEN 1024

enum check {
	CHECK_HOST,		/* domain or host name */
	CHECK_MX_PATTERN,	/* host name, may start with "*." */
	CHECK_IP,		/* IPv4 or IPv6 literal */
	CHECK_TEXT,		/* no control characters */
	CHECK_HELO,		/* control characters other than \r \n \t refused */
	CHECK_RECORD,		/* text starting with RECORD_PREFIX */
	CHECK_NAME,		/* policy type or result, looked up later */
	CHECK_PATH,		/* unix socket path */
	CHECK_FLAG,		/* no value */
};

enum opt_id {
	O_DOMAIN, O_RECORD, O_POLICY_TYPE, O_POLICY_DOMAIN, O_POLICY_STRING,
	O_MX_HOST, O_RESULT, O_SENDING_IP, O_MX_HOSTNAME, O_MX_HELO,
	O_RECEIVING_IP, O_ADDITIONAL_INFO, O_REASON, O_SOCKET, O_PRINT,
	O_WAIT, O__COUNT
};

#define NOT_DETAIL ((size_t)-1)
#define DETAIL(member) offsetof(struct ev_failure, member)

/* One row per option: parsing, checking and -h come from here. */
static const struct optdef {
	const char *name;
	const char *arg;	/* NULL for a flag */
	enum check check;
	int repeatable;
	size_t detail;		/* field in struct ev_failure, or NOT_DETAIL */
	const char *doc;
} optdefs[O__COUNT] = {
	[O_DOMAIN] = { "domain", "D", CHECK_HOST, 0, NOT_DETAIL,
	    "Report domain (d), the domain whose _smtp._tls record asked for\n"
	    "reports. Required." },
	[O_RECORD] = { "record", "TXT", CHECK_RECORD, 0, NOT_DETAIL,
	    "The TLSRPT record text the MTA found (pr); must start with\n"
	    RECORD_PREFIX ". Left out when not given." },
	[O_POLICY_TYPE] = { "policy-type", "T", CHECK_NAME, 0, NOT_DETAIL,
	    "sts, tlsa or no-policy-found, or the numbers 2, 1 or 9.\n"
	    "Default: no-policy-found." },
	[O_POLICY_DOMAIN] = { "policy-domain", "D", CHECK_HOST, 0, NOT_DETAIL,
	    "Domain the policy belongs to (for DANE the MX host).\n"
	    "Default: the --domain value." },
	[O_POLICY_STRING] = { "policy-string", "S", CHECK_TEXT, 1, NOT_DETAIL,
	    "One line of the policy (an MTA-STS policy line, or a TLSA\n"
	    "record as \"usage selector mtype HEX\"). Repeatable, kept in order." },
	[O_MX_HOST] = { "mx-host", "H", CHECK_MX_PATTERN, 1, NOT_DETAIL,
	    "MX host pattern of the policy, e.g. mx1.example.com or\n"
	    "*.example.com. Repeatable, kept in order." },
	[O_RESULT] = { "result", "R", CHECK_NAME, 0, NOT_DETAIL,
	    "success, or an RFC 8460 result type (see RESULTS). Required." },
	[O_SENDING_IP] = { "sending-ip", "IP", CHECK_IP, 0, DETAIL(sending_ip),
	    "Failure detail: sending-mta-ip (s)." },
	[O_MX_HOSTNAME] = { "mx-hostname", "H", CHECK_HOST, 0, DETAIL(mx_hostname),
	    "Failure detail: receiving-mx-hostname (n)." },
	[O_MX_HELO] = { "mx-helo", "TEXT", CHECK_HELO, 0, DETAIL(mx_helo),
	    "Failure detail: receiving-mx-helo (h). May contain CR, LF and\n"
	    "TAB, e.g. a multi-line EHLO reply." },
	[O_RECEIVING_IP] = { "receiving-ip", "IP", CHECK_IP, 0, DETAIL(receiving_ip),
	    "Failure detail: receiving-ip (r)." },
	[O_ADDITIONAL_INFO] = { "additional-info", "TEXT", CHECK_TEXT, 0,
	    DETAIL(additional_info),
	    "Failure detail: additional-information (a)." },
	[O_REASON] = { "reason", "TEXT", CHECK_TEXT, 0, DETAIL(reason),
	    "Failure detail: failure-reason-code (f)." },
	[O_SOCKET] = { "socket", "PATH", CHECK_PATH, 0, NOT_DETAIL,
	    "Collector socket. Default: collector_socket from the\n"
	    "configuration (-o collector_socket=PATH works too)." },
	[O_PRINT] = { "print", NULL, CHECK_FLAG, 0, NOT_DETAIL,
	    "Write the datagram and a newline to stdout instead of sending it." },
	[O_WAIT] = { "wait", NULL, CHECK_FLAG, 0, NOT_DETAIL,
	    "Wait up to 5 s for room in the collector's queue instead of\n"
	    "giving up at once as libtlsrpt does." },
};

struct request {
	const char *value[O__COUNT];	/* the value of each single option */
	const char **strings;		/* --policy-string, in order */
	const char **mx_hosts;		/* --mx-host, in order */
	int nstrings;
	int nmx_hosts;
	long policy_type;
	long result_code;		/* 0 for success */
};

static int
errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void
print_result_names(FILE *fp, const char *sep, int with_codes)
{
	/* The table is private to event.c; its codes lie in 200..399. */
	for (long code = 200; code < 400; code++) {
		const char *name = ev_result_type_name(code);

		if (name == NULL)
			continue;
		if (with_codes)
			fprintf(fp, "%s%s (%ld)", sep, name, code);
		else
			fprintf(fp, "%s%s", sep, name);
	}
}

static void
print_options(FILE *fp)
{
	for (int i = 0; i < O__COUNT; i++) {
		const struct optdef *d = &optdefs[i];

		fprintf(fp, "    --%s%s%s\n\t", d->name, d->arg ? " " : "",
		    d->arg ? d->arg : "");
		for (const char *p = d->doc; *p; p++)
			if (*p == '\n')
				fputs("\n\t", fp);
			else
				fputc(*p, fp);
		fputc('\n', fp);
	}
}

static void
help(void)
{
	printf("NAME\n"
	    "    " PROG " - send one TLS session result to the TLSRPT collector\n\n"
	    "SYNOPSIS\n"
	    "    " PROG " [-c file] [-o key=value] --domain D --result R [options]\n"
	    "    " PROG " -n | -V | -h\n\n"
	    "DESCRIPTION\n"
	    "    For MTAs and scripts without libtlsrpt: builds the datagram libtlsrpt\n"
	    "    would send for one SMTP session under one policy, as Postfix does, and\n"
	    "    sends it to the collector socket without blocking. Values are sent as\n"
	    "    given (the collector lower-cases domains). A success carries no\n"
	    "    failure details; any other result carries exactly one failure entry.\n\n"
	    "OPTIONS\n");
	print_options(stdout);
	printf("    -c FILE\n\tConfiguration file. Default: $TLSRPTD_CONF, else\n\t"
	    TLSRPTD_SYSCONFDIR "/tlsrptd/tlsrptd.conf if it exists.\n"
	    "    -o key=value\n\tOverride a configuration key; repeatable.\n"
	    "    -n\n\tPrint the effective configuration and exit.\n"
	    "    -V\n\tPrint the version and exit.\n"
	    "    -d\n\tDebug: log what is sent to stderr. (-f is accepted and ignored.)\n"
	    "    -h, --help\n\tPrint this text and exit.\n\n"
	    "RESULTS\n    success");
	print_result_names(stdout, ",\n    ", 1);
	printf("\n\n"
	    "EXIT STATUS\n"
	    "    0   sent (or printed with --print)\n"
	    "    1   --print could not write to stdout\n"
	    "    2   usage, validation or configuration error; nothing was sent\n"
	    "    75  the collector could not take the datagram (EX_TEMPFAIL): no\n"
	    "        socket, stale socket, queue full, datagram too large\n\n"
	    "EXAMPLES\n"
	    "    " PROG " --domain example.com --policy-type sts \\\n"
	    "        --policy-string 'version: STSv1' --policy-string 'mode: enforce' \\\n"
	    "        --mx-host mx1.example.com --result success\n"
	    "    " PROG " --domain example.net --policy-type tlsa \\\n"
	    "        --policy-domain mx.example.net --result tlsa-invalid \\\n"
	    "        --sending-ip 192.0.2.25 --mx-hostname mx.example.net \\\n"
	    "        --reason all-TLSA-records-unusable\n");
}

static int
check_hostname(const char *opt, const char *s, int allow_wildcard,
    char *err, size_t errlen)
{
	size_t len;

	if (allow_wildcard && strncmp(s, "*.", 2) == 0)
		s += 2;
	if ((len = strlen(s)) == 0)
		return errf(err, errlen, "--%s: empty name", opt);
	if (len > EV_MAX_DOMAIN)
		return errf(err, errlen, "--%s: name longer than %d bytes", opt,
		    EV_MAX_DOMAIN);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
			continue;
		return errf(err, errlen, "--%s: byte 0x%02x at offset %zu is not "
		    "allowed in a name (A-Z a-z 0-9 . - _%s)", opt, c,
		    i, allow_wildcard ? ", leading *." : "");
	}
	return 0;
}

static int
check_text(const char *opt, const char *s, int allow_line_breaks,
    char *err, size_t errlen)
{
	if (*s == '\0')
		return errf(err, errlen, "--%s: empty value", opt);
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (allow_line_breaks && (c == '\r' || c == '\n' || c == '\t'))
			continue;
		if (c < 0x20 || c == 0x7F)
			return errf(err, errlen, "--%s: control character 0x%02x "
			    "at offset %zu is not allowed", opt, c, i);
	}
	return 0;
}

static int
check_ip(const char *opt, const char *s, char *err, size_t errlen)
{
	struct in6_addr addr;	/* large enough for both families */

	if (inet_pton(AF_INET, s, &addr) == 1 || inet_pton(AF_INET6, s, &addr) == 1)
		return 0;
	return errf(err, errlen, "--%s: '%s' is not an IPv4 or IPv6 address",
	    opt, s);
}

static int
check_socket_path(const char *what, const char *s, char *err, size_t errlen)
{
	struct sockaddr_un sun;

	if (*s == '\0')
		return errf(err, errlen, "%s: empty socket path", what);
	if (strlen(s) >= sizeof(sun.sun_path))
		return errf(err, errlen, "%s: socket path longer than %zu bytes: %s",
		    what, sizeof(sun.sun_path) - 1, s);
	return 0;
}

static int
check_value(enum opt_id id, const char *s, char *err, size_t errlen)
{
	const struct optdef *d = &optdefs[id];

	switch (d->check) {
	case CHECK_HOST:
		return check_hostname(d->name, s, 0, err, errlen);
	case CHECK_MX_PATTERN:
		return check_hostname(d->name, s, 1, err, errlen);
	case CHECK_IP:
		return check_ip(d->name, s, err, errlen);
	case CHECK_TEXT:
		return check_text(d->name, s, 0, err, errlen);
	case CHECK_HELO:
		return check_text(d->name, s, 1, err, errlen);
	case CHECK_RECORD:
		if (check_text(d->name, s, 0, err, errlen) != 0)
			return -1;
		if (strncmp(s, RECORD_PREFIX, strlen(RECORD_PREFIX)) != 0)
			return errf(err, errlen, "--%s: must start with "
			    RECORD_PREFIX, d->name);
		return 0;
	case CHECK_PATH:
		return check_socket_path("--socket", s, err, errlen);
	case CHECK_NAME:
	case CHECK_FLAG:
		break;
	}
	return 0;
}

static int
lookup_policy_type(const char *s, long *type, char *err, size_t errlen)
{
	char *end;
	long n;

	if ((n = ev_policy_type_from_name(s)) >= 0) {
		*type = n;
		return 0;
	}
	if (s[0] >= '0' && s[0] <= '9' && strlen(s) <= 3) {
		n = strtol(s, &end, 10);
		if (*end == '\0' && ev_policy_type_name(n) != NULL) {
			*type = n;
			return 0;
		}
	}
	return errf(err, errlen, "--policy-type: unknown policy type '%s' "
	    "(sts, tlsa, no-policy-found or 2, 1, 9)", s);
}

static int
lookup_result(const char *s, long *code, char *err, size_t errlen)
{
	FILE *fp;
	char *names = NULL;
	size_t len = 0;

	if (strcmp(s, "success") == 0) {
		*code = 0;
		return 0;
	}
	if ((*code = ev_result_code_from_name(s)) >= 0)
		return 0;
	if ((fp = open_memstream(&names, &len)) == NULL)
		return errf(err, errlen, "--result: unknown result '%s'", s);
	fputs("success", fp);
	print_result_names(fp, ", ", 0);
	fclose(fp);
	errf(err, errlen, "--result: unknown result '%s'; valid: %s", s, names);
	free(names);
	return -1;
}

/* The checks that need more than one option. */
static int
check_request(struct request *rq, char *err, size_t errlen)
{
	if (rq->value[O_DOMAIN] == NULL)
		return errf(err, errlen, "--domain is required");
	if (rq->value[O_RESULT] == NULL)
		return errf(err, errlen, "--result is required");
	rq->policy_type = EV_POLICY_NONE;
	if (rq->value[O_POLICY_TYPE] != NULL &&
	    lookup_policy_type(rq->value[O_POLICY_TYPE], &rq->policy_type,
	    err, errlen) != 0)
		return -1;
	if (lookup_result(rq->value[O_RESULT], &rq->result_code, err, errlen) != 0)
		return -1;
	if (rq->result_code == 0)
		for (int i = 0; i < O__COUNT; i++)
			if (optdefs[i].detail != NOT_DETAIL && rq->value[i] != NULL)
				return errf(err, errlen, "--%s is a failure detail "
				    "and cannot be used with --result success",
				    optdefs[i].name);
	if (rq->nstrings + rq->nmx_hosts > EV_MAX_STRINGS)
		return errf(err, errlen, "more than %d --policy-string and "
		    "--mx-host values", EV_MAX_STRINGS);
	return 0;
}

/* Checks every value before anything is built or sent. */
static int
validate(struct request *rq, char *err, size_t errlen)
{
	for (int i = 0; i < O__COUNT; i++)
		if (rq->value[i] != NULL &&
		    check_value((enum opt_id)i, rq->value[i], err, errlen) != 0)
			return -1;
	for (int i = 0; i < rq->nstrings; i++)
		if (check_value(O_POLICY_STRING, rq->strings[i], err, errlen) != 0)
			return -1;
	for (int i = 0; i < rq->nmx_hosts; i++)
		if (check_value(O_MX_HOST, rq->mx_hosts[i], err, errlen) != 0)
			return -1;
	return check_request(rq, err, errlen);
}

static struct ev_str
str(const char *s)
{
	struct ev_str v = { s, (uint32_t)strlen(s) };

	return v;
}

static void
build_failure(const struct request *rq, struct ev_failure *f)
{
	static const struct ev_str none = { "", 0 };

	f->code = rq->result_code;
	for (int i = 0; i < O__COUNT; i++)
		if (optdefs[i].detail != NOT_DETAIL)
			*(struct ev_str *)(void *)((char *)f + optdefs[i].detail) =
			    rq->value[i] ? str(rq->value[i]) : none;
}

/* ev must be zeroed; the request must have passed validate(). */
static void
build_event(const struct request *rq, struct event *ev)
{
	struct ev_policy *p = &ev->policies[0];
	const char *policy_domain = rq->value[O_POLICY_DOMAIN];

	ev->domain = str(rq->value[O_DOMAIN]);
	if (rq->value[O_RECORD] != NULL)
		ev->record = str(rq->value[O_RECORD]);
	ev->npolicies = 1;
	p->type = rq->policy_type;
	p->domain = str(policy_domain ? policy_domain : rq->value[O_DOMAIN]);
	for (int i = 0; i < rq->nstrings; i++)
		ev->strings[ev->nstrings++] = str(rq->strings[i]);
	for (int i = 0; i < rq->nmx_hosts; i++)
		ev->strings[ev->nstrings++] = str(rq->mx_hosts[i]);
	p->strings = &ev->strings[0];
	p->nstrings = (uint32_t)rq->nstrings;
	p->mx_hosts = &ev->strings[rq->nstrings];
	p->nmx_hosts = (uint32_t)rq->nmx_hosts;
	p->failed = rq->result_code != 0;
	if (p->failed) {
		build_failure(rq, &ev->failures[0]);
		ev->nfailures = 1;
		p->failures = ev->failures;
		p->nfailures = 1;
	}
	p->t = (long)p->nfailures;
}

static int
explain_send_error(int errnum, const char *path, size_t len, int wait,
    char *err, size_t errlen)
{
	switch (errnum) {
	case ENOENT:
		return errf(err, errlen, "collector not running? no socket at %s "
		    "(%s)", path, strerror(errnum));
	case ECONNREFUSED:
		return errf(err, errlen, "%s: stale socket, no collector is "
		    "reading it (%s)", path, strerror(errnum));
	case EAGAIN:
		if (wait)
			return errf(err, errlen, "%s: collector busy (queue still "
			    "full after %d s)", path, WAIT_TIMEOUT_S);
		return errf(err, errlen, "%s: collector busy (queue full; %s)",
		    path, strerror(errnum));
	case EMSGSIZE:
		return errf(err, errlen, "%s: datagram of %zu bytes is too large "
		    "for the socket (%s)", path, len, strerror(errnum));
	}
	return errf(err, errlen, "cannot send to %s: %s", path, strerror(errnum));
}

/* path must have passed check_socket_path(). */
static int
send_datagram(const char *path, const struct buf *b, int wait,
    char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct timeval tv = { WAIT_TIMEOUT_S, 0 };
	int fd, saved, flags = MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT);
	ssize_t n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return errf(err, errlen, "socket: %s", strerror(errno));
	/* A blocking send on a full queue ends with EAGAIN after tv. */
	if (wait && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		saved = errno;
		close(fd);
		return errf(err, errlen, "SO_SNDTIMEO: %s", strerror(saved));
	}
	do
		n = sendto(fd, b->data, b->len, flags, (struct sockaddr *)&sun,
		    sizeof(sun));
	while (n < 0 && errno == EINTR);
	saved = errno;
	close(fd);
	if (n == (ssize_t)b->len)
		return 0;
	if (n >= 0)
		return errf(err, errlen, "%s: short send (%zd of %zu bytes)",
		    path, n, b->len);
	return explain_send_error(saved, path, b->len, wait, err, errlen);
}

static int
add_option(struct request *rq, enum opt_id id, const char *arg,
    char *err, size_t errlen)
{
	if (id == O_POLICY_STRING)
		rq->strings[rq->nstrings++] = arg;
	else if (id == O_MX_HOST)
		rq->mx_hosts[rq->nmx_hosts++] = arg;
	else if (rq->value[id] != NULL && optdefs[id].arg != NULL)
		return errf(err, errlen, "--%s given twice", optdefs[id].name);
	else
		rq->value[id] = arg ? arg : "";
	return 0;
}

static struct option *
make_longopts(void)
{
	struct option *lo = xcalloc(O__COUNT + 2, sizeof(*lo));

	for (int i = 0; i < O__COUNT; i++) {
		lo[i].name = optdefs[i].name;
		lo[i].has_arg = optdefs[i].arg ? required_argument : no_argument;
		lo[i].val = OPT_BASE + i;
	}
	lo[O__COUNT].name = "help";
	lo[O__COUNT].val = 'h';
	return lo;
}

/* Returns 1 for -h, 0 when parsed, -1 on a usage error (err set). */
static int
parse_args(int argc, char **argv, struct cli *cli, struct request *rq,
    char *err, size_t errlen)
{
	struct option *lo = make_longopts();
	int ch, rc = 0;

	opterr = 0;
	while (rc == 0 &&
	    (ch = getopt_long(argc, argv, ":" CLI_COMMON_OPTS "h", lo, NULL)) != -1) {
		if (ch >= OPT_BASE && ch < OPT_BASE + O__COUNT)
			rc = add_option(rq, (enum opt_id)(ch - OPT_BASE), optarg,
			    err, errlen);
		else if (ch == 'h')
			rc = 1;
		else if (ch == ':')
			rc = errf(err, errlen, "option %s needs a value",
			    argv[optind - 1]);
		else if (ch == '?' && optopt != 0 && optopt < OPT_BASE)
			rc = errf(err, errlen, "unknown option -%c", optopt);
		else if (ch == '?')
			rc = errf(err, errlen, "unknown or ambiguous option %s",
			    argv[optind - 1]);
		else
			(void)cli_option(cli, ch, optarg);
	}
	if (rc == 0 && optind < argc)
		rc = errf(err, errlen, "unexpected argument '%s'", argv[optind]);
	free(lo);
	return rc;
}

static int
emit(const struct request *rq, const struct event *ev, char *err, size_t errlen)
{
	const char *path = rq->value[O_SOCKET] ? rq->value[O_SOCKET] :
	    conf_str("collector_socket");
	long long max_bytes = conf_int("collector_max_datagram_bytes");
	struct buf b;
	int rc = 0;

	buf_init(&b, (size_t)max_bytes);
	if (ev_encode(ev, &b) != 0) {
		buf_free(&b);
		errf(err, errlen, "datagram larger than collector_max_datagram_bytes"
		    " (%lld)", max_bytes);
		return EXIT_USAGE;
	}
	if (rq->value[O_PRINT] != NULL) {
		if (fwrite(b.data, 1, b.len, stdout) != b.len ||
		    putchar('\n') == EOF || fflush(stdout) != 0) {
			errf(err, errlen, "stdout: %s", strerror(errno));
			rc = 1;
		}
	} else if (check_socket_path("collector_socket", path, err, errlen) != 0) {
		rc = EXIT_USAGE;
	} else {
		log_debug("sending %zu bytes to %s: %s", b.len, path, b.data);
		if (send_datagram(path, &b, rq->value[O_WAIT] != NULL, err,
		    errlen) != 0)
			rc = EX_TEMPFAIL;
	}
	buf_free(&b);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	struct request rq;
	struct event *ev = NULL;
	char err[ERR_LEN];
	int rc;

	log_init(PROG, LOG_TO_STDERR);
	cli_init(&cli, PROG, argc);
	memset(&rq, 0, sizeof(rq));
	rq.strings = xcalloc((size_t)argc, sizeof(char *));
	rq.mx_hosts = xcalloc((size_t)argc, sizeof(char *));
	if ((rc = parse_args(argc, argv, &cli, &rq, err, sizeof(err))) == 1) {
		help();
		rc = 0;
		goto out;
	}
	if (rc == 0)
		cli_finish(&cli);	/* exits for -n, -V and config errors */
	if (rc != 0 || validate(&rq, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s%s\n", err,
		    rc != 0 ? " (" PROG " -h for help)" : "");
		rc = EXIT_USAGE;
		goto out;
	}
	ev = xcalloc(1, sizeof(*ev));
	build_event(&rq, ev);
	if ((rc = emit(&rq, ev, err, sizeof(err))) != 0)
		fprintf(stderr, PROG ": %s\n", err);
out:
	free(ev);
	free(rq.strings);
	free(rq.mx_hosts);
	cli_free(&cli);
	return rc;
}
