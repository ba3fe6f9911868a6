-- Secrets the service keeps for itself, e.g. the key of the decision log's
-- request digests (so a digest cannot be reversed by hashing candidates).
CREATE TABLE service_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
