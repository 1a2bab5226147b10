-- Webhook deliveries per link are bounded (Portal:Webhooks:RunsPerLink): counting a session's delivered runs at each
-- completion must not scan every delivery.
CREATE INDEX ix_webhook_deliveries_session ON webhook_deliveries (session_id, event, run_id);
