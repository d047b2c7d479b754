use actix_web::http::StatusCode;
use mindgate::db::chat_logs::NewChatLog;
use mindgate::domain::Timestamp;
use serde_json::json;

use crate::helpers::{chat_log, data_field, error_message, spawn_app, TestApp};

fn log_at(chat_id: &str, recorded_ms: i64, text: &str) -> NewChatLog {
    NewChatLog {
        conversation_text: text.to_owned(),
        model: Some("gpt-4".to_owned()),
        prompt_tokens: Some(10),
        completion_tokens: Some(5),
        latency_ms: Some(120),
        ttft_ms: Some(40),
        ..chat_log(chat_id, Timestamp(recorded_ms))
    }
}

fn seed(app: &TestApp, logs: Vec<NewChatLog>) {
    app.record_chats(&logs);
}

const T0: i64 = 1_640_995_200_000; // 2022-01-01T00:00:00Z

#[actix_web::test]
async fn chatlogs_have_the_spec_shape_newest_first() {
    let app = spawn_app().await;
    seed(
        &app,
        vec![
            log_at("oldest", T0, "User: Hello\n\nAssistant: Hi there!"),
            log_at("newest", T0 + 2_000, "User: 日本語 🎉\n\nAssistant: ok"),
            log_at(
                "middle",
                T0 + 1_000,
                "User: '; DROP TABLE chat_logs;--\n\nAssistant: no",
            ),
        ],
    );
    let (status, body) = app.get("/api/v1/chatlogs").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(data_field(&body, "chatID"), ["newest", "middle", "oldest"]);
    assert_eq!(body["nextCursor"], json!(null));
    assert_eq!(
        body["data"][2],
        json!({
            "chatID": "oldest",
            "chatTitle": "Chat oldest",
            "createdAt": "2022-01-01T00:00:00.000Z",
            "recordedAt": "2022-01-01T00:00:00.000Z",
            "conversationText": "User: Hello\n\nAssistant: Hi there!",
        })
    );
    assert_eq!(
        body["data"][0]["conversationText"],
        "User: 日本語 🎉\n\nAssistant: ok"
    );
    assert_eq!(
        body["data"][1]["conversationText"],
        "User: '; DROP TABLE chat_logs;--\n\nAssistant: no"
    );
}

#[actix_web::test]
async fn the_window_is_inclusive_and_takes_fractional_seconds() {
    let app = spawn_app().await;
    seed(
        &app,
        vec![
            log_at("a", T0, "x"),
            log_at("b", T0 + 500, "x"),
            log_at("c", T0 + 1_000, "x"),
            log_at("d", T0 + 2_000, "x"),
        ],
    );
    let cases = [
        (
            "startUnixTime=1640995200&endUnixTime=1640995201",
            vec!["c", "b", "a"],
        ),
        ("startUnixTime=1640995200.5", vec!["d", "c", "b"]),
        ("startUnixTime=1640995200.5001", vec!["d", "c"]),
        ("endUnixTime=1640995200.4999", vec!["a"]),
        ("endUnixTime=1640995200.5", vec!["b", "a"]),
        ("startUnixTime=1640995201&endUnixTime=1640995201", vec!["c"]),
        ("startUnixTime=1640995203", vec![]),
        // A start after the end is an empty window, not a mistake to report.
        ("startUnixTime=1640995201&endUnixTime=1640995200", vec![]),
        // The last second that cannot be milliseconds (the year 5000).
        ("endUnixTime=95617584000", vec!["d", "c", "b", "a"]),
        (
            "startUnixTime=1.6409952005e9&endUnixTime=1640995200.5",
            vec!["b"],
        ),
    ];
    for (query, expected) in cases {
        let (status, body) = app.get(&format!("/api/v1/chatlogs?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(data_field(&body, "chatID"), expected, "{query}");
    }
}

#[actix_web::test]
async fn bad_windows_are_rejected_naming_the_parameter() {
    let app = spawn_app().await;
    let cases = [
        ("startUnixTime=yesterday", "startUnixTime"),
        ("startUnixTime=", "startUnixTime"),
        ("endUnixTime=NaN", "endUnixTime"),
        ("endUnixTime=inf", "endUnixTime"),
        ("startUnixTime=-infinity", "startUnixTime"),
        ("startUnixTime=1e400", "startUnixTime"),
        // Milliseconds by mistake would silently match nothing.
        ("startUnixTime=1640995200000", "startUnixTime"),
        ("endUnixTime=95617584000.5", "endUnixTime"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=nonsense", "cursor"),
    ];
    for (query, param) in cases {
        let (status, error) = app.get(&format!("/api/v1/chatlogs?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        assert_eq!(error["error"]["param"], param, "{query}");
        assert!(error_message(&error, "invalid_request_error").contains(param));
    }
    let (_, error) = app
        .get("/api/v1/chatlogs?startUnixTime=1640995200000")
        .await;
    let message = error_message(&error, "invalid_request_error");
    assert!(message.contains("looks like milliseconds"), "{message}");
}

#[actix_web::test]
async fn at_most_100_by_default_and_cursors_page_through_everything() {
    let app = spawn_app().await;
    // Pairs share a recordedAt, so the cursor must break ties.
    let logs = (0..250)
        .map(|i| log_at(&format!("chat{i:03}"), T0 + (i / 2) * 1000, "x"))
        .collect();
    seed(&app, logs);

    let (_, first) = app.get("/api/v1/chatlogs").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 100);
    assert!(first["nextCursor"].is_string());

    let mut seen = Vec::new();
    let mut path = "/api/v1/chatlogs?limit=60&startUnixTime=1640995210".to_owned();
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(data_field(&page, "chatID"));
        match page["nextCursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/chatlogs?limit=60&startUnixTime=1640995210&cursor={cursor}")
            }
            None => break,
        }
    }
    // Window starts at T0 + 10 s: chats 20..249, newest first, each once.
    let expected: Vec<String> = (20..250).rev().map(|i| format!("chat{i:03}")).collect();
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    sorted_seen.dedup();
    assert_eq!(sorted_seen.len(), seen.len(), "no chat twice");
    assert_eq!(seen.len(), expected.len());
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    assert_eq!(sorted_seen, sorted_expected);
}

#[actix_web::test]
async fn a_continued_chat_replaces_its_conversation_and_moves_recorded_at() {
    let app = spawn_app().await;
    seed(
        &app,
        vec![log_at("cont", T0, "User: Hi\n\nAssistant: Hello")],
    );
    seed(
        &app,
        vec![log_at(
            "cont",
            T0 + 60_000,
            "User: Hi\n\nAssistant: Hello\n\nUser: More\n\nAssistant: Sure",
        )],
    );
    let (_, body) = app.get("/api/v1/chatlogs").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let log = &body["data"][0];
    assert_eq!(log["createdAt"], "2022-01-01T00:00:00.000Z");
    assert_eq!(log["recordedAt"], "2022-01-01T00:01:00.000Z");
    assert_eq!(
        log["conversationText"],
        "User: Hi\n\nAssistant: Hello\n\nUser: More\n\nAssistant: Sure"
    );
    let (_, early) = app.get("/api/v1/chatlogs?endUnixTime=1640995259").await;
    assert_eq!(early, json!({"data": [], "nextCursor": null}));
}

#[actix_web::test]
async fn a_batch_records_each_chat_once_however_often_it_recurs() {
    // Recorded many rows to a statement: a chat that recurs in one
    // statement, across statements and in the rows written one by one
    // adds up as if each had been recorded alone.
    let app = spawn_app().await;
    let logs: Vec<NewChatLog> = (0..40)
        .map(|i| {
            let id = if [0, 5, 20, 39].contains(&i) {
                "again".to_owned()
            } else {
                format!("chat-{i}")
            };
            log_at(&id, 1_700_000_000_000 + i, &format!("turn {i}"))
        })
        .collect();
    app.record_chats(&logs);
    assert_eq!(app.count("SELECT COUNT(*) FROM chat_logs"), 37);
    assert_eq!(
        app.count("SELECT prompt_tokens FROM chat_logs WHERE chat_id = 'again'"),
        40
    );
    let (status, body) = app
        .get("/api/v1/chatlogs?start=1699999999&end=1700000001")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["chatID"] == "again")
        .unwrap()
        .clone();
    assert_eq!(again["conversationText"], "turn 39");
    assert_eq!(app.count("SELECT SUM(requests) FROM usage_rollups"), 40);
    assert_eq!(
        app.count("SELECT SUM(input_tokens) FROM usage_rollups"),
        400
    );
}
