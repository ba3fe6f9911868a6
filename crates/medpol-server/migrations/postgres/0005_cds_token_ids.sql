-- The ids (jti) of CDS client tokens already accepted, shared by every
-- replica on this database so that a token accepted by one cannot be
-- replayed against another. A row may go once its token has expired.
CREATE TABLE cds_token_ids (
    iss TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (iss, jti)
);
CREATE INDEX cds_token_ids_expires_at ON cds_token_ids (expires_at);
