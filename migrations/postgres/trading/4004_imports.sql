-- Imports of broker CSV files. `import_keys` holds the dedupe key of
-- every trade an import created (the broker's id, or the fill's fields
-- with its occurrence number in the file): a row whose key is there is a
-- duplicate. Undoing an import deletes its trades and, by cascade, its keys.

CREATE TABLE imports (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    format        TEXT NOT NULL,
    portfolio_id  UUID REFERENCES portfolios (id) ON DELETE SET NULL,
    rows          BIGINT NOT NULL,
    created       BIGINT NOT NULL,
    duplicates    BIGINT NOT NULL,
    errors        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX imports_user_created_idx ON imports (user_id, created_at DESC, id DESC);

CREATE TABLE import_keys (
    user_id    UUID NOT NULL,
    key        TEXT NOT NULL,
    import_id  UUID NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX import_keys_import_idx ON import_keys (import_id);
CREATE INDEX trades_import_idx ON trades (import_id) WHERE import_id IS NOT NULL;
