/*
 * NAME
 *	pflog_track - pair Postfix TLS log lines with their delivery lines
 * DESCRIPTION
 *	See pflog_track.h. Processes live in an open-addressing table keyed
 *	by pid (linear probing, backward-shift deletion, load <= 1/2), so a
 *	busy server costs one probe per line. Time is log time: the newest
 *	timestamp seen so far, which keeps replays of old logs exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "mem.h"
#include "pflog_track.h"

#define EVICT_SAMPLE 32
#define SWEEPS_PER_TIMEOUT 16

struct outcome {
	char host[PF_HOST_MAX + 1];
	char ip[PF_IP_MAX + 1];
	char reason[PF_REASON_MAX + 1];
	long code;		/* 0: success so far */
	enum pflog_level level;	/* summary line seen, PF_LEVEL_NONE if not */
	int dane;
	int done;		/* connection over: later lines open another */
};

struct proc {
	long pid;		/* 0: free slot */
	time_t updated;
	time_t emitted_at;
	char last_qid[PF_QID_MAX + 1];
	int n;
	struct outcome *out;	/* PF_MAX_PER_PID, allocated on first use */
};

struct pflog_track {
	struct pflog_config cfg;
	pflog_emit_fn *emit;
	void *arg;
	struct proc *slots;
	size_t cap;		/* power of two >= 2 * max_pending */
	size_t used;
	size_t cursor;		/* where evict_one() looks next */
	time_t clock;
	time_t swept;
	time_t sweep_every_s;
	char own[PF_OWN_QIDS][PF_QID_MAX + 1];
	size_t own_next;
	size_t own_count;	/* slots of own[] in use */
	struct pflog_counts counts;
};

static const long codes[PF_NCODES] = {
	201, 202, 203, 204, 205, 301, 302, 303, 304, 305, 306,
};

int
pflog_code_index(long code)
{
	for (int i = 0; i < PF_NCODES; i++)
		if (codes[i] == code)
			return i;
	return -1;
}

long
pflog_index_code(int index)
{
	return index >= 0 && index < PF_NCODES ? codes[index] : -1;
}

struct pflog_track *
pflog_track_new(const struct pflog_config *cfg, pflog_emit_fn *emit, void *arg)
{
	struct pflog_track *t = xcalloc(1, sizeof(*t));

	t->cfg = *cfg;
	if (t->cfg.max_pending < 1)
		t->cfg.max_pending = 1;
	for (t->cap = 4; t->cap < 2 * t->cfg.max_pending; t->cap *= 2)
		;
	t->slots = xcalloc(t->cap, sizeof(*t->slots));
	t->sweep_every_s = (time_t)(t->cfg.timeout_s / SWEEPS_PER_TIMEOUT);
	if (t->sweep_every_s < 1)
		t->sweep_every_s = 1;
	t->emit = emit;
	t->arg = arg;
	return t;
}

static size_t
slot_of(const struct pflog_track *t, long pid)
{
	return ((unsigned long)pid * 2654435761UL) & (t->cap - 1);
}

static struct proc *
proc_find(struct pflog_track *t, long pid)
{
	for (size_t i = slot_of(t, pid);; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].pid == pid)
			return &t->slots[i];
		if (t->slots[i].pid == 0)
			return NULL;
	}
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void
proc_remove(struct pflog_track *t, struct proc *p)
{
	size_t hole = (size_t)(p - t->slots), i = hole;

	t->counts.unmatched += (unsigned long long)p->n;
	free(p->out);
	memset(p, 0, sizeof(*p));
	t->used--;
	for (;;) {
		i = (i + 1) & (t->cap - 1);
		if (t->slots[i].pid == 0)
			return;
		size_t home = slot_of(t, t->slots[i].pid);
		/* Move i into the hole unless its home lies in (hole, i]. */
		if (((i - home) & (t->cap - 1)) >= ((i - hole) & (t->cap - 1))) {
			t->slots[hole] = t->slots[i];
			memset(&t->slots[i], 0, sizeof(t->slots[i]));
			hole = i;
		}
	}
}

/*
 * Table full: drop the least recently active of EVICT_SAMPLE processes
 * found from a rotating cursor (approximate LRU, O(1) per insert).
 */
static void
evict_one(struct pflog_track *t)
{
	struct proc *oldest = NULL;
	int seen = 0;

	for (size_t n = 0; n < t->cap && seen < EVICT_SAMPLE; n++) {
		struct proc *p = &t->slots[t->cursor];

		t->cursor = (t->cursor + 1) & (t->cap - 1);
		if (p->pid == 0)
			continue;
		seen++;
		if (oldest == NULL || p->updated < oldest->updated)
			oldest = p;
	}
	if (oldest != NULL)
		proc_remove(t, oldest);
}

static struct proc *
proc_get(struct pflog_track *t, long pid)
{
	struct proc *p = proc_find(t, pid);
	size_t i;

	if (p == NULL) {
		if (t->used >= t->cfg.max_pending)
			evict_one(t);
		for (i = slot_of(t, pid); t->slots[i].pid != 0;
		    i = (i + 1) & (t->cap - 1))
			;
		p = &t->slots[i];
		p->pid = pid;
		t->used++;
	}
	p->updated = t->clock;
	return p;
}

/*
 * Log time only moves forward. Idle processes are dropped in sweeps
 * SWEEPS_PER_TIMEOUT times per timeout, so one lives at most 1/16 longer.
 */
static void
advance_clock(struct pflog_track *t, time_t when)
{
	if (when > t->clock)
		t->clock = when;
	if (t->clock - t->swept < t->sweep_every_s)
		return;
	t->swept = t->clock;
	for (size_t i = 0; i < t->cap; i++)
		while (t->slots[i].pid != 0 &&
		    t->clock - t->slots[i].updated > t->cfg.timeout_s)
			proc_remove(t, &t->slots[i]);	/* refills slot i */
}

static struct outcome *
outcome_new(struct pflog_track *t, struct proc *p, const char *host,
    const char *ip)
{
	struct outcome *o;

	if (p->out == NULL)
		p->out = xcalloc(PF_MAX_PER_PID, sizeof(*p->out));
	if (p->n == PF_MAX_PER_PID) {	/* keep the newest */
		memmove(&p->out[0], &p->out[1], (PF_MAX_PER_PID - 1) * sizeof(*o));
		p->n--;
		t->counts.unmatched++;
	}
	o = &p->out[p->n++];
	memset(o, 0, sizeof(*o));
	memcpy(o->host, host, strlen(host) + 1);
	memcpy(o->ip, ip, strlen(ip) + 1);
	return o;
}

/* The newest session with this server; open ones only if asked. */
static struct outcome *
outcome_last(struct proc *p, const char *host, const char *ip, int open_only)
{
	for (int i = p->n - 1; i >= 0; i--) {
		struct outcome *o = &p->out[i];

		if (strcmp(o->host, host) == 0 && strcmp(o->ip, ip) == 0)
			return open_only && o->done ? NULL : o;
	}
	return NULL;
}

static void
set_failure(struct outcome *o, const struct pflog_event *ev)
{
	if (o->code != 0)	/* the first, most specific reason stays */
		return;
	o->code = ev->code;
	o->dane |= ev->dane;
	memcpy(o->reason, ev->reason, sizeof(o->reason));
	if (o->code != PF_CODE_NOT_VERIFIED)
		return;
	/* What Postfix >= 3.10 reports for this case (smtp_proto.c). */
	o->code = o->level == PF_LEVEL_TRUSTED ? 202 :
	    o->level == PF_LEVEL_VERIFIED ? 205 : 203;
}

static void
on_connection(struct pflog_track *t, long pid, const struct pflog_event *ev)
{
	struct proc *p = proc_get(t, pid);
	struct outcome *o = outcome_last(p, ev->host, ev->ip, 1);

	if (o == NULL)
		o = outcome_new(t, p, ev->host, ev->ip);
	t->counts.tls_lines++;
	switch (ev->kind) {
	case PF_TLS_ESTABLISHED:
		o->level = ev->level;
		o->done = 1;
		if (ev->level == PF_LEVEL_VERIFIED && t->cfg.dane_verified)
			o->dane = 1;
		break;
	case PF_HANDSHAKE_ERROR:
		o->done = 1;
		/* FALLTHROUGH */
	case PF_VERIFY_FAILED:
	case PF_TLSA_UNUSABLE:
		set_failure(o, ev);
		break;
	case PF_DANE_MATCHED:
		o->dane = 1;
		break;
	default:
		break;
	}
}

/*
 * "warning: TLS library problem: ..." right after "SSL_connect error to
 * h[a]:25: -1" holds the reason; the first such line is the most specific.
 */
static void
on_library(struct pflog_track *t, long pid, const struct pflog_event *ev)
{
	static const char bare[] = "tls-handshake-failure";
	struct proc *p = proc_find(t, pid);
	struct outcome *o;

	if (p == NULL || p->n == 0)
		return;
	o = &p->out[p->n - 1];
	if (o->code != 205 || strcmp(o->reason, bare) != 0 || ev->reason[0] == '\0')
		return;
	t->counts.tls_lines++;
	snprintf(o->reason, sizeof(o->reason), "%s: %.*s", bare,
	    (int)(sizeof(o->reason) - sizeof(bare) - 2), ev->reason);
}

/* A failure stated as a reason: policy lookup, skipped host, delivery. */
static void
on_reason(struct pflog_track *t, struct proc *p, const struct pflog_event *ev,
    int any_host)
{
	struct outcome *o = NULL;

	t->counts.tls_lines++;
	if (ev->kind == PF_POLICY_LOOKUP || ev->code == 201)
		o = NULL;	/* no TLS session precedes these */
	else if (any_host && p->n > 0)
		o = &p->out[p->n - 1];
	else if (!any_host)
		o = outcome_last(p, ev->host, ev->ip, 0);
	if (o == NULL)
		o = outcome_new(t, p, ev->host, ev->ip);
	set_failure(o, ev);
	o->done = 1;
}

static int
own_mail(const struct pflog_track *t, const char *qid)
{
	for (size_t i = 0; i < t->own_count; i++)
		if (strcmp(t->own[i], qid) == 0)
			return 1;
	return 0;
}

static void
remember_own(struct pflog_track *t, const struct pflog_event *ev)
{
	if (t->cfg.own_sender[0] == '\0' ||
	    strcasecmp(ev->addr, t->cfg.own_sender) != 0 || own_mail(t, ev->qid))
		return;
	memcpy(t->own[t->own_next], ev->qid, sizeof(t->own[0]));
	t->own_next = (t->own_next + 1) % PF_OWN_QIDS;
	if (t->own_count < PF_OWN_QIDS)
		t->own_count++;
}

/* user@Example.COM. -> example.com; 0 for IP literals and odd bytes. */
static int
report_domain(const char *addr, char *out, size_t cap)
{
	const char *at = strrchr(addr, '@');
	size_t n;

	if (at == NULL || (n = strlen(at + 1)) == 0 || at[1] == '[')
		return 0;
	if (at[n] == '.')
		n--;
	if (n == 0 || n > EV_MAX_DOMAIN || n >= cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = at[1 + i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_'))
			return 0;
		out[i] = c;
	}
	out[n] = '\0';
	return 1;
}

static void
emit_one(struct pflog_track *t, const char *domain, const struct outcome *o)
{
	struct pflog_result r;
	int idx;

	if (o->code == 0 && o->level == PF_LEVEL_NONE) {
		t->counts.unmatched++;	/* a fragment: no summary, no failure */
		return;
	}
	r.domain = domain;
	r.policy_type = o->dane ? EV_POLICY_TLSA : EV_POLICY_NONE;
	r.policy_domain = o->dane && o->host[0] != '\0' ? o->host : domain;
	r.code = o->code;
	r.mx_host = o->host;
	r.ip = o->ip;
	r.reason = o->code != 0 ? o->reason : "";
	t->counts.emitted++;
	if (o->code == 0)
		t->counts.success++;
	else if ((idx = pflog_code_index(o->code)) >= 0)
		t->counts.by_code[idx]++;
	t->emit(t->arg, &r);
}

static void
close_request(struct pflog_track *t, struct proc *p, const char *qid)
{
	p->n = 0;
	p->emitted_at = t->clock;
	memcpy(p->last_qid, qid, sizeof(p->last_qid));
}

static int
is_repeat(const struct pflog_track *t, const struct proc *p, const char *qid)
{
	return p->n == 0 && strcmp(p->last_qid, qid) == 0 &&
	    t->clock - p->emitted_at <= PF_DUP_WINDOW_S;
}

static void
on_delivery(struct pflog_track *t, long pid, const struct pflog_event *ev)
{
	struct proc *p = proc_find(t, pid);
	char domain[EV_MAX_DOMAIN + 1];

	if (ev->code != 0 && (p == NULL || !is_repeat(t, p, ev->qid))) {
		p = proc_get(t, pid);
		/* relay=none: the policy lookup lines already said it */
		if (!ev->relay_none || p->n == 0)
			on_reason(t, p, ev, 0);
	}
	if (p == NULL || p->n == 0)
		return;
	p->updated = t->clock;
	if (own_mail(t, ev->qid))
		t->counts.own_mail += (unsigned long long)p->n;
	else if (!report_domain(ev->addr, domain, sizeof(domain)))
		t->counts.bad_domain += (unsigned long long)p->n;
	else
		for (int i = 0; i < p->n; i++)
			emit_one(t, domain, &p->out[i]);
	close_request(t, p, ev->qid);
}

void
pflog_track_feed(struct pflog_track *t, const struct pflog_line *line,
    const struct pflog_event *ev)
{
	advance_clock(t, line->when);
	switch (ev->kind) {
	case PF_TLS_ESTABLISHED:
	case PF_VERIFY_FAILED:
	case PF_HANDSHAKE_ERROR:
	case PF_TLSA_UNUSABLE:
	case PF_DANE_MATCHED:
		on_connection(t, line->pid, ev);
		break;
	case PF_TLS_LIBRARY:
		on_library(t, line->pid, ev);
		break;
	case PF_POLICY_LOOKUP:
		on_reason(t, proc_get(t, line->pid), ev, 0);
		break;
	case PF_QUEUE_REASON:
		on_reason(t, proc_get(t, line->pid), ev, ev->code != 201);
		break;
	case PF_DELIVERY:
		on_delivery(t, line->pid, ev);
		break;
	case PF_QUEUE_FROM:
		remember_own(t, ev);
		break;
	case PF_NONE:
		break;
	}
}

void
pflog_track_finish(struct pflog_track *t)
{
	for (size_t i = 0; i < t->cap; i++)
		while (t->slots[i].pid != 0)
			proc_remove(t, &t->slots[i]);
}

const struct pflog_counts *
pflog_track_counts(const struct pflog_track *t)
{
	return &t->counts;
}

void
pflog_track_free(struct pflog_track *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->cap; i++)
		free(t->slots[i].out);
	free(t->slots);
	free(t);
}
