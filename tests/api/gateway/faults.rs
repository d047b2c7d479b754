//! Upstream faults: each gets its status (before the first byte) or an
//! error event (after it), retries happen only before the first byte, and
//! each outcome is recorded.

use std::time::Duration;

use actix_web::http::StatusCode;
use serde_json::Value;

use super::*;
use crate::helpers::error_message;
use crate::mock_upstream::{Fault, REPLY};

fn status(code: u16, retry_after: Option<&'static str>) -> Fault {
    Fault::Status {
        code,
        retry_after,
        message: "mock says no",
    }
}

#[actix_web::test]
async fn a_client_error_upstream_passes_through_with_its_message() {
    let gw = spawn_gateway().await;
    for model in ["gpt-4o", "claude-haiku-4-5"] {
        gw.mock.fail_with([status(400, None)]);
        let before = gw.mock.received().len();
        let (code, body) = gw.complete(&hello(model)).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
        assert!(error_message(&body, "invalid_request_error").contains("mock says no"));
        assert_eq!(gw.mock.received().len(), before + 1, "a 400 is not retried");
    }
    let chats = wait_for_chats(&gw.app, 2).await;
    assert!(chats.iter().all(|c| c.status == "error"));
    assert!(chats[0].error.as_deref().unwrap().contains("mock says no"));
}

#[actix_web::test]
async fn an_upstream_401_is_the_instances_fault_a_502() {
    let gw = spawn_gateway().await;
    gw.mock.fail_with([status(401, None)]);
    let (code, body) = gw.complete(&hello("gpt-4o")).await;
    assert_eq!(code, StatusCode::BAD_GATEWAY);
    let message = error_message(&body, "upstream_error");
    assert!(
        message.contains("401") && message.contains("mock says no"),
        "{message}"
    );
    assert!(
        !body.to_string().contains(OPENAI_KEY),
        "the provider key never shows"
    );
}

#[actix_web::test]
async fn server_errors_are_retried_then_succeed() {
    let gw = spawn_gateway().await;
    gw.mock.fail_with([status(500, None), status(529, None)]);
    let (code, body) = gw.complete(&hello("claude-haiku-4-5")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], REPLY);
    assert_eq!(gw.mock.received().len(), 3);
    assert_eq!(the_chat(&gw.app).await.status, "ok");
}

#[actix_web::test]
async fn retries_stop_after_two_and_server_errors_become_502() {
    let gw = spawn_gateway().await;
    gw.mock.fail_with([
        status(503, None),
        status(503, None),
        status(529, None),
        status(500, None),
    ]);
    let (code, body) = gw.complete(&hello("gpt-4o")).await;
    assert_eq!(code, StatusCode::BAD_GATEWAY);
    assert!(error_message(&body, "upstream_error").contains("529"));
    assert_eq!(gw.mock.received().len(), 3, "one try and two retries");
}

#[actix_web::test]
async fn rate_limits_honour_retry_after_and_stay_429() {
    let gw = spawn_gateway().await;
    gw.mock.fail_with([
        status(429, Some("1")),
        status(429, Some("1")),
        status(429, Some("7")),
    ]);
    let started = std::time::Instant::now();
    let response = gw
        .app
        .request(actix_web::http::Method::POST, "/api/v1/chat/completions")
        .send_body(hello("gpt-4o").to_string())
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers().get("retry-after").unwrap(), "7");
    assert_eq!(gw.mock.received().len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "each retry waited out Retry-After"
    );
}

#[actix_web::test]
async fn an_unreachable_provider_is_a_502_after_retries() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let gw = spawn_gateway_with(|c| c.openai.base_url = Some(format!("http://{address}/v1"))).await;
    let mut response = gw.open_stream(&hello("gpt-4o")).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let retry = response.headers().get("x-should-retry");
    assert_eq!(retry.unwrap(), "false", "mindgate retried already");
    let body: Value = response.json().await.expect("JSON error");
    assert!(error_message(&body, "upstream_error").contains("cannot connect"));
    assert_eq!(the_chat(&gw.app).await.status, "error");
}

#[actix_web::test]
async fn a_provider_that_never_answers_is_a_504() {
    let gw = spawn_gateway_with(|c| c.first_byte_timeout = Duration::from_millis(300)).await;
    gw.mock
        .fail_with([Fault::StallHead(Duration::from_secs(2))]);
    let (code, body) = gw.complete(&hello("gpt-4o")).await;
    assert_eq!(code, StatusCode::GATEWAY_TIMEOUT);
    assert!(error_message(&body, "timeout_error").contains("300 ms"));
    assert_eq!(gw.mock.received().len(), 1, "timeouts are not retried");
}

/// The error event a stream ends with, and everything before it.
fn ends_with_error(stream: &str) -> Value {
    let data = event_data(stream);
    let error = data
        .iter()
        .find(|d| d.get("error").is_some())
        .unwrap_or_else(|| panic!("no error event in {stream}"));
    error["error"].clone()
}

#[actix_web::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event_and_is_not_retried() {
    for model in ["gpt-4o", "claude-haiku-4-5"] {
        let gw = spawn_gateway().await;
        gw.mock.fail_with([Fault::CutAfter(4)]);
        let (code, stream) = gw.stream(&streamed(hello(model))).await;
        assert_eq!(code, StatusCode::OK);
        assert!(stream.contains("Hello"), "{model}: {stream}");
        let error = ends_with_error(&stream);
        assert_eq!(error["type"], "upstream_error", "{model}");
        assert!(!stream.contains("[DONE]\n\n") || stream.ends_with("data: [DONE]\n\n"));
        assert_eq!(
            gw.mock.received().len(),
            1,
            "{model}: no retry after the first byte"
        );
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
async fn an_error_event_after_200_reaches_the_client() {
    for model in ["gpt-4o", "claude-haiku-4-5"] {
        let gw = spawn_gateway().await;
        gw.mock.fail_with([Fault::ErrorEventAfter(4)]);
        let (code, stream) = gw.stream(&streamed(hello(model))).await;
        assert_eq!(code, StatusCode::OK);
        let error = ends_with_error(&stream);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("mock overloaded"),
            "{model}: {stream}"
        );
        let chat = the_chat(&gw.app).await;
        assert_eq!(chat.status, "error");
        assert_eq!(chat.error.as_deref(), Some("mock overloaded"));
    }
}

#[actix_web::test]
async fn a_stream_that_goes_silent_times_out_with_an_error_event() {
    let gw = spawn_gateway_with(|c| c.idle_timeout = Duration::from_millis(300)).await;
    gw.mock.fail_with([Fault::SilentAfter(3)]);
    let (code, stream) = gw.stream(&streamed(hello("claude-haiku-4-5"))).await;
    assert_eq!(code, StatusCode::OK);
    let error = ends_with_error(&stream);
    assert_eq!(error["type"], "timeout_error");
    assert!(error["message"].as_str().unwrap().contains("300 ms"));
    assert_eq!(the_chat(&gw.app).await.status, "error");
}

#[actix_web::test]
async fn a_whole_answer_may_outlast_the_idle_timeout_while_it_keeps_coming() {
    // Six pieces 250 ms apart: 1.25 s in all, never silent for the 1 s allowed.
    let gw = spawn_gateway_with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    for model in ["gpt-4o", "claude-haiku-4-5"] {
        gw.mock.fail_with([Fault::Trickle {
            pieces: 6,
            pause: Duration::from_millis(250),
        }]);
        let (code, body) = gw.complete(&hello(model)).await;
        assert_eq!(code, StatusCode::OK, "{model}: {body}");
        assert_eq!(body["choices"][0]["message"]["content"], REPLY, "{model}");
    }
    let chats = wait_for_chats(&gw.app, 2).await;
    assert!(chats.iter().all(|c| c.status == "ok"), "{chats:#?}");
}

#[actix_web::test]
async fn a_whole_answer_silent_past_the_idle_timeout_is_a_504() {
    let gw = spawn_gateway_with(|c| c.idle_timeout = Duration::from_millis(300)).await;
    gw.mock.fail_with([Fault::Trickle {
        pieces: 2,
        pause: Duration::from_millis(1500),
    }]);
    let (code, body) = gw.complete(&hello("gpt-4o")).await;
    assert_eq!(code, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(error_message(&body, "timeout_error").contains("300 ms"));
    assert_eq!(gw.mock.received().len(), 1, "a begun answer is not retried");
    assert_eq!(the_chat(&gw.app).await.status, "error");
}

#[actix_web::test]
async fn an_upstream_that_refuses_stream_options_is_asked_again_without() {
    let gw = spawn_gateway().await;
    let refusal = || Fault::Status {
        code: 400,
        retry_after: None,
        message: "Unrecognized request argument supplied: stream_options",
    };
    gw.mock.fail_with([refusal()]);
    let (code, stream) = gw.stream(&streamed(hello("gpt-4o"))).await;
    assert_eq!(code, StatusCode::OK, "{stream}");
    assert_eq!(streamed_text(&stream), REPLY);
    let sent = gw.mock.received();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].body.get("stream_options").is_some());
    assert!(
        sent[1].body.get("stream_options").is_none(),
        "{}",
        sent[1].body
    );

    // A client that asked for usage itself gets the refusal.
    gw.mock.fail_with([refusal()]);
    let mut request = streamed(hello("gpt-4o"));
    request["stream_options"] = serde_json::json!({ "include_usage": true });
    let (code, body) = gw.complete(&request).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(error_message(&body, "invalid_request_error").contains("stream_options"));
}
