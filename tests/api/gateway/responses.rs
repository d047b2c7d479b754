//! `/api/v1/responses`, OpenAI's Responses API: to an OpenAI-compatible
//! provider that serves `/responses` passed through byte for byte, to one
//! that answers 404 there translated through chat completions (and
//! remembered), to Anthropic and echo translated; `previous_response_id`
//! only where it can mean something; validation, governance, mid-stream
//! failures and the chat logs of each. The official SDK is in
//! `openai_responses_sdk`.

use mindgate::domain::KeyScope;

use super::messages::{json_of, CLAUDE, GPT};
use super::*;
use crate::helpers::{error_message, send_body};
use crate::mock_upstream::{
    tool_input, Fault, MockAnswer, COMPLETION_TOKENS, OPENAI_TOOL_ID, PROMPT_TOKENS, REPLY,
    RESPONSE_ID, TOOL_INPUT_PIECES,
};

/// A Responses request for `model` saying "Hi there".
fn ask(model: &str) -> Value {
    json!({ "model": model, "input": "Hi there" })
}

/// The same with instructions, a function tool and a token limit.
fn ask_with_tool(model: &str) -> Value {
    json!({
        "model": model,
        "instructions": "Be brief.",
        "input": [{ "role": "user", "content": [{ "type": "input_text", "text": "Hi there" }] }],
        "tools": [{ "type": "function", "name": "get_weather", "description": "The weather.",
                    "parameters": { "type": "object", "properties": { "city": { "type": "string" } } },
                    "strict": false }],
        "max_output_tokens": 300,
    })
}

impl Gateway {
    /// POSTs to `/api/v1/responses`: status and the body's bytes.
    async fn respond(&self, body: &Value) -> (StatusCode, Bytes) {
        self.respond_with(body, &[]).await
    }

    async fn respond_with(&self, body: &Value, headers: &[(&str, &str)]) -> (StatusCode, Bytes) {
        let (status, _, bytes) = self.anthropic("/responses", body, headers).await;
        (status, bytes)
    }

    /// A whole answer, as JSON.
    async fn response(&self, body: &Value) -> (StatusCode, Value) {
        let (status, bytes) = self.respond(body).await;
        (status, json_of(&bytes))
    }
}

fn text_of(stream: &[u8]) -> String {
    String::from_utf8(stream.to_vec()).expect("utf-8")
}

/// The `response` object's output text, as the SDKs compute it.
fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().unwrap())
        .filter_map(|part| part["text"].as_str())
        .collect()
}

/// Checks a stream of typed events the way the SDK's stream helper reads
/// it: named events, numbered in order, one response id, every item added
/// before its parts and deltas and done before the end; returns the final
/// `response`.
fn check_events(stream: &str) -> Value {
    let events = events(stream);
    assert!(!events.is_empty(), "no events");
    let mut added = Vec::new();
    let mut done = Vec::new();
    let mut id = None;
    for (n, (name, data)) in events.iter().enumerate() {
        let event: Value = serde_json::from_str(data).unwrap_or_else(|_| panic!("{data}"));
        let kind = event["type"].as_str().unwrap();
        assert_eq!(name.as_deref(), Some(kind), "{data}");
        assert_eq!(event["sequence_number"], n, "{data}");
        if let Some(response) = event.get("response") {
            let this = response["id"].as_str().unwrap().to_owned();
            assert_eq!(
                id.get_or_insert(this.clone()),
                &this,
                "one response: {stream}"
            );
        }
        if n == 0 {
            assert_eq!(kind, "response.created", "{stream}");
        }
        let index = event["output_index"].as_u64();
        match kind {
            "response.output_item.added" => added.push(index.unwrap()),
            "response.output_item.done" => done.push(index.unwrap()),
            "response.content_part.added"
            | "response.output_text.delta"
            | "response.function_call_arguments.delta" => {
                let index = index.unwrap();
                assert!(added.contains(&index) && !done.contains(&index), "{data}");
            }
            _ => {}
        }
    }
    assert_eq!(added, done, "every item done: {stream}");
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    last["response"].clone()
}

#[actix_web::test]
async fn a_native_response_passes_through_byte_for_byte_with_its_chat_log() {
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    let pirate = gw
        .app
        .create_character(&json!({ "title": "Pirate", "instruction": "Talk like a pirate." }))
        .await;
    let pirate = pirate["id"].as_str().unwrap();
    let request = ask_with_tool(GPT);
    let (status, whole) = gw
        .respond_with(&request, &[("x-character-id", pirate)])
        .await;
    assert_eq!(status, StatusCode::OK, "{}", text_of(&whole));
    assert_eq!(
        whole,
        gw.mock.sent_body(),
        "the upstream's answer as it came"
    );
    let sent = gw.mock.last();
    assert_eq!(sent.path, "/v1/responses");
    let mut expected = request.clone();
    expected["instructions"] = json!("Talk like a pirate.\n\nBe brief.");
    assert_eq!(
        sent.body, expected,
        "the client's body, the instruction first"
    );

    let (status, stream) = gw.respond(&streamed(request.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stream,
        gw.mock.sent_body(),
        "the upstream's events as they came"
    );
    let done = check_events(&text_of(&stream));
    assert_eq!(done["id"], RESPONSE_ID);
    assert_eq!(gw.mock.last().body["stream"], true);
    assert!(gw.mock.last().body.get("stream_options").is_none());
    assert_eq!(gw.mock.received().len(), 2);

    let chats = wait_for_chats(&gw.app, 2).await;
    for chat in &chats {
        assert_eq!(chat.status, "ok", "{chat:?}");
        assert_eq!(chat.provider.as_deref(), Some("openai"));
        assert_eq!(chat.model.as_deref(), Some(GPT));
        assert_eq!(
            chat.conversation,
            format!("User: Hi there\n\nAssistant: {REPLY}\n[tool_use: get_weather]")
        );
        assert_eq!(chat.prompt_tokens, Some(PROMPT_TOKENS));
        assert_eq!(chat.completion_tokens, Some(COMPLETION_TOKENS));
        assert!(!chat.usage_estimated);
    }
    assert_eq!(chats[0].character_id.as_deref(), Some(pirate));
}

#[actix_web::test]
async fn a_server_without_responses_is_asked_through_chat_and_remembered_for_the_next() {
    let gw = spawn_gateway().await;
    gw.mock.serve_responses(false);
    gw.mock.answer_with(MockAnswer::Full);
    let (status, whole) = gw.response(&ask_with_tool(GPT)).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    let paths: Vec<String> = gw.mock.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/responses", "/v1/chat/completions"]);
    // Translated: instructions as the system message, the flat tool as a
    // function, the token limit by its chat name.
    let chat = gw.mock.last().body;
    assert_eq!(
        chat["messages"],
        json!([{ "role": "system", "content": "Be brief." },
               { "role": "user", "content": [{ "type": "text", "text": "Hi there" }] }])
    );
    assert_eq!(chat["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(chat["tools"][0]["function"]["strict"], false);
    assert_eq!(chat["max_tokens"], 300);
    assert_eq!(whole["object"], "response");
    assert_eq!(whole["status"], "completed");
    assert_eq!(output_text(&whole), REPLY);
    let call = &whole["output"][1];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["call_id"], OPENAI_TOOL_ID);
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["arguments"], TOOL_INPUT_PIECES.concat());
    assert_eq!(whole["usage"]["input_tokens"], PROMPT_TOKENS);
    assert_eq!(whole["usage"]["output_tokens"], COMPLETION_TOKENS);
    assert_eq!(
        whole["usage"]["total_tokens"],
        PROMPT_TOKENS + COMPLETION_TOKENS
    );

    // The next goes straight to chat, streamed as Responses events.
    let (status, stream) = gw.respond(&streamed(ask_with_tool(GPT))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gw.mock.received().len(), 3, "no second try of /responses");
    assert_eq!(gw.mock.last().path, "/v1/chat/completions");
    let done = check_events(&text_of(&stream));
    assert_eq!(done["status"], "completed");
    assert_eq!(output_text(&done), REPLY);
    assert_eq!(done["output"][1]["arguments"], TOOL_INPUT_PIECES.concat());
    assert_eq!(done["usage"]["output_tokens"], COMPLETION_TOKENS);
    // Another model of the same server is asked natively first.
    let (status, _) = gw.response(&ask("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    let paths: Vec<String> = gw.mock.received().into_iter().map(|r| r.path).collect();
    assert_eq!(&paths[3..], ["/v1/responses", "/v1/chat/completions"]);

    let chats = wait_for_chats(&gw.app, 3).await;
    assert!(chats.iter().all(|chat| chat.status == "ok"), "{chats:?}");
    assert_eq!(chats[0].conversation, chats[1].conversation);
}

#[actix_web::test]
async fn anthropic_models_and_echo_answer_translated() {
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    let (status, whole) = gw.response(&ask_with_tool(CLAUDE)).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    let sent = gw.mock.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.body["system"], "Be brief.");
    assert_eq!(sent.body["max_tokens"], 300);
    assert_eq!(sent.body["tools"][0]["name"], "get_weather");
    assert!(whole["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(whole["model"], CLAUDE);
    assert_eq!(output_text(&whole), REPLY);
    assert_eq!(whole["output"][1]["type"], "function_call");
    assert_eq!(
        serde_json::from_str::<Value>(whole["output"][1]["arguments"].as_str().unwrap()).unwrap(),
        tool_input()
    );
    let (status, stream) = gw.respond(&streamed(ask_with_tool(CLAUDE))).await;
    assert_eq!(status, StatusCode::OK);
    let done = check_events(&text_of(&stream));
    assert_eq!(output_text(&done), REPLY);
    assert_eq!(done["output"][1]["name"], "get_weather");

    for request in [ask("echo"), streamed(ask("echo"))] {
        let (status, body) = gw.respond(&request).await;
        assert_eq!(status, StatusCode::OK);
        let response = match request["stream"] == true {
            true => check_events(&text_of(&body)),
            false => json_of(&body),
        };
        assert_eq!(output_text(&response), "Hi there");
        assert_eq!(response["model"], "echo");
    }
    let chats = wait_for_chats(&gw.app, 4).await;
    assert_eq!(
        chats[2].conversation,
        "User: Hi there\n\nAssistant: Hi there"
    );
    assert_eq!(gw.mock.received().len(), 2, "echo went nowhere");
}

#[actix_web::test]
async fn a_function_call_round_trip_goes_to_anthropic_as_tool_use_and_tool_result() {
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    let mut request = ask_with_tool(CLAUDE);
    let (_, first) = gw.response(&request).await;
    let call = first["output"][1].clone();
    let input = request["input"].as_array_mut().unwrap();
    input.push(json!({ "type": "reasoning", "id": "rs_1", "summary": [] }));
    input.push(first["output"][0].clone());
    input.push(call.clone());
    input.push(
        json!({ "type": "function_call_output", "call_id": call["call_id"],
                       "output": "Sunny, 24°C" }),
    );
    let (status, second) = gw.response(&request).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(output_text(&second), REPLY);
    assert_eq!(
        second["output"].as_array().unwrap().len(),
        1,
        "no call again"
    );
    let messages = gw.mock.last().body["messages"].clone();
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(
        messages[1]["content"][0],
        json!({ "type": "text", "text": REPLY })
    );
    assert_eq!(
        messages[1]["content"][1],
        json!({ "type": "tool_use", "id": call["call_id"], "name": "get_weather",
                "input": tool_input() })
    );
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(
        messages[2]["content"][0],
        json!({ "type": "tool_result", "tool_use_id": call["call_id"], "content": "Sunny, 24°C" })
    );
    let chats = wait_for_chats(&gw.app, 2).await;
    assert!(
        chats[1]
            .conversation
            .contains("[tool_use: get_weather]\n\nTool: Sunny, 24°C"),
        "{}",
        chats[1].conversation
    );
}

#[actix_web::test]
async fn previous_response_id_goes_only_to_a_server_that_serves_responses() {
    let gw = spawn_gateway().await;
    let mut request = ask(GPT);
    request["previous_response_id"] = json!("resp_earlier");
    let (status, body) = gw.response(&request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(gw.mock.last().body["previous_response_id"], "resp_earlier");
    for model in [CLAUDE, "echo"] {
        request["model"] = json!(model);
        let (status, body) = gw.response(&request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{model}: {body}");
        assert_eq!(body["error"]["param"], "previous_response_id");
        let message = error_message(&body, "invalid_request_error");
        assert!(
            message.contains("OpenAI's Responses API itself"),
            "{message}"
        );
    }
    assert_eq!(gw.mock.received().len(), 1, "the refused went nowhere");
    // A server that answers 404 to /responses: refused once it said so,
    // and at once after.
    gw.mock.serve_responses(false);
    request["model"] = json!(GPT);
    for _ in 0..2 {
        let (status, body) = gw.response(&request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["param"], "previous_response_id");
    }
    assert_eq!(gw.mock.received().len(), 2, "asked once, then known");
    // So are OpenAI's own tools.
    let mut search = ask(CLAUDE);
    search["tools"] = json!([{ "type": "web_search" }]);
    let (status, body) = gw.response(&search).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["param"], "tools[0]");
    let message = error_message(&body, "invalid_request_error");
    assert!(
        message.contains("built-in \"web_search\" tool"),
        "{message}"
    );
    let chats = wait_for_chats(&gw.app, 2).await;
    assert_eq!(chats[1].status, "error", "the 404 was a chat that failed");
    assert!(chats[1]
        .error
        .as_deref()
        .unwrap()
        .contains("previous_response_id"));
}

#[actix_web::test]
async fn bad_requests_name_the_field_and_change_nothing() {
    let gw = spawn_gateway().await;
    let with = |field: &str, value: Value| {
        let mut body = ask("echo");
        body[field] = value;
        body
    };
    let item = |item: Value| with("input", json!([item]));
    let cases = [
        (json!({ "model": "echo" }), "input", "is required"),
        (
            with("input", json!(5)),
            "input",
            "must be a string or an array",
        ),
        (with("model", json!(" ")), "model", "must not be blank"),
        (with("model", json!(5)), "model", "must be a string"),
        (with("stream", json!("yes")), "stream", "must be a boolean"),
        (
            with("instructions", json!([])),
            "instructions",
            "must be a string",
        ),
        (item(json!(5)), "input[0]", "must be an object"),
        (
            item(json!({ "role": "user" })),
            "input[0].content",
            "is required",
        ),
        (
            item(json!({ "role": "bot", "content": "x" })),
            "input[0].role",
            "must be one of user, assistant, system, developer",
        ),
        (
            item(json!({ "role": "user", "content": [{ "type": "input_text" }] })),
            "input[0].content[0].text",
            "is required",
        ),
        (
            item(json!({ "role": "user", "content": [{ "type": "input_image" }] })),
            "input[0].content[0].image_url",
            "is required",
        ),
        (
            item(json!({ "type": "function_call", "name": "f", "arguments": "{}" })),
            "input[0].call_id",
            "is required",
        ),
        (
            item(json!({ "type": "function_call_output", "call_id": "c", "output": 5 })),
            "input[0].output",
            "must be a string or an array",
        ),
        (
            with("max_output_tokens", json!(0)),
            "max_output_tokens",
            "must be an integer",
        ),
        (
            with("temperature", json!(3)),
            "temperature",
            "must be a number from 0 to 2",
        ),
        (
            with("top_p", json!("x")),
            "top_p",
            "must be a number from 0 to 1",
        ),
        (with("tools", json!({})), "tools", "must be an array"),
        (
            with("tools", json!([{ "type": "function" }])),
            "tools[0].name",
            "is required",
        ),
        (
            with(
                "tools",
                json!([{ "type": "function", "name": "f", "parameters": 5 }]),
            ),
            "tools[0].parameters",
            "must be an object",
        ),
        (
            with("tool_choice", json!("sometimes")),
            "tool_choice",
            "must be auto, none",
        ),
        (
            with("text", json!({ "format": { "type": "yaml" } })),
            "text.format.type",
            "must be one of text, json_object, json_schema",
        ),
        (
            with(
                "text",
                json!({ "format": { "type": "json_schema", "name": "x" } }),
            ),
            "text.format.schema",
            "is required",
        ),
        (
            with("reasoning", json!({ "effort": 1 })),
            "reasoning.effort",
            "must be a string",
        ),
        (
            with("parallel_tool_calls", json!(1)),
            "parallel_tool_calls",
            "must be a boolean",
        ),
        (with("metadata", json!([])), "metadata", "must be an object"),
        (
            with("previous_response_id", json!(5)),
            "previous_response_id",
            "must be a string",
        ),
    ];
    for (body, field, problem) in cases {
        let (status, answer) = gw.response(&body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["param"], field, "{body}: {answer}");
        let message = error_message(&answer, "invalid_request_error");
        assert!(
            message.starts_with(&format!("`{field}` {problem}")),
            "{body}: {message}"
        );
    }
    // Not JSON, or not an object.
    for raw in ["{", "[]"] {
        let request = gw.app.request(Method::POST, "/api/v1/responses");
        let (status, answer) = send_body(request, raw.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}: {answer}");
    }
    assert!(gw.mock.received().is_empty());
    assert!(stored_chats(&gw.app).is_empty());
}

#[actix_web::test]
async fn an_input_with_nothing_to_answer_is_a_400_unless_the_upstream_reads_it() {
    let gw = spawn_gateway().await;
    let with_input = |model: &str, input: Value| json!({ "model": model, "input": input });
    let reasoning = json!([{ "type": "reasoning", "id": "rs_1", "summary": [] }]);
    for model in ["echo", CLAUDE] {
        for input in [json!([]), reasoning.clone()] {
            let body = with_input(model, input);
            let (status, answer) = gw.response(&body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            assert_eq!(answer["error"]["param"], "input", "{body}: {answer}");
            let message = error_message(&answer, "invalid_request_error");
            assert!(
                message.starts_with("`input` must not be empty"),
                "{message}"
            );
        }
        // Only what chat cannot take: that item is named.
        let body = with_input(model, json!([{ "type": "item_reference", "id": "msg_1" }]));
        let (status, answer) = gw.response(&body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["param"], "input[0]", "{answer}");
    }
    // Instructions alone ask nothing either.
    let mut body = with_input("echo", json!([]));
    body["instructions"] = json!("Be brief.");
    let (status, answer) = gw.response(&body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["param"], "input");
    assert!(gw.mock.received().is_empty(), "nothing went upstream");
    assert!(stored_chats(&gw.app).is_empty());

    // A server serving /responses gets it as sent and decides.
    let (status, _) = gw.response(&with_input(GPT, json!([]))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gw.mock.last().path, "/v1/responses");
    assert_eq!(gw.mock.last().body["input"], json!([]));
    // One that does not: refused once it said so.
    gw.mock.serve_responses(false);
    let (status, answer) = gw.response(&with_input(GPT, json!([]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["param"], "input");
    assert_eq!(gw.mock.last().path, "/v1/responses", "chat was not asked");
}

#[actix_web::test]
async fn policies_and_limits_govern_responses_and_a_chat_key_may_call_it() {
    let gw = spawn_gateway().await;
    gw.app
        .put_policy(
            "everyone",
            &json!({ "models": ["echo"],
                     "limits": [{ "metric": "requests", "window": "day", "max": 1 }] }),
        )
        .await;
    let (_, chat_key) = gw.app.add_key("codex", KeyScope::Chat);
    let call = |model: &str| {
        let request = gw
            .app
            .client
            .post(gw.app.url("/api/v1/responses"))
            .insert_header(("authorization", format!("Bearer {chat_key}")));
        send_body(request, ask(model).to_string())
    };
    let (status, body) = call(GPT).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_message(&body, "permission_error").contains("not open"));
    let (status, body) = call("echo").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call("echo").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(error_message(&body, "rate_limit_error").starts_with("limit reached"));
    assert!(gw.mock.received().is_empty());
    assert_eq!(wait_for_chats(&gw.app, 1).await.len(), 1);
}

#[actix_web::test]
async fn a_stream_that_fails_midway_ends_with_response_failed_and_one_chat_log() {
    let gw = spawn_gateway().await;
    // Passed through: the upstream's failure, then a cut connection, each
    // told as a failure of the upstream's own response.
    gw.mock.fail_with([
        Fault::StreamError {
            after: 4,
            error_type: "server_error",
            message: "mock broke",
        },
        Fault::CutAfter(5),
    ]);
    for expected in ["mock broke", "the provider"] {
        let (status, stream) = gw.respond(&streamed(ask(GPT))).await;
        assert_eq!(status, StatusCode::OK);
        let failed = check_events_unfinished(&text_of(&stream));
        assert_eq!(failed["id"], RESPONSE_ID);
        assert_eq!(failed["status"], "failed");
        assert!(
            failed["error"]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{failed}"
        );
        assert_eq!(failed["error"]["code"], "server_error");
    }
    // Translated: the failure of mindgate's response, with what came.
    gw.mock.fail_with([Fault::CutAfter(4)]);
    let (_, stream) = gw.respond(&streamed(ask(CLAUDE))).await;
    let stream = text_of(&stream);
    let failed = check_events_unfinished(&stream);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["output"][0]["type"], "message");
    // Before the stream: the provider's refusal, in OpenAI's envelope.
    gw.mock.fail_with([Fault::Vendor {
        code: 400,
        retry_after: None,
    }]);
    let (status, body) = gw.response(&streamed(ask(GPT))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(error_message(&body, "invalid_request_error").contains("Invalid request"));

    let chats = wait_for_chats(&gw.app, 4).await;
    assert!(chats.iter().all(|chat| chat.status == "error"), "{chats:?}");
    assert_eq!(chats[1].conversation, "User: Hi there\n\nAssistant: Hello");
    assert_eq!(chats[2].conversation, "User: Hi there\n\nAssistant: Hello");
}

/// The final `response` of a stream that failed with an item still open.
fn check_events_unfinished(stream: &str) -> Value {
    let events = event_data(stream);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.failed", "{stream}");
    assert_eq!(events[0]["response"]["id"], last["response"]["id"]);
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], n, "{stream}");
    }
    last["response"].clone()
}
