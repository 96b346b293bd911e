/*
 * NAME
 *	pflog_parse - recognise the Postfix (<= 3.9) log texts about TLS
 * DESCRIPTION
 *	See pflog_parse.h. Every pattern below is a Postfix 3.7 format
 *	string (src/tls/tls_misc.c, tls_client.c, tls_verify.c,
 *	src/smtp/smtp_proto.c, smtp_connect.c, smtp_tls_policy.c,
 *	smtp_trouble.c, src/global/log_adhoc.c); the table of what each
 *	becomes is in postfix-log.c. Input is untrusted: any byte sequence
 *	must give -1 or bounded, checked fields, never a crash.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "pflog_parse.h"

#define STARTS(s, lit) (strncmp((s), (lit), sizeof(lit) - 1) == 0)
#define SKIP(s, lit) ((s) + sizeof(lit) - 1)

/* Copies free text, control bytes and DEL as '?', cut at cap - 1. */
static void
copy_text(char *dst, size_t cap, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len && i + 1 < cap && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

/* dst = prefix + text (cleaned as copy_text does), cut at cap - 1. */
static void
copy_prefixed(char *dst, size_t cap, const char *prefix, const char *text,
    size_t len)
{
	size_t n = strlen(prefix);

	copy_text(dst, cap, prefix, n);
	if (n + 1 < cap)
		copy_text(dst + n, cap - n, text, len);
}

static int
is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* A host name of up to PF_HOST_MAX name bytes; returns its length. */
static size_t
host_span(const char *s)
{
	size_t n = 0;

	while (is_host_char(s[n]) && n <= PF_HOST_MAX)
		n++;
	return n;
}

/* "host[ip]" or "host[ip]:port", Postfix's namaddr(port); NULL if not. */
static const char *
parse_namaddr(const char *s, struct pflog_event *ev)
{
	unsigned char addr[16];
	size_t hlen = host_span(s), ilen;
	const char *ip = s + hlen + 1, *close;
	char buf[PF_IP_MAX + 1];

	if (hlen == 0 || hlen > PF_HOST_MAX || s[hlen] != '[' ||
	    (close = strchr(ip, ']')) == NULL ||
	    (ilen = (size_t)(close - ip)) == 0 || ilen > PF_IP_MAX)
		return NULL;
	memcpy(buf, ip, ilen);
	buf[ilen] = '\0';
	if (inet_pton(AF_INET, buf, addr) != 1 &&
	    inet_pton(AF_INET6, buf, addr) != 1)
		return NULL;
	memcpy(ev->host, s, hlen);
	ev->host[hlen] = '\0';
	memcpy(ev->ip, buf, ilen + 1);
	s = close + 1;
	if (*s == ':' && s[1] >= '0' && s[1] <= '9')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	return s;
}

/* A queue id followed by ": "; returns the text after it or NULL. */
static const char *
parse_qid(const char *s, struct pflog_event *ev)
{
	size_t n = 0;
	int upper_or_digit = 0;

	for (; n <= PF_QID_MAX; n++) {
		char c = s[n];

		if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			upper_or_digit = 1;
		else if (!(c >= 'a' && c <= 'z'))
			break;
	}
	/* "warning:", "fatal:" and friends are all lower case. */
	if (n < 5 || n > PF_QID_MAX || !upper_or_digit || s[n] != ':' ||
	    s[n + 1] != ' ')
		return NULL;
	memcpy(ev->qid, s, n);
	ev->qid[n] = '\0';
	return s + n + 2;
}

/* X509 verify errors as Postfix logs them (tls_log_verify_error()). */
static long
verify_text_code(const char *text, int *dane)
{
	static const struct { long num, code; } nums[] = {
		{ 2, 203 }, { 9, 205 }, { 10, 204 }, { 18, 203 }, { 19, 203 },
		{ 20, 203 }, { 21, 203 }, { 24, 203 }, { 27, 203 }, { 62, 202 },
		{ 65, 304 },
	};
	char *end;
	long num;

	*dane = 0;
	if (STARTS(text, "certificate has expired"))
		return 204;
	if (STARTS(text, "self-signed certificate") ||
	    STARTS(text, "untrusted issuer ") ||
	    STARTS(text, "not trusted by local or TLSA policy") ||
	    STARTS(text, "certificate chain longer than limit"))
		return 203;
	if (!STARTS(text, "num="))
		return 205;
	num = strtol(SKIP(text, "num="), &end, 10);
	if (*end != ':')
		return 205;
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if (nums[i].num == num) {
			*dane = nums[i].code == 304;
			return nums[i].code;
		}
	return 205;
}

static long
reason_tls_required(const char *text, struct pflog_event *ev)
{
	const char *s;

	if (STARTS(text, "TLS is required, but was not offered by host ")) {
		if (parse_namaddr(SKIP(text,
		    "TLS is required, but was not offered by host "), ev) == NULL)
			ev->host[0] = ev->ip[0] = '\0';
		copy_text(ev->reason, sizeof(ev->reason), "starttls-not-offered",
		    sizeof("starttls-not-offered"));
		return 201;
	}
	if (!STARTS(text, "TLS is required, but host ") ||
	    (s = parse_namaddr(SKIP(text, "TLS is required, but host "), ev)) == NULL ||
	    !STARTS(s, " refused to start TLS: "))
		return 0;
	s = SKIP(s, " refused to start TLS: ");
	copy_prefixed(ev->reason, sizeof(ev->reason), "starttls-refused: ", s,
	    strlen(s));
	return 201;
}

/* "TLSA lookup error for host:port" names the MX host. */
static long
reason_dane(const char *text, struct pflog_event *ev)
{
	static const struct { const char *text, *reason; long code; } dane[] = {
		{ "no TLSA records found", "no TLSA records found", 306 },
		{ "non DNSSEC destination", "non DNSSEC destination", 306 },
		{ "Verification not possible, MX RRset is insecure",
		  "MX RRset is insecure", 306 },
		{ "TLSA records unusable", "all-TLSA-records-unusable", 304 },
	};
	size_t n;

	if (STARTS(text, "TLSA lookup error for ")) {
		text = SKIP(text, "TLSA lookup error for ");
		if ((n = host_span(text)) > 0 && n <= PF_HOST_MAX && text[n] == ':') {
			memcpy(ev->host, text, n);
			ev->host[n] = '\0';
		}
		copy_text(ev->reason, sizeof(ev->reason), "TLSA lookup error",
		    sizeof("TLSA lookup error"));
		ev->dane = 1;
		return 305;
	}
	for (size_t i = 0; i < sizeof(dane) / sizeof(dane[0]); i++)
		if (strncmp(text, dane[i].text, strlen(dane[i].text)) == 0) {
			copy_text(ev->reason, sizeof(ev->reason), dane[i].reason,
			    strlen(dane[i].reason));
			ev->dane = dane[i].code == 304;
			return dane[i].code;
		}
	return 0;
}

long
pflog_reason_code(const char *text, struct pflog_event *ev)
{
	long code;

	ev->reason[0] = '\0';
	if ((code = reason_tls_required(text, ev)) != 0 ||
	    (code = reason_dane(text, ev)) != 0)
		return code;
	if (STARTS(text, "Cannot start TLS: handshake failure")) {
		copy_text(ev->reason, sizeof(ev->reason), "tls-handshake-failure",
		    sizeof("tls-handshake-failure"));
		return 205;
	}
	if (STARTS(text, "Server certificate not verified")) {
		copy_text(ev->reason, sizeof(ev->reason), text,
		    sizeof("Server certificate not verified") - 1);
		return PF_CODE_NOT_VERIFIED;
	}
	if (STARTS(text, "Server certificate not trusted")) {
		copy_text(ev->reason, sizeof(ev->reason), text,
		    sizeof("Server certificate not trusted") - 1);
		return 203;
	}
	return 0;
}

/* The reason text of an OpenSSL error line: error:CODE:LIB:FUNC:REASON:... */
static void
openssl_reason(const char *text, struct pflog_event *ev)
{
	const char *p = strstr(text, "error:"), *end;

	if (p != NULL) {
		p += sizeof("error:") - 1;
		for (int field = 0; field < 3 && p != NULL; field++)
			if ((p = strchr(p, ':')) != NULL)
				p++;
	}
	if (p == NULL || *p == '\0' || *p == ':')
		p = text;
	end = strchr(p, ':');
	copy_text(ev->reason, sizeof(ev->reason), p,
	    end != NULL && p != text ? (size_t)(end - p) : strlen(p));
}

static int
classify_warning(const char *w, struct pflog_event *ev)
{
	const char *s, *slash, *colon;

	if (STARTS(w, "TLS library problem: ")) {
		openssl_reason(SKIP(w, "TLS library problem: "), ev);
		ev->kind = PF_TLS_LIBRARY;
		return 0;
	}
	if (STARTS(w, "TLS policy lookup for ")) {
		s = SKIP(w, "TLS policy lookup for ");
		if ((colon = strstr(s, ": ")) == NULL ||
		    (slash = memchr(s, '/', (size_t)(colon - s))) == NULL ||
		    (ev->code = pflog_reason_code(colon + 2, ev)) == 0)
			return -1;
		if (ev->host[0] == '\0' && host_span(slash + 1) ==
		    (size_t)(colon - slash - 1) && colon - slash - 1 <= PF_HOST_MAX)
			copy_text(ev->host, sizeof(ev->host), slash + 1,
			    (size_t)(colon - slash - 1));
		ev->kind = PF_POLICY_LOOKUP;
		return 0;
	}
	if ((s = parse_namaddr(w, ev)) != NULL &&
	    STARTS(s, ": all TLSA records unusable")) {
		ev->kind = PF_TLSA_UNUSABLE;
		ev->code = 304;
		ev->dane = 1;
		copy_text(ev->reason, sizeof(ev->reason), "all-TLSA-records-unusable",
		    sizeof("all-TLSA-records-unusable"));
		return 0;
	}
	return -1;
}

static int
classify_summary(const char *m, struct pflog_event *ev)
{
	static const struct { const char *word; enum pflog_level level; } levels[] = {
		{ "Verified", PF_LEVEL_VERIFIED }, { "Trusted", PF_LEVEL_TRUSTED },
		{ "Untrusted", PF_LEVEL_UNTRUSTED },
		{ "Anonymous", PF_LEVEL_ANONYMOUS },
	};
	const char *s;

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		size_t n = strlen(levels[i].word);

		if (strncmp(m, levels[i].word, n) != 0 ||
		    !STARTS(m + n, " TLS connection established to "))
			continue;
		s = parse_namaddr(SKIP(m + n, " TLS connection established to "), ev);
		if (s == NULL || *s != ':')
			break;
		ev->level = levels[i].level;
		ev->kind = PF_TLS_ESTABLISHED;
		return 0;
	}
	return -1;
}

static int
classify_verify(const char *m, struct pflog_event *ev)
{
	const char *s;

	if (STARTS(m, "server ") || STARTS(m, "CA "))
		m = strchr(m, ' ') + 1;
	if (!STARTS(m, "certificate verification failed for ") ||
	    (s = parse_namaddr(SKIP(m, "certificate verification failed for "),
	    ev)) == NULL || !STARTS(s, ": "))
		return -1;
	s += 2;
	ev->code = verify_text_code(s, &ev->dane);
	copy_text(ev->reason, sizeof(ev->reason), s, strlen(s));
	ev->kind = PF_VERIFY_FAILED;
	return 0;
}

static int
classify_handshake(const char *m, struct pflog_event *ev)
{
	const char *s;

	if (!STARTS(m, "SSL_connect error to ") ||
	    (s = parse_namaddr(SKIP(m, "SSL_connect error to "), ev)) == NULL ||
	    !STARTS(s, ": "))
		return -1;
	s += 2;
	/* "-1": the reason follows in a "TLS library problem" line */
	if (strspn(s, "-0123456789") == strlen(s))
		copy_text(ev->reason, sizeof(ev->reason), "tls-handshake-failure",
		    sizeof("tls-handshake-failure"));
	else
		copy_prefixed(ev->reason, sizeof(ev->reason),
		    "tls-handshake-failure: ", s, strlen(s));
	ev->code = 205;
	ev->kind = PF_HANDSHAKE_ERROR;
	return 0;
}

/*
 * The text in "status=deferred (...)". It may name the server too (TLS is
 * required, but was not offered by host h[a]); relay= is the better source
 * of the address, so that one is kept when both are there.
 */
static void
status_reason(const char *text, size_t len, struct pflog_event *ev)
{
	char buf[PF_REASON_MAX + 1];
	struct pflog_event tmp;

	copy_text(buf, sizeof(buf), text, len);
	memset(&tmp, 0, sizeof(tmp));
	if ((ev->code = pflog_reason_code(buf, &tmp)) == 0)
		return;
	memcpy(ev->reason, tmp.reason, sizeof(ev->reason));
	ev->dane = tmp.dane;
	if (ev->host[0] == '\0')
		memcpy(ev->host, tmp.host, sizeof(ev->host));
}

/* "to=<a>, [orig_to=<b>, ]relay=R, ..., status=S (text)" */
static int
parse_delivery(const char *s, struct pflog_event *ev)
{
	const char *close, *relay, *status, *open, *last;

	s = SKIP(s, "to=<");
	if ((close = strstr(s, ">, ")) == NULL || close - s > PF_ADDR_MAX ||
	    (relay = strstr(close, ", relay=")) == NULL ||
	    (status = strstr(relay, ", status=")) == NULL)
		return -1;
	copy_text(ev->addr, sizeof(ev->addr), s, (size_t)(close - s));
	relay = SKIP(relay, ", relay=");
	if (STARTS(relay, "none,"))
		ev->relay_none = 1;
	else if (parse_namaddr(relay, ev) == NULL)
		ev->host[0] = ev->ip[0] = '\0';
	ev->kind = PF_DELIVERY;
	if ((open = strstr(status, " (")) != NULL &&
	    (last = strrchr(open, ')')) != NULL && last[1] == '\0')
		status_reason(open + 2, (size_t)(last - open - 2), ev);
	return 0;
}

static int
classify_smtp(const char *m, struct pflog_event *ev)
{
	const char *s;

	/* Each form has its own start, so a QID line never matches another. */
	if (STARTS(m, "warning: "))
		return classify_warning(SKIP(m, "warning: "), ev);
	if (classify_summary(m, ev) == 0 || classify_verify(m, ev) == 0)
		return 0;
	if (STARTS(m, "SSL_connect error to "))
		return classify_handshake(m, ev);
	if ((s = parse_namaddr(m, ev)) != NULL) {
		if (!STARTS(s, ": Matched DANE "))
			return -1;
		ev->kind = PF_DANE_MATCHED;
		ev->dane = 1;
		return 0;
	}
	if ((s = parse_qid(m, ev)) == NULL)
		return -1;
	if (STARTS(s, "to=<"))
		return parse_delivery(s, ev);
	if ((ev->code = pflog_reason_code(s, ev)) == 0)
		return -1;
	ev->kind = PF_QUEUE_REASON;
	return 0;
}

int
pflog_classify(const struct pflog_line *line, struct pflog_event *ev)
{
	const char *s, *close;

	memset(ev, 0, sizeof(*ev));
	if (!line->postfix || line->pid <= 0)
		return -1;
	if (line->prog_len == 4 && strncmp(line->prog, "smtp", 4) == 0)
		return classify_smtp(line->msg, ev);
	if (line->prog_len != 4 || strncmp(line->prog, "qmgr", 4) != 0 ||
	    (s = parse_qid(line->msg, ev)) == NULL || !STARTS(s, "from=<"))
		return -1;
	s = SKIP(s, "from=<");
	if ((close = strstr(s, ">, size=")) == NULL || close - s > PF_ADDR_MAX)
		return -1;
	copy_text(ev->addr, sizeof(ev->addr), s, (size_t)(close - s));
	ev->kind = PF_QUEUE_FROM;
	return 0;
}
