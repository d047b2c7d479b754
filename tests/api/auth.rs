use actix_web::http::{Method, StatusCode};
use mindgate::db::{api_keys, StoreError};
use mindgate::domain::ApiKeyId;
use serde_json::json;

use crate::helpers::{error_message, send, spawn_app};

#[actix_web::test]
async fn every_protected_route_needs_a_key() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/api/v1/users"),
        (Method::POST, "/api/v1/users"),
        (Method::PATCH, "/api/v1/users/1"),
        (Method::DELETE, "/api/v1/users/1"),
        (Method::GET, "/api/v1/ai-characters"),
        (Method::POST, "/api/v1/ai-characters"),
        (Method::GET, "/api/v1/chatlogs"),
    ] {
        let (status, error) = send(app.client.request(method.clone(), app.url(path))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert!(error_message(&error, "authentication_error").contains("X-API-KEY"));
    }
}

#[actix_web::test]
async fn unknown_and_malformed_keys_are_401() {
    let app = spawn_app().await;
    let forged = format!("mg_{}", "A".repeat(40));
    for (header, value) in [
        ("X-API-KEY", forged.as_str()),
        ("X-API-KEY", "not-a-key"),
        ("X-API-KEY", ""),
        ("Authorization", "Bearer mg_wrong"),
        ("Authorization", &format!("Basic {}", app.api_key)),
    ] {
        let request = app
            .client
            .get(app.url("/api/v1/users"))
            .insert_header((header, value));
        let (status, error) = send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}: {value}");
        error_message(&error, "authentication_error");
    }
}

#[actix_web::test]
async fn a_bearer_token_works_like_x_api_key() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer"] {
        let request = app
            .client
            .get(app.url("/api/v1/users"))
            .insert_header(("Authorization", format!("{scheme} {}", app.api_key)));
        let (status, body) = send(request).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"data": []}));
    }
}

#[actix_web::test]
async fn a_revoked_key_stops_working_at_once() {
    let app = spawn_app().await;
    let (status, _) = app.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    let keys = app.db.read_blocking(api_keys::list).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].last_used_at.is_some(), "last_used_at is recorded");
    app.db
        .write_blocking(|tx| api_keys::revoke(tx, ApiKeyId(keys[0].id.0)))
        .unwrap();
    let (status, error) = app.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(error_message(&error, "authentication_error").contains("revoked"));
}

#[actix_web::test]
async fn only_the_hash_of_a_key_is_stored() {
    let app = spawn_app().await;
    let raw = std::fs::read(&app.db_path).unwrap();
    let wal = std::fs::read(app.db_path.with_extension("db-wal")).unwrap_or_default();
    let needle = app.api_key.as_bytes();
    for bytes in [&raw, &wal] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the plaintext key is in the database file"
        );
    }
    let stored: Vec<u8> = app
        .db
        .read_blocking(|conn| {
            Ok::<_, StoreError>(
                conn.query_row("SELECT key_hash FROM api_keys", [], |row| row.get(0))?,
            )
        })
        .unwrap();
    assert_eq!(
        stored,
        mindgate::domain::KeyHash::of(&app.api_key).as_bytes()
    );
}

#[actix_web::test]
async fn health_and_the_openapi_document_are_public() {
    let app = spawn_app().await;
    let (status, body) = send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, body) = send(app.client.get(app.url("/api/v1/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["openapi"], "3.0.3");
}
