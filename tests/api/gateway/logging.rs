//! Every completion is recorded once: who, what, how it went.

use actix_web::http::{Method, StatusCode};
use serde_json::json;

use super::*;
use crate::helpers::{error_message, send_body};
use crate::mock_upstream::{COMPLETION_TOKENS, PROMPT_TOKENS};

#[actix_web::test]
async fn a_completion_is_recorded_with_usage_timing_and_attribution() {
    let gw = spawn_gateway().await;
    let user = gw
        .app
        .create_user(&json!({ "email": "ada@example.com" }))
        .await;
    let mut response = gw
        .app
        .request(Method::POST, "/api/v1/chat/completions")
        .insert_header(("X-User-Email", "Ada@Example.com"))
        .send_body(streamed(hello("claude-haiku-4-5")).to_string())
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    response.body().await.expect("read stream");
    let chat = the_chat(&gw.app).await;
    assert_eq!(chat.chat_id.len(), 14);
    assert!(chat.chat_id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(chat.chat_title, "Hi there");
    assert_eq!(
        chat.conversation,
        "User: Hi there\n\nAssistant: Hello there, friend!"
    );
    assert_eq!(chat.model.as_deref(), Some("claude-haiku-4-5"));
    assert_eq!(chat.provider.as_deref(), Some("anthropic"));
    assert_eq!(
        chat.user_id.map(|id| id.to_string()),
        user["id"].as_str().map(str::to_owned)
    );
    assert_eq!(chat.api_key_id, Some(1));
    assert_eq!(chat.prompt_tokens, Some(PROMPT_TOKENS));
    assert_eq!(chat.completion_tokens, Some(COMPLETION_TOKENS));
    assert_eq!(chat.status, "ok");
    assert!(chat.ttft_ms.is_some() && chat.latency_ms >= chat.ttft_ms);

    // And the API shows it.
    let (_, logs) = gw.app.get("/api/v1/chatlogs").await;
    assert_eq!(logs["data"][0]["chatID"], chat.chat_id.as_str());
    assert_eq!(
        logs["data"][0]["conversationText"],
        chat.conversation.as_str()
    );
}

#[actix_web::test]
async fn an_unknown_user_email_is_a_403_and_a_malformed_one_a_400() {
    let gw = spawn_gateway().await;
    for (email, status, kind) in [
        (
            "ghost@example.com",
            StatusCode::FORBIDDEN,
            "permission_error",
        ),
        (
            "not-an-email",
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
        ),
    ] {
        let request = gw
            .app
            .request(Method::POST, "/api/v1/chat/completions")
            .insert_header(("X-User-Email", email));
        let (code, body) = send_body(request, hello("gpt-4o").to_string()).await;
        assert_eq!(code, status, "{email}: {body}");
        error_message(&body, kind);
    }
    assert!(gw.mock.received().is_empty());
    assert!(stored_chats(&gw.app).is_empty());
}

#[actix_web::test]
async fn a_chat_id_continues_the_recorded_chat() {
    let gw = spawn_gateway().await;
    let first = json!({ "model": "gpt-4o", "chatID": "chat-42", "chatTitle": "Greetings",
                        "messages": [{ "role": "user", "content": "Hi there" }] });
    assert_eq!(gw.complete(&first).await.0, StatusCode::OK);
    let created = the_chat(&gw.app).await;
    let second = json!({ "model": "gpt-4o", "chatID": "chat-42", "chatTitle": "Greetings",
                         "messages": [
                             { "role": "user", "content": "Hi there" },
                             { "role": "assistant", "content": "Hello there, friend!" },
                             { "role": "user", "content": "Again" }
                         ] });
    assert_eq!(gw.complete(&second).await.0, StatusCode::OK);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let chat = loop {
        let chats = stored_chats(&gw.app);
        assert_eq!(chats.len(), 1, "one row per chat");
        let chat = chats.into_iter().next().unwrap();
        if chat.conversation.contains("Again") || std::time::Instant::now() > deadline {
            break chat;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(chat.chat_id, "chat-42");
    assert_eq!(chat.chat_title, "Greetings");
    assert_eq!(
        chat.conversation,
        "User: Hi there\n\nAssistant: Hello there, friend!\n\nUser: Again\n\nAssistant: Hello there, friend!"
    );
    assert_eq!(chat.created_at, created.created_at);
    assert!(chat.recorded_at >= created.recorded_at);
}

#[actix_web::test]
async fn recording_can_be_turned_off() {
    let gw = spawn_gateway_with(|c| c.record_chats = Some(false)).await;
    assert_eq!(gw.complete(&hello("gpt-4o")).await.0, StatusCode::OK);
    assert_eq!(gw.complete(&hello("echo")).await.0, StatusCode::OK);
    gw.app.stop().await;
    assert!(
        stored_chats(&gw.app).is_empty(),
        "nothing was recorded while off"
    );
}

#[actix_web::test]
async fn queued_chat_logs_are_written_before_shutdown_completes() {
    let gw = spawn_gateway().await;
    for i in 0..20 {
        let mut request = hello("echo");
        request["chatID"] = json!(format!("c{i}"));
        assert_eq!(gw.complete(&request).await.0, StatusCode::OK);
    }
    gw.app.stop().await;
    assert_eq!(stored_chats(&gw.app).len(), 20);
}

#[actix_web::test]
async fn a_chat_of_a_user_deleted_meanwhile_is_still_recorded() {
    let gw = spawn_gateway().await;
    let user = gw
        .app
        .create_user(&json!({ "email": "gone@example.com" }))
        .await;
    gw.mock.fail_with([crate::mock_upstream::Fault::StallHead(
        std::time::Duration::from_millis(300),
    )]);
    let request = gw
        .app
        .request(Method::POST, "/api/v1/chat/completions")
        .insert_header(("X-User-Email", "gone@example.com"));
    let chat = send_body(request, hello("gpt-4o").to_string());
    let delete = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        let id = user["id"].as_str().unwrap();
        gw.app.delete(&format!("/api/v1/users/{id}")).await
    };
    let ((status, _), (deleted, _)) = futures_util::future::join(chat, delete).await;
    assert_eq!(deleted, StatusCode::OK);
    assert_eq!(status, StatusCode::OK);
    let chat = the_chat(&gw.app).await;
    assert_eq!(chat.status, "ok");
    assert_eq!(chat.user_id, None);
}
