-- Version 5: every database gets the same chat_logs_by_user index. Version
-- 2 was changed after it shipped to rebuild this index as a partial one, so
-- databases that were already past version 1 kept the full index, while
-- newer ones got the partial one. Rebuilt here, for all of them alike.

-- Most chats name no user: index only those that do (deleting a user finds
-- its chats through it), so recording an unattributed chat writes one
-- index fewer.
DROP INDEX IF EXISTS chat_logs_by_user;
CREATE INDEX chat_logs_by_user ON chat_logs(user_id, recorded_at) WHERE user_id IS NOT NULL;
