//! Request bodies that never finish: each has a deadline, after which the
//! request is answered 408 and its connection closed; a request without a
//! valid key is refused before its body is read.

use std::time::Duration;

use actix_web::http::StatusCode;
use mindgate::config::{AppConfig, HttpConfig};
use serde_json::json;

use crate::helpers::{error_message, spawn_app_configured, TestApp};
use crate::raw::{exchange, read_until_closed, send_raw};

/// Bounds a hang; nothing here waits this long when the server is right.
const PATIENCE: Duration = Duration::from_secs(30);

async fn spawn_with_body_timeout(timeout: Duration, min_rate: u64) -> TestApp {
    spawn_app_configured(AppConfig {
        http: HttpConfig {
            body_timeout: timeout,
            body_min_rate: min_rate,
            cors_origins: vec![WEB_APP.to_owned()],
            ..HttpConfig::default()
        },
        ..AppConfig::default()
    })
    .await
}

/// A web page allowed to call the API: its 408s must reach it too.
const WEB_APP: &str = "https://chat.example.com";

/// A sign-in form whose CSRF token (double submit) is in the body still to come.
const LOGIN_FORM: &str =
    "Cookie: mg_csrf=abcdefgh\r\nContent-Type: application/x-www-form-urlencoded\r\n";

/// The head of `POST path`, announcing a body of 1000 bytes, then 10 of them.
fn unfinished_post(path: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\n{extra_headers}Content-Length: 1000\r\n\r\n0123456789"
    )
    .into_bytes()
}

#[actix_web::test]
async fn an_unfinished_body_is_answered_408_and_its_connection_closed() {
    let app = spawn_with_body_timeout(Duration::from_secs(1), 1024).await;
    let key = format!("X-API-KEY: {}\r\nOrigin: {WEB_APP}\r\n", app.api_key);
    let chunked = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: localhost\r\n{key}Transfer-Encoding: chunked\r\n\r\n5\r\n{{\"ema\r\n"
    );
    for (what, request) in [
        ("users", unfinished_post("/api/v1/users", &key)),
        ("chunked users", chunked.into_bytes()),
        (
            "chat completions",
            unfinished_post("/api/v1/chat/completions", &key),
        ),
        ("admin login", unfinished_post("/admin/login", LOGIN_FORM)),
    ] {
        let response = exchange(&app, &request, PATIENCE).await;
        assert_eq!(response.status, 408, "{what}: {response:?}");
        assert!(response.closed, "{what}: the connection stayed open");
        assert_eq!(response.header("connection"), Some("close"), "{what}");
        let message = error_message(&response.json(), "request_timeout");
        assert!(message.contains("did not arrive in time"), "{message}");
        if what != "admin login" {
            assert_eq!(
                response.header("access-control-allow-origin"),
                Some(WEB_APP),
                "{what}"
            );
        }
    }
    // Nothing was half-done with what did arrive.
    let (status, users) = app.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users["data"], json!([]));
}

#[actix_web::test]
async fn a_body_that_keeps_the_minimum_rate_may_take_longer_than_the_timeout() {
    // 1 s, plus 1 s for every 100 bytes: 600 bytes sent 100 at a time every
    // 300 ms take 1.8 s and earn 6 s more.
    let app = spawn_with_body_timeout(Duration::from_secs(1), 100).await;
    let email = format!("{}@example.com", "a".repeat(570));
    let body = json!({ "email": email }).to_string();
    let mut stream = send_raw(
        &app,
        format!(
            "POST /api/v1/users HTTP/1.1\r\nHost: localhost\r\nX-API-KEY: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            app.api_key,
            body.len()
        )
        .as_bytes(),
    )
    .await;
    for piece in body.as_bytes().chunks(100) {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        tokio::io::AsyncWriteExt::write_all(&mut stream, piece)
            .await
            .unwrap();
    }
    let response = read_until_closed(&mut stream, PATIENCE).await;
    // The email is too long to be valid: what matters is that it was read.
    assert_eq!(response.status, 400, "{response:?}");
    let message = error_message(&response.json(), "invalid_request_error");
    assert!(message.contains("email"), "{message}");
}

#[actix_web::test]
async fn a_request_without_a_valid_key_is_refused_before_its_body_and_the_connection_closed() {
    // A deadline far away: the 401 cannot be its doing.
    let app = spawn_with_body_timeout(Duration::from_secs(600), 1024).await;
    let head = "POST /api/v1/users HTTP/1.1\r\nHost: localhost\r\nX-API-KEY: mg_wrong\r\n";
    for (what, request) in [
        (
            "a million bytes announced",
            format!("{head}Content-Length: 1000000\r\n\r\n{{\"email\""),
        ),
        (
            "a chunked body",
            format!("{head}Transfer-Encoding: chunked\r\n\r\n8\r\n{{\"email\"\r\n"),
        ),
    ] {
        let response = exchange(&app, request.as_bytes(), PATIENCE).await;
        assert_eq!(response.status, 401, "{what}: {response:?}");
        assert!(response.closed, "{what}: the connection waits for the body");
        error_message(&response.json(), "authentication_error");
    }
}

/// Raises this process's soft limit on open files to its hard limit; the
/// server runs in this process, so both ends of each connection count.
fn raise_open_files_limit(needed: libc::rlim_t) -> bool {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    if limit.rlim_cur < needed {
        eprintln!(
            "\n\n!!!!!!!! SKIPPING: {needed} open files needed, the hard limit is {}. \
             Raise it (ulimit -Hn) to run this test. !!!!!!!!\n\n",
            limit.rlim_cur
        );
        return false;
    }
    true
}

#[actix_web::test]
async fn a_thousand_held_bodies_leave_the_server_reachable_and_are_all_cut_off() {
    const HELD: usize = 1100;
    if !raise_open_files_limit(2 * HELD as libc::rlim_t + 200) {
        return;
    }
    let app = spawn_with_body_timeout(Duration::from_secs(5), 1024).await;
    let key = format!("X-API-KEY: {}\r\n", app.api_key);
    let mut held = Vec::with_capacity(HELD);
    for i in 0..HELD {
        let request = if i % 2 == 0 {
            unfinished_post("/api/v1/users", &key)
        } else {
            unfinished_post("/admin/login", LOGIN_FORM)
        };
        held.push(send_raw(&app, &request).await);
    }

    let (status, health) = crate::helpers::send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(status, StatusCode::OK, "{health}");

    for (i, stream) in held.iter_mut().enumerate() {
        let response = read_until_closed(stream, Duration::from_secs(120)).await;
        assert_eq!(response.status, 408, "connection {i}: {response:?}");
        assert!(response.closed, "connection {i} stayed open");
    }
    let (status, _) = crate::helpers::send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
}
