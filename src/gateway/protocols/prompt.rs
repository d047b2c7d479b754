//! TypingMind's Claude-style requests, Anthropic's legacy text completions:
//! a `"\n\nHuman: ...\n\nAssistant:"` prompt in, read into turns, and a
//! `completion` (whole, or its `completion` events) out.

use bytes::BytesMut;
use serde_json::{json, Map, Value};

use super::{named, AnswerMeta, Encoder, ProtocolApi};
use crate::domain::InvalidInput;
use crate::error::ApiError;
use crate::gateway::answer::{Completion, Finish, Piece, Transcript, Usage};
use crate::gateway::message::{ChatMessage, Role};
use crate::gateway::providers::Wire;
use crate::gateway::upstream_error::UpstreamError;

pub struct Prompt;

impl ProtocolApi for Prompt {
    fn wire(&self) -> Option<Wire> {
        None
    }

    fn anthropic_style(&self) -> bool {
        true
    }

    /// Its own: an upstream's id is in another protocol's format.
    fn answer_id(&self, _upstream_id: Option<&str>) -> String {
        format!("compl_{}", crate::domain::random_base62(24))
    }

    fn completion(&self, meta: &AnswerMeta, c: &Completion) -> Value {
        let calls = c.tool_calls.iter().map(|call| {
            let function = &call["function"];
            let text = |field: &str| function[field].as_str().unwrap_or_default();
            (text("name"), text("arguments"))
        });
        legacy(
            meta,
            &with_tool_calls(c.text.clone(), calls),
            Some(c.finish.unwrap_or(Finish::Stop)),
            &c.usage,
        )
    }

    fn encoder(&self, meta: AnswerMeta, _include_usage: bool) -> Box<dyn Encoder> {
        Box::new(CompletionEncoder {
            meta,
            texted: false,
            tool_calls: Vec::new(),
        })
    }
}

/// The legacy protocol has no tool calls: an answer that makes some says
/// so in its text, each as `[tool_use: name {arguments}]` on a line of its
/// own, rather than come back empty.
fn with_tool_calls<'a>(
    mut text: String,
    calls: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    for (name, arguments) in calls {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str("[tool_use: ");
        text.push_str(name);
        if !arguments.is_empty() {
            text.push(' ');
            text.push_str(arguments);
        }
        text.push(']');
    }
    text
}

/// The request's parameters under their legacy names, renamed to the
/// names the rest of the gateway reads (the client's own win).
pub fn rename_params(params: &mut Map<String, Value>) {
    if let Some(max) = params.remove("max_tokens_to_sample") {
        params.entry("max_tokens").or_insert(max);
    }
    if let Some(stop) = params.remove("stop_sequences") {
        params.entry("stop").or_insert(stop);
    }
}

/// A legacy text completion, whole or one event of a stream.
fn legacy(meta: &AnswerMeta, text: &str, finish: Option<Finish>, usage: &Usage) -> Value {
    let mut body = json!({
        "type": "completion",
        "id": meta.id,
        "completion": text,
        "stop_reason": finish.map(Finish::legacy),
        "model": meta.model,
    });
    if usage.is_known() {
        body["usage"] = usage.anthropic_json();
    }
    body
}

struct CompletionEncoder {
    meta: AnswerMeta,
    /// Text went out already.
    texted: bool,
    /// Tool calls (the provider's index, name, arguments so far), told at
    /// the end.
    tool_calls: Vec<(u64, String, String)>,
}

impl CompletionEncoder {
    fn event(&self, out: &mut BytesMut, text: &str, finish: Option<Finish>, usage: &Usage) {
        named(out, "completion", &legacy(&self.meta, text, finish, usage));
    }
}

impl Encoder for CompletionEncoder {
    /// Text as it comes; tool calls, which the legacy protocol has no
    /// events for, are kept for the end.
    fn piece(&mut self, piece: &Piece, out: &mut BytesMut) {
        match piece {
            Piece::Text(text) => {
                self.texted = true;
                self.event(out, text, None, &Usage::default());
            }
            Piece::ToolStart { index, name, .. } => {
                self.tool_calls.push((*index, name.clone(), String::new()));
            }
            Piece::ToolArgs { index, json } => {
                if let Some((_, _, arguments)) =
                    self.tool_calls.iter_mut().find(|(i, _, _)| i == index)
                {
                    arguments.push_str(json);
                }
            }
            Piece::Finish(_) | Piece::Usage(_) | Piece::Error(_) => {}
        }
    }

    fn end(&mut self, transcript: &Transcript, out: &mut BytesMut) {
        let calls = self
            .tool_calls
            .iter()
            .map(|(_, name, arguments)| (name.as_str(), arguments.as_str()));
        let told = with_tool_calls(String::new(), calls);
        if !told.is_empty() {
            let text = if self.texted {
                format!("\n{told}")
            } else {
                told
            };
            self.event(out, &text, None, &Usage::default());
        }
        let finish = transcript.finish.unwrap_or(Finish::Stop);
        self.event(out, "", Some(finish), &transcript.usage);
    }

    fn error(&mut self, error: UpstreamError, out: &mut BytesMut) {
        let error = ApiError::from(error);
        named(
            out,
            "error",
            &json!({ "type": "error", "error": { "type": error.kind.type_name(), "message": error.message } }),
        );
    }
}

/// Splits `"\n\nHuman: ...\n\nAssistant:"` into messages. Text before the
/// first turn is the system prompt; an empty last Assistant turn is the
/// slot for the answer, not a message.
pub fn parse_prompt(prompt: &str) -> Result<Vec<ChatMessage>, InvalidInput> {
    let mut messages = Vec::new();
    let mut rest = prompt;
    let mut role: Option<Role> = None;
    loop {
        let next = [
            ("\n\nHuman:", Role::User),
            ("\n\nAssistant:", Role::Assistant),
        ]
        .iter()
        .filter_map(|(marker, r)| rest.find(marker).map(|at| (at, *marker, *r)))
        .min_by_key(|(at, _, _)| *at);
        // A prompt may open with a turn, without the blank line before it.
        let leading = [("Human:", Role::User), ("Assistant:", Role::Assistant)]
            .iter()
            .find(|(marker, _)| role.is_none() && messages.is_empty() && rest.starts_with(marker));
        let (text, following) = match (leading, next) {
            (Some((marker, r)), _) => (None, Some((&rest[marker.len()..], *r))),
            (None, Some((at, marker, r))) => {
                (Some(&rest[..at]), Some((&rest[at + marker.len()..], r)))
            }
            (None, None) => (Some(rest), None),
        };
        if let Some(text) = text {
            let text = text.trim();
            match role {
                None if !text.is_empty() => messages.push(ChatMessage::new(Role::System, text)),
                Some(r) if !text.is_empty() => messages.push(ChatMessage::new(r, text)),
                _ => {}
            }
        }
        match following {
            Some((after, r)) => {
                rest = after;
                role = Some(r);
            }
            None => break,
        }
    }
    if !messages.iter().any(ChatMessage::is_user) {
        // No Human turn: the whole prompt is what the user says.
        let text = prompt.trim();
        if text.is_empty() {
            return Err(InvalidInput::new("prompt", "`prompt` must not be blank"));
        }
        return Ok(vec![ChatMessage::new(Role::User, text)]);
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: Role, text: &str) -> ChatMessage {
        ChatMessage::new(role, text)
    }

    #[test]
    fn a_prompt_becomes_system_and_turns() {
        let messages =
            parse_prompt("Be brief.\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Bye\n\nAssistant:")
                .unwrap();
        assert_eq!(
            messages,
            vec![
                message(Role::System, "Be brief."),
                message(Role::User, "Hi"),
                message(Role::Assistant, "Hello!"),
                message(Role::User, "Bye"),
            ]
        );
    }

    #[test]
    fn a_prompt_may_open_with_a_turn_or_have_none() {
        assert_eq!(
            parse_prompt("Human: Hi\n\nAssistant:").unwrap(),
            vec![message(Role::User, "Hi")]
        );
        assert_eq!(
            parse_prompt("just text").unwrap(),
            vec![message(Role::User, "just text")]
        );
        let blank = parse_prompt("  ").unwrap_err();
        assert_eq!(blank.field, "prompt");
    }

    #[test]
    fn legacy_completions_end_with_the_stop_reason_and_usage() {
        let meta = Prompt.meta(Some("msg_upstream"), "claude-2");
        let completion = Completion {
            text: "Hi".into(),
            finish: Some(Finish::Length),
            usage: Usage {
                prompt_tokens: Some(2),
                completion_tokens: Some(1),
                ..Default::default()
            },
            ..Completion::default()
        };
        let body = Prompt.completion(&meta, &completion);
        assert_eq!(body["type"], "completion");
        assert_eq!(body["stop_reason"], "max_tokens");
        assert_eq!(
            body["usage"],
            json!({"input_tokens": 2, "output_tokens": 1})
        );
        assert!(body["id"].as_str().unwrap().starts_with("compl_"));
    }
}
