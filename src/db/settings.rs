//! The `settings` table: instance-wide switches an admin can flip.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::StoreError;
use crate::domain::{InstanceTimeZone, Retention, Timestamp};

/// Whether completions are written to the chat logs (default: yes).
pub const RECORD_CHATS: &str = "record_chats";
/// Whether a chat log keeps the conversation and its title (default: yes);
/// off, only what it cost, who and when.
pub const RECORD_CONVERSATIONS: &str = "record_conversations";
/// Days chat logs are kept, `0` for ever (`domain::Retention`).
pub const CHATLOG_RETENTION_DAYS: &str = "chatlog_retention_days";
/// The IANA time zone whose calendar day, week and month limits follow
/// (default: UTC).
pub const TIMEZONE: &str = "timezone";

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
    Ok(stmt.query_row([key], |row| row.get(0)).optional()?)
}

/// When a setting last changed (ms since the epoch), if it is set.
pub fn updated_at(conn: &Connection, key: &str) -> Result<Option<i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT updated_at FROM settings WHERE key = ?1")?;
    Ok(stmt.query_row([key], |row| row.get(0)).optional()?)
}

pub fn set(tx: &Transaction, key: &str, value: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![key, value, Timestamp::now()],
    )?;
    Ok(())
}

pub fn get_bool(conn: &Connection, key: &str, default: bool) -> Result<bool, StoreError> {
    Ok(get(conn, key)?.map_or(default, |v| v == "on"))
}

pub fn set_bool(tx: &Transaction, key: &str, value: bool) -> Result<(), StoreError> {
    set(tx, key, if value { "on" } else { "off" })
}

/// How long chat logs are kept; a value that does not parse (written by
/// hand) keeps them, and says so.
pub fn retention(conn: &Connection) -> Result<Retention, StoreError> {
    let Some(stored) = get(conn, CHATLOG_RETENTION_DAYS)? else {
        return Ok(Retention::default());
    };
    Ok(
        Retention::parse(CHATLOG_RETENTION_DAYS, &stored).unwrap_or_else(|e| {
            log::warn!("setting {e}; chat logs are kept");
            Retention::default()
        }),
    )
}

/// The instance's time zone; a value that does not parse (written by
/// hand) is UTC, and said so.
pub fn timezone(conn: &Connection) -> Result<InstanceTimeZone, StoreError> {
    let Some(stored) = get(conn, TIMEZONE)? else {
        return Ok(InstanceTimeZone::default());
    };
    Ok(
        InstanceTimeZone::parse(TIMEZONE, &stored).unwrap_or_else(|e| {
            log::warn!("setting {e}; limits follow UTC");
            InstanceTimeZone::default()
        }),
    )
}

/// Bumped by every change to the providers and the model catalog (and the
/// default provider), for a server that keeps them in memory to notice
/// another process's edits.
pub const CATALOG_VERSION: &str = "catalog_version";
/// The provider that takes the model names nothing else resolves: a
/// provider id, or empty for none; unset is automatic (`DefaultProvider`).
pub const DEFAULT_PROVIDER: &str = "default_provider";

/// Counts one more change of `key` (a version number).
pub fn bump(tx: &Transaction, key: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES (?1, '1', ?2)
         ON CONFLICT (key) DO UPDATE SET
             value = CAST(value AS INTEGER) + 1, updated_at = excluded.updated_at",
        params![key, Timestamp::now()],
    )?;
    Ok(())
}

/// The version `bump` counts, 0 before the first.
pub fn version(conn: &Connection, key: &str) -> Result<i64, StoreError> {
    Ok(get(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// Which provider takes the names nothing else resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultProvider {
    /// The built-in `openai` provider when its base URL is not OpenAI's
    /// own (`OPENAI_BASE_URL` at Ollama, vLLM, llama.cpp), else none.
    Automatic,
    /// None, whatever the base URLs.
    None,
    Provider(String),
}

pub fn default_provider(conn: &Connection) -> Result<DefaultProvider, StoreError> {
    Ok(match get(conn, DEFAULT_PROVIDER)? {
        None => DefaultProvider::Automatic,
        Some(id) if id.is_empty() => DefaultProvider::None,
        Some(id) => DefaultProvider::Provider(id),
    })
}

/// Sets the default provider; one that does not exist is refused.
pub fn set_default_provider(tx: &Transaction, choice: &DefaultProvider) -> Result<(), StoreError> {
    match choice {
        DefaultProvider::Automatic => {
            tx.execute("DELETE FROM settings WHERE key = ?1", [DEFAULT_PROVIDER])?;
        }
        DefaultProvider::None => set(tx, DEFAULT_PROVIDER, "")?,
        DefaultProvider::Provider(id) => {
            if !super::providers::exists(tx, id)? {
                return Err(StoreError::NotFound {
                    what: "provider",
                    key: id.clone(),
                });
            }
            set(tx, DEFAULT_PROVIDER, id)?;
        }
    }
    bump(tx, CATALOG_VERSION)
}
