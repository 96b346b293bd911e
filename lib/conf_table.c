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
	{ "dns_server", CONF_STR, "", 0, 0,
	  "DNS server for TXT lookups as host[:port] (empty: /etc/resolv.conf)" },
	{ "sender_always_lookup", CONF_BOOL, "no", 0, 0,
	  "look up _smtp._tls even when the MTA passed the record it saw" },
	{ "send_spread_s", CONF_INT, "14400", 0, 86400,
	  "first attempts are spread at random over this long after planning" },
	{ "send_retry_base_s", CONF_INT, "300", 1, 86400,
	  "first retry delay; it doubles after each failed attempt" },
	{ "send_retry_max_s", CONF_INT, "7200", 1, 86400,
	  "longest delay between two attempts" },
	{ "send_retry_window_s", CONF_INT, "86400", 60, 7 * 86400,
	  "give up on a destination this long after its first attempt" },
	{ "send_concurrency", CONF_INT, "16", 1, 1024,
	  "deliveries in progress at once" },
	{ "send_timeout_s", CONF_INT, "60", 1, 3600,
	  "time limit for one delivery (connect, TLS, upload, answer)" },
	{ "send_interval_s", CONF_INT, "60", 1, 86400,
	  "tlsrpt-send -D: how often to look for due deliveries" },
	{ "https_ca_file", CONF_STR, "", 0, 0,
	  "CA bundle for HTTPS report uploads (empty: system CAs)" },
	{ "https_verify", CONF_BOOL, "yes", 0, 0,
	  "verify certificate and host name of HTTPS report receivers" },
	{ "smtp_relay", CONF_STR, "", 0, 0,
	  "relay for report mail, smtp://host:port or smtps://host:port (empty: sendmail)" },
	{ "smtp_require_tls", CONF_BOOL, "no", 0, 0,
	  "refuse to send report mail to the relay without STARTTLS" },
	{ "smtp_ca_file", CONF_STR, "", 0, 0,
	  "CA bundle for the relay's certificate (empty: system CAs)" },
	{ "smtp_user", CONF_STR, "", 0, 0,
	  "SMTP AUTH user at the relay (empty: no AUTH)" },
	{ "smtp_password_file", CONF_STR, "", 0, 0,
	  "file holding the SMTP AUTH password (first line)" },
	{ "sendmail_path", CONF_STR, "/usr/sbin/sendmail", 0, 0,
	  "sendmail program used when smtp_relay is empty (called -i -t)" },
	{ "mail_from", CONF_STR, "", 0, 0,
	  "sender address of report mail (empty: contact_info)" },
	{ "dkim_key", CONF_STR, "", 0, 0,
	  "PEM private key for DKIM-signing report mail (empty: unsigned)" },
	{ "dkim_selector", CONF_STR, "", 0, 0,
	  "DKIM selector; publish the key with s=tlsrpt or without s=" },
	{ "dkim_domain", CONF_STR, "", 0, 0,
	  "DKIM signing domain (d=), normally report_submitter" },
	{ "log_debug", CONF_BOOL, "no", 0, 0,
	  "log debugging detail" },
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);
