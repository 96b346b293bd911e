/*
 * NAME
 *	plan - find where each new report goes
 * SYNOPSIS
 *	plan_reports(outbox, &opts, &stats);
 * DESCRIPTION
 *	For every pending report without destinations: take the TLSRPT
 *	record the MTAs saw (the pr of the datagrams) or, when there is none
 *	or sender_always_lookup is set, look up _smtp._tls.<report domain>
 *	through dns_server; parse it (lib/txt) and add one delivery per
 *	usable rua URI, its first attempt at a random moment within
 *	send_spread_s. No record, several records, or a broken record: the
 *	report is marked no-destination with the reason, and logged. A DNS
 *	failure that may be temporary is retried with the delivery back-off
 *	for up to the retry window.
 */
#ifndef TLSRPTD_PLAN_H
#define TLSRPTD_PLAN_H

#include "outbox.h"

struct plan_opts {
	const char *dns_server;
	int always_lookup;
	long spread_s;
	int dry_run;
	struct backoff bo;
};

struct plan_stats {
	size_t planned, destinations, no_destination, deferred;
};

int plan_reports(struct outbox *ob, const struct plan_opts *o, struct plan_stats *st);

#endif
