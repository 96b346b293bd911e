/*
 * NAME
 *	receiver - threads that read datagrams in batches and count them
 * SYNOPSIS
 *	struct receiver_opts o = { fd, max_datagram_bytes, queue_limit, ... };
 *	struct receivers *rx = receivers_start(&o, nthreads, flusher, err, len);
 *	receivers_log_stats(rx);		(SIGUSR1)
 *	receivers_stop(rx, last);		drain, stop, collect the tallies
 *	flusher_stop(flusher, last, nthreads, give_up_ms);
 *	receivers_free(rx);
 * DESCRIPTION
 *	Each receiver thread reads the same socket: one recvmmsg() call takes
 *	up to RECEIVER_BATCH datagrams, each is parsed and added to the
 *	thread's own tally, which it hands to its lane of the flusher every
 *	flush_interval_ms (on a clock grid shared by the threads, so one
 *	transaction usually takes them all). Nothing on this path takes a
 *	lock or touches the database.
 *
 *	The threads sleep in epoll with EPOLLEXCLUSIVE: a datagram wakes one
 *	sleeping thread, and a second one only when the first is already
 *	awake. While one thread waits for a CPU (preempted, its vCPU stolen)
 *	another can drain the queue, which holds only max_dgram_qlen + 1
 *	datagrams. collector_max_keys is shared evenly among the threads.
 *
 *	Bad datagrams are counted by reason and logged at most a few times
 *	a minute per reason (limits shared by all threads), with the sender's
 *	pid and uid (SO_PASSCRED) and an excerpt, so the admin can find the
 *	broken client.
 *
 *	Linux keeps no drop counter for unix datagram sockets (SO_RXQ_OVFL
 *	stays silent; the sender gets EAGAIN). What a receiver can see is a
 *	batch that comes back with more datagrams than the kernel queue holds
 *	(net.unix.max_dgram_qlen + 1): the queue was full, and a non-blocking
 *	sender may have lost datagrams then. Those batches are counted as
 *	batches_at_queue_limit when the queue limit is below RECEIVER_BATCH
 *	(an upper bound: datagrams arriving during the batch count too).
 *
 *	Stopping: every thread reads until the socket is empty, hands its
 *	tally back and exits; the caller gives the tallies to flusher_stop().
 */
#ifndef TLSRPTD_RECEIVER_H
#define TLSRPTD_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "flusher.h"
#include "tally.h"

#define RECEIVER_BATCH 32
#define RECEIVER_MAX_THREADS 8

struct receiver_opts {
	int fd;				/* the bound socket, non-blocking */
	size_t max_datagram_bytes;
	long queue_limit;		/* datagrams the kernel queues, or 0 */
	size_t max_keys;		/* of one thread's tally */
	uint64_t seed;			/* tally hash seed */
	long long flush_interval_ms;
	long busy_poll_us;		/* 0: sleep as soon as the queue is empty */
};

struct receivers;

/* Starts n (1..RECEIVER_MAX_THREADS) threads; thread i uses lane i of f. */
struct receivers *receivers_start(const struct receiver_opts *o, int n,
    struct flusher *f, char *err, size_t errlen);
/* Logs the counters of all threads since start (SIGUSR1, shutdown). */
void receivers_log_stats(const struct receivers *rx);
/* Drains the socket, stops the threads; last[i]: thread i's tally. */
void receivers_stop(struct receivers *rx, struct tally **last);
void receivers_free(struct receivers *rx);

#endif
