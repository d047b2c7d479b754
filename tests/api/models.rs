//! `/api/v1/models/{name}` and its price: shown, set, refused, removed.

use actix_web::http::{Method, StatusCode};
use mindgate::db::models;
use serde_json::{json, Value};

use crate::helpers::{error_message, send_body, spawn_app, TestApp};

async fn put_price(app: &TestApp, name: &str, body: Value) -> (StatusCode, Value) {
    let request = app.request(Method::PUT, &format!("/api/v1/models/{name}/price"));
    send_body(request, body.to_string()).await
}

#[actix_web::test]
async fn a_catalog_model_shows_its_price_and_an_unknown_one_is_a_json_404() {
    let app = spawn_app().await;
    let (status, model) = app.get("/api/v1/models/gpt-4-32k").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        model,
        json!({"id": "gpt-4-32k", "object": "model", "created": 0, "owned_by": "openai",
               "upstream": "gpt-4o", "enabled": true,
               "price": {"input": 2.5, "output": 10.0, "cacheRead": 1.25, "cacheWrite": null}}),
        "an alias at its upstream model's list price"
    );
    let (_, claude) = app.get("/api/v1/models/claude-haiku-4-5").await;
    assert_eq!(
        claude["price"],
        json!({"input": 1.0, "output": 5.0, "cacheRead": 0.1, "cacheWrite": 1.25})
    );
    let (_, echo) = app.get("/api/v1/models/echo").await;
    assert_eq!(
        (&echo["owned_by"], &echo["price"]),
        (&json!("mindgate"), &Value::Null)
    );
    for path in [
        "/api/v1/models/no-such-model",
        "/api/v1/models/gpt-4o-2024-08-06",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(error_message(&body, "not_found_error").contains("catalog"));
    }
}

#[actix_web::test]
async fn a_price_is_set_exactly_rounded_past_six_decimals_and_removed() {
    let app = spawn_app().await;
    let (status, set) = put_price(
        &app,
        "gpt-4o",
        json!({"input": 0.15, "output": 0.6, "cacheRead": 0.075, "cacheWrite": 3.125}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(
        set["price"],
        json!({"input": 0.15, "output": 0.6, "cacheRead": 0.075, "cacheWrite": 3.125})
    );
    let (_, shown) = app.get("/api/v1/models/gpt-4o").await;
    assert_eq!(shown, set);
    let stored = app.count("SELECT price_cache_read FROM models WHERE name = 'gpt-4o'");
    assert_eq!(stored, 75_000, "millionths of a dollar per million tokens");

    let (_, rounded) = put_price(&app, "gpt-4o", json!({"input": 0.1234567, "output": 1})).await;
    assert_eq!(rounded["price"]["input"], 0.123457);
    assert_eq!(
        rounded["price"]["cacheRead"],
        Value::Null,
        "left out: the input price"
    );

    let (status, removed) = app.delete("/api/v1/models/gpt-4o/price").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(removed["price"], Value::Null);
    let (status, again) = app.delete("/api/v1/models/gpt-4o/price").await;
    assert_eq!((status, &again["price"]), (StatusCode::OK, &Value::Null));
}

#[actix_web::test]
async fn bad_prices_are_a_400_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let (_, before) = app.get("/api/v1/models/gpt-4o").await;
    for (body, field, says) in [
        (
            json!({"input": -1, "output": 10}),
            "input",
            "must not be negative",
        ),
        (
            json!({"input": 1, "output": "10"}),
            "output",
            "must be a number, not a string",
        ),
        (
            json!({"input": 1, "output": 1e6}),
            "output",
            "at most 10000",
        ),
        (json!({"input": 1}), "output", "is required"),
        (
            json!({"input": 1, "output": 1, "cacheRead": -0.5}),
            "cacheRead",
            "negative",
        ),
        (
            json!({"input": 1, "output": 1, "cacheWrite": {}}),
            "cacheWrite",
            "not an object",
        ),
    ] {
        let (status, error) = put_price(&app, "gpt-4o", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error["error"]["param"], field, "{body}");
        let message = error_message(&error, "invalid_request_error");
        assert!(message.contains(says), "{body}: {message}");
    }
    let (status, _) = put_price(&app, "gpt-4o", json!([1, 2])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, after) = app.get("/api/v1/models/gpt-4o").await;
    assert_eq!(after, before);
    for (method, path) in [
        (Method::PUT, "/api/v1/models/nope/price"),
        (Method::DELETE, "/api/v1/models/nope/price"),
    ] {
        let request = app.request(method.clone(), path);
        let (status, body) = send_body(request, json!({"input": 1, "output": 2}).to_string()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        error_message(&body, "not_found_error");
    }
}

#[actix_web::test]
async fn a_name_with_a_slash_is_reached_percent_encoded() {
    let app = spawn_app().await;
    app.db
        .write_blocking(|tx| models::upsert(tx, "meta/llama-3", "openai", "llama3", true))
        .unwrap();
    let (_, unpriced) = app.get("/api/v1/models/meta%2Fllama-3").await;
    assert_eq!(
        (&unpriced["id"], &unpriced["price"]),
        (&json!("meta/llama-3"), &Value::Null)
    );
    let (status, priced) =
        put_price(&app, "meta%2Fllama-3", json!({"input": 0, "output": 0})).await;
    assert_eq!(status, StatusCode::OK, "{priced}");
    assert_eq!(priced["price"]["output"], 0.0, "free is a price");
}
