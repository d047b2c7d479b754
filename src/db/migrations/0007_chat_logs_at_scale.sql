-- Version 7: chat logs at scale. The admin's filters and text search read
-- indexes, not every row. Safe to run again (as on a file whose version
-- was wound back).

-- The model filter, newest first, and the list of models it offers.
CREATE INDEX IF NOT EXISTS chat_logs_by_model ON chat_logs(model, recorded_at);

-- Text search: the three-character pieces (trigrams) of each chat's title
-- and conversation. A search looks up the chats that hold every piece of
-- what was typed, then checks the text of those alone. The index keeps no
-- text (contentless) and no positions (detail=none): about a third of the
-- text's size.
CREATE VIRTUAL TABLE IF NOT EXISTS chat_logs_fts USING fts5(
    chat_title, conversation_text,
    content = '', contentless_delete = 1, detail = none, tokenize = 'trigram'
);

-- Indexing a chat's text costs more than the rest of recording it, so
-- recording leaves it to a background thread, and meanwhile a search checks
-- the text of the chats not indexed yet directly. Those are the chats past
-- `indexed_to` (ids only grow: AUTOINCREMENT), and the chats whose text
-- was replaced since it was indexed, noted here by a trigger. The chats
-- recorded before start past it, so a large file does not hold the start.
CREATE TABLE IF NOT EXISTS chat_logs_fts_progress (indexed_to INTEGER NOT NULL);
INSERT INTO chat_logs_fts_progress (indexed_to)
    SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM chat_logs_fts_progress);

CREATE TABLE IF NOT EXISTS chat_logs_unindexed (id INTEGER PRIMARY KEY);

-- NOT EXISTS, not OR IGNORE: an upsert's conflict handling overrides the
-- one of a statement in a trigger it fires.
CREATE TRIGGER IF NOT EXISTS chat_logs_unindexed_update
AFTER UPDATE OF chat_title, conversation_text ON chat_logs BEGIN
    INSERT INTO chat_logs_unindexed (id) SELECT new.id
    WHERE NOT EXISTS (SELECT 1 FROM chat_logs_unindexed WHERE id = new.id);
END;

CREATE TRIGGER IF NOT EXISTS chat_logs_fts_delete AFTER DELETE ON chat_logs BEGIN
    DELETE FROM chat_logs_fts WHERE rowid = old.id;
    DELETE FROM chat_logs_unindexed WHERE id = old.id;
END;
