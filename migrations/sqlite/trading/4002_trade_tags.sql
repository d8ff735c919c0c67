-- Tags on trades (SQLite). `trades.tags` is the JSON array the API reads
-- back (sorted, distinct); `trade_tags` has one row per tag so `?tag=` is
-- an index lookup instead of a scan of every trade's text.

ALTER TABLE trades ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE trades ADD COLUMN import_id BLOB;

CREATE TABLE trade_tags (
    trade_id  BLOB NOT NULL REFERENCES trades (id) ON DELETE CASCADE,
    user_id   BLOB NOT NULL,
    tag       TEXT NOT NULL,
    PRIMARY KEY (trade_id, tag)
);
CREATE INDEX trade_tags_user_tag_idx ON trade_tags (user_id, tag, trade_id);
