/*
 * NAME
 *	sockopen - bind the collector's unix datagram socket safely
 * SYNOPSIS
 *	struct sockopen_opts o = { path, mode, owner, group, rcvbuf_bytes };
 *	fd = sockopen_bind(&o, &lock_fd, err, sizeof(err));
 * DESCRIPTION
 *	Takes an exclusive lock on "<path>.lock" (a second collector for the
 *	same path fails here), then looks at the path: a socket some process
 *	still reads is left alone and start-up fails; a stale socket (connect
 *	is refused) is removed; anything that is not a socket is refused.
 *	The new socket is non-blocking, close-on-exec, with SO_PASSCRED (so
 *	bad datagrams can be traced to a pid and uid) and the receive buffer
 *	asked for; mode, owner and group are applied after bind.
 */
#ifndef TLSRPTD_SOCKOPEN_H
#define TLSRPTD_SOCKOPEN_H

#include <stddef.h>
#include <sys/types.h>

struct sockopen_opts {
	const char *path;
	mode_t mode;
	const char *owner;	/* "" keeps the current owner */
	const char *group;	/* "" keeps the current group */
	int rcvbuf_bytes;
};

int sockopen_bind(const struct sockopen_opts *o, int *lock_fd, char *err,
    size_t errlen) __attribute__((warn_unused_result));
void sockopen_unlink(const char *path, int lock_fd);

#endif
