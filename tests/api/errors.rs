use actix_web::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{error_message, send, send_body, spawn_app};

#[actix_web::test]
async fn unknown_routes_under_api_are_json_404s() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/nope",
        "/api/v1/users/1/extra",
        "/api/v2/users",
        "/api",
        "/nothing",
    ] {
        let (status, error) = app.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(error_message(&error, "not_found_error").contains(path));
        // A missing route is a 404 with or without a key.
        let (status, error) = send(app.client.get(app.url(path))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path} without a key");
        error_message(&error, "not_found_error");
    }
}

#[actix_web::test]
async fn wrong_methods_are_json_405s_that_say_what_is_allowed() {
    let app = spawn_app().await;
    for (method, path, allowed) in [
        (Method::PUT, "/api/v1/users", "GET, HEAD, POST"),
        (Method::DELETE, "/api/v1/users", "GET, HEAD, POST"),
        (Method::POST, "/api/v1/users/1", "GET, HEAD, PATCH, DELETE"),
        (
            Method::PUT,
            "/api/v1/ai-characters/x",
            "GET, HEAD, PATCH, DELETE",
        ),
        (Method::POST, "/api/v1/chatlogs", "GET, HEAD"),
        (Method::GET, "/api/v1/chat/completions", "POST"),
    ] {
        let response = app.request(method.clone(), path).send().await.unwrap();
        assert_eq!(
            response.headers().get("allow").unwrap(),
            allowed,
            "{method} {path}"
        );
        let (status, error) = send(app.request(method.clone(), path)).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let message = error_message(&error, "invalid_request_error");
        assert!(
            message.contains(method.as_str()) && message.contains(path),
            "{message}"
        );
    }
}

#[actix_web::test]
async fn head_answers_wherever_get_does_with_headers_and_no_body() {
    let app = spawn_app().await;
    app.create_user(&json!({"email": "head@example.com"})).await;
    for (path, with_key, status) in [
        ("/healthz", false, StatusCode::OK),
        ("/", false, StatusCode::OK),
        ("/api/v1/openapi.json", false, StatusCode::OK),
        ("/api/v1/users", true, StatusCode::OK),
        ("/api/v1/users/1", true, StatusCode::OK),
        ("/api/v1/users/999", true, StatusCode::NOT_FOUND),
        ("/api/v1/users", false, StatusCode::UNAUTHORIZED),
        ("/api/v1/models", true, StatusCode::OK),
        ("/admin/login", false, StatusCode::OK),
        ("/static/admin.css", false, StatusCode::OK),
    ] {
        let request = if with_key {
            app.request(Method::HEAD, path)
        } else {
            app.client.request(Method::HEAD, app.url(path))
        };
        let mut head = request.send().await.unwrap();
        assert_eq!(head.status(), status, "HEAD {path}");
        let body = head.body().await.unwrap();
        assert!(body.is_empty(), "HEAD {path} sent a body");
        let get = if with_key {
            app.request(Method::GET, path)
        } else {
            app.client.get(app.url(path))
        };
        let mut get = get.send().await.unwrap();
        let full = get.body().await.unwrap();
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert_eq!(
            head.headers()
                .get("content-length")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some(full.len().to_string()),
            "HEAD {path} announces the GET's length"
        );
    }
}

#[actix_web::test]
async fn bodies_over_one_mebibyte_are_413_and_change_nothing() {
    let app = spawn_app().await;
    let big = json!({"email": "big@example.com", "tags": ["x".repeat(1 << 20)]}).to_string();
    let (status, error) = send_body(app.request(Method::POST, "/api/v1/users"), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    error_message(&error, "request_too_large");
    let (status, error) = send_body(
        app.request(Method::POST, "/api/v1/ai-characters"),
        json!({"title": "t", "instruction": "i".repeat(1 << 20)}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    error_message(&error, "request_too_large");
    let (_, list) = app.get("/api/v1/users").await;
    assert_eq!(list, json!({"data": []}));
}

#[actix_web::test]
async fn malformed_bodies_are_400s() {
    let app = spawn_app().await;
    for body in [
        "",
        "   ",
        "{",
        "not json",
        "[1,2]",
        "\"str\"",
        "null",
        "{\"email\": \"a@b.co\",}",
    ] {
        let (status, error) =
            send_body(app.request(Method::POST, "/api/v1/users"), body.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {error}");
        assert!(error_message(&error, "invalid_request_error").contains("body"));
    }
}

#[actix_web::test]
async fn any_content_type_is_read_as_json() {
    let app = spawn_app().await;
    // What `curl -d` sends when no Content-Type is given.
    let request = app
        .request(Method::POST, "/api/v1/users")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"));
    let (status, user) = send_body(request, r#"{"email":"curl@example.com"}"#.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["email"], "curl@example.com");
}
