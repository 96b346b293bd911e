/*
 * NAME
 *	receiver - threads that read datagrams in batches and count them
 * DESCRIPTION
 *	See receiver.h. Buffers are one above the accepted maximum so that
 *	a datagram of exactly the maximum is not mistaken for a truncated
 *	one; MSG_TRUNC in the flags makes the kernel report the real length
 *	of anything larger.
 *
 *	A thread's lifetime counters are written by it alone and read by the
 *	signal-handling thread: relaxed atomics, a plain load and store on
 *	the hot path. The log rate limits are shared under a mutex taken
 *	only when a datagram is rejected or trimmed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "day.h"
#include "event.h"
#include "log.h"
#include "mem.h"
#include "receiver.h"

#define EXCERPT_BYTES 64

/* Log rate limits: per reason, not per thread. */
struct limits {
	pthread_mutex_t mu;
	struct ratelimit rl[EV_ERR__COUNT];
	struct ratelimit rl_parts, rl_unknown, rl_full;
};

struct receiver {
	struct receiver_opts o;
	struct flusher *f;
	int lane;
	int epfd;
	int stop_fd;
	struct limits *lim;
	struct tally *cur;
	pthread_t thread;
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
	_Atomic uint64_t lifetime[STAT__COUNT];
};

struct receivers {
	int n;
	int stop_fd;		/* eventfd, readable once the threads must stop */
	struct limits lim;
	struct receiver *r[RECEIVER_MAX_THREADS];
};

/* Every counter goes to the tally (written at flush) and the lifetime sum. */
#define STAT_ADD(r, t, i, n) do { \
	(t)->stats[i] += (n); \
	atomic_store_explicit(&(r)->lifetime[i], (n) + \
	    atomic_load_explicit(&(r)->lifetime[i], memory_order_relaxed), \
	    memory_order_relaxed); } while (0)

static int
limit_allow(struct limits *lim, struct ratelimit *rl)
{
	int ok;

	pthread_mutex_lock(&lim->mu);
	ok = ratelimit_allow(rl, time(NULL));
	pthread_mutex_unlock(&lim->mu);
	return ok;
}

static void
prepare(struct receiver *r)
{
	for (int i = 0; i < RECEIVER_BATCH; i++) {
		struct msghdr *m = &r->msgs[i].msg_hdr;

		r->iov[i].iov_base = r->bufs + (size_t)i * (r->o.max_datagram_bytes + 1);
		r->iov[i].iov_len = r->o.max_datagram_bytes + 1;
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
	if (!limit_allow(r->lim, &r->lim->rl[e]))
		return;
	sender_text(m, who, sizeof(who));
	if (e == EV_ERR_OVERSIZE) {
		log_warnx("rejected datagram from %s: %zu bytes is more than "
		    "collector_max_datagram_bytes (%zu)", who, len,
		    r->o.max_datagram_bytes);
		return;
	}
	excerpt(data, len < r->o.max_datagram_bytes ? len : r->o.max_datagram_bytes,
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
	    limit_allow(r->lim, &r->lim->rl_parts)) {
		sender_text(m, who, sizeof(who));
		log_warnx("datagram from %s for %s: dropped %u policies and %u "
		    "failure-details entries (%s), kept %u policies", who,
		    ev->domain.p, ev->dropped_policies, ev->dropped_failures,
		    ev_error_name(ev->part_error), ev->npolicies);
	}
	if (unknown_types + unknown_codes > 0 &&
	    limit_allow(r->lim, &r->lim->rl_unknown))
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
count(struct receiver *r, const struct event *ev, struct msghdr *m)
{
	if (tally_add(r->cur, r->day, ev) == 0) {
		note_event(r, r->cur, ev, m);
		return;
	}
	/* Table full: flush now, waiting for a busy (not failing) flusher. */
	if (!flusher_handoff(r->f, r->lane, &r->cur) &&
	    flusher_wait_idle(r->f, r->lane))
		(void)flusher_handoff(r->f, r->lane, &r->cur);
	if (tally_add(r->cur, r->day, ev) == 0) {
		note_event(r, r->cur, ev, m);
		return;
	}
	STAT_ADD(r, r->cur, STAT_DROPPED_TABLE_FULL, 1);
	if (limit_allow(r->lim, &r->lim->rl_full))
		log_warnx("aggregation table full (collector_max_keys) and the "
		    "database is not accepting writes: dropped a datagram for %s",
		    ev->domain.p);
}

/* Reads and counts one batch: datagrams read, or -1 (empty, EAGAIN). */
static int
batch(struct receiver *r)
{
	int n;

	prepare(r);
	n = recvmmsg(r->o.fd, r->msgs, RECEIVER_BATCH, MSG_DONTWAIT | MSG_TRUNC,
	    NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("recvmmsg");
		return -1;
	}
	update_day(r);
	if (r->queue_limit > 0 && n >= r->queue_limit)
		STAT_ADD(r, r->cur, STAT_QUEUE_FULL, 1);
	for (int i = 0; i < n; i++) {
		struct msghdr *m = &r->msgs[i].msg_hdr;
		const char *data = r->iov[i].iov_base;
		size_t len = r->msgs[i].msg_len;
		const struct event *ev;
		struct ev_diag diag = { 0, "" };
		enum ev_error e;

		STAT_ADD(r, r->cur, STAT_RECEIVED, 1);
		if (len > r->o.max_datagram_bytes || (m->msg_flags & MSG_TRUNC))
			e = EV_ERR_OVERSIZE;
		else
			e = ev_parse(r->parser, data, len, &ev, &diag);
		if (e != EV_OK)
			reject(r, r->cur, e, m, data, len, &diag);
		else
			count(r, ev, m);
	}
	return n;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next multiple of the interval: every thread hands over at once. */
static long long
next_grid(long long now, long long interval)
{
	return (now / interval + 1) * interval;
}

/*
 * Busy polling: after the queue runs dry, keep reading for a few
 * microseconds before going to sleep. Under dense traffic the receiver
 * then stays on its CPU instead of being woken, possibly on the
 * sender's CPU behind the sender, while the kernel queue (11 datagrams
 * by default) overflows. Sparse traffic costs a few microseconds per
 * datagram. Returns 1 when datagrams came in.
 */
static int
spin(struct receiver *r)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (batch(r) > 0)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000000L +
	    (now.tv_nsec - start.tv_nsec) / 1000 < r->o.busy_poll_us);
	return 0;
}

static void *
receiver_main(void *arg)
{
	struct receiver *r = arg;
	long long interval = r->o.flush_interval_ms;
	long long next_flush = next_grid(now_ms(), interval);
	int stop = 0;

	for (;;) {
		int n = batch(r);
		long long now = now_ms();

		if (now >= next_flush) {
			if (!tally_is_empty(r->cur))
				(void)flusher_handoff(r->f, r->lane, &r->cur);
			next_flush = next_grid(now, interval);
		}
		if (n > 0)
			continue;
		if (stop)
			break;	/* socket drained */
		if (r->o.busy_poll_us > 0 && spin(r))
			continue;
		struct epoll_event ev[2];
		long long timeout = next_flush - now;
		int nev = epoll_wait(r->epfd, ev, 2, timeout < 0 ? 0 :
		    timeout > 3600000 ? 3600000 : (int)timeout);
		if (nev < 0 && errno != EINTR)
			fatal("epoll_wait");
		for (int i = 0; i < nev; i++)
			if (ev[i].data.fd == r->stop_fd)
				stop = 1;
	}
	return NULL;
}

static void
receiver_free(struct receiver *r)
{
	if (r == NULL)
		return;
	if (r->epfd >= 0)
		close(r->epfd);
	tally_free(r->cur);
	ev_parser_free(r->parser);
	free(r->bufs);
	free(r);
}

static struct receiver *
receiver_new(const struct receiver_opts *o, struct receivers *rx, int lane,
    struct flusher *f, char *err, size_t errlen)
{
	struct receiver *r = xcalloc(1, sizeof(*r));
	struct epoll_event sock_ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	struct epoll_event stop_ev = { .events = EPOLLIN };

	r->o = *o;
	r->f = f;
	r->lane = lane;
	r->lim = &rx->lim;
	r->stop_fd = rx->stop_fd;
	r->queue_limit = o->queue_limit > 0 && o->queue_limit < RECEIVER_BATCH ?
	    o->queue_limit : 0;
	r->parser = ev_parser_new(o->max_datagram_bytes);
	r->bufs = xmalloc(RECEIVER_BATCH * (o->max_datagram_bytes + 1));
	r->cur = tally_new(o->max_keys, 4 * o->max_datagram_bytes, o->seed);
	r->day_start = -1;
	sock_ev.data.fd = o->fd;
	stop_ev.data.fd = rx->stop_fd;
	if ((r->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, o->fd, &sock_ev) != 0 ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, rx->stop_fd, &stop_ev) != 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		receiver_free(r);
		return NULL;
	}
	return r;
}

struct receivers *
receivers_start(const struct receiver_opts *o, int n, struct flusher *f,
    char *err, size_t errlen)
{
	struct receivers *rx = xcalloc(1, sizeof(*rx));
	struct ratelimit rl = RATELIMIT_INIT(5, 60);

	if (n < 1 || n > RECEIVER_MAX_THREADS) {
		snprintf(err, errlen, "%d receiver threads: 1 to %d", n,
		    RECEIVER_MAX_THREADS);
		free(rx);
		return NULL;
	}
	pthread_mutex_init(&rx->lim.mu, NULL);
	for (int i = 0; i < EV_ERR__COUNT; i++)
		rx->lim.rl[i] = rl;
	rx->lim.rl_parts = rx->lim.rl_unknown = rx->lim.rl_full = rl;
	if ((rx->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		pthread_mutex_destroy(&rx->lim.mu);
		free(rx);
		return NULL;
	}
	for (; rx->n < n; rx->n++) {
		struct receiver *r = receiver_new(o, rx, rx->n, f, err, errlen);

		if (r == NULL)
			goto fail;
		if ((errno = pthread_create(&r->thread, NULL, receiver_main, r)) != 0) {
			snprintf(err, errlen, "pthread_create: %s", strerror(errno));
			receiver_free(r);
			goto fail;
		}
		rx->r[rx->n] = r;
	}
	return rx;
fail:
	receivers_stop(rx, NULL);
	receivers_free(rx);
	return NULL;
}

void
receivers_stop(struct receivers *rx, struct tally **last)
{
	uint64_t one = 1;

	/* Never read: it stays readable and wakes every thread for good. */
	if (write(rx->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		fatal("eventfd write");
	for (int i = 0; i < rx->n; i++) {
		pthread_join(rx->r[i]->thread, NULL);
		if (last != NULL)
			last[i] = rx->r[i]->cur;
		else
			tally_free(rx->r[i]->cur);
		rx->r[i]->cur = NULL;
	}
}

void
receivers_free(struct receivers *rx)
{
	if (rx == NULL)
		return;
	for (int i = 0; i < rx->n; i++)
		receiver_free(rx->r[i]);
	close(rx->stop_fd);
	pthread_mutex_destroy(&rx->lim.mu);
	free(rx);
}

void
receivers_log_stats(const struct receivers *rx)
{
	uint64_t sum[STAT__COUNT] = { 0 };
	char line[1024];
	size_t o = 0;

	for (int t = 0; t < rx->n; t++)
		for (int i = 0; i < STAT__COUNT; i++)
			sum[i] += atomic_load_explicit(&rx->r[t]->lifetime[i],
			    memory_order_relaxed);
	line[0] = '\0';
	for (int i = 0; i < STAT__COUNT; i++) {
		const char *name = tally_stat_name(i);
		int n;

		if (name == NULL || (sum[i] == 0 && i > STAT_REJECTED))
			continue;
		n = snprintf(line + o, sizeof(line) - o, "%s%s=%llu", o ? " " : "",
		    name, (unsigned long long)sum[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - o)
			break;
		o += (size_t)n;
	}
	log_info("counters since start: %s", line);
}
