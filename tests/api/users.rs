use actix_web::http::StatusCode;
use serde_json::json;

use crate::helpers::{data_field, error_message, is_iso_millis, spawn_app};

#[actix_web::test]
async fn create_user_returns_the_spec_shape_normalised() {
    let app = spawn_app().await;
    let (status, user) = app
        .post(
            "/api/v1/users",
            &json!({"email": "  Ann.Lee@Example.COM ", "tags": [" vip ", "beta", "vip", "beta "]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let id = user["id"].as_str().expect("id is a string");
    assert!(id.parse::<i64>().unwrap() > 0);
    assert_eq!(user["email"], "ann.lee@example.com");
    assert_eq!(user["tags"], json!(["vip", "beta"]));
    assert!(is_iso_millis(&user["createdAt"]), "{}", user["createdAt"]);

    let (status, got) = app.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, user);
}

#[actix_web::test]
async fn tags_are_optional_and_default_to_empty() {
    let app = spawn_app().await;
    let (status, user) = app.post("/api/v1/users", &json!({"email": "a@b.co"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["tags"], json!([]));
    let (status, user) = app
        .post("/api/v1/users", &json!({"email": "c@b.co", "tags": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["tags"], json!([]));
}

#[actix_web::test]
async fn invalid_users_are_rejected_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), "email"),
        (json!({"email": null}), "email"),
        (json!({"email": 42}), "email"),
        (json!({"email": ""}), "email"),
        (json!({"email": "no-at-sign.com"}), "email"),
        (json!({"email": "two@@example.com"}), "email"),
        (json!({"email": "@example.com"}), "email"),
        (json!({"email": "ann@localhost"}), "email"),
        (json!({"email": "ann@example..com"}), "email"),
        (
            json!({"email": format!("{}@example.com", "a".repeat(250))}),
            "email",
        ),
        (json!({"email": "ok@example.com", "tags": "vip"}), "tags"),
        (
            json!({"email": "ok@example.com", "tags": ["ok", 7]}),
            "tags[1]",
        ),
        (
            json!({"email": "ok@example.com", "tags": ["   "]}),
            "tags[0]",
        ),
        (
            json!({"email": "ok@example.com", "tags": ["x".repeat(65)]}),
            "tags[0]",
        ),
        (
            json!({"email": "ok@example.com", "tags": (0..101).map(|i| i.to_string()).collect::<Vec<_>>()}),
            "tags",
        ),
    ];
    for (body, field) in cases {
        let (status, error) = app.post("/api/v1/users", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {error}");
        let message = error_message(&error, "invalid_request_error");
        assert_eq!(error["error"]["param"], field, "{body} -> {error}");
        let bare = field.split('[').next().unwrap();
        assert!(
            message.contains(bare),
            "message {message:?} should name {field}"
        );
    }
    let (_, list) = app.get("/api/v1/users").await;
    assert_eq!(list, json!({"data": []}));
}

#[actix_web::test]
async fn limits_are_inclusive() {
    let app = spawn_app().await;
    let local = "a".repeat(254 - "@example.com".len());
    let tags: Vec<String> = (0..100).map(|i| format!("{i:0>64}")).collect();
    let (status, user) = app
        .post(
            "/api/v1/users",
            &json!({"email": format!("{local}@example.com"), "tags": tags}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["tags"].as_array().unwrap().len(), 100);
}

#[actix_web::test]
async fn an_existing_email_is_a_conflict_carrying_the_existing_id() {
    let app = spawn_app().await;
    let first = app
        .create_user(&json!({"email": "dup@example.com", "tags": ["a"]}))
        .await;
    let id = first["id"].as_str().unwrap();
    let (status, error) = app
        .post(
            "/api/v1/users",
            &json!({"email": " DUP@example.com", "tags": ["b"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let message = error_message(&error, "conflict_error");
    assert!(message.contains(&format!("id {id}")), "{message}");
    let (_, list) = app.get("/api/v1/users").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["tags"], json!(["a"]));
}

#[actix_web::test]
async fn list_filters_by_email_tag_limit_and_offset() {
    let app = spawn_app().await;
    for (email, tags) in [
        ("one@example.com", json!(["team-a"])),
        ("two@example.com", json!(["team-b", "vip"])),
        ("three@example.com", json!(["team-a", "vip"])),
        ("four@example.com", json!([])),
    ] {
        let (status, _) = app
            .post("/api/v1/users", &json!({"email": email, "tags": tags}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, all) = app.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        data_field(&all, "email"),
        [
            "one@example.com",
            "two@example.com",
            "three@example.com",
            "four@example.com"
        ]
    );
    let ids: Vec<i64> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "id order: {ids:?}");

    // Exact, case-insensitive, and percent-encoded as the spec's example shows.
    for query in [
        "email=two@example.com",
        "email=TWO%40Example.com",
        "email=two%2540example.com",
    ] {
        let (status, found) = app.get(&format!("/api/v1/users?{query}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(data_field(&found, "email"), ["two@example.com"], "{query}");
    }
    let (_, none) = app.get("/api/v1/users?email=tw@example.com").await;
    assert_eq!(none, json!({"data": []}));

    let (_, vip) = app.get("/api/v1/users?tag=vip").await;
    assert_eq!(
        data_field(&vip, "email"),
        ["two@example.com", "three@example.com"]
    );
    let (_, page) = app.get("/api/v1/users?limit=2&offset=1").await;
    assert_eq!(
        data_field(&page, "email"),
        ["two@example.com", "three@example.com"]
    );
    let (_, page) = app.get("/api/v1/users?tag=team-a&limit=1&offset=1").await;
    assert_eq!(data_field(&page, "email"), ["three@example.com"]);
    assert_eq!(page["data"][0]["tags"], json!(["team-a", "vip"]));

    for bad in ["limit=0", "limit=1001", "limit=ten", "offset=-1"] {
        let (status, error) = app.get(&format!("/api/v1/users?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        let param = bad.split('=').next().unwrap();
        assert_eq!(error["error"]["param"], param);
    }
}

#[actix_web::test]
async fn patch_replaces_tags() {
    let app = spawn_app().await;
    let user = app
        .create_user(&json!({"email": "p@example.com", "tags": ["old"]}))
        .await;
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let (status, updated) = app
        .patch(&path, &json!({"tags": ["new", " second ", "new"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["tags"], json!(["new", "second"]));
    assert_eq!(updated["id"], user["id"]);
    assert_eq!(updated["email"], user["email"]);
    assert_eq!(updated["createdAt"], user["createdAt"]);
    let (_, old_tag) = app.get("/api/v1/users?tag=old").await;
    assert_eq!(old_tag, json!({"data": []}));

    let (status, cleared) = app.patch(&path, &json!({"tags": []})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cleared["tags"], json!([]));

    let (status, error) = app.patch(&path, &json!({"email": "x@example.com"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["param"], "tags");
    let (status, error) = app.patch(&path, &json!({"tags": [""]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["param"], "tags[0]");
    let (_, unchanged) = app.get(&path).await;
    assert_eq!(unchanged["tags"], json!([]));

    let (status, error) = app
        .patch("/api/v1/users/999999", &json!({"tags": []}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    error_message(&error, "not_found_error");
}

#[actix_web::test]
async fn delete_removes_the_user() {
    let app = spawn_app().await;
    let keep = app.create_user(&json!({"email": "keep@example.com"})).await;
    let gone = app
        .create_user(&json!({"email": "gone@example.com", "tags": ["t"]}))
        .await;
    let path = format!("/api/v1/users/{}", gone["id"].as_str().unwrap());
    let (status, body) = app.delete(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"success": true}));
    let (status, error) = app.delete(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_message(&error, "not_found_error").contains(gone["id"].as_str().unwrap()));
    let (status, _) = app.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/v1/users").await;
    assert_eq!(list["data"], json!([keep]));
    let (_, by_tag) = app.get("/api/v1/users?tag=t").await;
    assert_eq!(by_tag, json!({"data": []}));
}

#[actix_web::test]
async fn non_integer_ids_are_bad_requests() {
    let app = spawn_app().await;
    for id in ["abc", "1.5", "-3", "0", "99999999999999999999999", "%20"] {
        let path = format!("/api/v1/users/{id}");
        for (status, error) in [
            app.get(&path).await,
            app.delete(&path).await,
            app.patch(&path, &json!({"tags": []})).await,
        ] {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {error}");
            assert_eq!(error["error"]["param"], "id");
        }
    }
}

#[actix_web::test]
async fn unicode_and_sql_like_text_round_trip_verbatim() {
    let app = spawn_app().await;
    let tags = json!([
        "Robert'); DROP TABLE users;--",
        "' OR '1'='1",
        "日本語タグ",
        "émoji 🎉👩‍💻",
        "zero\u{200b}width",
        "<b>bold</b> & \"quoted\"",
    ]);
    let (status, user) = app
        .post(
            "/api/v1/users",
            &json!({"email": "zoë@例え.jp", "tags": tags}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["email"], "zoë@例え.jp");
    assert_eq!(user["tags"], tags);
    let (_, list) = app
        .get("/api/v1/users?email=Zo%C3%AB%40%E4%BE%8B%E3%81%88.jp")
        .await;
    assert_eq!(list["data"][0]["tags"], tags);
    let (_, by_tag) = app
        .get("/api/v1/users?tag=Robert%27%29%3B%20DROP%20TABLE%20users%3B--")
        .await;
    assert_eq!(by_tag["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn fifty_concurrent_creations_all_succeed_and_all_are_kept() {
    let app = spawn_app().await;
    let requests = (0..50).map(|i| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/users",
                &json!({"email": format!("user{i}@example.com"), "tags": [format!("n{i}")]}),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    for (status, user) in &results {
        assert_eq!(*status, StatusCode::OK, "{user}");
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    let (_, list) = app.get("/api/v1/users").await;
    let mut stored = data_field(&list, "email");
    stored.sort();
    let mut expected: Vec<String> = (0..50).map(|i| format!("user{i}@example.com")).collect();
    expected.sort();
    assert_eq!(stored, expected);
}

#[actix_web::test]
async fn an_address_typed_with_a_combining_accent_is_the_same_user() {
    let app = spawn_app().await;
    let first = app
        .create_user(&json!({"email": "jos\u{e9}@example.com"}))
        .await;
    let (status, error) = app
        .post(
            "/api/v1/users",
            &json!({"email": "JOSE\u{301}@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    // Found whichever way the filter spells it.
    let (_, found) = app
        .get("/api/v1/users?email=jose%CC%81%40example.com")
        .await;
    assert_eq!(found["data"], json!([first]));
    assert_eq!(first["email"], "jos\u{e9}@example.com");
}

#[actix_web::test]
async fn invisible_characters_and_nul_bytes_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "ann\u{200B}@example.com"}),
            "email",
            "U+200B",
        ),
        (
            json!({"email": "ann@exam\u{202E}ple.com"}),
            "email",
            "U+202E",
        ),
        (
            json!({"email": "\u{FEFF}ann@example.com"}),
            "email",
            "U+FEFF",
        ),
        (json!({"email": "an\u{AD}n@example.com"}), "email", "U+00AD"),
        (
            json!({"email": "ann@example.com\u{E0041}"}),
            "email",
            "U+E0041",
        ),
        (json!({"email": "ann\0@example.com"}), "email", "U+0000"),
        (
            json!({"email": "ok@example.com", "tags": ["ok", "v\0ip"]}),
            "tags[1]",
            "U+0000",
        ),
        (
            json!({"email": "ok@example.com", "tags": ["two\nlines"]}),
            "tags[0]",
            "U+000A",
        ),
    ];
    for (body, field, code) in cases {
        let (status, error) = app.post("/api/v1/users", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {error}");
        assert_eq!(error["error"]["param"], field, "{body} -> {error}");
        let message = error_message(&error, "invalid_request_error");
        assert!(message.contains(code), "{message}");
    }
    // The same through PATCH.
    let user = app.create_user(&json!({"email": "ok@example.com"})).await;
    let (status, error) = app
        .patch(
            &format!("/api/v1/users/{}", user["id"].as_str().unwrap()),
            &json!({"tags": ["\0"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["param"], "tags[0]");
    let (_, list) = app.get("/api/v1/users").await;
    assert_eq!(list["data"], json!([user]));
}

#[actix_web::test]
async fn type_errors_keep_their_wording_and_name_the_exact_field() {
    let app = spawn_app().await;
    for (body, field, message) in [
        (json!({}), "email", "`email` is required"),
        (
            json!({"email": null}),
            "email",
            "`email` must be a string, not null",
        ),
        (
            json!({"email": ["a@b.co"]}),
            "email",
            "`email` must be a string, not an array",
        ),
        (
            json!({"email": "ok@example.com", "tags": {"a": 1}}),
            "tags",
            "`tags` must be an array of strings, not an object",
        ),
        (
            json!({"email": "ok@example.com", "tags": ["ok", true]}),
            "tags[1]",
            "`tags[1]` must be a string, not a boolean",
        ),
    ] {
        let (status, error) = app.post("/api/v1/users", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error["error"]["param"], field, "{body}");
        assert_eq!(error_message(&error, "invalid_request_error"), message);
    }
    let user = app.create_user(&json!({"email": "t@example.com"})).await;
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let (status, error) = app.patch(&path, &json!({"tags": null})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_message(&error, "invalid_request_error"),
        "`tags` is required: the user's new tags"
    );
    // The id is read before the body, by the id's own parser.
    let (status, error) = app.patch("/api/v1/users/abc", &json!(null)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["param"], "id");
    assert_eq!(
        error_message(&error, "invalid_request_error"),
        "user id must be a positive integer, got \"abc\""
    );
}
