\echo
\echo '==> Chapter 4: a tamper-evident audit chain (SHA-256 links, HMAC signatures, in C++)'
\echo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS keel;
RESET client_min_messages;
CREATE TABLE audit_events (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    event_type varchar(50) NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    previous_hash varchar(64),
    signature varchar(64),
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP
);
\echo '    CozyEngine''s audit_events has previous_hash and signature columns. One call chains it:'
\echo '    SELECT keel.enable_audit_chain(''audit_events'', ''previous_hash'', ''signature'');'
SELECT keel.enable_audit_chain('audit_events', 'previous_hash', 'signature') AS chain_id;
INSERT INTO audit_events (event_type, payload) VALUES ('LOGIN', '{"user": "ada"}');
INSERT INTO audit_events (event_type, payload) VALUES ('TOOL_CALL', '{"tool": "web_search", "cost_cents": 3}');
INSERT INTO audit_events (event_type, payload) VALUES ('PAYMENT', '{"amount": 4200}');
\echo '    Three inserts later, each row carries the hash of its predecessor and a signature:'
SELECT event_type, left(previous_hash, 16) || '...' AS previous_hash, left(signature, 16) || '...' AS signature
  FROM audit_events ORDER BY created_at;
\echo '    keel.verify_audit_chain() recomputes every hash and signature in one pass:'
SELECT ok, rows_checked FROM keel.verify_audit_chain('audit_events');
\echo '    keel.audit_chain_digest() is a small signed digest to keep outside the database:'
SELECT keel.audit_chain_digest('audit_events') AS digest \gset
SELECT left(:'digest', 48) || '...' AS digest;
\echo
\echo '    The table is append-only now:'
\set ON_ERROR_STOP 0
\set SHOW_CONTEXT never
\set VERBOSITY terse
UPDATE audit_events SET payload = '{"amount": 1}' WHERE event_type = 'PAYMENT';
\set VERBOSITY default
\set ON_ERROR_STOP 1
\echo
\echo '    A superuser who disables the triggers can still edit a row, but not unnoticed:'
ALTER TABLE audit_events DISABLE TRIGGER USER;
UPDATE audit_events SET payload = '{"amount": 1}' WHERE event_type = 'PAYMENT';
ALTER TABLE audit_events ENABLE TRIGGER USER;
SELECT ok, first_bad_position, break_kind FROM keel.verify_audit_chain('audit_events');
\echo '    ... and cutting off the tail is caught by the digest kept outside:'
ALTER TABLE audit_events DISABLE TRIGGER USER;
DELETE FROM audit_events WHERE event_type = 'PAYMENT';
DELETE FROM keel.audit_link WHERE chain_id = keel._audit_chain_id('audit_events') AND pos = 3;
ALTER TABLE audit_events ENABLE TRIGGER USER;
SELECT ok, first_bad_position, break_kind, detail FROM keel.verify_audit_chain('audit_events', :'digest');
SELECT keel.disable_audit_chain('audit_events', forget => true) AS cleaned_up;
DROP TABLE audit_events;
