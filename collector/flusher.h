/*
 * NAME
 *	flusher - write tallies to the database off the receive path
 * SYNOPSIS
 *	struct flusher *f = flusher_start(db_path, busy_ms, retry_ms, max_keys, ...);
 *	if (flusher_handoff(f, &current)) ... current is now an empty tally
 *	flusher_wait_idle(f);
 *	rc = flusher_stop(f);	0 when everything was written
 * DESCRIPTION
 *	Two tallies ping-pong between the receiver and a flusher thread. The
 *	receiver hands over the full one and gets the empty spare back only
 *	when the flusher is idle, so a slow or failing database never blocks
 *	reception: counts simply accumulate in the current tally meanwhile.
 *	Each tally is written in one transaction (policies, failures and the
 *	collector counters); when that fails the flusher keeps the tally and
 *	retries every retry_ms, so nothing counted is lost while the process
 *	lives. The thread runs at the lowest CPU priority: under load the
 *	receiver must win the CPU, the flush can wait.
 */
#ifndef TLSRPTD_FLUSHER_H
#define TLSRPTD_FLUSHER_H

#include <stdint.h>

#include "tally.h"

struct flusher;

struct flusher *flusher_start(const char *db_path, long busy_timeout_ms,
    long retry_ms, size_t max_keys, size_t max_key_bytes, uint64_t seed,
    char *err, size_t errlen);
/* 1 and *cur replaced by an empty tally when the flusher took it; else 0. */
int flusher_handoff(struct flusher *f, struct tally **cur);
/* Waits until the flusher is idle or failing; returns 1 if idle. */
int flusher_wait_idle(struct flusher *f);
int flusher_is_failing(struct flusher *f);
/* Flushes `last` (may be NULL), stops the thread, frees everything. */
int flusher_stop(struct flusher *f, struct tally *last, long give_up_ms);

#endif
