//! The protocols clients speak, one module each: OpenAI chat completions,
//! TypingMind's Claude-style `prompt`, Anthropic's Messages and OpenAI's
//! legacy text completions. Each says how its requests read
//! into the common chat input (`request::ChatRequest`) and renders the
//! pieces every answer becomes in its own shape, whole and streamed. A
//! client whose protocol is its upstream's (`Wire`) gets the upstream's
//! answer as it came instead.

pub mod messages;
pub mod openai_chat;
pub mod openai_completions;
pub mod prompt;
pub mod responses;

use bytes::{BufMut, BytesMut};
use serde_json::{Map, Value};

use super::answer::{Completion, Piece, Transcript};
use super::providers::Wire;
use super::upstream_error::UpstreamError;

/// The shape the client asked in, and so the shape of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientProtocol {
    /// OpenAI chat completions: `messages` in, `chat.completion` out.
    OpenAiChat,
    /// Anthropic's legacy text completions: a `prompt` in, `completion` out.
    LegacyPrompt,
    /// Anthropic's Messages: `messages` of content blocks in, a `message`
    /// out.
    Messages,
    /// OpenAI's Responses: `input` items in, a `response` out.
    Responses,
    /// OpenAI's legacy text completions: a `prompt` in, `text_completion`
    /// out.
    OpenAiCompletions,
}

impl ClientProtocol {
    pub fn api(self) -> &'static dyn ProtocolApi {
        match self {
            ClientProtocol::OpenAiChat => &openai_chat::OpenAiChat,
            ClientProtocol::LegacyPrompt => &prompt::Prompt,
            ClientProtocol::Messages => &messages::Messages,
            ClientProtocol::Responses => &responses::Responses,
            ClientProtocol::OpenAiCompletions => &openai_completions::OpenAiCompletions,
        }
    }
}

/// A client protocol's answers.
pub trait ProtocolApi: Sync {
    /// The upstream protocol that is this one, if any: its answers pass
    /// through as they came.
    fn wire(&self) -> Option<Wire>;

    /// Whether its requests are Claude-style, so may carry parameters only
    /// Anthropic knows.
    fn anthropic_style(&self) -> bool;

    /// The id of an answer, from the upstream's when it keeps that.
    fn answer_id(&self, upstream_id: Option<&str>) -> String;

    /// Names an answer: its id, the model the client asked for, and now.
    fn meta(&self, upstream_id: Option<&str>, model: &str) -> AnswerMeta {
        AnswerMeta {
            id: self.answer_id(upstream_id),
            model: model.to_owned(),
            created: crate::domain::Timestamp::now().millis() / 1000,
        }
    }

    /// The client's body for an upstream that serves this protocol at an
    /// endpoint of its own (`ProviderApi::native_url`): the upstream's
    /// model id in it. A protocol whose body has a place for the AI
    /// character's instruction puts it there (Responses: `instructions`).
    fn native_body(
        &self,
        mut body: Map<String, Value>,
        upstream_model: &str,
        _instruction: Option<&str>,
    ) -> Value {
        body.insert("model".into(), upstream_model.into());
        Value::Object(body)
    }

    /// A whole answer as the response body.
    fn completion(&self, meta: &AnswerMeta, completion: &Completion) -> Value;

    /// Turns a stream's pieces into the client's events.
    fn encoder(&self, meta: AnswerMeta, include_usage: bool) -> Box<dyn Encoder>;
}

/// Names an answer: its id, the model the client asked for, and when.
#[derive(Debug, Clone)]
pub struct AnswerMeta {
    pub id: String,
    pub model: String,
    pub created: i64,
}

/// A stream's pieces, as the client's events.
pub trait Encoder {
    fn piece(&mut self, piece: &Piece, out: &mut BytesMut);

    /// An upstream event passed through as it came (its data), for an
    /// encoder whose error event must follow on from the upstream's own
    /// (Responses' names the response and counts the events).
    fn passed(&mut self, _data: &str) {}

    /// The end of a stream that finished well.
    fn end(&mut self, transcript: &Transcript, out: &mut BytesMut);

    /// The end of a stream that failed: an error event typed as the
    /// README's table says, by the same mapping as an error before the
    /// stream.
    fn error(&mut self, error: UpstreamError, out: &mut BytesMut);
}

/// A `data:` event.
fn data(out: &mut BytesMut, value: &Value) {
    out.put_slice(b"data: ");
    serde_json::to_writer(out.writer(), value).expect("JSON values serialize");
    out.put_slice(b"\n\n");
}

/// A named event.
fn named(out: &mut BytesMut, event: &str, value: &Value) {
    out.put_slice(b"event: ");
    out.put_slice(event.as_bytes());
    out.put_slice(b"\n");
    data(out, value);
}
