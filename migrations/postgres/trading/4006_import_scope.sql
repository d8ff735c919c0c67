-- Import dedupe keys are scoped to (user, portfolio, layout): a broker id
-- seen in another portfolio, or in another broker's file, is not a
-- duplicate. A key belongs to its import (undoing the import frees it) and
-- to its portfolio (deleting the portfolio, which deletes its trades, frees
-- it). Keys of imports without a portfolio share the scope "no portfolio":
-- the unique index reads a missing portfolio as the nil UUID, since a
-- primary key cannot hold NULL (the same rule as SQLite's, which has no
-- NULLS NOT DISTINCT). Existing keys keep their import's portfolio and
-- layout. Imports also count the rows that were not fills (`skipped`).

ALTER TABLE import_keys DROP CONSTRAINT import_keys_pkey;
ALTER TABLE import_keys ADD COLUMN portfolio_id UUID REFERENCES portfolios (id) ON DELETE CASCADE;
ALTER TABLE import_keys ADD COLUMN format TEXT;
UPDATE import_keys k SET portfolio_id = i.portfolio_id, format = i.format
    FROM imports i WHERE i.id = k.import_id;
ALTER TABLE import_keys ALTER COLUMN format SET NOT NULL;
CREATE UNIQUE INDEX import_keys_scope_idx ON import_keys
    (user_id, format, key, COALESCE(portfolio_id, '00000000-0000-0000-0000-000000000000'::uuid));
CREATE INDEX import_keys_portfolio_idx ON import_keys (portfolio_id) WHERE portfolio_id IS NOT NULL;

ALTER TABLE imports ADD COLUMN skipped BIGINT NOT NULL DEFAULT 0;

-- Fees may be negative (a rebate: IBKR's positive `IBCommission`, a generic
-- file's negative fee with `fee_sign=signed`), as the model allows since
-- the trading model change; SQLite never had this CHECK. IF EXISTS: the
-- accounting migration may drop it too.
ALTER TABLE trades DROP CONSTRAINT IF EXISTS trades_fees_check;
