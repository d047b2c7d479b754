//! A chat request in the common shape every client protocol is read into
//! (OpenAI-shaped messages plus the parameters to pass on), and the
//! TypingMind `/chat/completions` body read into it: either protocol of the
//! spec, `messages` or a Claude `prompt`.

use serde_json::{Map, Value};

use super::message::{parse_messages, ChatMessage};
use super::protocols::messages::{self, Endpoint, MessagesHeaders};
pub use super::protocols::ClientProtocol;
use super::protocols::{prompt, responses};
use crate::domain::{trimmed, wrong, InvalidInput, JsonObject};

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
    /// The body in the client's own protocol, for an upstream that speaks
    /// it: sent as it is, with the upstream's model id (and the AI
    /// character's instruction). Only Messages keeps one: an OpenAI chat
    /// body is made again, exactly, from `messages` and `params`.
    pub native: Option<Map<String, Value>>,
    /// Headers for an upstream that speaks the client's protocol
    /// (Messages' `anthropic-version` and `anthropic-beta`).
    pub native_headers: Vec<(&'static str, String)>,
    /// What of the request only an upstream of the client's own protocol
    /// takes (a block or tool with no equivalent elsewhere): the error for
    /// one that must be translated.
    pub untranslatable: Option<InvalidInput>,
    /// What of the request only an upstream of the client's own protocol
    /// can answer at all, `echo` included (a conversation the upstream
    /// keeps: Responses' `previous_response_id`; an `input` that gives chat
    /// nothing to answer): the error otherwise.
    pub native_only: Option<InvalidInput>,
    /// The chat is a session of requests, each carrying the conversation
    /// so far (Claude Code's): a shorter conversation, a side request's,
    /// does not replace the one recorded.
    pub session: bool,
}

impl ChatRequest {
    /// A body of Anthropic's Messages API (`/messages`, or its
    /// `count_tokens`), with what its headers add.
    pub fn from_messages_api(
        body: JsonObject,
        headers: MessagesHeaders,
        endpoint: Endpoint,
    ) -> Result<ChatRequest, InvalidInput> {
        messages::parse(body, headers, endpoint)
    }

    /// A body of OpenAI's Responses API, with the `X-Character-ID`
    /// header's character.
    pub fn from_responses_api(
        body: JsonObject,
        character_id: Option<String>,
    ) -> Result<ChatRequest, InvalidInput> {
        responses::parse(body, character_id)
    }

    /// A TypingMind `/chat/completions` body.
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
        let (stream, include_usage) = take_stream(&mut params)?;
        let (protocol, messages) = style_and_messages(&mut params)?;
        if protocol == ClientProtocol::LegacyPrompt {
            prompt::rename_params(&mut params);
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
            native: None,
            native_headers: Vec::new(),
            untranslatable: None,
            native_only: None,
            session: false,
        })
    }
}

/// The request's protocol: `messages` when it holds any, else `prompt` when
/// it is not empty. Clients generated from the spec, which marks both
/// required, send an empty `messages` (`[]` or `""`) beside a prompt.
fn style_and_messages(
    params: &mut Map<String, Value>,
) -> Result<(ClientProtocol, Vec<ChatMessage>), InvalidInput> {
    let text = take_string(params, "prompt")?.filter(|p| !p.is_empty());
    let messages = match params.remove("messages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(Value::Array(messages)) => messages,
        Some(other) => return Err(wrong("messages", "an array", &other)),
    };
    match text {
        _ if !messages.is_empty() => Ok((ClientProtocol::OpenAiChat, parse_messages(messages)?)),
        Some(text) => Ok((ClientProtocol::LegacyPrompt, prompt::parse_prompt(&text)?)),
        None => Err(InvalidInput::new(
            "messages",
            "send `messages` (a list of at least one chat message) or `prompt` (a Claude-style prompt)",
        )),
    }
}

/// `stream`, and whether `stream_options.include_usage` asks for a usage
/// chunk at the end of it (OpenAI's chat and text completions).
pub(super) fn take_stream(params: &mut Map<String, Value>) -> Result<(bool, bool), InvalidInput> {
    let stream = match params.remove("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(wrong("stream", "a boolean", &other)),
    };
    let include_usage = match params.remove("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(options)) => match options.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(wrong("stream_options.include_usage", "a boolean", other)),
        },
        Some(other) => return Err(wrong("stream_options", "an object", &other)),
    };
    Ok((stream, include_usage))
}

pub(super) fn take_string(
    params: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<String>, InvalidInput> {
    match params.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong(name, "a string", &other)),
    }
}

pub(super) fn check_chat_id(id: &str) -> Result<(), InvalidInput> {
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
