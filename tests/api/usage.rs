//! `GET /api/v1/usage`: the daily rollups, grouped, filtered and totalled,
//! checked against chat logs seeded with known tokens and costs.

use actix_web::http::{Method, StatusCode};
use mindgate::db::chat_logs::{ChatStatus, NewChatLog};
use mindgate::db::StoreError;
use mindgate::domain::{ApiKeyId, Micros, Timestamp, UserId};
use serde_json::{json, Value};

use crate::helpers::{chat_log, error_message, send_body, spawn_app, TestApp};

const DAY_MS: i64 = 86_400_000;
/// 2024-08-01T00:00:00Z
const AUG_1: i64 = 1_722_470_400_000;

struct Seeded {
    app: TestApp,
    bob: String,
}

/// Ann (tags team-a and vip) and Bob (team-b) chat in August 2024 with the
/// test key, someone with no user and no key asks `echo`, and Ann chats
/// again in September.
async fn seeded() -> Seeded {
    let app = spawn_app().await;
    let ann = app
        .create_user(&json!({"email": "ann@example.com", "tags": ["team-a", "vip"]}))
        .await;
    let bob = app
        .create_user(&json!({"email": "bob@example.com", "tags": ["team-b"]}))
        .await;
    let id = |user: &Value| Some(UserId(user["id"].as_str().unwrap().parse().unwrap()));
    let key = Some(ApiKeyId(1));
    let at = |day: i64| Timestamp(AUG_1 + day * DAY_MS + 3_600_000);
    let logs = vec![
        NewChatLog {
            user_id: id(&ann),
            api_key_id: key,
            prompt_tokens: Some(100),
            completion_tokens: Some(23),
            cost: Some(Micros(10)),
            ..chat_log("a1", at(0))
        },
        NewChatLog {
            user_id: id(&ann),
            api_key_id: key,
            model: Some("claude-2".into()),
            provider: Some("anthropic".into()),
            prompt_tokens: Some(50),
            completion_tokens: Some(5),
            cache_read_tokens: 7,
            cache_write_tokens: 3,
            cost: Some(Micros(20)),
            status: ChatStatus::Error,
            ..chat_log("a2", at(1))
        },
        NewChatLog {
            user_id: id(&bob),
            api_key_id: key,
            prompt_tokens: Some(10),
            completion_tokens: Some(1),
            cost: Some(Micros(30)),
            ..chat_log("b1", at(1))
        },
        NewChatLog {
            model: Some("echo".into()),
            provider: None,
            prompt_tokens: Some(4),
            completion_tokens: Some(4),
            usage_estimated: true,
            status: ChatStatus::Cancelled,
            ..chat_log("anon", at(0))
        },
        NewChatLog {
            user_id: id(&ann),
            api_key_id: key,
            prompt_tokens: Some(1000),
            completion_tokens: Some(1000),
            cost: Some(Micros(1000)),
            ..chat_log("september", at(31))
        },
    ];
    app.record_chats(&logs);
    Seeded {
        app,
        bob: bob["id"].as_str().unwrap().to_owned(),
    }
}

async fn usage(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/usage?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

const AUGUST: &str = "start=2024-08-01&end=2024-08-31";

/// `(key, requests)` of each row: the row's keys joined by `|`.
fn requests_by(body: &Value, keys: &[&str]) -> Vec<(String, i64)> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let key: Vec<String> = keys
                .iter()
                .map(|k| match &row[*k] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            (key.join("|"), row["requests"].as_i64().unwrap())
        })
        .collect()
}

#[actix_web::test]
async fn the_total_adds_up_every_request_of_the_days_asked() {
    let s = seeded().await;
    let body = usage(&s.app, AUGUST).await;
    let total = json!({"requests": 4, "errors": 1, "inputTokens": 164, "outputTokens": 33,
                       "cacheReadTokens": 7, "cacheWriteTokens": 3, "costUsd": 0.00006,
                       "unpricedRequests": 1, "refused": 0});
    assert_eq!(body["total"], total, "{body}");
    assert_eq!(
        body["data"],
        json!([total]),
        "no groupBy: one row, the total"
    );
    assert_eq!(
        (&body["start"], &body["end"]),
        (&json!("2024-08-01"), &json!("2024-08-31"))
    );

    // Unix seconds name the UTC day they fall in: August 1st only.
    let first = usage(&s.app, "start=1722470400&end=1722556799").await;
    assert_eq!(first["total"]["requests"], 2, "{first}");
    let backwards = usage(&s.app, "start=2024-08-31&end=2024-08-01").await;
    assert_eq!(
        backwards["total"]["requests"], 0,
        "a range that ends before it starts"
    );
}

#[actix_web::test]
async fn rows_group_by_user_day_model_and_key_with_null_for_none() {
    let s = seeded().await;
    let by_user = usage(&s.app, &format!("{AUGUST}&groupBy=user")).await;
    assert_eq!(
        requests_by(&by_user, &["userEmail"]),
        [
            ("null".into(), 1),
            ("ann@example.com".into(), 2),
            ("bob@example.com".into(), 1)
        ]
    );
    let ann = &by_user["data"][1];
    assert_eq!(
        (
            &ann["inputTokens"],
            &ann["cacheReadTokens"],
            &ann["costUsd"],
            &ann["errors"]
        ),
        (&json!(150), &json!(7), &json!(0.00003), &json!(1))
    );
    assert!(
        ann.get("day").is_none() && ann.get("model").is_none(),
        "{ann}"
    );

    let by_day_model = usage(&s.app, &format!("{AUGUST}&groupBy=model,day")).await;
    assert_eq!(
        requests_by(&by_day_model, &["day", "model"]),
        [
            ("2024-08-01|echo".into(), 1),
            ("2024-08-01|gpt-4o".into(), 1),
            ("2024-08-02|claude-2".into(), 1),
            ("2024-08-02|gpt-4o".into(), 1)
        ],
        "ordered day first, whatever the order asked"
    );
    let by_key = usage(&s.app, &format!("{AUGUST}&groupBy=apiKey")).await;
    assert_eq!(
        requests_by(&by_key, &["apiKeyId"]),
        [("null".into(), 1), ("1".into(), 3)]
    );
}

#[actix_web::test]
async fn a_user_with_several_tags_counts_under_each_and_once_in_the_total() {
    let s = seeded().await;
    let by_tag = usage(&s.app, &format!("{AUGUST}&groupBy=tag")).await;
    assert_eq!(
        requests_by(&by_tag, &["tag"]),
        [
            ("null".into(), 1),
            ("team-a".into(), 2),
            ("team-b".into(), 1),
            ("vip".into(), 2)
        ]
    );
    assert_eq!(by_tag["total"]["requests"], 4);
    assert_eq!(by_tag["data"][3]["costUsd"], 0.00003);
    let by_tag_and_user = usage(&s.app, &format!("{AUGUST}&groupBy=user,tag")).await;
    assert_eq!(
        requests_by(&by_tag_and_user, &["userEmail", "tag"]),
        [
            ("null|null".into(), 1),
            ("ann@example.com|team-a".into(), 2),
            ("ann@example.com|vip".into(), 2),
            ("bob@example.com|team-b".into(), 1)
        ]
    );
}

#[actix_web::test]
async fn filters_narrow_the_rows_and_the_total() {
    let s = seeded().await;
    let ann = usage(&s.app, &format!("{AUGUST}&userEmail=ANN@example.com")).await;
    assert_eq!(ann["total"]["requests"], 2, "compared as stored: {ann}");
    let vip = usage(&s.app, &format!("{AUGUST}&tag=vip&groupBy=tag")).await;
    assert_eq!(
        requests_by(&vip, &["tag"]),
        [("vip".into(), 2)],
        "only the tag asked"
    );
    assert_eq!(vip["total"]["requests"], 2);
    let gpt = usage(&s.app, &format!("{AUGUST}&model=gpt-4o&groupBy=user")).await;
    assert_eq!(
        requests_by(&gpt, &["userEmail"]),
        [("ann@example.com".into(), 1), ("bob@example.com".into(), 1)]
    );
    let nobody = usage(&s.app, &format!("{AUGUST}&tag=none&groupBy=user")).await;
    assert_eq!(nobody["data"], json!([]));
    assert_eq!(nobody["total"]["requests"], 0);
}

#[actix_web::test]
async fn a_deleted_users_totals_stay_under_their_email() {
    let s = seeded().await;
    let (status, _) = s.app.delete(&format!("/api/v1/users/{}", s.bob)).await;
    assert_eq!(status, StatusCode::OK);
    // Chat logs can go too: the rollups are apart from them.
    s.app
        .db
        .write_blocking(|tx| {
            tx.execute("DELETE FROM chat_logs", [])
                .map_err(StoreError::from)
        })
        .unwrap();
    let by_user = usage(&s.app, &format!("{AUGUST}&groupBy=user")).await;
    assert_eq!(by_user["total"]["requests"], 4, "{by_user}");
    assert_eq!(by_user["data"][2]["userEmail"], "bob@example.com");
    assert_eq!(by_user["data"][2]["costUsd"], 0.00003);
    let bob = usage(&s.app, &format!("{AUGUST}&userEmail=bob@example.com")).await;
    assert_eq!(bob["total"]["inputTokens"], 10);
    let by_tag = usage(&s.app, &format!("{AUGUST}&groupBy=tag")).await;
    assert_eq!(
        requests_by(&by_tag, &["tag"])[0],
        ("null".into(), 2),
        "tags are the users' tags now: Bob has none"
    );
}

#[actix_web::test]
async fn by_default_it_is_this_month() {
    let app = spawn_app().await;
    let now = Timestamp::now().millis();
    app.record_chats(&[
        chat_log("today", Timestamp(now)),
        chat_log("long ago", Timestamp(now - 40 * DAY_MS)),
    ]);
    let body = usage(&app, "").await;
    assert_eq!(body["total"]["requests"], 1, "{body}");
    let start = body["start"].as_str().unwrap();
    assert!(start.ends_with("-01"), "{start}");
    assert_eq!(&body["end"].as_str().unwrap()[..7], &start[..7]);
}

#[actix_web::test]
async fn bad_dates_and_groupings_are_a_400_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, param, says) in [
        ("start=2024-02-30", "start", "a day like 2024-08-14"),
        ("end=yesterday", "end", "a day like 2024-08-14"),
        ("start=1.5", "start", "whole seconds"),
        ("start=1722470400000", "start", "milliseconds"),
        ("groupBy=week", "groupBy", "got \"week\""),
        ("groupBy=day,", "groupBy", "got \"\""),
    ] {
        let (status, body) = app.get(&format!("/api/v1/usage?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["param"], param, "{query}");
        let message = error_message(&body, "invalid_request_error");
        assert!(message.contains(says), "{query}: {message}");
    }
}

#[actix_web::test]
async fn refused_requests_are_counted_apart_from_the_requests() {
    let app = spawn_app().await;
    app.create_user(&json!({"email": "ian@example.com", "tags": ["interns"]}))
        .await;
    let (status, _) = send_body(
        app.request(Method::PUT, "/api/v1/policies/tag:interns"),
        json!({"models": ["gpt-4o-mini"]}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send_body(
        app.request(Method::POST, "/api/v1/chat/completions")
            .insert_header(("X-User-Email", "ian@example.com")),
        json!({"model": "echo", "messages": [{"role": "user", "content": "hi"}]}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // The refusal reaches the rollups with the chat log writer's next batch.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let body = loop {
        let body = usage(&app, "groupBy=user").await;
        if body["total"]["refused"] == 1 {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never counted: {body}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(body["total"]["requests"], 0, "{body}");
    let row = &body["data"][0];
    assert_eq!(
        (&row["userEmail"], &row["refused"], &row["requests"]),
        (&json!("ian@example.com"), &json!(1), &json!(0)),
        "{body}"
    );
}
