//! Usage limits over HTTP: members and pools, each metric and window, the
//! 429 and its `Retry-After`, exact admission of concurrent requests,
//! nothing upstream for a refusal (which the usage rollups count), and a
//! policy edit taking effect on the next request.

use std::time::Duration;

use actix_web::http::StatusCode;
use futures_util::future::join_all;
use serde_json::json;

use super::*;
use crate::gateway::costs::set_price;
use crate::gateway::{hello, spawn_gateway, streamed};
use crate::mock_upstream::{COMPLETION_TOKENS, PROMPT_TOKENS};

/// `max` requests a day for each member of `tag` or for the group.
fn requests_a_day(max: i64, per: &str) -> serde_json::Value {
    json!({ "limits": [{ "metric": "requests", "window": "day", "max": max, "per": per }] })
}

#[actix_web::test]
async fn each_member_has_their_own_allowance_and_a_group_shares_one_pool() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let (_, ann) = add_user(app, "ann@example.com", &["team"]).await;
    let (_, ben) = add_user(app, "ben@example.com", &["team"]).await;
    let (_, cat) = add_user(app, "cat@example.com", &["pool"]).await;
    let (_, dan) = add_user(app, "dan@example.com", &["pool", "team"]).await;
    app.put_policy("tag:team", &requests_a_day(5, "member"))
        .await;
    app.put_policy("tag:pool", &requests_a_day(5, "group"))
        .await;
    // (caller, tries, admitted), in turn.
    let steps = [
        (&ann, 6, 5),
        (&ben, 6, 5),
        (&cat, 3, 3),
        // Dan's pool has 2 left, and his own team allowance 5.
        (&dan, 3, 2),
        (&cat, 1, 0),
    ];
    let mut sent = 0;
    for (caller, tries, expected) in steps {
        let got = admitted(app, caller, "gpt-4o", tries).await;
        assert_eq!(got, expected, "{:?}", caller.email);
        sent += expected;
    }
    assert_eq!(
        gw.mock.received().len(),
        sent,
        "only the admitted went upstream"
    );
}

#[actix_web::test]
async fn requests_tokens_and_cost_each_count_what_they_say() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    // 11 prompt and 3 completion tokens an answer, at $10,000 a million
    // tokens either way: $0.14.
    set_price(app, "gpt-4o", json!({ "input": 10000, "output": 10000 })).await;
    assert_eq!(PROMPT_TOKENS + COMPLETION_TOKENS, 14);
    // (metric, max, admitted, the limit as the refusal words it)
    let cases = [
        ("requests", json!(2), 2, "2 requests a day per member"),
        // 0, 14, 28 used before each of three; 42 before the fourth.
        ("tokens", json!(30), 3, "30 tokens a day per member"),
        ("tokens", json!(28), 2, "28 tokens a day per member"),
        // $0, 0.14, 0.28, 0.42 before each of four.
        ("costUsd", json!(0.5), 4, "$0.50 a day per member"),
    ];
    let tomorrow = window_end("day", now_ms());
    for (i, (metric, max, expected, words)) in cases.into_iter().enumerate() {
        let case = format!("{max} {metric}");
        let tag = format!("m{i}");
        let (id, caller) = add_user(app, &format!("m{i}@example.com"), &[&tag]).await;
        app.put_policy(
            &format!("tag:{tag}"),
            &json!({ "limits": [{ "metric": metric, "window": "day", "max": max }] }),
        )
        .await;
        assert_eq!(
            admitted(app, &caller, "gpt-4o", 6).await,
            expected,
            "{case}"
        );
        let answer = chat(app, &caller, &hello("gpt-4o")).await;
        assert_eq!(
            answer.body,
            limited(&format!(
                "limit reached: tag {tag} allows {words}; it resets at {}",
                iso(tomorrow)
            )),
            "{case}"
        );
        let (_, limits) = app.get(&format!("/api/v1/users/{id}/limits")).await;
        let used = &limits["limits"][0]["used"];
        let spent = i64::try_from(expected).unwrap();
        match metric {
            "requests" => assert_eq!(used, &json!(spent), "{case}"),
            "tokens" => assert_eq!(used, &json!(14 * spent), "{case}"),
            // In USD, as `max` is.
            _ => assert_eq!(
                used.as_f64().map(|usd| (usd * 1e6).round() as i64),
                Some(140_000 * spent),
                "{case}"
            ),
        }
    }
}

#[actix_web::test]
async fn a_limit_reached_says_when_its_window_ends_and_retry_after_agrees() {
    clear_of_minute_end().await;
    let gw = spawn_gateway().await;
    let app = &gw.app;
    for window in ["minute", "hour", "day", "week", "month"] {
        let (id, caller) = add_user(app, &format!("{window}@example.com"), &[window]).await;
        app.put_policy(
            &format!("tag:{window}"),
            &json!({ "limits": [{ "metric": "requests", "window": window, "max": 1 }] }),
        )
        .await;
        assert_eq!(status(app, &caller, "gpt-4o").await, StatusCode::OK);
        let asked = now_ms();
        let answer = chat(app, &caller, &hello("gpt-4o")).await;
        let answered = now_ms();
        let end = window_end(window, asked);
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{window}");
        assert_eq!(
            answer.body,
            limited(&format!(
                "limit reached: tag {window} allows 1 request a{} {window} per member; it resets at {}",
                if window == "hour" { "n" } else { "" },
                iso(end)
            )),
            "{window}"
        );
        // Whole seconds until the window ends, rounded up, from when the
        // server decided.
        let retry_after = i64::try_from(answer.retry_after.expect("Retry-After")).unwrap();
        let seconds = |from: i64| (end - from + 999) / 1000;
        assert!(
            (seconds(answered)..=seconds(asked)).contains(&retry_after),
            "{window}: Retry-After {retry_after}, ends in {} s",
            seconds(asked)
        );
        let (_, limits) = app.get(&format!("/api/v1/users/{id}/limits")).await;
        assert_eq!(limits["limits"][0]["resetsAt"], json!(iso(end)), "{window}");
        assert_eq!(limits["limits"][0]["used"], json!(1), "{window}");
    }
}

#[actix_web::test]
async fn a_hundred_requests_at_once_against_a_limit_of_ten_admit_exactly_ten() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let (id, caller) = add_user(app, "burst@example.com", &["burst"]).await;
    app.put_policy("tag:burst", &requests_a_day(10, "group"))
        .await;
    // Every request on its own connection, none queued in the client.
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(0))
        .timeout(Duration::from_secs(60))
        .finish();
    let body = hello("gpt-4o").to_string();
    let statuses = join_all((0..100).map(|_| {
        let request = client
            .post(app.url("/api/v1/chat/completions"))
            .insert_header(("X-API-KEY", caller.key.as_str()))
            .insert_header(("X-User-Email", "burst@example.com"))
            .insert_header(("content-type", "application/json"))
            .send_body(body.clone());
        async move {
            let mut response = request.await.expect("request failed");
            let _ = response.body().await;
            response.status()
        }
    }))
    .await;
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(count(StatusCode::OK), 10);
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 90);
    assert_eq!(gw.mock.received().len(), 10, "the mock saw exactly ten");
    wait_refused(app, id, 90).await;
    let (_, limits) = app.get(&format!("/api/v1/users/{id}/limits")).await;
    assert_eq!(limits["limits"][0]["used"], json!(10));
}

#[actix_web::test]
async fn a_refused_request_goes_nowhere_upstream_and_is_counted_as_refused() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let (id, caller) = add_user(app, "ann@example.com", &["interns"]).await;
    app.put_policy(
        "tag:interns",
        &json!({ "models": ["gpt-4o-mini"], "limits": [{ "metric": "requests", "window": "day", "max": 1 }] }),
    )
    .await;
    assert_eq!(status(app, &caller, "gpt-4o-mini").await, StatusCode::OK);
    let reset = iso(window_end("day", now_ms()));
    let over = format!(
        "limit reached: tag interns allows 1 request a day per member; it resets at {reset}"
    );
    let closed = "model `gpt-4o` is not open to this user's tags: interns; open: gpt-4o-mini";
    // (request, status, body): whole or streamed, the refusal is JSON.
    let cases = [
        (
            hello("gpt-4o-mini"),
            StatusCode::TOO_MANY_REQUESTS,
            limited(&over),
        ),
        (
            streamed(hello("gpt-4o-mini")),
            StatusCode::TOO_MANY_REQUESTS,
            limited(&over),
        ),
        (
            hello("gpt-4o"),
            StatusCode::FORBIDDEN,
            not_open(closed, "model"),
        ),
        (
            streamed(hello("gpt-4o")),
            StatusCode::FORBIDDEN,
            not_open(closed, "model"),
        ),
    ];
    for (request, expected, body) in &cases {
        let answer = chat(app, &caller, request).await;
        assert_eq!(
            (answer.status, &answer.body),
            (*expected, body),
            "{request}"
        );
        assert_eq!(
            answer.retry_after.is_some(),
            *expected == StatusCode::TOO_MANY_REQUESTS,
            "{request}"
        );
    }
    assert_eq!(gw.mock.received().len(), 1, "only the first went upstream");
    wait_refused(app, id, 4).await;
    // Neither a chat log nor a request: the one admitted is all there is.
    let requests =
        format!("SELECT IFNULL(SUM(requests), 0) FROM usage_rollups WHERE user_id = {id}");
    wait_for_count(app, &requests, 1).await;
    wait_for_count(app, "SELECT count(*) FROM chat_logs", 1).await;
}

#[actix_web::test]
async fn a_policy_edit_takes_effect_on_the_very_next_request() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let (_, caller) = add_user(app, "ann@example.com", &["staff"]).await;
    app.put_policy("tag:staff", &requests_a_day(1, "member"))
        .await;
    assert_eq!(status(app, &caller, "gpt-4o").await, StatusCode::OK);
    assert_eq!(
        status(app, &caller, "gpt-4o").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A higher limit counts what was used: one more.
    app.put_policy("tag:staff", &requests_a_day(2, "member"))
        .await;
    assert_eq!(status(app, &caller, "gpt-4o").await, StatusCode::OK);
    assert_eq!(
        status(app, &caller, "gpt-4o").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.put_policy("tag:staff", &json!({ "models": ["gpt-4o-mini"] }))
        .await;
    assert_eq!(status(app, &caller, "gpt-4o").await, StatusCode::FORBIDDEN);
    assert_eq!(status(app, &caller, "gpt-4o-mini").await, StatusCode::OK);
    // An empty policy removes it.
    app.put_policy("tag:staff", &json!({})).await;
    assert_eq!(status(app, &caller, "gpt-4o").await, StatusCode::OK);
}
