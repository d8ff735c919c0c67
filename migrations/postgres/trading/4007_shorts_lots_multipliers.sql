-- The accounting rules of a portfolio, and multipliers (issue 20).
-- `allow_short`: a sell beyond the held quantity opens a short (positions
-- may then be negative); `cost_basis`: `average`, `fifo` or `lifo`. The
-- defaults are the rules every existing portfolio was folded under, so
-- nothing stored changes meaning. A trade's `multiplier` (options 100,
-- ES 50) defaults to 1, the value every existing trade was folded with;
-- a round trip records its trades' multiplier and its direction (every
-- existing one was long: shorts were refused).
ALTER TABLE portfolios ADD COLUMN allow_short BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE portfolios ADD COLUMN cost_basis TEXT NOT NULL DEFAULT 'average'
    CHECK (cost_basis IN ('average', 'fifo', 'lifo'));
ALTER TABLE trades ADD COLUMN multiplier NUMERIC NOT NULL DEFAULT 1 CHECK (multiplier > 0);
ALTER TABLE round_trips ADD COLUMN direction TEXT NOT NULL DEFAULT 'long'
    CHECK (direction IN ('long', 'short'));
ALTER TABLE round_trips ADD COLUMN multiplier NUMERIC NOT NULL DEFAULT 1;
