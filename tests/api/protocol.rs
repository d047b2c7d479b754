//! Malformed requests: what actix-http refuses itself, before mindgate sees
//! anything (a bare status, no body, the connection closed; the README
//! lists them), and where mindgate's own JSON errors begin.

use std::time::Duration;

use crate::helpers::{error_message, spawn_app};
use crate::raw::{exchange, read_bytes_until_closed, send_raw};

const PATIENCE: Duration = Duration::from_secs(30);

#[actix_web::test]
async fn requests_too_malformed_for_the_app_get_a_bare_status_and_a_closed_connection() {
    let app = spawn_app().await;
    let host = "Host: localhost\r\n";
    let key = format!("X-API-KEY: {}\r\n", app.api_key);
    let post = format!("POST /api/v1/users HTTP/1.1\r\n{host}{key}");
    let many_headers: String = (0..100).map(|i| format!("X-Header-{i}: 1\r\n")).collect();
    for (what, request, status) in [
        (
            "a 100 KB query string",
            format!(
                "GET /api/v1/users?email={} HTTP/1.1\r\n{host}{key}\r\n",
                "a".repeat(100_000)
            ),
            400,
        ),
        (
            "Content-Length and Transfer-Encoding",
            format!("{post}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400,
        ),
        (
            "two Content-Lengths",
            format!("{post}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}"),
            400,
        ),
        (
            "a Content-Length that is no number",
            format!("{post}Content-Length: two\r\n\r\n{{}}"),
            400,
        ),
        (
            "a Transfer-Encoding other than chunked",
            format!("{post}Transfer-Encoding: gzip\r\n\r\n"),
            400,
        ),
        ("no Host", "GET /healthz HTTP/1.1\r\n\r\n".to_owned(), 400),
        (
            "a control character in a header",
            format!("GET /healthz HTTP/1.1\r\n{host}X-Note: a\x01b\r\n\r\n"),
            400,
        ),
        (
            "a space in the path",
            format!("GET /api/v1/us ers HTTP/1.1\r\n{host}\r\n"),
            400,
        ),
        (
            "more than 96 headers",
            format!("GET /healthz HTTP/1.1\r\n{host}{many_headers}\r\n"),
            431,
        ),
    ] {
        let response = exchange(&app, request.as_bytes(), PATIENCE).await;
        assert_eq!(response.status, status, "{what}: {response:?}");
        assert!(response.body.is_empty(), "{what}: {response:?}");
        assert!(response.closed, "{what}: the connection stayed open");
    }

    // A chunked body that breaks its framing while the API reads it: the
    // connection is dropped without an answer.
    let mut stream = send_raw(
        &app,
        format!("{post}Transfer-Encoding: chunked\r\n\r\n3\r\n{{\"e\r\nzz\r\n").as_bytes(),
    )
    .await;
    let (received, closed) = read_bytes_until_closed(&mut stream, PATIENCE).await;
    assert!(closed && received.is_empty(), "{received:?}");
}

#[actix_web::test]
async fn a_long_query_string_that_reaches_the_app_gets_a_json_error() {
    let app = spawn_app().await;
    // Under the 64 KiB a URI may have, the API sees the request.
    let request = format!(
        "GET /api/v1/users?limit={} HTTP/1.1\r\nHost: localhost\r\nX-API-KEY: {}\r\nConnection: close\r\n\r\n",
        "9".repeat(60_000),
        app.api_key
    );
    let response = exchange(&app, request.as_bytes(), PATIENCE).await;
    assert_eq!(response.status, 400, "{response:?}");
    let message = error_message(&response.json(), "invalid_request_error");
    assert!(message.contains("`limit` must be an integer"), "{message}");
}
