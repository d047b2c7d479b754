//! The upstreams chats go to, one module per protocol an upstream speaks
//! (`ProviderKind`): each owns its URLs, its authentication, whether it
//! needs a key, the request body, and the reading of its answers, whole and
//! streamed, into the pieces every answer becomes. A new provider is one
//! module here and one arm in `api`.

pub mod anthropic;
pub mod openai;
pub mod openai_responses;

use serde_json::{Map, Value};

use super::answer::{Completion, Piece};
use super::message::ChatMessage;
use super::request::ClientProtocol;
use super::upstream_error::{ProviderError, UpstreamError};
use crate::db::providers::{Provider, ProviderKind};

/// A wire protocol: an upstream's own, or another it may serve at an
/// endpoint of its own (`ProviderApi::native_url`). A client that speaks
/// the wire an upstream is asked in gets the upstream's answer as it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    OpenAiChat,
    AnthropicMessages,
    /// OpenAI's Responses API, which OpenAI-compatible servers may serve.
    OpenAiResponses,
    /// OpenAI's legacy text completions, which OpenAI-compatible servers
    /// of base models (vLLM, llama.cpp, Ollama) still serve.
    OpenAiCompletions,
}

impl Wire {
    /// How its answers are read.
    pub fn reader(self) -> &'static dyn WireReader {
        match self {
            Wire::OpenAiChat => &openai::OpenAi,
            Wire::AnthropicMessages => &anthropic::Anthropic,
            Wire::OpenAiResponses => &openai_responses::Responses,
            // Its choices carry `text` where a chat's carry a message.
            Wire::OpenAiCompletions => &openai::OpenAi,
        }
    }
}

/// Reads the answers of a wire protocol, whole and streamed, into the
/// pieces every answer becomes.
pub trait WireReader: Sync {
    /// A whole answer, read.
    fn completion(&self, body: &[u8]) -> serde_json::Result<Completion>;

    /// An event's data; `None` when it is not what the API sends.
    fn stream_event(&self, data: &str) -> Option<StreamEvent>;
}

/// What a request body is made of.
pub struct BodyInput<'a> {
    /// The protocol the client spoke.
    pub protocol: ClientProtocol,
    pub messages: Vec<ChatMessage>,
    /// The client's other parameters.
    pub params: &'a Map<String, Value>,
    /// The model id sent upstream.
    pub model: &'a str,
    pub stream: bool,
    /// The client's body in this upstream's own protocol, to send as it
    /// is (`ChatRequest::native`); the messages and parameters otherwise.
    pub native: Option<Map<String, Value>>,
    /// The AI character's instruction, for a native body (the messages
    /// hold it already).
    pub instruction: Option<&'a str>,
}

/// One event of an upstream's stream, read.
pub struct StreamEvent {
    pub pieces: Vec<Piece>,
    /// It carries nothing but the usage mindgate asked for.
    pub usage_only: bool,
    /// The upstream says the answer is complete.
    pub last: bool,
}

/// A page of a provider's model list.
pub struct ModelPage {
    pub ids: Vec<String>,
    /// The last id, when more pages follow.
    pub last: Option<String>,
}

/// A model of a provider's list: its id is all mindgate reads.
#[derive(serde::Deserialize)]
pub struct Listed {
    pub id: String,
}

/// An upstream protocol.
pub trait ProviderApi: Sync {
    fn wire(&self) -> Wire;

    /// The environment variable that gives the built-in provider its key.
    fn key_variable(&self) -> &'static str;

    /// Whether a provider at `base_url` needs a key.
    fn needs_key(&self, base_url: &str) -> bool;

    /// Where chats go, from the base URL without its trailing slash.
    fn chat_url(&self, base_url: &str) -> String;

    /// Where it may serve `wire`, a client protocol other than its own,
    /// as the client sent it (OpenAI-compatible servers: the Responses
    /// API at `/responses`). A server that does not (404, 405 or 501) is
    /// asked through its own wire instead, translated.
    fn native_url(&self, _wire: Wire, _base_url: &str) -> Option<String> {
        None
    }

    /// Where its models are listed (to test a connection, to import them).
    fn models_url(&self, base_url: &str) -> String;

    /// Where the page of its model list after the model `after` is, for
    /// a list that comes in pages.
    fn models_url_after(&self, _base_url: &str, _after: &str) -> Option<String> {
        None
    }

    /// One page of its model list, read.
    fn model_page(&self, body: &[u8]) -> serde_json::Result<ModelPage>;

    /// Where a request's input tokens are counted, when it counts them.
    fn count_tokens_url(&self, _base_url: &str) -> Option<String> {
        None
    }

    /// Where embeddings are made, when its API makes them.
    fn embeddings_url(&self, _base_url: &str) -> Option<String> {
        None
    }

    fn authorize(&self, request: awc::ClientRequest, key: Option<&str>) -> awc::ClientRequest;

    fn request_body(&self, input: BodyInput) -> Value;

    /// The body to send again when the provider refused `body` for
    /// something mindgate added to it; none by default.
    fn retry_body(
        &self,
        _error: &UpstreamError,
        _body: &Value,
        _client_wants_usage: bool,
    ) -> Option<Value> {
        None
    }

    /// Whether `model` is of its family: models it answers with no
    /// catalog entry.
    fn in_family(&self, model: &str) -> bool;

    /// The family, as a regular expression.
    fn family_pattern(&self) -> &'static str;
}

/// The protocol a provider of `kind` speaks.
pub fn api(kind: ProviderKind) -> &'static dyn ProviderApi {
    match kind {
        ProviderKind::OpenAi => &openai::OpenAi,
        ProviderKind::Anthropic => &anthropic::Anthropic,
    }
}

/// Whether the provider needs a key it does not have.
pub fn lacks_key(provider: &Provider) -> bool {
    api(provider.kind).needs_key(&provider.base_url) && provider.api_key.is_none()
}

/// The provider kind whose family `model` is of.
pub fn family(model: &str) -> Option<ProviderKind> {
    ProviderKind::ALL
        .into_iter()
        .find(|kind| api(*kind).in_family(model))
}

/// A whole answer's body as a completion; an error object in it (some
/// servers answer 200 with one) is the error it reports.
pub fn completion(api: &dyn WireReader, body: &[u8]) -> Result<Completion, UpstreamError> {
    if let Some(error) = reported_error(body) {
        return Err(UpstreamError::reported(error));
    }
    api.completion(body).map_err(|e| {
        UpstreamError::bad_answer(format!(
            "the provider's answer is not what its API returns: {e}"
        ))
    })
}

/// The error a body is, when it is `{"error": {...}}` (either vendor's
/// shape).
pub(super) fn reported_error(body: &[u8]) -> Option<ProviderError> {
    #[derive(serde::Deserialize)]
    struct Reported {
        error: Option<Value>,
    }
    // A substring search spares real answers a second parse.
    memchr::memmem::find(body, b"\"error\"")?;
    let error = serde_json::from_slice::<Reported>(body).ok()?.error?;
    Some(ProviderError::reported(&error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::upstream_error::Failure;

    #[test]
    fn an_error_body_is_the_error_it_reports() {
        let anthropic = Wire::AnthropicMessages.reader();
        let openai = Wire::OpenAiChat.reader();
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#;
        let error = completion(anthropic, body).unwrap_err();
        let Failure::Refused(said) = &error.failure else {
            panic!("{error:?}");
        };
        assert_eq!(said.error_type.as_deref(), Some("rate_limit_error"));
        assert_eq!(said.status, None);
        assert_eq!(error.message, "slow down");
        let answer = br#"{"choices":[{"message":{"content":"an \"error\" is fine"}}]}"#;
        assert_eq!(
            completion(openai, answer).unwrap().text,
            "an \"error\" is fine"
        );
        let error = completion(openai, b"[]").unwrap_err();
        assert_eq!(error.failure, Failure::BadAnswer);
    }

    #[test]
    fn families_route_by_prefix() {
        assert_eq!(family("gpt-4o"), Some(ProviderKind::OpenAi));
        assert_eq!(family("chatgpt-4o-latest"), Some(ProviderKind::OpenAi));
        assert_eq!(family("o3-mini"), Some(ProviderKind::OpenAi));
        assert_eq!(family("text-embedding-3-small"), Some(ProviderKind::OpenAi));
        assert_eq!(family("claude-3-opus"), Some(ProviderKind::Anthropic));
        assert_eq!(family("ollama"), None);
        assert_eq!(family("o"), None);
        assert_eq!(family("llama3"), None);
    }
}
