-- The exact sums an open round trip carries between writes, so a trade
-- appended after every other trade of its group is folded from them in
-- constant time instead of re-folding the group's whole history: the
-- averages in the row are rounded, these are not. NULL (rows written
-- before this migration, and closed round trips): the next write of the
-- group re-folds it, and fills them.
ALTER TABLE round_trips ADD COLUMN buy_value TEXT;
ALTER TABLE round_trips ADD COLUMN sell_value TEXT;
ALTER TABLE round_trips ADD COLUMN book_cost TEXT;
