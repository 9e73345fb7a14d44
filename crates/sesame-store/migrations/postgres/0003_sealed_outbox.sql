-- The secret of a queued e-mail (temporary password, reset link) is sealed with the key ring
-- (AEAD, key outside the database); the payload keeps only the redacted message.
ALTER TABLE outbox ADD COLUMN sealed BYTEA;
ALTER TABLE outbox ADD COLUMN sealed_key TEXT;
-- An e-mail whose secret cannot be opened (its key lost) is dropped, never sent garbled.
ALTER TABLE outbox ADD COLUMN dropped_at BIGINT;
