/*
 * NAME
 *	conf_table - every configuration key, its default, bounds and meaning
 * DESCRIPTION
 *	Add a key here and it is parsed, checked, printed by -n and written
 *	to the sample config. Keep the doc text to one line: it is printed
 *	as a comment. Paths default to the FHS locations; `make run` and the
 *	tests override them with -c or -o.
 */
#include <limits.h>
#include <stddef.h>

#include "conf.h"

#define DAY_MS (24LL * 3600 * 1000)

const struct conf_key conf_keys[] = {
	{ "database", CONF_STR, "/var/lib/tlsrptd/tlsrpt.db", 0, 0,
	  "outbound SQLite database (counters, reports, deliveries)" },
	{ "db_busy_timeout_ms", CONF_INT, "5000", 0, 600000,
	  "how long a writer waits for a database lock before giving up" },
	{ "collector_socket", CONF_STR, "/run/tlsrptd/collector.sock", 0, 0,
	  "unix datagram socket the MTAs write to (Postfix smtp_tlsrpt_socket_name)" },
	{ "collector_socket_mode", CONF_MODE, "0660", 0, 0777,
	  "permissions of the collector socket" },
	{ "collector_socket_owner", CONF_STR, "", 0, 0,
	  "owner of the collector socket (empty: keep)" },
	{ "collector_socket_group", CONF_STR, "", 0, 0,
	  "group of the collector socket, e.g. postfix (empty: keep)" },
	{ "collector_user", CONF_STR, "", 0, 0,
	  "user the collector switches to after binding when started as root" },
	{ "collector_rcvbuf_bytes", CONF_INT, "4194304", 65536, 1LL << 30,
	  "SO_RCVBUF asked for on the collector socket" },
	{ "collector_max_datagram_bytes", CONF_INT, "262144", 4096, 16777216,
	  "largest datagram accepted; larger ones are counted as oversize" },
	{ "collector_max_keys", CONF_INT, "250000", 1000, 50000000,
	  "distinct aggregation keys held in memory between flushes" },
	{ "flush_interval_ms", CONF_INT, "1000", 10, DAY_MS,
	  "how often the collector writes its counters in one transaction" },
	{ "organization_name", CONF_STR, "", 0, 0,
	  "organization-name in the reports we send, e.g. Example Mail Operator" },
	{ "contact_info", CONF_STR, "", 0, 0,
	  "contact-info in our reports: an address at report_submitter" },
	{ "report_submitter", CONF_STR, "", 0, 0,
	  "our domain: TLS-Report-Submitter, right side of report-ids" },
	{ "report_end_inclusive", CONF_BOOL, "no", 0, 0,
	  "end date-range at 23:59:59Z instead of the next day's 00:00:00Z" },
	{ "report_max_bytes", CONF_INT, "4194304", 4096, 1LL << 30,
	  "largest report JSON; above it rare failure details are merged" },
	{ "aggregate_grace_s", CONF_INT, "300", 0, 86400,
	  "wait this long after UTC midnight before a day counts as finished" },
	{ "retention_days", CONF_INT, "30", 1, 3650,
	  "counters and reports older than this many days are deleted" },
	{ "log_debug", CONF_BOOL, "no", 0, 0,
	  "log debugging detail" },
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);
