//! Both request styles against both providers, whole and streamed: the
//! answer takes the request's shape, whatever the provider.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::mock_upstream::{self, COMPLETION_TOKENS, PROMPT_TOKENS, REPLY, REPLY_WORDS};

fn prompt(model: &str) -> Value {
    json!({ "model": model, "prompt": "Be brief.\n\nHuman: Hi there\n\nAssistant:" })
}

#[actix_web::test]
async fn messages_to_openai_return_the_providers_answer_as_is() {
    let gw = spawn_gateway().await;
    let (status, body) = gw.complete(&hello("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, mock_upstream::openai_completion("gpt-4o-mini"));

    let sent = gw.mock.last();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(&*format!("Bearer {OPENAI_KEY}"))
    );
    assert_eq!(sent.body["messages"], hello("x")["messages"]);
    assert!(sent.body.get("stream").is_none(), "{}", sent.body);
}

#[actix_web::test]
async fn messages_reach_an_openai_provider_exactly_as_sent() {
    let gw = spawn_gateway().await;
    // Fields in unusual orders, fields mindgate does not know, null content,
    // parts of every kind, tool calls and their answers.
    let messages = json!([
        { "content": "Be brief.", "role": "system", "name": "rules" },
        { "role": "developer", "content": "x", "x_future": { "a": [1, 2.5, null] } },
        { "role": "user", "content": [
            { "type": "text", "text": "Look", "cache_control": { "type": "ephemeral" } },
            { "image_url": { "url": "https://example.com/a.png", "detail": "low" }, "type": "image_url" },
            { "type": "input_audio", "input_audio": { "data": "AAAA", "format": "wav" } }
        ] },
        { "role": "assistant", "content": null, "refusal": null, "tool_calls": [
            { "id": "c1", "type": "function", "function": { "name": "f", "arguments": "{\"a\":1}" } }
        ] },
        { "role": "tool", "tool_call_id": "c1", "content": "rain" },
        { "role": "assistant", "tool_calls": [] }
    ]);
    let request = json!({ "model": "gpt-4o-mini", "messages": messages });
    let (status, body) = gw.complete(&request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Compared as text: the same fields in the same order.
    assert_eq!(
        gw.mock.last().body["messages"].to_string(),
        messages.to_string()
    );
}

#[actix_web::test]
async fn catalog_aliases_send_the_upstream_model_id() {
    let gw = spawn_gateway().await;
    let (status, _) = gw.complete(&hello("gpt-4-0314")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gw.mock.last().body["model"], "gpt-4o");
    let (status, _) = gw.complete(&hello("claude-2")).await;
    assert_eq!(status, StatusCode::OK);
    let sent = gw.mock.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.body["model"], "claude-sonnet-4-5");
}

#[actix_web::test]
async fn messages_to_anthropic_are_translated_both_ways() {
    let gw = spawn_gateway().await;
    let request = json!({
        "model": "claude-3-opus-20240229",
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "Hi there" }
        ],
        "temperature": 0.2,
        "stop": ["END"],
        "user": "u-1"
    });
    let (status, body) = gw.complete(&request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "claude-3-opus-20240229");
    assert_eq!(
        body["choices"][0]["message"],
        json!({ "role": "assistant", "content": REPLY })
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({ "prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS })
    );

    let sent = gw.mock.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(
        sent.body,
        json!({
            "model": "claude-3-opus-20240229",
            "max_tokens": 4096,
            "system": "Be brief.",
            "messages": [{ "role": "user", "content": [{ "type": "text", "text": "Hi there" }] }],
            "temperature": 0.2,
            "stop_sequences": ["END"],
            "metadata": { "user_id": "u-1" }
        })
    );
}

#[actix_web::test]
async fn streamed_messages_from_anthropic_become_openai_chunks_in_order() {
    let gw = spawn_gateway().await;
    let mut request = streamed(hello("claude-haiku-4-5"));
    request["stream_options"] = json!({ "include_usage": true });
    let (status, stream) = gw.stream(&request).await;
    assert_eq!(status, StatusCode::OK);
    let events = event_data(&stream);
    let deltas: Vec<&Value> = events.iter().map(|e| &e["choices"][0]["delta"]).collect();
    let mut expected = vec![json!({ "role": "assistant", "content": "" })];
    expected.extend(REPLY_WORDS.iter().map(|w| json!({ "content": w })));
    expected.push(json!({}));
    assert_eq!(
        &deltas[..expected.len()],
        &expected.iter().collect::<Vec<_>>()[..],
        "{stream}"
    );
    let n = expected.len();
    assert_eq!(events[n - 1]["choices"][0]["finish_reason"], "stop");
    assert_eq!(events[n]["choices"], json!([]));
    assert_eq!(events[n]["usage"]["prompt_tokens"], PROMPT_TOKENS);
    assert_eq!(events[n]["usage"]["completion_tokens"], COMPLETION_TOKENS);
    assert_eq!(events[n + 1], "[DONE]");
    assert_eq!(events.len(), n + 2);
    assert!(events[..n]
        .iter()
        .all(|e| e["object"] == "chat.completion.chunk"));
    assert_eq!(gw.mock.last().body["stream"], true);
}

#[actix_web::test]
async fn a_prompt_to_anthropic_gets_a_legacy_completion() {
    let gw = spawn_gateway().await;
    let (status, body) = gw.complete(&prompt("claude-instant-1.2")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "completion");
    assert_eq!(body["completion"], REPLY);
    assert_eq!(body["stop_reason"], "stop_sequence");
    assert_eq!(body["model"], "claude-instant-1.2");
    assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()));
    let sent = gw.mock.last();
    assert_eq!(sent.body["system"], "Be brief.");
    assert_eq!(
        sent.body["messages"],
        json!([{ "role": "user", "content": [{ "type": "text", "text": "Hi there" }] }])
    );
}

#[actix_web::test]
async fn a_streamed_prompt_to_anthropic_gets_completion_events() {
    let gw = spawn_gateway().await;
    let (status, stream) = gw.stream(&streamed(prompt("claude-2"))).await;
    assert_eq!(status, StatusCode::OK);
    let events = events(&stream);
    assert!(
        events
            .iter()
            .all(|(name, _)| name.as_deref() == Some("completion")),
        "{stream}"
    );
    let data: Vec<Value> = events
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let texts: Vec<&str> = data
        .iter()
        .map(|d| d["completion"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = REPLY_WORDS.to_vec();
    expected.push("");
    assert_eq!(texts, expected);
    let (last, rest) = data.split_last().unwrap();
    assert!(rest.iter().all(|d| d["stop_reason"].is_null()));
    assert_eq!(last["stop_reason"], "stop_sequence");
    assert_eq!(last["model"], "claude-2");
}

#[actix_web::test]
async fn a_prompt_to_openai_is_sent_as_messages_and_answered_as_a_completion() {
    let gw = spawn_gateway().await;
    let (status, body) = gw.complete(&prompt("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["type"], "completion");
    assert_eq!(body["completion"], REPLY);
    assert_eq!(
        gw.mock.last().body["messages"],
        json!([
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "Hi there" }
        ])
    );

    let (status, stream) = gw.stream(&streamed(prompt("gpt-4o"))).await;
    assert_eq!(status, StatusCode::OK);
    let data: Vec<Value> = events(&stream)
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = data
        .iter()
        .map(|d| d["completion"].as_str().unwrap())
        .collect();
    assert_eq!(text, REPLY);
    assert_eq!(data.last().unwrap()["stop_reason"], "stop_sequence");
    assert_eq!(
        data.last().unwrap()["usage"]["output_tokens"],
        COMPLETION_TOKENS
    );
}

#[actix_web::test]
async fn streamed_messages_to_openai_pass_through_byte_for_byte() {
    let gw = spawn_gateway().await;
    let (status, stream) = gw.stream(&streamed(hello("gpt-4o-mini"))).await;
    assert_eq!(status, StatusCode::OK);
    // mindgate asked for usage, the client did not: that chunk is held back.
    assert_eq!(
        gw.mock.last().body["stream_options"],
        json!({ "include_usage": true })
    );
    assert_eq!(
        stream,
        mock_upstream::openai_events("gpt-4o-mini", false).concat()
    );

    let mut request = streamed(hello("gpt-4o-mini"));
    request["stream_options"] = json!({ "include_usage": true });
    let (_, stream) = gw.stream(&request).await;
    assert_eq!(
        stream,
        mock_upstream::openai_events("gpt-4o-mini", true).concat()
    );
}

#[actix_web::test]
async fn openai_parameters_pass_through_as_sent_and_claude_only_ones_are_left_out() {
    let gw = spawn_gateway().await;
    let mut request = hello("gpt-4o");
    request["top_k"] = json!(40);
    request["temperature"] = json!(0.3);
    request["response_format"] = json!({ "type": "json_object" });
    assert_eq!(gw.complete(&request).await.0, StatusCode::OK);
    let sent = gw.mock.last().body;
    assert_eq!(
        sent["top_k"], 40,
        "an OpenAI-compatible server may know it: {sent}"
    );
    assert_eq!(sent["temperature"], 0.3);
    assert_eq!(sent["response_format"], json!({ "type": "json_object" }));

    let mut request = prompt("gpt-4o");
    request["top_k"] = json!(40);
    request["max_tokens_to_sample"] = json!(300);
    assert_eq!(gw.complete(&request).await.0, StatusCode::OK);
    let sent = gw.mock.last().body;
    assert!(sent.get("top_k").is_none(), "{sent}");
    assert_eq!(sent["max_tokens"], 300);
}
