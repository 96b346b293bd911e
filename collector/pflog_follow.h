/*
 * NAME
 *	pflog_follow - read log lines from a followed file or a stream
 * SYNOPSIS
 *	struct pflog_reader *r = pflog_reader_file(path, from_start);
 *	struct pflog_reader *r = pflog_reader_stream(STDIN_FILENO);
 *	switch (pflog_reader_next(r, &line, &len)) ...
 * DESCRIPTION
 *	A file is followed the way `tail -F` does: reading starts at its
 *	end (or its start with from_start), end of file means "wait"
 *	(PF_READ_IDLE), and when the path names another file (rotation by
 *	rename: the inode or device changed) the old file is read to its
 *	end before the new one is opened and read from its start. A file
 *	that shrank (copytruncate) is read again from its start. A missing
 *	file is waited for.
 *
 *	A stream (standard input) is read until end of file; when no data
 *	is ready, PF_READ_IDLE lets the caller wait in poll() on
 *	pflog_reader_poll_fd() together with its signals.
 *
 *	A line is returned without its "\n" (and a "\r" before it),
 *	NUL-terminated in the reader's buffer; it stays valid until the
 *	next call. A last line without "\n" is returned at end of stream
 *	or when the followed file is rotated away.
 * LIMITS
 *	Lines longer than PF_MAX_LINE bytes are skipped up to the next
 *	newline and reported once as PF_READ_OVERSIZE.
 */
#ifndef TLSRPTD_PFLOG_FOLLOW_H
#define TLSRPTD_PFLOG_FOLLOW_H

#include <stddef.h>

#define PF_MAX_LINE 16384

enum pflog_read {
	PF_READ_LINE,
	PF_READ_OVERSIZE,
	PF_READ_IDLE,		/* nothing now: wait and call again */
	PF_READ_EOF,		/* end of a stream (never for a file) */
	PF_READ_ERROR,		/* read error; errno is set */
};

struct pflog_reader;

struct pflog_reader *pflog_reader_file(const char *path, int from_start);
struct pflog_reader *pflog_reader_stream(int fd);
enum pflog_read pflog_reader_next(struct pflog_reader *r, char **line,
    size_t *len) __attribute__((warn_unused_result));
/* The fd worth polling for input, or -1 when the caller should sleep. */
int pflog_reader_poll_fd(const struct pflog_reader *r);
void pflog_reader_free(struct pflog_reader *r);

#endif
