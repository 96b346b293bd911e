-- Outbound database, version 3: where each report goes and how far it got.
--
-- The sender first plans a report: it finds the rua URIs (from the record
-- the MTAs saw, or DNS) and adds one delivery row per usable URI; until
-- then plan_* on the report track failed lookups. Each delivery moves
-- pending -> in-flight -> delivered | pending (retry) | failed. A row is
-- marked in-flight (committed) before the first byte is sent, so after a
-- crash only in-flight rows can have been sent twice; they go back to
-- pending at start. target is the mailto address or the https URI.
ALTER TABLE report ADD COLUMN plan_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE report ADD COLUMN plan_next_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE report ADD COLUMN plan_error TEXT NOT NULL DEFAULT '';

CREATE TABLE delivery (
	id INTEGER PRIMARY KEY,
	report INTEGER NOT NULL REFERENCES report(id) ON DELETE CASCADE,
	uri TEXT NOT NULL,
	scheme TEXT NOT NULL CHECK (scheme IN ('mailto', 'https')),
	target TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending'
	    CHECK (state IN ('pending', 'in-flight', 'delivered', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	first_attempt_at INTEGER,
	next_attempt_at INTEGER NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	response_code INTEGER,
	response_excerpt TEXT NOT NULL DEFAULT '',
	delivered_at INTEGER,
	UNIQUE (report, uri)
);
CREATE INDEX delivery_due ON delivery (state, next_attempt_at);
