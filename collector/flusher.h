/*
 * NAME
 *	flusher - write tallies to the database off the receive path
 * SYNOPSIS
 *	struct flusher *f = flusher_start(db_path, busy_ms, retry_ms, max_keys,
 *	    ..., nlanes, err, errlen);
 *	if (flusher_handoff(f, lane, &current)) ... current is now an empty tally
 *	flusher_wait_idle(f, lane);
 *	rc = flusher_stop(f, last, nlanes, give_up_ms);	0 when all was written
 * DESCRIPTION
 *	Each receiver thread has a lane: two tallies ping-pong between it
 *	and the flusher thread. The receiver hands over the full one and gets
 *	the empty spare back only when its lane is idle, so a slow or failing
 *	database never blocks reception: counts simply accumulate in the
 *	current tally meanwhile. The thread runs at the lowest CPU priority:
 *	under load the receivers must win the CPU, the flush can wait.
 *
 *	The tallies handed over are written together (a key counted by two
 *	receivers is an upsert of each count), their keys sorted so that
 *	collectors on many hosts sharing one PostgreSQL database lock the
 *	rows they share in the same order and never deadlock; in chunks of
 *	about a thousand keys per transaction, so that none holds its row
 *	locks long, the collector counters with the last. When a chunk fails
 *	it is rolled back and the flusher retries from there every retry_ms
 *	(at once after a deadlock, which only other writers can cause), so
 *	nothing counted is lost while the process lives and nothing is
 *	written twice: a chunk whose COMMIT got no answer is looked up
 *	before it is written again (db_commit_outcome()).
 *
 *	The database is opened at start; a PostgreSQL server that cannot be
 *	reached then is tried again at each flush. No answer from the server
 *	for busy_timeout_ms + 5 s (the server's own lock wait plus a margin)
 *	counts as a failure, so a hung server holds the flusher that long at
 *	most per try, never the receivers.
 */
#ifndef TLSRPTD_FLUSHER_H
#define TLSRPTD_FLUSHER_H

#include <stdint.h>

#include "tally.h"

struct flusher;

struct flusher *flusher_start(const char *db_path, long busy_timeout_ms,
    long retry_ms, size_t max_keys, size_t max_key_bytes, uint64_t seed,
    int nlanes, char *err, size_t errlen);
/* 1 and *cur replaced by an empty tally when the flusher took it; else 0. */
int flusher_handoff(struct flusher *f, int lane, struct tally **cur);
/*
 * Waits until the lane is idle or the flusher failing, but not longer
 * than a second after the last handoff or start of a flush (a flusher
 * that takes longer is stuck on the database); returns 1 if idle.
 */
int flusher_wait_idle(struct flusher *f, int lane);
int flusher_is_failing(struct flusher *f);
/*
 * Flushes last[0..nlast) (entries may be NULL; they are taken over),
 * stops the thread, frees everything.
 */
int flusher_stop(struct flusher *f, struct tally **last, int nlast,
    long give_up_ms);

#endif
