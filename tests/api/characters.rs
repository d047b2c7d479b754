use actix_web::http::StatusCode;
use serde_json::json;

use crate::helpers::{error_message, is_iso_millis, spawn_app};

#[actix_web::test]
async fn characters_can_be_created_listed_read_updated_and_deleted() {
    let app = spawn_app().await;
    let (status, list) = app.get("/api/v1/ai-characters").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!({"data": []}));

    let (status, pirate) = app
        .post(
            "/api/v1/ai-characters",
            &json!({
                "title": "  Pirate ",
                "description": "Talks like a pirate",
                "instruction": "You are a pirate. Answer in pirate speak.",
                "defaultModel": "gpt-4"
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pirate}");
    let id = pirate["id"].as_str().expect("string id").to_owned();
    assert!(
        id.len() >= 8 && id.chars().all(|c| c.is_ascii_alphanumeric()),
        "{id}"
    );
    assert_eq!(pirate["title"], "Pirate");
    assert_eq!(pirate["description"], "Talks like a pirate");
    assert_eq!(
        pirate["instruction"],
        "You are a pirate. Answer in pirate speak."
    );
    assert_eq!(pirate["defaultModel"], "gpt-4");
    assert!(is_iso_millis(&pirate["createdAt"]));

    let poet = app
        .create_character(&json!({"title": "Poet", "instruction": "Answer in verse."}))
        .await;
    assert_eq!(poet["description"], "");
    assert_eq!(poet["defaultModel"], json!(null));
    assert_ne!(poet["id"], pirate["id"]);

    let (_, list) = app.get("/api/v1/ai-characters").await;
    assert_eq!(list["data"], json!([pirate, poet]));
    let (status, got) = app.get(&format!("/api/v1/ai-characters/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, pirate);

    let (status, updated) = app
        .patch(
            &format!("/api/v1/ai-characters/{id}"),
            &json!({"title": "Captain", "defaultModel": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["title"], "Captain");
    assert_eq!(updated["defaultModel"], json!(null));
    assert_eq!(updated["instruction"], pirate["instruction"]);
    assert_eq!(updated["description"], pirate["description"]);
    assert_eq!(updated["createdAt"], pirate["createdAt"]);

    let (status, body) = app.delete(&format!("/api/v1/ai-characters/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"success": true}));
    let (_, list) = app.get("/api/v1/ai-characters").await;
    assert_eq!(list["data"], json!([poet]));
}

#[actix_web::test]
async fn invalid_characters_are_rejected_naming_the_field() {
    let app = spawn_app().await;
    let ok = "Be helpful.";
    let cases = [
        (json!({"instruction": ok}), "title"),
        (json!({"title": "   ", "instruction": ok}), "title"),
        (
            json!({"title": "t".repeat(201), "instruction": ok}),
            "title",
        ),
        (json!({"title": 5, "instruction": ok}), "title"),
        (json!({"title": "T"}), "instruction"),
        (json!({"title": "T", "instruction": " "}), "instruction"),
        (
            json!({"title": "T", "instruction": "i".repeat(100_001)}),
            "instruction",
        ),
        (
            json!({"title": "T", "instruction": ok, "description": []}),
            "description",
        ),
        (
            json!({"title": "T", "instruction": ok, "defaultModel": 4}),
            "defaultModel",
        ),
    ];
    for (body, field) in cases {
        let (status, error) = app.post("/api/v1/ai-characters", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {error}");
        assert_eq!(error["error"]["param"], field);
        assert!(error_message(&error, "invalid_request_error").contains(field));
    }
    let (_, list) = app.get("/api/v1/ai-characters").await;
    assert_eq!(list, json!({"data": []}));

    // The limits themselves are allowed.
    let (status, _) = app
        .post(
            "/api/v1/ai-characters",
            &json!({"title": "t".repeat(200), "instruction": "i".repeat(100_000)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn a_bad_patch_changes_nothing() {
    let app = spawn_app().await;
    let original = app
        .create_character(&json!({"title": "Keeper", "instruction": "Keep things."}))
        .await;
    let path = format!("/api/v1/ai-characters/{}", original["id"].as_str().unwrap());
    for (body, param) in [
        (
            json!({"title": "New", "instruction": ""}),
            Some("instruction"),
        ),
        (json!({}), None),
        (json!({"unknown": 1}), None),
    ] {
        let (status, error) = app.patch(&path, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        error_message(&error, "invalid_request_error");
        if let Some(param) = param {
            assert_eq!(error["error"]["param"], param);
        }
    }
    let (_, now) = app.get(&path).await;
    assert_eq!(now, original);
}

#[actix_web::test]
async fn unknown_characters_are_404() {
    let app = spawn_app().await;
    let path = "/api/v1/ai-characters/doesNotExist";
    for (status, error) in [
        app.get(path).await,
        app.patch(path, &json!({"title": "x"})).await,
        app.delete(path).await,
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(error_message(&error, "not_found_error").contains("doesNotExist"));
    }
}

#[actix_web::test]
async fn nul_and_control_characters_are_refused_but_line_breaks_kept() {
    let app = spawn_app().await;
    let ok = "Be helpful.";
    for (body, field) in [
        (json!({"title": "Pi\0rate", "instruction": ok}), "title"),
        (json!({"title": "Two\nlines", "instruction": ok}), "title"),
        (
            json!({"title": "T", "instruction": "Be\0helpful"}),
            "instruction",
        ),
        (
            json!({"title": "T", "instruction": ok, "description": "a\u{7}b"}),
            "description",
        ),
        (
            json!({"title": "T", "instruction": ok, "defaultModel": "gpt\0"}),
            "defaultModel",
        ),
    ] {
        let (status, error) = app.post("/api/v1/ai-characters", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["error"]["param"], field);
        assert!(error_message(&error, "invalid_request_error").contains("control characters"));
    }
    let kept = app
        .create_character(&json!({
            "title": "T",
            "instruction": "Line one\n\tLine two\r\n",
            "description": "a\nb"
        }))
        .await;
    assert_eq!(kept["instruction"], "Line one\n\tLine two\r\n");
    assert_eq!(kept["description"], "a\nb");
}

#[actix_web::test]
async fn null_clears_what_may_be_empty_and_is_refused_elsewhere() {
    let app = spawn_app().await;
    let created = app
        .create_character(&json!({
            "title": "T",
            "instruction": "I",
            "description": null,
            "defaultModel": null
        }))
        .await;
    assert_eq!(created["description"], "");
    // No default model: the field is left out, as the spec's string type says.
    assert!(created.get("defaultModel").is_none(), "{created}");
    let path = format!("/api/v1/ai-characters/{}", created["id"].as_str().unwrap());

    let (_, described) = app
        .patch(&path, &json!({"description": "D", "defaultModel": "gpt-4"}))
        .await;
    assert_eq!(described["defaultModel"], "gpt-4");
    let (status, cleared) = app
        .patch(&path, &json!({"description": null, "defaultModel": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["description"], "");
    assert!(cleared.get("defaultModel").is_none(), "{cleared}");

    for field in ["title", "instruction"] {
        let (status, error) = app.patch(&path, &json!({ field: null })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {error}");
        assert_eq!(error["error"]["param"], field);
        assert!(error_message(&error, "invalid_request_error").contains("not null"));
    }
    let (_, now) = app.get(&path).await;
    assert_eq!(now, cleared);
}

#[actix_web::test]
async fn a_whole_body_error_names_no_field() {
    let app = spawn_app().await;
    let created = app
        .create_character(&json!({"title": "T", "instruction": "I"}))
        .await;
    let path = format!("/api/v1/ai-characters/{}", created["id"].as_str().unwrap());
    let (status, error) = app.patch(&path, &json!({"titel": "typo"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_message(&error, "invalid_request_error"),
        "send at least one of `title`, `description`, `instruction`, `defaultModel`"
    );
    assert!(error["error"].get("param").is_none(), "{error}");
    let (status, error) = app.post("/api/v1/ai-characters", &json!([1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_message(&error, "invalid_request_error"),
        "the request body must be a JSON object, not an array"
    );
    assert!(error["error"].get("param").is_none(), "{error}");
    let (status, error) = app
        .post(
            "/api/v1/ai-characters",
            &json!({"title": "T", "instruction": "I", "description": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_message(&error, "invalid_request_error"),
        "`description` must be a string, not a number"
    );
}
