//! The `characters` table: AI characters, a title plus a system instruction.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::domain::{CharacterId, CharacterPatch, NewCharacter, Timestamp};

#[derive(Debug, Clone, Serialize)]
pub struct Character {
    pub id: CharacterId,
    pub title: String,
    pub description: String,
    pub instruction: String,
    /// Left out when there is none: the spec's Character says string.
    #[serde(rename = "defaultModel", skip_serializing_if = "Option::is_none")]
    pub default_model: Option<String>,
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
    #[serde(rename = "updatedAt")]
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, title, description, instruction, default_model, created_at, updated_at";

fn from_row(row: &Row) -> rusqlite::Result<Character> {
    Ok(Character {
        id: row.get(0)?,
        title: row.get(1)?,
        description: row.get(2)?,
        instruction: row.get(3)?,
        default_model: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

pub fn insert(tx: &Transaction, new: &NewCharacter) -> Result<Character, StoreError> {
    let now = Timestamp::now();
    let id = CharacterId::generate();
    tx.execute(
        "INSERT INTO characters (id, title, description, instruction, default_model, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![id, new.title, new.description, new.instruction, new.default_model, now],
    )?;
    Ok(Character {
        id,
        title: new.title.clone(),
        description: new.description.clone(),
        instruction: new.instruction.clone(),
        default_model: new.default_model.clone(),
        created_at: now,
        updated_at: now,
    })
}

/// All characters, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<Character>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM characters ORDER BY seq"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM characters", [], |row| row.get(0))?)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Character>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM characters WHERE id = ?1"))?;
    Ok(stmt.query_row([id], from_row).optional()?)
}

/// Applies `patch`; `None` when there is no such character.
pub fn update(
    tx: &Transaction,
    id: &str,
    patch: &CharacterPatch,
) -> Result<Option<Character>, StoreError> {
    let changed = tx.execute(
        "UPDATE characters SET
             title = COALESCE(?2, title),
             description = COALESCE(?3, description),
             instruction = COALESCE(?4, instruction),
             default_model = CASE WHEN ?5 THEN ?6 ELSE default_model END,
             updated_at = ?7
         WHERE id = ?1",
        params![
            id,
            patch.title,
            patch.description,
            patch.instruction,
            patch.default_model.is_some(),
            patch.default_model.clone().flatten(),
            Timestamp::now(),
        ],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    get(tx, id)
}

/// Deletes the character; false when there was no such character.
pub fn delete(tx: &Transaction, id: &str) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM characters WHERE id = ?1", [id])? > 0)
}
