//! A database made by any release, opened by this one, ends with exactly
//! the schema of a new database: shipped schema steps never change, later
//! ones bring every database to the same place.

use std::path::Path;

use mindgate::db::chat_logs::{self, AdminFilter, PageFrom};
use mindgate::db::{Db, StoreError, LATEST_VERSION};
use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

// Each schema step, named by the version it brings a database to, as the
// source tree holds it: a shipped step never changes (see below). Version 2
// shipped twice: its file was once edited after the fact to rebuild
// `chat_logs_by_user` (tests/fixtures/), which only databases made after the
// edit ever ran.
pub const V1: &str = include_str!("../../schema.sql");
pub const V2: &str = include_str!("../../src/db/migrations/0002_providers_and_models.sql");
const V2_EDITED: &str = concat!(
    include_str!("../../src/db/migrations/0002_providers_and_models.sql"),
    include_str!("../fixtures/0002_edited_after_shipping.sql"),
);
pub const V3: &str = include_str!("../../src/db/migrations/0003_admin.sql");
pub const V4: &str = include_str!("../../src/db/migrations/0004_nfc_emails.sql");
pub const V5: &str = include_str!("../../src/db/migrations/0005_chat_logs_by_user.sql");
const V6: &str = include_str!("../../src/db/migrations/0006_prices_costs_and_usage.sql");
const V7: &str = include_str!("../../src/db/migrations/0007_chat_logs_at_scale.sql");
const V8: &str = include_str!("../../src/db/migrations/0008_policies_and_scoped_keys.sql");

/// Every shipped step with the SHA-256 of its statements (comments and white
/// space aside) as it shipped. A new migration is added here when it is.
const SHIPPED: [(&str, &str, &str); 8] = [
    (
        "schema.sql",
        V1,
        "17457bd259e3db69e2ecc2c2dc6bae949b6da477d177b268e8a35debfdefef95",
    ),
    (
        "0002",
        V2,
        "d73edbd7de5e2616e58d011b41b6323b64aa748b5ae72cd4b47813c95b30598a",
    ),
    (
        "0003",
        V3,
        "64a8e413d2167ef298ca97f70baf7f05ccaf68c4bba022ddac12e50ddb7c23c4",
    ),
    (
        "0004",
        V4,
        "c6ac28387832d96a8ed839891c5cb1d5c2d696980c32fa08ba124ab60d5d8bbf",
    ),
    (
        "0005",
        V5,
        "ae1fee9a8a1eac1ac3d53e39071e10e88b71e1fb4b1062c1c4b51fc05ef293c9",
    ),
    (
        "0006",
        V6,
        "709d35325e2dc926346a491a80004c65ddc1d5a9b1a33a53031051948e8021bc",
    ),
    (
        "0007",
        V7,
        "f0a290a7f4bfc98a521896b8f54082d1ccb498e01fe87e15c7c6b5bb9678e462",
    ),
    (
        "0008",
        V8,
        "730ded737897f805cdfa20a44cdc5282ff784a5bb065248f4b773666699aecdb",
    ),
];

/// A step's statements: comments dropped, white space folded.
fn statements(sql: &str) -> String {
    let code: Vec<&str> = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect();
    code.join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn shipped_schema_steps_never_change() {
    assert_eq!(
        SHIPPED.len() as i64,
        LATEST_VERSION,
        "a new migration belongs in SHIPPED, with its hash"
    );
    for (name, sql, shipped) in SHIPPED {
        let hash: String = Sha256::digest(statements(sql).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hash, shipped,
            "{name} changed after it shipped: add a new migration instead"
        );
    }
}

/// The steps that databases in the wild went through.
const HISTORIES: [(&str, &[&str]); 7] = [
    ("version 1", &[V1]),
    ("version 2", &[V1, V2]),
    ("version 3", &[V1, V2, V3]),
    ("version 3 made after the edit", &[V1, V2_EDITED, V3]),
    (
        "version 4 from a version 3 made before the edit",
        &[V1, V2, V3, V4],
    ),
    ("version 4 made after the edit", &[V1, V2_EDITED, V3, V4]),
    ("version 5", &[V1, V2, V3, V4, V5]),
];

/// A database at `path` made by running `steps`, as the release did.
pub fn made_by(path: &Path, steps: &[&str]) {
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

#[test]
fn version_6_prices_the_built_in_models_and_rolls_up_the_chats_recorded_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    made_by(&path, &[V1, V2, V3, V4, V5]);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, email, created_at) VALUES (1, 'ann@example.com', 0);
             INSERT INTO api_keys (id, name, prefix, key_hash, created_at) VALUES (1, 'k', 'mg_', x'00', 0);
             -- An admin re-pointed gpt-4o: its list price no longer applies.
             UPDATE models SET upstream = 'gpt-4o-mini' WHERE name = 'gpt-4o';
             INSERT INTO chat_logs (chat_id, chat_title, created_at, recorded_at, conversation_text,
                                    model, provider, user_id, api_key_id, prompt_tokens,
                                    completion_tokens, status)
             VALUES ('a', '', 0, 86400000 + 5, '', 'gpt-4.1', 'openai', 1, 1, 10, 2, 'ok'),
                    ('b', '', 0, 86400000 + 9, '', 'gpt-4.1', 'openai', 1, 1, 5, NULL, 'error'),
                    ('c', '', 0, 2 * 86400000, '', 'echo', NULL, NULL, NULL, NULL, NULL, 'cancelled');",
        )
        .unwrap();
    }
    drop(Db::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let price = |name: &str| -> [Option<i64>; 4] {
        conn.query_row(
            "SELECT price_input, price_output, price_cache_read, price_cache_write
             FROM models WHERE name = ?1",
            [name],
            |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
        )
        .unwrap()
    };
    assert_eq!(
        price("gpt-4.1"),
        [Some(2_000_000), Some(8_000_000), Some(500_000), None]
    );
    assert_eq!(
        price("claude-2"),
        price("claude-sonnet-4-5"),
        "an alias costs what its upstream model does"
    );
    assert_eq!(price("claude-sonnet-4-5")[3], Some(3_750_000));
    assert_eq!(price("gpt-4o"), [None; 4], "re-pointed: left unpriced");
    let mut stmt = conn
        .prepare(
            "SELECT day, user_id, user_email, api_key_id, model, provider, requests, errors,
                    input_tokens, output_tokens, cost_micros, unpriced_requests
             FROM usage_rollups ORDER BY day",
        )
        .unwrap();
    let rollups: Vec<String> = stmt
        .query_map([], |r| {
            Ok((0..12)
                .map(|i| match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(" "))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rollups,
        [
            "1 1 ann@example.com 1 gpt-4.1 openai 2 1 15 2 0 2",
            "2 0  0 echo  1 0 0 0 0 1",
        ]
    );
}

#[test]
fn chats_stored_before_the_search_index_are_found_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    made_by(&path, &[V1, V2, V3, V4, V5]);
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO chat_logs (chat_id, chat_title, created_at, recorded_at, conversation_text)
             VALUES ('old', 'Before', 1, 1, 'User: where does the quokka live?')",
            [],
        )
        .unwrap();
    let db = Db::open(&path).unwrap();
    let filter = AdminFilter {
        text: Some("QUOKKA".to_owned()),
        ..AdminFilter::default()
    };
    let found = || {
        let page = db
            .read_blocking(|conn| chat_logs::page(conn, &filter, PageFrom::Newest, 25, 100))
            .unwrap();
        page.chats
            .into_iter()
            .map(|c| c.chat_id)
            .collect::<Vec<_>>()
    };
    // Left to the background indexing, and found meanwhile.
    assert_eq!(found(), ["old"]);
    let indexed = db
        .write_blocking(|tx| chat_logs::index_pending(tx, 100))
        .unwrap();
    assert_eq!(indexed, 1);
    let in_index = db
        .read_blocking(|conn| {
            Ok::<_, StoreError>(conn.query_row(
                "SELECT rowid FROM chat_logs_fts WHERE chat_logs_fts MATCH '\"okk\"'",
                [],
                |row| row.get::<_, i64>(0),
            )?)
        })
        .unwrap();
    assert_eq!(in_index, 1);
    assert_eq!(found(), ["old"]);
}
