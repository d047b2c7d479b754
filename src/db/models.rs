//! The `models` table: the model catalog. A name a client sends maps to a
//! provider and the model id sent upstream, and may carry a price.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{providers, settings, Conflict, StoreError};
use crate::domain::{ModelPatch, NewModel, PerMillion, Price, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogModel {
    pub name: String,
    pub provider_id: String,
    pub upstream: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    /// `None`: the model has no price, and costs nothing.
    pub price: Option<Price>,
}

const COLUMNS: &str = "name, provider_id, upstream, enabled, created_at,
    price_input, price_output, price_cache_read, price_cache_write";

fn from_row(row: &Row) -> rusqlite::Result<CatalogModel> {
    let per_million = |i: usize| -> rusqlite::Result<Option<PerMillion>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(PerMillion::from_stored))
    };
    let price = match (per_million(5)?, per_million(6)?) {
        (Some(input), Some(output)) => Some(Price {
            input,
            output,
            cache_read: per_million(7)?,
            cache_write: per_million(8)?,
        }),
        _ => None,
    };
    Ok(CatalogModel {
        name: row.get(0)?,
        provider_id: row.get(1)?,
        upstream: row.get(2)?,
        enabled: row.get(3)?,
        created_at: row.get(4)?,
        price,
    })
}

/// The whole catalog, by provider then name.
pub fn list(conn: &Connection) -> Result<Vec<CatalogModel>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM models ORDER BY provider_id, name"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<CatalogModel>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM models WHERE name = ?1"))?;
    Ok(stmt.query_row([name], from_row).optional()?)
}

/// The entry of that name, else the one whose name differs only in case
/// (the first by name, should an older database hold several).
pub fn find(conn: &Connection, name: &str) -> Result<Option<CatalogModel>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM models WHERE name = ?1 COLLATE NOCASE
         ORDER BY name = ?1 DESC, name LIMIT 1"
    ))?;
    Ok(stmt.query_row([name], from_row).optional()?)
}

/// Counts a change to the catalog, for servers watching it.
fn changed(tx: &Transaction) -> Result<(), StoreError> {
    settings::bump(tx, settings::CATALOG_VERSION)
}

fn require_provider(tx: &Transaction, provider_id: &str) -> Result<(), StoreError> {
    if !providers::exists(tx, provider_id)? {
        return Err(StoreError::NotFound {
            what: "provider",
            key: provider_id.to_owned(),
        });
    }
    Ok(())
}

/// Refuses `name` when another entry has it in another case.
fn refuse_case_variant(tx: &Transaction, name: &str) -> Result<(), StoreError> {
    match find(tx, name)? {
        Some(existing) if existing.name != name => Err(Conflict::ModelName {
            existing: existing.name,
        }
        .into()),
        _ => Ok(()),
    }
}

/// Adds a catalog entry; a name the catalog has, in any case, is a
/// conflict.
pub fn insert(tx: &Transaction, model: &NewModel) -> Result<CatalogModel, StoreError> {
    require_provider(tx, &model.provider)?;
    if let Some(existing) = find(tx, &model.name)? {
        return Err(Conflict::ModelName {
            existing: existing.name,
        }
        .into());
    }
    tx.execute(
        "INSERT INTO models (name, provider_id, upstream, enabled, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            model.name,
            model.provider,
            model.upstream,
            model.enabled,
            Timestamp::now()
        ],
    )?;
    set_price(tx, &model.name, model.price.as_ref())?;
    stored(tx, &model.name)
}

/// The row just written.
fn stored(tx: &Transaction, name: &str) -> Result<CatalogModel, StoreError> {
    get(tx, name)?.ok_or_else(|| StoreError::NotFound {
        what: "model",
        key: name.to_owned(),
    })
}

/// Changes what `patch` names of the entry `name` (exactly); `None` when
/// there is no such entry.
pub fn update(
    tx: &Transaction,
    name: &str,
    patch: &ModelPatch,
) -> Result<Option<CatalogModel>, StoreError> {
    let Some(current) = get(tx, name)? else {
        return Ok(None);
    };
    let provider = patch.provider.as_ref().unwrap_or(&current.provider_id);
    require_provider(tx, provider)?;
    tx.execute(
        "UPDATE models SET provider_id = ?2, upstream = ?3, enabled = ?4 WHERE name = ?1",
        params![
            name,
            provider,
            patch.upstream.as_ref().unwrap_or(&current.upstream),
            patch.enabled.unwrap_or(current.enabled),
        ],
    )?;
    if let Some(price) = &patch.price {
        set_price(tx, name, price.as_ref())?;
    }
    changed(tx)?;
    stored(tx, name).map(Some)
}

/// Adds a catalog entry, or changes the one of that name.
pub fn upsert(
    tx: &Transaction,
    name: &str,
    provider_id: &str,
    upstream: &str,
    enabled: bool,
) -> Result<(), StoreError> {
    require_provider(tx, provider_id)?;
    refuse_case_variant(tx, name)?;
    tx.execute(
        "INSERT INTO models (name, provider_id, upstream, enabled, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET
             provider_id = excluded.provider_id,
             upstream = excluded.upstream,
             enabled = excluded.enabled",
        params![name, provider_id, upstream, enabled, Timestamp::now()],
    )?;
    changed(tx)
}

/// What importing a provider's model list did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    pub added: Vec<String>,
    /// In the catalog already, for this provider.
    pub present: Vec<String>,
    /// Names the catalog holds for another provider, or in another case,
    /// with why: never changed.
    pub skipped: Vec<(String, String)>,
}

/// Adds the ids `provider_id` lists that the catalog lacks, enabled, each
/// its own upstream id; changes no entry there is.
pub fn import(tx: &Transaction, provider_id: &str, ids: &[String]) -> Result<Imported, StoreError> {
    require_provider(tx, provider_id)?;
    let mut imported = Imported::default();
    for id in ids {
        match find(tx, id)? {
            Some(existing) if existing.name != *id => imported.skipped.push((
                id.clone(),
                format!(
                    "the catalog has {:?}, which differs only in case",
                    existing.name
                ),
            )),
            Some(existing) if existing.provider_id != provider_id => imported.skipped.push((
                id.clone(),
                format!(
                    "the catalog's {id:?} goes to the provider {:?}",
                    existing.provider_id
                ),
            )),
            Some(_) => imported.present.push(id.clone()),
            None => {
                tx.execute(
                    "INSERT INTO models (name, provider_id, upstream, enabled, created_at)
                     VALUES (?1, ?2, ?1, 1, ?3)",
                    params![id, provider_id, Timestamp::now()],
                )?;
                imported.added.push(id.clone());
            }
        }
    }
    if !imported.added.is_empty() {
        changed(tx)?;
    }
    Ok(imported)
}

/// Enables or disables an entry; returns whether it exists.
pub fn set_enabled(tx: &Transaction, name: &str, enabled: bool) -> Result<bool, StoreError> {
    let found = tx.execute(
        "UPDATE models SET enabled = ?2 WHERE name = ?1",
        params![name, enabled],
    )? == 1;
    changed(tx)?;
    Ok(found)
}

pub fn delete(tx: &Transaction, name: &str) -> Result<bool, StoreError> {
    let found = tx.execute("DELETE FROM models WHERE name = ?1", [name])? == 1;
    changed(tx)?;
    Ok(found)
}

/// Sets an entry's price (`None` removes it); returns whether it exists.
/// Chats recorded before keep the cost they were recorded with.
pub fn set_price(tx: &Transaction, name: &str, price: Option<&Price>) -> Result<bool, StoreError> {
    let stored = |p: Option<PerMillion>| p.map(PerMillion::stored);
    let found = tx.execute(
        "UPDATE models SET price_input = ?2, price_output = ?3, price_cache_read = ?4,
             price_cache_write = ?5
         WHERE name = ?1",
        params![
            name,
            stored(price.map(|p| p.input)),
            stored(price.map(|p| p.output)),
            stored(price.and_then(|p| p.cache_read)),
            stored(price.and_then(|p| p.cache_write)),
        ],
    )? == 1;
    changed(tx)?;
    Ok(found)
}
