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

-- The chats whose text is not in the index yet. Indexing costs more than
-- the rest of recording a chat, so recording only notes the chat here and
-- a background thread indexes it soon after; meanwhile a search checks
-- these chats' text directly.
CREATE TABLE IF NOT EXISTS chat_logs_unindexed (id INTEGER PRIMARY KEY);

-- NOT EXISTS, not OR IGNORE: an upsert's conflict handling overrides the
-- one of a statement in a trigger it fires.
CREATE TRIGGER IF NOT EXISTS chat_logs_unindexed_insert AFTER INSERT ON chat_logs BEGIN
    INSERT INTO chat_logs_unindexed (id) SELECT new.id
    WHERE NOT EXISTS (SELECT 1 FROM chat_logs_unindexed WHERE id = new.id);
END;

CREATE TRIGGER IF NOT EXISTS chat_logs_unindexed_update
AFTER UPDATE OF chat_title, conversation_text ON chat_logs BEGIN
    INSERT INTO chat_logs_unindexed (id) SELECT new.id
    WHERE NOT EXISTS (SELECT 1 FROM chat_logs_unindexed WHERE id = new.id);
END;

CREATE TRIGGER IF NOT EXISTS chat_logs_fts_delete AFTER DELETE ON chat_logs BEGIN
    DELETE FROM chat_logs_fts WHERE rowid = old.id;
    DELETE FROM chat_logs_unindexed WHERE id = old.id;
END;

-- The chats recorded before: indexed in the background too, so that a
-- large file does not hold the start.
INSERT OR IGNORE INTO chat_logs_unindexed (id) SELECT id FROM chat_logs;
