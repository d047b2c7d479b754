//! Anthropic's Messages API as an upstream: its URLs and key,
//! OpenAI-shaped messages and parameters translated into its request, and
//! its answer (whole or streamed) into a `Completion` or `Piece`s.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{BodyInput, Listed, ModelPage, ProviderApi, StreamEvent, Wire, WireReader};
use crate::gateway::answer::{Completion, Finish, Piece, Usage};
use crate::gateway::message::{ChatMessage, Content, Part, PartKind, Role};
use crate::gateway::upstream_error::ProviderError;

const VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; this is used when the client set none.
const DEFAULT_MAX_TOKENS: u64 = 4096;

pub struct Anthropic;

impl WireReader for Anthropic {
    fn completion(&self, body: &[u8]) -> serde_json::Result<Completion> {
        serde_json::from_slice::<Value>(body).map(|value| completion(&value))
    }

    fn stream_event(&self, data: &str) -> Option<StreamEvent> {
        let event = serde_json::from_str::<Value>(data).ok()?;
        Some(StreamEvent {
            last: event["type"] == "message_stop",
            pieces: pieces(&event),
            usage_only: false,
        })
    }
}

impl ProviderApi for Anthropic {
    fn wire(&self) -> Wire {
        Wire::AnthropicMessages
    }

    fn key_variable(&self) -> &'static str {
        "ANTHROPIC_API_KEY"
    }

    fn needs_key(&self, _base_url: &str) -> bool {
        true
    }

    fn chat_url(&self, base_url: &str) -> String {
        format!("{base_url}/v1/messages")
    }

    /// The largest page Anthropic serves.
    fn models_url(&self, base_url: &str) -> String {
        format!("{base_url}/v1/models?limit=1000")
    }

    fn models_url_after(&self, base_url: &str, after: &str) -> Option<String> {
        let after = utf8_percent_encode(after, NON_ALPHANUMERIC);
        Some(format!("{}&after_id={after}", self.models_url(base_url)))
    }

    /// `{"data": [{"id": ...}], "has_more", "last_id"}`, in pages.
    fn model_page(&self, body: &[u8]) -> serde_json::Result<ModelPage> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<Listed>,
            #[serde(default)]
            has_more: bool,
            last_id: Option<String>,
        }
        let page: Page = serde_json::from_slice(body)?;
        Ok(ModelPage {
            ids: page.data.into_iter().map(|m| m.id).collect(),
            last: page.last_id.filter(|_| page.has_more),
        })
    }

    fn count_tokens_url(&self, base_url: &str) -> Option<String> {
        Some(format!("{base_url}/v1/messages/count_tokens"))
    }

    fn authorize(&self, request: awc::ClientRequest, key: Option<&str>) -> awc::ClientRequest {
        request
            .insert_header(("x-api-key", key.unwrap_or_default()))
            .insert_header(("anthropic-version", VERSION))
    }

    /// A Messages client's own body as it came, else one translated.
    fn request_body(&self, input: BodyInput) -> Value {
        match input.native {
            Some(native) => native_body(native, input.model, input.instruction),
            None => request_body(&input.messages, input.params, input.model, input.stream),
        }
    }

    fn in_family(&self, model: &str) -> bool {
        model.starts_with("claude-")
    }

    fn family_pattern(&self) -> &'static str {
        "^claude-"
    }
}

/// A Messages body with the upstream's model id, and the AI character's
/// instruction first in its system prompt.
fn native_body(
    mut body: Map<String, Value>,
    upstream_model: &str,
    instruction: Option<&str>,
) -> Value {
    body.insert("model".into(), upstream_model.into());
    if let Some(instruction) = instruction {
        let mut system = vec![json!({ "type": "text", "text": instruction })];
        match body.get_mut("system").map(Value::take) {
            Some(Value::String(text)) if !text.is_empty() => {
                system.push(json!({ "type": "text", "text": text }));
            }
            Some(Value::Array(blocks)) => system.extend(blocks),
            _ => {}
        }
        body.insert("system".into(), Value::Array(system));
    }
    Value::Object(body)
}

fn request_body(
    messages: &[ChatMessage],
    params: &Map<String, Value>,
    upstream_model: &str,
    stream: bool,
) -> Value {
    let mut system = Vec::new();
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for message in messages {
        let (role, blocks) = match message.role() {
            Role::System | Role::Developer => {
                system.push(message.text());
                continue;
            }
            Role::Assistant => ("assistant", assistant_blocks(message)),
            Role::Tool | Role::Function => ("user", vec![tool_result(message)]),
            Role::User => ("user", content_blocks(message.content())),
        };
        if blocks.is_empty() {
            continue;
        }
        // Anthropic wants turns to alternate: same-role neighbours merge.
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), upstream_model.into());
    let max_tokens = params
        .get("max_tokens")
        .or_else(|| params.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), max_tokens.into());
    if !system.is_empty() {
        body.insert("system".into(), system.join("\n\n").into());
    }
    let messages = turns
        .into_iter()
        .map(|(role, content)| json!({ "role": role, "content": content }))
        .collect();
    body.insert("messages".into(), Value::Array(messages));
    for name in [
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "thinking",
        "service_tier",
    ] {
        if let Some(value) = params.get(name) {
            body.insert(name.into(), value.clone());
        }
    }
    match params.get("stop") {
        Some(Value::String(stop)) => {
            body.insert("stop_sequences".into(), json!([stop]));
        }
        Some(stops @ Value::Array(_)) => {
            body.insert("stop_sequences".into(), stops.clone());
        }
        _ => {}
    }
    if let Some(user) = params.get("user").and_then(Value::as_str) {
        body.insert("metadata".into(), json!({ "user_id": user }));
    }
    if let Some(Value::Array(tools)) = params.get("tools") {
        let tools: Vec<Value> = tools
            .iter()
            .map(|tool| {
                let function = &tool["function"];
                json!({
                    "name": function["name"],
                    "description": function["description"].as_str().unwrap_or_default(),
                    "input_schema": if function["parameters"].is_object() {
                        function["parameters"].clone()
                    } else {
                        json!({"type": "object", "properties": {}})
                    },
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = params.get("tool_choice") {
        let mapped = match choice {
            Value::String(s) if s == "required" => Some(json!({"type": "any"})),
            Value::String(s) if s == "none" => Some(json!({"type": "none"})),
            Value::String(_) => Some(json!({"type": "auto"})),
            Value::Object(_) => choice["function"]["name"]
                .as_str()
                .map(|name| json!({"type": "tool", "name": name})),
            _ => None,
        };
        if let Some(mapped) = mapped {
            body.insert("tool_choice".into(), mapped);
        }
    }
    if stream {
        body.insert("stream".into(), true.into());
    }
    Value::Object(body)
}

/// OpenAI content (a string or parts) as Anthropic content blocks.
fn content_blocks(content: Option<&Content>) -> Vec<Value> {
    match content {
        Some(Content::Text(text)) if !text.is_empty() => {
            vec![json!({"type": "text", "text": text})]
        }
        Some(Content::Parts(parts)) => parts.iter().filter_map(content_block).collect(),
        _ => Vec::new(),
    }
}

fn content_block(part: &Part) -> Option<Value> {
    match part.kind() {
        // Anthropic refuses empty text blocks.
        PartKind::Text => {
            Some(json!({"type": "text", "text": part.text().filter(|t| !t.is_empty())?}))
        }
        PartKind::ImageUrl => {
            Some(json!({"type": "image", "source": image_source(part.image_url()?)}))
        }
        // Already Anthropic-shaped (image, document, ...): pass it on.
        PartKind::Image | PartKind::Other => Some(part.to_value()),
    }
}

/// `data:image/png;base64,...` becomes an inline image; anything else a URL.
fn image_source(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((media_type, data)) = rest.split_once(";base64,") {
            return json!({"type": "base64", "media_type": media_type, "data": data});
        }
    }
    json!({"type": "url", "url": url})
}

fn assistant_blocks(message: &ChatMessage) -> Vec<Value> {
    let mut blocks = content_blocks(message.content());
    blocks.extend(message.tool_calls().iter().map(tool_use));
    blocks
}

/// An OpenAI tool call as a `tool_use` block; arguments that are not a
/// JSON object are no input.
pub fn tool_use(call: &Value) -> Value {
    let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
    let input = serde_json::from_str::<Value>(arguments)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    json!({
        "type": "tool_use",
        "id": call["id"],
        "name": call["function"]["name"],
        "input": input,
    })
}

/// A `tool_use` block as an OpenAI tool call.
pub fn tool_call(block: &Value) -> Value {
    json!({
        "id": block["id"],
        "type": "function",
        "function": {"name": block["name"], "arguments": block["input"].to_string()},
    })
}

fn tool_result(message: &ChatMessage) -> Value {
    json!({
        "type": "tool_result",
        "tool_use_id": message.tool_call_id().unwrap_or_default(),
        "content": message.text(),
    })
}

/// Anthropic counts the tokens read from and written to its cache apart
/// from `input_tokens`.
fn usage(value: &Value) -> Usage {
    Usage {
        prompt_tokens: value["input_tokens"].as_i64(),
        completion_tokens: value["output_tokens"].as_i64(),
        cache_read_tokens: value["cache_read_input_tokens"].as_i64(),
        cache_write_tokens: value["cache_creation_input_tokens"].as_i64(),
    }
}

/// A Messages API response.
fn completion(body: &Value) -> Completion {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in body["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => tool_calls.push(tool_call(block)),
            _ => {}
        }
    }
    Completion {
        id: body["id"].as_str().map(str::to_owned),
        text,
        tool_calls,
        finish: body["stop_reason"].as_str().map(Finish::from_anthropic),
        usage: usage(&body["usage"]),
    }
}

/// One event of a Messages stream.
pub fn pieces(event: &Value) -> Vec<Piece> {
    match event["type"].as_str() {
        Some("message_start") => {
            // Its output_tokens is a placeholder: the count comes with
            // message_delta, and a stream cut before has it estimated.
            let usage = Usage {
                completion_tokens: None,
                ..usage(&event["message"]["usage"])
            };
            if usage.is_known() {
                vec![Piece::Usage(usage)]
            } else {
                Vec::new()
            }
        }
        Some("content_block_start") if event["content_block"]["type"] == "tool_use" => {
            vec![Piece::ToolStart {
                index: event["index"].as_u64().unwrap_or(0),
                id: event["content_block"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                name: event["content_block"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            }]
        }
        Some("content_block_delta") => {
            let delta = &event["delta"];
            match delta["type"].as_str() {
                Some("text_delta") => delta["text"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(|t| vec![Piece::Text(t.to_owned())])
                    .unwrap_or_default(),
                Some("input_json_delta") => vec![Piece::ToolArgs {
                    index: event["index"].as_u64().unwrap_or(0),
                    json: delta["partial_json"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                }],
                _ => Vec::new(),
            }
        }
        Some("message_delta") => {
            let mut pieces = Vec::new();
            if let Some(reason) = event["delta"]["stop_reason"].as_str() {
                pieces.push(Piece::Finish(Finish::from_anthropic(reason)));
            }
            let usage = usage(&event["usage"]);
            if usage.is_known() {
                pieces.push(Piece::Usage(usage));
            }
            pieces
        }
        Some("error") => vec![Piece::Error(ProviderError::reported(&event["error"]))],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::message::parse_messages;

    #[test]
    fn messages_become_system_and_alternating_turns() {
        let messages = parse_messages(vec![
            json!({"role": "system", "content": "Be kind."}),
            json!({"role": "user", "content": "Hi"}),
            json!({"role": "user", "content": [
                {"type": "text", "text": ""},
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
            ]}),
            json!({"role": "assistant", "content": "Nice"}),
        ])
        .unwrap();
        let mut params = Map::new();
        params.insert("stop".into(), json!("END"));
        params.insert("temperature".into(), json!(0.5));
        let body = request_body(&messages, &params, "claude-x", false);
        assert_eq!(body["system"], "Be kind.");
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(body["stop_sequences"], json!(["END"]));
        assert_eq!(body["temperature"], 0.5);
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [
                    {"type": "text", "text": "Hi"},
                    {"type": "text", "text": "Look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
                ]},
                {"role": "assistant", "content": [{"type": "text", "text": "Nice"}]}
            ])
        );
    }

    #[test]
    fn cache_tokens_are_read_whole_and_streamed() {
        let body = json!({"content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 2,
                      "cache_read_input_tokens": 300, "cache_creation_input_tokens": 40}});
        let expected = Usage {
            prompt_tokens: Some(5),
            completion_tokens: Some(2),
            cache_read_tokens: Some(300),
            cache_write_tokens: Some(40),
        };
        assert_eq!(completion(&body).usage, expected);
        let start = json!({"type": "message_start", "message": {"usage": {"input_tokens": 5,
            "output_tokens": 1, "cache_read_input_tokens": 300, "cache_creation_input_tokens": 40}}});
        assert_eq!(
            pieces(&start),
            vec![Piece::Usage(Usage {
                completion_tokens: None,
                ..expected
            })],
            "the placeholder output count is left out"
        );
    }

    #[test]
    fn tool_calls_round_trip_into_tool_use() {
        let messages = parse_messages(vec![
            json!({"role": "user", "content": "Weather?"}),
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}
            ]}),
            json!({"role": "tool", "tool_call_id": "t1", "content": "rain"}),
        ])
        .unwrap();
        let body = request_body(&messages, &Map::new(), "claude-x", true);
        assert_eq!(body["stream"], true);
        assert_eq!(
            body["messages"][1]["content"][0],
            json!({"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Oslo"}})
        );
        assert_eq!(body["messages"][2]["content"][0]["type"], "tool_result");
    }
}
