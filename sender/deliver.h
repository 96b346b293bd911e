/*
 * NAME
 *	deliver - send due reports over HTTPS and mail, many at once
 * SYNOPSIS
 *	deliver_batch(outbox, &opts, dues, n, &stats);
 * DESCRIPTION
 *	HTTPS uploads and SMTP submissions run side by side in one libcurl
 *	multi handle, at most opts->concurrency at a time. Each delivery is
 *	claimed (in-flight, committed) just before its transfer starts and
 *	settled as soon as it ends, so a crash leaves at most the transfers
 *	in progress in doubt.
 *
 *	HTTPS: POST of the gzip bytes as application/tlsrpt+gzip, https only,
 *	certificate and host verified (unless https_verify is off), no
 *	redirects followed; only a 2xx answer is success. The status and the
 *	first bytes of the answer are recorded either way.
 *	Mail: the RFC 8460 message (lib/mail), DKIM-signed when a key is
 *	configured, through smtp_relay with STARTTLS when offered (required
 *	with smtp_require_tls) and optional AUTH; or, without a relay,
 *	handed to sendmail -i -t.
 */
#ifndef TLSRPTD_DELIVER_H
#define TLSRPTD_DELIVER_H

#include "dkim.h"
#include "outbox.h"

struct deliver_opts {
	long timeout_s;
	long concurrency;
	const char *https_ca_file;
	int https_verify;
	const char *smtp_relay;
	int smtp_require_tls;
	const char *smtp_ca_file;
	const char *smtp_user;
	const char *smtp_password;
	const char *sendmail_path;
	const char *mail_from;
	const char *submitter;
	const char *org;
	int end_inclusive;
	struct dkim_signer *dkim;
};

struct deliver_stats {
	size_t delivered, retrying, failed, errors;
};

int deliver_init(void);
void deliver_cleanup(void);
int deliver_batch(struct outbox *ob, const struct deliver_opts *o,
    struct due *dues, size_t n, struct deliver_stats *st);

#endif
