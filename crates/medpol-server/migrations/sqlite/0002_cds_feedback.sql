-- CDS Hooks feedback: what the EHR's users did with our cards and suggestions.
CREATE TABLE cds_feedback (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    received_at TEXT NOT NULL,
    client TEXT NOT NULL,
    body TEXT NOT NULL
);
