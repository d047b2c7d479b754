//! The `users` and `user_tags` tables.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::{Conflict, StoreError};
use crate::domain::{Email, Tags, Timestamp, UserId};

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub tags: Tags,
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Matched exactly against the stored, lower-cased address.
    pub email: Option<String>,
    pub tag: Option<String>,
    pub limit: Option<u32>,
    pub offset: u32,
}

pub fn insert(tx: &Transaction, email: &Email, tags: &Tags) -> Result<User, StoreError> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM users WHERE email = ?1",
            [email.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Err(Conflict::UserEmail {
            email: email.to_string(),
            existing: UserId(id),
        }
        .into());
    }
    let created_at = Timestamp::now();
    tx.execute(
        "INSERT INTO users (email, created_at) VALUES (?1, ?2)",
        params![email.as_str(), created_at],
    )?;
    let id = UserId(tx.last_insert_rowid());
    write_tags(tx, id, tags)?;
    Ok(User {
        id,
        email: email.to_string(),
        tags: tags.clone(),
        created_at,
    })
}

fn write_tags(tx: &Transaction, id: UserId, tags: &Tags) -> Result<(), StoreError> {
    tx.execute("DELETE FROM user_tags WHERE user_id = ?1", [id])?;
    let mut insert =
        tx.prepare_cached("INSERT INTO user_tags (user_id, position, tag) VALUES (?1, ?2, ?3)")?;
    for (position, tag) in tags.as_slice().iter().enumerate() {
        insert.execute(params![id, position as i64, tag])?;
    }
    Ok(())
}

/// Users matching `filter`, in id order, each with its tags.
pub fn list(conn: &Connection, filter: &UserFilter) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.email, u.created_at, t.tag
         FROM (SELECT id, email, created_at FROM users
               WHERE (?1 IS NULL OR email = ?1)
                 AND (?2 IS NULL OR id IN (SELECT user_id FROM user_tags WHERE tag = ?2))
               ORDER BY id LIMIT ?3 OFFSET ?4) AS u
         LEFT JOIN user_tags AS t ON t.user_id = u.id
         ORDER BY u.id, t.position",
    )?;
    let limit = filter.limit.map_or(-1, i64::from);
    let rows = stmt.query(params![filter.email, filter.tag, limit, filter.offset])?;
    collect(rows)
}

/// Groups `(id, email, created_at, tag)` rows, ordered by user, into users.
fn collect(mut rows: rusqlite::Rows) -> Result<Vec<User>, StoreError> {
    let mut users: Vec<User> = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    while let Some(row) = rows.next()? {
        let id: UserId = row.get(0)?;
        if users.last().is_none_or(|u| u.id != id) {
            if let Some(last) = users.last_mut() {
                last.tags = Tags::from_stored(std::mem::take(&mut tags));
            }
            users.push(User {
                id,
                email: row.get(1)?,
                tags: Tags::default(),
                created_at: row.get(2)?,
            });
        }
        if let Some(tag) = row.get::<_, Option<String>>(3)? {
            tags.push(tag);
        }
    }
    if let Some(last) = users.last_mut() {
        last.tags = Tags::from_stored(tags);
    }
    Ok(users)
}

/// For the admin: users whose email contains `query` or who carry it as a
/// tag (all users when `None`), newest first.
pub fn search(
    conn: &Connection,
    query: Option<&str>,
    limit: u32,
    offset: u32,
) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare_cached(
        r"SELECT u.id, u.email, u.created_at, t.tag
         FROM (SELECT id, email, created_at FROM users
               WHERE ?1 IS NULL
                  OR email LIKE ?2 ESCAPE '\'
                  OR id IN (SELECT user_id FROM user_tags WHERE tag = ?1)
               ORDER BY id DESC LIMIT ?3 OFFSET ?4) AS u
         LEFT JOIN user_tags AS t ON t.user_id = u.id
         ORDER BY u.id DESC, t.position",
    )?;
    let pattern = query.map(|q| super::contains_pattern(&Email::normalise(q)));
    let rows = stmt.query(params![query, pattern, limit, offset])?;
    collect(rows)
}

/// Every tag in use with its number of members, by name (the index by
/// tag answers it).
pub fn tags_with_counts(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT tag, COUNT(*) FROM user_tags GROUP BY tag ORDER BY tag")?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many users carry `tag`.
pub fn count_tagged(conn: &Connection, tag: &str) -> Result<i64, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT COUNT(*) FROM user_tags WHERE tag = ?1")?;
    Ok(stmt.query_row([tag], |row| row.get(0))?)
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?)
}

/// The id of the user with this (already normalised) address.
pub fn id_by_email(conn: &Connection, email: &Email) -> Result<Option<UserId>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM users WHERE email = ?1")?;
    Ok(stmt
        .query_row([email.as_str()], |row| row.get(0))
        .optional()?)
}

/// The user who has this address, with their tags in order: one query.
pub fn with_tags_by_email(
    conn: &Connection,
    email: &Email,
) -> Result<Option<(UserId, Vec<String>)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, t.tag FROM users AS u LEFT JOIN user_tags AS t ON t.user_id = u.id
         WHERE u.email = ?1 ORDER BY t.position",
    )?;
    let mut rows = stmt.query([email.as_str()])?;
    let mut found: Option<(UserId, Vec<String>)> = None;
    while let Some(row) = rows.next()? {
        let (_, tags) = found.get_or_insert((row.get(0)?, Vec::new()));
        if let Some(tag) = row.get::<_, Option<String>>(1)? {
            tags.push(tag);
        }
    }
    Ok(found)
}

/// The ids of the users who have `tag` now.
pub fn ids_with_tag(conn: &Connection, tag: &str) -> Result<Vec<UserId>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM user_tags WHERE tag = ?1")?;
    let ids = stmt.query_map([tag], |row| row.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// The ids of the users who have these addresses (as stored) now; an
/// address no user has any more (a deleted user's, kept in the usage
/// rollups) is left out.
pub fn ids_by_email<'e>(
    conn: &Connection,
    emails: impl IntoIterator<Item = &'e str>,
) -> Result<HashMap<String, UserId>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM users WHERE email = ?1")?;
    let mut ids = HashMap::new();
    for email in emails {
        if let Some(id) = stmt.query_row([email], |row| row.get(0)).optional()? {
            ids.insert(email.to_owned(), id);
        }
    }
    Ok(ids)
}

pub fn get(conn: &Connection, id: UserId) -> Result<Option<User>, StoreError> {
    let user = conn
        .query_row(
            "SELECT email, created_at FROM users WHERE id = ?1",
            [id],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, Timestamp>(1)?)),
        )
        .optional()?;
    let Some((email, created_at)) = user else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare_cached("SELECT tag FROM user_tags WHERE user_id = ?1 ORDER BY position")?;
    let tags = stmt
        .query_map([id], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(Some(User {
        id,
        email,
        tags: Tags::from_stored(tags),
        created_at,
    }))
}

/// Replaces the user's tags; `None` when there is no such user.
pub fn set_tags(tx: &Transaction, id: UserId, tags: &Tags) -> Result<Option<User>, StoreError> {
    if get(tx, id)?.is_none() {
        return Ok(None);
    }
    write_tags(tx, id, tags)?;
    get(tx, id)
}

/// Deletes the user; false when there was no such user.
pub fn delete(tx: &Transaction, id: UserId) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM users WHERE id = ?1", [id])? > 0)
}
