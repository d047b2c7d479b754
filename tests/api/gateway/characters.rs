//! `activatedCharacterID`: the character's instruction leads the messages.

use actix_web::http::StatusCode;
use serde_json::json;

use super::*;
use crate::helpers::error_message;

#[actix_web::test]
async fn the_characters_instruction_becomes_the_first_system_message() {
    let gw = spawn_gateway().await;
    let character = gw
        .app
        .create_character(&json!({ "title": "Pirate", "instruction": "Talk like a pirate." }))
        .await;
    let id = character["id"].as_str().unwrap();
    let request = json!({
        "model": "gpt-4o",
        "activatedCharacterID": id,
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "Hi there" }
        ]
    });
    let (status, body) = gw.complete(&request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = gw.mock.last();
    assert_eq!(
        sent.body["messages"],
        json!([
            { "role": "system", "content": "Talk like a pirate." },
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "Hi there" }
        ])
    );
    assert!(sent.body.get("activatedCharacterID").is_none());
    assert_eq!(the_chat(&gw.app).await.character_id.as_deref(), Some(id));

    // Anthropic gets it in `system`, first.
    let request = json!({ "model": "claude-haiku-4-5", "activatedCharacterID": id,
                          "prompt": "Be brief.\n\nHuman: Hi\n\nAssistant:" });
    let (status, _) = gw.complete(&request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        gw.mock.last().body["system"],
        "Talk like a pirate.\n\nBe brief."
    );
}

#[actix_web::test]
async fn a_characters_default_model_is_used_when_none_is_sent() {
    let gw = spawn_gateway().await;
    let character = gw
        .app
        .create_character(&json!({ "title": "Poet", "instruction": "Rhyme.", "defaultModel": "claude-haiku-4-5" }))
        .await;
    let request = json!({ "activatedCharacterID": character["id"], "messages": [{ "role": "user", "content": "Hi" }] });
    let (status, body) = gw.complete(&request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model"], "claude-haiku-4-5");
    assert_eq!(gw.mock.last().path, "/v1/messages");
}

#[actix_web::test]
async fn an_unknown_character_is_a_404_and_nothing_goes_upstream() {
    let gw = spawn_gateway().await;
    let mut request = hello("gpt-4o");
    request["activatedCharacterID"] = json!("nope");
    let (status, body) = gw.complete(&request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_message(&body, "not_found_error").contains("nope"));
    assert_eq!(body["error"]["param"], "activatedCharacterID");
    assert!(gw.mock.received().is_empty());
}
