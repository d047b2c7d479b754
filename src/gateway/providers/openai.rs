//! OpenAI chat completions as an upstream (OpenAI itself, Ollama, vLLM,
//! OpenRouter...): its URLs and key, the request body, and the answer
//! (whole or streamed) turned into a `Completion` or `Piece`s.

use serde::Deserialize;
use serde_json::Value;

use super::{BodyInput, Listed, ModelPage, ProviderApi, StreamEvent, Wire, WireReader};
use crate::gateway::answer::{Completion, Finish, Piece, Usage};
use crate::gateway::message::Content;
use crate::gateway::upstream_error::{ProviderError, UpstreamError};

pub struct OpenAi;

/// Parameters only Anthropic knows, which a Claude-style request may carry
/// and OpenAI-compatible servers refuse.
const ANTHROPIC_ONLY: [&str; 3] = ["top_k", "metadata", "anthropic_version"];

impl WireReader for OpenAi {
    fn completion(&self, body: &[u8]) -> serde_json::Result<Completion> {
        completion(body)
    }

    fn stream_event(&self, data: &str) -> Option<StreamEvent> {
        chunk(data)
    }
}

impl ProviderApi for OpenAi {
    fn wire(&self) -> Wire {
        Wire::OpenAiChat
    }

    fn key_variable(&self) -> &'static str {
        "OPENAI_API_KEY"
    }

    /// OpenAI itself does; other OpenAI-compatible servers (Ollama,
    /// vLLM...) may need none.
    fn needs_key(&self, base_url: &str) -> bool {
        is_openai(base_url)
    }

    fn chat_url(&self, base_url: &str) -> String {
        format!("{base_url}/chat/completions")
    }

    /// The Responses API at `/responses` (OpenAI's, and some servers'), and
    /// legacy text completions at `/completions`, for the servers of base
    /// models.
    fn native_url(&self, wire: Wire, base_url: &str) -> Option<String> {
        match wire {
            Wire::OpenAiResponses => Some(format!("{base_url}/responses")),
            Wire::OpenAiCompletions => Some(format!("{base_url}/completions")),
            Wire::OpenAiChat | Wire::AnthropicMessages => None,
        }
    }

    fn models_url(&self, base_url: &str) -> String {
        format!("{base_url}/models")
    }

    fn embeddings_url(&self, base_url: &str) -> Option<String> {
        Some(format!("{base_url}/embeddings"))
    }

    /// `{"data": [{"id": ...}, ...]}`, all at once.
    fn model_page(&self, body: &[u8]) -> serde_json::Result<ModelPage> {
        #[derive(Deserialize)]
        struct List {
            data: Vec<Listed>,
        }
        let list: List = serde_json::from_slice(body)?;
        Ok(ModelPage {
            ids: list.data.into_iter().map(|m| m.id).collect(),
            last: None,
        })
    }

    fn authorize(&self, request: awc::ClientRequest, key: Option<&str>) -> awc::ClientRequest {
        match key {
            Some(key) => request.insert_header(("authorization", format!("Bearer {key}"))),
            None => request,
        }
    }

    /// The client's parameters and messages as sent, with the upstream
    /// model id, and usage asked for at the end of a stream.
    fn request_body(&self, input: BodyInput) -> Value {
        let mut body = input.params.clone();
        if input.protocol.api().anthropic_style() {
            for anthropic_only in ANTHROPIC_ONLY {
                body.remove(anthropic_only);
            }
        }
        body.insert("model".into(), input.model.into());
        let messages = input.messages.into_iter().map(Value::from).collect();
        body.insert("messages".into(), Value::Array(messages));
        if input.stream {
            body.insert("stream".into(), true.into());
            body.insert(
                "stream_options".into(),
                serde_json::json!({ "include_usage": true }),
            );
        }
        Value::Object(body)
    }

    /// Some OpenAI-compatible servers refuse the usage option mindgate
    /// adds: ask again without it (unless the client asked for it).
    fn retry_body(
        &self,
        error: &UpstreamError,
        body: &Value,
        client_wants_usage: bool,
    ) -> Option<Value> {
        if !error.refuses_param("stream_options") || client_wants_usage {
            return None;
        }
        let mut body = body.clone();
        if let Some(fields) = body.as_object_mut() {
            fields.remove("stream_options");
        }
        Some(body)
    }

    fn in_family(&self, model: &str) -> bool {
        let starts_o_digit =
            model.len() > 1 && model.starts_with('o') && model.as_bytes()[1].is_ascii_digit();
        // text-embedding-: OpenAI's embedding models, for `/embeddings`.
        model.starts_with("gpt-")
            || model.starts_with("chatgpt-")
            || starts_o_digit
            || model.starts_with("text-embedding-")
    }

    fn family_pattern(&self) -> &'static str {
        "^(gpt-|chatgpt-|o[0-9]|text-embedding-)"
    }
}

/// Whether a base URL is OpenAI's own service, rather than another server
/// that speaks its API.
pub fn is_openai(base_url: &str) -> bool {
    base_url.starts_with("https://api.openai.com")
}

// The answer's wire shapes, read straight into structs: only the fields
// mindgate records, nothing kept that it does not need.

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    prompt_tokens_details: Option<WireTokenDetails>,
}

/// The cached part of the input, as both of OpenAI's APIs report it.
#[derive(Deserialize)]
pub(super) struct WireTokenDetails {
    pub(super) cached_tokens: Option<i64>,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Usage {
        let cached = usage
            .prompt_tokens_details
            .and_then(|details| details.cached_tokens);
        usage_of(usage.prompt_tokens, usage.completion_tokens, cached)
    }
}

/// OpenAI counts the tokens read from its cache in the prompt's tokens
/// too (chat's `prompt_tokens`, Responses' `input_tokens`); they are
/// priced apart, so they are taken out of it.
pub(super) fn usage_of(prompt: Option<i64>, completion: Option<i64>, cached: Option<i64>) -> Usage {
    let cached = cached.map(|cached| cached.max(0));
    Usage {
        prompt_tokens: prompt.map(|prompt| (prompt - cached.unwrap_or(0)).max(0)),
        completion_tokens: completion,
        cache_read_tokens: cached,
        cache_write_tokens: None,
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
    /// A legacy text completion's answer, in place of the message.
    text: Option<String>,
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
fn completion(body: &[u8]) -> serde_json::Result<Completion> {
    let wire: WireCompletion = serde_json::from_slice(body)?;
    let (message, text, finish) = match wire.choices.into_iter().next() {
        Some(choice) => (
            choice.message,
            choice.text,
            choice.finish_reason.as_deref().map(Finish::from_openai),
        ),
        None => (WireMessage::default(), None, None),
    };
    Ok(Completion {
        id: wire.id,
        // Content that is not text or typed parts is no text.
        text: text.unwrap_or_else(|| {
            Content::parse(message.content)
                .ok()
                .flatten()
                .map(Content::into_text)
                .unwrap_or_default()
        }),
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
    /// A legacy text completion chunk's text, in place of the delta.
    text: Option<String>,
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

/// One `chat.completion.chunk` (or an error) from a stream; `None` when the
/// data is not such JSON.
fn chunk(data: &str) -> Option<StreamEvent> {
    let wire: WireChunk = serde_json::from_str(data).ok()?;
    let mut pieces = Vec::new();
    if let Some(error) = &wire.error {
        pieces.push(Piece::Error(ProviderError::reported(error)));
        return Some(StreamEvent {
            pieces,
            usage_only: false,
            last: false,
        });
    }
    let usage_only = wire.usage.is_some() && wire.choices.as_ref().is_some_and(Vec::is_empty);
    if let Some(choice) = wire.choices.and_then(|c| c.into_iter().next()) {
        if let Some(text) = choice
            .delta
            .content
            .or(choice.text)
            .filter(|t| !t.is_empty())
        {
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
    Some(StreamEvent {
        pieces,
        usage_only,
        last: false,
    })
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
