/*
 * NAME
 *	dgram-send - send files as unix datagrams (test tool)
 * SYNOPSIS
 *	dgram-send [-r repeat] [-z bytes] socket [file ...]
 *	dgram-send -L socket
 * DESCRIPTION
 *	Sends each file's bytes, unchanged, as one datagram to the socket,
 *	repeat times, blocking when the collector's queue is full so tests
 *	are not at the mercy of scheduling. "-" reads standard input. -z N
 *	also sends a datagram of N bytes of 'x' (for size limits). -L binds
 *	the socket and sleeps until killed: a foreign live listener.
 * DIAGNOSTICS
 *	Exit 0 when everything was sent, 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"

static int
read_all(const char *path, struct buf *b)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (fp == NULL) {
		fprintf(stderr, "dgram-send: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf_reset(b);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(b, chunk, n) != 0) {
			fprintf(stderr, "dgram-send: %s: too large\n", path);
			return -1;
		}
	if (fp != stdin)
		fclose(fp);
	return 0;
}

static int
send_one(int fd, const struct sockaddr_un *sun, const char *p, size_t len)
{
	while (sendto(fd, p, len, 0, (const struct sockaddr *)sun,
	    sizeof(*sun)) < 0) {
		if (errno == EINTR)
			continue;
		fprintf(stderr, "dgram-send: sendto %s: %s\n", sun->sun_path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	struct buf b;
	long repeat = 1, zbytes = -1;
	int ch, fd, rc = 0, listen_only = 0;

	while ((ch = getopt(argc, argv, "Lr:z:")) != -1) {
		switch (ch) {
		case 'L': listen_only = 1; break;
		case 'r': repeat = strtol(optarg, NULL, 10); break;
		case 'z': zbytes = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: dgram-send [-r n] [-z bytes] socket [file ...]\n");
			return 1;
		}
	}
	if (optind >= argc || strlen(argv[optind]) >= sizeof(sun.sun_path))
		return 1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[optind], strlen(argv[optind]) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0)
		return 1;
	if (listen_only) {
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
			return 1;
		for (;;)
			pause();
	}
	buf_init(&b, 64u * 1024 * 1024);
	for (int i = optind + 1; i < argc && rc == 0; i++) {
		if (read_all(argv[i], &b) != 0) {
			rc = 1;
			break;
		}
		for (long j = 0; j < repeat && rc == 0; j++)
			if (send_one(fd, &sun, b.data ? b.data : "", b.len) != 0)
				rc = 1;
	}
	if (rc == 0 && zbytes >= 0) {
		char *z = malloc((size_t)zbytes + 1);
		if (z == NULL)
			return 1;
		memset(z, 'x', (size_t)zbytes);
		rc = send_one(fd, &sun, z, (size_t)zbytes) != 0;
		free(z);
	}
	buf_free(&b);
	close(fd);
	return rc;
}
