//! What the chat logs keep and for how long: retention deletes exactly the
//! chats past keeping (in the background, while requests are served) and
//! gives the file's pages back, leaving the usage rollups whole; metadata-only recording keeps no text;
//! generated chat ids sort by time.

use std::path::Path;
use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use mindgate::config::GatewayConfig;
use mindgate::db;
use mindgate::db::chat_logs::{self, AdminFilter, PageFrom};
use mindgate::domain::Retention;
use serde_json::json;

use crate::gateway::{stored_chats, wait_for_chats};
use crate::helpers::{send_body, spawn_app_with, TestApp};

const DAY: i64 = 86_400_000;

fn keep_days(days: u32) -> GatewayConfig {
    GatewayConfig {
        chatlog_retention_days: Some(Retention::parse("days", &days.to_string()).unwrap()),
        ..GatewayConfig::default()
    }
}

async fn spawn_on(path: &Path, config: GatewayConfig) -> TestApp {
    TestApp::builder().on(path).gateway(config).spawn().await
}

/// The chat ids whose title or conversation holds `text`, by the admin's
/// search.
fn found(app: &TestApp, text: &str) -> Vec<String> {
    let filter = AdminFilter {
        text: Some(text.to_owned()),
        ..AdminFilter::default()
    };
    let page = app
        .db
        .read_blocking(|conn| chat_logs::page(conn, &filter, PageFrom::Newest, 100, 10))
        .unwrap();
    page.chats.into_iter().map(|c| c.chat_id).collect()
}

/// Polls `done` (a count of rows, not a time) until it holds, for at most
/// `within`.
async fn until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// Read through the server's own pool, as its upkeep reads it: a pooled
/// connection opened before the start's VACUUM must not answer from the
/// header it read before.
fn gives_pages_back(app: &TestApp) -> bool {
    app.db.read_blocking(db::gives_pages_back).unwrap()
}

fn pragma(app: &TestApp, name: &str) -> i64 {
    app.count(&format!("PRAGMA {name}"))
}

#[actix_web::test]
async fn retention_deletes_exactly_the_chats_past_keeping_and_their_search_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mindgate.db");
    let before = spawn_on(&path, GatewayConfig::default()).await;
    before.record_texts(&[
        ("today", "Fresh", "user: apricot", "gpt-4o", 1_000),
        ("last-month", "Kept", "user: apricot", "gpt-4o", 29 * DAY),
        (
            "just-past",
            "Gone",
            "user: blackberry",
            "gpt-4o",
            30 * DAY + 60_000,
        ),
        ("last-year", "Gone", "user: blackberry", "gpt-4o", 365 * DAY),
    ]);
    assert_eq!(found(&before, "blackberry").len(), 2);
    before.stop().await;
    drop(before);

    // Started with 30 days of retention: the purge runs at once.
    let app = spawn_on(&path, keep_days(30)).await;
    let purged = until(Duration::from_secs(10), || {
        app.count("SELECT COUNT(*) FROM chat_logs") == 2
    })
    .await;
    assert!(purged, "the two old chats are deleted");
    let mut kept: Vec<String> = stored_chats(&app).into_iter().map(|c| c.chat_id).collect();
    kept.sort();
    assert_eq!(kept, ["last-month", "today"]);
    assert!(found(&app, "blackberry").is_empty());
    assert_eq!(found(&app, "apricot"), ["today", "last-month"]);
    // The index holds entries for the kept chats alone.
    app.wait_indexed().await;
    assert_eq!(app.count("SELECT COUNT(*) FROM chat_logs_fts_docsize"), 2);
    // The usage rollups outlive the chats they add up.
    let (status, usage) = app.get("/api/v1/usage?start=0&end=4102444800").await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["total"]["requests"], 4);
    assert_eq!(usage["total"]["inputTokens"], 400);
    assert_eq!(
        app.count(
            "SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'chatlog_retention_days'"
        ),
        30
    );
}

#[actix_web::test]
async fn without_retention_nothing_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mindgate.db");
    let before = spawn_on(&path, GatewayConfig::default()).await;
    before.record_chat("ancient", "Old", "x", "gpt-4o", 3000 * DAY);
    before.stop().await;
    drop(before);
    // 0 is forever, and wins over a stored setting.
    let app = spawn_on(&path, keep_days(0)).await;
    app.stop().await;
    assert_eq!(app.count("SELECT COUNT(*) FROM chat_logs"), 1);
}

#[actix_web::test]
async fn a_purge_of_many_chats_leaves_requests_served_and_gives_the_pages_back() {
    const OLD: i64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mindgate.db");
    let before = spawn_on(&path, GatewayConfig::default()).await;
    let text = "user: tell me about the weather in spring. ".repeat(12);
    let ids: Vec<String> = (0..OLD).map(|i| format!("old-{i}")).collect();
    let rows: Vec<(&str, &str, &str, &str, i64)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                id.as_str(),
                "Old",
                text.as_str(),
                "gpt-4o",
                40 * DAY + i as i64,
            )
        })
        .collect();
    before.record_texts(&rows);
    before.record_chat("recent", "New", "user: hi", "gpt-4o", 1_000);
    let pages_full = pragma(&before, "page_count");
    before.stop().await;
    drop(before);

    let app = spawn_on(&path, keep_days(30)).await;
    let old = || app.count("SELECT COUNT(*) FROM chat_logs WHERE chat_id LIKE 'old-%'");
    // Chats and reads while the purge runs: each answered, and recorded
    // while old chats are still there to delete.
    let mut during = 0;
    for i in 0.. {
        let left_before = old();
        if left_before == 0 {
            break;
        }
        let chat_id = format!("during-{i}");
        let body = json!({"model": "echo", "chatID": chat_id,
                          "messages": [{"role": "user", "content": "Still there?"}]});
        let request = app.request(Method::POST, "/api/v1/chat/completions");
        let (status, answer) = send_body(request, body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let (status, _) = app.get("/api/v1/chatlogs?limit=5").await;
        assert_eq!(status, StatusCode::OK);
        let stored = format!("SELECT COUNT(*) FROM chat_logs WHERE chat_id = '{chat_id}'");
        assert!(until(Duration::from_secs(5), || app.count(&stored) == 1).await);
        // Begun before the chat, not over when it was stored.
        if left_before < OLD && old() > 0 {
            during += 1;
        }
    }
    assert!(
        during >= 2,
        "chats answered and recorded during the purge: {during}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM chat_logs WHERE chat_id = 'recent'"),
        1
    );
    // The free pages go back to the system once the rows are gone.
    let shrunk = until(Duration::from_secs(20), || {
        pragma(&app, "freelist_count") == 0 && pragma(&app, "page_count") < pages_full / 4
    })
    .await;
    assert!(
        shrunk,
        "{} pages of {pages_full} left, {} free",
        pragma(&app, "page_count"),
        pragma(&app, "freelist_count")
    );
}

#[actix_web::test]
async fn a_database_from_before_retention_is_rewritten_once_to_give_pages_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mindgate.db");
    let before = spawn_on(&path, GatewayConfig::default()).await;
    before.stop().await;
    drop(before);
    {
        // As files made before incremental vacuum are.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;")
            .unwrap();
        let mode: i64 = conn
            .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, 0);
    }
    let kept_forever = spawn_on(&path, GatewayConfig::default()).await;
    assert!(!gives_pages_back(&kept_forever), "untouched");
    kept_forever.stop().await;
    drop(kept_forever);
    let app = spawn_on(&path, keep_days(90)).await;
    assert!(gives_pages_back(&app), "incremental");
}

#[actix_web::test]
async fn metadata_only_recording_keeps_no_conversation_and_no_title() {
    let app = spawn_app_with(GatewayConfig {
        record_conversations: Some(false),
        ..GatewayConfig::default()
    })
    .await;
    let body = json!({"model": "echo", "chatID": "private-1", "chatTitle": "Merger plans",
                      "messages": [{"role": "user", "content": "The secret code is 4711"}]});
    let request = app.request(Method::POST, "/api/v1/chat/completions");
    let (status, answer) = send_body(request, body.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "The secret code is 4711"
    );
    let chat = wait_for_chats(&app, 1).await.pop().unwrap();
    assert_eq!(chat.chat_id, "private-1");
    assert_eq!(chat.conversation, "");
    assert_eq!(chat.chat_title, "");
    assert_eq!(chat.model.as_deref(), Some("echo"));
    assert_eq!(chat.status, "ok");
    assert!(chat.latency_ms.is_some());
    // What it used is still counted, from the text it no longer keeps.
    assert!(chat.usage_estimated);
    assert!(chat.prompt_tokens.unwrap() > 0 && chat.completion_tokens.unwrap() > 0);
    assert!(found(&app, "4711").is_empty());
    assert!(found(&app, "Merger").is_empty());
    // The spec's endpoint shows the row, with no text.
    let (status, logs) = app.get("/api/v1/chatlogs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(logs["data"][0]["chatID"], "private-1");
    assert_eq!(logs["data"][0]["conversationText"], "");
    assert_eq!(logs["data"][0]["chatTitle"], "");
    assert!(!logs.to_string().contains("4711"));
    app.stop().await;
    for file in ["", "-wal"] {
        let path = format!("{}{file}", app.db_path.display());
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert!(!on_disk.windows(4).any(|w| w == b"4711"), "{path}");
    }
}

#[actix_web::test]
async fn generated_chat_ids_sort_by_when_the_chat_began() {
    let app = spawn_app_with(GatewayConfig::default()).await;
    for (count, word) in [(1, "first"), (2, "second")] {
        let body = json!({"model": "echo", "messages": [{"role": "user", "content": word}]});
        let request = app.request(Method::POST, "/api/v1/chat/completions");
        assert_eq!(send_body(request, body.to_string()).await.0, StatusCode::OK);
        wait_for_chats(&app, count).await;
        // A millisecond apart at least.
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    }
    let chats = stored_chats(&app);
    let pattern = regex::Regex::new("^[A-Za-z0-9._:-]{1,128}$").unwrap();
    for chat in &chats {
        assert_eq!(chat.chat_id.len(), 14, "{}", chat.chat_id);
        assert!(pattern.is_match(&chat.chat_id), "{}", chat.chat_id);
    }
    assert!(chats[0].conversation.contains("first"));
    assert!(chats[0].chat_id < chats[1].chat_id, "{chats:#?}");
}
