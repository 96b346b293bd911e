/*
 * NAME
 *	tally - the collector's in-memory pre-aggregation table
 * SYNOPSIS
 *	struct tally *t = tally_new(max_keys, max_key_bytes, seed);
 *	if (tally_add(t, "2026-11-23", ev) != 0) ... full, nothing added
 *	t->stats[STAT_RECEIVED]++;
 *	for (e = tally_first(t); e; e = tally_next(t, e)) ...
 *	tally_reset(t);
 * DESCRIPTION
 *	Counts sessions per aggregation key (PROTOCOL.md 1.4): per policy
 *	(UTC day, report domain, TLSRPT record, policy type, policy domain,
 *	policy strings, mx hosts) the successful and failed sessions, and
 *	per distinct failure-details entry under a policy its count.
 *
 *	An open-addressing hash table, sized once for max_keys, so adding
 *	never rehashes: a rehash of a large table would stall reception for
 *	milliseconds while the kernel queue holds only ten datagrams. Keys
 *	live in a bump-allocated slab released as a whole by tally_reset.
 *	The hash is seeded so a local sender cannot aim collisions.
 *
 *	tally_add() adds all of an event or nothing: when the keys it would
 *	create do not fit under max_keys it returns -1 and the caller flushes
 *	first. The collector's counters (stats) travel with the table, so a
 *	flush writes counts and counters in the same transaction.
 */
#ifndef TLSRPTD_TALLY_H
#define TLSRPTD_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum tally_stat {
	STAT_RECEIVED,		/* datagrams read from the socket */
	STAT_ACCEPTED,		/* datagrams with at least one counted policy */
	STAT_SESSIONS,		/* policy results counted */
	STAT_REJECTED,		/* datagrams rejected, any reason */
	STAT_REJECTED_BASE,	/* + enum ev_error: rejected per reason */
	STAT_DROPPED_POLICIES = STAT_REJECTED_BASE + EV_ERR__COUNT,
	STAT_DROPPED_FAILURES,
	STAT_REPAIRED_UTF8,
	STAT_UNKNOWN_VERSION,
	STAT_UNKNOWN_POLICY_TYPE,
	STAT_UNKNOWN_RESULT_CODE,
	STAT_T_MISMATCH,
	STAT_DROPPED_TABLE_FULL,
	STAT_QUEUE_FULL,	/* batches as large as the kernel queue: it was (nearly) full */
	STAT_FLUSHED_KEYS,
	STAT_FLUSH_ERRORS,
	STAT__COUNT
};

/* Counter name for logs and the collector_stat table; NULL if unused. */
const char *tally_stat_name(int stat);

struct tally_str {
	const char *p;		/* NUL-terminated */
	uint32_t len;
};

/* A decoded key, for writing it out. */
struct tally_policy_key {
	struct tally_str day, report_domain, record, policy_domain;
	long type;
	uint32_t nstrings, nmx;
	const unsigned char *strings, *mx;	/* use tally_list_get() */
};

struct tally_failure_key {
	long code;
	struct tally_str sending_ip, mx_hostname, mx_helo, receiving_ip,
	    additional_info, reason;
};

struct tally_entry {
	uint64_t hash;
	uint64_t count_a;	/* policy: successes; failure: sessions */
	uint64_t count_b;	/* policy: failures */
	int64_t db_id;		/* policy: row id, set while flushing */
	uint32_t policy;	/* failure: index of its policy; policy: UINT32_MAX */
	uint32_t keylen;
	uint32_t index;		/* position in insertion order */
	unsigned char key[];
};

struct tally {
	uint64_t stats[STAT__COUNT];
	/* the rest is private */
	uint64_t seed;
	uint32_t *slots;
	size_t slot_mask;
	struct tally_entry **entries;
	size_t nentries, max_keys;
	uint64_t nsessions;
	unsigned char *scratch;
	size_t scratch_cap;
	struct tally_chunk *chunks;
};

struct tally *tally_new(size_t max_keys, size_t max_key_bytes, uint64_t seed);
void tally_free(struct tally *t);
void tally_reset(struct tally *t);
int tally_add(struct tally *t, const char *day, const struct event *ev)
    __attribute__((warn_unused_result));
size_t tally_nkeys(const struct tally *t);
uint64_t tally_nsessions(const struct tally *t);
int tally_is_empty(const struct tally *t);

/* Entries in insertion order: every policy comes before its failures. */
struct tally_entry *tally_entry(const struct tally *t, size_t i);
int tally_entry_is_policy(const struct tally_entry *e);
void tally_policy_key(const struct tally_entry *e, struct tally_policy_key *k);
void tally_failure_key(const struct tally_entry *e, struct tally_failure_key *k);
/* Walks a list of strings in a policy key: returns the next position. */
const unsigned char *tally_list_get(const unsigned char *pos, struct tally_str *out);

#endif
