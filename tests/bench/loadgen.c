/*
 * NAME
 *	tlsrpt-loadgen - send realistic libtlsrpt datagrams to a collector
 * SYNOPSIS
 *	tlsrpt-loadgen -s socket [-n count] [-r rate] [-b] [-d domains]
 *	    [-k keys] [-f failpct] [-p procs] [-B burst] [-C rate] [-S seed] [-v]
 * DESCRIPTION
 *	Builds two pools of datagrams before any timing starts, encoded by
 *	ev_encode() so the bytes are what libtlsrpt writes:
 *
 *	  successes: one per report domain first, then random domains.
 *	    Domains are 55% MTA-STS (enforce or testing), 30% no policy
 *	    found (half of them without policy-domain, as Postfix 3.10
 *	    sends it) and 15% DANE (policy-domain is the MX host, so a
 *	    domain has one key per MX used). About 0.4% carry two
 *	    policies (STS and TLSA), 0.5% spell the domain in mixed case
 *	    with a trailing dot (the collector normalises it).
 *	  failures: one per "failure slot"; a slot fixes the domain and
 *	    every failure-details field, so each slot is one distinct key.
 *	    The codes follow the policy type (STS 201-205 and 301-303,
 *	    DANE 201, 205, 304-306, none 201 and 205), so all 11 codes
 *	    appear; addresses are IPv4 or IPv6, the helo is sometimes a
 *	    CRLF-joined EHLO reply, an STS fetch error has no policy
 *	    strings, and a 303 for a DANE-enabled domain also carries the
 *	    TLSA success as a second policy.
 *
 *	Every datagram is 150-600 bytes. The number of failure slots is
 *	chosen so that the distinct aggregation keys (policy keys plus
 *	failure-details keys under them) in the two pools come close to
 *	-k; the loadgen counts the keys itself, from its own model of the
 *	datagram with the normalisation of PROTOCOL.md 1.6, and reports
 *	the number of keys that were really sent.
 *
 *	-p forks that many sender processes, each with its own connected
 *	socket and an equal share of -n. Each decides success or failure
 *	from a shuffled pattern of 100 with exactly -f failures. (Postfix
 *	opens a socket per datagram; one connected socket per process
 *	keeps the sender's own cost low, and its send buffer is raised
 *	where allowed so that only the collector's queue limits it.)
 *
 *	Sending: by default like libtlsrpt, with MSG_DONTWAIT, and a send
 *	that fails is lost (EAGAIN counted separately). -b blocks until
 *	the collector has room, so nothing is lost. -r paces the total
 *	rate: each process sends -B datagrams per tick on an absolute
 *	CLOCK_MONOTONIC schedule (clock_nanosleep, 1 ns timer slack), it
 *	never spins. Without -r the processes send as fast as they can.
 *
 *	A process that wakes late (descheduled, VM steal) is behind its
 *	schedule and catches up: by default at once, back to back, which
 *	on a 2-vCPU VM is several times the offered rate for as long as it
 *	was late. -C caps the total rate while catching up (e.g. -C 100000
 *	with -r 50000): the same datagrams are offered and the average rate
 *	is kept, but a stall of the sender is not turned into a burst that
 *	no fleet of independent MTA processes, each doing a TLS session's
 *	work between two datagrams, would send.
 *
 *	-n 0 sends just enough for every template to go out once (all the
 *	keys reach the collector).
 * OUTPUT
 *	One line on stdout: sent lost eagain other_errors seconds (first
 *	send to last send) rate (sent/seconds), then what the collector
 *	should count: sessions (policies in the datagrams sent), failures
 *	(policies with f=1), keys (distinct aggregation keys sent), then
 *	bytes, procs and sender_cpu (CPU seconds of the whole load
 *	generator, the building of the pools included).
 *	-v describes the pools on stderr and, after the run, how late the
 *	paced ticks were, how many datagrams were sent behind schedule and
 *	at what rate, and when sends were lost.
 * EXIT STATUS
 *	0 when the sends were made (losses are reported, not fatal), 1 on
 *	a setup error, 2 on a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "mem.h"

#define MIN_BYTES 150
#define MAX_BYTES 600
#define MIN_SUCCESS_POOL 4096
#define PATTERN 100
#define MAX_PROCS 64
#define LOSS_SECONDS 600
#define LATE_NS 200000

enum kind { K_STS, K_NONE, K_TLSA };

/* One pre-built datagram and what the collector must count for it. */
struct tmpl {
	size_t off;
	uint32_t len;
	uint8_t npolicies, nfailed, nkeys;
	uint64_t keys[4];	/* hashes of its aggregation keys */
};

struct pool {
	struct buf data;
	struct tmpl *t;
	size_t n, cap;
};

/* What one sender process reports back through shared memory. */
struct result {
	uint64_t sent, lost, eagain, other, sessions, failures, bytes;
	int64_t first_ns, last_ns;
	int first_errno;
	int done;
	uint32_t lost_per_s[LOSS_SECONDS];	/* -v: losses per second of the run */
	uint64_t late_ticks, lost_late;	/* -v: ticks begun >= LATE_NS late */
	int64_t max_late_ns;
	uint64_t behind_sends;	/* -v: sends in those ticks ... */
	int64_t behind_ns;	/* ... and the time they took, tick to tick */
	int64_t behind_send_ns;	/* ... and in send() alone */
};

/* Text for one event under construction. */
struct arena {
	char buf[8192];
	size_t used;
};

static struct {
	const char *socket;
	uint64_t count;
	double rate;
	int blocking;
	uint32_t domains;
	uint64_t keys;
	unsigned failpct;
	unsigned procs;
	unsigned burst;
	double catchup_rate;
	uint64_t seed;
	int verbose;
} opt = { NULL, 100000, 0, 0, 1000, 5000, 10, 1, 4, 0, 1, 0 };

static void
usage(void)
{
	fprintf(stderr, "usage: tlsrpt-loadgen -s socket [-n count] [-r rate] [-b]"
	    " [-d domains]\n"
	    "    [-k keys] [-f failpct] [-p procs] [-B burst] [-C rate] [-S seed] [-v]\n"
	    "  -n datagrams in total (0: just enough to send every key once)\n"
	    "  -r datagrams/s in total (0: as fast as possible)\n"
	    "  -C datagrams/s in total while catching up after a late tick (0: at once)\n"
	    "  -b block until sent (default: MSG_DONTWAIT, failures are lost)\n");
	exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("tlsrpt-loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t
num_arg(int ch, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < lo || v > hi) {
		fprintf(stderr, "tlsrpt-loadgen: -%c: '%s' is not a number in "
		    "%" PRIu64 "..%" PRIu64 "\n", ch, s, lo, hi);
		exit(2);
	}
	return (uint64_t)v;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64: a deterministic generator, so runs are repeatable. */
static uint64_t
mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

static uint64_t
rnd(uint64_t *state)
{
	*state += 0x9E3779B97F4A7C15ULL;
	return mix(*state);
}

/* Per-domain attribute n, stable for a given seed. */
static uint64_t
dom_hash(uint32_t dom, unsigned n)
{
	return mix(opt.seed * 1000003 + (uint64_t)dom * 64 + n);
}

/* ---- the model ---------------------------------------------------- */

static struct ev_str
afmt(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static struct ev_str
afmt(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	struct ev_str s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->buf) - a->used)
		die("internal error: arena full");
	s.p = a->buf + a->used;
	s.len = (uint32_t)n;
	a->used += (size_t)n + 1;
	return s;
}

static enum kind
dom_kind(uint32_t dom)
{
	unsigned k = (unsigned)(dom_hash(dom, 0) % 20);

	return k < 11 ? K_STS : k < 17 ? K_NONE : K_TLSA;
}

/* STS domains whose MX also publishes TLSA (some two-policy datagrams). */
static int
dom_has_dane(uint32_t dom)
{
	return dom_kind(dom) == K_STS && dom_hash(dom, 1) % 8 == 0;
}

static void
dom_name(uint32_t dom, char *out, size_t outlen)
{
	static const char *const syl[] = { "ka", "to", "mi", "ra", "ne", "so",
	    "lu", "vi", "de", "po", "gar", "ri", "ten", "no", "ba", "zu", "mx",
	    "bau", "net", "web", "lex", "ost", "ia", "on" };
	static const char *const tld[] = { "example", "test", "example",
	    "example", "test" };
	uint64_t h = dom_hash(dom, 2);
	unsigned nsyl = 2 + (unsigned)(h % 2);
	size_t o = 0;

	h /= 3;
	for (unsigned i = 0; i < nsyl; i++) {
		o += (size_t)snprintf(out + o, outlen - o, "%s", syl[h % 24]);
		h /= 24;
	}
	snprintf(out + o, outlen - o, "%s%" PRIu32 ".%s", h % 3 == 0 ? "-" : "",
	    dom, tld[(h / 3) % 5]);
}

static struct ev_str
dom_record(struct arena *a, uint32_t dom, const char *name)
{
	switch (dom_hash(dom, 3) % 4) {
	case 0:
		return afmt(a, "v=TLSRPTv1; rua=mailto:tlsrpt@%s", name);
	case 1:
		return afmt(a, "v=TLSRPTv1;rua=mailto:tls-reports@%s,"
		    "https://tlsrpt.%s/v1", name, name);
	case 2:
		return afmt(a, "v=TLSRPTv1; rua=https://reports.%s/tlsrpt", name);
	default:
		return afmt(a, "v=TLSRPTv1; rua=mailto:postmaster+tlsrpt@%s", name);
	}
}

/* The MX host names of a domain: two named MX or a wildcard pattern. */
static int
dom_mx_wildcard(uint32_t dom)
{
	return dom_hash(dom, 4) % 4 == 0;
}

static struct ev_str
dom_mx(struct arena *a, uint32_t dom, const char *name, unsigned which)
{
	if (dom_mx_wildcard(dom))
		return afmt(a, "%s.mx.%s", which ? "b" : "a", name);
	return afmt(a, "mx%u.%s", which + 1, name);
}

static void
sts_policy(struct arena *a, struct ev_policy *p, struct ev_str *strings,
    struct ev_str *mx, uint32_t dom, const char *name, const struct ev_str *pd,
    int with_strings)
{
	static const char *const ages[] = { "604800", "86400", "1209600", "31557600" };
	uint64_t h = dom_hash(dom, 5);

	memset(p, 0, sizeof(*p));
	p->type = EV_POLICY_STS;
	p->domain = *pd;
	if (!with_strings)
		return;
	strings[0] = afmt(a, "version: STSv1");
	strings[1] = afmt(a, "mode: %s", h % 5 == 0 ? "testing" : "enforce");
	if (dom_mx_wildcard(dom)) {
		strings[2] = afmt(a, "mx: *.mx.%s", name);
		strings[3] = afmt(a, "max_age: %s", ages[(h / 5) % 4]);
		mx[0] = afmt(a, "*.mx.%s", name);
		p->nstrings = 4;
		p->nmx_hosts = 1;
	} else {
		strings[2] = afmt(a, "mx: mx1.%s", name);
		strings[3] = afmt(a, "mx: mx2.%s", name);
		strings[4] = afmt(a, "max_age: %s", ages[(h / 5) % 4]);
		mx[0] = afmt(a, "mx1.%s", name);
		mx[1] = afmt(a, "mx2.%s", name);
		p->nstrings = 5;
		p->nmx_hosts = 2;
	}
	p->strings = strings;
	p->mx_hosts = mx;
}

static void
tlsa_policy(struct arena *a, struct ev_policy *p, struct ev_str *strings,
    uint32_t dom, const struct ev_str *mxhost)
{
	uint64_t h1 = dom_hash(dom, 6), h2 = dom_hash(dom, 7);
	uint64_t h3 = dom_hash(dom, 8), h4 = dom_hash(dom, 9);

	memset(p, 0, sizeof(*p));
	p->type = EV_POLICY_TLSA;
	p->domain = *mxhost;
	strings[0] = afmt(a, "3 1 1 %016" PRIX64 "%016" PRIX64 "%016" PRIX64
	    "%016" PRIX64, h1, h2, h3, h4);
	p->nstrings = 1;
	if (h1 % 2 == 0) {
		strings[1] = afmt(a, "2 1 1 %016" PRIX64 "%016" PRIX64 "%016"
		    PRIX64 "%016" PRIX64, h4, h3 ^ h1, h2, h1 ^ h4);
		p->nstrings = 2;
	}
	p->strings = strings;
}

/* Mixed case and a trailing dot: "Kamira12.Example." */
static struct ev_str
odd_case(struct arena *a, const char *name)
{
	struct ev_str s = afmt(a, "%s.", name);
	char *p = (char *)s.p;

	for (uint32_t i = 0; i < s.len; i++)
		if ((i == 0 || p[i - 1] == '.') && p[i] >= 'a' && p[i] <= 'z')
			p[i] = (char)(p[i] - 'a' + 'A');
	return s;
}

/* Strings the event points to. */
struct draft {
	struct event *ev;
	struct arena a;
	struct ev_str str[2][8], mx[2][4];
	struct ev_failure fail;
	char name[96];
};

static void
draft_begin(struct draft *d, uint32_t dom, int odd)
{
	struct event *ev = d->ev;

	/* Only what ev_encode() reads; the event is too big to clear each time. */
	memset(&ev->dpv, 0, sizeof(ev->dpv));
	memset(ev->policies, 0, 2 * sizeof(ev->policies[0]));
	ev->npolicies = 0;
	d->a.used = 0;
	dom_name(dom, d->name, sizeof(d->name));
	ev->domain = odd ? odd_case(&d->a, d->name) : afmt(&d->a, "%s", d->name);
	ev->record = dom_record(&d->a, dom, d->name);
}

static void
build_success(struct draft *d, uint32_t dom, uint64_t *rs)
{
	struct event *ev;
	struct ev_str pd, mxh;
	int odd = rnd(rs) % 200 == 0;
	unsigned r = (unsigned)(rnd(rs) % 100);

	draft_begin(d, dom, odd);
	ev = d->ev;
	pd = ev->domain;
	ev->npolicies = 1;
	switch (dom_kind(dom)) {
	case K_STS:
		sts_policy(&d->a, &ev->policies[0], d->str[0], d->mx[0], dom,
		    d->name, &pd, 1);
		if (dom_has_dane(dom) && r < 8) {
			mxh = dom_mx(&d->a, dom, d->name, 0);
			tlsa_policy(&d->a, &ev->policies[1], d->str[1], dom, &mxh);
			ev->npolicies = 2;
		}
		break;
	case K_NONE:
		memset(&ev->policies[0], 0, sizeof(ev->policies[0]));
		ev->policies[0].type = EV_POLICY_NONE;
		/* Postfix 3.10 leaves policy-domain out; 3.11 sends d. */
		if (r < 50)
			ev->policies[0].domain = pd;
		break;
	case K_TLSA:
		mxh = dom_mx(&d->a, dom, d->name, r < 80 ? 0 : 1);
		tlsa_policy(&d->a, &ev->policies[0], d->str[0], dom, &mxh);
		break;
	}
}

static const long sts_codes[] = { 201, 202, 203, 204, 205, 301, 302, 303 };
static const long tlsa_codes[] = { 201, 205, 304, 305, 306 };
static const long none_codes[] = { 201, 205 };

/*
 * The failure for slot u, a function of u alone: slot u is domain
 * u % domains, and u / domains is encoded in the receiving IP, so
 * slots are distinct keys, except where a code leaves that field out
 * (301, 302, 305): those slots can coincide. The keys are counted, not
 * assumed.
 */
static void
build_failure(struct draft *d, uint64_t u)
{
	static const char *const reasons203[] = {
	    "unable to get local issuer certificate",
	    "self-signed certificate in certificate chain" };
	struct event *ev;
	struct ev_failure *f = &d->fail;
	uint32_t dom = (uint32_t)(u % opt.domains);
	uint64_t v = u / opt.domains, h = dom_hash(dom, 10);
	enum kind kind = dom_kind(dom);
	const long *codes = kind == K_STS ? sts_codes : kind == K_TLSA ?
	    tlsa_codes : none_codes;
	size_t ncodes = kind == K_STS ? 8 : kind == K_TLSA ? 5 : 2;
	long code = codes[(v + (uint64_t)dom * 7) % ncodes];
	int v6 = (h + v) % 4 == 0, crlf = (h + v) % 16 == 1 || code == 304;
	unsigned which = (unsigned)((h >> 8) + v) % 2;
	struct ev_str pd, mxh;
	uint64_t ri = (v ^ (h & 0xFFFF)) & 0x1FFFF;	/* v < 2^17 in practice */

	draft_begin(d, dom, 0);
	ev = d->ev;
	pd = ev->domain;
	memset(f, 0, sizeof(*f));
	f->code = code;
	mxh = dom_mx(&d->a, dom, d->name, which);
	if (v6) {
		f->sending_ip = afmt(&d->a, "2001:db8::%x", 0x25 + (unsigned)(v % 3));
		f->receiving_ip = afmt(&d->a, "2001:db8:%x:%x::%" PRIx64,
		    (unsigned)(dom >> 16) + 1, (unsigned)(dom & 0xFFFF), v + 1);
	} else {
		f->sending_ip = afmt(&d->a, "192.0.2.%u", 25 + (unsigned)(v % 3));
		f->receiving_ip = afmt(&d->a, "198.%u.%u.%u",
		    18 + (unsigned)(ri >> 16), (unsigned)(ri >> 8) & 255,
		    (unsigned)ri & 255);
		if (v >= (1u << 17))	/* keep it one-to-one beyond 2^17 */
			f->receiving_ip = afmt(&d->a, "198.18.%" PRIu64 ".%u",
			    v >> 8, (unsigned)v & 255);
	}
	if (code < 300 || code == 304) {
		f->mx_hostname = mxh;
		f->mx_helo = crlf ? afmt(&d->a, "250-%s\r\n250-PIPELINING\r\n"
		    "250-SIZE 52428800\r\n250 STARTTLS", mxh.p) : mxh;
	} else if (code == 303 || code == 305 || code == 306) {
		f->mx_hostname = mxh;
	}
	switch (code) {
	case 201:
		f->additional_info = afmt(&d->a, "STARTTLS not offered in EHLO response");
		break;
	case 202:
		f->reason = afmt(&d->a, "certificate name \"mail.hosting-%u.example\" "
		    "does not match", (unsigned)(h % 97));
		break;
	case 203:
		f->reason = afmt(&d->a, "%s", reasons203[v % 2]);
		break;
	case 204:
		f->reason = afmt(&d->a, "certificate has expired");
		break;
	case 205:
		f->reason = afmt(&d->a, "tls-handshake-failure");
		break;
	case 301:
	case 302:
		f->mx_hostname.len = 0;
		f->receiving_ip.len = 0;
		f->additional_info = afmt(&d->a, "https://mta-sts.%s/.well-known/"
		    "mta-sts.txt", d->name);
		f->reason = afmt(&d->a, "%s", code == 301 ? "HTTP 404" :
		    "invalid mode: enforcing");
		break;
	case 303:
		f->reason = afmt(&d->a, "certificate-not-trusted");
		break;
	case 304:
		f->reason = afmt(&d->a, "all-TLSA-records-unusable");
		break;
	case 305:
		f->receiving_ip.len = 0;
		f->reason = afmt(&d->a, "bogus");
		break;
	default:
		break;
	}
	ev->npolicies = 1;
	switch (kind) {
	case K_STS:
		/* No usable policy after a fetch error or an invalid one. */
		sts_policy(&d->a, &ev->policies[0], d->str[0], d->mx[0], dom,
		    d->name, &pd, code != 301 && code != 302);
		if (code == 303 && dom_has_dane(dom)) {
			mxh = dom_mx(&d->a, dom, d->name, 0);
			tlsa_policy(&d->a, &ev->policies[1], d->str[1], dom, &mxh);
			ev->npolicies = 2;
		}
		break;
	case K_NONE:
		memset(&ev->policies[0], 0, sizeof(ev->policies[0]));
		ev->policies[0].type = EV_POLICY_NONE;
		if (h % 2)
			ev->policies[0].domain = pd;
		break;
	case K_TLSA:
		tlsa_policy(&d->a, &ev->policies[0], d->str[0], dom, &mxh);
		break;
	}
	ev->policies[0].failures = f;
	ev->policies[0].nfailures = 1;
	ev->policies[0].failed = 1;
}

/* ---- distinct keys ------------------------------------------------ */

struct keyset {
	uint64_t *slot;
	size_t mask, n;
};

static void
keyset_init(struct keyset *k, size_t expect)
{
	size_t n = 1024;

	while (n < expect * 2)
		n *= 2;
	k->slot = xcalloc(n, sizeof(*k->slot));
	k->mask = n - 1;
	k->n = 0;
}

static void
keyset_free(struct keyset *k)
{
	free(k->slot);
	k->slot = NULL;
}

static void
keyset_add(struct keyset *k, uint64_t h)
{
	size_t i;

	if (h == 0)
		h = 1;
	if ((k->n + 1) * 2 > k->mask + 1) {
		struct keyset big;
		keyset_init(&big, (k->mask + 1) * 2);
		for (size_t j = 0; j <= k->mask; j++)
			if (k->slot[j] != 0)
				keyset_add(&big, k->slot[j]);
		free(k->slot);
		*k = big;
	}
	for (i = (size_t)h & k->mask; k->slot[i] != 0; i = (i + 1) & k->mask)
		if (k->slot[i] == h)
			return;
	k->slot[i] = h;
	k->n++;
}

/* FNV-1a over length-prefixed fields, then a final mix. */
struct khash {
	uint64_t h;
};

static void
kh_bytes(struct khash *k, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		k->h = (k->h ^ c[i]) * 0x100000001B3ULL;
}

static void
kh_str(struct khash *k, const char *p, uint32_t len, int domain)
{
	char low[EV_MAX_DOMAIN + 2];

	if (domain) {
		if (len > 0 && p[len - 1] == '.')
			len--;
		if (len > EV_MAX_DOMAIN)
			die("internal error: domain too long");
		for (uint32_t i = 0; i < len; i++)
			low[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] + 32) : p[i];
		p = low;
	}
	kh_bytes(k, &len, sizeof(len));
	kh_bytes(k, p, len);
}

static uint64_t
policy_key(const struct event *ev, const struct ev_policy *p)
{
	struct khash k = { 0xCBF29CE484222325ULL };
	const struct ev_str *pd = p->domain.len ? &p->domain : &ev->domain;
	int64_t type = p->type;

	kh_str(&k, ev->domain.p, ev->domain.len, 1);
	kh_str(&k, ev->record.p, ev->record.len, 0);
	kh_bytes(&k, &type, sizeof(type));
	kh_str(&k, pd->p, pd->len, 1);
	kh_bytes(&k, &p->nstrings, sizeof(p->nstrings));
	for (uint32_t i = 0; i < p->nstrings; i++)
		kh_str(&k, p->strings[i].p, p->strings[i].len, 0);
	kh_bytes(&k, &p->nmx_hosts, sizeof(p->nmx_hosts));
	for (uint32_t i = 0; i < p->nmx_hosts; i++)
		kh_str(&k, p->mx_hosts[i].p, p->mx_hosts[i].len, 0);
	return mix(k.h);
}

static uint64_t
failure_key(uint64_t policy, const struct ev_failure *f)
{
	struct khash k = { 0xCBF29CE484222325ULL };
	int64_t code = f->code;

	kh_bytes(&k, &policy, sizeof(policy));
	kh_bytes(&k, &code, sizeof(code));
	kh_str(&k, f->sending_ip.p, f->sending_ip.len, 0);
	kh_str(&k, f->mx_hostname.p, f->mx_hostname.len, 0);
	kh_str(&k, f->mx_helo.p, f->mx_helo.len, 0);
	kh_str(&k, f->receiving_ip.p, f->receiving_ip.len, 0);
	kh_str(&k, f->additional_info.p, f->additional_info.len, 0);
	kh_str(&k, f->reason.p, f->reason.len, 0);
	return mix(k.h ^ 0x5F);
}

/* ---- pools -------------------------------------------------------- */

static void
pool_init(struct pool *p)
{
	buf_init(&p->data, (size_t)1 << 34);
	p->t = NULL;
	p->n = p->cap = 0;
}

static void
pool_free(struct pool *p)
{
	buf_free(&p->data);
	free(p->t);
	pool_init(p);
}

/* Makes a datagram over MAX_BYTES shorter; 0 when nothing is left to cut. */
static int
shorten(struct event *ev)
{
	for (uint32_t i = 0; i < ev->npolicies; i++) {
		struct ev_policy *p = &ev->policies[i];

		if (p->type == EV_POLICY_TLSA && p->nstrings > 1) {
			p->nstrings = 1;
			return 1;
		}
	}
	if (ev->npolicies > 1) {
		ev->npolicies = 1;
		return 1;
	}
	if (ev->policies[0].nfailures > 0) {
		struct ev_failure *f = (struct ev_failure *)ev->policies[0].failures;

		if (f->mx_helo.len > f->mx_hostname.len) {
			f->mx_helo = f->mx_hostname;
			return 1;
		}
		if (f->reason.len > 40) {
			f->reason.len = 40;
			return 1;
		}
		if (f->additional_info.len > 0) {
			f->additional_info.len = 0;
			return 1;
		}
		if (f->mx_helo.len > 0) {
			f->mx_helo.len = 0;
			return 1;
		}
		if (f->reason.len > 0) {
			f->reason.len = 0;
			return 1;
		}
	}
	return 0;
}

/* Encodes ev, checks it the way the collector will read it, stores it. */
static void
pool_add(struct pool *p, struct event *ev, struct ev_parser *parser)
{
	struct tmpl *t;
	const struct event *back;
	struct ev_diag diag;
	size_t off = p->data.len;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 4096;
		p->t = xreallocarray(p->t, p->cap, sizeof(*p->t));
	}
	t = &p->t[p->n++];
	memset(t, 0, sizeof(*t));
	if (ev_encode(ev, &p->data) != 0)
		die("out of memory for the datagram pool");
	while (p->data.len - off > MAX_BYTES && shorten(ev)) {
		p->data.len = off;
		if (ev_encode(ev, &p->data) != 0)
			die("out of memory for the datagram pool");
	}
	if (p->data.len - off < MIN_BYTES && ev->npolicies == 1 &&
	    ev->policies[0].domain.len == 0) {
		/* Too short as Postfix 3.10 sends it: send it as 3.11 does. */
		ev->policies[0].domain = ev->domain;
		p->data.len = off;
		if (ev_encode(ev, &p->data) != 0)
			die("out of memory for the datagram pool");
	}
	t->off = off;
	t->len = (uint32_t)(p->data.len - off);
	if (t->len < MIN_BYTES || t->len > MAX_BYTES)
		die("internal error: a %u-byte datagram (want %d-%d): %.*s",
		    t->len, MIN_BYTES, MAX_BYTES, (int)t->len, p->data.data + off);
	if (ev_parse(parser, p->data.data + off, t->len, &back, &diag) != EV_OK ||
	    back->npolicies != ev->npolicies || back->dropped_failures != 0)
		die("internal error: the collector's parser rejects: %.*s",
		    (int)t->len, p->data.data + off);
	t->npolicies = (uint8_t)ev->npolicies;
	for (uint32_t i = 0; i < ev->npolicies; i++) {
		const struct ev_policy *pol = &ev->policies[i];
		uint64_t pk = policy_key(ev, pol);

		t->nfailed = (uint8_t)(t->nfailed + (pol->failed ? 1 : 0));
		t->keys[t->nkeys++] = pk;
		for (uint32_t j = 0; j < pol->nfailures && t->nkeys < 4; j++)
			t->keys[t->nkeys++] = failure_key(pk, &pol->failures[j]);
	}
}

static size_t
count_keys(const struct pool *a, const struct pool *b, const uint8_t *fa,
    const uint8_t *fb)
{
	struct keyset k;
	size_t n;

	keyset_init(&k, a->n + b->n);
	for (size_t i = 0; i < a->n; i++)
		for (unsigned j = 0; (fa == NULL || fa[i]) && j < a->t[i].nkeys; j++)
			keyset_add(&k, a->t[i].keys[j]);
	for (size_t i = 0; i < b->n; i++)
		for (unsigned j = 0; (fb == NULL || fb[i]) && j < b->t[i].nkeys; j++)
			keyset_add(&k, b->t[i].keys[j]);
	n = k.n;
	keyset_free(&k);
	return n;
}

static void
build_successes(struct pool *p, struct draft *d, struct ev_parser *parser)
{
	size_t n = (size_t)opt.domains + opt.domains / 4;
	uint64_t rs = opt.seed ^ 0x5555;

	if (n < MIN_SUCCESS_POOL)
		n = MIN_SUCCESS_POOL;
	for (size_t i = 0; i < n; i++) {
		/* Every domain once, then a random mix. */
		uint32_t dom = i < opt.domains ? (uint32_t)i :
		    (uint32_t)(rnd(&rs) % opt.domains);
		build_success(d, dom, &rs);
		pool_add(p, d->ev, parser);
	}
}

static void
build_failures(struct pool *p, struct draft *d, struct ev_parser *parser,
    size_t slots)
{
	/* Slots are spread over the domains: slot u is domain u % domains. */
	for (size_t u = 0; u < slots; u++) {
		build_failure(d, u);
		pool_add(p, d->ev, parser);
	}
}

/* ---- sending ------------------------------------------------------ */

static int
connect_socket(const char *path, int *err)
{
	struct sockaddr_un sun;
	int fd, sndbuf = 16 * 1024 * 1024;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*err = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		*err = errno;
		return -1;
	}
	/*
	 * Postfix sends every datagram from a new socket, so only the
	 * collector's queue (max_dgram_qlen + 1) limits what is in flight.
	 * One long-lived socket would also be held to its own send buffer
	 * (about 160 datagrams at wmem_default); a large one, where we may
	 * set it, keeps that limit out of the measurement.
	 */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		*err = errno;
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends one datagram; returns 0 when it went out. */
static int
send_one(int fd, const char *p, size_t len, struct result *res)
{
	for (;;) {
		ssize_t n = send(fd, p, len, opt.blocking ? 0 : MSG_DONTWAIT);

		if (n == (ssize_t)len)
			return 0;
		if (n >= 0)
			errno = EMSGSIZE;	/* cannot happen on a datagram socket */
		if (errno == EINTR)
			continue;
		if (opt.blocking && (errno == EAGAIN || errno == ENOBUFS)) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			(void)poll(&pfd, 1, 10);
			continue;
		}
		if (res->first_errno == 0)
			res->first_errno = errno;
		if (opt.verbose) {
			int64_t sec = (now_ns() - res->first_ns) / 1000000000;
			res->lost_per_s[sec < LOSS_SECONDS ? sec : LOSS_SECONDS - 1]++;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			res->eagain++;
		else
			res->other++;
		res->lost++;
		return -1;
	}
}

struct plan {
	const struct pool *ok, *bad;
	uint8_t *ok_sent, *bad_sent;	/* per process: templates sent */
	uint8_t pattern[PATTERN];	/* 1: a failure */
	volatile int64_t *start_ns;
};

static void
sender(const struct plan *pl, unsigned id, uint64_t count, struct result *res)
{
	const struct pool *ok = pl->ok, *bad = pl->bad;
	size_t si = ok->n ? (size_t)((uint64_t)id * ok->n / opt.procs) : 0;
	size_t fi = bad->n ? (size_t)((uint64_t)id * bad->n / opt.procs) : 0;
	unsigned pat = (id * 37) % PATTERN;
	double per_dgram_ns = opt.rate > 0 ? 1e9 * opt.procs / opt.rate : 0;
	double catchup_ns = opt.catchup_rate > 0 ? 1e9 * opt.procs / opt.catchup_rate : 0;
	int64_t start, offset = 0, tick_ns = 0, prev_tick_ns = 0;
	uint64_t i = 0, prev_sends = 0;
	int fd, err = 0, late_tick = 0;

	if ((fd = connect_socket(opt.socket, &err)) < 0) {
		res->first_errno = err;
		res->other = res->lost = count;
		return;
	}
	if (opt.rate > 0 && prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL) != 0)
		perror("tlsrpt-loadgen: prctl(PR_SET_TIMERSLACK)");
	while ((start = *pl->start_ns) == 0)
		usleep(100);
	if (opt.rate > 0)	/* interleave the processes' ticks */
		offset = (int64_t)(per_dgram_ns * opt.burst * id / opt.procs);
	while (now_ns() < start)
		usleep(50);
	res->first_ns = now_ns();
	while (i < count) {
		uint64_t end = count;

		if (opt.rate > 0) {
			int64_t t = start + offset + (int64_t)((double)i * per_dgram_ns);
			int64_t wake = t, late;
			struct timespec ts;

			/* Behind schedule: no faster than -C after the last tick. */
			if (catchup_ns > 0 && tick_ns > 0 &&
			    wake < tick_ns + (int64_t)((double)prev_sends * catchup_ns))
				wake = tick_ns + (int64_t)((double)prev_sends * catchup_ns);
			ts.tv_sec = (time_t)(wake / 1000000000);
			ts.tv_nsec = (long)(wake % 1000000000);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
			if (end - i > opt.burst)
				end = i + opt.burst;
			prev_tick_ns = tick_ns;
			tick_ns = now_ns();
			if (opt.verbose) {
				/* The previous tick was behind: its sends took this long. */
				if (late_tick) {
					res->behind_sends += prev_sends;
					res->behind_ns += tick_ns - prev_tick_ns;
				}
				late = tick_ns - t;
				late_tick = late >= LATE_NS;
				res->late_ticks += (uint64_t)late_tick;
				if (late > res->max_late_ns)
					res->max_late_ns = late;
			}
			prev_sends = end - i;
		}
		for (; i < end; i++) {
			const struct pool *from;
			const struct tmpl *t;
			uint8_t *flag;

			if (pl->pattern[pat] && bad->n > 0) {
				from = bad;
				t = &bad->t[fi];
				flag = &pl->bad_sent[(size_t)id * bad->n + fi];
				fi = fi + 1 == bad->n ? 0 : fi + 1;
			} else {
				from = ok;
				t = &ok->t[si];
				flag = &pl->ok_sent[(size_t)id * ok->n + si];
				si = si + 1 == ok->n ? 0 : si + 1;
			}
			pat = pat + 1 == PATTERN ? 0 : pat + 1;
			if (send_one(fd, from->data.data + t->off, t->len, res) == 0) {
				res->sent++;
				res->sessions += t->npolicies;
				res->failures += t->nfailed;
				res->bytes += t->len;
				*flag = 1;
			} else {
				res->lost_late += (uint64_t)late_tick;
			}
		}
		if (late_tick)	/* only set with -r and -v */
			res->behind_send_ns += now_ns() - tick_ns;
	}
	res->last_ns = now_ns();
	res->done = 1;
	close(fd);
}

static void *
shared(size_t size)
{
	void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap %zu bytes: %s", size, strerror(errno));
	return p;
}

/* Per-process share of the datagrams that makes every template go out. */
static uint64_t
auto_count(size_t nok, size_t nbad)
{
	uint64_t per_ok = (nok + opt.procs - 1) / opt.procs;
	uint64_t per_bad = (nbad + opt.procs - 1) / opt.procs;
	uint64_t m = 0;

	if (opt.failpct < 100)
		m = (per_ok * 100 + (100 - opt.failpct) - 1) / (100 - opt.failpct);
	if (opt.failpct > 0 && (per_bad * 100 + opt.failpct - 1) / opt.failpct > m)
		m = (per_bad * 100 + opt.failpct - 1) / opt.failpct;
	return (m + PATTERN) * opt.procs;
}

int
main(int argc, char **argv)
{
	struct pool ok, bad;
	struct draft d;
	struct plan pl;
	struct ev_parser *parser;
	struct result *res, tot;
	pid_t pids[MAX_PROCS];
	size_t slots = 0, nkeys = 0;
	uint64_t rs, pk;
	int ch, failed_children = 0;
	int64_t first = INT64_MAX, last = 0;
	double secs, cpu;
	struct rusage ru;

	while ((ch = getopt(argc, argv, "s:n:r:bd:k:f:p:B:C:S:vh")) != -1) {
		switch (ch) {
		case 's': opt.socket = optarg; break;
		case 'n': opt.count = num_arg(ch, optarg, 0, UINT64_C(1) << 40); break;
		case 'r': opt.rate = (double)num_arg(ch, optarg, 0, 100000000); break;
		case 'b': opt.blocking = 1; break;
		case 'd': opt.domains = (uint32_t)num_arg(ch, optarg, 1, 10000000); break;
		case 'k': opt.keys = num_arg(ch, optarg, 1, 50000000); break;
		case 'f': opt.failpct = (unsigned)num_arg(ch, optarg, 0, 100); break;
		case 'p': opt.procs = (unsigned)num_arg(ch, optarg, 1, MAX_PROCS); break;
		case 'B': opt.burst = (unsigned)num_arg(ch, optarg, 1, 1000000); break;
		case 'C': opt.catchup_rate = (double)num_arg(ch, optarg, 0, 100000000); break;
		case 'S': opt.seed = num_arg(ch, optarg, 0, UINT64_MAX); break;
		case 'v': opt.verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc || opt.socket == NULL)
		usage();

	/* Build the pools; count keys; fit the failure slots to -k. */
	parser = ev_parser_new(MAX_BYTES * 2);
	d.ev = xcalloc(1, sizeof(*d.ev));
	pool_init(&ok);
	pool_init(&bad);
	build_successes(&ok, &d, parser);
	pk = count_keys(&ok, &bad, NULL, NULL);
	if (opt.failpct > 0) {
		slots = opt.keys > pk + 64 ? (size_t)(opt.keys - pk) : 64;
		for (int round = 0; round < 4; round++) {
			pool_free(&bad);
			build_failures(&bad, &d, parser, slots);
			nkeys = count_keys(&ok, &bad, NULL, NULL);
			if (nkeys <= opt.keys + opt.keys / 100 &&
			    nkeys + opt.keys / 100 >= opt.keys)
				break;
			if (nkeys > opt.keys && slots > 64)
				slots -= nkeys - opt.keys < slots - 64 ?
				    nkeys - opt.keys : slots - 64;
			else if (nkeys < opt.keys)
				slots += opt.keys - nkeys;
			else
				break;
		}
	} else {
		nkeys = pk;
	}
	if (nkeys + opt.keys / 20 < opt.keys || nkeys > opt.keys + opt.keys / 20)
		fprintf(stderr, "tlsrpt-loadgen: warning: the pools hold %zu keys, "
		    "not %" PRIu64 " (%" PRIu32 " domains alone give %" PRIu64
		    " policy keys%s)\n", nkeys, opt.keys, opt.domains, pk,
		    opt.failpct == 0 ? ", and -f 0 adds none" : "");
	if (opt.count == 0)
		opt.count = auto_count(ok.n, bad.n);
	ev_parser_free(parser);
	free(d.ev);

	memset(&pl, 0, sizeof(pl));
	pl.ok = &ok;
	pl.bad = &bad;
	rs = opt.seed ^ 0xA5A5;
	for (unsigned i = 0; i < PATTERN; i++)
		pl.pattern[i] = i < opt.failpct;
	for (unsigned i = PATTERN - 1; i > 0; i--) {
		unsigned j = (unsigned)(rnd(&rs) % (i + 1));
		uint8_t tmp = pl.pattern[i];
		pl.pattern[i] = pl.pattern[j];
		pl.pattern[j] = tmp;
	}
	pl.ok_sent = shared(ok.n * opt.procs);
	pl.bad_sent = shared(bad.n * opt.procs);
	pl.start_ns = shared(sizeof(*pl.start_ns));
	res = shared(sizeof(*res) * opt.procs);
	if (opt.verbose) {
		size_t lo = SIZE_MAX, hi = 0;
		for (size_t i = 0; i < ok.n; i++) {
			lo = ok.t[i].len < lo ? ok.t[i].len : lo;
			hi = ok.t[i].len > hi ? ok.t[i].len : hi;
		}
		for (size_t i = 0; i < bad.n; i++) {
			lo = bad.t[i].len < lo ? bad.t[i].len : lo;
			hi = bad.t[i].len > hi ? bad.t[i].len : hi;
		}
		fprintf(stderr, "tlsrpt-loadgen: %zu success templates (%zu bytes),"
		    " %zu failure templates (%zu bytes), %zu-%zu bytes each;"
		    " %zu keys in the pools (%" PRIu64 " from successes);"
		    " sending %" PRIu64 " with %u process%s, %s, %s\n",
		    ok.n, ok.data.len, bad.n, bad.data.len, lo, hi, nkeys, pk,
		    opt.count, opt.procs, opt.procs == 1 ? "" : "es",
		    opt.blocking ? "blocking" : "MSG_DONTWAIT",
		    opt.rate > 0 ? "paced" : "unpaced");
	}

	fflush(NULL);
	for (unsigned id = 0; id < opt.procs; id++) {
		uint64_t share = opt.count / opt.procs + (id < opt.count % opt.procs);

		if ((pids[id] = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (pids[id] == 0) {
			sender(&pl, id, share, &res[id]);
			_exit(0);
		}
	}
	/* Everybody connected and waiting: start together in 20 ms. */
	*pl.start_ns = now_ns() + 20000000;
	for (unsigned id = 0; id < opt.procs; id++) {
		int status;

		while (waitpid(pids[id], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed_children++;
	}

	memset(&tot, 0, sizeof(tot));
	for (unsigned id = 0; id < opt.procs; id++) {
		struct result *r = &res[id];

		tot.sent += r->sent;
		tot.lost += r->lost;
		tot.eagain += r->eagain;
		tot.other += r->other;
		tot.sessions += r->sessions;
		tot.failures += r->failures;
		tot.bytes += r->bytes;
		if (r->first_errno != 0 && tot.first_errno == 0)
			tot.first_errno = r->first_errno;
		if (r->done) {
			first = r->first_ns < first ? r->first_ns : first;
			last = r->last_ns > last ? r->last_ns : last;
		}
	}
	/* Merge the per-process "sent" flags into the first row. */
	for (unsigned id = 1; id < opt.procs; id++) {
		for (size_t i = 0; i < ok.n; i++)
			pl.ok_sent[i] |= pl.ok_sent[(size_t)id * ok.n + i];
		for (size_t i = 0; i < bad.n; i++)
			pl.bad_sent[i] |= pl.bad_sent[(size_t)id * bad.n + i];
	}
	nkeys = count_keys(&ok, &bad, pl.ok_sent, pl.bad_sent);
	if (opt.verbose && opt.rate > 0) {
		uint64_t late = 0, lost_late = 0, behind = 0;
		int64_t max_late = 0, behind_ns = 0, behind_send_ns = 0;
		for (unsigned id = 0; id < opt.procs; id++) {
			late += res[id].late_ticks;
			lost_late += res[id].lost_late;
			behind += res[id].behind_sends;
			behind_ns += res[id].behind_ns;
			behind_send_ns += res[id].behind_send_ns;
			if (res[id].max_late_ns > max_late)
				max_late = res[id].max_late_ns;
		}
		fprintf(stderr, "tlsrpt-loadgen: pacing: %" PRIu64 " ticks began "
		    "%d us or more late (worst %.3f ms); %" PRIu64 " of the %"
		    PRIu64 " losses were in such ticks\n", late, LATE_NS / 1000,
		    (double)max_late / 1e6, lost_late, tot.lost);
		fprintf(stderr, "tlsrpt-loadgen: pacing: %" PRIu64 " datagrams "
		    "were sent in those ticks, per sender process %.0f/s tick to "
		    "tick and %.0f/s while sending (offered %.0f/s per process; "
		    "catch-up %s)\n", behind,
		    behind_ns > 0 ? (double)behind * 1e9 / (double)behind_ns : 0.0,
		    behind_send_ns > 0 ? (double)behind * 1e9 / (double)behind_send_ns : 0.0,
		    opt.rate / opt.procs, opt.catchup_rate > 0 ? "capped by -C" :
		    "at once");
	}
	if (opt.verbose && tot.lost > 0) {
		fprintf(stderr, "tlsrpt-loadgen: losses per second of the run:");
		for (unsigned sec = 0; sec < LOSS_SECONDS; sec++) {
			uint64_t n = 0;
			for (unsigned id = 0; id < opt.procs; id++)
				n += res[id].lost_per_s[sec];
			if (n > 0)
				fprintf(stderr, " %u:%" PRIu64, sec, n);
		}
		fputc('\n', stderr);
	}
	if (tot.first_errno != 0)
		fprintf(stderr, "tlsrpt-loadgen: %s: %" PRIu64 " sends failed, "
		    "first with: %s\n", opt.socket, tot.lost, strerror(tot.first_errno));
	if (failed_children > 0)
		fprintf(stderr, "tlsrpt-loadgen: %d sender process%s died\n",
		    failed_children, failed_children == 1 ? "" : "es");
	secs = last > first ? (double)(last - first) / 1e9 : 0;
	cpu = 0;
	for (int who = 0; who < 2; who++) {	/* senders, then pool building */
		if (getrusage(who ? RUSAGE_SELF : RUSAGE_CHILDREN, &ru) != 0)
			continue;
		cpu += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	}
	printf("sent=%" PRIu64 " lost=%" PRIu64 " eagain=%" PRIu64
	    " other_errors=%" PRIu64 " seconds=%.3f rate=%.0f sessions=%" PRIu64
	    " failures=%" PRIu64 " keys=%zu bytes=%" PRIu64 " procs=%u"
	    " sender_cpu=%.2f\n",
	    tot.sent, tot.lost, tot.eagain, tot.other, secs,
	    secs > 0 ? (double)tot.sent / secs : 0.0, tot.sessions, tot.failures,
	    nkeys, tot.bytes, opt.procs, cpu);
	pool_free(&ok);
	pool_free(&bad);
	return failed_children > 0 ? 1 : 0;
}
