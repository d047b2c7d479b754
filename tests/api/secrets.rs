//! Provider keys at rest: sealed with the instance secret, opened only
//! with it, and never found in the database in plain text.

use std::fs::Permissions;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use actix_web::http::StatusCode;
use mindgate::config::{AppConfig, GatewayConfig};
use mindgate::db::Db;
use mindgate::secrets::SecretKey;
use mindgate::startup::Application;

use crate::gateway::{config, hello, ANTHROPIC_KEY, OPENAI_KEY};
use crate::helpers::{mindgate_with_stdin as run, spawn_app_on_with, stderr, stdout, TestApp};
use crate::mock_upstream::MockUpstream;

// As `openssl rand -base64 32` makes them.
const SECRET: &str = "kQ3v8yXo1c5Jm2Rz7Tq4Wb9Ld6Hs0Fp+Ae3Gn8Ku1Y=";
const OTHER_SECRET: &str = "Zx7Lm2Qp9Rt4Vw6Yb1Nc3Jd8Kf0Gh5Sa+Ue2Io7Pq4=";

fn secret(raw: &str) -> SecretKey {
    SecretKey::derive(raw, "test").unwrap()
}

/// The mock's providers and keys, with `raw` as the instance secret.
fn sealed_config(mock: &MockUpstream, raw: &str) -> GatewayConfig {
    GatewayConfig {
        secret_key: secret(raw),
        ..config(mock)
    }
}

/// Only the secret: providers as the database has them.
fn secret_only(raw: &str) -> GatewayConfig {
    GatewayConfig {
        secret_key: secret(raw),
        ..GatewayConfig::default()
    }
}

/// `(id, api_key)` of every provider, as stored.
fn stored(path: &Path) -> Vec<(String, Option<String>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, api_key FROM providers ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn plain_keys() -> Vec<(String, Option<String>)> {
    vec![
        ("anthropic".to_owned(), Some(ANTHROPIC_KEY.to_owned())),
        ("openai".to_owned(), Some(OPENAI_KEY.to_owned())),
    ]
}

/// Asserts `text` holds no 6 characters in a row of `key`.
fn assert_no_part_of(text: &str, key: &str) {
    let chars: Vec<char> = key.chars().collect();
    for window in chars.windows(6) {
        let part: String = window.iter().collect();
        assert!(!text.contains(&part), "{part:?} of a key in {text:?}");
    }
}

/// Asserts both keys are stored, sealed, with nothing of them showing.
fn assert_sealed(path: &Path) -> Vec<(String, Option<String>)> {
    let rows = stored(path);
    for id in ["anthropic", "openai"] {
        assert!(
            rows.iter().any(|(row, key)| row == id && key.is_some()),
            "{id} has no key: {rows:?}"
        );
    }
    for (id, value) in &rows {
        let Some(value) = value else { continue };
        assert!(value.starts_with("enc:v1:"), "{id}: {value}");
        assert_no_part_of(value, OPENAI_KEY);
        assert_no_part_of(value, ANTHROPIC_KEY);
    }
    rows
}

/// Asserts a chat to each provider reaches the mock with its key.
async fn assert_keys_reach_the_providers(app: &TestApp, mock: &MockUpstream) {
    let (status, body) = app.post("/api/v1/chat/completions", &hello("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let bearer = format!("Bearer {OPENAI_KEY}");
    assert_eq!(mock.last().header("authorization"), Some(bearer.as_str()));
    let (status, body) = app
        .post("/api/v1/chat/completions", &hello("claude-3-5-haiku"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(mock.last().header("x-api-key"), Some(ANTHROPIC_KEY));
}

/// Why a server on `path` with `config` does not start.
fn start_error(path: &Path, config: GatewayConfig) -> String {
    let db = Db::open(path).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = AppConfig {
        gateway: config,
        ..AppConfig::default()
    };
    match Application::on_listener(listener, db, config) {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

#[actix_web::test]
async fn with_a_secret_keys_are_stored_sealed_and_only_that_secret_opens_them() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sealed.db");
    let app = spawn_app_on_with(&path, sealed_config(&mock, SECRET)).await;
    let sealed = assert_sealed(&path);
    assert_keys_reach_the_providers(&app, &mock).await;
    app.stop().await;
    drop(app);

    // A restart with the same secret (and the same keys in the environment)
    // opens them, and leaves them as they are.
    let app = spawn_app_on_with(&path, sealed_config(&mock, SECRET)).await;
    assert_keys_reach_the_providers(&app, &mock).await;
    assert_eq!(stored(&path), sealed);
    app.stop().await;
    drop(app);

    // Another secret, or none, and the server does not start, says what to
    // set, and changes nothing (not even with keys in the environment).
    let wrong = start_error(&path, sealed_config(&mock, OTHER_SECRET));
    assert!(
        wrong.contains("cannot start the gateway")
            && wrong.contains("does not decrypt")
            && wrong.contains("MINDGATE_SECRET_KEY"),
        "{wrong}"
    );
    let missing = start_error(&path, config(&mock));
    assert!(
        missing.contains("is encrypted")
            && missing.contains("MINDGATE_SECRET_KEY")
            && missing.contains("MINDGATE_SECRET_KEY_FILE"),
        "{missing}"
    );
    for message in [&wrong, &missing] {
        assert_no_part_of(message, OPENAI_KEY);
        assert_no_part_of(message, SECRET);
    }
    assert_eq!(stored(&path), sealed);
}

/// The database file and its WAL, as bytes.
fn database_bytes(path: &Path) -> Vec<u8> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_owned(), PathBuf::from(wal)]
        .iter()
        .filter_map(|file| std::fs::read(file).ok())
        .flatten()
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[actix_web::test]
async fn keys_stored_in_plain_text_are_sealed_at_the_first_start_with_a_secret() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    // Without a secret, as before: the keys are stored as given.
    let app = spawn_app_on_with(&path, config(&mock)).await;
    assert_eq!(stored(&path), plain_keys());
    assert_keys_reach_the_providers(&app, &mock).await;
    app.stop().await;
    drop(app);
    // A provider deleted with its key leaves the key in the file's free
    // space (here between two live rows, where nothing overwrites it).
    const DELETED_KEY: &str = "sk-deleted-provider-0123456789";
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO providers (id, kind, name, base_url, api_key, updated_at) VALUES
             ('gone', 'openai', 'Gone', 'http://127.0.0.1:9', '{DELETED_KEY}', 0),
             ('kept', 'openai', 'Kept', 'http://127.0.0.1:9', NULL, 0);
         DELETE FROM providers WHERE id = 'gone';"
    ))
    .unwrap();
    drop(conn);
    let bytes = database_bytes(&path);
    assert!(contains(&bytes, OPENAI_KEY) && contains(&bytes, DELETED_KEY));

    let app = spawn_app_on_with(&path, secret_only(SECRET)).await;
    assert_sealed(&path);
    assert_keys_reach_the_providers(&app, &mock).await;
    app.stop().await;
    drop(app);
    // Not left behind in free space either: a copy of the file has none.
    let bytes = database_bytes(&path);
    for key in [OPENAI_KEY, ANTHROPIC_KEY, DELETED_KEY] {
        assert!(!contains(&bytes, key), "{key} is still in the file");
    }
}

fn assert_fails_with(output: &Output, needles: &[&str]) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing from {err}");
    }
    assert_no_part_of(&err, OPENAI_KEY);
    assert_no_part_of(&err, SECRET);
}

#[actix_web::test]
async fn the_command_line_takes_the_secret_from_the_environment_and_rotates_it() {
    let mock = MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cli.db");
    let db = path.to_str().unwrap();
    let app = spawn_app_on_with(&path, sealed_config(&mock, SECRET)).await;
    app.stop().await;
    drop(app);
    let sealed = assert_sealed(&path);

    let serve = ["serve", "--listen", "127.0.0.1:0", "--db", db];
    // Nothing else runs on this runtime now: the commands may block it.
    {
        assert_fails_with(
            &run(&serve, &[], ""),
            &["is encrypted", "MINDGATE_SECRET_KEY"],
        );
        assert_fails_with(
            &run(&serve, &[("MINDGATE_SECRET_KEY", OTHER_SECRET)], ""),
            &["does not decrypt", "MINDGATE_SECRET_KEY"],
        );
        assert_fails_with(
            &run(&serve, &[("MINDGATE_SECRET_KEY", "password123")], ""),
            &["MINDGATE_SECRET_KEY", "at least 32 characters"],
        );
        assert_fails_with(
            &run(
                &serve,
                &[
                    ("MINDGATE_SECRET_KEY", SECRET),
                    ("MINDGATE_SECRET_KEY_FILE", "/nonexistent"),
                ],
                "",
            ),
            &["only one of"],
        );
        assert_eq!(stored(&path), sealed);

        // Commands that need no provider key work without the secret.
        let listed = run(&["keys", "list", "--db", db], &[], "");
        assert!(listed.status.success(), "{}", stderr(&listed));
        let copy = dir.path().join("copy.db");
        let backup = run(&["backup", copy.to_str().unwrap(), "--db", db], &[], "");
        assert!(backup.status.success(), "{}", stderr(&backup));
        assert_eq!(stored(&copy), sealed, "the backup holds the keys sealed");

        // Rotate: the keys open with the new secret only.
        let rotated = run(
            &["secrets", "rotate", "--db", db],
            &[("MINDGATE_SECRET_KEY", SECRET)],
            &format!("{OTHER_SECRET}\n"),
        );
        assert!(rotated.status.success(), "{}", stderr(&rotated));
        assert!(stdout(&rotated).contains("2 provider key(s)"));
        let rotated_rows = assert_sealed(&path);
        assert_ne!(rotated_rows, sealed);
        assert_fails_with(
            &run(
                &["secrets", "decrypt", "--db", db],
                &[("MINDGATE_SECRET_KEY", SECRET)],
                "",
            ),
            &["does not decrypt"],
        );
        assert_eq!(
            stored(&path),
            rotated_rows,
            "a failed command changes nothing"
        );

        // Decrypt, with the secret in a file that ends with a newline.
        let key_file = dir.path().join("secret");
        std::fs::write(&key_file, format!("{OTHER_SECRET}\n")).unwrap();
        std::fs::set_permissions(&key_file, Permissions::from_mode(0o644)).unwrap();
        let decrypted = run(
            &["secrets", "decrypt", "--db", db],
            &[("MINDGATE_SECRET_KEY_FILE", key_file.to_str().unwrap())],
            "",
        );
        assert!(decrypted.status.success(), "{}", stderr(&decrypted));
        // It works, with a warning: others may read the secret.
        assert!(
            stderr(&decrypted).contains(&format!("chmod 600 {}", key_file.display())),
            "{}",
            stderr(&decrypted)
        );
        assert_eq!(stored(&path), plain_keys());

        // A lost secret: forget the keys it sealed, and start without it.
        let forgot = run(
            &["secrets", "forget", "--db", copy.to_str().unwrap()],
            &[],
            "",
        );
        assert!(forgot.status.success(), "{}", stderr(&forgot));
        assert!(
            stdout(&forgot).contains("anthropic, openai"),
            "{}",
            stdout(&forgot)
        );
        let none = vec![("anthropic".to_owned(), None), ("openai".to_owned(), None)];
        assert_eq!(stored(&copy), none);
    }
    let copy = dir.path().join("copy.db");
    let app = spawn_app_on_with(&copy, GatewayConfig::default()).await;
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
}
