-- Import dedupe keys are scoped to (user, portfolio, layout): a broker id
-- seen in another portfolio, or in another broker's file, is not a
-- duplicate. A key belongs to its import (undoing the import frees it) and
-- to its portfolio (deleting the portfolio, which deletes its trades, frees
-- it). Keys of imports without a portfolio share the scope "no portfolio":
-- the unique index reads a missing portfolio as the nil UUID, since a
-- primary key cannot hold NULL. SQLite cannot alter a primary key, so the
-- table is rebuilt; existing keys keep their import's portfolio and layout.
-- Imports also count the rows that were not fills (`skipped`).

CREATE TABLE import_keys_scoped (
    user_id       BLOB NOT NULL,
    portfolio_id  BLOB REFERENCES portfolios (id) ON DELETE CASCADE,
    format        TEXT NOT NULL,
    key           TEXT NOT NULL,
    import_id     BLOB NOT NULL REFERENCES imports (id) ON DELETE CASCADE
);
INSERT INTO import_keys_scoped (user_id, portfolio_id, format, key, import_id)
    SELECT k.user_id, i.portfolio_id, i.format, k.key, k.import_id
    FROM import_keys k JOIN imports i ON i.id = k.import_id;
DROP TABLE import_keys;
ALTER TABLE import_keys_scoped RENAME TO import_keys;
CREATE UNIQUE INDEX import_keys_scope_idx ON import_keys
    (user_id, format, key, COALESCE(portfolio_id, X'00000000000000000000000000000000'));
CREATE INDEX import_keys_import_idx ON import_keys (import_id);
CREATE INDEX import_keys_portfolio_idx ON import_keys (portfolio_id) WHERE portfolio_id IS NOT NULL;

ALTER TABLE imports ADD COLUMN skipped BIGINT NOT NULL DEFAULT 0;
