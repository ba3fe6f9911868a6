-- Prior authorization (Da Vinci PAS): requests as received, an append-only
-- event log per request (each event carries the request's state after it),
-- subscriptions, the notification outbox, and SMART backend access tokens.
CREATE TABLE pa_requests (
    id TEXT PRIMARY KEY,
    -- The submitting client and the Claim's identifier (`system|value`):
    -- a later $submit with the same pair is an update of this request.
    client TEXT NOT NULL,
    claim_key TEXT NOT NULL,
    -- initial, appeal or clinical-exception; appeals and exceptions name
    -- the request they review.
    kind TEXT NOT NULL,
    parent TEXT,
    priority TEXT NOT NULL,
    received_at TEXT NOT NULL,
    payer TEXT NOT NULL,
    product TEXT NOT NULL,
    -- Identifiers of the requesting provider organization, for the
    -- subscription filter `org-identifier`.
    provider_ids TEXT NOT NULL,
    -- The request Bundle as received (it carries PHI: see docs/prior-auth.md).
    bundle TEXT NOT NULL,
    digest TEXT NOT NULL
);
CREATE INDEX pa_requests_claim ON pa_requests (client, claim_key);
CREATE INDEX pa_requests_received ON pa_requests (received_at);

-- Never updated, never deleted: the history of every request.
CREATE TABLE pa_events (
    request_id TEXT NOT NULL REFERENCES pa_requests (id),
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    -- The request's status after this event (pended, complete) and its due time.
    status TEXT NOT NULL,
    due_at TEXT NOT NULL,
    detail TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (request_id, seq)
);
CREATE INDEX pa_events_status ON pa_events (status, due_at);

CREATE TABLE pa_subscriptions (
    id TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ends_at TEXT,
    endpoint TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload TEXT NOT NULL,
    org_identifier TEXT,
    document TEXT NOT NULL
);

-- What is to be delivered to subscribers, written in the same transaction
-- as the event it announces; delivered rows are marked, never lost.
CREATE TABLE pa_notifications (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES pa_subscriptions (id),
    request_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    delivered_at TEXT,
    last_error TEXT
);
CREATE INDEX pa_notifications_due ON pa_notifications (delivered_at, next_attempt_at);

-- SMART Backend Services access tokens, by SHA-256 of the token (the token
-- itself is never stored), shared by every replica.
CREATE TABLE pa_access_tokens (
    token_hash TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    scope TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
