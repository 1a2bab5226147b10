-- The engineer may choose the language of a session's customer page; null lets the customer's browser decide.
ALTER TABLE sessions ADD COLUMN language text;
