//! What upstreams send: keys they echo, events past the size limit, errors
//! inside a 200 stream, malformed streams, JSON where a stream was asked
//! for, and failures mindgate already retried.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::helpers::error_message;
use crate::mock_upstream::{Fault, COMPLETION_TOKENS, PROMPT_TOKENS, REPLY};

/// One model per provider: OpenAI's streams pass through to OpenAI-style
/// clients, Anthropic's are translated.
const MODELS: [&str; 2] = ["gpt-4o", "claude-haiku-4-5"];

fn prompt(model: &str) -> Value {
    json!({ "model": model, "prompt": "\n\nHuman: Hi there\n\nAssistant:" })
}

/// Asserts that `text` holds no provider key, and that one was redacted.
fn assert_redacted(text: &str, what: &str) {
    for key in [OPENAI_KEY, ANTHROPIC_KEY] {
        assert!(!text.contains(key), "{what}: a key shows in {text}");
    }
    assert!(text.contains("[redacted]"), "{what}: {text}");
}

/// The data of a stream's `error` event.
fn stream_error(stream: &str) -> Value {
    event_data(stream)
        .into_iter()
        .find_map(|data| data.get("error").cloned())
        .unwrap_or_else(|| panic!("no error event in {stream}"))
}

/// Asserts an OpenAI-style stream ended with an error of this type, then
/// `[DONE]`, and returns the error's message.
fn assert_ends_with_error(stream: &str, kind: &str, what: &str) -> String {
    let data = event_data(stream);
    assert_eq!(data.last(), Some(&json!("[DONE]")), "{what}: {stream}");
    let error = &data[data.len() - 2]["error"];
    assert_eq!(error["type"], kind, "{what}: {stream}");
    error["message"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn keys_echoed_in_errors_reach_neither_the_client_nor_the_chat_log() {
    let echo_401 = || Fault::Status {
        code: 401,
        retry_after: None,
        message: "Incorrect API key provided: {key}",
    };
    for model in MODELS {
        let gw = spawn_gateway().await;
        gw.mock.fail_with([echo_401(), echo_401()]);
        for request in [hello(model), streamed(hello(model))] {
            let (code, body) = gw.complete(&request).await;
            assert_eq!(code, StatusCode::BAD_GATEWAY, "{model}: {body}");
            assert_redacted(&error_message(&body, "upstream_error"), model);
        }
        gw.mock.fail_with([Fault::StreamError {
            after: 2,
            error_type: "authentication_error",
            message: "invalid x-api-key: {key}",
        }]);
        let (code, stream) = gw.stream(&streamed(hello(model))).await;
        assert_eq!(code, StatusCode::OK);
        assert_redacted(&stream, model);
        for chat in wait_for_chats(&gw.app, 3).await {
            assert_eq!(chat.status, "error", "{model}");
            assert_redacted(chat.error.as_deref().unwrap(), model);
        }
    }
}

#[actix_web::test]
async fn keys_in_answers_are_redacted_whole_and_streamed() {
    // Streamed, the event holding the key comes in two chunks cut inside it.
    for model in MODELS {
        let gw = spawn_gateway().await;
        gw.mock.fail_with([Fault::Reply("my key is {key}!")]);
        let (code, body) = gw.complete(&hello(model)).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        assert_redacted(&body.to_string(), model);
        gw.mock.fail_with([Fault::Reply("my key is {key}!")]);
        let (code, stream) = gw.stream(&streamed(hello(model))).await;
        assert_eq!(code, StatusCode::OK);
        assert_redacted(&stream, model);
        assert!(streamed_text(&stream).starts_with("my key is "), "{stream}");
        for chat in wait_for_chats(&gw.app, 2).await {
            assert_eq!(chat.status, "ok", "{model}");
            assert_redacted(&chat.conversation, model);
        }
    }
}

#[actix_web::test]
async fn an_event_past_the_limit_ends_the_stream_and_its_upstream() {
    // 300 MB of one event with no blank line, made by the mock as it goes.
    const HUGE: usize = 300 << 20;
    for model in MODELS {
        let gw = spawn_gateway().await;
        gw.mock.fail_with([Fault::HugeEvent(HUGE)]);
        let (code, stream) = gw.stream(&streamed(hello(model))).await;
        assert_eq!(code, StatusCode::OK);
        let message = assert_ends_with_error(&stream, "upstream_error", model);
        assert!(
            message.contains("larger than the limit of 4194304 bytes"),
            "{message}"
        );
        let dropped = Instant::now();
        while gw.mock.closed_at().is_none() {
            assert!(
                dropped.elapsed() < Duration::from_secs(3),
                "{model}: mindgate still reads the upstream"
            );
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        let sent = gw.mock.streamed_bytes();
        assert!(
            sent < 64 << 20,
            "{model}: the mock sent {sent} bytes before mindgate let go"
        );
        let chat = the_chat(&gw.app).await;
        assert_eq!(chat.status, "error");
        assert!(chat.error.unwrap().contains("larger than the limit"));
    }
}

#[actix_web::test]
async fn answers_past_the_limit_are_errors_whole_and_streamed() {
    // The mock's answers are a few hundred bytes.
    let gw = spawn_gateway_with(|c| c.max_answer_bytes = 100).await;
    for model in MODELS {
        let (code, body) = gw.complete(&hello(model)).await;
        assert_eq!(code, StatusCode::BAD_GATEWAY, "{model}: {body}");
        let message = error_message(&body, "upstream_error");
        assert!(
            message.contains("larger than the limit of 100 bytes"),
            "{message}"
        );
        gw.mock.fail_with([Fault::JsonAnswer("application/json")]);
        let (code, stream) = gw.stream(&streamed(hello(model))).await;
        assert_eq!(code, StatusCode::OK);
        let message = assert_ends_with_error(&stream, "upstream_error", model);
        assert!(message.contains("larger than the limit"), "{message}");
    }
    for chat in wait_for_chats(&gw.app, 4).await {
        assert_eq!(chat.status, "error");
        assert!(chat.error.unwrap().contains("larger than the limit"));
    }
}

#[actix_web::test]
async fn errors_inside_a_stream_are_mapped_and_end_it_in_the_clients_protocol() {
    let cases = [
        ("authentication_error", "upstream_error"),
        ("permission_error", "upstream_error"),
        ("rate_limit_error", "rate_limit_error"),
        ("overloaded_error", "upstream_error"),
        ("server_error", "upstream_error"),
        ("invalid_request_error", "invalid_request_error"),
    ];
    for model in MODELS {
        let gw = spawn_gateway().await;
        for (error_type, expected) in cases {
            let what = format!("{model}, {error_type}");
            let fault = || Fault::StreamError {
                after: 2,
                error_type,
                message: "mock says no",
            };
            gw.mock.fail_with([fault()]);
            let (_, stream) = gw.stream(&streamed(hello(model))).await;
            let message = assert_ends_with_error(&stream, expected, &what);
            assert_eq!(message, "mock says no");

            gw.mock.fail_with([fault()]);
            let (_, stream) = gw.stream(&streamed(prompt(model))).await;
            let (name, data) = events(&stream).pop().unwrap();
            assert_eq!(name.as_deref(), Some("error"), "{what}: {stream}");
            let data: Value = serde_json::from_str(&data).unwrap();
            assert_eq!(data["error"]["type"], expected, "{what}");
            assert_eq!(data["error"]["message"], "mock says no", "{what}");
        }
        let chats = wait_for_chats(&gw.app, 2 * cases.len()).await;
        assert!(chats.iter().all(|c| c.status == "error"), "{chats:#?}");
        assert!(chats
            .iter()
            .all(|c| c.error.as_deref() == Some("mock says no")));
    }
}

#[actix_web::test]
async fn every_sse_line_ending_is_read() {
    // CRLF chunks are cut between the CR and the LF.
    for ending in ["\r\n", "\r"] {
        for model in MODELS {
            let gw = spawn_gateway().await;
            gw.mock.fail_with([Fault::LineEnding(ending)]);
            let (code, stream) = gw.stream(&streamed(hello(model))).await;
            assert_eq!(code, StatusCode::OK);
            assert_eq!(
                streamed_text(&stream),
                REPLY,
                "{model} {ending:?}: {stream}"
            );
            assert!(stream.ends_with("data: [DONE]\n\n"), "{stream}");
            gw.mock.fail_with([Fault::LineEnding(ending)]);
            let (_, stream) = gw.stream(&streamed(prompt(model))).await;
            let text: String = event_data(&stream)
                .iter()
                .filter_map(|e| e["completion"].as_str())
                .collect();
            assert_eq!(text, REPLY, "{model} {ending:?}: {stream}");
            let chats = wait_for_chats(&gw.app, 2).await;
            assert!(chats.iter().all(|c| c.status == "ok"), "{chats:#?}");
        }
    }
}

#[actix_web::test]
async fn a_malformed_event_passes_through_noted_or_ends_a_translated_stream() {
    let gw = spawn_gateway().await;
    // OpenAI to an OpenAI client: relayed as it came, the chat log says so.
    gw.mock.fail_with([Fault::NotJson(2)]);
    let (_, stream) = gw.stream(&streamed(hello("gpt-4o"))).await;
    assert!(stream.contains("data: {not json\n\n"), "{stream}");
    assert_eq!(streamed_text(&stream), REPLY);
    assert!(stream.ends_with("data: [DONE]\n\n"));
    let chat = the_chat(&gw.app).await;
    assert_eq!(chat.status, "error");
    assert!(
        chat.error.as_deref().unwrap().contains("malformed"),
        "{chat:?}"
    );
    assert!(chat.conversation.ends_with(REPLY));

    // Translated (to the legacy style, from Anthropic): the stream ends.
    for request in [
        streamed(prompt("gpt-4o")),
        streamed(hello("claude-haiku-4-5")),
    ] {
        gw.mock.fail_with([Fault::NotJson(2)]);
        let (_, stream) = gw.stream(&request).await;
        assert!(!stream.contains("not json"), "{stream}");
        let error = stream_error(&stream);
        assert_eq!(error["type"], "upstream_error", "{request}: {stream}");
        assert!(error["message"].as_str().unwrap().contains("malformed"));
    }
    let chats = wait_for_chats(&gw.app, 3).await;
    assert!(chats.iter().all(|c| c.status == "error"), "{chats:#?}");
}

#[actix_web::test]
async fn a_json_answer_to_a_stream_request_is_streamed() {
    for content_type in ["application/json", "text/event-stream"] {
        for model in MODELS {
            let gw = spawn_gateway().await;
            let what = format!("{model} as {content_type}");
            gw.mock.fail_with([Fault::JsonAnswer(content_type)]);
            let mut request = streamed(hello(model));
            request["stream_options"] = json!({ "include_usage": true });
            let (code, stream) = gw.stream(&request).await;
            assert_eq!(code, StatusCode::OK);
            assert_eq!(streamed_text(&stream), REPLY, "{what}: {stream}");
            let data = event_data(&stream);
            assert_eq!(data.last(), Some(&json!("[DONE]")), "{what}");
            assert_eq!(
                data[data.len() - 2]["usage"]["completion_tokens"],
                COMPLETION_TOKENS
            );

            gw.mock.fail_with([Fault::JsonAnswer(content_type)]);
            let (_, stream) = gw.stream(&streamed(prompt(model))).await;
            let data = event_data(&stream);
            let text: String = data
                .iter()
                .filter_map(|e| e["completion"].as_str())
                .collect();
            assert_eq!(text, REPLY, "{what}: {stream}");
            assert_eq!(data.last().unwrap()["stop_reason"], "stop_sequence");

            for chat in wait_for_chats(&gw.app, 2).await {
                assert_eq!(chat.status, "ok", "{what}: {chat:?}");
                assert!(chat.conversation.ends_with(REPLY));
                assert_eq!(chat.prompt_tokens, Some(PROMPT_TOKENS));
            }
        }
    }
}

fn status(code: u16, retry_after: Option<&'static str>) -> Fault {
    Fault::Status {
        code,
        retry_after,
        message: "mock says no",
    }
}

fn header<'a>(response: &'a awc::ClientResponse, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[actix_web::test]
async fn failures_mindgate_retried_tell_the_client_not_to_retry() {
    let gw = spawn_gateway().await;
    gw.mock
        .fail_with([status(503, None), status(500, None), status(529, None)]);
    let response = gw.open_stream(&hello("gpt-4o")).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(header(&response, "x-should-retry"), Some("false"));
    assert_eq!(gw.mock.received().len(), 3);

    gw.mock.fail_with([
        status(429, Some("0")),
        status(429, Some("0")),
        status(429, Some("2")),
    ]);
    let response = gw.open_stream(&streamed(hello("claude-haiku-4-5"))).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "x-should-retry"), Some("false"));
    assert_eq!(header(&response, "retry-after"), Some("2"));
    assert_eq!(gw.mock.received().len(), 6);

    // A wait too long for mindgate is the client's to make.
    gw.mock.fail_with([status(429, Some("60"))]);
    let response = gw.open_stream(&hello("gpt-4o")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "x-should-retry"), None);
    assert_eq!(header(&response, "retry-after"), Some("60"));
    assert_eq!(gw.mock.received().len(), 7);
}

#[actix_web::test]
async fn failures_not_retried_leave_the_client_free_to_retry() {
    let gw = spawn_gateway_with(|c| c.retries = 0).await;
    gw.mock.fail_with([status(503, None)]);
    let response = gw.open_stream(&hello("gpt-4o")).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(header(&response, "x-should-retry"), None);
    assert_eq!(gw.mock.received().len(), 1);
}
