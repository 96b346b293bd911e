/*
 * NAME
 *	gz - gzip in memory, with a cap on what inflating may produce
 * DESCRIPTION
 *	See gz.h.
 */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "gz.h"

int
gz_is_gzip(const void *in, size_t len)
{
	const unsigned char *p = in;

	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/*
 * One deflate state per thread, reset between reports: deflateInit
 * allocates and clears about 256 KiB, which for 50,000 small reports
 * cost more than the compression itself.
 */
static _Thread_local z_stream gz_deflate;
static _Thread_local int gz_deflate_ready;

int
gz_compress(const void *in, size_t len, struct buf *out)
{
	z_stream *zp = &gz_deflate;
	unsigned char chunk[16384];
	int rc;

	if (!gz_deflate_ready) {
		memset(zp, 0, sizeof(*zp));
		/* 15 + 16: gzip wrapper; deflate writes mtime 0 and no name. */
		if (deflateInit2(zp, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
		    Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		gz_deflate_ready = 1;
	} else if (deflateReset(zp) != Z_OK) {
		return -1;
	}
	zp->next_in = (unsigned char *)(uintptr_t)in;
	zp->avail_in = (uInt)len;
	buf_reset(out);
	do {
		zp->next_out = chunk;
		zp->avail_out = sizeof(chunk);
		rc = deflate(zp, Z_FINISH);
		if (rc == Z_STREAM_ERROR ||
		    buf_append(out, chunk, sizeof(chunk) - zp->avail_out) != 0)
			return -1;
	} while (rc != Z_STREAM_END);
	return 0;
}

/*
 * The inflate loop behind both entry points: windowbits 15 + 16 reads
 * gzip (then further members may follow), -15 raw deflate (zip). Output
 * is appended to out and stops at out->max.
 */
static enum gz_result
inflate_capped(const void *in, size_t len, int windowbits, struct buf *out)
{
	z_stream z;
	unsigned char chunk[16384];
	enum gz_result res = GZ_CORRUPT;
	int rc;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, windowbits) != Z_OK)
		return GZ_ERROR;
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	for (;;) {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END) {
			res = rc == Z_MEM_ERROR ? GZ_ERROR : GZ_CORRUPT;
			break;
		}
		if (buf_append(out, chunk, sizeof(chunk) - z.avail_out) != 0) {
			res = GZ_TOO_BIG;
			break;
		}
		if (rc == Z_STREAM_END) {
			/* Another gzip member may follow (concatenated gzip). */
			if (windowbits > 15 && z.avail_in >= 2 &&
			    gz_is_gzip(z.next_in, z.avail_in)) {
				inflateReset(&z);
				continue;
			}
			res = GZ_OK;
			break;
		}
		if (z.avail_in == 0 && z.avail_out != 0)
			break;		/* truncated */
	}
	inflateEnd(&z);
	return res;
}

enum gz_result
gz_decompress(const void *in, size_t len, struct buf *out)
{
	if (!gz_is_gzip(in, len))
		return GZ_CORRUPT;
	buf_reset(out);
	return inflate_capped(in, len, 15 + 16, out);
}

enum gz_result
gz_inflate_raw(const void *in, size_t len, struct buf *out)
{
	return inflate_capped(in, len, -15, out);
}
