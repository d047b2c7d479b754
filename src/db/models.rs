//! The `models` table: the model catalog. A name a client sends maps to a
//! provider and the model id sent upstream, and may carry a price.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::StoreError;
use crate::domain::{PerMillion, Price, Timestamp};

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

/// Adds a catalog entry, or changes the one of that name.
pub fn upsert(
    tx: &Transaction,
    name: &str,
    provider_id: &str,
    upstream: &str,
    enabled: bool,
) -> Result<(), StoreError> {
    if !crate::db::providers::exists(tx, provider_id)? {
        return Err(StoreError::NotFound {
            what: "provider",
            key: provider_id.to_owned(),
        });
    }
    tx.execute(
        "INSERT INTO models (name, provider_id, upstream, enabled, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET
             provider_id = excluded.provider_id,
             upstream = excluded.upstream,
             enabled = excluded.enabled",
        params![name, provider_id, upstream, enabled, Timestamp::now()],
    )?;
    Ok(())
}

/// Enables or disables an entry; returns whether it exists.
pub fn set_enabled(tx: &Transaction, name: &str, enabled: bool) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE models SET enabled = ?2 WHERE name = ?1",
        params![name, enabled],
    )? == 1)
}

pub fn delete(tx: &Transaction, name: &str) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM models WHERE name = ?1", [name])? == 1)
}

/// Sets an entry's price (`None` removes it); returns whether it exists.
/// Chats recorded before keep the cost they were recorded with.
pub fn set_price(tx: &Transaction, name: &str, price: Option<&Price>) -> Result<bool, StoreError> {
    let stored = |p: Option<PerMillion>| p.map(PerMillion::stored);
    Ok(tx.execute(
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
    )? == 1)
}
