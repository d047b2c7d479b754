-- Version 7: chat logs at scale. The admin's filters and text search read
-- indexes, not every row. Safe to run again (as on a file whose version
-- was wound back).

-- The model filter, newest first, and the list of models it offers.
CREATE INDEX IF NOT EXISTS chat_logs_by_model ON chat_logs(model, recorded_at);

-- Text search: the three-character pieces (trigrams) of each chat's title
-- and conversation. A search looks up the chats that hold every piece of
-- what was typed, then checks the text of those alone. The index keeps no
-- text (contentless) and no positions (detail=none): about a third of the
-- text's size. chat_logs.rs writes it beside each row it writes; deleting a
-- chat removes its entry here.
CREATE VIRTUAL TABLE IF NOT EXISTS chat_logs_fts USING fts5(
    chat_title, conversation_text,
    content = '', contentless_delete = 1, detail = none, tokenize = 'trigram'
);

CREATE TRIGGER IF NOT EXISTS chat_logs_fts_delete AFTER DELETE ON chat_logs BEGIN
    DELETE FROM chat_logs_fts WHERE rowid = old.id;
END;

INSERT OR REPLACE INTO chat_logs_fts (rowid, chat_title, conversation_text)
    SELECT id, chat_title, conversation_text FROM chat_logs;
