/*
 * NAME
 *	tlsrpt-ingest-load - POST gzip TLSRPT reports to tlsrpt-ingestd
 * SYNOPSIS
 *	tlsrpt-ingest-load -u url [-n count] [-c concurrency] [-p prefix]
 *	    [-S seed] [-C cafile] [-v]
 * DESCRIPTION
 *	Builds count distinct reports before any timing starts, each a
 *	realistic RFC 8460 document of about 1 to 3 KB of JSON (1 to 3
 *	policies of the common shapes: sts with policy-string and mx-host,
 *	tlsa, no-policy-found; 0 to 4 failure-details rows whose counts add
 *	up to the policy's failures; organisations, domains, dates and
 *	counts vary) and gzips it with gz_compress(). The report-ids are
 *	"<prefix>-<n>", so every report is new to the database unless the
 *	same prefix is used twice (the default prefix is made of the time
 *	and the process id).
 *
 *	Then POSTs them all with libcurl's multi interface: concurrency
 *	transfers in flight at any time over as many HTTP/1.1 keep-alive
 *	connections, Content-Type application/tlsrpt+gzip, no Expect:
 *	100-continue. -C names a CA file for an https:// URL.
 * OUTPUT
 *	One line on stdout: sent ok stored duplicate errors (non-2xx
 *	answers and transport failures) seconds (first request to last
 *	answer) rate (ok/seconds), then what the daemon should hold: the
 *	summed successful and failed session counts of the reports sent,
 *	json_bytes and gzip_bytes (averages per report), connections (new
 *	connections libcurl opened) and cpu (CPU seconds this program used
 *	while sending, to tell the client's share of a shared machine).
 *	-v prints the first few errors on stderr.
 * EXIT STATUS
 *	0 when every report was sent (errors are reported, not fatal), 1 on
 *	a setup error, 2 on a usage error.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "gz.h"
#include "mem.h"

#define MAX_COUNT 10000000
#define MAX_CONCURRENCY 1024
#define MAX_REPORT_BYTES (64 * 1024)
#define ANSWER_BYTES 64
#define SHOW_ERRORS 5

struct report {
	char *gz;
	size_t len;
};

/* One transfer slot: an easy handle reused for report after report. */
struct slot {
	CURL *easy;
	char answer[ANSWER_BYTES];
	size_t answer_len;
	char errbuf[CURL_ERROR_SIZE];
};

static struct {
	const char *url;
	long count;
	long concurrency;
	const char *prefix;
	uint64_t seed;
	const char *cafile;
	int verbose;
} opt = { NULL, 10000, 32, NULL, 1, NULL, 0 };

static struct {
	long sent, ok, stored, duplicate, errors, shown;
	int64_t sessions_ok, sessions_failed;
	uint64_t json_bytes, gzip_bytes;
	long connections;
} st;

static void
usage(void)
{
	fprintf(stderr, "usage: tlsrpt-ingest-load -u url [-n count] [-c concurrency] "
	    "[-p prefix] [-S seed] [-C cafile] [-v]\n");
	exit(2);
}

static void
die(const char *what)
{
	fprintf(stderr, "tlsrpt-ingest-load: %s\n", what);
	exit(1);
}

static long
number(const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

static uint64_t rng_state;

/* xorshift64*: reproducible from -S, good enough for test data. */
static uint64_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp) || buf_append(b, tmp, (size_t)n) != 0)
		die("report larger than expected");
}

static const char *const orgs[] = {
	"Google Inc.", "Microsoft Corporation", "Mail.ru", "Yahoo Inc.",
	"Comcast Cable", "GMX & WEB.DE", "Fastmail Pty Ltd", "mailbox.org",
};
static const char *const result_types[] = {
	"certificate-expired", "certificate-host-mismatch", "validation-failure",
	"starttls-not-supported", "sts-policy-fetch-error", "tlsa-invalid",
	"dnssec-invalid", "certificate-not-trusted",
};

/* failure-details rows adding up to failed. */
static void
put_failures(struct buf *b, unsigned dom, int64_t failed)
{
	unsigned rows = failed == 0 ? 0 : 1 + pick(failed < 4 ? (unsigned)failed : 4);
	int64_t left = failed;

	if (rows == 0)
		return;
	put(b, ",\n   \"failure-details\": [");
	for (unsigned r = 0; r < rows; r++) {
		int64_t c = r + 1 == rows ? left : 1 + (int64_t)pick((unsigned)(left - (rows - r) + 1));
		left -= c;
		put(b, "%s\n    {\"result-type\": \"%s\", \"sending-mta-ip\": \"198.51.100.%u\","
		    " \"receiving-mx-hostname\": \"mx%u.domain%u.example\","
		    " \"receiving-ip\": \"203.0.113.%u\", \"failed-session-count\": %" PRId64 "%s}",
		    r ? "," : "", result_types[pick(8)], 1 + pick(250), 1 + r % 2, dom,
		    1 + pick(250), c, pick(3) == 0 ?
		    ", \"additional-information\": \"https://reporter.example/info\"" : "");
	}
	put(b, "\n   ]");
}

static void
put_policy(struct buf *b, unsigned dom, int64_t *ok, int64_t *failed)
{
	unsigned shape = pick(10);
	int64_t s = pick(5) == 0 ? 0 : 1 + pick(5000);
	int64_t f = pick(2) == 0 ? 1 + pick(40) : 0;

	put(b, "  {\n   \"policy\": {\n");
	if (shape < 6) {
		put(b, "    \"policy-type\": \"sts\",\n    \"policy-string\": [\"version: STSv1\","
		    " \"mode: %s\", \"mx: mx1.domain%u.example\", \"mx: mx2.domain%u.example\","
		    " \"max_age: %u\"],\n    \"policy-domain\": \"domain%u.example\",\n"
		    "    \"mx-host\": [\"mx1.domain%u.example\", \"mx2.domain%u.example\"]\n",
		    pick(4) ? "enforce" : "testing", dom, dom, 86400u * (1 + pick(30)), dom,
		    dom, dom);
	} else if (shape < 8) {
		put(b, "    \"policy-type\": \"tlsa\",\n    \"policy-string\": [\"3 1 1 "
		    "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "\"],\n"
		    "    \"policy-domain\": \"mx1.domain%u.example\"\n",
		    rnd(), rnd(), rnd(), rnd(), dom);
	} else {
		put(b, "    \"policy-type\": \"no-policy-found\",\n"
		    "    \"policy-domain\": \"domain%u.example\"\n", dom);
	}
	put(b, "   },\n   \"summary\": {\n    \"total-successful-session-count\": %" PRId64
	    ",\n    \"total-failure-session-count\": %" PRId64 "\n   }", s, f);
	put_failures(b, dom, f);
	put(b, "\n  }");
	*ok += s;
	*failed += f;
}

/* Report n as JSON into b. */
static void
make_json(struct buf *b, long n, int64_t *ok, int64_t *failed)
{
	unsigned policies = 1 + (pick(2) == 0) + (pick(4) == 0);
	unsigned dom = pick(100000);
	unsigned day = 1 + pick(28);

	buf_reset(b);
	put(b, "{\n \"organization-name\": \"%s\",\n \"date-range\": {\n"
	    "  \"start-datetime\": \"2026-02-%02uT00:00:00Z\",\n"
	    "  \"end-datetime\": \"2026-02-%02uT23:59:59Z\"\n },\n"
	    " \"contact-info\": \"tlsrpt-noreply@reporter%u.example\",\n"
	    " \"report-id\": \"%s-%ld\",\n \"policies\": [\n",
	    orgs[pick(8)], day, day, pick(8), opt.prefix, n);
	for (unsigned p = 0; p < policies; p++) {
		if (p)
			put(b, ",\n");
		put_policy(b, (dom + p) % 100000, ok, failed);
	}
	put(b, "\n ]\n}\n");
}

static struct report *
make_reports(void)
{
	struct report *r = xcalloc((size_t)opt.count, sizeof(*r));
	struct buf json, gz;

	buf_init(&json, MAX_REPORT_BYTES);
	buf_init(&gz, MAX_REPORT_BYTES);
	for (long i = 0; i < opt.count; i++) {
		make_json(&json, i, &st.sessions_ok, &st.sessions_failed);
		buf_reset(&gz);
		if (gz_compress(json.data, json.len, &gz) != 0)
			die("gz_compress failed");
		r[i].gz = xmalloc(gz.len);
		memcpy(r[i].gz, gz.data, gz.len);
		r[i].len = gz.len;
		st.json_bytes += json.len;
		st.gzip_bytes += gz.len;
	}
	buf_free(&json);
	buf_free(&gz);
	return r;
}

static size_t
on_answer(char *data, size_t size, size_t nmemb, void *arg)
{
	struct slot *s = arg;
	size_t n = size * nmemb, room = sizeof(s->answer) - 1 - s->answer_len;

	memcpy(s->answer + s->answer_len, data, n < room ? n : room);
	s->answer_len += n < room ? n : room;
	s->answer[s->answer_len] = '\0';
	return n;
}

static void
start(CURLM *multi, struct slot *s, const struct report *r)
{
	s->answer_len = 0;
	s->answer[0] = '\0';
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, r->gz);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
	if (curl_multi_add_handle(multi, s->easy) != CURLM_OK)
		die("curl_multi_add_handle failed");
	st.sent++;
}

static void
finish(struct slot *s, CURLcode rc)
{
	long code = 0, conns = 0;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &conns);
	st.connections += conns;
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		st.ok++;
		if (strncmp(s->answer, "stored", 6) == 0)
			st.stored++;
		else if (strncmp(s->answer, "duplicate", 9) == 0)
			st.duplicate++;
		return;
	}
	st.errors++;
	if (opt.verbose && st.shown++ < SHOW_ERRORS)
		fprintf(stderr, "tlsrpt-ingest-load: %s\n", rc != CURLE_OK ?
		    (*s->errbuf ? s->errbuf : curl_easy_strerror(rc)) : s->answer);
}

static struct slot *
make_slots(struct curl_slist *headers)
{
	struct slot *slots = xcalloc((size_t)opt.concurrency, sizeof(*slots));

	for (long i = 0; i < opt.concurrency; i++) {
		CURL *e = curl_easy_init();

		if (e == NULL)
			die("curl_easy_init failed");
		curl_easy_setopt(e, CURLOPT_URL, opt.url);
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &slots[i]);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, slots[i].errbuf);
		curl_easy_setopt(e, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		if (opt.cafile != NULL)
			curl_easy_setopt(e, CURLOPT_CAINFO, opt.cafile);
		curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
		slots[i].easy = e;
	}
	return slots;
}

static void
run(const struct report *reports, struct slot *slots)
{
	CURLM *multi = curl_multi_init();
	CURLMsg *m;
	long next = 0, running_slots = 0;
	int still, left;

	if (multi == NULL)
		die("curl_multi_init failed");
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, opt.concurrency);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, opt.concurrency);
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	for (long i = 0; i < opt.concurrency && next < opt.count; i++, running_slots++)
		start(multi, &slots[i], &reports[next++]);
	while (running_slots > 0) {
		if (curl_multi_perform(multi, &still) != CURLM_OK)
			die("curl_multi_perform failed");
		while ((m = curl_multi_info_read(multi, &left)) != NULL) {
			struct slot *s;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			finish(s, m->data.result);
			curl_multi_remove_handle(multi, s->easy);
			if (next < opt.count)
				start(multi, s, &reports[next++]);
			else
				running_slots--;
		}
		if (running_slots > 0 && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
			die("curl_multi_poll failed");
	}
	curl_multi_cleanup(multi);
}

int
main(int argc, char **argv)
{
	char prefix[64];
	struct curl_slist *headers = NULL;
	struct report *reports;
	struct slot *slots;
	int64_t t0, t1;
	double secs, cpu0, cpu1;
	int ch;

	while ((ch = getopt(argc, argv, "u:n:c:p:S:C:v")) != -1) {
		switch (ch) {
		case 'u': opt.url = optarg; break;
		case 'n': opt.count = number(optarg, 1, MAX_COUNT); break;
		case 'c': opt.concurrency = number(optarg, 1, MAX_CONCURRENCY); break;
		case 'p': opt.prefix = optarg; break;
		case 'S': opt.seed = (uint64_t)number(optarg, 1, INT32_MAX); break;
		case 'C': opt.cafile = optarg; break;
		case 'v': opt.verbose = 1; break;
		default: usage();
		}
	}
	if (opt.url == NULL || optind != argc)
		usage();
	if (opt.prefix == NULL) {
		snprintf(prefix, sizeof(prefix), "load-%lld-%ld", (long long)time(NULL),
		    (long)getpid());
		opt.prefix = prefix;
	}
	rng_state = opt.seed * 0x9E3779B97F4A7C15ULL | 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init failed");
	reports = make_reports();
	headers = curl_slist_append(headers, "Content-Type: application/tlsrpt+gzip");
	headers = curl_slist_append(headers, "Expect:");
	if (headers == NULL)
		die("out of memory");
	slots = make_slots(headers);
	cpu0 = cpu_seconds();
	t0 = now_ns();
	run(reports, slots);
	t1 = now_ns();
	cpu1 = cpu_seconds();
	secs = (double)(t1 - t0) / 1e9;
	printf("sent=%ld ok=%ld stored=%ld duplicate=%ld errors=%ld seconds=%.3f rate=%.0f "
	    "sessions_ok=%" PRId64 " sessions_failed=%" PRId64 " json_bytes=%" PRIu64
	    " gzip_bytes=%" PRIu64 " connections=%ld concurrency=%ld cpu=%.2f\n",
	    st.sent, st.ok, st.stored, st.duplicate, st.errors, secs,
	    secs > 0 ? (double)st.ok / secs : 0.0, st.sessions_ok, st.sessions_failed,
	    st.json_bytes / (uint64_t)opt.count, st.gzip_bytes / (uint64_t)opt.count,
	    st.connections, opt.concurrency, cpu1 - cpu0);
	for (long i = 0; i < opt.concurrency; i++)
		curl_easy_cleanup(slots[i].easy);
	for (long i = 0; i < opt.count; i++)
		free(reports[i].gz);
	free(reports);
	free(slots);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	return 0;
}
