/*
 * NAME
 *	buf - growable byte buffer with a hard cap
 * SYNOPSIS
 *	struct buf b;
 *	buf_init(&b, 64 * 1024);
 *	if (buf_append(&b, p, n) != 0) ... cap reached, nothing appended
 *	buf_printf(&b, "%s=%d", k, v);
 *	buf_free(&b);
 * DESCRIPTION
 *	Every buffer in tlsrptd has a documented maximum; reaching it is an
 *	error the caller handles (reject the input), never a silent
 *	truncation. data is always NUL-terminated after a successful call,
 *	so text can be used as a C string; len excludes that NUL.
 */
#ifndef TLSRPTD_BUF_H
#define TLSRPTD_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;		/* allocated bytes */
	size_t max;		/* hard cap on len */
};

void buf_init(struct buf *b, size_t max_bytes);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
int buf_putc(struct buf *b, char c) __attribute__((warn_unused_result));
int buf_puts(struct buf *b, const char *s) __attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));

#endif
