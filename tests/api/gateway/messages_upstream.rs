//! `/api/v1/messages` against the mock's Anthropic and OpenAI sides: an
//! Anthropic provider's answers, whole and streamed, reach the client byte
//! for byte (but its keys); upstream faults (a stall, a cut, 429 with
//! `Retry-After`, 5xx, 529 overloaded) each give the client an error in
//! Anthropic's shape (a status and `{"type":"error","error":{...}}`, or an
//! `error` event once the stream has begun) and leave one chat log.

use std::time::Duration;

use actix_web::http::header::HeaderMap;

use super::messages::{anthropic_error, hi, json_of, CLAUDE, GPT};
use super::*;
use crate::mock_upstream::{vendor_error, Fault, MockAnswer, MockUsage, COMPLETION_TOKENS};

/// A Messages request, as the SDKs send it; the answer read whole.
async fn post(gw: &Gateway, body: &Value) -> (StatusCode, HeaderMap, Bytes) {
    gw.anthropic("/messages", body, &[("anthropic-version", "2023-06-01")])
        .await
}

/// The text of a Messages stream's text deltas, joined.
fn delta_text(stream: &[u8]) -> String {
    event_data(&String::from_utf8_lossy(stream))
        .iter()
        .filter(|data| data["delta"]["type"] == "text_delta")
        .filter_map(|data| data["delta"]["text"].as_str())
        .collect()
}

/// The `error` event a Messages stream ends with: its error.
fn final_error_event(stream: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stream);
    let events = events(&text);
    let (name, data) = events.last().unwrap_or_else(|| panic!("no events"));
    assert_eq!(name.as_deref(), Some("error"), "the stream ends: {text}");
    let data: Value = serde_json::from_str(data).expect("JSON error event");
    assert_eq!(data["type"], "error", "{data}");
    assert!(
        !data["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{data}"
    );
    assert!(!text.contains("message_stop"), "{text}");
    data["error"].clone()
}

#[actix_web::test]
async fn an_anthropic_providers_answers_reach_the_client_byte_for_byte() {
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    gw.mock
        .report_usage(MockUsage::Cached { read: 6, write: 2 });
    let mut body = hi(CLAUDE);
    body["thinking"] = json!({ "type": "enabled", "budget_tokens": 1024 });
    body["tools"] = json!([{ "name": "get_weather", "input_schema": { "type": "object" } }]);
    for stream in [false, true] {
        body["stream"] = json!(stream);
        let (code, headers, answer) = post(&gw, &body).await;
        assert_eq!(code, StatusCode::OK, "{}", String::from_utf8_lossy(&answer));
        let sent = gw.mock.sent_body();
        assert!(sent.len() > 500, "a full answer: {}", sent.len());
        assert!(
            answer == sent,
            "stream {stream}: the client got\n{}\nthe provider sent\n{}",
            String::from_utf8_lossy(&answer),
            String::from_utf8_lossy(&sent)
        );
        let content_type = headers.get("content-type").unwrap().to_str().unwrap();
        let expected = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        assert!(content_type.starts_with(expected), "{content_type}");
        // The request went up as the client sent it.
        let received = gw.mock.last();
        assert_eq!(received.body, body);
        assert_eq!(received.header("anthropic-version"), Some("2023-06-01"));
    }
    // Every kind of event, the tool's input cut at awkward places.
    let stream = String::from_utf8(gw.mock.sent_body()).unwrap();
    for kind in [
        "message_start",
        "thinking_delta",
        "signature_delta",
        "text_delta",
        "input_json_delta",
        "ping",
        "message_delta",
        "cache_creation_input_tokens",
        "message_stop",
    ] {
        assert!(stream.contains(kind), "{kind}");
    }
    // Both chats logged with the usage the events gave, cache apart; the
    // tool call shown briefly.
    for chat in wait_for_chats(&gw.app, 2).await {
        assert_eq!(chat.status, "ok");
        assert_eq!(
            (
                chat.prompt_tokens,
                chat.completion_tokens,
                chat.cache_read_tokens,
                chat.cache_write_tokens
            ),
            (Some(3), Some(COMPLETION_TOKENS), 6, 2),
            "{chat:#?}"
        );
        assert!(
            chat.conversation.contains("[tool_use: get_weather]"),
            "{}",
            chat.conversation
        );
    }
}

#[actix_web::test]
async fn keys_in_passed_through_answers_are_redacted_and_nothing_else_changes() {
    let gw = spawn_gateway().await;
    for stream in [false, true] {
        // Streamed, the event holding the key comes in two chunks cut
        // inside it.
        gw.mock.fail_with([Fault::Reply("my key is {key}!")]);
        let mut body = hi(CLAUDE);
        body["stream"] = json!(stream);
        let (code, _, answer) = post(&gw, &body).await;
        assert_eq!(code, StatusCode::OK);
        let sent = String::from_utf8(gw.mock.sent_body()).unwrap();
        assert!(sent.contains(ANTHROPIC_KEY), "the mock echoed the key");
        assert_eq!(
            String::from_utf8(answer.to_vec()).unwrap(),
            sent.replace(ANTHROPIC_KEY, "[redacted]"),
            "stream {stream}"
        );
    }
    for chat in wait_for_chats(&gw.app, 2).await {
        assert!(!chat.conversation.contains(ANTHROPIC_KEY));
        assert!(chat.conversation.contains("my key is [redacted]!"));
    }
}

#[actix_web::test]
async fn a_provider_that_never_answers_is_an_anthropic_shaped_504() {
    let gw = spawn_gateway_with(|c| c.first_byte_timeout = Duration::from_millis(300)).await;
    for model in [CLAUDE, GPT] {
        for stream in [false, true] {
            gw.mock
                .fail_with([Fault::StallHead(Duration::from_secs(2))]);
            let mut body = hi(model);
            body["stream"] = json!(stream);
            let (code, _, answer) = post(&gw, &body).await;
            assert_eq!(code, StatusCode::GATEWAY_TIMEOUT, "{model} {stream}");
            let said = anthropic_error(&json_of(&answer), "timeout_error");
            assert!(said.contains("300 ms"), "{said}");
        }
    }
    assert_eq!(gw.mock.received().len(), 4, "timeouts are not retried");
    let chats = wait_for_chats(&gw.app, 4).await;
    assert!(chats.iter().all(|c| c.status == "error"), "{chats:#?}");
}

#[actix_web::test]
async fn a_stream_that_goes_silent_ends_with_an_error_event() {
    let gw = spawn_gateway_with(|c| c.idle_timeout = Duration::from_millis(300)).await;
    for model in [CLAUDE, GPT] {
        gw.mock.fail_with([Fault::SilentAfter(3)]);
        let mut body = hi(model);
        body["stream"] = json!(true);
        let (code, _, stream) = post(&gw, &body).await;
        assert_eq!(code, StatusCode::OK, "{model}");
        let error = final_error_event(&stream);
        assert_eq!(error["type"], "timeout_error", "{model}: {error}");
        assert!(error["message"].as_str().unwrap().contains("300 ms"));
    }
    let chats = wait_for_chats(&gw.app, 2).await;
    assert!(chats.iter().all(|c| c.status == "error"), "{chats:#?}");
}

#[actix_web::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event_and_is_not_retried() {
    for model in [CLAUDE, GPT] {
        let gw = spawn_gateway().await;
        // Cut after the first word.
        let after = if model == CLAUDE { 4 } else { 2 };
        gw.mock.fail_with([Fault::CutAfter(after)]);
        let mut body = hi(model);
        body["stream"] = json!(true);
        let (code, _, stream) = post(&gw, &body).await;
        assert_eq!(code, StatusCode::OK, "{model}");
        if model == CLAUDE {
            let sent = gw.mock.sent_body();
            assert!(
                stream.starts_with(&sent),
                "what came, as it came: {}",
                String::from_utf8_lossy(&stream)
            );
        }
        assert_eq!(delta_text(&stream), "Hello", "{model}");
        final_error_event(&stream);
        assert_eq!(gw.mock.received().len(), 1, "{model}: not retried");
        let chat = the_chat(&gw.app).await;
        assert_eq!(chat.status, "error", "{model}");
        assert!(
            chat.conversation.contains("Assistant: Hello"),
            "{model}: {}",
            chat.conversation
        );
    }
}

#[actix_web::test]
async fn a_client_that_leaves_mid_stream_leaves_one_cancelled_chat() {
    for model in [CLAUDE, GPT] {
        let gw = spawn_gateway().await;
        gw.mock.fail_with([Fault::SilentAfter(5)]);
        let mut body = hi(model);
        body["stream"] = json!(true);
        let mut response = gw
            .app
            .request(Method::POST, "/api/v1/messages")
            .insert_header(("content-type", "application/json"))
            .send_body(body.to_string())
            .await
            .expect("request failed");
        let mut received = String::new();
        while !received.contains("there,") {
            let chunk = response.next().await.expect("chunk").expect("read");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
        drop(response);
        let chat = the_chat(&gw.app).await;
        assert_eq!(chat.status, "cancelled", "{model}");
        assert!(chat.conversation.contains("Assistant: Hello there,"));
    }
}

#[actix_web::test]
async fn rate_limits_come_back_as_429_with_retry_after() {
    for model in [CLAUDE, GPT] {
        let gw = spawn_gateway().await;
        for stream in [false, true] {
            let limited = || Fault::Vendor {
                code: 429,
                retry_after: Some("1"),
            };
            gw.mock.fail_with([limited(), limited(), limited()]);
            let before = gw.mock.received().len();
            let mut body = hi(model);
            body["stream"] = json!(stream);
            let (code, headers, answer) = post(&gw, &body).await;
            assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "{model}");
            assert_eq!(headers.get("retry-after").unwrap(), "1", "{model}");
            let said = anthropic_error(&json_of(&answer), "rate_limit_error");
            let (_, upstream) = vendor_error(model == CLAUDE, 429);
            if model == CLAUDE {
                // The provider's error as it sent it: clients match its text.
                assert_eq!(answer, gw.mock.sent_body(), "unmodified");
            }
            assert!(said.contains(upstream), "{model}: {said}");
            assert_eq!(
                gw.mock.received().len() - before,
                3,
                "{model}: one try and two retries, each after Retry-After"
            );
        }
        let chats = wait_for_chats(&gw.app, 2).await;
        assert!(chats.iter().all(|c| c.status == "error"), "{chats:#?}");
    }
}

#[actix_web::test]
async fn server_errors_after_retries_come_back_in_anthropics_envelope() {
    // The Anthropic provider's own status and body; an OpenAI provider's
    // failure as mindgate says it, in Anthropic's envelope.
    let cases = [
        (CLAUDE, 500, "api_error"),
        (CLAUDE, 503, "api_error"),
        (CLAUDE, 529, "overloaded_error"),
        (GPT, 500, "api_error"),
        (GPT, 503, "api_error"),
    ];
    for (model, code, error_type) in cases {
        let gw = spawn_gateway().await;
        let failure = || Fault::Vendor {
            code,
            retry_after: None,
        };
        gw.mock.fail_with([failure(), failure(), failure()]);
        let (status, _, answer) = post(&gw, &hi(model)).await;
        let (_, upstream) = vendor_error(model == CLAUDE, code);
        if model == CLAUDE {
            assert_eq!(status.as_u16(), code, "{model}");
            assert_eq!(answer, gw.mock.sent_body(), "{model} {code}: unmodified");
            assert_eq!(anthropic_error(&json_of(&answer), error_type), upstream);
        } else {
            assert_eq!(status, StatusCode::BAD_GATEWAY, "{model} {code}");
            let said = anthropic_error(&json_of(&answer), error_type);
            assert!(said.contains(upstream), "{model} {code}: {said}");
        }
        assert_eq!(gw.mock.received().len(), 3, "{model} {code}: two retries");
        let chat = the_chat(&gw.app).await;
        assert_eq!(chat.status, "error", "{model} {code}");
        assert!(chat.error.unwrap().contains(upstream), "{model} {code}");
    }
}

#[actix_web::test]
async fn an_overloaded_provider_is_retried_and_then_answers() {
    let gw = spawn_gateway().await;
    gw.mock.fail_with([
        Fault::Vendor {
            code: 529,
            retry_after: None,
        },
        Fault::Vendor {
            code: 500,
            retry_after: None,
        },
    ]);
    let (code, _, answer) = post(&gw, &hi(CLAUDE)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(answer, gw.mock.sent_body());
    assert_eq!(gw.mock.received().len(), 3);
    assert_eq!(the_chat(&gw.app).await.status, "ok");
}

#[actix_web::test]
async fn an_error_event_mid_stream_passes_through_or_is_translated() {
    for model in [CLAUDE, GPT] {
        let gw = spawn_gateway().await;
        gw.mock.fail_with([Fault::ErrorEventAfter(4)]);
        let mut body = hi(model);
        body["stream"] = json!(true);
        let (code, _, stream) = post(&gw, &body).await;
        assert_eq!(code, StatusCode::OK, "{model}");
        let error = final_error_event(&stream);
        if model == CLAUDE {
            assert_eq!(stream, gw.mock.sent_body(), "as the provider sent it");
            assert_eq!(error["type"], "overloaded_error");
        }
        assert_eq!(error["message"], "mock overloaded", "{model}: {error}");
        let chat = the_chat(&gw.app).await;
        assert_eq!(chat.status, "error", "{model}");
        assert_eq!(chat.error.as_deref(), Some("mock overloaded"), "{model}");
    }
}
