-- The admin's deployment view (and the start-up check) reads the customers' connection observations of the last
-- 7 days: one row per run among all results. A partial index keeps that read from scanning every result.

CREATE INDEX ix_results_connection_received_at ON results (received_at) WHERE step = 'server.connection';
