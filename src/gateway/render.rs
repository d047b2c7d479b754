//! Answers in the client's protocol, whatever the provider: OpenAI
//! `chat.completion` (and its chunks) for `messages`, Anthropic's legacy
//! text completion (and its `completion` events) for `prompt`.

use bytes::{BufMut, BytesMut};
use serde_json::{json, Value};

use super::answer::{Completion, Finish, Piece, Transcript, Usage};
use super::request::ClientProtocol;
use super::upstream_error::UpstreamError;
use crate::error::ApiError;

/// Names an answer: its id, the model the client asked for, and when.
#[derive(Debug, Clone)]
pub struct AnswerMeta {
    pub id: String,
    pub model: String,
    pub created: i64,
}

impl AnswerMeta {
    pub fn new(protocol: ClientProtocol, upstream_id: Option<&str>, model: &str) -> AnswerMeta {
        let id = match (protocol, upstream_id) {
            (_, Some(id)) => id.to_owned(),
            (ClientProtocol::OpenAiChat, None) => {
                format!("chatcmpl-{}", crate::domain::random_base62(24))
            }
            (ClientProtocol::LegacyPrompt, None) => {
                format!("compl_{}", crate::domain::random_base62(24))
            }
        };
        AnswerMeta {
            id,
            model: model.to_owned(),
            created: crate::domain::Timestamp::now().millis() / 1000,
        }
    }
}

impl AnswerMeta {
    /// An OpenAI object (`chat.completion` or a chunk) around `choices`.
    fn openai(&self, object: &str, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }

    /// A legacy text completion, whole or one event of a stream.
    fn legacy(&self, text: &str, finish: Option<Finish>, usage: &Usage) -> Value {
        let mut body = json!({
            "type": "completion",
            "id": self.id,
            "completion": text,
            "stop_reason": finish.map(Finish::legacy),
            "model": self.model,
        });
        if usage.is_known() {
            body["usage"] = usage.anthropic_json();
        }
        body
    }
}

/// A whole answer as the response body.
pub fn completion(protocol: ClientProtocol, meta: &AnswerMeta, c: &Completion) -> Value {
    let finish = c.finish.unwrap_or(Finish::Stop);
    match protocol {
        ClientProtocol::OpenAiChat => {
            let mut message = json!({ "role": "assistant", "content": c.text });
            if !c.tool_calls.is_empty() {
                message["tool_calls"] = Value::Array(c.tool_calls.clone());
            }
            let choices =
                json!([{ "index": 0, "message": message, "finish_reason": finish.openai() }]);
            let mut body = meta.openai("chat.completion", choices);
            if c.usage.is_known() {
                body["usage"] = c.usage.openai_json();
            }
            body
        }
        ClientProtocol::LegacyPrompt => meta.legacy(&c.text, Some(finish), &c.usage),
    }
}

const CHUNK: &str = "chat.completion.chunk";

/// Turns stream pieces into the client's events.
pub struct Encoder {
    protocol: ClientProtocol,
    meta: AnswerMeta,
    include_usage: bool,
    started: bool,
}

impl Encoder {
    pub fn new(protocol: ClientProtocol, meta: AnswerMeta, include_usage: bool) -> Encoder {
        Encoder {
            protocol,
            meta,
            include_usage,
            started: false,
        }
    }

    pub fn protocol(&self) -> ClientProtocol {
        self.protocol
    }

    fn chunk(&self, out: &mut BytesMut, delta: Value, finish: Option<Finish>) {
        let choices =
            json!([{ "index": 0, "delta": delta, "finish_reason": finish.map(Finish::openai) }]);
        data(out, &self.meta.openai(CHUNK, choices));
    }

    fn legacy(&self, out: &mut BytesMut, text: &str, finish: Option<Finish>, usage: &Usage) {
        named(out, "completion", &self.meta.legacy(text, finish, usage));
    }

    /// OpenAI streams open with the assistant's role.
    fn start(&mut self, out: &mut BytesMut) {
        if !self.started && self.protocol == ClientProtocol::OpenAiChat {
            self.chunk(out, json!({ "role": "assistant", "content": "" }), None);
        }
        self.started = true;
    }

    pub fn piece(&mut self, piece: &Piece, out: &mut BytesMut) {
        match (self.protocol, piece) {
            (_, Piece::Usage(_) | Piece::Error(_)) => {}
            (ClientProtocol::OpenAiChat, Piece::Text(text)) => {
                self.start(out);
                self.chunk(out, json!({ "content": text }), None);
            }
            (ClientProtocol::OpenAiChat, Piece::ToolStart { index, id, name }) => {
                self.start(out);
                let call = json!({ "index": index, "id": id, "type": "function",
                                   "function": { "name": name, "arguments": "" } });
                self.chunk(out, json!({ "tool_calls": [call] }), None);
            }
            (ClientProtocol::OpenAiChat, Piece::ToolArgs { index, json }) => {
                let call = json!({ "index": index, "function": { "arguments": json } });
                self.chunk(out, json!({ "tool_calls": [call] }), None);
            }
            (ClientProtocol::OpenAiChat, Piece::Finish(finish)) => {
                self.start(out);
                self.chunk(out, json!({}), Some(*finish));
            }
            (ClientProtocol::LegacyPrompt, Piece::Text(text)) => {
                self.started = true;
                self.legacy(out, text, None, &Usage::default());
            }
            (ClientProtocol::LegacyPrompt, _) => {}
        }
    }

    /// The end of a stream that finished well.
    pub fn end(&mut self, transcript: &Transcript, out: &mut BytesMut) {
        match self.protocol {
            ClientProtocol::OpenAiChat => {
                if transcript.finish.is_none() {
                    self.start(out);
                    self.chunk(out, json!({}), Some(Finish::Stop));
                }
                if self.include_usage && transcript.usage.is_known() {
                    let mut chunk = self.meta.openai(CHUNK, json!([]));
                    chunk["usage"] = transcript.usage.openai_json();
                    data(out, &chunk);
                }
                done(out);
            }
            ClientProtocol::LegacyPrompt => {
                let finish = transcript.finish.unwrap_or(Finish::Stop);
                self.legacy(out, "", Some(finish), &transcript.usage);
            }
        }
    }
}

/// The end of a stream that failed, in the client's protocol: an error event
/// (typed as the README's table says, by the same mapping as an error
/// before the stream), then `[DONE]` for OpenAI clients.
pub fn stream_error(protocol: ClientProtocol, error: UpstreamError, out: &mut BytesMut) {
    let error = ApiError::from(error);
    let (kind, message) = (error.kind.type_name(), error.message);
    match protocol {
        ClientProtocol::OpenAiChat => {
            data(
                out,
                &json!({ "error": { "message": message, "type": kind } }),
            );
            done(out);
        }
        ClientProtocol::LegacyPrompt => named(
            out,
            "error",
            &json!({ "type": "error", "error": { "type": kind, "message": message } }),
        ),
    }
}

fn data(out: &mut BytesMut, value: &Value) {
    out.put_slice(b"data: ");
    serde_json::to_writer(out.writer(), value).expect("JSON values serialize");
    out.put_slice(b"\n\n");
}

fn named(out: &mut BytesMut, event: &str, value: &Value) {
    out.put_slice(b"event: ");
    out.put_slice(event.as_bytes());
    out.put_slice(b"\n");
    data(out, value);
}

pub fn done(out: &mut BytesMut) {
    out.put_slice(b"data: [DONE]\n\n");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::providers::anthropic;

    fn events(out: &BytesMut) -> Vec<Value> {
        std::str::from_utf8(out)
            .unwrap()
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap_or(Value::String(d.into())))
            .collect()
    }

    #[test]
    fn anthropic_tool_use_streams_as_openai_tool_calls() {
        let meta = AnswerMeta {
            id: "chatcmpl-1".into(),
            model: "m".into(),
            created: 1,
        };
        let mut encoder = Encoder::new(ClientProtocol::OpenAiChat, meta, false);
        let mut transcript = Transcript::default();
        let mut out = BytesMut::new();
        for event in [
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "tool_use", "id": "t1", "name": "weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        ] {
            for piece in anthropic::pieces(&event) {
                transcript.take(&piece);
                encoder.piece(&piece, &mut out);
            }
        }
        encoder.end(&transcript, &mut out);
        let events = events(&out);
        let deltas: Vec<&Value> = events.iter().map(|e| &e["choices"][0]["delta"]).collect();
        assert_eq!(deltas[0], &json!({"role": "assistant", "content": ""}));
        assert_eq!(
            deltas[1]["tool_calls"][0],
            json!({"index": 0, "id": "t1", "type": "function",
                   "function": {"name": "weather", "arguments": ""}})
        );
        assert_eq!(
            deltas[2]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":"
        );
        assert_eq!(events[3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(events.last().unwrap(), "[DONE]");
        assert_eq!(events.len(), 5, "no usage chunk unless asked: {events:?}");
        assert_eq!(transcript.usage.completion_tokens, Some(9));
    }

    #[test]
    fn legacy_completions_end_with_the_stop_reason_and_usage() {
        let meta = AnswerMeta::new(ClientProtocol::LegacyPrompt, None, "claude-2");
        let completion = Completion {
            text: "Hi".into(),
            finish: Some(Finish::Length),
            usage: crate::gateway::answer::Usage {
                prompt_tokens: Some(2),
                completion_tokens: Some(1),
                ..Default::default()
            },
            ..Completion::default()
        };
        let body = super::completion(ClientProtocol::LegacyPrompt, &meta, &completion);
        assert_eq!(body["type"], "completion");
        assert_eq!(body["stop_reason"], "max_tokens");
        assert_eq!(
            body["usage"],
            json!({"input_tokens": 2, "output_tokens": 1})
        );
        assert!(body["id"].as_str().unwrap().starts_with("compl_"));
    }
}
