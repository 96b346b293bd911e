-- Outbound database, version 1: the collector's daily counters.
--
-- policy_counter holds one row per (UTC day, report domain, TLSRPT record
-- the MTA saw, policy): the aggregation key of PROTOCOL.md section 1.4.
-- Absent strings are stored as '' and absent lists as '[]' so that the
-- UNIQUE constraint (which treats NULLs as distinct) really deduplicates.
-- policy_type is the raw number from the datagram (1 tlsa, 2 sts,
-- 9 no-policy-found, anything else kept as sent and left out of reports).
CREATE TABLE policy_counter (
	id INTEGER PRIMARY KEY,
	day TEXT NOT NULL,
	report_domain TEXT NOT NULL,
	tlsrpt_record TEXT NOT NULL,
	policy_type INTEGER NOT NULL,
	policy_domain TEXT NOT NULL,
	policy_strings TEXT NOT NULL,	-- JSON array of strings
	mx_hosts TEXT NOT NULL,		-- JSON array of strings
	successful_sessions INTEGER NOT NULL DEFAULT 0,
	failed_sessions INTEGER NOT NULL DEFAULT 0,
	UNIQUE (day, report_domain, tlsrpt_record, policy_type, policy_domain,
	    policy_strings, mx_hosts)
);

-- One row per distinct failure-details entry under a policy_counter row.
-- result_code is libtlsrpt's c (201..306; unknown codes kept as sent).
CREATE TABLE failure_counter (
	policy_id INTEGER NOT NULL REFERENCES policy_counter(id) ON DELETE CASCADE,
	result_code INTEGER NOT NULL,
	sending_mta_ip TEXT NOT NULL,
	receiving_mx_hostname TEXT NOT NULL,
	receiving_mx_helo TEXT NOT NULL,
	receiving_ip TEXT NOT NULL,
	additional_information TEXT NOT NULL,
	failure_reason_code TEXT NOT NULL,
	sessions INTEGER NOT NULL,
	PRIMARY KEY (policy_id, result_code, sending_mta_ip, receiving_mx_hostname,
	    receiving_mx_helo, receiving_ip, additional_information,
	    failure_reason_code)
) WITHOUT ROWID;

-- The collector's own counters (received, accepted, rejected_<reason>,
-- ...) per UTC day of the flush that wrote them, summed across restarts.
CREATE TABLE collector_stat (
	day TEXT NOT NULL,
	name TEXT NOT NULL,
	value INTEGER NOT NULL,
	PRIMARY KEY (day, name)
) WITHOUT ROWID;
