/*
 * NAME
 *	log - logging to syslog or stderr, with rate limiting
 * SYNOPSIS
 *	log_init("tlsrpt-collectd", LOG_TO_STDERR);
 *	log_warn("open %s", path);	appends strerror(errno)
 *	log_warnx("bad value %d", v);	no errno
 *	struct ratelimit rl = RATELIMIT_INIT(10, 60);
 *	log_limited(&rl, "bad datagram: %s", why);
 * DESCRIPTION
 *	The OpenSMTPD vocabulary: *_warn adds errno text, *_warnx does not,
 *	fatal/fatalx log and exit(1). Only main() and the x* allocation
 *	wrappers may call fatal.
 *
 *	log_limited() lets at most `burst` messages through per `window_s`
 *	seconds for one ratelimit object, and reports how many it suppressed
 *	when the next window opens, so a hostile sender cannot flood the log.
 */
#ifndef TLSRPTD_LOG_H
#define TLSRPTD_LOG_H

#include <time.h>

enum log_dest {
	LOG_TO_SYSLOG,
	LOG_TO_STDERR,
};

struct ratelimit {
	unsigned burst;		/* messages allowed per window */
	unsigned window_s;	/* window length in seconds */
	time_t window_start;
	unsigned used;
	unsigned long suppressed;
};

#define RATELIMIT_INIT(burst, window_s) { (burst), (window_s), 0, 0, 0 }

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_init(const char *ident, enum log_dest dest);
void log_set_debug(int on);
int log_debug_enabled(void);

void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

/* Returns 1 when the message was logged, 0 when it was suppressed. */
int log_limited(struct ratelimit *rl, const char *fmt, ...) LOG_PRINTF(2, 3);

/* Same decision without logging; for callers that build costly text. */
int ratelimit_allow(struct ratelimit *rl, time_t now);

#endif
