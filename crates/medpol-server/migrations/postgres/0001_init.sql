-- Payers, their lines of business, policy revisions (append-only) and the decision log.
CREATE TABLE payers (
    id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE lines_of_business (
    payer TEXT NOT NULL REFERENCES payers (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    market TEXT NOT NULL,
    PRIMARY KEY (payer, id)
);

-- A published revision is never changed: rows are only inserted.
CREATE TABLE policy_revisions (
    seq BIGSERIAL PRIMARY KEY,
    payer TEXT NOT NULL,
    number TEXT NOT NULL,
    revision BIGINT NOT NULL,
    in_force_from TEXT,
    document TEXT NOT NULL,
    digest TEXT NOT NULL,
    published_at TEXT NOT NULL,
    published_by TEXT NOT NULL,
    UNIQUE (payer, number, revision)
);

CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    decided_at TEXT NOT NULL,
    source TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    payer TEXT NOT NULL,
    product TEXT NOT NULL,
    setting TEXT NOT NULL,
    date_of_service TEXT NOT NULL,
    outcome TEXT NOT NULL,
    policy_keys TEXT NOT NULL,
    policies TEXT NOT NULL,
    lines TEXT NOT NULL,
    clinical TEXT
);

CREATE INDEX decisions_decided_at ON decisions (decided_at);
