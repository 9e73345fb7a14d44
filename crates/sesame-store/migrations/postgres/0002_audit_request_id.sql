-- The HTTP request an audit event came from (X-Request-Id, also shown on error pages).
ALTER TABLE audit_events ADD COLUMN request_id TEXT;
