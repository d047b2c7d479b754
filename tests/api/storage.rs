use actix_web::http::StatusCode;
use mindgate::db::{StoreError, LATEST_VERSION};
use serde_json::json;

use crate::helpers::{mindgate, spawn_app, spawn_app_on, stderr};
use crate::migrations::{made_by, V1, V2, V3};

#[actix_web::test]
async fn data_survives_a_restart_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.db");
    let app = spawn_app_on(&path).await;
    let user = app
        .create_user(&json!({"email": "stay@example.com", "tags": ["x"]}))
        .await;
    let character = app
        .create_character(&json!({"title": "Stay", "instruction": "Stay."}))
        .await;
    app.stop().await;
    drop(app);

    let again = spawn_app_on(&path).await;
    let (status, users) = again.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users["data"], json!([user]));
    let (_, characters) = again.get("/api/v1/ai-characters").await;
    assert_eq!(characters["data"], json!([character]));
}

#[actix_web::test]
async fn a_backup_taken_during_writes_opens_with_the_data() {
    let app = spawn_app().await;
    for i in 0..5 {
        let (status, _) = app
            .post(
                "/api/v1/users",
                &json!({"email": format!("before{i}@example.com")}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let dest = app.db_path.with_file_name("backup.db");
    let db = app.db_path.to_str().unwrap().to_owned();
    let dest_arg = dest.to_str().unwrap().to_owned();

    let writes = async {
        let mut ok = 0;
        for i in 0..150 {
            let (status, _) = app
                .post(
                    "/api/v1/users",
                    &json!({"email": format!("during{i}@example.com"), "tags": ["w"]}),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            ok += 1;
        }
        ok
    };
    let backup = mindgate(&["backup", &dest_arg, "--db", &db]);
    let (written, output) = futures_util::future::join(writes, backup).await;
    assert_eq!(written, 150);
    assert!(output.status.success(), "{}", stderr(&output));

    let copy = rusqlite::Connection::open(&dest).unwrap();
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let users: i64 = copy
        .query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))
        .unwrap();
    assert!((5..=155).contains(&users), "{users} users in the backup");
    let before: i64 = copy
        .query_row(
            "SELECT COUNT(*) FROM users WHERE email LIKE 'before%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(before, 5);
    // Tags were copied in the same transaction as their users.
    let orphans: i64 = copy
        .query_row(
            "SELECT COUNT(*) FROM users u WHERE u.email LIKE 'during%'
             AND NOT EXISTS (SELECT 1 FROM user_tags t WHERE t.user_id = u.id)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);

    // The copy is a database mindgate itself serves.
    drop(copy);
    let restored = spawn_app_on(&dest).await;
    let (_, list) = restored.get("/api/v1/users?tag=w&limit=1").await;
    assert_eq!(list["data"].as_array().unwrap().len(), (users > 5) as usize);

    let again = mindgate(&["backup", &dest_arg, "--db", &db]).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"));
    let missing = mindgate(&["backup", "/tmp/never.db", "--db", "/nonexistent/dir/x.db"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("does not exist"));
}

#[actix_web::test]
async fn connections_use_wal_foreign_keys_and_a_busy_timeout() {
    let app = spawn_app().await;
    let pragmas = |conn: &rusqlite::Connection| -> rusqlite::Result<(String, i64, i64, i64, i64)> {
        Ok((
            conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
            conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
            conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?,
            conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))?,
        ))
    };
    let read = app
        .db
        .read_blocking(|c| Ok::<_, StoreError>(pragmas(c)?))
        .unwrap();
    let write = app
        .db
        .write_blocking(|tx| Ok::<_, StoreError>(pragmas(tx)?))
        .unwrap();
    for (journal, fk, busy, sync, version) in [read, write] {
        assert_eq!(journal, "wal");
        assert_eq!(fk, 1);
        assert!(busy >= 1000, "busy_timeout {busy}");
        assert_eq!(sync, 1, "synchronous = NORMAL");
        assert_eq!(version, LATEST_VERSION);
    }
}

/// The permission bits of `path`.
#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[actix_web::test]
async fn the_database_its_wal_and_backups_are_private_and_a_shared_one_is_flagged() {
    use std::os::unix::fs::PermissionsExt;
    // The usual umask, under which files come out -rw-r--r-- unless asked otherwise.
    unsafe { libc::umask(0o022) };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.db");
    let app = spawn_app_on(&path).await;
    app.create_user(&json!({"email": "secret@example.com"}))
        .await;
    let beside = |suffix: &str| dir.path().join(format!("private.db{suffix}"));
    for file in [path.clone(), beside("-wal"), beside("-shm")] {
        let mode = mode(&file);
        assert_eq!(mode, 0o600, "{}: mode {mode:o}", file.display());
    }
    let dest = dir.path().join("copy.db");
    let backup = mindgate(&[
        "backup",
        dest.to_str().unwrap(),
        "--db",
        path.to_str().unwrap(),
    ])
    .await;
    assert!(backup.status.success(), "{}", stderr(&backup));
    assert_eq!(mode(&dest), 0o600, "backup mode {:o}", mode(&dest));
    app.stop().await;
    drop(app);

    let list = |db: &std::path::Path| mindgate(&["keys", "list", "--db", db.to_str().unwrap()]);
    let quiet = list(&path).await;
    assert!(quiet.status.success());
    assert!(!stderr(&quiet).contains("chmod"), "{}", stderr(&quiet));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warned = list(&path).await;
    assert!(warned.status.success(), "{}", stderr(&warned));
    let err = stderr(&warned);
    assert!(
        err.contains("WARN")
            && err.contains(&format!("chmod 600 {}", path.display()))
            && err.contains("644"),
        "{err}"
    );
}

#[actix_web::test]
async fn emails_stored_before_nfc_are_normalised_without_creating_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    made_by(&path, &[V1, V2, V3]);
    {
        // As version 3 stored them: lower-cased, not normalised.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut user = conn
            .prepare("INSERT INTO users (email, created_at) VALUES (?1, 1)")
            .unwrap();
        for email in [
            "rene\u{301}@example.com",
            "jose\u{301}@example.com",
            "jos\u{e9}@example.com",
        ] {
            user.execute([email]).unwrap();
        }
        conn.execute(
            "INSERT INTO admins (email, password_hash, created_at, updated_at) VALUES (?1, 'x', 1, 1)",
            ["zoe\u{308}@example.com"],
        )
        .unwrap();
        conn.execute_batch("PRAGMA user_version = 3").unwrap();
    }
    let app = spawn_app_on(&path).await;

    let (status, found) = app.get("/api/v1/users?email=ren%C3%A9%40example.com").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["data"][0]["id"], "1", "{found}");
    assert_eq!(found["data"][0]["email"], "ren\u{e9}@example.com");
    let (status, _) = app
        .post(
            "/api/v1/users",
            &json!({"email": "RENE\u{301}@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let stored = |sql: &str| -> Vec<String> {
        app.db
            .read_blocking(|conn| {
                let mut stmt = conn.prepare(sql)?;
                let rows = stmt.query_map([], |row| row.get(0))?;
                Ok::<_, StoreError>(rows.collect::<Result<Vec<String>, _>>()?)
            })
            .unwrap()
    };
    // The decomposed José keeps his spelling: the composed one was taken.
    assert_eq!(
        stored("SELECT email FROM users ORDER BY id"),
        [
            "ren\u{e9}@example.com",
            "jose\u{301}@example.com",
            "jos\u{e9}@example.com"
        ]
    );
    assert_eq!(stored("SELECT email FROM admins"), ["zo\u{eb}@example.com"]);
}
