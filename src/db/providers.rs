//! The `providers` table: the upstreams the gateway forwards to, with the
//! instance's keys for them.

use std::fmt;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::domain::Timestamp;
use crate::error::ApiError;

/// The protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI chat completions: OpenAI itself, Ollama, vLLM, OpenRouter, ...
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    pub fn parse(raw: &str) -> Option<ProviderKind> {
        match raw {
            "openai" => Some(ProviderKind::OpenAi),
            "anthropic" => Some(ProviderKind::Anthropic),
            _ => None,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider with its key. Its `Debug` leaves the key out, so it can be
/// logged safely.
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
    /// Whether the provider needs a key it does not have: Anthropic and
    /// OpenAI itself do; other OpenAI-compatible servers (Ollama, vLLM...)
    /// may need none.
    pub fn lacks_key(&self) -> bool {
        let needs_key = self.kind == ProviderKind::Anthropic
            || self.base_url.starts_with("https://api.openai.com");
        needs_key && self.api_key.is_none()
    }

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

/// Every provider, the built-in ones first.
pub fn list(conn: &Connection) -> Result<Vec<Provider>, ApiError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM providers
         ORDER BY id NOT IN ('openai', 'anthropic'), id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<Provider>, ApiError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM providers WHERE id = ?1"))?;
    Ok(stmt.query_row([id], from_row).optional()?)
}

/// Adds a provider; a taken id is a 409.
pub fn insert(
    tx: &Transaction,
    id: &str,
    kind: ProviderKind,
    name: &str,
    base_url: &str,
    api_key: Option<&str>,
) -> Result<(), ApiError> {
    let inserted = tx.execute(
        "INSERT INTO providers (id, kind, name, base_url, api_key, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
        params![id, kind.as_str(), name, base_url, api_key, Timestamp::now()],
    )?;
    if inserted == 0 {
        return Err(ApiError::conflict(format!(
            "a provider with id {id:?} already exists"
        )));
    }
    Ok(())
}

/// Changes a provider's base URL and, when `api_key` is `Some`, its key
/// (`Some(None)` removes it). Returns whether the provider exists.
pub fn update(
    tx: &Transaction,
    id: &str,
    name: &str,
    base_url: &str,
    api_key: Option<Option<&str>>,
) -> Result<bool, ApiError> {
    let now = Timestamp::now();
    let changed = match api_key {
        Some(key) => tx.execute(
            "UPDATE providers SET name = ?2, base_url = ?3, api_key = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, name, base_url, key, now],
        )?,
        None => tx.execute(
            "UPDATE providers SET name = ?2, base_url = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, name, base_url, now],
        )?,
    };
    Ok(changed == 1)
}

/// Deletes an added provider (and its catalog entries). The built-in
/// `openai` and `anthropic` stay: model families resolve to them.
pub fn delete(tx: &Transaction, id: &str) -> Result<bool, ApiError> {
    if is_builtin(id) {
        return Err(ApiError::invalid_field(
            "id",
            format!("the built-in provider {id:?} cannot be deleted; remove its key instead"),
        ));
    }
    Ok(tx.execute("DELETE FROM providers WHERE id = ?1", [id])? == 1)
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
pub fn seed(tx: &Transaction, id: &str, seed: &ProviderSeed) -> Result<bool, ApiError> {
    let mut changed = 0;
    if let Some(url) = &seed.base_url {
        changed += tx.execute(
            "UPDATE providers SET base_url = ?2, updated_at = ?3 WHERE id = ?1 AND base_url != ?2",
            params![id, url, Timestamp::now()],
        )?;
    }
    if let Some(key) = &seed.api_key {
        changed += tx.execute(
            "UPDATE providers SET api_key = ?2, updated_at = ?3
             WHERE id = ?1 AND api_key IS NOT ?2",
            params![id, key, Timestamp::now()],
        )?;
    }
    Ok(changed > 0)
}
