-- A disabled account has its own state: the lockout that failed log-ins set is no longer how an admin disables an
-- account (anyone could lock an account by guessing, and its API keys stopped with it). Accounts disabled the old
-- way (lockout until the end of time) are carried over.

ALTER TABLE asp_net_users ADD COLUMN disabled_at timestamp with time zone;

UPDATE asp_net_users SET disabled_at = now(), lockout_end = NULL WHERE lockout_end > now() + interval '100 years';
