-- Ties sessions to TradeSense's users (needs the sessions and users sets),
-- PostgreSQL. The constraint has the name PostgreSQL gave the inline
-- reference of the schema before the split, so both kinds of database end
-- up alike. SQLite enforces the same with triggers.

ALTER TABLE sessions
    ADD CONSTRAINT sessions_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
