//! OpenAI chat completions as the client speaks them: `messages` in (read
//! by `message::parse_messages`), a `chat.completion` or its chunks out.

use bytes::{BufMut, BytesMut};
use serde_json::{json, Value};

use super::{data, AnswerMeta, Encoder, ProtocolApi};
use crate::error::ApiError;
use crate::gateway::answer::{Completion, Finish, Piece, Transcript};
use crate::gateway::providers::Wire;
use crate::gateway::upstream_error::UpstreamError;

pub struct OpenAiChat;

const CHUNK: &str = "chat.completion.chunk";

impl ProtocolApi for OpenAiChat {
    fn wire(&self) -> Option<Wire> {
        Some(Wire::OpenAiChat)
    }

    fn anthropic_style(&self) -> bool {
        false
    }

    fn answer_id(&self, upstream_id: Option<&str>) -> String {
        match upstream_id {
            Some(id) => id.to_owned(),
            None => format!("chatcmpl-{}", crate::domain::random_base62(24)),
        }
    }

    fn completion(&self, meta: &AnswerMeta, c: &Completion) -> Value {
        let finish = c.finish.unwrap_or(Finish::Stop);
        let mut message = json!({ "role": "assistant", "content": c.text });
        if !c.tool_calls.is_empty() {
            message["tool_calls"] = Value::Array(c.tool_calls.clone());
        }
        let choices = json!([{ "index": 0, "message": message, "finish_reason": finish.openai() }]);
        let mut body = object(meta, "chat.completion", choices);
        if c.usage.is_known() {
            body["usage"] = c.usage.openai_json();
        }
        body
    }

    fn encoder(&self, meta: AnswerMeta, include_usage: bool) -> Box<dyn Encoder> {
        Box::new(ChunkEncoder {
            meta,
            include_usage,
            started: false,
        })
    }
}

/// An OpenAI object (`chat.completion` or a chunk) around `choices`.
fn object(meta: &AnswerMeta, object: &str, choices: Value) -> Value {
    json!({
        "id": meta.id,
        "object": object,
        "created": meta.created,
        "model": meta.model,
        "choices": choices,
    })
}

struct ChunkEncoder {
    meta: AnswerMeta,
    /// The client asked for a usage chunk at the end.
    include_usage: bool,
    started: bool,
}

impl ChunkEncoder {
    fn chunk(&self, out: &mut BytesMut, delta: Value, finish: Option<Finish>) {
        let choices =
            json!([{ "index": 0, "delta": delta, "finish_reason": finish.map(Finish::openai) }]);
        data(out, &object(&self.meta, CHUNK, choices));
    }

    /// Streams open with the assistant's role.
    fn start(&mut self, out: &mut BytesMut) {
        if !self.started {
            self.chunk(out, json!({ "role": "assistant", "content": "" }), None);
        }
        self.started = true;
    }
}

impl Encoder for ChunkEncoder {
    fn piece(&mut self, piece: &Piece, out: &mut BytesMut) {
        match piece {
            Piece::Usage(_) | Piece::Error(_) => {}
            Piece::Text(text) => {
                self.start(out);
                self.chunk(out, json!({ "content": text }), None);
            }
            Piece::ToolStart { index, id, name } => {
                self.start(out);
                let call = json!({ "index": index, "id": id, "type": "function",
                                   "function": { "name": name, "arguments": "" } });
                self.chunk(out, json!({ "tool_calls": [call] }), None);
            }
            Piece::ToolArgs { index, json } => {
                let call = json!({ "index": index, "function": { "arguments": json } });
                self.chunk(out, json!({ "tool_calls": [call] }), None);
            }
            Piece::Finish(finish) => {
                self.start(out);
                self.chunk(out, json!({}), Some(*finish));
            }
        }
    }

    fn end(&mut self, transcript: &Transcript, out: &mut BytesMut) {
        if transcript.finish.is_none() {
            self.start(out);
            self.chunk(out, json!({}), Some(Finish::Stop));
        }
        if self.include_usage && transcript.usage.is_known() {
            let mut chunk = object(&self.meta, CHUNK, json!([]));
            chunk["usage"] = transcript.usage.openai_json();
            data(out, &chunk);
        }
        done(out);
    }

    fn error(&mut self, error: UpstreamError, out: &mut BytesMut) {
        error_event(error, out);
    }
}

/// An OpenAI stream's error event, then `[DONE]`.
pub(super) fn error_event(error: UpstreamError, out: &mut BytesMut) {
    let error = ApiError::from(error);
    data(
        out,
        &json!({ "error": { "message": error.message, "type": error.kind.type_name() } }),
    );
    done(out);
}

pub(super) fn done(out: &mut BytesMut) {
    out.put_slice(b"data: [DONE]\n\n");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::providers::Wire;

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
        let anthropic = Wire::AnthropicMessages.reader();
        let mut encoder = OpenAiChat.encoder(meta, false);
        let mut transcript = Transcript::default();
        let mut out = BytesMut::new();
        for event in [
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "tool_use", "id": "t1", "name": "weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        ] {
            let read = anthropic.stream_event(&event.to_string()).unwrap();
            for piece in &read.pieces {
                transcript.take(piece);
                encoder.piece(piece, &mut out);
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
}
