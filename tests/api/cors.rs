//! CORS: web pages on the origins `--cors-origins` lists may call the API;
//! without the setting nothing changes. (A real browser calls it in
//! `tests/admin/cors_browser.rs`.)

use actix_web::http::{header, Method, StatusCode};
use mindgate::config::{AppConfig, HttpConfig};
use serde_json::json;

use crate::helpers::{error_message, send, spawn_app, spawn_app_configured, TestApp};

const ALLOWED: &str = "https://chat.example.com";
const OTHER: &str = "https://evil.example.com";

async fn spawn_with_origins(origins: &[&str]) -> TestApp {
    spawn_app_configured(AppConfig {
        http: HttpConfig {
            cors_origins: origins.iter().map(|o| o.to_string()).collect(),
            ..HttpConfig::default()
        },
        ..AppConfig::default()
    })
    .await
}

/// The preflight a browser sends before a JSON POST with a key.
fn preflight(app: &TestApp, path: &str, origin: &str) -> awc::ClientRequest {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .insert_header((header::ORIGIN, origin))
        .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "POST"))
        .insert_header((
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type, x-api-key, x-user-email",
        ))
}

fn allowed_origin(response: &awc::ClientResponse<impl Sized>) -> Option<&str> {
    response
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().unwrap())
}

fn has_cors_headers(response: &awc::ClientResponse<impl Sized>) -> bool {
    response
        .headers()
        .keys()
        .any(|name| name.as_str().starts_with("access-control-"))
}

#[actix_web::test]
async fn without_the_setting_there_is_no_cors() {
    let app = spawn_app().await;
    // A preflight is a request like any other: it has no key.
    let response = preflight(&app, "/api/v1/users", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!has_cors_headers(&response));
    let (status, error) = send(preflight(&app, "/api/v1/users", ALLOWED)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    error_message(&error, "authentication_error");

    let response = app
        .request(Method::GET, "/api/v1/users")
        .insert_header((header::ORIGIN, ALLOWED))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!has_cors_headers(&response));
    assert!(response.headers().get(header::VARY).is_none());
}

#[actix_web::test]
async fn preflights_from_a_listed_origin_are_answered_without_a_key() {
    let app = spawn_with_origins(&[ALLOWED, "http://127.0.0.1:3000"]).await;
    for path in [
        "/api/v1/users",
        "/api/v1/chat/completions",
        "/api/v1/users/1",
    ] {
        let response = preflight(&app, path, ALLOWED).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(allowed_origin(&response), Some(ALLOWED), "{path}");
        let headers = response.headers();
        let methods = headers
            .get(header::ACCESS_CONTROL_ALLOW_METHODS)
            .unwrap()
            .to_str()
            .unwrap();
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            assert!(methods.contains(method), "{methods}");
        }
        let allowed = headers
            .get(header::ACCESS_CONTROL_ALLOW_HEADERS)
            .unwrap()
            .to_str()
            .unwrap();
        for name in ["content-type", "x-api-key", "x-user-email"] {
            assert!(allowed.contains(name), "{allowed}");
        }
        assert!(headers.get(header::ACCESS_CONTROL_MAX_AGE).is_some());
        assert!(headers
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none());
    }
    // Every listed origin is allowed, and only it.
    let response = preflight(&app, "/api/v1/users", "http://127.0.0.1:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed_origin(&response), Some("http://127.0.0.1:3000"));
}

#[actix_web::test]
async fn preflights_from_other_origins_are_refused_in_json() {
    let app = spawn_with_origins(&[ALLOWED]).await;
    for origin in [
        OTHER,
        "http://chat.example.com",
        "https://chat.example.com:8443",
    ] {
        let response = preflight(&app, "/api/v1/users", origin)
            .send()
            .await
            .unwrap();
        assert!(allowed_origin(&response).is_none(), "{origin}");
        let (status, error) = send(preflight(&app, "/api/v1/users", origin)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin}");
        let message = error_message(&error, "permission_error");
        assert!(message.contains(origin), "{message}");
    }
    // A method the API never takes.
    let (status, error) = send(
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/users"))
            .insert_header((header::ORIGIN, ALLOWED))
            .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "TRACE")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    error_message(&error, "invalid_request_error");
}

#[actix_web::test]
async fn api_responses_carry_cors_headers_for_listed_origins_only() {
    let app = spawn_with_origins(&[ALLOWED]).await;
    let with_origin = |method: Method, path: &str, origin: &str| {
        app.request(method, path)
            .insert_header((header::ORIGIN, origin))
    };

    let response = with_origin(Method::GET, "/api/v1/users", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(allowed_origin(&response), Some(ALLOWED));
    let vary = response.headers().get(header::VARY).unwrap();
    assert!(vary.to_str().unwrap().contains("Origin"), "{vary:?}");
    let exposed = response
        .headers()
        .get(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(exposed.contains("retry-after"), "{exposed}");

    // Errors too: a missing key, an unknown route, a bad body.
    let response = app
        .client
        .get(app.url("/api/v1/users"))
        .insert_header((header::ORIGIN, ALLOWED))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(allowed_origin(&response), Some(ALLOWED));
    let response = with_origin(Method::GET, "/api/v1/nothing", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(allowed_origin(&response), Some(ALLOWED));
    let response = with_origin(Method::POST, "/api/v1/users", ALLOWED)
        .send_body("[]")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(allowed_origin(&response), Some(ALLOWED));

    // A stream.
    let response = with_origin(Method::POST, "/api/v1/chat/completions", ALLOWED)
        .send_body(
            json!({"model": "echo", "stream": true,
                   "messages": [{"role": "user", "content": "hi there"}]})
            .to_string(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(header::CONTENT_TYPE).unwrap(),
        "text/event-stream"
    );
    assert_eq!(allowed_origin(&response), Some(ALLOWED));

    // Another origin is answered (the browser, not the server, enforces
    // CORS) but given no permission.
    let response = with_origin(Method::GET, "/api/v1/users", OTHER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(allowed_origin(&response).is_none());
}

#[actix_web::test]
async fn a_wildcard_allows_every_origin() {
    let app = spawn_with_origins(&["*"]).await;
    let response = preflight(&app, "/api/v1/users", OTHER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(allowed_origin(&response), Some("*"));
    let response = app
        .request(Method::GET, "/api/v1/users")
        .insert_header((header::ORIGIN, OTHER))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed_origin(&response), Some("*"));
}

#[actix_web::test]
async fn the_admin_and_the_rest_never_get_cors() {
    let app = spawn_with_origins(&[ALLOWED]).await;
    for path in ["/admin/login", "/admin", "/healthz", "/"] {
        let response = app
            .client
            .get(app.url(path))
            .insert_header((header::ORIGIN, ALLOWED))
            .send()
            .await
            .unwrap();
        assert!(!has_cors_headers(&response), "GET {path}");
        // Not followed: a stranger's redirect to the login page is no answer.
        let response = awc::Client::builder()
            .disable_redirects()
            .finish()
            .request(Method::OPTIONS, app.url(path))
            .insert_header((header::ORIGIN, ALLOWED))
            .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "POST"))
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), StatusCode::OK, "OPTIONS {path}");
        assert!(!has_cors_headers(&response), "OPTIONS {path}");
    }
}
