/*
 * NAME
 *	log - logging to syslog or stderr, with rate limiting
 * DESCRIPTION
 *	See log.h. Messages go to syslog (facility mail, like the MTA they
 *	serve) or to stderr with a UTC timestamp when running in the
 *	foreground or under test.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static enum log_dest log_dest = LOG_TO_STDERR;
static const char *log_ident = "tlsrptd";
static int log_debug_on;

void
log_init(const char *ident, enum log_dest dest)
{
	log_ident = ident;
	log_dest = dest;
	if (dest == LOG_TO_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_debug(int on)
{
	log_debug_on = on;
}

int
log_debug_enabled(void)
{
	return log_debug_on;
}

static void
log_emit(int prio, const char *prefix, const char *fmt, va_list ap, int errnum)
{
	char msg[2048];
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (errnum != 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(errnum));

	if (log_dest == LOG_TO_SYSLOG) {
		syslog(prio, "%s%s", prefix, msg);
		return;
	}
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s %s: %s%s\n", stamp, log_ident, prefix, msg);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, "", fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, "debug: ", fmt, ap, 0);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning: ", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning: ", fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", fmt, ap, 0);
	va_end(ap);
	exit(1);
}

int
ratelimit_allow(struct ratelimit *rl, time_t now)
{
	/* A clock stepped backwards starts a new window too. */
	if (now < rl->window_start ||
	    now - rl->window_start >= (time_t)rl->window_s) {
		if (rl->suppressed > 0)
			log_warnx("%lu similar messages suppressed in the last %u s",
			    rl->suppressed, rl->window_s);
		rl->window_start = now;
		rl->used = 0;
		rl->suppressed = 0;
	}
	if (rl->used < rl->burst) {
		rl->used++;
		return 1;
	}
	rl->suppressed++;
	return 0;
}

int
log_limited(struct ratelimit *rl, const char *fmt, ...)
{
	va_list ap;

	if (!ratelimit_allow(rl, time(NULL)))
		return 0;
	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning: ", fmt, ap, 0);
	va_end(ap);
	return 1;
}
