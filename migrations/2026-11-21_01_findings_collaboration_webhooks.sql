-- Findings per run, the console's collaboration (notes, presence, share links), settings admins change at
-- run time, and webhooks with their delivery log.

CREATE TABLE findings (
    run_id uuid NOT NULL,
    session_id uuid NOT NULL,
    code text NOT NULL,
    severity text NOT NULL,
    summary text NOT NULL,
    evidence jsonb NOT NULL,
    recommendation text NOT NULL,
    evaluated_at timestamp with time zone NOT NULL,
    CONSTRAINT pk_findings PRIMARY KEY (run_id, code),
    CONSTRAINT fk_findings_runs_run_id FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE,
    CONSTRAINT fk_findings_sessions_session_id FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT ck_findings_severity CHECK (severity IN ('critical', 'warning', 'info'))
);
CREATE INDEX ix_findings_code_session_id ON findings (code, session_id);
CREATE INDEX ix_findings_session_id ON findings (session_id);

ALTER TABLE sessions ADD COLUMN link_revoked_at timestamp with time zone;
ALTER TABLE sessions ADD COLUMN closed_at timestamp with time zone;
CREATE INDEX ix_sessions_created_by_id ON sessions (created_by_id);

CREATE TABLE notes (
    id uuid NOT NULL,
    session_id uuid NOT NULL,
    author_id text,
    author_name text NOT NULL,
    body text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    CONSTRAINT pk_notes PRIMARY KEY (id),
    CONSTRAINT fk_notes_sessions_session_id FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT ck_notes_body CHECK (char_length(body) BETWEEN 1 AND 4000)
);
CREATE INDEX ix_notes_session_id_created_at ON notes (session_id, created_at);

-- Who is watching a session now: one row per open console page, refreshed by a heartbeat.
CREATE TABLE presence (
    circuit_id uuid NOT NULL,
    session_id uuid NOT NULL,
    user_id text NOT NULL,
    user_name text NOT NULL,
    seen_at timestamp with time zone NOT NULL,
    CONSTRAINT pk_presence PRIMARY KEY (circuit_id),
    CONSTRAINT fk_presence_sessions_session_id FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE INDEX ix_presence_session_id ON presence (session_id);

CREATE TABLE share_links (
    id uuid NOT NULL,
    session_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    created_by_id text,
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    CONSTRAINT pk_share_links PRIMARY KEY (id),
    CONSTRAINT fk_share_links_sessions_session_id FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT ck_share_links_token_hash CHECK (octet_length(token_hash) = 32)
);
CREATE UNIQUE INDEX ix_share_links_token_hash ON share_links (token_hash);
CREATE INDEX ix_share_links_session_id ON share_links (session_id);

-- Settings admins change in the console (the probe allow-list, retention), one JSON value per key.
CREATE TABLE settings (
    key text NOT NULL,
    value jsonb NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    updated_by text,
    CONSTRAINT pk_settings PRIMARY KEY (key)
);

CREATE TABLE webhooks (
    id uuid NOT NULL,
    url text NOT NULL,
    secret text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    disabled_at timestamp with time zone,
    CONSTRAINT pk_webhooks PRIMARY KEY (id),
    CONSTRAINT ck_webhooks_url CHECK (char_length(url) <= 2048)
);

-- One row per event and webhook, written in the transaction that completes the run; the worker sends it
-- and records every attempt.
CREATE TABLE webhook_deliveries (
    id uuid NOT NULL,
    webhook_id uuid NOT NULL,
    event text NOT NULL,
    session_id uuid,
    run_id uuid,
    payload jsonb NOT NULL,
    created_at timestamp with time zone NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamp with time zone,
    delivered_at timestamp with time zone,
    last_status integer,
    last_error text,
    CONSTRAINT pk_webhook_deliveries PRIMARY KEY (id),
    CONSTRAINT fk_webhook_deliveries_webhooks_webhook_id FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE
);
CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND next_attempt_at IS NOT NULL;
CREATE INDEX ix_webhook_deliveries_created_at ON webhook_deliveries (created_at DESC);
-- A completion reported twice (a reporter that resends) queues its event once per webhook.
CREATE UNIQUE INDEX ix_webhook_deliveries_once ON webhook_deliveries (webhook_id, event, run_id);
