//! The `settings` table: instance-wide switches an admin can flip.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::StoreError;
use crate::domain::Timestamp;

/// Whether completions are written to the chat logs (default: yes).
pub const RECORD_CHATS: &str = "record_chats";

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
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
