//! The `policies` table: one policy per scope (`everyone`, `tag:NAME`,
//! `user:ID`, `key:ID`). A policy that says nothing is not stored.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::StoreError;
use crate::domain::policy::StoredLimit;
use crate::domain::{Limit, ModelPattern, Policy, Scope, Timestamp};

/// Every policy, each with its scope, in the scopes' order.
pub fn list(conn: &Connection) -> Result<Vec<(Scope, Policy)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT scope, models, characters, limits, requires_user FROM policies ORDER BY scope",
    )?;
    let rows = stmt.query_map([], read)?;
    let mut policies = Vec::new();
    for row in rows {
        if let Some(policy) = row? {
            policies.push(policy);
        }
    }
    Ok(policies)
}

pub fn get(conn: &Connection, scope: &Scope) -> Result<Option<Policy>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT scope, models, characters, limits, requires_user FROM policies WHERE scope = ?1",
    )?;
    Ok(stmt
        .query_row([scope.to_string()], read)
        .optional()?
        .flatten()
        .map(|(_, policy)| policy))
}

/// Stores `policy` for `scope`, replacing what it had; an empty policy
/// removes the row.
pub fn put(tx: &Transaction, scope: &Scope, policy: &Policy) -> Result<(), StoreError> {
    if policy.is_empty() {
        delete(tx, scope)?;
        return Ok(());
    }
    let limits: Vec<StoredLimit> = policy.limits.iter().map(StoredLimit::from).collect();
    tx.execute(
        "INSERT INTO policies (scope, models, characters, limits, requires_user, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (scope) DO UPDATE SET models = excluded.models,
             characters = excluded.characters, limits = excluded.limits,
             requires_user = excluded.requires_user, updated_at = excluded.updated_at",
        params![
            scope.to_string(),
            policy.models.as_ref().map(json),
            policy.characters.as_ref().map(json),
            json(&limits),
            policy.requires_user,
            Timestamp::now(),
        ],
    )?;
    Ok(())
}

/// A group: a tag in use or with a policy, its members and its policy.
pub struct TagGroup {
    pub name: String,
    pub members: i64,
    pub policy: Option<Policy>,
}

/// Every tag in use, and every tag with a policy but no members, by name.
pub fn tag_groups(conn: &Connection) -> Result<Vec<TagGroup>, StoreError> {
    let mut groups: BTreeMap<String, (i64, Option<Policy>)> = super::users::tags_with_counts(conn)?
        .into_iter()
        .map(|(name, members)| (name, (members, None)))
        .collect();
    for (scope, policy) in list(conn)? {
        if let Scope::Tag(name) = scope {
            groups.entry(name).or_default().1 = Some(policy);
        }
    }
    Ok(groups
        .into_iter()
        .map(|(name, (members, policy))| TagGroup {
            name,
            members,
            policy,
        })
        .collect())
}

/// Changes when any policy does (a row added, changed or deleted), for
/// those who keep the policies in memory to notice another process's
/// edits: the count and the latest change.
pub fn stamp(conn: &Connection) -> Result<(i64, i64), StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT COUNT(*), IFNULL(MAX(updated_at), 0) FROM policies")?;
    Ok(stmt.query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?)
}

/// Whether there was a policy to delete.
pub fn delete(tx: &Transaction, scope: &Scope) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM policies WHERE scope = ?1", [scope.to_string()])? > 0)
}

/// Lists of strings and limits always serialize.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// A stored row; one that no longer parses (edited by hand) is skipped,
/// and said so, rather than stop every policy from loading.
fn read(row: &rusqlite::Row) -> rusqlite::Result<Option<(Scope, Policy)>> {
    let scope: String = row.get(0)?;
    let models: Option<String> = row.get(1)?;
    let characters: Option<String> = row.get(2)?;
    let limits: String = row.get(3)?;
    let requires_user: bool = row.get(4)?;
    let parsed = (|| -> Result<(Scope, Policy), String> {
        let scope = Scope::parse("scope", &scope).map_err(|e| e.message)?;
        let list = |raw: Option<String>| -> Result<Option<Vec<String>>, String> {
            raw.map(|raw| serde_json::from_str(&raw).map_err(|e| e.to_string()))
                .transpose()
        };
        let models = list(models)?
            .map(|names| {
                names
                    .iter()
                    .map(|name| ModelPattern::parse("models", name))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .map_err(|e| e.message)?;
        let limits: Vec<StoredLimit> = serde_json::from_str(&limits).map_err(|e| e.to_string())?;
        let limits = limits
            .into_iter()
            .map(Limit::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.message)?;
        Ok((
            scope,
            Policy {
                models,
                characters: list(characters)?,
                limits,
                requires_user,
            },
        ))
    })();
    Ok(parsed
        .map_err(|e| {
            log::error!(
                "policy {scope:?} is stored in a form that does not read ({e}); it is ignored"
            )
        })
        .ok())
}
