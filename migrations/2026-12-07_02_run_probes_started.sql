-- A customer run starts the session's server probes once: the first observation of the run marks it, later ones
-- (however many a page sends, whatever their ids) find it marked. The mark also lets the portal count how many
-- runs of a link have started probes, and stop there.

ALTER TABLE runs ADD COLUMN probes_started_at timestamp with time zone;
