//! OpenAI chat completions as an upstream: the request body, and the answer
//! (whole or streamed) turned into a `Completion` or `Piece`s.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::answer::{Completion, Finish, Piece, Usage};
use super::message::{ChatMessage, Content};
use super::request::ClientProtocol;
use super::upstream_error::ProviderError;

/// The upstream body: the client's parameters and messages as sent, with
/// the upstream model id, and usage asked for at the end of a stream.
pub fn request_body(
    protocol: ClientProtocol,
    messages: Vec<ChatMessage>,
    params: &Map<String, Value>,
    upstream_model: &str,
    stream: bool,
) -> Value {
    let mut body = params.clone();
    if protocol == ClientProtocol::LegacyPrompt {
        // A Claude-style request may carry parameters only Anthropic knows.
        for anthropic_only in ["top_k", "metadata", "anthropic_version"] {
            body.remove(anthropic_only);
        }
    }
    body.insert("model".into(), upstream_model.into());
    let messages = messages.into_iter().map(Value::from).collect();
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

// The answer's wire shapes, read straight into structs: only the fields
// mindgate records, nothing kept that it does not need.

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    prompt_tokens_details: Option<WireTokenDetails>,
}

#[derive(Deserialize)]
struct WireTokenDetails {
    cached_tokens: Option<i64>,
}

impl From<WireUsage> for Usage {
    /// OpenAI counts the tokens read from its cache in `prompt_tokens`
    /// too; they are priced apart, so they are taken out of it.
    fn from(usage: WireUsage) -> Usage {
        let cached = usage
            .prompt_tokens_details
            .and_then(|details| details.cached_tokens)
            .map(|cached| cached.max(0));
        Usage {
            prompt_tokens: usage
                .prompt_tokens
                .map(|prompt| (prompt - cached.unwrap_or(0)).max(0)),
            completion_tokens: usage.completion_tokens,
            cache_read_tokens: cached,
            cache_write_tokens: None,
        }
    }
}

#[derive(Deserialize)]
struct WireCompletion {
    id: Option<String>,
    #[serde(default)]
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: WireMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireMessage {
    #[serde(default)]
    content: Value,
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
}

/// A `chat.completion` body.
pub fn completion(body: &[u8]) -> serde_json::Result<Completion> {
    let wire: WireCompletion = serde_json::from_slice(body)?;
    let (message, finish) = match wire.choices.into_iter().next() {
        Some(choice) => (
            choice.message,
            choice.finish_reason.as_deref().map(Finish::from_openai),
        ),
        None => (WireMessage::default(), None),
    };
    Ok(Completion {
        id: wire.id,
        // Content that is not text or typed parts is no text.
        text: Content::parse(message.content)
            .ok()
            .flatten()
            .map(Content::into_text)
            .unwrap_or_default(),
        tool_calls: message.tool_calls.unwrap_or_default(),
        finish,
        usage: wire.usage.map(Usage::from).unwrap_or_default(),
    })
}

#[derive(Deserialize)]
struct WireChunk {
    choices: Option<Vec<WireChunkChoice>>,
    usage: Option<WireUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WireChunkChoice {
    #[serde(default)]
    delta: WireDelta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireDelta {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    index: Option<u64>,
    id: Option<String>,
    #[serde(default)]
    function: WireFunction,
}

#[derive(Deserialize, Default)]
struct WireFunction {
    name: Option<String>,
    arguments: Option<String>,
}

/// One event of a stream, read.
pub struct Chunk {
    pub pieces: Vec<Piece>,
    /// It only carries the usage mindgate asked for.
    pub usage_only: bool,
}

/// One `chat.completion.chunk` (or an error) from a stream; `None` when the
/// data is not such JSON.
pub fn chunk(data: &str) -> Option<Chunk> {
    let wire: WireChunk = serde_json::from_str(data).ok()?;
    let mut pieces = Vec::new();
    if let Some(error) = &wire.error {
        pieces.push(reported(error));
        return Some(Chunk {
            pieces,
            usage_only: false,
        });
    }
    let usage_only = wire.usage.is_some() && wire.choices.as_ref().is_some_and(Vec::is_empty);
    if let Some(choice) = wire.choices.and_then(|c| c.into_iter().next()) {
        if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
            pieces.push(Piece::Text(text));
        }
        for call in choice.delta.tool_calls.into_iter().flatten() {
            let index = call.index.unwrap_or(0);
            if let Some(name) = call.function.name {
                pieces.push(Piece::ToolStart {
                    index,
                    id: call.id.unwrap_or_default(),
                    name,
                });
            }
            if let Some(json) = call.function.arguments.filter(|a| !a.is_empty()) {
                pieces.push(Piece::ToolArgs { index, json });
            }
        }
        if let Some(reason) = choice.finish_reason {
            pieces.push(Piece::Finish(Finish::from_openai(&reason)));
        }
    }
    if let Some(usage) = wire.usage {
        pieces.push(Piece::Usage(usage.into()));
    }
    Some(Chunk { pieces, usage_only })
}

/// An `error` object inside a stream (OpenAI's and Anthropic's alike).
pub fn reported(error: &Value) -> Piece {
    Piece::Error(ProviderError::reported(error))
}

/// The message of an OpenAI-style `error` object (or a bare string).
pub fn error_message(error: &Value) -> String {
    error_text(error).map_or_else(|| error.to_string(), str::to_owned)
}

/// The text of an `error` object (OpenAI's and Anthropic's both have a
/// `message`), or the error itself when it is a bare string.
pub fn error_text(error: &Value) -> Option<&str> {
    error["message"].as_str().or(error.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_give_text_tool_calls_finish_and_usage() {
        let text =
            chunk(r#"{"choices":[{"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}"#)
                .unwrap();
        assert_eq!(text.pieces, vec![Piece::Text("Hi".into())]);
        assert!(!text.usage_only);

        let call = chunk(
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"c1","function":{"name":"f","arguments":"{\"a\""}}]},"finish_reason":"tool_calls"}]}"#,
        )
        .unwrap();
        assert_eq!(
            call.pieces,
            vec![
                Piece::ToolStart {
                    index: 1,
                    id: "c1".into(),
                    name: "f".into()
                },
                Piece::ToolArgs {
                    index: 1,
                    json: "{\"a\"".into()
                },
                Piece::Finish(Finish::ToolCalls),
            ]
        );

        let usage =
            chunk(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#).unwrap();
        assert!(usage.usage_only);
        assert_eq!(
            usage.pieces,
            vec![Piece::Usage(Usage {
                prompt_tokens: Some(3),
                completion_tokens: Some(4),
                ..Usage::default()
            })]
        );
        let cached = chunk(
            r#"{"choices":[],"usage":{"prompt_tokens":30,"completion_tokens":4,
                "prompt_tokens_details":{"cached_tokens":20}}}"#,
        )
        .unwrap();
        assert_eq!(
            cached.pieces,
            vec![Piece::Usage(Usage {
                prompt_tokens: Some(10),
                completion_tokens: Some(4),
                cache_read_tokens: Some(20),
                cache_write_tokens: None,
            })],
            "cached tokens are part of prompt_tokens, priced apart"
        );

        let error = chunk(r#"{"error":{"message":"boom","type":"server_error"}}"#).unwrap();
        assert_eq!(
            error.pieces,
            vec![Piece::Error(ProviderError {
                error_type: Some("server_error".into()),
                message: "boom".into(),
                ..ProviderError::default()
            })]
        );
        assert!(chunk("not json").is_none());
    }

    #[test]
    fn a_completion_keeps_tool_calls_and_usage() {
        let body = br#"{"id":"x","choices":[{"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#;
        let c = completion(body).unwrap();
        assert_eq!(c.id.as_deref(), Some("x"));
        assert_eq!(c.text, "");
        assert_eq!(c.tool_calls.len(), 1);
        assert_eq!(c.finish, Some(Finish::ToolCalls));
        assert_eq!(c.usage.completion_tokens, Some(2));
        assert!(completion(b"[]").is_err());
    }
}
