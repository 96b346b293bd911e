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

int
gz_compress(const void *in, size_t len, struct buf *out)
{
	z_stream z;
	unsigned char chunk[16384];
	int rc;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: gzip wrapper; deflate writes mtime 0 and no name. */
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	buf_reset(out);
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		if (rc == Z_STREAM_ERROR ||
		    buf_append(out, chunk, sizeof(chunk) - z.avail_out) != 0) {
			deflateEnd(&z);
			return -1;
		}
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}

enum gz_result
gz_decompress(const void *in, size_t len, struct buf *out)
{
	z_stream z;
	unsigned char chunk[16384];
	enum gz_result res = GZ_OK;
	int rc;

	memset(&z, 0, sizeof(z));
	if (!gz_is_gzip(in, len))
		return GZ_CORRUPT;
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return GZ_ERROR;
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	buf_reset(out);
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
			/* Another member may follow (concatenated gzip). */
			if (z.avail_in >= 2 && gz_is_gzip(z.next_in, z.avail_in)) {
				inflateReset(&z);
				continue;
			}
			break;
		}
		if (z.avail_in == 0 && z.avail_out != 0) {
			res = GZ_CORRUPT;	/* truncated */
			break;
		}
	}
	inflateEnd(&z);
	return res;
}
