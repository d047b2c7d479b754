//! The story, as a new admin would try it: interns get one model
//! and five chats a day each, staff share a dollar a month.

use actix_web::http::StatusCode;
use mindgate::domain::KeyScope;
use serde_json::{json, Value};

use super::*;
use crate::gateway::costs::set_price;
use crate::gateway::{hello, spawn_gateway};
use crate::helpers::{data_field, send};

#[actix_web::test]
async fn interns_get_one_model_and_five_chats_a_day_and_staff_share_a_dollar_a_month() {
    let gw = spawn_gateway().await;
    let app = &gw.app;
    let (intern_id, intern) = add_user(app, "intern@example.com", &["interns"]).await;
    let (_, staff1) = add_user(app, "sam@example.com", &["staff"]).await;
    let (staff2_id, staff2) = add_user(app, "sue@example.com", &["staff"]).await;
    app.put_policy(
        "tag:interns",
        &json!({ "models": ["gpt-4o-mini"], "limits": [
            { "metric": "requests", "window": "day", "max": 5, "per": "member" }
        ]}),
    )
    .await;
    app.put_policy(
        "tag:staff",
        &json!({ "limits": [{ "metric": "costUsd", "window": "month", "max": 1, "per": "group" }] }),
    )
    .await;
    // Each of the mock's answers (14 tokens) costs $0.14 at this price.
    set_price(app, "gpt-4o", json!({ "input": 10000, "output": 10000 })).await;

    // An intern is refused gpt-4o, and sees only gpt-4o-mini listed.
    let answer = chat(app, &intern, &hello("gpt-4o")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.body,
        not_open(
            "model `gpt-4o` is not open to this user's tags: interns; open: gpt-4o-mini",
            "model"
        )
    );
    let listed = send(
        app.request(actix_web::http::Method::GET, "/api/v1/models")
            .insert_header(("X-User-Email", "intern@example.com")),
    )
    .await;
    assert_eq!(data_field(&listed.1, "id"), ["gpt-4o-mini"]);

    // Five chats, and the sixth is refused until tomorrow.
    assert_eq!(admitted(app, &intern, "gpt-4o-mini", 5).await, 5);
    let asked = now_ms();
    let sixth = chat(app, &intern, &hello("gpt-4o-mini")).await;
    let tomorrow = window_end("day", asked);
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        sixth.body,
        limited(&format!(
            "limit reached: tag interns allows 5 requests a day per member; it resets at {}",
            iso(tomorrow)
        ))
    );
    let retry_after = i64::try_from(sixth.retry_after.expect("Retry-After")).unwrap();
    assert!((tomorrow - asked - retry_after * 1000).abs() < 2000);

    // The staff pool runs out across both: $0.14 each, 8 make $1.12.
    assert_eq!(admitted(app, &staff1, "gpt-4o", 4).await, 4);
    assert_eq!(admitted(app, &staff2, "gpt-4o", 5).await, 4);
    let next_month = iso(window_end("month", now_ms()));
    let out = limited(&format!(
        "limit reached: tag staff allows $1.00 a month for the group; it resets at {next_month}"
    ));
    for caller in [&staff1, &staff2] {
        assert_eq!(chat(app, caller, &hello("gpt-4o")).await.body, out);
    }
    // Interns are not staff: their pool is theirs.
    assert_eq!(gw.mock.received().len(), 5 + 8);

    // The user pages' data: the effective models and each limit.
    let (status, page) = app.get(&format!("/api/v1/users/{intern_id}/limits")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["models"]["open"], "only");
    assert_eq!(page["models"]["available"], json!(["gpt-4o-mini"]));
    assert_eq!(
        without_window_start(&page["limits"]),
        json!([{ "scope": "tag:interns", "metric": "requests", "window": "day", "max": 5,
                 "per": "member", "used": 5, "resetsAt": iso(tomorrow) }])
    );
    let (_, page) = app.get(&format!("/api/v1/users/{staff2_id}/limits")).await;
    assert_eq!(page["models"]["open"], "all");
    assert_eq!(
        without_window_start(&page["limits"]),
        json!([{ "scope": "tag:staff", "metric": "costUsd", "window": "month", "max": 1.0,
                 "per": "group", "used": 1.12, "resetsAt": next_month }])
    );

    // A chat key chats, within the same limits, and cannot list users.
    let (_, chat_key) = app.add_key("typingmind", KeyScope::Chat);
    let answer = chat(app, &intern.through(&chat_key), &hello("gpt-4o-mini")).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    let (status, body) = send(
        app.client
            .get(app.url("/api/v1/users"))
            .insert_header(("X-API-KEY", chat_key.as_str())),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["type"], "permission_error");
}

/// Each limit without its `windowStart` (the window holding now).
fn without_window_start(limits: &Value) -> Value {
    let mut limits = limits.clone();
    for limit in limits.as_array_mut().expect("limits") {
        limit
            .as_object_mut()
            .expect("a limit")
            .remove("windowStart")
            .expect("windowStart");
    }
    limits
}
