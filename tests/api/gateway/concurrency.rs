//! Many chats at once: each reaches its upstream at once, none waits in
//! mindgate for another to end.

use std::iter::repeat_n;
use std::time::Duration;

use actix_web::http::StatusCode;
use futures_util::future::join_all;
use serde_json::Value;

use super::*;
use crate::mock_upstream::{Fault, REPLY};

/// Workers of a test server: actix's default, one per core.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Sends `count` completions at once, on as many connections, and checks
/// that each got the mock's reply.
async fn complete_at_once(gw: &Gateway, count: usize) {
    // The test's own client must not queue them either (awc's default
    // allows 100 connections).
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(0))
        .timeout(Duration::from_secs(60))
        .finish();
    let url = gw.app.url("/api/v1/chat/completions");
    let body = hello("gpt-4o").to_string();
    let answers = join_all((0..count).map(|_| {
        let request = client
            .post(&url)
            .insert_header(("x-api-key", gw.app.api_key.as_str()))
            .insert_header(("content-type", "application/json"))
            .send_body(body.clone());
        async move {
            let mut response = request.await.expect("request failed");
            let answer: Value = response.json().await.expect("a JSON answer");
            (response.status(), answer)
        }
    }))
    .await;
    for (status, answer) in answers {
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["choices"][0]["message"]["content"], REPLY);
    }
}

/// Holds each of the next `count` answers until `count` requests are at
/// the mock at once, or for `at_most`.
fn hold(gw: &Gateway, count: usize, at_most: Duration) {
    gw.mock.fail_with(repeat_n(
        Fault::HoldForCompany {
            in_flight: count,
            at_most,
        },
        count,
    ));
}

#[actix_web::test]
async fn hundreds_of_chats_reach_the_upstream_at_once_on_kept_alive_connections() {
    // Each chat holds four descriptors of this process: the test's socket,
    // mindgate's two and the mock's.
    mindgate::startup::raise_open_files_limit().expect("raise the open files limit");
    let gw = spawn_gateway_with(|config| config.first_byte_timeout = Duration::from_secs(60)).await;
    // More than awc's default pool (100 connections a worker) let through.
    let count = 300.max(100 * workers() + 100);
    hold(&gw, count, Duration::from_secs(10));
    complete_at_once(&gw, count).await;
    assert_eq!(
        gw.mock.peak_in_flight(),
        count,
        "every chat was at the upstream at once"
    );
    assert_eq!(gw.mock.connections(), count, "one connection per chat");

    // Again: the connections are kept alive, and reused.
    hold(&gw, count, Duration::from_secs(10));
    complete_at_once(&gw, count).await;
    assert_eq!(gw.mock.connections(), count, "no new upstream connection");
}

#[actix_web::test]
async fn max_upstream_connections_caps_each_worker() {
    let cap = 2;
    let gw = spawn_gateway_with(|config| {
        config.max_upstream_connections = cap;
        config.first_byte_timeout = Duration::from_secs(60);
    })
    .await;
    let count = cap * workers() + 4;
    hold(&gw, count, Duration::from_millis(300));
    complete_at_once(&gw, count).await;
    let peak = gw.mock.peak_in_flight();
    assert!(
        (cap..=cap * workers()).contains(&peak),
        "{peak} at once, for at most {cap} on each of {} workers",
        workers()
    );
}
