//! Governance end to end: policies set through `PUT /policies/{scope}`,
//! completions through the gateway to the mock upstream, each by a caller
//! named by its API key and `X-User-Email`. How windows turn, with a
//! clock of their own, is in the governor's tests (`src/governance`).

mod access;
mod limits;
mod restart;
mod story;

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use jiff::tz::TimeZone;
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// Who calls: an API key, and the user its `X-User-Email` names.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: String,
    pub email: Option<String>,
}

impl Caller {
    /// The test's key, naming no user.
    pub fn anonymous(app: &TestApp) -> Caller {
        Caller {
            key: app.api_key.clone(),
            email: None,
        }
    }

    /// The test's key, naming `email`.
    pub fn user(app: &TestApp, email: &str) -> Caller {
        Caller {
            email: Some(email.to_owned()),
            ..Caller::anonymous(app)
        }
    }

    /// The same user through another key.
    pub fn through(&self, key: &str) -> Caller {
        Caller {
            key: key.to_owned(),
            ..self.clone()
        }
    }
}

/// A completion's answer: status, `Retry-After` and body (a stream's
/// text as a JSON string).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<u64>,
    pub body: Value,
}

/// Creates a user with `tags` through the API: its id, and the caller
/// naming it with the test's key.
pub async fn add_user(app: &TestApp, email: &str, tags: &[&str]) -> (i64, Caller) {
    let user = app
        .create_user(&json!({ "email": email, "tags": tags }))
        .await;
    let id = user["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id: {user}"));
    (id, Caller::user(app, email))
}

pub async fn chat(app: &TestApp, caller: &Caller, body: &Value) -> Answer {
    let mut request = app
        .client
        .post(app.url("/api/v1/chat/completions"))
        .insert_header(("X-API-KEY", caller.key.as_str()))
        .insert_header(("content-type", "application/json"));
    if let Some(email) = &caller.email {
        request = request.insert_header(("X-User-Email", email.as_str()));
    }
    let mut response = request
        .send_body(body.to_string())
        .await
        .expect("request failed");
    let retry_after = response.headers().get("retry-after").map(|v| {
        v.to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("Retry-After is not whole seconds: {v:?}"))
    });
    let bytes = response.body().limit(16 << 20).await.expect("read body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status: response.status(),
        retry_after,
        body,
    }
}

/// A completion of `model` by `caller`; its status.
pub async fn status(app: &TestApp, caller: &Caller, model: &str) -> StatusCode {
    chat(app, caller, &crate::gateway::hello(model))
        .await
        .status
}

/// How many of `tries` completions of `model` in turn got a 200; every
/// other must be a 429.
pub async fn admitted(app: &TestApp, caller: &Caller, model: &str, tries: usize) -> usize {
    let mut admitted = 0;
    for _ in 0..tries {
        let answer = chat(app, caller, &crate::gateway::hello(model)).await;
        match answer.status {
            StatusCode::OK => admitted += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}: {}", answer.body),
        }
    }
    admitted
}

/// A 403 body, as the API sends it.
pub fn not_open(message: &str, param: &str) -> Value {
    json!({ "error": { "message": message, "type": "permission_error", "param": param } })
}

/// A 429 body, as the API sends it: no `param`.
pub fn limited(message: &str) -> Value {
    json!({ "error": { "message": message, "type": "rate_limit_error" } })
}

/// Waits (up to 5 s) until `sql` counts `expected`.
pub async fn wait_for_count(app: &TestApp, sql: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let count = app.count(sql);
        if count == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: {count}, not {expected}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the usage rollups hold `expected` refused requests of
/// user `id`.
pub async fn wait_refused(app: &TestApp, id: i64, expected: i64) {
    let sql = format!("SELECT IFNULL(SUM(refused), 0) FROM usage_rollups WHERE user_id = {id}");
    wait_for_count(app, &sql, expected).await;
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

const DAY_MS: i64 = 86_400_000;

/// Where the UTC window of kind `window` that holds `now` ends, worked
/// out apart from mindgate's own code.
pub fn window_end(window: &str, now: i64) -> i64 {
    let next = |size: i64| (now.div_euclid(size) + 1) * size;
    match window {
        "minute" => next(60_000),
        "hour" => next(3_600_000),
        "day" => next(DAY_MS),
        "week" => {
            // 1970-01-01 was a Thursday: three days after a Monday.
            let day = now.div_euclid(DAY_MS);
            let monday = day - (day + 3).rem_euclid(7);
            (monday + 7) * DAY_MS
        }
        "month" => {
            let today = jiff::Timestamp::from_millisecond(now)
                .unwrap()
                .to_zoned_datetime(TimeZone::UTC)
                .date();
            today
                .first_of_month()
                .checked_add(jiff::Span::new().months(1))
                .unwrap()
                .to_zoned_datetime(TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_millisecond()
        }
        other => panic!("no window {other}"),
    }
}

/// `2026-03-30T00:00:00.000Z`, as mindgate writes times.
pub fn iso(ms: i64) -> String {
    mindgate::domain::Timestamp(ms).to_iso()
}

/// Waits, when a minute is about to end, until the next one has begun:
/// so that a test's requests all fall in one minute window.
pub async fn clear_of_minute_end() {
    let left = 60_000 - now_ms().rem_euclid(60_000);
    if left < 5_000 {
        actix_web::rt::time::sleep(Duration::from_millis(u64::try_from(left).unwrap() + 50)).await;
    }
}
