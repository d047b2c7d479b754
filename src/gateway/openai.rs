//! OpenAI chat completions as an upstream: the request body, and the answer
//! (whole or streamed) turned into a `Completion` or `Piece`s.

use serde_json::{Map, Value};

use super::completion::{Completion, Finish, Piece, Usage};

/// The upstream body: the client's parameters as sent, with the upstream
/// model id, and usage asked for at the end of a stream.
pub fn request_body(
    messages: Vec<Value>,
    params: &Map<String, Value>,
    upstream_model: &str,
    stream: bool,
) -> Value {
    let mut body = params.clone();
    // Parameters only Anthropic knows, from a Claude-style request.
    for anthropic_only in ["top_k", "metadata", "anthropic_version"] {
        body.remove(anthropic_only);
    }
    body.insert("model".into(), upstream_model.into());
    body.insert("messages".into(), Value::Array(messages));
    if stream {
        body.insert("stream".into(), true.into());
        body.insert(
            "stream_options".into(),
            serde_json::json!({ "include_usage": true }),
        );
    }
    Value::Object(body)
}

fn usage(value: &Value) -> Usage {
    Usage {
        prompt_tokens: value["prompt_tokens"].as_i64(),
        completion_tokens: value["completion_tokens"].as_i64(),
    }
}

/// A `chat.completion` body.
pub fn completion(body: &Value) -> Completion {
    let choice = &body["choices"][0];
    let message = &choice["message"];
    Completion {
        id: body["id"].as_str().map(str::to_owned),
        text: super::request::content_text(&message["content"]),
        tool_calls: message["tool_calls"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        finish: choice["finish_reason"].as_str().map(Finish::from_openai),
        usage: usage(&body["usage"]),
    }
}

/// One `chat.completion.chunk` (or an error) from a stream.
pub fn pieces(chunk: &Value) -> Vec<Piece> {
    let mut pieces = Vec::new();
    if let Some(error) = chunk.get("error") {
        pieces.push(Piece::Error(error_message(error)));
        return pieces;
    }
    if let Some(choice) = chunk["choices"].get(0) {
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            pieces.push(Piece::Text(text.to_owned()));
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap_or(0);
            if let Some(name) = call["function"]["name"].as_str() {
                pieces.push(Piece::ToolStart {
                    index,
                    id: call["id"].as_str().unwrap_or_default().to_owned(),
                    name: name.to_owned(),
                });
            }
            if let Some(args) = call["function"]["arguments"]
                .as_str()
                .filter(|a| !a.is_empty())
            {
                pieces.push(Piece::ToolArgs {
                    index,
                    json: args.to_owned(),
                });
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            pieces.push(Piece::Finish(Finish::from_openai(reason)));
        }
    }
    if chunk["usage"].is_object() {
        pieces.push(Piece::Usage(usage(&chunk["usage"])));
    }
    pieces
}

/// Whether a chunk only carries the usage mindgate asked for.
pub fn is_usage_only(chunk: &Value) -> bool {
    chunk["usage"].is_object() && chunk["choices"].as_array().is_some_and(Vec::is_empty)
}

/// The message of an OpenAI-style `error` object (or a bare string).
pub fn error_message(error: &Value) -> String {
    error["message"]
        .as_str()
        .or(error.as_str())
        .map_or_else(|| error.to_string(), str::to_owned)
}
