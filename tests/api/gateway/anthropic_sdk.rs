//! The official `anthropic` Python package pointed at mindgate's Messages
//! API (`tests/clients/anthropic_sdk.py`): for a Claude model passed
//! through to the Anthropic mock, an OpenAI model translated to the OpenAI
//! mock, and `echo`. Skipped (loudly) where Python or the package is
//! missing, unless MINDGATE_REQUIRE_PYTHON is set (CI sets it, after
//! installing the package).

use super::*;
use crate::helpers::{python_with, run_python};
use crate::mock_upstream::{
    tool_input, vendor_error, Fault, MockAnswer, COMPLETION_TOKENS, COUNTED_TOKENS, PROMPT_TOKENS,
    REPLY, SIGNATURE, THINKING_PIECES,
};

/// The models each test goes through: passed through, translated, built in.
const MODELS: [&str; 3] = ["claude-haiku-4-5", "gpt-4o-mini", "echo"];

/// Runs the script against `base_url` (`…/api` for mindgate).
async fn sdk(base_url: String, key: &str, model: &str, mode: &str, extra: &[&str]) -> Value {
    let args = [base_url, key.to_owned(), model.to_owned(), mode.to_owned()]
        .into_iter()
        .chain(extra.iter().map(|s| (*s).to_owned()))
        .collect();
    run_python("anthropic_sdk.py", args).await
}

async fn through_mindgate(gw: &Gateway, model: &str, mode: &str, extra: &[&str]) -> Value {
    sdk(gw.app.url("/api"), &gw.app.api_key, model, mode, extra).await
}

/// The strings of a JSON array, joined.
fn joined(pieces: &Value) -> String {
    pieces
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect()
}

/// What a model answers "Hi there" with, and the usage it reports.
fn expected(model: &str) -> (&'static str, i64, i64) {
    match model {
        "echo" => ("Hi there", 2, 2),
        _ => (REPLY, PROMPT_TOKENS, COMPLETION_TOKENS),
    }
}

#[actix_web::test]
async fn the_official_anthropic_sdk_chats_through_mindgate() {
    if !python_with("anthropic", "anthropic") {
        return;
    }
    let gw = spawn_gateway().await;
    for model in MODELS {
        let result = through_mindgate(&gw, model, "chat", &[]).await;
        let (text, input, output) = expected(model);
        let whole = &result["whole"];
        assert_eq!(
            whole["content"],
            json!([{ "type": "text", "text": text }]),
            "{model}: {result}"
        );
        assert_eq!(whole["role"], "assistant", "{model}");
        assert_eq!(whole["stop_reason"], "end_turn", "{model}");
        assert!(!whole["id"].as_str().unwrap().is_empty(), "{model}");
        assert_eq!(whole["usage"]["input_tokens"], input, "{model}: {whole}");
        assert_eq!(whole["usage"]["output_tokens"], output, "{model}: {whole}");

        // create(stream=True): Anthropic's events, in order (the SDK
        // leaves pings out).
        let types: Vec<&str> = result["event_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(types.first(), Some(&"message_start"), "{model}: {types:?}");
        assert_eq!(
            &types[types.len() - 4..],
            [
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ],
            "{model}"
        );
        assert_eq!(types[1], "content_block_start", "{model}: {types:?}");
        assert_eq!(result["streamed_text"], text, "{model}");

        // messages.stream: its text stream and final message.
        let pieces = &result["text_stream"];
        assert!(pieces.as_array().unwrap().len() >= 2, "{model}: {pieces}");
        assert_eq!(joined(pieces), text, "{model}");
        let final_message = &result["final"];
        assert_eq!(final_message["content"], whole["content"], "{model}");
        assert_eq!(final_message["stop_reason"], "end_turn", "{model}");
        assert_eq!(final_message["usage"]["input_tokens"], input, "{model}");
        assert_eq!(final_message["usage"]["output_tokens"], output, "{model}");

        // count_tokens: Anthropic's own count, else an estimate.
        let counted = result["count_tokens"].as_i64().unwrap();
        if model.starts_with("claude-") {
            assert_eq!(counted, COUNTED_TOKENS, "forwarded to the provider");
            let sent = gw.mock.received();
            let count = sent
                .iter()
                .find(|r| r.path == "/v1/messages/count_tokens")
                .expect("count_tokens reached the provider");
            assert_eq!(count.body["messages"][0]["content"], "Hi there");
        } else {
            assert!(counted >= 1, "{model}: an estimate: {counted}");
        }

        // models.list, in Anthropic's shape.
        let models = result["models"].as_array().unwrap();
        let ids: Vec<&str> = models.iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert!(ids.contains(&"echo"), "{ids:?}");
        for listed in models {
            assert_eq!(listed["type"], "model", "{listed}");
            assert!(!listed["display_name"].as_str().unwrap().is_empty());
            assert_eq!(listed["created_at_is_a_datetime"], true, "{listed}");
        }
        assert_eq!(result["has_more"], false);
        assert_eq!(result["first_id"], ids[0]);
        assert_eq!(result["last_id"], ids[ids.len() - 1]);
    }
    // Each of the three chats of each model is one chat log.
    let chats = wait_for_chats(&gw.app, 9).await;
    assert!(chats.iter().all(|c| c.status == "ok"), "{chats:#?}");
    for (chat, model) in chats.iter().zip(MODELS.iter().flat_map(|m| [*m; 3])) {
        assert_eq!(chat.model.as_deref(), Some(model));
        let (text, _, _) = expected(model);
        assert!(
            chat.conversation.contains(&format!("Assistant: {text}")),
            "{model}: {}",
            chat.conversation
        );
    }
    let passed = gw
        .mock
        .received()
        .into_iter()
        .filter(|r| r.path == "/v1/messages")
        .collect::<Vec<_>>();
    assert_eq!(passed.len(), 3, "the Claude model's three chats");
    for request in passed {
        // The SDK's own version, whichever it is.
        assert!(request
            .header("anthropic-version")
            .is_some_and(|v| v.len() == "2023-06-01".len()));
        assert_eq!(request.header("x-api-key"), Some(ANTHROPIC_KEY));
    }
}

/// The tool-use round trip's three answers (the call whole, the call
/// streamed, the answer to the tool's result), as the SDK read them.
fn assert_round_trip(result: &Value, model: &str, thinking: bool) {
    let thought = json!({ "type": "thinking", "thinking": THINKING_PIECES.concat(),
                          "signature": SIGNATURE });
    let whole = &result["whole"];
    let mut content = whole["content"].as_array().unwrap().clone();
    if thinking {
        assert_eq!(content.remove(0), thought, "{model}: {whole}");
    }
    assert_eq!(
        content[0],
        json!({ "type": "text", "text": REPLY }),
        "{model}: {whole}"
    );
    let call = &content[1];
    assert_eq!(call["type"], "tool_use", "{model}: {whole}");
    assert_eq!(call["name"], "get_weather", "{model}");
    assert_eq!(call["input"], tool_input(), "{model}");
    assert!(!call["id"].as_str().unwrap().is_empty(), "{model}");
    assert_eq!(content.len(), 2, "{model}: {whole}");
    assert_eq!(whole["stop_reason"], "tool_use", "{model}");

    // Streamed, the input came in pieces cut inside a string, an escape
    // and a number; the SDK put them back together.
    let streamed = &result["final"];
    assert_eq!(streamed["content"], whole["content"], "{model}: {result}");
    assert_eq!(streamed["stop_reason"], "tool_use", "{model}");
    assert_eq!(joined(&result["text_stream"]), REPLY, "{model}");

    let answered = &result["answered"];
    let text = json!({ "type": "text", "text": REPLY });
    let content = if thinking {
        json!([thought, text])
    } else {
        json!([text])
    };
    assert_eq!(answered["content"], content, "{model}: {answered}");
    assert_eq!(answered["stop_reason"], "end_turn", "{model}");
}

#[actix_web::test]
async fn a_tool_use_round_trip_passes_through_as_the_provider_answered() {
    if !python_with("anthropic", "anthropic") {
        return;
    }
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    // The SDK straight to the mock first: what pass-through must give.
    let direct = sdk(
        gw.mock.address.clone(),
        ANTHROPIC_KEY,
        "claude-haiku-4-5",
        "tools",
        &["thinking"],
    )
    .await;
    assert_round_trip(&direct, "claude-haiku-4-5 (direct)", true);
    let through = through_mindgate(&gw, "claude-haiku-4-5", "tools", &["thinking"]).await;
    assert_eq!(through, direct, "through mindgate as from the provider");

    // The tool's result went up as the SDK sent it, after the assistant's
    // turn with its thinking and signature.
    let sent = gw.mock.last().body;
    let turns = sent["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 3, "{sent}");
    assert_eq!(turns[1]["content"], through["final"]["content"], "{sent}");
    assert_eq!(
        turns[2]["content"],
        json!([{ "type": "tool_result", "tool_use_id": through["final"]["content"][2]["id"],
                 "content": "Sunny, 24°C" }])
    );
    assert_eq!(sent["thinking"]["type"], "enabled");
    let chats = wait_for_chats(&gw.app, 3).await;
    assert!(
        chats[0].conversation.contains("[tool_use: get_weather]"),
        "{}",
        chats[0].conversation
    );
}

#[actix_web::test]
async fn a_tool_use_round_trip_is_translated_to_and_from_an_openai_provider() {
    if !python_with("anthropic", "anthropic") {
        return;
    }
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    let result = through_mindgate(&gw, "gpt-4o-mini", "tools", &[]).await;
    assert_round_trip(&result, "gpt-4o-mini", false);

    // Upstream, the tool went as a function, and its result as a tool
    // message answering the call by the id the client was given.
    let sent = gw.mock.received();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].path, "/v1/chat/completions");
    assert_eq!(sent[0].body["tools"][0]["function"]["name"], "get_weather");
    let last = &sent[2].body["messages"];
    let id = result["final"]["content"][1]["id"].as_str().unwrap();
    let call = &last[1]["tool_calls"][0];
    assert_eq!(last[1]["role"], "assistant", "{last}");
    assert_eq!(call["id"], id, "{last}");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, tool_input());
    assert_eq!(
        (
            &last[2]["role"],
            &last[2]["tool_call_id"],
            &last[2]["content"]
        ),
        (&json!("tool"), &json!(id), &json!("Sunny, 24°C")),
        "{last}"
    );
    let chats = wait_for_chats(&gw.app, 3).await;
    assert!(chats.iter().all(|c| c.status == "ok"), "{chats:#?}");
}

/// A refusal as the SDK raised it: its class and status, and the message
/// mindgate sent, in Anthropic's envelope and in the exception's text.
fn assert_raised(result: &Value, case: &str, class: &str, status: u16, error_type: &str) -> String {
    let raised = &result[case];
    assert_eq!(raised["class"], class, "{case}: {raised}");
    assert_eq!(raised["status"], status, "{case}: {raised}");
    let body = &raised["body"];
    assert_eq!(body["type"], "error", "{case}: {body}");
    assert_eq!(body["error"]["type"], error_type, "{case}: {body}");
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty(), "{case}");
    assert!(
        raised["message"].as_str().unwrap().contains(&message),
        "{case}: the exception says {}",
        raised["message"]
    );
    message
}

#[actix_web::test]
async fn the_sdks_exceptions_carry_mindgates_messages() {
    if !python_with("anthropic", "anthropic") {
        return;
    }
    for model in MODELS {
        let gw = spawn_gateway().await;
        // For the last call: more than mindgate's retries.
        gw.mock.fail_with(
            std::iter::repeat_with(|| Fault::Vendor {
                code: 429,
                retry_after: Some("0"),
            })
            .take(3),
        );
        let result = through_mindgate(&gw, model, "errors", &[]).await;
        // mindgate's own refusals: the SDK's class for each status.
        let refusals = [
            (
                "bad_body",
                "BadRequestError",
                400,
                "invalid_request_error",
                "messages",
            ),
            (
                "wrong_key",
                "AuthenticationError",
                401,
                "authentication_error",
                "invalid API key",
            ),
            (
                "unknown_character",
                "NotFoundError",
                404,
                "not_found_error",
                "no-such-character",
            ),
        ];
        for (case, class, status, error_type, says) in refusals {
            let message = assert_raised(&result, case, class, status, error_type);
            assert!(message.contains(says), "{model}: {case}: {message}");
        }
        if model == "echo" {
            assert_eq!(
                result["rate_limited"]["class"],
                Value::Null,
                "echo has no upstream"
            );
            continue;
        }
        let limit = assert_raised(
            &result,
            "rate_limited",
            "RateLimitError",
            429,
            "rate_limit_error",
        );
        let (_, upstream_message) = vendor_error(model.starts_with("claude-"), 429);
        if model.starts_with("claude-") {
            assert_eq!(limit, upstream_message, "the provider's error, unmodified");
        } else {
            assert!(limit.contains(upstream_message), "{model}: {limit}");
        }
        // Refused before a chat began, the others left no chat log.
        let chat = the_chat(&gw.app).await;
        assert_eq!(chat.status, "error");
        assert!(chat.error.unwrap().contains(upstream_message));
    }
}
