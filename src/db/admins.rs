//! The `admins` table: who may log in to the web admin.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{Conflict, StoreError};
use crate::domain::{AdminId, Email, Timestamp};

#[derive(Debug, Clone)]
pub struct Admin {
    pub id: AdminId,
    pub email: String,
    pub created_at: Timestamp,
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM admins", [], |row| row.get(0))?)
}

/// All admins, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<Admin>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, email, created_at FROM admins ORDER BY id")?;
    let rows = stmt.query_map([], |row| {
        Ok(Admin {
            id: row.get(0)?,
            email: row.get(1)?,
            created_at: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The admin's id and password hash, by e-mail.
pub fn credentials(
    conn: &Connection,
    email: &Email,
) -> Result<Option<(AdminId, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, password_hash FROM admins WHERE email = ?1")?;
    Ok(stmt
        .query_row([email.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

pub fn password_hash(conn: &Connection, id: AdminId) -> Result<Option<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT password_hash FROM admins WHERE id = ?1")?;
    Ok(stmt.query_row([id], |row| row.get(0)).optional()?)
}

/// Adds an admin; a taken e-mail is a conflict.
pub fn insert(tx: &Transaction, email: &Email, password_hash: &str) -> Result<AdminId, StoreError> {
    let now = Timestamp::now();
    let inserted = tx.execute(
        "INSERT INTO admins (email, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (email) DO NOTHING",
        params![email.as_str(), password_hash, now],
    )?;
    if inserted == 0 {
        return Err(Conflict::AdminEmail {
            email: email.to_string(),
        }
        .into());
    }
    Ok(AdminId(tx.last_insert_rowid()))
}

/// Creates the admin, or sets the password of the existing one. Returns
/// whether it was created.
pub fn upsert_password(
    tx: &Transaction,
    email: &Email,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let existing = credentials(tx, email)?;
    match existing {
        Some((id, _)) => {
            set_password(tx, id, password_hash)?;
            Ok(false)
        }
        None => insert(tx, email, password_hash).map(|_| true),
    }
}

pub fn set_password(tx: &Transaction, id: AdminId, password_hash: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE admins SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, password_hash, Timestamp::now()],
    )?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Now,
    NoSuchAdmin,
    /// Refused: an instance always keeps one admin.
    LastOne,
}

/// Deletes an admin (and, by cascade, their sessions), never the last one.
pub fn delete(tx: &Transaction, id: AdminId) -> Result<Removed, StoreError> {
    if count(tx)? <= 1 {
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM admins WHERE id = ?1)",
            [id],
            |row| row.get(0),
        )?;
        return Ok(if exists {
            Removed::LastOne
        } else {
            Removed::NoSuchAdmin
        });
    }
    Ok(
        match tx.execute("DELETE FROM admins WHERE id = ?1", [id])? {
            0 => Removed::NoSuchAdmin,
            _ => Removed::Now,
        },
    )
}
