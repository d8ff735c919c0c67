-- Round trips, derived from the trades and kept like positions: every
-- trade write rebuilds its group's round trips (from the earliest time it
-- touched on) inside its own transaction. The id is the first trade's.
-- `trade_ids` and `tags` are JSON arrays; `round_trip_tags` indexes the
-- tags for `?tag=`.

CREATE TABLE round_trips (
    id               BLOB PRIMARY KEY,
    user_id          BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    portfolio_id     BLOB REFERENCES portfolios (id) ON DELETE CASCADE,
    symbol           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at        TEXT NOT NULL,
    closed_at        TEXT,
    quantity         TEXT NOT NULL,
    bought           TEXT NOT NULL,
    sold             TEXT NOT NULL,
    average_entry    TEXT NOT NULL,
    average_exit     TEXT,
    fees             TEXT NOT NULL,
    realized_pnl     TEXT NOT NULL,
    holding_seconds  BIGINT,
    trade_ids        TEXT NOT NULL,
    tags             TEXT NOT NULL
);
-- The listing: newest opened first.
CREATE INDEX round_trips_user_opened_idx ON round_trips (user_id, opened_at DESC, id DESC);
-- Analytics: closed ones in closing order.
CREATE INDEX round_trips_user_closed_idx ON round_trips (user_id, status, closed_at, id);
-- A write's rebuild of one group.
CREATE INDEX round_trips_group_idx ON round_trips (user_id, symbol, portfolio_id, closed_at);

CREATE TABLE round_trip_tags (
    round_trip_id  BLOB NOT NULL REFERENCES round_trips (id) ON DELETE CASCADE,
    user_id        BLOB NOT NULL,
    tag            TEXT NOT NULL,
    PRIMARY KEY (round_trip_id, tag)
);
CREATE INDEX round_trip_tags_user_tag_idx ON round_trip_tags (user_id, tag, round_trip_id);

-- The fold of the trades without a portfolio (their own group per symbol).
CREATE INDEX trades_unfiled_symbol_executed_idx ON trades (user_id, symbol, executed_at, id)
    WHERE portfolio_id IS NULL;
