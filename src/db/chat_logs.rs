//! The `chat_logs` table: one row per chat, written by the gateway and read
//! by `GET /chatlogs`. A chat continued under the same `chatID` replaces its
//! row's conversation and moves its `recordedAt`.

use std::fmt::Write as _;

use rusqlite::{params, Connection, Transaction};
use serde::Serialize;

use crate::domain::{ApiKeyId, Timestamp, UserId};
use crate::error::ApiError;

/// A chat log as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Chatlog {
    #[serde(rename = "chatID")]
    pub chat_id: String,
    #[serde(rename = "chatTitle")]
    pub chat_title: String,
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
    #[serde(rename = "recordedAt")]
    pub recorded_at: Timestamp,
    #[serde(rename = "conversationText")]
    pub conversation_text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStatus {
    Ok,
    Error,
    Cancelled,
}

impl ChatStatus {
    fn as_str(self) -> &'static str {
        match self {
            ChatStatus::Ok => "ok",
            ChatStatus::Error => "error",
            ChatStatus::Cancelled => "cancelled",
        }
    }
}

/// Everything recorded about one completion.
#[derive(Debug, Clone)]
pub struct NewChatLog {
    pub chat_id: String,
    pub chat_title: String,
    pub recorded_at: Timestamp,
    pub conversation_text: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub character_id: Option<String>,
    pub user_id: Option<UserId>,
    pub api_key_id: Option<ApiKeyId>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub status: ChatStatus,
    pub error_message: Option<String>,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
}

/// Inserts the chat, or replaces the row of an existing `chat_id` (keeping
/// its `created_at`). A user deleted since the chat began leaves it
/// unattributed rather than unrecorded.
pub fn upsert(tx: &Transaction, log: &NewChatLog) -> Result<(), ApiError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO chat_logs (chat_id, chat_title, created_at, recorded_at, conversation_text,
             model, provider, character_id, user_id, api_key_id, prompt_tokens,
             completion_tokens, status, error_message, latency_ms, ttft_ms)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7,
                 (SELECT id FROM users WHERE id = ?8),
                 (SELECT id FROM api_keys WHERE id = ?9),
                 ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (chat_id) DO UPDATE SET
             chat_title = excluded.chat_title,
             recorded_at = excluded.recorded_at,
             conversation_text = excluded.conversation_text,
             model = excluded.model,
             provider = excluded.provider,
             character_id = excluded.character_id,
             user_id = excluded.user_id,
             api_key_id = excluded.api_key_id,
             prompt_tokens = excluded.prompt_tokens,
             completion_tokens = excluded.completion_tokens,
             status = excluded.status,
             error_message = excluded.error_message,
             latency_ms = excluded.latency_ms,
             ttft_ms = excluded.ttft_ms",
    )?;
    stmt.execute(params![
        log.chat_id,
        log.chat_title,
        log.recorded_at,
        log.conversation_text,
        log.model,
        log.provider,
        log.character_id,
        log.user_id.map(|u| u.0),
        log.api_key_id.map(|k| k.0),
        log.prompt_tokens,
        log.completion_tokens,
        log.status.as_str(),
        log.error_message,
        log.latency_ms,
        log.ttft_ms,
    ])?;
    Ok(())
}

/// Where the previous page ended: pages run newest first by
/// (`recorded_at`, `id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    recorded_at: i64,
    id: i64,
}

impl Cursor {
    /// An opaque token: hex of `recorded_at.id`.
    pub fn encode(self) -> String {
        let plain = format!("{}.{}", self.recorded_at, self.id);
        plain.bytes().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    pub fn decode(token: &str) -> Option<Cursor> {
        if !token.len().is_multiple_of(2) || !token.is_ascii() {
            return None;
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let plain = String::from_utf8(bytes).ok()?;
        let (recorded_at, id) = plain.split_once('.')?;
        Some(Cursor {
            recorded_at: recorded_at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ChatLogQuery {
    /// Inclusive bounds on `recorded_at`, in milliseconds.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub limit: u32,
    pub after: Option<Cursor>,
}

/// One page of chat logs, newest first, and the cursor of the next page.
pub fn list(
    conn: &Connection,
    query: &ChatLogQuery,
) -> Result<(Vec<Chatlog>, Option<Cursor>), ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, chat_id, chat_title, created_at, recorded_at, conversation_text
         FROM chat_logs
         WHERE recorded_at >= ?1 AND recorded_at <= ?2
           AND (?3 IS NULL OR recorded_at < ?3 OR (recorded_at = ?3 AND id < ?4))
         ORDER BY recorded_at DESC, id DESC
         LIMIT ?5",
    )?;
    let limit = query.limit as usize;
    let mut last = None;
    let mut logs = Vec::with_capacity(limit.min(1000));
    let mut rows = stmt.query(params![
        query.start_ms.unwrap_or(i64::MIN),
        query.end_ms.unwrap_or(i64::MAX),
        query.after.map(|c| c.recorded_at),
        query.after.map(|c| c.id),
        limit as i64 + 1,
    ])?;
    while let Some(row) = rows.next()? {
        if logs.len() == limit {
            return Ok((logs, last));
        }
        let log = Chatlog {
            chat_id: row.get(1)?,
            chat_title: row.get(2)?,
            created_at: row.get(3)?,
            recorded_at: row.get(4)?,
            conversation_text: row.get(5)?,
        };
        last = Some(Cursor {
            recorded_at: log.recorded_at.millis(),
            id: row.get(0)?,
        });
        logs.push(log);
    }
    Ok((logs, None))
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        let cursor = Cursor {
            recorded_at: 1_723_609_133_000,
            id: 42,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for junk in ["", "zz", "abc", "2e", "31"] {
            assert_eq!(Cursor::decode(junk), None, "{junk:?}");
        }
    }
}
