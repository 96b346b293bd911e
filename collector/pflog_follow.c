/*
 * NAME
 *	pflog_follow - read log lines from a followed file or a stream
 * DESCRIPTION
 *	See pflog_follow.h. One buffer of BUF_BYTES holds at most one line
 *	being assembled plus what the last read() brought.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "pflog_follow.h"

#define BUF_BYTES (4 * PF_MAX_LINE)

struct pflog_reader {
	char *path;		/* NULL for a stream */
	int fd;			/* -1 while a followed file is missing */
	int next_fd;		/* the rotated-in file, opened, not read yet */
	int from_start;
	int discarding;		/* inside an oversize line */
	int warned_missing;
	dev_t dev;
	ino_t ino;
	off_t offset;		/* bytes read from fd */
	char buf[BUF_BYTES + 1];
	size_t start, end;	/* unread bytes are buf[start, end) */
};

static struct pflog_reader *
reader_new(void)
{
	struct pflog_reader *r = xcalloc(1, sizeof(*r));

	r->fd = r->next_fd = -1;
	return r;
}

struct pflog_reader *
pflog_reader_stream(int fd)
{
	struct pflog_reader *r = reader_new();

	r->fd = fd;
	return r;
}

/* Opens r->path; at the first open, seeks to the end unless from_start. */
static int
open_path(struct pflog_reader *r, int seek_end)
{
	struct stat st;
	int fd;

	if ((fd = open(r->path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (!r->warned_missing)
			log_warn("%s: waiting for the file", r->path);
		r->warned_missing = 1;
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	r->warned_missing = 0;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->offset = seek_end ? lseek(fd, 0, SEEK_END) : 0;
	if (r->offset < 0)
		r->offset = 0;
	return fd;
}

struct pflog_reader *
pflog_reader_file(const char *path, int from_start)
{
	struct pflog_reader *r = reader_new();

	r->path = xstrdup(path);
	r->from_start = from_start;
	r->fd = open_path(r, !from_start);
	return r;
}

/* Takes the next complete line out of the buffer, if there is one. */
static int
take_line(struct pflog_reader *r, char **line, size_t *len, int *oversize)
{
	char *p = r->buf + r->start;
	char *nl = memchr(p, '\n', r->end - r->start);

	if (nl == NULL)
		return 0;
	r->start = (size_t)(nl - r->buf) + 1;
	*oversize = r->discarding;
	r->discarding = 0;
	*nl = '\0';
	*len = (size_t)(nl - p);
	if (*len > 0 && p[*len - 1] == '\r')
		p[--*len] = '\0';
	*line = p;
	return 1;
}

/* Makes room for a read; an overlong partial line is dropped. */
static void
compact(struct pflog_reader *r)
{
	if (r->end - r->start > PF_MAX_LINE) {
		r->discarding = 1;
		r->start = r->end = 0;
		return;
	}
	memmove(r->buf, r->buf + r->start, r->end - r->start);
	r->end -= r->start;
	r->start = 0;
}

/* The rest of a stream or of a rotated file, as a last line. */
static int
take_partial(struct pflog_reader *r, char **line, size_t *len, int *oversize)
{
	if (r->end == r->start && !r->discarding)
		return 0;
	r->buf[r->end] = '\0';
	*line = r->buf + r->start;
	*len = r->end - r->start;
	*oversize = r->discarding || *len > PF_MAX_LINE;
	r->discarding = 0;
	r->start = r->end = 0;
	return 1;
}

/* At end of a followed file: 1 when there is another file to read. */
static int
check_rotation(struct pflog_reader *r)
{
	struct stat st;

	if (r->next_fd >= 0) {	/* old file drained once more: switch */
		close(r->fd);
		r->fd = r->next_fd;
		r->next_fd = -1;
		return 1;
	}
	if (stat(r->path, &st) != 0)
		return 0;	/* between rename and re-create */
	if (st.st_dev != r->dev || st.st_ino != r->ino) {
		r->next_fd = open_path(r, 0);
		return r->next_fd >= 0;
	}
	if (st.st_size < r->offset) {	/* truncated in place */
		log_info("%s: file truncated, reading from the start", r->path);
		r->offset = lseek(r->fd, 0, SEEK_SET) == 0 ? 0 : r->offset;
		r->start = r->end = 0;
		r->discarding = 0;
		return 1;
	}
	return 0;
}

/* Reads more; returns bytes read, 0 at end, -1 idle, -2 error. */
static ssize_t
fill(struct pflog_reader *r)
{
	struct pollfd pfd = { r->fd, POLLIN, 0 };
	ssize_t n;

	compact(r);
	if (r->path == NULL && poll(&pfd, 1, 0) == 0)
		return -1;	/* a stream with nothing ready */
	n = read(r->fd, r->buf + r->end, BUF_BYTES - r->end);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? -1 : -2;
	r->end += (size_t)n;
	r->offset += n;
	return n;
}

static enum pflog_read
at_end(struct pflog_reader *r, char **line, size_t *len, int *oversize)
{
	if (r->path == NULL)
		return take_partial(r, line, len, oversize) ? PF_READ_LINE :
		    PF_READ_EOF;
	if (!check_rotation(r))
		return PF_READ_IDLE;
	if (r->next_fd < 0 && take_partial(r, line, len, oversize))
		return PF_READ_LINE;	/* last line of the rotated file */
	return PF_READ_EOF;		/* caller: try again at once */
}

enum pflog_read
pflog_reader_next(struct pflog_reader *r, char **line, size_t *len)
{
	enum pflog_read rc;
	int oversize = 0;
	ssize_t n;

	if (r->fd < 0 && (r->fd = open_path(r, 0)) < 0)
		return PF_READ_IDLE;
	for (;;) {
		if (take_line(r, line, len, &oversize))
			return oversize ? PF_READ_OVERSIZE : PF_READ_LINE;
		if ((n = fill(r)) > 0)
			continue;
		if (n == -1)
			return PF_READ_IDLE;
		if (n == -2)
			return PF_READ_ERROR;
		rc = at_end(r, line, len, &oversize);
		if (rc == PF_READ_LINE && oversize)
			return PF_READ_OVERSIZE;
		if (rc != PF_READ_EOF || r->path == NULL)
			return rc;
	}
}

int
pflog_reader_poll_fd(const struct pflog_reader *r)
{
	return r->path == NULL ? r->fd : -1;
}

void
pflog_reader_free(struct pflog_reader *r)
{
	if (r == NULL)
		return;
	if (r->path != NULL && r->fd >= 0)
		close(r->fd);
	if (r->next_fd >= 0)
		close(r->next_fd);
	free(r->path);
	free(r);
}
