//! A chat completion request as the client sent it, checked: either protocol
//! of the spec (`messages` or a Claude `prompt`), parsed into one list of
//! OpenAI-shaped messages plus the parameters to pass on.

use serde_json::{Map, Value};

use super::message::{parse_messages, ChatMessage, Role};
use super::providers::Wire;
use crate::domain::{json_type, trimmed, InvalidInput, JsonObject};

/// The shape the client asked in, and so the shape of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientProtocol {
    /// OpenAI chat completions: `messages` in, `chat.completion` out.
    OpenAiChat,
    /// Anthropic's legacy text completions: a `prompt` in, `completion` out.
    LegacyPrompt,
}

impl ClientProtocol {
    /// The upstream protocol that is the client's own, if any: its answers
    /// pass through as they came.
    pub fn wire(self) -> Option<Wire> {
        match self {
            ClientProtocol::OpenAiChat => Some(Wire::OpenAiChat),
            ClientProtocol::LegacyPrompt => None,
        }
    }

    /// Whether its requests are Claude-style, so may carry parameters
    /// only Anthropic knows.
    pub fn anthropic_style(self) -> bool {
        self == ClientProtocol::LegacyPrompt
    }
}

/// Longest `chatID` and `chatTitle` accepted.
const MAX_CHAT_ID: usize = 128;
const MAX_CHAT_TITLE: usize = 500;

#[derive(Debug)]
pub struct ChatRequest {
    pub protocol: ClientProtocol,
    pub model: Option<String>,
    pub stream: bool,
    pub character_id: Option<String>,
    pub chat_id: Option<String>,
    pub chat_title: Option<String>,
    /// OpenAI-shaped messages: the request's, or its prompt parsed into turns.
    pub messages: Vec<ChatMessage>,
    /// Every other field, passed on as sent.
    pub params: Map<String, Value>,
    /// Whether the client asked for a usage chunk at the end of a stream.
    pub include_usage: bool,
}

impl ChatRequest {
    pub fn parse(body: JsonObject) -> Result<ChatRequest, InvalidInput> {
        let mut params = body.into_map();
        let model = take_string(&mut params, "model")?;
        let character_id = take_string(&mut params, "activatedCharacterID")?;
        let chat_id = take_string(&mut params, "chatID")?;
        let chat_title = take_string(&mut params, "chatTitle")?
            .map(|title| trimmed("chatTitle", &title, 0, MAX_CHAT_TITLE))
            .transpose()?;
        if let Some(id) = &chat_id {
            check_chat_id(id)?;
        }
        if model.as_deref().is_some_and(|m| m.trim().is_empty()) {
            return Err(InvalidInput::new("model", "`model` must not be blank"));
        }
        let stream = match params.remove("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(InvalidInput::new(
                    "stream",
                    format!("`stream` must be a boolean, not {}", json_type(&other)),
                ))
            }
        };
        let include_usage = match params.remove("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(options)) => match options.get("include_usage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(InvalidInput::new(
                        "stream_options.include_usage",
                        format!(
                            "`stream_options.include_usage` must be a boolean, not {}",
                            json_type(other)
                        ),
                    ))
                }
            },
            Some(other) => {
                return Err(InvalidInput::new(
                    "stream_options",
                    format!(
                        "`stream_options` must be an object, not {}",
                        json_type(&other)
                    ),
                ))
            }
        };
        let (protocol, messages) = style_and_messages(&mut params)?;
        if protocol == ClientProtocol::LegacyPrompt {
            // Legacy names for the same knobs.
            if let Some(max) = params.remove("max_tokens_to_sample") {
                params.entry("max_tokens").or_insert(max);
            }
            if let Some(stop) = params.remove("stop_sequences") {
                params.entry("stop").or_insert(stop);
            }
        }
        Ok(ChatRequest {
            protocol,
            model,
            stream,
            character_id,
            chat_id,
            chat_title,
            messages,
            params,
            include_usage,
        })
    }
}

/// The request's protocol: `messages` when it holds any, else `prompt` when
/// it is not empty. Clients generated from the spec, which marks both
/// required, send an empty `messages` (`[]` or `""`) beside a prompt.
fn style_and_messages(
    params: &mut Map<String, Value>,
) -> Result<(ClientProtocol, Vec<ChatMessage>), InvalidInput> {
    let prompt = take_string(params, "prompt")?.filter(|p| !p.is_empty());
    let messages = match params.remove("messages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::Array(messages)) => messages,
        Some(other) => {
            return Err(InvalidInput::new(
                "messages",
                format!("`messages` must be an array, not {}", json_type(&other)),
            ))
        }
    };
    match prompt {
        _ if !messages.is_empty() => Ok((ClientProtocol::OpenAiChat, parse_messages(messages)?)),
        Some(prompt) => Ok((ClientProtocol::LegacyPrompt, parse_prompt(&prompt)?)),
        None => Err(InvalidInput::new(
            "messages",
            "send `messages` (a list of at least one chat message) or `prompt` (a Claude-style prompt)",
        )),
    }
}

fn take_string(
    params: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<String>, InvalidInput> {
    match params.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(InvalidInput::new(
            name,
            format!("`{name}` must be a string, not {}", json_type(&other)),
        )),
    }
}

fn check_chat_id(id: &str) -> Result<(), InvalidInput> {
    let ok = !id.is_empty()
        && id.len() <= MAX_CHAT_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(InvalidInput::new(
            "chatID",
            format!(
                "`chatID` must be 1 to {MAX_CHAT_ID} characters of letters, digits, '-', '_', '.' or ':'"
            ),
        ))
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
}
