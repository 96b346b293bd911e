-- Outbound database, version 2: the reports the aggregator builds.
--
-- One report per (UTC day, report domain, TLSRPT record the MTAs saw):
-- the report domain is `d` from the datagrams, the domain whose
-- _smtp._tls record asked for reports. json is the report as sent, gzip
-- the same bytes compressed once (deterministic: mtime 0, no name).
-- state is advanced by the sender: pending -> delivered | failed, or
-- no-destination when the domain has no usable rua.
CREATE TABLE report (
	id INTEGER PRIMARY KEY,
	day TEXT NOT NULL,
	report_domain TEXT NOT NULL,
	tlsrpt_record TEXT NOT NULL,
	report_id TEXT NOT NULL UNIQUE,
	json TEXT NOT NULL,
	gzip BLOB NOT NULL,
	policies INTEGER NOT NULL,
	successful_sessions INTEGER NOT NULL,
	failed_sessions INTEGER NOT NULL,
	merged_details INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending'
	    CHECK (state IN ('pending', 'delivered', 'failed', 'no-destination')),
	UNIQUE (day, report_domain, tlsrpt_record)
);
CREATE INDEX report_state ON report (state, day);

-- Days the aggregator has finished (all their reports are in report).
CREATE TABLE aggregated_day (
	day TEXT PRIMARY KEY,
	finished_at INTEGER NOT NULL,
	reports INTEGER NOT NULL
) WITHOUT ROWID;
