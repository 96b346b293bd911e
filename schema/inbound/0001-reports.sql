-- Inbound database, version 1: reports other organisations send about
-- our domains, as tlsrpt ingest received them over HTTPS or mail.
--
-- One report row per (organization-name, report-id): a report sent
-- twice (both rua targets, a retried POST, a re-delivered mail) is
-- stored once. Times are Unix seconds UTC; day is the UTC day of
-- start_at, for per-day summaries. raw holds the bytes as received
-- (gzip or JSON), raw_json the JSON text we parsed; repairs lists what
-- the tolerant parser had to fix ('' when nothing). policies and the
-- session totals are sums over the report's policies (Microsoft counts
-- the same sessions under sts and tlsa, so they can double count).
CREATE TABLE report (
	id INTEGER PRIMARY KEY,
	org TEXT NOT NULL,
	report_id TEXT NOT NULL,
	contact TEXT,
	day TEXT NOT NULL,
	start_at INTEGER NOT NULL,
	end_at INTEGER NOT NULL,
	received_at INTEGER NOT NULL,
	source TEXT NOT NULL CHECK (source IN ('https', 'mail')),
	submitter TEXT,		-- TLS-Report-Submitter or From domain, if known
	peer TEXT,		-- client address / SMTP relay, free text
	dkim TEXT,		-- DKIM verdict for mail, NULL for https
	raw BLOB NOT NULL,
	raw_json TEXT NOT NULL,
	repairs TEXT NOT NULL DEFAULT '',
	policies INTEGER NOT NULL CHECK (policies >= 0),
	successful_sessions INTEGER NOT NULL CHECK (successful_sessions >= 0),
	failed_sessions INTEGER NOT NULL CHECK (failed_sessions >= 0),
	UNIQUE (org, report_id)
);
-- Summaries per day and provider; retention by received_at.
CREATE INDEX report_day ON report (day, org);
CREATE INDEX report_received ON report (received_at);

-- The policies of a report, in report order (idx from 0). domain is
-- NULL when the reporter left policy-domain out; strings and mx are
-- JSON arrays of strings ('[]' when absent), as repaired by the parser.
CREATE TABLE policy (
	id INTEGER PRIMARY KEY,
	report INTEGER NOT NULL REFERENCES report (id) ON DELETE CASCADE,
	idx INTEGER NOT NULL,
	type TEXT NOT NULL,
	domain TEXT,
	strings TEXT NOT NULL DEFAULT '[]',
	mx TEXT NOT NULL DEFAULT '[]',
	successful_sessions INTEGER NOT NULL CHECK (successful_sessions >= 0),
	failed_sessions INTEGER NOT NULL CHECK (failed_sessions >= 0),
	UNIQUE (report, idx)
);
-- Summaries per policy domain (joined to report for day and org).
CREATE INDEX policy_domain ON policy (domain, report);

-- failure-details rows. Only result_type and count are required; the
-- rest is NULL when the reporter left it out.
CREATE TABLE failure (
	id INTEGER PRIMARY KEY,
	policy INTEGER NOT NULL REFERENCES policy (id) ON DELETE CASCADE,
	result_type TEXT NOT NULL,
	sending_ip TEXT,
	mx_hostname TEXT,
	mx_helo TEXT,
	receiving_ip TEXT,
	additional_info TEXT,
	reason TEXT,
	count INTEGER NOT NULL CHECK (count >= 0)
);
-- Covers "top failure result types" for a set of policies, and the
-- foreign key (cascade deletes look rows up by policy).
CREATE INDEX failure_policy ON failure (policy, result_type, count);
CREATE INDEX failure_result_type ON failure (result_type);

-- Ingest counters for metrics: received, stored, duplicates,
-- rejected_<reason> (rp_error_name()), and whatever the front ends add.
CREATE TABLE ingest_stat (
	name TEXT PRIMARY KEY,
	value INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
