//! The `providers` table: the upstreams the gateway forwards to, with the
//! instance's keys for them. With an instance secret set, the keys are
//! stored sealed with it, each bound to its provider's id; every function
//! here takes and returns them in plain text.

use std::fmt;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{Conflict, StoreError};
use crate::domain::Timestamp;
use crate::secrets::{is_sealed, SecretKey};

/// The protocol a provider speaks; what each means is in
/// `gateway::providers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI chat completions: OpenAI itself, Ollama, vLLM, OpenRouter, ...
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 2] = [ProviderKind::OpenAi, ProviderKind::Anthropic];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    pub fn parse(raw: &str) -> Option<ProviderKind> {
        ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider with its key, in plain text. Its `Debug` leaves the key out,
/// so it can be logged safely.
#[derive(Clone)]
pub struct Provider {
    pub id: String,
    pub kind: ProviderKind,
    pub name: String,
    pub base_url: String,
    pub api_key: Option<String>,
    pub updated_at: Timestamp,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("has_key", &self.api_key.is_some())
            .finish()
    }
}

impl Provider {
    /// The key as an admin may see it: its last four characters.
    pub fn masked_key(&self) -> Option<String> {
        self.api_key.as_deref().map(mask_key)
    }
}

/// `sk-...abcd`: enough to tell keys apart, never enough to use one.
pub fn mask_key(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if key.chars().count() <= 8 {
        "••••".to_owned()
    } else {
        format!("••••{tail}")
    }
}

const COLUMNS: &str = "id, kind, name, base_url, api_key, updated_at";

/// What a provider's sealed key is bound to: its row.
fn key_context(id: &str) -> String {
    format!("providers/{id}")
}

fn seal_key(secret: &SecretKey, id: &str, key: &str) -> String {
    secret.seal(key, &key_context(id))
}

fn open_key(secret: &SecretKey, id: &str, stored: &str) -> Result<String, StoreError> {
    secret
        .open(stored, &key_context(id))
        .map_err(|problem| StoreError::KeyLocked {
            provider: id.to_owned(),
            problem,
        })
}

/// A row, its key still as stored.
fn from_row(row: &Row) -> rusqlite::Result<Provider> {
    let kind: String = row.get(1)?;
    Ok(Provider {
        id: row.get(0)?,
        kind: ProviderKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Text,
                format!("unknown provider kind {kind:?}").into(),
            )
        })?,
        name: row.get(2)?,
        base_url: row.get(3)?,
        api_key: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

/// A row with its key opened; an error when it does not open.
fn opened(secret: &SecretKey, mut provider: Provider) -> Result<Provider, StoreError> {
    if let Some(stored) = &provider.api_key {
        provider.api_key = Some(open_key(secret, &provider.id, stored)?);
    }
    Ok(provider)
}

/// Every provider, the built-in ones first.
pub fn list(conn: &Connection, secret: &SecretKey) -> Result<Vec<Provider>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM providers
         ORDER BY id NOT IN ('openai', 'anthropic'), id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    rows.map(|row| opened(secret, row?)).collect()
}

pub fn get(
    conn: &Connection,
    secret: &SecretKey,
    id: &str,
) -> Result<Option<Provider>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM providers WHERE id = ?1"))?;
    stmt.query_row([id], from_row)
        .optional()?
        .map(|row| opened(secret, row))
        .transpose()
}

pub fn exists(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM providers WHERE id = ?1")?;
    Ok(stmt.exists([id])?)
}

/// Adds a provider; a taken id is a conflict.
pub fn insert(
    tx: &Transaction,
    secret: &SecretKey,
    id: &str,
    kind: ProviderKind,
    name: &str,
    base_url: &str,
    api_key: Option<&str>,
) -> Result<(), StoreError> {
    let stored = api_key.map(|key| seal_key(secret, id, key));
    let inserted = tx.execute(
        "INSERT INTO providers (id, kind, name, base_url, api_key, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
        params![id, kind.as_str(), name, base_url, stored, Timestamp::now()],
    )?;
    if inserted == 0 {
        return Err(Conflict::ProviderId { id: id.to_owned() }.into());
    }
    catalog_changed(tx)
}

/// Counts a change to the providers, for servers watching the catalog.
fn catalog_changed(tx: &Transaction) -> Result<(), StoreError> {
    super::settings::bump(tx, super::settings::CATALOG_VERSION)
}

/// Changes a provider's base URL and, when `api_key` is `Some`, its key
/// (`Some(None)` removes it). Returns whether the provider exists.
pub fn update(
    tx: &Transaction,
    secret: &SecretKey,
    id: &str,
    name: &str,
    base_url: &str,
    api_key: Option<Option<&str>>,
) -> Result<bool, StoreError> {
    let now = Timestamp::now();
    let changed = match api_key {
        Some(key) => tx.execute(
            "UPDATE providers SET name = ?2, base_url = ?3, api_key = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, name, base_url, key.map(|key| seal_key(secret, id, key)), now],
        )?,
        None => tx.execute(
            "UPDATE providers SET name = ?2, base_url = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, name, base_url, now],
        )?,
    };
    catalog_changed(tx)?;
    Ok(changed == 1)
}

/// Deletes an added provider (and its catalog entries). The built-in
/// `openai` and `anthropic` stay: model families resolve to them.
pub fn delete(tx: &Transaction, id: &str) -> Result<bool, StoreError> {
    if is_builtin(id) {
        return Err(StoreError::BuiltInProvider(id.to_owned()));
    }
    let found = tx.execute("DELETE FROM providers WHERE id = ?1", [id])? == 1;
    catalog_changed(tx)?;
    Ok(found)
}

pub fn is_builtin(id: &str) -> bool {
    matches!(id, "openai" | "anthropic")
}

/// What the environment says about a built-in provider at start.
#[derive(Clone, Default)]
pub struct ProviderSeed {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

impl fmt::Debug for ProviderSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSeed")
            .field("base_url", &self.base_url)
            .field("has_key", &self.api_key.is_some())
            .finish()
    }
}

/// Applies what the environment set, leaving the rest as the admin left it.
/// Returns whether anything changed.
pub fn seed(
    tx: &Transaction,
    secret: &SecretKey,
    id: &str,
    seed: &ProviderSeed,
) -> Result<bool, StoreError> {
    let Some(current) = get(tx, secret, id)? else {
        return Ok(false);
    };
    let mut changed = false;
    if let Some(url) = seed
        .base_url
        .as_ref()
        .filter(|url| **url != current.base_url)
    {
        tx.execute(
            "UPDATE providers SET base_url = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, url, Timestamp::now()],
        )?;
        changed = true;
    }
    // Compared in plain text: a sealed value differs at every sealing.
    if let Some(key) = seed
        .api_key
        .as_ref()
        .filter(|key| current.api_key.as_ref() != Some(*key))
    {
        tx.execute(
            "UPDATE providers SET api_key = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, seal_key(secret, id, key), Timestamp::now()],
        )?;
        changed = true;
    }
    if changed {
        catalog_changed(tx)?;
    }
    Ok(changed)
}

/// Every provider's key as stored, with its provider's id.
fn stored_keys(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, api_key FROM providers WHERE api_key IS NOT NULL ORDER BY id")?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Stores a key in another form; the provider's `updated_at` stays, since
/// the key itself has not changed.
fn rewrite_key(tx: &Transaction, id: &str, stored: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE providers SET api_key = ?2 WHERE id = ?1",
        params![id, stored],
    )?;
    Ok(())
}

/// Seals the keys stored in plain text (from before the secret was set);
/// returns how many.
pub fn seal_plain_keys(tx: &Transaction, secret: &SecretKey) -> Result<usize, StoreError> {
    if !secret.is_set() {
        return Ok(0);
    }
    let plain: Vec<_> = stored_keys(tx)?
        .into_iter()
        .filter(|(_, stored)| !is_sealed(stored))
        .collect();
    for (id, key) in &plain {
        rewrite_key(tx, id, &seal_key(secret, id, key))?;
    }
    Ok(plain.len())
}

/// Stores every key again: opened with `from`, sealed with `to` (in plain
/// text when `to` is no secret). Fails, changing nothing, when a key does
/// not open with `from`. Returns how many keys there are.
pub fn reseal_keys(
    tx: &Transaction,
    from: &SecretKey,
    to: &SecretKey,
) -> Result<usize, StoreError> {
    let keys = stored_keys(tx)?;
    for (id, stored) in &keys {
        let key = open_key(from, id, stored)?;
        rewrite_key(tx, id, &seal_key(to, id, &key))?;
    }
    Ok(keys.len())
}

/// Removes the keys that do not open with `secret` (sealed with a secret
/// that is lost); returns the ids of their providers.
pub fn forget_sealed_keys(tx: &Transaction, secret: &SecretKey) -> Result<Vec<String>, StoreError> {
    let mut forgotten = Vec::new();
    for (id, stored) in stored_keys(tx)? {
        if secret.open(&stored, &key_context(&id)).is_err() {
            tx.execute(
                "UPDATE providers SET api_key = NULL, updated_at = ?2 WHERE id = ?1",
                params![id, Timestamp::now()],
            )?;
            forgotten.push(id);
        }
    }
    catalog_changed(tx)?;
    Ok(forgotten)
}
