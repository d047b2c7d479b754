//! The `api_keys` table. Only a SHA-256 hash of each key is stored; a key
//! is looked up by that hash.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::domain::{ApiKey, ApiKeyId, KeyHash, KeyScope, Timestamp};

/// `last_used_at` is written at most this often per key, so authenticated
/// reads do not each turn into a write.
pub const LAST_USED_RESOLUTION_MS: i64 = 60_000;

#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyInfo {
    pub id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    pub scope: KeyScope,
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
    #[serde(rename = "lastUsedAt")]
    pub last_used_at: Option<Timestamp>,
    #[serde(rename = "revokedAt")]
    pub revoked_at: Option<Timestamp>,
}

/// What a lookup by hash found.
#[derive(Debug, Clone, Copy)]
pub struct KeyRecord {
    pub id: ApiKeyId,
    pub scope: KeyScope,
    pub revoked: bool,
    pub last_used_at: Option<Timestamp>,
}

pub fn insert(
    tx: &Transaction,
    name: &str,
    key: &ApiKey,
    scope: KeyScope,
) -> Result<ApiKeyInfo, StoreError> {
    let created_at = Timestamp::now();
    tx.execute(
        "INSERT INTO api_keys (name, prefix, key_hash, scope, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, key.prefix(), key.hash().as_bytes(), scope, created_at],
    )?;
    Ok(ApiKeyInfo {
        id: ApiKeyId(tx.last_insert_rowid()),
        name: name.to_owned(),
        prefix: key.prefix().to_owned(),
        scope,
        created_at,
        last_used_at: None,
        revoked_at: None,
    })
}

pub fn find_by_hash(conn: &Connection, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, scope, revoked_at IS NOT NULL, last_used_at FROM api_keys WHERE key_hash = ?1",
    )?;
    Ok(stmt
        .query_row([hash.as_bytes()], |row| {
            Ok(KeyRecord {
                id: row.get(0)?,
                scope: row.get(1)?,
                revoked: row.get(2)?,
                last_used_at: row.get(3)?,
            })
        })
        .optional()?)
}

pub fn touch(tx: &Transaction, id: ApiKeyId, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

const INFO: &str =
    "SELECT id, name, prefix, scope, created_at, last_used_at, revoked_at FROM api_keys";

fn info(row: &rusqlite::Row) -> rusqlite::Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        id: row.get(0)?,
        name: row.get(1)?,
        prefix: row.get(2)?,
        scope: row.get(3)?,
        created_at: row.get(4)?,
        last_used_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}

/// All keys, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<ApiKeyInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{INFO} ORDER BY id"))?;
    let rows = stmt.query_map([], info)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: ApiKeyId) -> Result<Option<ApiKeyInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("{INFO} WHERE id = ?1"))?;
    Ok(stmt.query_row([id], info).optional()?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
    NoSuchKey,
}

pub fn revoke(tx: &Transaction, id: ApiKeyId) -> Result<Revoked, StoreError> {
    let state: Option<bool> = tx
        .query_row(
            "SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?;
    Ok(match state {
        None => Revoked::NoSuchKey,
        Some(true) => Revoked::Already,
        Some(false) => {
            tx.execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1",
                params![id, Timestamp::now()],
            )?;
            Revoked::Now
        }
    })
}
