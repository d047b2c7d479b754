//! `/api/v1/models/{name}` and its price: shown, set, refused, removed.

use actix_web::http::{Method, StatusCode};
use mindgate::db::models;
use serde_json::{json, Value};

use crate::helpers::{error_message, send, send_body, spawn_app, TestApp};

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

/// A model added through the API, asserting it was.
async fn add(app: &TestApp, name: &str, body: Value) -> Value {
    let (status, added) = app.post(&format!("/api/v1/models/{name}"), &body).await;
    assert_eq!(status, StatusCode::CREATED, "POST {name} {body}: {added}");
    added
}

#[actix_web::test]
async fn models_are_added_changed_and_removed_with_the_admins_rules() {
    let app = spawn_app().await;
    let added = add(&app, "llama3.1:8b", json!({"provider": "openai"})).await;
    assert_eq!(
        (
            &added["id"],
            &added["owned_by"],
            &added["upstream"],
            &added["enabled"],
            &added["price"]
        ),
        (
            &json!("llama3.1:8b"),
            &json!("openai"),
            &json!("llama3.1:8b"),
            &json!(true),
            &Value::Null
        )
    );
    assert!(
        added["created"].as_i64().unwrap() > 1_700_000_000,
        "{added}"
    );
    let alias = add(
        &app,
        "fast",
        json!({"provider": "openai", "upstream": "gpt-4o-mini", "enabled": false,
               "price": {"input": 0.15, "output": 0.6}}),
    )
    .await;
    assert_eq!(alias["price"]["output"], 0.6);

    // Every refusal names its field, and changes nothing.
    let before = app.count("SELECT COUNT(*) FROM models");
    let cases: [(Method, &str, Value, u16, &str); 13] = [
        (Method::POST, "x", json!({}), 400, "provider"),
        (
            Method::POST,
            "x",
            json!({"provider": "nowhere"}),
            400,
            "provider",
        ),
        (Method::POST, "x", json!({"provider": 1}), 400, "provider"),
        (
            Method::POST,
            "x",
            json!({"provider": "openai", "upstream": "a b"}),
            400,
            "upstream",
        ),
        (
            Method::POST,
            "x",
            json!({"provider": "openai", "enabled": "yes"}),
            400,
            "enabled",
        ),
        (
            Method::POST,
            "x",
            json!({"provider": "openai", "price": {"input": 1}}),
            400,
            "price.output",
        ),
        (
            Method::POST,
            "x",
            json!({"provider": "openai", "colour": "red"}),
            400,
            "colour",
        ),
        (
            Method::POST,
            "Echo",
            json!({"provider": "openai"}),
            400,
            "name",
        ),
        (
            Method::POST,
            "a%20b",
            json!({"provider": "openai"}),
            400,
            "name",
        ),
        (
            Method::POST,
            "LLAMA3.1:8B",
            json!({"provider": "openai"}),
            409,
            "",
        ),
        (
            Method::POST,
            "gpt-4o",
            json!({"provider": "anthropic"}),
            409,
            "",
        ),
        (Method::PATCH, "fast", json!({}), 400, ""),
        (
            Method::PATCH,
            "fast",
            json!({"provider": "nowhere"}),
            400,
            "provider",
        ),
    ];
    for (method, name, body, status, field) in cases {
        let request = app.request(method.clone(), &format!("/api/v1/models/{name}"));
        let (got, error) = send_body(request, body.to_string()).await;
        assert_eq!(got.as_u16(), status, "{method} {name} {body}: {error}");
        let kind = if status == 409 {
            "conflict_error"
        } else {
            "invalid_request_error"
        };
        error_message(&error, kind);
        if !field.is_empty() {
            assert_eq!(
                error["error"]["param"], field,
                "{method} {name} {body}: {error}"
            );
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM models"), before);

    // PATCH changes what it names, in any case of the name.
    let (status, changed) = app
        .patch(
            "/api/v1/models/FAST",
            &json!({"enabled": true, "price": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (
            &changed["id"],
            &changed["enabled"],
            &changed["price"],
            &changed["upstream"]
        ),
        (
            &json!("fast"),
            &json!(true),
            &Value::Null,
            &json!("gpt-4o-mini")
        )
    );
    let (status, _) = app
        .patch("/api/v1/models/nope", &json!({"enabled": true}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // DELETE: 204, then 404; a family name still resolves after.
    for name in ["Fast", "gpt-4o"] {
        let (status, _) = app.delete(&format!("/api/v1/models/{name}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        let (status, error) = app.delete(&format!("/api/v1/models/{name}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        error_message(&error, "not_found_error");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM models WHERE name IN ('fast', 'gpt-4o')"),
        0
    );
    let (status, _) = app.delete("/api/v1/models/echo").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "echo is no catalog entry");
}

#[actix_web::test]
async fn one_model_comes_in_the_shape_asked_for_and_names_with_a_slash_work_as_sent() {
    let app = spawn_app().await;
    add(&app, "meta-llama/llama-3-8b", json!({"provider": "openai"})).await;
    for path in [
        "/api/v1/models/meta-llama/llama-3-8b",
        "/api/v1/models/meta-llama%2Fllama-3-8b",
        "/api/v1/models/META-LLAMA/Llama-3-8B",
    ] {
        let (status, model) = app.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {model}");
        assert_eq!(
            model["id"], "meta-llama/llama-3-8b",
            "{path}: the catalog's name"
        );
        assert_eq!(model["object"], "model");
    }
    let (status, changed) = app
        .patch(
            "/api/v1/models/meta-llama/llama-3-8b",
            &json!({"upstream": "llama3:8b"}),
        )
        .await;
    assert_eq!(
        (status, &changed["upstream"]),
        (StatusCode::OK, &json!("llama3:8b"))
    );

    let anthropic = |path: &str| {
        app.request(Method::GET, path)
            .insert_header(("anthropic-version", "2023-06-01"))
    };
    let (status, model) = send(anthropic("/api/v1/models/GPT-4O")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        model,
        json!({"type": "model", "id": "gpt-4o", "display_name": "gpt-4o",
               "created_at": "1970-01-01T00:00:00.000Z"})
    );
    let (status, error) = send(anthropic("/api/v1/models/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["type"], "error", "Anthropic's envelope: {error}");
    assert_eq!(error["error"]["type"], "not_found_error");
    let (_, echo) = app.get("/api/v1/models/ECHO").await;
    assert_eq!(
        (&echo["id"], &echo["owned_by"]),
        (&json!("echo"), &json!("mindgate"))
    );
    // Disabled, or a family name whose provider has no key: not there.
    let (status, _) = app
        .patch("/api/v1/models/gpt-4o", &json!({"enabled": false}))
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/models/gpt-4o",
        "/api/v1/models/gpt-4o-2024-08-06",
        "/api/v1/models/openai/gpt-4o",
    ] {
        let (status, error) = app.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {error}");
    }
}

/// An app where ann@example.com, an intern, may use echo alone.
async fn app_where_ann_has_echo_alone() -> TestApp {
    let app = spawn_app().await;
    app.create_user(&json!({"email": "ann@example.com", "tags": ["interns"]}))
        .await;
    app.put_policy("tag:interns", &json!({"models": ["echo"]}))
        .await;
    app
}

/// `GET path` on ann's behalf.
fn as_ann(app: &TestApp, path: &str) -> awc::ClientRequest {
    app.request(Method::GET, path)
        .insert_header(("x-user-email", "ann@example.com"))
}

#[actix_web::test]
async fn a_model_a_policy_closes_is_a_404_like_in_the_listing() {
    let app = app_where_ann_has_echo_alone().await;
    let (status, _) = send(as_ann(&app, "/api/v1/models/echo")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(as_ann(&app, "/api/v1/models/gpt-4o")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/v1/models/gpt-4o").await;
    assert_eq!(status, StatusCode::OK, "open to everyone else");
}

#[actix_web::test]
async fn the_404_of_a_closed_model_reads_as_the_one_of_an_unknown_model_and_is_true_of_both() {
    let app = app_where_ann_has_echo_alone().await;
    let mut messages = Vec::new();
    for name in ["gpt-4o", "no-such-model"] {
        let (status, error) = send(as_ann(&app, &format!("/api/v1/models/{name}"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {error}");
        let message = error_message(&error, "not_found_error");
        messages.push(message.replace(name, "NAME"));
    }
    assert_eq!(messages[0], messages[1], "the same 404 either way");
    assert!(
        messages[0].contains("\"NAME\" is available to this key and user"),
        "{}",
        messages[0]
    );
    assert!(
        !messages[0].contains("not in the catalog"),
        "gpt-4o is in the catalog: {}",
        messages[0]
    );
}

#[actix_web::test]
async fn a_chat_key_reads_models_but_cannot_change_them() {
    let app = spawn_app().await;
    let (_, chat_key) = app.add_key("chat", mindgate::domain::KeyScope::Chat);
    let with_chat_key = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .insert_header(("x-api-key", chat_key.as_str()))
    };
    let (status, _) = send(with_chat_key(Method::GET, "/api/v1/models/gpt-4o")).await;
    assert_eq!(status, StatusCode::OK);
    for method in [Method::POST, Method::PATCH, Method::DELETE] {
        let request = with_chat_key(method.clone(), "/api/v1/models/gpt-4o");
        let (status, error) = send_body(request, json!({"provider": "openai"}).to_string()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {error}");
        error_message(&error, "permission_error");
    }
    let request = with_chat_key(Method::POST, "/api/v1/providers/openai/models/sync");
    let (status, _) = send(request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM models WHERE name = 'gpt-4o'"),
        1
    );
}

#[actix_web::test]
async fn the_list_leaves_out_models_whose_provider_lacks_its_key() {
    let gw = crate::gateway::spawn_gateway_with(|config| {
        config.anthropic = mindgate::db::providers::ProviderSeed::default();
    })
    .await;
    let (status, listed) = gw.app.get("/api/v1/models").await;
    assert_eq!(status, StatusCode::OK);
    let names = crate::helpers::data_field(&listed, "id");
    assert!(names.contains(&"gpt-4o".to_owned()), "{names:?}");
    assert!(names.contains(&"echo".to_owned()), "{names:?}");
    assert!(
        !names.iter().any(|name| name.starts_with("claude-")),
        "no Anthropic key, no Claude: {names:?}"
    );
    // The catalog still has them, with their prices.
    let (status, claude) = gw.app.get("/api/v1/models/claude-haiku-4-5").await;
    assert_eq!(status, StatusCode::OK, "{claude}");
    assert_eq!(claude["owned_by"], "anthropic");
}

#[actix_web::test]
async fn a_catalog_name_may_not_end_with_a_slash_which_a_path_loses() {
    let app = spawn_app().await;
    for path in ["/api/v1/models/local%2F", "/api/v1/models/ollama%2Fx%2F"] {
        let (status, error) = send_body(
            app.request(Method::POST, path),
            json!({"provider": "openai"}).to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {error}");
        assert_eq!(error["error"]["param"], "name", "{path}");
    }
    let (status, listed) = app.get("/api/v1/models").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!listed.to_string().contains("local/"), "nothing added");
}

#[actix_web::test]
async fn an_empty_upstream_is_a_400_naming_it_not_the_name_itself() {
    let app = spawn_app().await;
    add(&app, "local", json!({"provider": "openai"})).await;
    for (method, name, body) in [
        (
            Method::POST,
            "fuzzed",
            json!({"provider": "openai", "upstream": ""}),
        ),
        (Method::PATCH, "local", json!({"upstream": ""})),
    ] {
        let request = app.request(method.clone(), &format!("/api/v1/models/{name}"));
        let (status, error) = send_body(request, body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {body}: {error}");
        assert_eq!(error["error"]["param"], "upstream", "{method}: {error}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM models WHERE name = 'fuzzed'"),
        0
    );
    let (_, local) = app.get("/api/v1/models/local").await;
    assert_eq!(local["upstream"], "local", "unchanged: {local}");
}
