//! `/policies/{scope}`, `/tags`, `/users/{id}/limits` and `/models` as a
//! user sees it: the scripts' side of governance.

use actix_web::http::{Method, StatusCode};
use mindgate::domain::KeyScope;
use serde_json::{json, Value};

use crate::helpers::{
    data_field, error_message, is_iso_millis, send, send_body, spawn_app, TestApp,
};

async fn put(app: &TestApp, scope: &str, body: &Value) -> (StatusCode, Value) {
    send_body(
        app.request(Method::PUT, &format!("/api/v1/policies/{scope}")),
        body.to_string(),
    )
    .await
}

async fn delete(app: &TestApp, scope: &str) -> StatusCode {
    app.request(Method::DELETE, &format!("/api/v1/policies/{scope}"))
        .send()
        .await
        .unwrap()
        .status()
}

fn interns_policy() -> Value {
    json!({
        "models": ["gpt-4o-mini", "echo"],
        "limits": [{"metric": "requests", "window": "day", "max": 5}]
    })
}

#[actix_web::test]
async fn a_policy_is_stored_read_listed_and_deleted() {
    let app = spawn_app().await;
    let (status, stored) = put(&app, "tag:interns", &interns_policy()).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let expected = json!({
        "scope": "tag:interns",
        "models": ["gpt-4o-mini", "echo"],
        "characters": null,
        "limits": [{"metric": "requests", "window": "day", "max": 5, "per": "member"}],
        "requiresUser": false,
    });
    let mut without_warnings = stored.clone();
    assert_eq!(without_warnings["warnings"].take(), json!([]));
    without_warnings.as_object_mut().unwrap().remove("warnings");
    assert_eq!(without_warnings, expected);

    let (status, read) = app.get("/api/v1/policies/tag:interns").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, expected);
    let (_, listed) = app.get("/api/v1/policies").await;
    assert_eq!(listed, json!({"data": [expected]}));

    // A cost limit reads and shows in USD; `per: group` is kept.
    let staff = json!({"limits": [
        {"metric": "costUsd", "window": "month", "max": 1.25, "per": "group"}
    ]});
    let (status, stored) = put(&app, "tag:staff", &staff).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["limits"], staff["limits"]);

    // Replaced whole: what the new body leaves out is gone.
    let (_, replaced) = put(&app, "tag:interns", &json!({"characters": []})).await;
    assert_eq!(replaced["models"], Value::Null);
    assert_eq!(replaced["characters"], json!([]));
    assert_eq!(replaced["limits"], json!([]));

    assert_eq!(delete(&app, "tag:interns").await, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/v1/policies/tag:interns").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted is gone: {body}");
    assert!(error_message(&body, "not_found_error").contains("tag interns has no policy"));
    assert_eq!(delete(&app, "tag:interns").await, StatusCode::NOT_FOUND);

    // An empty policy stores nothing.
    let (status, _) = put(&app, "everyone", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = app.get("/api/v1/policies").await;
    assert_eq!(data_field(&listed, "scope"), ["tag:staff"]);
}

#[actix_web::test]
async fn what_a_policy_names_that_does_not_exist_is_warned_about_not_refused() {
    let app = spawn_app().await;
    let pirate = app
        .create_character(&json!({"title": "Pirate", "instruction": "Arr."}))
        .await;
    let pirate = pirate["id"].as_str().unwrap();
    let body = json!({
        "models": ["gpt-4o*", "gpt-4o-2024-08-06", "llama-*", "ECHO"],
        "characters": [pirate, "no-such-character"],
    });
    let (status, stored) = put(&app, "everyone", &body).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let warnings = stored["warnings"].as_array().unwrap();
    let warned: Vec<(&str, &str)> = warnings
        .iter()
        .map(|w| (w["param"].as_str().unwrap(), w["value"].as_str().unwrap()))
        .collect();
    // `gpt-4o*` matches catalog models, `ECHO` echo (any case); a family
    // name is routed though not listed: warned, and stored all the same.
    assert_eq!(
        warned,
        [
            ("models", "gpt-4o-2024-08-06"),
            ("models", "llama-*"),
            ("characters", "no-such-character"),
        ]
    );
    assert!(warnings[0]["message"]
        .as_str()
        .unwrap()
        .contains("GET /models"));
    let (_, read) = app.get("/api/v1/policies/everyone").await;
    assert_eq!(read["models"], body["models"]);
    assert_eq!(read["characters"], body["characters"]);
}

#[actix_web::test]
async fn bad_policies_are_400s_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let (status, _) = put(&app, "tag:interns", &interns_policy()).await;
    assert_eq!(status, StatusCode::OK);
    let limit = |fields: Value| json!({"limits": [fields]});
    for (body, field) in [
        (
            limit(json!({"metric": "bytes", "window": "day", "max": 1})),
            "limits[0].metric",
        ),
        (
            limit(json!({"metric": "tokens", "window": "year", "max": 1})),
            "limits[0].window",
        ),
        (
            limit(json!({"metric": "tokens", "window": "day", "max": -1})),
            "limits[0].max",
        ),
        (
            limit(json!({"metric": "requests", "window": "day", "max": 2.5})),
            "limits[0].max",
        ),
        (
            limit(json!({"metric": "requests", "window": "day"})),
            "limits[0].max",
        ),
        (
            limit(json!({"metric": "requests", "window": "day", "max": 1, "per": "team"})),
            "limits[0].per",
        ),
        (json!({"models": "gpt-4o"}), "models"),
        (json!({"models": ["gpt-4o", " "]}), "models[1]"),
        (json!({"characters": [7]}), "characters[0]"),
        (json!({"requiresUser": true}), "requiresUser"),
        (json!({"requiresUser": "yes"}), "requiresUser"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let (status, error) = put(&app, "tag:interns", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        error_message(&error, "invalid_request_error");
        assert_eq!(error["error"]["param"], field, "{body}: {error}");
    }
    let (status, error) = send_body(
        app.request(Method::PUT, "/api/v1/policies/tag:interns"),
        "[1, 2]".to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");

    let (_, read) = app.get("/api/v1/policies/tag:interns").await;
    assert_eq!(read["models"], json!(["gpt-4o-mini", "echo"]), "unchanged");
}

#[actix_web::test]
async fn scopes_are_checked_and_users_and_keys_must_exist() {
    let app = spawn_app().await;
    for bad in [
        "all",
        "group:staff",
        "user:abc",
        "user:0",
        "key:-1",
        "tag:%20",
        "tag:",
    ] {
        let path = format!("/api/v1/policies/{bad}");
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let (status, error) = send_body(app.request(method.clone(), &path), "{}".into()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {bad}: {error}");
            assert_eq!(error["error"]["param"], "scope", "{method} {bad}: {error}");
        }
    }
    for missing in ["user:999", "key:999"] {
        let path = format!("/api/v1/policies/{missing}");
        let (status, error) = app.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
        error_message(&error, "not_found_error");
        let (status, _) = put(&app, missing, &json!({"limits": []})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(delete(&app, missing).await, StatusCode::NOT_FOUND);
    }
    let (_, listed) = app.get("/api/v1/policies").await;
    assert_eq!(listed, json!({"data": []}), "nothing stored for them");

    // An existing user and key; only a key's policy may require a user.
    let ann = app.create_user(&json!({"email": "ann@example.com"})).await;
    let ann = format!("user:{}", ann["id"].as_str().unwrap());
    let (status, stored) = put(&app, &ann, &json!({"models": ["echo"]})).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["scope"], ann.as_str());
    let (key, _) = app.add_key("chat client", KeyScope::Chat);
    let (status, stored) = put(
        &app,
        &format!("key:{}", key.0),
        &json!({"requiresUser": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["requiresUser"], true);

    // A user's policy goes with them.
    let (status, _) = app.delete(&format!("/api/v1/users/{}", &ann[5..])).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = app.get("/api/v1/policies").await;
    assert_eq!(data_field(&listed, "scope"), [format!("key:{}", key.0)]);
}

#[actix_web::test]
async fn tag_names_with_spaces_and_slashes_work_url_encoded() {
    let app = spawn_app().await;
    for (sent, scope) in [
        ("tag:Data%20team", "tag:Data team"),
        ("tag:R%26D%2Flab", "tag:R&D/lab"),
    ] {
        let (status, stored) = put(&app, sent, &json!({"models": ["echo"]})).await;
        assert_eq!(status, StatusCode::OK, "{sent}: {stored}");
        assert_eq!(stored["scope"], scope);
        let (_, read) = app.get(&format!("/api/v1/policies/{sent}")).await;
        assert_eq!(read["models"], json!(["echo"]), "{sent}");
    }
    let (_, tags) = app.get("/api/v1/tags").await;
    assert_eq!(data_field(&tags, "name"), ["Data team", "R&D/lab"]);
}

#[actix_web::test]
async fn tags_list_members_and_the_policies_of_tags_without_members() {
    let app = spawn_app().await;
    let (_, empty) = app.get("/api/v1/tags").await;
    assert_eq!(empty, json!({"data": []}));
    for (email, tags) in [
        ("ann@example.com", json!(["interns", "vip"])),
        ("bob@example.com", json!(["interns"])),
        ("cy@example.com", json!([])),
    ] {
        app.create_user(&json!({"email": email, "tags": tags}))
            .await;
    }
    put(&app, "tag:interns", &interns_policy()).await;
    put(&app, "tag:alumni", &json!({"models": ["echo"]})).await;
    let (status, tags) = app.get("/api/v1/tags").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        tags,
        json!({"data": [
            {"name": "alumni", "members": 0, "hasPolicy": true},
            {"name": "interns", "members": 2, "hasPolicy": true},
            {"name": "vip", "members": 1, "hasPolicy": false},
        ]})
    );
}

/// A user tagged `interns`, whose policy opens `gpt-4o-mini` and `echo`
/// with 5 requests a day each, and `staff` a 1 USD monthly pool.
async fn interns_and_staff(app: &TestApp) -> (String, String) {
    let intern = app
        .create_user(&json!({"email": "ian@example.com", "tags": ["interns"]}))
        .await;
    let staff = app
        .create_user(&json!({"email": "sue@example.com", "tags": ["staff"]}))
        .await;
    put(app, "tag:interns", &interns_policy()).await;
    let pool =
        json!({"limits": [{"metric": "costUsd", "window": "month", "max": 1, "per": "group"}]});
    put(app, "tag:staff", &pool).await;
    (
        intern["id"].as_str().unwrap().to_owned(),
        staff["id"].as_str().unwrap().to_owned(),
    )
}

async fn echo_as(app: &TestApp, email: &str) -> StatusCode {
    let (status, body) = send_body(
        app.request(Method::POST, "/api/v1/chat/completions")
            .insert_header(("X-User-Email", email)),
        json!({"model": "echo", "messages": [{"role": "user", "content": "hi"}]}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    status
}

#[actix_web::test]
async fn a_users_limits_show_their_access_and_where_each_limit_stands() {
    let app = spawn_app().await;
    let (intern, staff) = interns_and_staff(&app).await;
    echo_as(&app, "ian@example.com").await;
    echo_as(&app, "ian@example.com").await;

    let (status, limits) = app.get(&format!("/api/v1/users/{intern}/limits")).await;
    assert_eq!(status, StatusCode::OK, "{limits}");
    assert_eq!(limits["user"]["email"], "ian@example.com");
    assert_eq!(limits["timezone"], "UTC");
    assert_eq!(limits["models"]["open"], "only");
    assert_eq!(
        limits["models"]["grantedBy"],
        json!([{"scope": "tag:interns", "allows": ["gpt-4o-mini", "echo"]}])
    );
    assert_eq!(
        limits["models"]["available"],
        json!(["echo", "gpt-4o-mini"])
    );
    assert_eq!(limits["characters"], json!({"open": "all"}));
    let limit = &limits["limits"][0];
    assert_eq!(limits["limits"].as_array().unwrap().len(), 1, "{limits}");
    assert_eq!(
        (
            &limit["scope"],
            &limit["metric"],
            &limit["window"],
            &limit["max"],
            &limit["per"]
        ),
        (
            &json!("tag:interns"),
            &json!("requests"),
            &json!("day"),
            &json!(5),
            &json!("member")
        )
    );
    assert_eq!(limit["used"], 2);
    assert!(is_iso_millis(&limit["windowStart"]), "{limit}");
    assert!(is_iso_millis(&limit["resetsAt"]), "{limit}");
    assert!(limit["windowStart"]
        .as_str()
        .unwrap()
        .ends_with("T00:00:00.000Z"));

    // The staff pool, in USD; every model open.
    let (_, limits) = app.get(&format!("/api/v1/users/{staff}/limits")).await;
    assert_eq!(limits["models"]["open"], "all");
    assert!(limits["models"]["available"]
        .as_array()
        .unwrap()
        .contains(&json!("gpt-4o")));
    assert_eq!(limits["limits"][0]["max"], 1.0);
    assert_eq!(limits["limits"][0]["used"], 0.0);
    assert_eq!(limits["limits"][0]["per"], "group");

    let (status, _) = app.get("/api/v1/users/999/limits").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = app.get("/api/v1/users/abc/limits").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["param"], "id");
}

#[actix_web::test]
async fn a_policy_edit_shows_at_once_in_a_users_limits() {
    let app = spawn_app().await;
    let (intern, _) = interns_and_staff(&app).await;
    put(&app, "tag:interns", &json!({"models": ["gpt-4o*"]})).await;
    let (_, limits) = app.get(&format!("/api/v1/users/{intern}/limits")).await;
    let available = limits["models"]["available"].as_array().unwrap();
    assert!(available.contains(&json!("gpt-4o")), "{limits}");
    assert!(!available.contains(&json!("echo")), "{limits}");
    assert_eq!(limits["limits"], json!([]));
}

/// The models `GET /models` lists with `key`, as the user `email` if any.
async fn listed(app: &TestApp, key: &str, email: Option<&str>) -> (StatusCode, Value) {
    let mut request = app
        .client
        .get(app.url("/api/v1/models"))
        .insert_header(("X-API-KEY", key));
    if let Some(email) = email {
        request = request.insert_header(("X-User-Email", email));
    }
    send(request).await
}

#[actix_web::test]
async fn models_lists_what_the_user_and_the_key_may_use() {
    // Providers with their keys: only models that can answer are listed.
    let gw = crate::gateway::spawn_gateway().await;
    let app = &gw.app;
    interns_and_staff(app).await;
    let key = app.api_key.clone();

    let (status, models) = listed(app, &key, Some("ian@example.com")).await;
    assert_eq!(status, StatusCode::OK, "{models}");
    assert_eq!(data_field(&models, "id"), ["echo", "gpt-4o-mini"]);
    let (_, everyone) = listed(app, &key, None).await;
    let all = data_field(&everyone, "id");
    assert!(
        all.len() > 5 && all.contains(&"gpt-4o".to_owned()),
        "{all:?}"
    );
    let (_, staff) = listed(app, &key, Some("SUE@example.com")).await;
    assert_eq!(data_field(&staff, "id"), all);

    // The key's own list narrows whatever the user may use.
    let (narrow_id, narrow) = app.add_key("echo only", KeyScope::Chat);
    put(
        app,
        &format!("key:{}", narrow_id.0),
        &json!({"models": ["echo"]}),
    )
    .await;
    let (_, models) = listed(app, &narrow, Some("ian@example.com")).await;
    assert_eq!(data_field(&models, "id"), ["echo"]);
    let (_, models) = listed(app, &narrow, None).await;
    assert_eq!(data_field(&models, "id"), ["echo"]);

    // Without a user, `everyone` decides.
    put(app, "everyone", &json!({"models": ["claude-*"]})).await;
    let (_, models) = listed(app, &key, None).await;
    let names = data_field(&models, "id");
    assert!(
        !names.is_empty() && names.iter().all(|n| n.starts_with("claude-")),
        "{names:?}"
    );

    let (status, error) = listed(app, &key, Some("nobody@example.com")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error_message(&error, "permission_error").contains("nobody@example.com"));
    let (status, error) = listed(app, &key, Some("not an address")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["param"], "X-User-Email");
}
