//! Schema versions, tracked with `PRAGMA user_version`: version 1 is
//! `schema.sql`; each later version is one file in `migrations/`, listed in
//! `MIGRATIONS` and applied in order, each in its own transaction.

use std::path::Path;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, TransactionBehavior};
use unicode_normalization::UnicodeNormalization;

use super::OpenError;

const SCHEMA: &str = include_str!("../../schema.sql");

/// `MIGRATIONS[i]` takes the database from version `i + 1` to `i + 2`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0002_providers_and_models.sql"),
    include_str!("migrations/0003_admin.sql"),
    include_str!("migrations/0004_nfc_emails.sql"),
    include_str!("migrations/0005_chat_logs_by_user.sql"),
    include_str!("migrations/0006_prices_costs_and_usage.sql"),
    include_str!("migrations/0007_chat_logs_at_scale.sql"),
    include_str!("migrations/0008_policies_and_scoped_keys.sql"),
];

pub const LATEST_VERSION: i64 = 1 + MIGRATIONS.len() as i64;

pub(super) fn run(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    register_functions(conn).map_err(|error| OpenError::Sqlite {
        path: path.to_owned(),
        error,
    })?;
    apply(conn, path, SCHEMA, MIGRATIONS)
}

/// SQL functions that migrations call: `nfc(text)`, the Unicode NFC form.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "nfc",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get::<String>(0)?.nfc().collect::<String>()),
    )
}

/// Brings the database to version `1 + migrations.len()`, one version per
/// transaction: a failing step leaves the database at the version before it.
fn apply(
    conn: &mut Connection,
    path: &Path,
    schema: &str,
    migrations: &[&str],
) -> Result<(), OpenError> {
    let latest = 1 + migrations.len() as i64;
    let sqlite_err = |error| OpenError::Sqlite {
        path: path.to_owned(),
        error,
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
        if version > latest {
            return Err(OpenError::TooNew {
                path: path.to_owned(),
                found: version,
                known: latest,
            });
        }
        if version == latest {
            return Ok(());
        }
        let step = if version == 0 {
            schema
        } else {
            migrations[(version - 1) as usize]
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::Connection;

    use super::{apply, OpenError};

    fn version(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn steps_apply_in_order_once_each() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = Path::new(":memory:");
        let schema = "CREATE TABLE t (a INTEGER)";
        let steps = [
            "ALTER TABLE t ADD COLUMN b INTEGER",
            "INSERT INTO t VALUES (1, 2)",
        ];
        apply(&mut conn, path, schema, &steps[..1]).unwrap();
        assert_eq!(version(&conn), 2);
        apply(&mut conn, path, schema, &steps).unwrap();
        apply(&mut conn, path, schema, &steps).unwrap();
        assert_eq!(version(&conn), 3);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM t WHERE b = 2", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1, "the last step ran exactly once");
    }

    #[test]
    fn a_failing_step_rolls_back_to_the_version_before_it() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = Path::new(":memory:");
        let steps = ["CREATE TABLE u (x); INSERT INTO nowhere VALUES (1)"];
        let err = apply(&mut conn, path, "CREATE TABLE t (a)", &steps).unwrap_err();
        assert!(matches!(err, OpenError::Sqlite { .. }), "{err}");
        assert_eq!(version(&conn), 1);
        let u_exists: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'u'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(u_exists, 0, "the failed step left nothing behind");
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA user_version = 7").unwrap();
        let err = apply(&mut conn, Path::new(":memory:"), "CREATE TABLE t (a)", &[]).unwrap_err();
        assert!(
            matches!(
                err,
                OpenError::TooNew {
                    found: 7,
                    known: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(version(&conn), 7);
    }
}
