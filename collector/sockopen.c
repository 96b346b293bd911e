/*
 * NAME
 *	sockopen - bind the collector's unix datagram socket safely
 * DESCRIPTION
 *	See sockopen.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockopen.h"

static int
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
fill_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* 0: nothing there or stale and removed; -1: refuse (err set). */
static int
clear_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc, saved;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		return errf(err, errlen, "%s: %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return errf(err, errlen, "%s exists and is not a socket; "
		    "refusing to replace it", path);
	(void)fill_addr(path, &sun);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return errf(err, errlen, "socket: %s", strerror(errno));
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	if (rc == 0)
		return errf(err, errlen, "%s is in use by another process; "
		    "refusing to take it over", path);
	if (saved != ECONNREFUSED)
		return errf(err, errlen, "%s: %s", path, strerror(saved));
	if (unlink(path) != 0 && errno != ENOENT)
		return errf(err, errlen, "remove stale %s: %s", path, strerror(errno));
	return 0;
}

static int
apply_owner(const char *path, const char *owner, const char *group,
    char *err, size_t errlen)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (*owner) {
		struct passwd *pw = getpwnam(owner);
		if (pw == NULL)
			return errf(err, errlen, "collector_socket_owner: "
			    "no user '%s'", owner);
		uid = pw->pw_uid;
	}
	if (*group) {
		struct group *gr = getgrnam(group);
		if (gr == NULL)
			return errf(err, errlen, "collector_socket_group: "
			    "no group '%s'", group);
		gid = gr->gr_gid;
	}
	if ((*owner || *group) && chown(path, uid, gid) != 0)
		return errf(err, errlen, "chown %s: %s", path, strerror(errno));
	return 0;
}

static void
set_rcvbuf(int fd, int bytes)
{
	/* SO_RCVBUFFORCE passes rmem_max when we are privileged. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

int
sockopen_bind(const struct sockopen_opts *o, int *lock_fd, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	char lock_path[sizeof(sun.sun_path) + 8];
	int fd = -1, lfd, one = 1;
	mode_t old_umask;

	*lock_fd = -1;
	if (fill_addr(o->path, &sun) != 0)
		return errf(err, errlen, "collector_socket: '%s' is longer than "
		    "%zu bytes", o->path, sizeof(sun.sun_path) - 1);
	snprintf(lock_path, sizeof(lock_path), "%s.lock", o->path);
	lfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0)
		return errf(err, errlen, "%s: %s", lock_path, strerror(errno));
	if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
		close(lfd);
		return errf(err, errlen, "another tlsrpt-collectd holds %s",
		    lock_path);
	}
	if (clear_path(o->path, err, errlen) != 0)
		goto fail;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		errf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	/* Nobody may write before the final mode is in place. */
	old_umask = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		umask(old_umask);
		errf(err, errlen, "bind %s: %s", o->path, strerror(errno));
		goto fail;
	}
	umask(old_umask);
	if (apply_owner(o->path, o->owner, o->group, err, errlen) != 0)
		goto fail_unlink;
	if (chmod(o->path, o->mode) != 0) {
		errf(err, errlen, "chmod %s: %s", o->path, strerror(errno));
		goto fail_unlink;
	}
	set_rcvbuf(fd, o->rcvbuf_bytes);
	(void)setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	*lock_fd = lfd;
	return fd;

fail_unlink:
	unlink(o->path);
fail:
	if (fd >= 0)
		close(fd);
	close(lfd);
	return -1;
}

void
sockopen_unlink(const char *path, int lock_fd)
{
	/* Only the lock holder may remove the path. */
	if (lock_fd >= 0) {
		unlink(path);
		close(lock_fd);
	}
}
