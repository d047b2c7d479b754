//! What the gateway refuses before anything goes upstream.

use actix_web::http::StatusCode;
use mindgate::db::settings::DefaultProvider;
use serde_json::json;

use super::*;
use crate::helpers::{data_field, error_message};

#[actix_web::test]
async fn bad_requests_name_the_field_and_go_nowhere() {
    let gw = spawn_gateway().await;
    let cases = [
        (json!({ "model": "gpt-4o" }), "messages"),
        (json!({ "model": "gpt-4o", "messages": [] }), "messages"),
        (
            json!({ "model": "gpt-4o", "messages": [], "prompt": "" }),
            "messages",
        ),
        (
            json!({ "model": "gpt-4o", "messages": "", "prompt": null }),
            "messages",
        ),
        (
            json!({ "model": "gpt-4o", "messages": [], "prompt": " " }),
            "prompt",
        ),
        (
            json!({ "model": "gpt-4o", "prompt": "hi", "chatTitle": "a\0b" }),
            "chatTitle",
        ),
        (
            json!({ "model": "gpt-4o", "prompt": "hi", "stream_options": { "include_usage": "yes" } }),
            "stream_options.include_usage",
        ),
        (json!({ "model": "gpt-4o", "messages": "hi" }), "messages"),
        (
            json!({ "model": "gpt-4o", "messages": [{ "content": "hi" }] }),
            "messages[0].role",
        ),
        (
            json!({ "model": "gpt-4o", "messages": [{ "role": "wizard", "content": "hi" }] }),
            "messages[0].role",
        ),
        (
            json!({ "model": "gpt-4o", "messages": [{ "role": "user", "content": 5 }] }),
            "messages[0].content",
        ),
        (json!({ "model": "gpt-4o", "prompt": 5 }), "prompt"),
        (json!({ "model": "gpt-4o", "prompt": "  " }), "prompt"),
        (json!({ "model": 4, "prompt": "hi" }), "model"),
        (json!({ "prompt": "hi" }), "model"),
        (
            json!({ "model": "gpt-4o", "prompt": "hi", "stream": "yes" }),
            "stream",
        ),
        (
            json!({ "model": "gpt-4o", "prompt": "hi", "chatID": "has space" }),
            "chatID",
        ),
    ];
    for (body, param) in cases {
        let (status, error) = gw.complete(&body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        error_message(&error, "invalid_request_error");
        assert_eq!(error["error"]["param"], param, "{body}: {error}");
    }
    assert!(gw.mock.received().is_empty());
    assert!(stored_chats(&gw.app).is_empty());
}

#[actix_web::test]
async fn unknown_models_are_refused_with_the_list_of_available_ones() {
    let gw = spawn_gateway().await;
    // The mock's base URL would make `openai` the default provider.
    gw.app
        .set_default_provider(DefaultProvider::None, None)
        .await;
    let (status, error) = gw.complete(&hello("llama-9000")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error_message(&error, "invalid_request_error");
    assert!(
        message.contains("llama-9000") && message.contains("echo") && message.contains("gpt-4o"),
        "{message}"
    );
    assert_eq!(error["error"]["param"], "model");

    // Families need no catalog entry.
    assert_eq!(gw.complete(&hello("gpt-9-preview")).await.0, StatusCode::OK);
    assert_eq!(gw.mock.last().body["model"], "gpt-9-preview");
    assert_eq!(gw.complete(&hello("o9-mini")).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn a_disabled_model_is_refused() {
    let mock = crate::mock_upstream::MockUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mindgate.db");
    let db = mindgate::db::Db::open(&path).unwrap();
    db.write_blocking(|tx| mindgate::db::models::set_enabled(tx, "gpt-4", false))
        .unwrap();
    drop(db);
    let app = crate::helpers::spawn_app_on_with(&path, config(&mock)).await;
    let (status, error) = app.post("/api/v1/chat/completions", &hello("gpt-4")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&error, "invalid_request_error").contains("disabled"));
    let (_, models) = app.get("/api/v1/models").await;
    assert!(!data_field(&models, "id").contains(&"gpt-4".to_owned()));
    assert!(mock.received().is_empty());
}

#[actix_web::test]
async fn models_are_listed_in_openais_shape() {
    let gw = spawn_gateway().await;
    let (status, body) = gw.app.get("/api/v1/models").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["object"], "list");
    let ids = data_field(&body, "id");
    for expected in [
        "echo",
        "gpt-3.5-turbo",
        "gpt-4",
        "claude-2",
        "claude-instant-1.2",
        "gpt-4o",
        "claude-sonnet-4-5",
    ] {
        assert!(
            ids.contains(&expected.to_owned()),
            "{expected} missing from {ids:?}"
        );
    }
    assert!(body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["object"] == "model"));
}

#[actix_web::test]
async fn bodies_over_the_configured_limit_are_413() {
    let gw = spawn_gateway_with(|c| c.max_body_bytes = 2048).await;
    let big = "x".repeat(4096);
    let (status, error) = gw
        .complete(&json!({ "model": "echo", "prompt": big }))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    error_message(&error, "request_too_large");
    // Under the limit is fine, and other endpoints keep theirs.
    let (status, _) = gw
        .complete(&json!({ "model": "echo", "prompt": "x".repeat(1500) }))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn the_default_limit_takes_big_chats() {
    let gw = spawn_gateway().await;
    // 4 MiB of conversation: over the REST limit, well under the gateway's.
    let big = "word ".repeat(800_000);
    let (status, body) = gw
        .complete(&json!({ "model": "echo", "messages": [{ "role": "user", "content": big }] }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .len(),
        big.len()
    );
}

#[actix_web::test]
async fn completions_need_an_api_key() {
    let gw = spawn_gateway().await;
    let response = gw
        .app
        .client
        .post(gw.app.url("/api/v1/chat/completions"))
        .send_body(hello("echo").to_string())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = gw
        .app
        .client
        .post(gw.app.url("/api/v1/chat/completions"))
        .insert_header(("Authorization", format!("Bearer {}", gw.app.api_key)))
        .send_body(hello("echo").to_string())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
