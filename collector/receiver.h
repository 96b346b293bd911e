/*
 * NAME
 *	receiver - read datagrams in batches and count them
 * SYNOPSIS
 *	struct receiver *r = receiver_new(fd, max_datagram_bytes);
 *	n = receiver_batch(r, tally_ptr, flusher);	-1 EAGAIN, else datagrams read
 * DESCRIPTION
 *	One recvmmsg() call reads up to RECEIVER_BATCH datagrams; each is
 *	parsed and added to the current tally. Bad datagrams are counted by
 *	reason and logged at most a few times a minute per reason, with the
 *	sender's pid and uid (SO_PASSCRED) and an excerpt, so the admin can
 *	find the broken client. Nothing here touches the database.
 *
 *	Linux keeps no drop counter for unix datagram sockets (SO_RXQ_OVFL
 *	stays silent; the sender gets EAGAIN). What the receiver can see is a
 *	batch that comes back with more datagrams than the kernel queue holds
 *	(net.unix.max_dgram_qlen + 1): the queue was full, and a non-blocking
 *	sender may have lost datagrams then. Those batches are counted as
 *	batches_at_queue_limit when the queue limit is below RECEIVER_BATCH
 *	(an upper bound: datagrams arriving during the batch count too).
 */
#ifndef TLSRPTD_RECEIVER_H
#define TLSRPTD_RECEIVER_H

#include <stddef.h>

#include "flusher.h"
#include "tally.h"

#define RECEIVER_BATCH 32

struct receiver;

struct receiver *receiver_new(int fd, size_t max_datagram_bytes, long queue_limit);
void receiver_free(struct receiver *r);
int receiver_batch(struct receiver *r, struct tally **cur, struct flusher *f);
/* Logs the counters since start (SIGUSR1, shutdown). */
void receiver_log_stats(const struct receiver *r);

#endif
