/*
 * NAME
 *	gz - gzip in memory, with a cap on what inflating may produce
 * SYNOPSIS
 *	if (gz_compress(json, len, &out) != 0) ...
 *	switch (gz_decompress(in, len, &out)) { case GZ_TOO_BIG: ... }
 * DESCRIPTION
 *	Reports travel gzipped (RFC 8460 5.3, application/tlsrpt+gzip).
 *	gz_compress writes a gzip member with no file name and mtime 0, so
 *	the same report always gives the same bytes. gz_decompress stops as
 *	soon as the output would pass out->max (a zip bomb costs us at most
 *	that much memory), and accepts concatenated members.
 */
#ifndef TLSRPTD_GZ_H
#define TLSRPTD_GZ_H

#include <stddef.h>

#include "buf.h"

enum gz_result {
	GZ_OK = 0,
	GZ_CORRUPT,		/* not gzip, bad checksum, truncated */
	GZ_TOO_BIG,		/* output would exceed out->max */
	GZ_ERROR,		/* zlib internal error */
};

int gz_compress(const void *in, size_t len, struct buf *out)
    __attribute__((warn_unused_result));
enum gz_result gz_decompress(const void *in, size_t len, struct buf *out)
    __attribute__((warn_unused_result));
/* Raw deflate (zip method 8), appended to out, capped like gz_decompress. */
enum gz_result gz_inflate_raw(const void *in, size_t len, struct buf *out)
    __attribute__((warn_unused_result));
int gz_is_gzip(const void *in, size_t len);

#endif
