//! Schema versions, tracked with `PRAGMA user_version`: version 1 is
//! `schema.sql`; each later version is one entry of `MIGRATIONS`, applied in
//! order, each in its own transaction.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::OpenError;

const SCHEMA: &str = include_str!("../../schema.sql");

/// `MIGRATIONS[i]` takes the database from version `i + 1` to `i + 2`.
const MIGRATIONS: &[&str] = &[];

pub const LATEST_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

pub(super) fn run(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let sqlite_err = |source| OpenError::Sqlite {
        path: path.to_owned(),
        source,
    };
    loop {
        // Read the version inside the write transaction, so two processes
        // opening a new file at once cannot both apply the same step.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_err)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sqlite_err)?;
        if version > LATEST_VERSION {
            return Err(OpenError::TooNew {
                path: path.to_owned(),
                found: version,
                known: LATEST_VERSION,
            });
        }
        if version == LATEST_VERSION {
            return Ok(());
        }
        let step = if version == 0 {
            SCHEMA
        } else {
            MIGRATIONS[(version - 1) as usize]
        };
        tx.execute_batch(step).map_err(sqlite_err)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", version + 1))
            .map_err(sqlite_err)?;
        tx.commit().map_err(sqlite_err)?;
        log::info!(
            "database {}: schema version {}",
            path.display(),
            version + 1
        );
    }
}
