//! `/api/v1/messages`, `/messages/count_tokens` and `/models` for Anthropic
//! clients: what goes upstream (to an Anthropic provider as sent, to an
//! OpenAI-compatible one translated), the answers in Anthropic's shapes,
//! mindgate's errors in Anthropic's envelope, characters, and the chat
//! logs of every protocol (tool calls shown briefly, Claude Code sessions
//! as one chat). The faults and byte-exact pass-through are in
//! `messages_upstream`, the official SDK in `anthropic_sdk`.

use actix_web::http::header::HeaderMap;

use mindgate::db::settings::DefaultProvider;
use mindgate::domain::KeyScope;

use super::*;
use crate::helpers::{data_field, send, send_body};
use crate::mock_upstream::{
    tool_input, Fault, MockAnswer, COMPLETION_TOKENS, COUNTED_TOKENS, OPENAI_TOOL_ID,
    PROMPT_TOKENS, REPLY,
};

pub(super) const CLAUDE: &str = "claude-haiku-4-5";
pub(super) const GPT: &str = "gpt-4o";

/// A Messages request for `model` saying "Hi there".
pub(super) fn hi(model: &str) -> Value {
    json!({
        "model": model, "max_tokens": 256,
        "messages": [{ "role": "user", "content": "Hi there" }]
    })
}

/// A tool for the requests that call one.
fn weather_tool() -> Value {
    json!({ "name": "get_weather", "description": "The weather in a city.",
            "input_schema": { "type": "object", "properties": { "city": { "type": "string" } } } })
}

impl Gateway {
    /// POSTs `body` to `path` (under /api/v1) with these headers; the
    /// answer read whole.
    pub(super) async fn anthropic(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Bytes) {
        let mut request = self
            .app
            .request(Method::POST, &format!("/api/v1{path}"))
            .insert_header(("content-type", "application/json"));
        for header in headers {
            request = request.insert_header(*header);
        }
        let mut response = request
            .send_body(body.to_string())
            .await
            .expect("request failed");
        let bytes = response.body().limit(16 << 20).await.expect("read answer");
        (response.status(), response.headers().clone(), bytes)
    }

    /// A whole Messages answer: status and JSON.
    async fn message(&self, body: &Value) -> (StatusCode, Value) {
        let (status, _, bytes) = self.anthropic("/messages", body, &[]).await;
        (status, json_of(&bytes))
    }
}

pub(super) fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// Anthropic's envelope with this error type: its message.
pub(super) fn anthropic_error(body: &Value, error_type: &str) -> String {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], error_type, "{body}");
    assert_eq!(
        body["error"].as_object().unwrap().len(),
        2,
        "type and message: {body}"
    );
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn an_anthropic_provider_gets_the_body_as_sent_with_its_model_and_the_character() {
    let gw = spawn_gateway().await;
    let character = gw
        .app
        .create_character(&json!({ "title": "Pirate", "instruction": "Talk like a pirate." }))
        .await;
    let id = character["id"].as_str().unwrap();
    let request = json!({
        "model": "claude-2",
        "activatedCharacterID": id,
        "max_tokens": 100,
        "system": [{ "type": "text", "text": "Be brief.", "cache_control": { "type": "ephemeral" } }],
        "messages": [
            // Recent Claude Code sends its reminders as a system message.
            { "role": "system", "content": "Mind the time." },
            { "role": "user", "content": [
                { "type": "text", "text": "" },
                { "type": "text", "text": "Hi there" }
            ] },
            { "role": "assistant", "content": "" },
        ],
        "metadata": { "user_id": "u-1" },
        "future_field": { "kept": [1, 2] }
    });
    let headers = [
        ("anthropic-version", "2023-06-01"),
        ("anthropic-beta", "prompt-caching-2024-07-31"),
    ];
    let (status, _, answer) = gw.anthropic("/messages", &request, &headers).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(
        answer,
        gw.mock.sent_body(),
        "the answer as the provider sent it"
    );
    let sent = gw.mock.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(
        sent.body,
        json!({
            // The alias's model, in its place; the character's instruction
            // first; the system message after the rest of the system prompt;
            // no empty text block, no empty turn.
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "system": [
                { "type": "text", "text": "Talk like a pirate." },
                { "type": "text", "text": "Be brief.", "cache_control": { "type": "ephemeral" } },
                { "type": "text", "text": "Mind the time." }
            ],
            "messages": [{ "role": "user", "content": [{ "type": "text", "text": "Hi there" }] }],
            "metadata": { "user_id": "u-1" },
            "future_field": { "kept": [1, 2] }
        })
    );
    for (name, value) in headers {
        assert_eq!(sent.header(name), Some(value), "{name}");
    }
    assert_eq!(sent.header("x-api-key"), Some(ANTHROPIC_KEY));
    let chat = the_chat(&gw.app).await;
    assert_eq!(chat.character_id.as_deref(), Some(id));
    assert_eq!(chat.model.as_deref(), Some("claude-2"));
    assert_eq!(
        chat.conversation,
        format!("User: Hi there\n\nAssistant: {REPLY}")
    );

    // Without anthropic-version, mindgate's; the character by header, a
    // plain system prompt kept as text after its instruction.
    let mut request = hi(CLAUDE);
    request["system"] = json!("Be brief.");
    let (status, _, _) = gw
        .anthropic("/messages", &request, &[("X-Character-ID", id)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let sent = gw.mock.last();
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("anthropic-beta"), None);
    assert_eq!(
        sent.body["system"],
        json!([{ "type": "text", "text": "Talk like a pirate." },
               { "type": "text", "text": "Be brief." }])
    );
}

#[actix_web::test]
async fn a_characters_default_model_answers_a_request_without_one() {
    let gw = spawn_gateway().await;
    let character = gw
        .app
        .create_character(&json!({ "title": "Poet", "instruction": "Rhyme.", "defaultModel": GPT }))
        .await;
    let mut request = hi(CLAUDE);
    request.as_object_mut().unwrap().remove("model");
    request["activatedCharacterID"] = character["id"].clone();
    let (status, body) = gw.message(&request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model"], GPT);
    assert_eq!(gw.mock.last().path, "/v1/chat/completions");
    assert_eq!(
        gw.mock.last().body["messages"][0],
        json!({ "role": "system", "content": "Rhyme." })
    );
}

#[actix_web::test]
async fn an_openai_provider_gets_the_request_translated() {
    let gw = spawn_gateway().await;
    let request = json!({
        "model": GPT,
        "max_tokens": 300,
        "system": [{ "type": "text", "text": "Be brief.", "cache_control": { "type": "ephemeral" } },
                   { "type": "text", "text": "Be kind." }],
        "messages": [
            { "role": "user", "content": [
                { "type": "text", "text": "What is this?" },
                { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "AAAA" } },
                { "type": "image", "source": { "type": "url", "url": "https://example.com/a.png" } }
            ] }
        ],
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": { "user_id": "u-1" },
        "thinking": { "type": "enabled", "budget_tokens": 1024 },
        "tools": [weather_tool()],
        "tool_choice": { "type": "tool", "name": "get_weather", "disable_parallel_tool_use": true }
    });
    let (status, body) = gw.message(&request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = gw.mock.last();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.body,
        json!({
            "max_tokens": 300,
            "stop": ["END"],
            "temperature": 0.5,
            "top_p": 0.9,
            "user": "u-1",
            "tools": [{ "type": "function", "function": {
                "name": "get_weather",
                "parameters": { "type": "object", "properties": { "city": { "type": "string" } } },
                "description": "The weather in a city."
            } }],
            "tool_choice": { "type": "function", "function": { "name": "get_weather" } },
            "parallel_tool_calls": false,
            "model": GPT,
            "messages": [
                { "role": "system", "content": "Be brief.\n\nBe kind." },
                { "role": "user", "content": [
                    { "type": "text", "text": "What is this?" },
                    { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } },
                    { "type": "image_url", "image_url": { "url": "https://example.com/a.png" } }
                ] }
            ]
        }),
        "top_k and thinking are Anthropic's alone"
    );
    assert_eq!(sent.header("anthropic-version"), None);
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], GPT);
    assert!(body["id"].as_str().unwrap().starts_with("msg_"), "{body}");
    assert_eq!(body["content"], json!([{ "type": "text", "text": REPLY }]));
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    assert_eq!(
        body["usage"],
        json!({ "input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS })
    );
    // The other choices map too.
    for (choice, translated) in [
        (json!({ "type": "auto" }), json!("auto")),
        (json!({ "type": "any" }), json!("required")),
        (json!({ "type": "none" }), json!("none")),
    ] {
        let mut request = hi(GPT);
        request["tools"] = json!([weather_tool()]);
        request["tool_choice"] = choice;
        let (status, _) = gw.message(&request).await;
        assert_eq!(status, StatusCode::OK);
        let sent = gw.mock.last().body;
        assert_eq!(sent["tool_choice"], translated);
        assert!(sent.get("parallel_tool_calls").is_none());
    }
}

#[actix_web::test]
async fn tool_calls_and_results_are_translated_both_ways() {
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    let mut request = hi(GPT);
    request["tools"] = json!([weather_tool()]);
    let (status, body) = gw.message(&request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["content"],
        json!([
            { "type": "text", "text": REPLY },
            { "type": "tool_use", "id": OPENAI_TOOL_ID, "name": "get_weather", "input": tool_input() }
        ])
    );
    assert_eq!(body["stop_reason"], "tool_use");

    // The client's next turn: the call, and its result with an image and
    // text beside it.
    request["messages"] = json!([
        { "role": "user", "content": "Hi there" },
        { "role": "assistant", "content": [
            { "type": "thinking", "thinking": "Hmm.", "signature": "sig" },
            { "type": "text", "text": "Let me look." },
            { "type": "tool_use", "id": "call_1", "name": "get_weather", "input": { "city": "Oslo" } }
        ] },
        { "role": "user", "content": [
            { "type": "tool_result", "tool_use_id": "call_1", "content": [
                { "type": "text", "text": "Rain" },
                { "type": "image", "source": { "type": "url", "url": "https://example.com/map.png" } }
            ] },
            { "type": "text", "text": "And tomorrow?" }
        ] }
    ]);
    let (status, body) = gw.message(&request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        gw.mock.last().body["messages"],
        json!([
            { "role": "user", "content": "Hi there" },
            { "role": "assistant", "content": "Let me look.", "tool_calls": [
                { "id": "call_1", "type": "function",
                  "function": { "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}" } }
            ] },
            { "role": "tool", "tool_call_id": "call_1", "content": "Rain" },
            // The result's image, which a tool message cannot hold, and the
            // text after it.
            { "role": "user", "content": [
                { "type": "image_url", "image_url": { "url": "https://example.com/map.png" } },
                { "type": "text", "text": "And tomorrow?" }
            ] }
        ])
    );
    let chats = wait_for_chats(&gw.app, 2).await;
    assert_eq!(
        chats[1].conversation,
        format!(
            "User: Hi there\n\nAssistant: Let me look.\n[tool_use: get_weather]\n\nTool: Rain\n\n\
             User: [image]\nAnd tomorrow?\n\nAssistant: {REPLY}\n[tool_use: get_weather]"
        )
    );
}

#[actix_web::test]
async fn a_translated_stream_is_anthropics_event_sequence() {
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    let mut request = hi(GPT);
    request["tools"] = json!([weather_tool()]);
    request["stream"] = json!(true);
    let (status, headers, stream) = gw.anthropic("/messages", &request, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-type").unwrap(), "text/event-stream");
    let stream = String::from_utf8(stream.to_vec()).unwrap();
    let events = events(&stream);
    let data: Vec<Value> = events
        .iter()
        .map(|(_, data)| serde_json::from_str(data).unwrap())
        .collect();
    // Each event named after its type.
    for ((name, _), data) in events.iter().zip(&data) {
        assert_eq!(name.as_deref(), data["type"].as_str(), "{stream}");
    }
    let kinds: Vec<String> = data
        .iter()
        .map(|d| match d["delta"]["type"].as_str() {
            Some(delta) => format!("{}:{delta}", d["type"].as_str().unwrap()),
            None => d["type"].as_str().unwrap().to_owned(),
        })
        .collect();
    let mut expected = vec!["message_start", "ping", "content_block_start"];
    expected.extend(["content_block_delta:text_delta"; 3]);
    expected.extend(["content_block_stop", "content_block_start"]);
    let arguments = kinds
        .iter()
        .filter(|k| *k == "content_block_delta:input_json_delta")
        .count();
    assert!(arguments >= 2, "the arguments in pieces: {kinds:?}");
    expected.extend(vec!["content_block_delta:input_json_delta"; arguments]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(kinds, expected, "{stream}");

    let message = &data[0]["message"];
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(message["model"], GPT);
    assert_eq!(message["content"], json!([]));
    assert_eq!(
        data[2],
        json!({ "type": "content_block_start", "index": 0,
                "content_block": { "type": "text", "text": "" } })
    );
    assert_eq!(
        data[7],
        json!({ "type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": OPENAI_TOOL_ID, "name": "get_weather", "input": {} } })
    );
    let text: String = data
        .iter()
        .filter_map(|d| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, REPLY);
    let json: String = data
        .iter()
        .filter(|d| d["index"] == 1)
        .filter_map(|d| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), tool_input());
    let end = &data[data.len() - 2];
    assert_eq!(
        end["delta"],
        json!({ "stop_reason": "tool_use", "stop_sequence": null })
    );
    assert_eq!(end["usage"]["input_tokens"], PROMPT_TOKENS);
    assert_eq!(end["usage"]["output_tokens"], COMPLETION_TOKENS);
    let chat = the_chat(&gw.app).await;
    assert_eq!(chat.status, "ok");
    assert_eq!(
        chat.conversation,
        format!("User: Hi there\n\nAssistant: {REPLY}\n[tool_use: get_weather]")
    );
}

#[actix_web::test]
async fn an_answer_with_no_text_has_no_empty_text_block() {
    let gw = spawn_gateway().await;
    // An answer of no text, whole and streamed; then a stream request
    // answered with one whole answer, streamed as events.
    gw.mock.fail_with([
        Fault::Reply(""),
        Fault::Reply(""),
        Fault::JsonAnswer("application/json"),
    ]);
    for stream in [false, true] {
        let mut request = hi(GPT);
        request["stream"] = json!(stream);
        let (status, _, body) = gw.anthropic("/messages", &request, &[]).await;
        assert_eq!(status, StatusCode::OK);
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(!body.contains(r#""type":"text""#), "{body}");
        assert!(!body.contains("text_delta"), "{body}");
    }
    let mut request = hi(GPT);
    request["stream"] = json!(true);
    let (status, _, body) = gw.anthropic("/messages", &request, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let text: String = event_data(std::str::from_utf8(&body).unwrap())
        .iter()
        .filter_map(|d| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, REPLY, "a whole answer to a stream request, streamed");
}

#[actix_web::test]
async fn what_only_anthropic_takes_is_refused_for_an_openai_provider_alone() {
    let gw = spawn_gateway().await;
    let search = json!({ "type": "web_search_20250305", "name": "web_search", "max_uses": 2 });
    let document = json!({ "type": "document",
                           "source": { "type": "url", "url": "https://example.com/a.pdf" } });
    let mut with_tool = hi(GPT);
    with_tool["tools"] = json!([weather_tool(), search]);
    let mut with_document = hi(GPT);
    with_document["messages"][0]["content"] =
        json!([document, { "type": "text", "text": "Sum up" }]);
    for (request, field, what) in [
        (
            &with_tool,
            "tools[1]",
            "Anthropic's \"web_search_20250305\" tool",
        ),
        (
            &with_document,
            "messages[0].content[0]",
            "a document of source type \"url\"",
        ),
    ] {
        let (status, body) = gw.message(request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = anthropic_error(&body, "invalid_request_error");
        assert!(
            message.starts_with(&format!("`{field}` is {what}")),
            "{message}"
        );
        assert!(
            message.contains("send it to an Anthropic model"),
            "{message}"
        );
        // To Anthropic, and to echo, it goes as it is.
        for model in [CLAUDE, "echo"] {
            let mut request = request.clone();
            request["model"] = json!(model);
            let (status, body) = gw.message(&request).await;
            assert_eq!(status, StatusCode::OK, "{model}: {body}");
        }
        assert_eq!(gw.mock.last().body["messages"], request["messages"]);
        assert_eq!(gw.mock.last().body.get("tools"), request.get("tools"));
    }
    assert_eq!(gw.mock.received().len(), 2, "the refused went nowhere");
    assert_eq!(wait_for_chats(&gw.app, 4).await.len(), 4);
}

/// A request refused: path, key, body, headers; status, error type and
/// what the message says.
type Refusal<'a> = (
    &'a str,
    Option<&'a str>,
    String,
    Vec<(&'a str, String)>,
    u16,
    &'a str,
    &'a str,
);

#[actix_web::test]
async fn mindgates_own_errors_on_these_routes_are_in_anthropics_envelope() {
    let gw = spawn_gateway_with(|c| c.max_body_bytes = 4096).await;
    let app = &gw.app;
    // The mock's base URL would make `openai` the default provider.
    app.set_default_provider(DefaultProvider::None, None).await;
    let send = |path: &str, key: Option<&str>, body: String, headers: Vec<(&str, String)>| {
        let mut request = app
            .client
            .post(app.url(&format!("/api/v1{path}")))
            .insert_header(("content-type", "application/json"));
        if let Some(key) = key {
            request = request.insert_header(("x-api-key", key));
        }
        for header in headers {
            request = request.insert_header(header);
        }
        async move {
            let mut response = request.send_body(body).await.expect("request");
            let bytes = response.body().limit(1 << 20).await.unwrap();
            (
                response.status(),
                response.headers().clone(),
                json_of(&bytes),
            )
        }
    };
    let key = Some(app.api_key.as_str());
    let hi = hi("echo").to_string();
    let with = |change: fn(&mut Value)| {
        let mut body = self::hi("echo");
        change(&mut body);
        body.to_string()
    };
    let cases: Vec<Refusal> = vec![
        (
            "/messages",
            None,
            hi.clone(),
            vec![],
            401,
            "authentication_error",
            "missing API key",
        ),
        (
            "/messages",
            Some("mg_wrong"),
            hi.clone(),
            vec![],
            401,
            "authentication_error",
            "invalid API key",
        ),
        (
            "/messages/count_tokens",
            Some("mg_wrong"),
            hi.clone(),
            vec![],
            401,
            "authentication_error",
            "invalid API key",
        ),
        (
            "/messages",
            key,
            "{not json".into(),
            vec![],
            400,
            "invalid_request_error",
            "not valid JSON",
        ),
        (
            "/messages",
            key,
            with(|b| {
                b.as_object_mut().unwrap().remove("max_tokens");
            }),
            vec![],
            400,
            "invalid_request_error",
            "`max_tokens` is required",
        ),
        (
            "/messages",
            key,
            with(|b| b["max_tokens"] = json!(0)),
            vec![],
            400,
            "invalid_request_error",
            "`max_tokens` must be an integer from 1 to 4294967295",
        ),
        (
            "/messages",
            key,
            with(|b| b["messages"] = json!([])),
            vec![],
            400,
            "invalid_request_error",
            "`messages` must hold at least one message",
        ),
        (
            "/messages",
            key,
            with(|b| b["messages"][0]["role"] = json!("tool")),
            vec![],
            400,
            "invalid_request_error",
            "`messages[0].role` must be one of user, assistant, system, not \"tool\"",
        ),
        (
            "/messages",
            key,
            with(|b| b["messages"][0]["content"] = json!([{ "type": "text", "text": 5 }])),
            vec![],
            400,
            "invalid_request_error",
            "`messages[0].content[0].text` must be a string, not a number",
        ),
        (
            "/messages",
            key,
            with(|b| {
                b["messages"][0]["content"] =
                    json!([{ "type": "tool_use", "id": "t", "name": "f" }])
            }),
            vec![],
            400,
            "invalid_request_error",
            "`messages[0].content[0].input` is required",
        ),
        (
            "/messages",
            key,
            with(|b| b["system"] = json!([{ "type": "image", "source": {} }])),
            vec![],
            400,
            "invalid_request_error",
            "`system[0].type` must be \"text\"",
        ),
        (
            "/messages",
            key,
            with(|b| b["tool_choice"] = json!({ "type": "tool" })),
            vec![],
            400,
            "invalid_request_error",
            "`tool_choice.name` is required",
        ),
        (
            "/messages",
            key,
            with(|b| b["stream"] = json!("yes")),
            vec![],
            400,
            "invalid_request_error",
            "`stream` must be a boolean, not a string",
        ),
        (
            "/messages",
            key,
            with(|b| b["model"] = json!("nope")),
            vec![],
            400,
            "invalid_request_error",
            "model \"nope\" is not available on this instance",
        ),
        (
            "/messages/count_tokens",
            key,
            with(|b| b["model"] = json!("nope")),
            vec![],
            400,
            "invalid_request_error",
            "model \"nope\" is not available on this instance",
        ),
        (
            "/messages",
            key,
            hi.clone(),
            vec![("x-claude-code-session-id", "a b".into())],
            400,
            "invalid_request_error",
            "the X-Claude-Code-Session-Id header must be 1 to 100 characters",
        ),
        (
            "/messages",
            key,
            hi.clone(),
            vec![("x-user-email", "nobody@example.com".into())],
            403,
            "permission_error",
            "nobody@example.com is not a user of this instance",
        ),
        (
            "/messages",
            key,
            hi.clone(),
            vec![("x-character-id", "no-such".into())],
            404,
            "not_found_error",
            "no AI character with id \"no-such\"",
        ),
        (
            "/messages",
            key,
            "x".repeat(5000),
            vec![],
            413,
            "request_too_large",
            "larger than the limit",
        ),
    ];
    for (path, key, body, headers, status, error_type, says) in cases {
        let (code, response_headers, body) = send(path, key, body, headers).await;
        assert_eq!(code.as_u16(), status, "{path} {says}: {body}");
        let message = anthropic_error(&body, error_type);
        assert!(message.contains(says), "{message} does not say {says}");
        if status == 401 {
            assert_eq!(response_headers.get("www-authenticate").unwrap(), "Bearer");
        }
    }
    // Other methods: a 405 that names the one there is.
    let mut response = app
        .request(Method::GET, "/api/v1/messages")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers().get("allow").unwrap(), "POST");
    let body = json_of(&response.body().await.unwrap());
    anthropic_error(&body, "invalid_request_error");
    // Other routes keep mindgate's own shape.
    let (status, body) = app.post("/api/v1/chat/completions", &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("type").is_none() && body["error"]["message"].is_string());
    assert!(gw.mock.received().is_empty());
    assert!(stored_chats(app).is_empty(), "no chat began");
}

#[actix_web::test]
async fn provider_errors_pass_as_sent_but_for_the_instances_own_key() {
    let gw = spawn_gateway().await;
    gw.mock.fail_with([Fault::Status {
        code: 400,
        retry_after: None,
        message: "prompt is too long: 210000 tokens > 200000 maximum",
    }]);
    let (status, _, body) = gw.anthropic("/messages", &hi(CLAUDE), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, gw.mock.sent_body(), "as the provider sent it");
    assert_eq!(
        json_of(&body)["error"]["message"],
        "prompt is too long: 210000 tokens > 200000 maximum"
    );

    // An OpenAI provider's refusal, in Anthropic's envelope.
    gw.mock.fail_with([Fault::Status {
        code: 400,
        retry_after: None,
        message: "context too long",
    }]);
    let (status, body) = gw.message(&hi(GPT)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = anthropic_error(&body, "invalid_request_error");
    assert_eq!(
        message,
        "provider \"openai\" answered 400: context too long"
    );

    // A key the provider refuses is the instance's fault: a 502, the key
    // it echoed redacted.
    gw.mock.accept_only("sk-ant-another-key-0123");
    let (status, _, body) = gw.anthropic("/messages", &hi(CLAUDE), &[]).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let message = anthropic_error(&json_of(&body), "api_error");
    assert!(
        message.starts_with("provider \"anthropic\" answered 401"),
        "{message}"
    );
    assert!(message.contains("[redacted]") && !message.contains(ANTHROPIC_KEY));
    // So is count_tokens's.
    let (status, _, body) = gw
        .anthropic("/messages/count_tokens", &hi(CLAUDE), &[])
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    anthropic_error(&json_of(&body), "api_error");

    let chats = wait_for_chats(&gw.app, 3).await;
    assert!(chats.iter().all(|c| c.status == "error"), "{chats:#?}");
}

#[actix_web::test]
async fn count_tokens_goes_to_anthropic_and_is_estimated_for_other_models() {
    let gw = spawn_gateway().await;
    let character = gw
        .app
        .create_character(&json!({ "title": "Pirate", "instruction": "Talk like a pirate." }))
        .await;
    let mut request = hi("claude-2");
    request.as_object_mut().unwrap().remove("max_tokens");
    request["activatedCharacterID"] = character["id"].clone();
    let headers = [("anthropic-beta", "token-counting-2024-11-01")];
    let (status, _, body) = gw
        .anthropic("/messages/count_tokens", &request, &headers)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body), json!({ "input_tokens": COUNTED_TOKENS }));
    let sent = gw.mock.last();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(
        sent.body,
        json!({
            "model": "claude-sonnet-4-5",
            "messages": [{ "role": "user", "content": "Hi there" }],
            "system": [{ "type": "text", "text": "Talk like a pirate." }]
        })
    );
    assert_eq!(sent.header("anthropic-beta"), Some(headers[0].1));

    // Elsewhere, a token per 4 characters: "Talk like a pirate." and
    // "Hi there" are 27, so 7.
    for model in [GPT, "echo"] {
        request["model"] = json!(model);
        let (status, _, body) = gw.anthropic("/messages/count_tokens", &request, &[]).await;
        assert_eq!(status, StatusCode::OK, "{model}");
        assert_eq!(json_of(&body), json!({ "input_tokens": 7 }), "{model}");
    }
    // Tools count too.
    request["tools"] = json!([weather_tool()]);
    let (_, _, body) = gw.anthropic("/messages/count_tokens", &request, &[]).await;
    assert!(json_of(&body)["input_tokens"].as_i64().unwrap() > 7);
    assert_eq!(gw.mock.received().len(), 1, "nothing else went upstream");
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert!(stored_chats(&gw.app).is_empty(), "a count is no chat");
}

#[actix_web::test]
async fn models_answer_in_anthropics_list_shape_to_anthropic_clients() {
    let gw = spawn_gateway().await;
    let list = |query: &'static str, version: bool| {
        let mut request = gw
            .app
            .request(Method::GET, &format!("/api/v1/models{query}"));
        if version {
            request = request.insert_header(("anthropic-version", "2023-06-01"));
        }
        send(request)
    };
    let (status, openai) = list("", false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(openai["object"], "list");
    let ids = data_field(&openai, "id");
    let (status, all) = list("", true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(data_field(&all, "id"), ids);
    assert_eq!(
        all["data"][0],
        json!({ "type": "model", "id": ids[0], "display_name": ids[0],
                "created_at": "1970-01-01T00:00:00.000Z" })
    );
    assert_eq!(all["has_more"], false);
    assert_eq!(all["first_id"], ids[0]);
    assert_eq!(all["last_id"], ids[ids.len() - 1]);

    // Pages: the first two, the two after, the two before the last.
    let (_, first) = list("?limit=2", true).await;
    assert_eq!(data_field(&first, "id"), ids[..2]);
    assert_eq!(
        (&first["has_more"], &first["last_id"]),
        (&json!(true), &json!(ids[1]))
    );
    let after = format!("?limit=2&after_id={}", ids[1]);
    let (_, next) = list(after.leak(), true).await;
    assert_eq!(data_field(&next, "id"), ids[2..4]);
    let before = format!("?limit=2&before_id={}", ids[ids.len() - 1]);
    let (_, previous) = list(before.leak(), true).await;
    assert_eq!(
        data_field(&previous, "id"),
        ids[ids.len() - 3..ids.len() - 1]
    );
    assert_eq!(previous["has_more"], true);
    let (_, end) = list("?after_id=zzz", true).await;
    assert_eq!(
        end,
        json!({ "data": [], "has_more": false, "first_id": null, "last_id": null })
    );

    let (status, error) = list("?limit=0", true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    anthropic_error(&error, "invalid_request_error");
    let mut wrong_key = gw
        .app
        .client
        .get(gw.app.url("/api/v1/models"))
        .insert_header(("x-api-key", "mg_wrong"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), StatusCode::UNAUTHORIZED);
    anthropic_error(
        &json_of(&wrong_key.body().await.unwrap()),
        "authentication_error",
    );
}

#[actix_web::test]
async fn a_claude_code_session_is_one_chat_whose_conversation_grows() {
    let gw = spawn_gateway().await;
    let session = [(
        "X-Claude-Code-Session-Id",
        "2b0e7c1e-6a4f-4c59-9d43-0f4e4d6a8b11",
    )];
    let mut request = hi(CLAUDE);
    let (status, _, _) = gw.anthropic("/messages", &request, &session).await;
    assert_eq!(status, StatusCode::OK);
    request["messages"] = json!([
        { "role": "user", "content": "Hi there" },
        { "role": "assistant", "content": REPLY },
        { "role": "user", "content": "Write a test" }
    ]);
    let (status, _, _) = gw.anthropic("/messages", &request, &session).await;
    assert_eq!(status, StatusCode::OK);
    let full =
        format!("User: Hi there\n\nAssistant: {REPLY}\n\nUser: Write a test\n\nAssistant: {REPLY}");
    let chat = the_chat(&gw.app).await;
    assert_eq!(
        chat.chat_id,
        "claude-code-2b0e7c1e-6a4f-4c59-9d43-0f4e4d6a8b11"
    );
    assert_eq!(chat.conversation, full);
    // A side request of the session (a title, a command's check) counts,
    // but leaves the conversation.
    let (status, _, _) = gw.anthropic("/messages", &hi(GPT), &session).await;
    assert_eq!(status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(5);
    let chat = loop {
        let chat = the_chat(&gw.app).await;
        if chat.prompt_tokens == Some(3 * PROMPT_TOKENS) || Instant::now() > deadline {
            break chat;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(chat.prompt_tokens, Some(3 * PROMPT_TOKENS));
    assert_eq!(chat.completion_tokens, Some(3 * COMPLETION_TOKENS));
    assert_eq!(chat.conversation, full);
    assert_eq!(chat.chat_title, "Hi there");
    assert_eq!(chat.model.as_deref(), Some(GPT), "the latest request's");
}

#[actix_web::test]
async fn a_messages_chat_is_attributed_to_its_user() {
    let gw = spawn_gateway().await;
    let user = gw
        .app
        .create_user(&json!({ "email": "ann@example.com" }))
        .await;
    let (status, _, _) = gw
        .anthropic(
            "/messages",
            &hi("echo"),
            &[("X-User-Email", "Ann@Example.com")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let chat = the_chat(&gw.app).await;
    assert_eq!(
        Some(chat.user_id.unwrap().to_string()),
        user["id"].as_str().map(str::to_owned)
    );
    assert_eq!(chat.conversation, "User: Hi there\n\nAssistant: Hi there");
}

#[actix_web::test]
async fn every_protocol_shows_tool_calls_in_its_chat_log_and_a_prompt_says_them() {
    let gw = spawn_gateway().await;
    gw.mock.answer_with(MockAnswer::Full);
    let tool = json!({ "type": "function", "function": { "name": "get_weather",
                       "parameters": { "type": "object" } } });
    // OpenAI style, whole and streamed.
    let mut request = hello(GPT);
    request["tools"] = json!([tool]);
    let (status, _) = gw.complete(&request).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = gw.stream(&streamed(request.clone())).await;
    assert_eq!(status, StatusCode::OK);
    // Claude's legacy style: the tool call told in the completion.
    let prompt = json!({ "model": GPT, "prompt": "\n\nHuman: Hi there\n\nAssistant:",
                         "tools": [tool] });
    let (status, body) = gw.complete(&prompt).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let told = format!(
        "{REPLY}\n[tool_use: get_weather {}]",
        crate::mock_upstream::TOOL_INPUT_PIECES.concat()
    );
    assert_eq!(body["completion"], told);
    assert_eq!(body["stop_reason"], "tool_use");
    let (status, stream) = gw.stream(&streamed(prompt)).await;
    assert_eq!(status, StatusCode::OK);
    let events = event_data(&stream);
    let text: String = events
        .iter()
        .filter_map(|e| e["completion"].as_str())
        .collect();
    assert_eq!(text, told, "{stream}");
    assert_eq!(events.last().unwrap()["stop_reason"], "tool_use");
    let expected = format!("User: Hi there\n\nAssistant: {REPLY}\n[tool_use: get_weather]");
    for chat in wait_for_chats(&gw.app, 4).await {
        assert_eq!(chat.conversation, expected);
    }
}

#[actix_web::test]
async fn policies_and_limits_govern_messages_as_they_do_chat_completions() {
    let gw = spawn_gateway().await;
    let policy = json!({
        "models": ["echo", CLAUDE],
        "limits": [{ "metric": "requests", "window": "day", "max": 2 }]
    });
    let (status, body) = send_body(
        gw.app.request(Method::PUT, "/api/v1/policies/everyone"),
        policy.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A chat key, as Claude Code would hold, reaches these routes.
    let (_, chat_key) = gw.app.add_key("claude code", KeyScope::Chat);
    let call = |path: &'static str, model: &str| {
        let request = gw
            .app
            .client
            .post(gw.app.url(&format!("/api/v1{path}")))
            .insert_header(("x-api-key", chat_key.as_str()));
        send_body(request, hi(model).to_string())
    };
    let (status, body) = call("/messages", "echo").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Counting tokens is checked but counts against no limit.
    for _ in 0..3 {
        let (status, body) = call("/messages/count_tokens", "echo").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for path in ["/messages", "/messages/count_tokens"] {
        let (status, body) = call(path, GPT).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        let message = anthropic_error(&body, "permission_error");
        assert!(message.contains("model `gpt-4o` is not open"), "{message}");
    }
    let (status, body) = call("/messages", "echo").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut limited = gw
        .app
        .client
        .post(gw.app.url("/api/v1/messages"))
        .insert_header(("x-api-key", chat_key.as_str()))
        .send_body(hi("echo").to_string())
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&wait), "{wait}");
    let message = anthropic_error(&json_of(&limited.body().await.unwrap()), "rate_limit_error");
    assert!(message.starts_with("limit reached"), "{message}");
    assert!(gw.mock.received().is_empty());
    assert_eq!(
        wait_for_chats(&gw.app, 2).await.len(),
        2,
        "the two answered"
    );
}
