//! A database made by any release, opened by this one, ends with exactly
//! the schema of a new database: shipped schema steps never change, later
//! ones bring every database to the same place.

use std::path::Path;

use mindgate::db::{Db, LATEST_VERSION};
use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;
use unicode_normalization::UnicodeNormalization;

// Each schema step as a release shipped it (tests/fixtures/shipped/), named
// by the version it brings a database to. Version 2 shipped twice: its file
// was later edited to rebuild `chat_logs_by_user` (the `_edit` file), which
// only databases made after the edit ever ran.
const V1: &str = include_str!("../fixtures/shipped/1_schema.sql");
const V2: &str = include_str!("../fixtures/shipped/2_providers_and_models.sql");
const V2_EDITED: &str = concat!(
    include_str!("../fixtures/shipped/2_providers_and_models.sql"),
    include_str!("../fixtures/shipped/2_providers_and_models_edit.sql"),
);
const V3: &str = include_str!("../fixtures/shipped/3_admin.sql");
const V4: &str = include_str!("../fixtures/shipped/4_nfc_emails.sql");

/// The steps that databases in the wild went through.
const HISTORIES: [(&str, &[&str]); 6] = [
    ("version 1", &[V1]),
    ("version 2", &[V1, V2]),
    ("version 3", &[V1, V2, V3]),
    ("version 3 made after the edit", &[V1, V2_EDITED, V3]),
    (
        "version 4 from a version 3 made before the edit",
        &[V1, V2, V3, V4],
    ),
    ("version 4 made after the edit", &[V1, V2_EDITED, V3, V4]),
];

/// A database at `path` made by running `steps`, as the release did.
fn made_by(path: &Path, steps: &[&str]) {
    let conn = Connection::open(path).unwrap();
    // Version 4 calls it; the release registered it the same way.
    conn.create_scalar_function(
        "nfc",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get::<String>(0)?.nfc().collect::<String>()),
    )
    .unwrap();
    for (version, step) in (1..).zip(steps) {
        conn.execute_batch(step).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {version}"))
            .unwrap();
    }
}

/// Every object of the schema as `(type, name, table, SQL)`, the SQL with
/// its white space folded, and the schema version.
fn schema(path: &Path) -> (Vec<[String; 4]>, i64) {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, tbl_name, IFNULL(sql, '') FROM sqlite_master \
             ORDER BY type, name",
        )
        .unwrap();
    let objects = stmt
        .query_map([], |row| {
            let sql: String = row.get(3)?;
            Ok([
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                sql.split_whitespace().collect::<Vec<_>>().join(" "),
            ])
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let version = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    (objects, version)
}

#[test]
fn every_shipped_database_migrates_to_the_schema_of_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new.db");
    drop(Db::open(&new).unwrap());
    let (expected, version) = schema(&new);
    assert_eq!(version, LATEST_VERSION);
    assert!(
        expected
            .iter()
            .any(|[_, name, _, sql]| name == "chat_logs_by_user"
                && sql.ends_with("WHERE user_id IS NOT NULL")),
        "{expected:?}"
    );
    for (i, (history, steps)) in HISTORIES.iter().enumerate() {
        let path = dir.path().join(format!("old-{i}.db"));
        made_by(&path, steps);
        drop(Db::open(&path).unwrap());
        let (migrated, version) = schema(&path);
        assert_eq!(version, LATEST_VERSION, "{history}");
        assert_eq!(migrated, expected, "{history}");
    }
}
