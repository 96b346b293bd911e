/*
 * NAME
 *	receiver - read datagrams in batches and count them
 * DESCRIPTION
 *	See receiver.h. Buffers are one above the accepted maximum so that
 *	a datagram of exactly the maximum is not mistaken for a truncated
 *	one; MSG_TRUNC in the flags makes the kernel report the real length
 *	of anything larger.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "day.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "receiver.h"

#define EXCERPT_BYTES 64

struct receiver {
	int fd;
	size_t max_datagram;
	long queue_limit;	/* datagrams the kernel queues, or 0 */
	struct ev_parser *parser;
	char *bufs;
	struct mmsghdr msgs[RECEIVER_BATCH];
	struct iovec iov[RECEIVER_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} cmsg[RECEIVER_BATCH];
	char day[DAY_LEN];
	time_t day_start;
	struct ratelimit rl[EV_ERR__COUNT];
	struct ratelimit rl_parts, rl_unknown, rl_full;
	uint64_t lifetime[STAT__COUNT];
};

/* Every counter goes to the tally (written at flush) and the lifetime sum. */
#define STAT_ADD(r, t, i, n) do { \
	(t)->stats[i] += (n); (r)->lifetime[i] += (n); } while (0)

struct receiver *
receiver_new(int fd, size_t max_datagram_bytes, long queue_limit)
{
	struct receiver *r = xcalloc(1, sizeof(*r));
	struct ratelimit rl = RATELIMIT_INIT(5, 60);

	r->fd = fd;
	r->max_datagram = max_datagram_bytes;
	r->queue_limit = queue_limit > 0 && queue_limit < RECEIVER_BATCH ?
	    queue_limit : 0;
	r->parser = ev_parser_new(max_datagram_bytes);
	r->bufs = xmalloc(RECEIVER_BATCH * (max_datagram_bytes + 1));
	for (int i = 0; i < EV_ERR__COUNT; i++)
		r->rl[i] = rl;
	r->rl_parts = r->rl_unknown = r->rl_full = rl;
	r->day_start = -1;
	return r;
}

void
receiver_free(struct receiver *r)
{
	if (r == NULL)
		return;
	ev_parser_free(r->parser);
	free(r->bufs);
	free(r);
}

static void
prepare(struct receiver *r)
{
	for (int i = 0; i < RECEIVER_BATCH; i++) {
		struct msghdr *m = &r->msgs[i].msg_hdr;

		r->iov[i].iov_base = r->bufs + (size_t)i * (r->max_datagram + 1);
		r->iov[i].iov_len = r->max_datagram + 1;
		memset(m, 0, sizeof(*m));
		m->msg_iov = &r->iov[i];
		m->msg_iovlen = 1;
		m->msg_control = r->cmsg[i].buf;
		m->msg_controllen = sizeof(r->cmsg[i].buf);
	}
}

/* "pid 123 uid 107" from SCM_CREDENTIALS, or "unknown sender". */
static void
sender_text(struct msghdr *m, char *out, size_t outlen)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			snprintf(out, outlen, "pid %ld uid %ld", (long)cred.pid,
			    (long)cred.uid);
			return;
		}
	}
	snprintf(out, outlen, "unknown sender");
}

/* Printable excerpt around offset: non-printable bytes become \xNN. */
static void
excerpt(const char *p, size_t len, size_t offset, char *out, size_t outlen)
{
	size_t start = offset > EXCERPT_BYTES / 2 ? offset - EXCERPT_BYTES / 2 : 0;
	size_t o = 0;

	for (size_t i = start; i < len && i < start + EXCERPT_BYTES; i++) {
		unsigned char c = (unsigned char)p[i];
		int n = (c >= 0x20 && c < 0x7F && c != '\\') ?
		    snprintf(out + o, outlen - o, "%c", c) :
		    snprintf(out + o, outlen - o, "\\x%02x", c);
		if (n < 0 || (size_t)n >= outlen - o)
			break;
		o += (size_t)n;
	}
	out[o] = '\0';
}

static void
reject(struct receiver *r, struct tally *t, enum ev_error e, struct msghdr *m,
    const char *data, size_t len, const struct ev_diag *diag)
{
	char who[64], ex[4 * EXCERPT_BYTES + 1];

	STAT_ADD(r, t, STAT_REJECTED, 1);
	STAT_ADD(r, t, STAT_REJECTED_BASE + e, 1);
	if (!ratelimit_allow(&r->rl[e], time(NULL)))
		return;
	sender_text(m, who, sizeof(who));
	if (e == EV_ERR_OVERSIZE) {
		log_warnx("rejected datagram from %s: %zu bytes is more than "
		    "collector_max_datagram_bytes (%zu)", who, len, r->max_datagram);
		return;
	}
	excerpt(data, len < r->max_datagram ? len : r->max_datagram,
	    diag->offset, ex, sizeof(ex));
	log_warnx("rejected datagram from %s (%zu bytes): %s: %s at byte %zu "
	    "near \"%s\"", who, len, ev_error_name(e), diag->what,
	    diag->offset, ex);
}

static void
note_event(struct receiver *r, struct tally *t, const struct event *ev,
    struct msghdr *m)
{
	uint64_t unknown_types = 0, unknown_codes = 0;
	char who[64];

	STAT_ADD(r, t, STAT_ACCEPTED, 1);
	STAT_ADD(r, t, STAT_SESSIONS, ev->npolicies);
	STAT_ADD(r, t, STAT_DROPPED_POLICIES, ev->dropped_policies);
	STAT_ADD(r, t, STAT_DROPPED_FAILURES, ev->dropped_failures);
	STAT_ADD(r, t, STAT_REPAIRED_UTF8, ev->repaired_strings);
	STAT_ADD(r, t, STAT_T_MISMATCH, ev->t_mismatches);
	if (ev->dpv.len != 0 && strcmp(ev->dpv.p, "1") != 0)
		STAT_ADD(r, t, STAT_UNKNOWN_VERSION, 1);
	for (uint32_t i = 0; i < ev->npolicies; i++) {
		const struct ev_policy *p = &ev->policies[i];
		if (ev_policy_type_name(p->type) == NULL)
			unknown_types++;
		for (uint32_t j = 0; j < p->nfailures; j++)
			if (ev_result_type_name(p->failures[j].code) == NULL)
				unknown_codes++;
	}
	STAT_ADD(r, t, STAT_UNKNOWN_POLICY_TYPE, unknown_types);
	STAT_ADD(r, t, STAT_UNKNOWN_RESULT_CODE, unknown_codes);
	if (ev->dropped_policies + ev->dropped_failures > 0 &&
	    ratelimit_allow(&r->rl_parts, time(NULL))) {
		sender_text(m, who, sizeof(who));
		log_warnx("datagram from %s for %s: dropped %u policies and %u "
		    "failure-details entries (%s), kept %u policies", who,
		    ev->domain.p, ev->dropped_policies, ev->dropped_failures,
		    ev_error_name(ev->part_error), ev->npolicies);
	}
	if (unknown_types + unknown_codes > 0 &&
	    ratelimit_allow(&r->rl_unknown, time(NULL)))
		log_warnx("datagram for %s has %llu unknown policy types and "
		    "%llu unknown failure codes; counted and kept as sent",
		    ev->domain.p, (unsigned long long)unknown_types,
		    (unsigned long long)unknown_codes);
}

static void
update_day(struct receiver *r)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (r->day_start < 0 || ts.tv_sec < r->day_start ||
	    ts.tv_sec >= r->day_start + 86400) {
		day_format(ts.tv_sec, r->day);
		r->day_start = ts.tv_sec - ts.tv_sec % 86400;
	}
}

static void
count(struct receiver *r, struct tally **cur, struct flusher *f,
    const struct event *ev, struct msghdr *m)
{
	if (tally_add(*cur, r->day, ev) == 0) {
		note_event(r, *cur, ev, m);
		return;
	}
	/* Table full: flush now, waiting for a busy (not failing) flusher. */
	if (!flusher_handoff(f, cur) && flusher_wait_idle(f))
		(void)flusher_handoff(f, cur);
	if (tally_add(*cur, r->day, ev) == 0) {
		note_event(r, *cur, ev, m);
		return;
	}
	STAT_ADD(r, *cur, STAT_DROPPED_TABLE_FULL, 1);
	log_limited(&r->rl_full, "aggregation table full (collector_max_keys) "
	    "and the database is not accepting writes: dropped a datagram for %s",
	    ev->domain.p);
}

int
receiver_batch(struct receiver *r, struct tally **cur, struct flusher *f)
{
	int n;

	prepare(r);
	n = recvmmsg(r->fd, r->msgs, RECEIVER_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("recvmmsg");
		return -1;
	}
	update_day(r);
	if (r->queue_limit > 0 && n >= r->queue_limit)
		STAT_ADD(r, *cur, STAT_QUEUE_FULL, 1);
	for (int i = 0; i < n; i++) {
		struct msghdr *m = &r->msgs[i].msg_hdr;
		const char *data = r->iov[i].iov_base;
		size_t len = r->msgs[i].msg_len;
		const struct event *ev;
		struct ev_diag diag = { 0, "" };
		enum ev_error e;

		STAT_ADD(r, *cur, STAT_RECEIVED, 1);
		if (len > r->max_datagram || (m->msg_flags & MSG_TRUNC))
			e = EV_ERR_OVERSIZE;
		else
			e = ev_parse(r->parser, data, len, &ev, &diag);
		if (e != EV_OK)
			reject(r, *cur, e, m, data, len, &diag);
		else
			count(r, cur, f, ev, m);
	}
	return n;
}

void
receiver_log_stats(const struct receiver *r)
{
	char line[1024];
	size_t o = 0;

	line[0] = '\0';
	for (int i = 0; i < STAT__COUNT; i++) {
		const char *name = tally_stat_name(i);
		int n;

		if (name == NULL || (r->lifetime[i] == 0 && i > STAT_REJECTED))
			continue;
		n = snprintf(line + o, sizeof(line) - o, "%s%s=%llu", o ? " " : "",
		    name, (unsigned long long)r->lifetime[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - o)
			break;
		o += (size_t)n;
	}
	log_info("counters since start: %s", line);
}
