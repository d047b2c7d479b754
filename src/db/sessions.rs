//! The `admin_sessions` table: web admin logins. A session is found by the
//! SHA-256 of its id; the id itself lives only in the browser's cookie.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::StoreError;
use crate::domain::{AdminId, Timestamp};

/// A live session, with the admin it belongs to.
#[derive(Debug, Clone)]
pub struct Session {
    pub admin_id: AdminId,
    pub email: String,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

pub fn insert(
    tx: &Transaction,
    id_hash: &[u8],
    admin_id: AdminId,
    csrf_token: &str,
) -> Result<(), StoreError> {
    let now = Timestamp::now();
    tx.execute(
        "INSERT INTO admin_sessions (id_hash, admin_id, csrf_token, created_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![id_hash, admin_id, csrf_token, now],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, id_hash: &[u8]) -> Result<Option<Session>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.admin_id, a.email, s.csrf_token, s.created_at, s.last_seen_at
         FROM admin_sessions AS s JOIN admins AS a ON a.id = s.admin_id
         WHERE s.id_hash = ?1",
    )?;
    Ok(stmt
        .query_row([id_hash], |row| {
            Ok(Session {
                admin_id: row.get(0)?,
                email: row.get(1)?,
                csrf_token: row.get(2)?,
                created_at: row.get(3)?,
                last_seen_at: row.get(4)?,
            })
        })
        .optional()?)
}

pub fn touch(tx: &Transaction, id_hash: &[u8], now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE admin_sessions SET last_seen_at = ?2 WHERE id_hash = ?1",
        params![id_hash, now],
    )?;
    Ok(())
}

pub fn delete(tx: &Transaction, id_hash: &[u8]) -> Result<(), StoreError> {
    tx.execute("DELETE FROM admin_sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}

/// Ends every session of the admin except `keep` (after a password change).
pub fn delete_others(tx: &Transaction, admin_id: AdminId, keep: &[u8]) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM admin_sessions WHERE admin_id = ?1 AND id_hash != ?2",
        params![admin_id, keep],
    )?;
    Ok(())
}

/// Drops sessions idle since `idle_before` or created before `created_before`.
pub fn delete_expired(
    tx: &Transaction,
    idle_before: Timestamp,
    created_before: Timestamp,
) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "DELETE FROM admin_sessions WHERE last_seen_at < ?1 OR created_at < ?2",
        params![idle_before, created_before],
    )?)
}
