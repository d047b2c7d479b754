//! `/v1/...` at the root answers as `/api/v1/...` does (clients given a
//! bare host), and a trailing slash reaches the same route.

use actix_web::http::{header, Method, StatusCode};
use mindgate::config::{AppConfig, HttpConfig};
use mindgate::domain::KeyScope;
use mindgate::http::BasePath;
use serde_json::{json, Value};

use crate::gateway::{event_data, spawn_gateway, streamed_text};
use crate::helpers::{send, send_body, spawn_app_configured};

#[actix_web::test]
async fn the_root_v1_answers_as_api_v1_does() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    app.create_user(&json!({"email": "ann@example.com"})).await;
    for path in [
        "/users",
        "/models",
        "/models/gpt-4o",
        "/users/1",
        "/chatlogs",
    ] {
        let (status, root) = app.get(&format!("/v1{path}")).await;
        let (api_status, api) = app.get(&format!("/api/v1{path}")).await;
        assert_eq!(status, StatusCode::OK, "/v1{path}: {root}");
        assert_eq!((status, &root), (api_status, &api), "/v1{path}");
    }
    let (status, document) = send(app.client.get(app.url("/v1/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(document["paths"]["/completions"].is_object());

    // The same refusals, in the same shapes.
    let (status, body) = send(app.client.get(app.url("/v1/users"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["type"], "authentication_error");
    let (status, body) = app.get("/v1/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["type"], "not_found_error");
    let response = app
        .request(Method::DELETE, "/v1/models")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers().get(header::ALLOW).unwrap(), "GET, HEAD");
    let (_, chat_key) = app.add_key("chat", KeyScope::Chat);
    let (status, body) = send(
        app.client
            .get(app.url("/v1/users"))
            .insert_header(("X-API-KEY", chat_key.as_str())),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["type"], "permission_error");
    // Anthropic's SDK, given the bare host, gets Anthropic's errors.
    let (status, body) = app
        .post(
            "/v1/messages",
            &json!({"model": "echo", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error");

    // Chats, whole and streamed, through a provider.
    let hello = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]});
    let (status, whole) = app.post("/v1/chat/completions", &hello).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert_eq!(
        whole["choices"][0]["message"]["content"],
        crate::mock_upstream::REPLY
    );
    let mut streamed = hello.clone();
    streamed["stream"] = json!(true);
    let mut response = app
        .request(Method::POST, "/v1/chat/completions")
        .send_body(streamed.to_string())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.body().await.unwrap();
    let stream = std::str::from_utf8(&body).unwrap();
    assert_eq!(streamed_text(stream), crate::mock_upstream::REPLY);
    assert_eq!(event_data(stream).last().unwrap(), "[DONE]");
    crate::gateway::wait_for_chats(app, 2).await;
}

#[actix_web::test]
async fn a_trailing_slash_reaches_the_same_route() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    app.create_user(&json!({"email": "ann@example.com"})).await;
    for path in [
        "/api/v1/users/",
        "/api/v1/users/1/",
        "/v1/models/",
        "/v1/models/gpt-4o/",
        "/api/v1/models/",
    ] {
        let (status, with) = app.get(path).await;
        let (_, without) = app.get(path.trim_end_matches('/')).await;
        assert_eq!(status, StatusCode::OK, "{path}: {with}");
        assert_eq!(with, without, "{path}");
    }
    for path in [
        "/api/v1/chat/completions/",
        "/v1/chat/completions/",
        "/api/v1/completions/",
    ] {
        let body = if path.contains("chat") {
            json!({"model": "echo", "messages": [{"role": "user", "content": "Hi"}]})
        } else {
            json!({"model": "echo", "prompt": "Hi"})
        };
        let (status, answer) = app.post(path, &body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    }
    // An unknown route is still the JSON 404, with or without one.
    let (status, missing) = app.get("/v1/nowhere/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["type"], "not_found_error");
}

#[actix_web::test]
async fn under_a_base_path_the_alias_is_under_it_too() {
    let app = spawn_app_configured(AppConfig {
        http: HttpConfig {
            base_path: BasePath::parse("/mindgate").unwrap(),
            ..HttpConfig::default()
        },
        ..AppConfig::default()
    })
    .await;
    let (status, models) = app.get("/mindgate/v1/models/").await;
    assert_eq!(status, StatusCode::OK, "{models}");
    assert_eq!(models["object"], "list");
    let (status, body) = app.get("/v1/models").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, completion) = send_body(
        app.request(Method::POST, "/mindgate/v1/completions"),
        json!({"model": "echo", "prompt": "Hi"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{completion}");
    assert_eq!(completion["choices"][0]["text"], Value::from("Hi"));
}
