//! Anthropic's Messages API as the client speaks it (`POST /messages` and
//! `/messages/count_tokens`): the body checked, kept for an Anthropic
//! upstream (which gets it as it came, but for what that API refuses: a
//! system message inside `messages`, empty text blocks), and read into the
//! common chat input (OpenAI-shaped messages and parameters) for any other
//! upstream, `echo` and the chat log; answers rendered as a `message` or
//! as its event sequence.

use bytes::BytesMut;
use serde_json::{json, Map, Value};

use super::{named, AnswerMeta, ClientProtocol, Encoder, ProtocolApi};
use crate::domain::{random_base62, wrong, InvalidInput, JsonObject};
use crate::error::ApiError;
use crate::gateway::answer::{Completion, Finish, Piece, Transcript};
use crate::gateway::message::parse_messages;
use crate::gateway::providers::anthropic::{tool_call, tool_use};
use crate::gateway::providers::Wire;
use crate::gateway::request::{take_string, ChatRequest};
use crate::gateway::upstream_error::{Failure, UpstreamError};

pub struct Messages;

/// The largest `max_tokens` (and `top_k`) taken.
const MAX_TOKENS: u64 = u32::MAX as u64;
/// The longest `X-Claude-Code-Session-Id`: the chat id made of it stays
/// within the 128 characters of a `chatID`.
const MAX_SESSION_ID: usize = 100;

/// Error types of Anthropic's that a client may be told as the provider
/// said them (not those about the instance's own key or account).
const PROVIDER_ERROR_TYPES: [&str; 7] = [
    "invalid_request_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
    "timeout_error",
];

/// Which route a body came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /messages`: `max_tokens` is required.
    Messages,
    /// `POST /messages/count_tokens`.
    CountTokens,
}

/// What the request's headers add to its body.
#[derive(Debug, Default)]
pub struct MessagesHeaders {
    /// `X-Character-ID`: the AI character, unless the body names one.
    pub character_id: Option<String>,
    /// `X-Claude-Code-Session-Id`: the session the request is part of.
    pub session_id: Option<String>,
    /// `anthropic-version` and `anthropic-beta`, for an Anthropic upstream.
    pub forwarded: Vec<(&'static str, String)>,
}

impl ProtocolApi for Messages {
    fn wire(&self) -> Option<Wire> {
        Some(Wire::AnthropicMessages)
    }

    fn anthropic_style(&self) -> bool {
        true
    }

    /// Its own: an Anthropic upstream's answer passes as it came, and
    /// another upstream's id is in another format.
    fn answer_id(&self, _upstream_id: Option<&str>) -> String {
        format!("msg_{}", random_base62(24))
    }

    fn completion(&self, meta: &AnswerMeta, c: &Completion) -> Value {
        let mut content = Vec::new();
        if !c.text.is_empty() {
            content.push(json!({ "type": "text", "text": c.text }));
        }
        content.extend(c.tool_calls.iter().map(|call| with_id(tool_use(call))));
        let mut message = message(
            meta,
            Value::Array(content),
            c.finish.unwrap_or(Finish::Stop),
        );
        message["usage"] = c.usage.anthropic_json();
        message
    }

    fn encoder(&self, meta: AnswerMeta, _include_usage: bool) -> Box<dyn Encoder> {
        Box::new(EventEncoder {
            meta,
            started: false,
            open: None,
            blocks: 0,
            tools: Vec::new(),
        })
    }
}

/// A `message` object; its stop reason is null while it streams.
fn message(meta: &AnswerMeta, content: Value, finish: impl Into<Option<Finish>>) -> Value {
    json!({
        "id": meta.id,
        "type": "message",
        "role": "assistant",
        "model": meta.model,
        "content": content,
        "stop_reason": finish.into().map(Finish::anthropic),
        "stop_sequence": null,
    })
}

/// A tool_use block with an id: some OpenAI-compatible servers give their
/// tool calls none, and a client answers each by its id.
fn with_id(mut block: Value) -> Value {
    if block["id"].as_str().is_none_or(str::is_empty) {
        block["id"] = format!("toolu_{}", random_base62(24)).into();
    }
    block
}

/// The block open in a translated stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Tool,
}

/// A stream's pieces as Messages events: `message_start` and a `ping`,
/// each text run or tool call a block (`content_block_start`, its deltas,
/// `content_block_stop`), then `message_delta` with the stop reason and the
/// usage, and `message_stop`. A block opens with its first text, so none
/// is empty.
struct EventEncoder {
    meta: AnswerMeta,
    started: bool,
    /// The block open now: its index and kind.
    open: Option<(u64, Open)>,
    /// Blocks opened so far.
    blocks: u64,
    /// The block of each tool call, by the upstream's index of the call.
    tools: Vec<(u64, u64)>,
}

impl EventEncoder {
    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let mut message = message(&self.meta, json!([]), None);
        message["usage"] = json!({ "input_tokens": 0, "output_tokens": 0 });
        named(
            out,
            "message_start",
            &json!({ "type": "message_start", "message": message }),
        );
        named(out, "ping", &json!({ "type": "ping" }));
    }

    fn close(&mut self, out: &mut BytesMut) {
        if let Some((index, _)) = self.open.take() {
            named(
                out,
                "content_block_stop",
                &json!({ "type": "content_block_stop", "index": index }),
            );
        }
    }

    /// Closes the open block and opens `block`; returns its index.
    fn open(&mut self, kind: Open, block: Value, out: &mut BytesMut) -> u64 {
        self.close(out);
        let index = self.blocks;
        self.blocks += 1;
        self.open = Some((index, kind));
        named(
            out,
            "content_block_start",
            &json!({ "type": "content_block_start", "index": index, "content_block": block }),
        );
        index
    }

    fn delta(out: &mut BytesMut, index: u64, delta: Value) {
        named(
            out,
            "content_block_delta",
            &json!({ "type": "content_block_delta", "index": index, "delta": delta }),
        );
    }
}

impl Encoder for EventEncoder {
    fn piece(&mut self, piece: &Piece, out: &mut BytesMut) {
        match piece {
            Piece::Text(text) => {
                self.start(out);
                let index = match self.open {
                    Some((index, Open::Text)) => index,
                    _ => self.open(Open::Text, json!({ "type": "text", "text": "" }), out),
                };
                Self::delta(out, index, json!({ "type": "text_delta", "text": text }));
            }
            Piece::ToolStart { index, id, name } => {
                self.start(out);
                let block =
                    with_id(json!({ "type": "tool_use", "id": id, "name": name, "input": {} }));
                let block = self.open(Open::Tool, block, out);
                self.tools.push((*index, block));
            }
            Piece::ToolArgs { index, json } => {
                // Arguments of a call that never began have no block to go in.
                if let Some(&(_, block)) = self.tools.iter().find(|(call, _)| call == index) {
                    let delta = json!({ "type": "input_json_delta", "partial_json": json });
                    Self::delta(out, block, delta);
                }
            }
            Piece::Finish(_) | Piece::Usage(_) | Piece::Error(_) => {}
        }
    }

    fn end(&mut self, transcript: &Transcript, out: &mut BytesMut) {
        self.start(out);
        self.close(out);
        let finish = transcript.finish.unwrap_or(Finish::Stop);
        named(
            out,
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": { "stop_reason": finish.anthropic(), "stop_sequence": null },
                "usage": transcript.usage.anthropic_json(),
            }),
        );
        named(out, "message_stop", &json!({ "type": "message_stop" }));
    }

    fn error(&mut self, error: UpstreamError, out: &mut BytesMut) {
        let said = provider_error_type(&error);
        let error = ApiError::from(error);
        let kind = said.unwrap_or(error.kind.anthropic_type_name());
        named(out, "error", &error_body(kind, &error.message));
    }
}

/// Anthropic's error envelope.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// The error type a provider gave, when it is one of Anthropic's a client
/// may be told as it is.
fn provider_error_type(error: &UpstreamError) -> Option<&'static str> {
    let Failure::Refused(said) = &error.failure else {
        return None;
    };
    let said = said.error_type.as_deref()?;
    PROVIDER_ERROR_TYPES.into_iter().find(|kind| *kind == said)
}

/// Reads a Messages body (and what its headers add) into a chat request.
pub fn parse(
    body: JsonObject,
    headers: MessagesHeaders,
    endpoint: Endpoint,
) -> Result<ChatRequest, InvalidInput> {
    let mut body = body.into_map();
    let model = model_in_place(&body)?;
    let character_id = take_string(&mut body, "activatedCharacterID")?.or(headers.character_id);
    let stream = match body.get("stream") {
        None => false,
        Some(Value::Bool(stream)) => *stream,
        Some(other) => return Err(wrong("stream", "a boolean", other)),
    };
    let mut params = Map::new();
    match (body.get("max_tokens"), endpoint) {
        (None, Endpoint::CountTokens) => {}
        (None, Endpoint::Messages) => {
            return Err(InvalidInput::new(
                "max_tokens",
                "`max_tokens` is required: the most tokens the answer may have",
            ))
        }
        (Some(value), _) => {
            let max = value.as_u64().filter(|n| (1..=MAX_TOKENS).contains(n));
            let max = max.ok_or_else(|| {
                InvalidInput::new(
                    "max_tokens",
                    format!("`max_tokens` must be an integer from 1 to {MAX_TOKENS}"),
                )
            })?;
            params.insert("max_tokens".into(), max.into());
        }
    }
    let mut translation = Translation::default();
    // Taken in place: it goes back in its slot.
    let mut system = match body.get_mut("system").map(Value::take) {
        None => None,
        Some(system) => Some(translation.system(system, "system")?),
    };
    let messages = match body.get_mut("messages").map(Value::take) {
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        Some(Value::Array(_)) => {
            return Err(InvalidInput::new(
                "messages",
                "`messages` must hold at least one message",
            ))
        }
        None => return Err(InvalidInput::new("messages", "`messages` is required")),
        Some(other) => return Err(wrong("messages", "an array", &other)),
    };
    let mut kept = Vec::with_capacity(messages.len());
    for (i, message) in messages.into_iter().enumerate() {
        if let Some(message) = translation.message(message, i, &mut system)? {
            kept.push(message);
        }
    }
    body.insert("messages".into(), Value::Array(kept));
    match system {
        Some(System::Blocks(blocks)) if blocks.is_empty() => {
            body.shift_remove("system");
        }
        Some(system) => {
            body.insert("system".into(), system.into_value());
        }
        None => {}
    }
    translation.params(&body, &mut params)?;
    let (chat_id, session) = match headers.session_id {
        Some(id) => (Some(session_chat_id(&id)?), true),
        None => (None, false),
    };
    let mut common = Vec::with_capacity(translation.messages.len() + 1);
    if !translation.system.is_empty() {
        common.push(json!({ "role": "system", "content": translation.system.join("\n\n") }));
    }
    common.append(&mut translation.messages);
    Ok(ChatRequest {
        protocol: ClientProtocol::Messages,
        model,
        stream,
        character_id,
        chat_id,
        chat_title: None,
        // Made by mindgate: a failure here is mindgate's.
        messages: parse_messages(common).expect("translated messages are well formed"),
        params,
        include_usage: false,
        native: Some(body),
        native_headers: headers.forwarded,
        untranslatable: translation.untranslatable,
        native_only: None,
        session,
    })
}

/// The body's model, read in place: the upstream's model id takes the
/// slot.
pub(super) fn model_in_place(body: &Map<String, Value>) -> Result<Option<String>, InvalidInput> {
    match body.get("model") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(model)) if model.trim().is_empty() => {
            Err(InvalidInput::new("model", "`model` must not be blank"))
        }
        Some(Value::String(model)) => Ok(Some(model.clone())),
        Some(other) => Err(wrong("model", "a string", other)),
    }
}

/// The chat a Claude Code session is recorded as.
fn session_chat_id(id: &str) -> Result<String, InvalidInput> {
    let fits = !id.is_empty()
        && id.len() <= MAX_SESSION_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !fits {
        return Err(InvalidInput::new(
            "X-Claude-Code-Session-Id",
            format!(
                "the X-Claude-Code-Session-Id header must be 1 to {MAX_SESSION_ID} characters \
                 of letters, digits, '-', '_', '.' or ':'"
            ),
        ));
    }
    Ok(format!("claude-code-{id}"))
}

pub(super) fn required<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<&'a Value, InvalidInput> {
    object.get(name).ok_or_else(|| {
        let field = format!("{path}.{name}");
        InvalidInput::new(&field, format!("`{field}` is required"))
    })
}

pub(super) fn string_at<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<&'a str, InvalidInput> {
    let value = required(object, path, name)?;
    value
        .as_str()
        .ok_or_else(|| wrong(&format!("{path}.{name}"), "a string", value))
}

fn object_at<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<&'a Map<String, Value>, InvalidInput> {
    let value = required(object, path, name)?;
    value
        .as_object()
        .ok_or_else(|| wrong(&format!("{path}.{name}"), "an object", value))
}

/// A system prompt as it goes to an Anthropic upstream.
enum System {
    Text(String),
    Blocks(Vec<Value>),
}

impl System {
    /// Adds the text blocks of a system message, after the rest.
    fn extend(&mut self, blocks: Vec<Value>) {
        if let System::Text(text) = self {
            *self = System::Blocks(text_blocks(std::mem::take(text)));
        }
        if let System::Blocks(existing) = self {
            existing.extend(blocks);
        }
    }

    fn into_value(self) -> Value {
        match self {
            System::Text(text) => Value::String(text),
            System::Blocks(blocks) => Value::Array(blocks),
        }
    }
}

/// Text as blocks: one, or none for empty text.
fn text_blocks(text: String) -> Vec<Value> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({ "type": "text", "text": text })]
    }
}

/// The request in the common (OpenAI-shaped) form, built as it is checked.
#[derive(Default)]
struct Translation {
    /// System texts, in order.
    system: Vec<String>,
    /// The other messages.
    messages: Vec<Value>,
    /// The first thing found that only an Anthropic upstream takes.
    untranslatable: Option<InvalidInput>,
}

impl Translation {
    fn cannot(&mut self, path: &str, what: &str) {
        if self.untranslatable.is_none() {
            self.untranslatable = Some(InvalidInput::new(
                path,
                format!(
                    "`{path}` is {what}, which mindgate cannot translate for an \
                     OpenAI-compatible provider: send it to an Anthropic model"
                ),
            ));
        }
    }

    /// A system prompt (`system`, or a system message's content): text, or
    /// text blocks. Empty text blocks are left out.
    fn system(&mut self, value: Value, path: &str) -> Result<System, InvalidInput> {
        match value {
            Value::String(text) => {
                if !text.is_empty() {
                    self.system.push(text.clone());
                }
                Ok(System::Text(text))
            }
            Value::Array(blocks) => {
                let mut kept = Vec::with_capacity(blocks.len());
                for (j, block) in blocks.into_iter().enumerate() {
                    let at = format!("{path}[{j}]");
                    let Some(fields) = block.as_object() else {
                        return Err(wrong(&at, "a text block", &block));
                    };
                    let kind = string_at(fields, &at, "type")?;
                    if kind != "text" {
                        return Err(InvalidInput::new(
                            format!("{at}.type"),
                            format!("`{at}.type` must be \"text\": a system prompt holds text blocks only"),
                        ));
                    }
                    let text = string_at(fields, &at, "text")?;
                    if !text.is_empty() {
                        self.system.push(text.to_owned());
                        kept.push(block);
                    }
                }
                Ok(System::Blocks(kept))
            }
            other => Err(wrong(path, "a string or an array of text blocks", &other)),
        }
    }

    /// `messages[i]`, checked and translated; what goes to an Anthropic
    /// upstream in its place (none for a system message, which joins the
    /// system prompt, or one left empty).
    fn message(
        &mut self,
        value: Value,
        i: usize,
        system: &mut Option<System>,
    ) -> Result<Option<Value>, InvalidInput> {
        let at = format!("messages[{i}]");
        let Value::Object(mut fields) = value else {
            return Err(wrong(&at, "an object", &value));
        };
        let role = string_at(&fields, &at, "role")?;
        let role = match role {
            "user" | "assistant" | "system" => role.to_owned(),
            other => {
                return Err(InvalidInput::new(
                    format!("{at}.role"),
                    format!("`{at}.role` must be one of user, assistant, system, not {other:?}"),
                ))
            }
        };
        required(&fields, &at, "content")?;
        let content_at = format!("{at}.content");
        let content = fields
            .get_mut("content")
            .map(Value::take)
            .unwrap_or_default();
        if role == "system" {
            let blocks = match self.system(content, &content_at)? {
                System::Text(text) => text_blocks(text),
                System::Blocks(blocks) => blocks,
            };
            system
                .get_or_insert(System::Blocks(Vec::new()))
                .extend(blocks);
            return Ok(None);
        }
        let content = match content {
            Value::String(text) if text.is_empty() => return Ok(None),
            Value::String(text) => {
                let blocks = [json!({ "type": "text", "text": text })];
                if role == "user" {
                    self.user(&blocks, &content_at);
                } else {
                    self.assistant(&blocks, &content_at);
                }
                Value::String(text)
            }
            Value::Array(blocks) => {
                let blocks = check_blocks(blocks, &content_at)?;
                if role == "user" {
                    self.user(&blocks, &content_at);
                } else {
                    self.assistant(&blocks, &content_at);
                }
                if blocks.is_empty() {
                    return Ok(None);
                }
                Value::Array(blocks)
            }
            other => return Err(wrong(&content_at, "a string or an array of blocks", &other)),
        };
        fields.insert("content".into(), content);
        Ok(Some(Value::Object(fields)))
    }

    /// A user turn: its tool results become tool messages, the rest one
    /// user message after them (with the images the results held).
    fn user(&mut self, blocks: &[Value], path: &str) {
        let mut parts = Vec::new();
        for (j, block) in blocks.iter().enumerate() {
            let at = format!("{path}[{j}]");
            match block["type"].as_str().unwrap_or_default() {
                "tool_result" => {
                    let (text, images) = self.tool_result(block, &at);
                    self.messages.push(json!({
                        "role": "tool",
                        "tool_call_id": block["tool_use_id"],
                        "content": text,
                    }));
                    parts.extend(images);
                }
                // Thinking is the model's own, never a user's.
                "thinking" | "redacted_thinking" => {}
                _ => parts.extend(self.part(block, &at)),
            }
        }
        if parts.is_empty() {
            return;
        }
        let content = if parts.iter().all(|part| part["type"] == "text") {
            let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
            Value::String(texts.join("\n"))
        } else {
            Value::Array(parts)
        };
        self.messages
            .push(json!({ "role": "user", "content": content }));
    }

    /// An assistant turn: its text, and its tool calls. Thinking is left
    /// out: its signature means something to Anthropic only.
    fn assistant(&mut self, blocks: &[Value], path: &str) {
        let mut texts = Vec::new();
        let mut calls = Vec::new();
        for (j, block) in blocks.iter().enumerate() {
            match block["type"].as_str().unwrap_or_default() {
                "text" => texts.extend(block["text"].as_str().filter(|t| !t.is_empty())),
                "tool_use" => calls.push(tool_call(block)),
                "thinking" | "redacted_thinking" => {}
                other => self.cannot(&format!("{path}[{j}]"), &format!("a {other:?} block")),
            }
        }
        if texts.is_empty() && calls.is_empty() {
            return;
        }
        let mut message = json!({ "role": "assistant", "content": texts.join("\n") });
        if !calls.is_empty() {
            if texts.is_empty() {
                message["content"] = Value::Null;
            }
            message["tool_calls"] = Value::Array(calls);
        }
        self.messages.push(message);
    }

    /// A tool result's text, and its images (which a tool message cannot
    /// hold).
    fn tool_result(&mut self, block: &Value, path: &str) -> (String, Vec<Value>) {
        let blocks = match &block["content"] {
            Value::String(text) => return (text.clone(), Vec::new()),
            Value::Array(blocks) => blocks,
            _ => return (String::new(), Vec::new()),
        };
        let mut texts = Vec::new();
        let mut images = Vec::new();
        for (j, inner) in blocks.iter().enumerate() {
            let at = format!("{path}.content[{j}]");
            match self.part(inner, &at) {
                Some(part) if part["type"] == "text" => {
                    texts.push(part["text"].as_str().unwrap_or_default().to_owned());
                }
                Some(part) => images.push(part),
                None => {}
            }
        }
        (texts.join("\n"), images)
    }

    /// A user's block as an OpenAI content part.
    fn part(&mut self, block: &Value, path: &str) -> Option<Value> {
        let kind = block["type"].as_str().unwrap_or_default();
        let part = match kind {
            "text" => Some(json!({ "type": "text", "text": block["text"] })),
            "image" => image_url(&block["source"])
                .map(|url| json!({ "type": "image_url", "image_url": { "url": url } })),
            "document" => document_part(block),
            _ => None,
        };
        if part.is_none() {
            let what = match kind {
                "image" | "document" => {
                    let source = block["source"]["type"].as_str().unwrap_or_default();
                    format!("a {kind} of source type {source:?}")
                }
                _ => format!("a {kind:?} block"),
            };
            self.cannot(path, &what);
        }
        part
    }

    /// The parameters, checked, and translated into `params`.
    fn params(
        &mut self,
        body: &Map<String, Value>,
        params: &mut Map<String, Value>,
    ) -> Result<(), InvalidInput> {
        if let Some(stops) = body.get("stop_sequences") {
            let all_strings = stops
                .as_array()
                .is_some_and(|stops| stops.iter().all(Value::is_string));
            if !all_strings {
                return Err(wrong("stop_sequences", "an array of strings", stops));
            }
            params.insert("stop".into(), stops.clone());
        }
        for name in ["temperature", "top_p"] {
            if let Some(value) = body.get(name) {
                if !value.is_number() {
                    return Err(wrong(name, "a number", value));
                }
                params.insert(name.into(), value.clone());
            }
        }
        if let Some(top_k) = body.get("top_k") {
            if top_k.as_u64().is_none_or(|k| k > MAX_TOKENS) {
                return Err(InvalidInput::new(
                    "top_k",
                    format!("`top_k` must be an integer from 0 to {MAX_TOKENS}"),
                ));
            }
            params.insert("top_k".into(), top_k.clone());
        }
        if let Some(metadata) = body.get("metadata") {
            let Some(fields) = metadata.as_object() else {
                return Err(wrong("metadata", "an object", metadata));
            };
            match fields.get("user_id") {
                None | Some(Value::Null) => {}
                Some(Value::String(user)) => {
                    params.insert("user".into(), user.clone().into());
                }
                Some(other) => return Err(wrong("metadata.user_id", "a string", other)),
            }
        }
        if let Some(thinking) = body.get("thinking") {
            let Some(fields) = thinking.as_object() else {
                return Err(wrong("thinking", "an object", thinking));
            };
            string_at(fields, "thinking", "type")?;
        }
        if let Some(tools) = body.get("tools") {
            let Some(tools) = tools.as_array() else {
                return Err(wrong("tools", "an array", tools));
            };
            let mut translated = Vec::with_capacity(tools.len());
            for (k, tool) in tools.iter().enumerate() {
                translated.extend(self.tool(tool, &format!("tools[{k}]"))?);
            }
            params.insert("tools".into(), Value::Array(translated));
        }
        if let Some(choice) = body.get("tool_choice") {
            self.tool_choice(choice, params)?;
        }
        Ok(())
    }

    /// A tool, checked; as an OpenAI function tool unless it is one of
    /// Anthropic's own (server tools, with a `type`).
    fn tool(&mut self, tool: &Value, path: &str) -> Result<Option<Value>, InvalidInput> {
        let Some(fields) = tool.as_object() else {
            return Err(wrong(path, "an object", tool));
        };
        let name = string_at(fields, path, "name")?;
        if let Some(schema) = fields.get("input_schema") {
            if !schema.is_object() {
                return Err(wrong(&format!("{path}.input_schema"), "an object", schema));
            }
        }
        if let Some(description) = fields.get("description") {
            if !description.is_string() {
                return Err(wrong(
                    &format!("{path}.description"),
                    "a string",
                    description,
                ));
            }
        }
        match fields.get("type") {
            None => {}
            Some(Value::String(kind)) if kind == "custom" => {}
            Some(Value::String(kind)) => {
                self.cannot(path, &format!("Anthropic's {kind:?} tool"));
                return Ok(None);
            }
            Some(other) => return Err(wrong(&format!("{path}.type"), "a string", other)),
        }
        let mut function = json!({
            "name": name,
            "parameters": fields.get("input_schema").cloned()
                .unwrap_or_else(|| json!({ "type": "object", "properties": {} })),
        });
        if let Some(description) = fields.get("description") {
            function["description"] = description.clone();
        }
        Ok(Some(json!({ "type": "function", "function": function })))
    }

    fn tool_choice(
        &mut self,
        choice: &Value,
        params: &mut Map<String, Value>,
    ) -> Result<(), InvalidInput> {
        let Some(fields) = choice.as_object() else {
            return Err(wrong("tool_choice", "an object", choice));
        };
        let translated = match string_at(fields, "tool_choice", "type")? {
            "auto" => json!("auto"),
            "any" => json!("required"),
            "none" => json!("none"),
            "tool" => {
                let name = string_at(fields, "tool_choice", "name")?;
                json!({ "type": "function", "function": { "name": name } })
            }
            other => {
                return Err(InvalidInput::new(
                    "tool_choice.type",
                    format!(
                        "`tool_choice.type` must be one of auto, any, tool, none, not {other:?}"
                    ),
                ))
            }
        };
        params.insert("tool_choice".into(), translated);
        match fields.get("disable_parallel_tool_use") {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => {
                params.insert("parallel_tool_calls".into(), false.into());
            }
            Some(other) => {
                return Err(wrong(
                    "tool_choice.disable_parallel_tool_use",
                    "a boolean",
                    other,
                ))
            }
        }
        Ok(())
    }
}

/// A message's content blocks, checked, without the empty text blocks
/// (which Anthropic refuses); a tool result's own blocks likewise.
fn check_blocks(blocks: Vec<Value>, path: &str) -> Result<Vec<Value>, InvalidInput> {
    let mut kept = Vec::with_capacity(blocks.len());
    for (j, block) in blocks.into_iter().enumerate() {
        let at = format!("{path}[{j}]");
        let Value::Object(mut fields) = block else {
            return Err(wrong(&at, "an object", &block));
        };
        let kind = string_at(&fields, &at, "type")?.to_owned();
        match kind.as_str() {
            "text" if string_at(&fields, &at, "text")?.is_empty() => continue,
            "text" => {}
            "image" | "document" => {
                object_at(&fields, &at, "source")?;
            }
            "tool_use" => {
                string_at(&fields, &at, "id")?;
                string_at(&fields, &at, "name")?;
                object_at(&fields, &at, "input")?;
            }
            "tool_result" => {
                string_at(&fields, &at, "tool_use_id")?;
                match fields.get_mut("content").map(Value::take) {
                    None => {}
                    Some(Value::String(text)) => {
                        fields.insert("content".into(), text.into());
                    }
                    Some(Value::Array(inner)) => {
                        let inner = check_blocks(inner, &format!("{at}.content"))?;
                        fields.insert("content".into(), inner.into());
                    }
                    Some(other) => {
                        return Err(wrong(
                            &format!("{at}.content"),
                            "a string or an array of blocks",
                            &other,
                        ))
                    }
                }
            }
            "thinking" => {
                string_at(&fields, &at, "thinking")?;
                if let Some(signature) = fields.get("signature") {
                    if !signature.is_string() {
                        return Err(wrong(&format!("{at}.signature"), "a string", signature));
                    }
                }
            }
            "redacted_thinking" => {
                string_at(&fields, &at, "data")?;
            }
            // Another of Anthropic's blocks: an Anthropic upstream reads it.
            _ => {}
        }
        kept.push(Value::Object(fields));
    }
    Ok(kept)
}

/// An image source as an OpenAI image URL: inline data, or a URL.
fn image_url(source: &Value) -> Option<String> {
    match source["type"].as_str()? {
        "base64" => Some(format!(
            "data:{};base64,{}",
            source["media_type"].as_str()?,
            source["data"].as_str()?
        )),
        "url" => source["url"].as_str().map(str::to_owned),
        _ => None,
    }
}

/// A document as an OpenAI part: a PDF as a file, text as text.
fn document_part(block: &Value) -> Option<Value> {
    let source = &block["source"];
    match source["type"].as_str()? {
        "base64" => {
            let media_type = source["media_type"].as_str()?;
            let data = source["data"].as_str()?;
            let filename = block["title"].as_str().unwrap_or("document.pdf");
            Some(json!({ "type": "file", "file": {
                "filename": filename,
                "file_data": format!("data:{media_type};base64,{data}"),
            }}))
        }
        "text" => Some(json!({ "type": "text", "text": source["data"].as_str()? })),
        "content" => {
            let text = match &source["content"] {
                Value::String(text) => text.clone(),
                Value::Array(blocks) => blocks
                    .iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => return None,
            };
            Some(json!({ "type": "text", "text": text }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value, headers: MessagesHeaders) -> Result<ChatRequest, InvalidInput> {
        parse(
            JsonObject::from(body.as_object().unwrap().clone()),
            headers,
            Endpoint::Messages,
        )
    }

    /// Each event's data.
    fn events(out: &BytesMut) -> Vec<Value> {
        std::str::from_utf8(out)
            .unwrap()
            .split("\n\n")
            .filter_map(|event| event.split_once("data: "))
            .map(|(_, data)| serde_json::from_str(data).unwrap())
            .collect()
    }

    #[test]
    fn text_runs_and_tool_calls_are_blocks_each_delta_in_its_own() {
        let meta = Messages.meta(None, "m");
        let mut encoder = Messages.encoder(meta, false);
        let mut out = BytesMut::new();
        let tool = |index: u64, name: &str| Piece::ToolStart {
            index,
            id: String::new(),
            name: name.into(),
        };
        let args = |index: u64, json: &str| Piece::ToolArgs {
            index,
            json: json.into(),
        };
        for piece in [
            Piece::Text("Let".into()),
            Piece::Text(" me".into()),
            tool(0, "a"),
            args(0, "{\"x\""),
            tool(1, "b"),
            // A late piece of the first call goes to its own block.
            args(0, ":1}"),
            args(7, "{}"),
            Piece::Text("Done".into()),
            Piece::Finish(Finish::ToolCalls),
        ] {
            encoder.piece(&piece, &mut out);
        }
        encoder.end(&Transcript::default(), &mut out);
        let events = events(&out);
        let summary: Vec<String> = events
            .iter()
            .map(|e| format!("{} {}", e["type"].as_str().unwrap(), e["index"]))
            .collect();
        assert_eq!(
            summary,
            [
                "message_start null",
                "ping null",
                "content_block_start 0",
                "content_block_delta 0",
                "content_block_delta 0",
                "content_block_stop 0",
                "content_block_start 1",
                "content_block_delta 1",
                "content_block_stop 1",
                "content_block_start 2",
                "content_block_delta 1",
                "content_block_stop 2",
                "content_block_start 3",
                "content_block_delta 3",
                "content_block_stop 3",
                "message_delta null",
                "message_stop null",
            ]
        );
        let id = events[6]["content_block"]["id"].as_str().unwrap();
        assert!(
            id.starts_with("toolu_") && id.len() > 6,
            "a call gets an id"
        );
        assert_eq!(events[10]["delta"]["partial_json"], ":1}");
        // The stop reason is the transcript's; without one, end_turn.
        assert_eq!(events[15]["delta"]["stop_reason"], "end_turn");
    }

    #[test]
    fn an_error_keeps_anthropics_own_types_and_maps_the_rest() {
        let error = |kind: &str| {
            let said =
                crate::gateway::ProviderError::reported(&json!({ "type": kind, "message": "no" }));
            let mut out = BytesMut::new();
            Messages
                .encoder(Messages.meta(None, "m"), false)
                .error(UpstreamError::reported(said), &mut out);
            events(&out)[0]["error"]["type"].clone()
        };
        assert_eq!(error("overloaded_error"), "overloaded_error");
        assert_eq!(error("rate_limit_error"), "rate_limit_error");
        // Not the caller's key: the instance's.
        assert_eq!(error("authentication_error"), "api_error");
        assert_eq!(error("server_error"), "api_error");
    }

    #[test]
    fn system_messages_join_a_system_prompt_given_as_text() {
        let parsed = request(
            json!({ "model": "m", "max_tokens": 5, "system": "Be brief.",
                    "messages": [{ "role": "system", "content": [{ "type": "text", "text": "Now." }] },
                                 { "role": "user", "content": "Hi" }] }),
            MessagesHeaders::default(),
        )
        .unwrap();
        let native = parsed.native.unwrap();
        assert_eq!(
            native["system"],
            json!([{ "type": "text", "text": "Be brief." }, { "type": "text", "text": "Now." }])
        );
        assert_eq!(
            native["messages"],
            json!([{ "role": "user", "content": "Hi" }])
        );
        assert_eq!(parsed.messages[0].text(), "Be brief.\n\nNow.");
        assert!(!parsed.session && parsed.chat_id.is_none());
    }

    #[test]
    fn a_session_is_a_chat_of_its_own_and_the_first_untranslatable_part_is_named() {
        let headers = MessagesHeaders {
            session_id: Some("abc-1".into()),
            ..MessagesHeaders::default()
        };
        let parsed = request(
            json!({ "model": "m", "max_tokens": 5, "messages": [{ "role": "user", "content": [
                { "type": "search_result", "source": "x" },
                { "type": "image", "source": { "type": "file", "file_id": "f" } }
            ] }] }),
            headers,
        )
        .unwrap();
        assert_eq!(parsed.chat_id.as_deref(), Some("claude-code-abc-1"));
        assert!(parsed.session);
        let refused = parsed.untranslatable.unwrap();
        assert_eq!(refused.field, "messages[0].content[0]");
        let long = MessagesHeaders {
            session_id: Some("x".repeat(101)),
            ..MessagesHeaders::default()
        };
        let error = request(
            json!({ "model": "m", "max_tokens": 5,
                                    "messages": [{ "role": "user", "content": "Hi" }] }),
            long,
        )
        .unwrap_err();
        assert_eq!(error.field, "X-Claude-Code-Session-Id");
    }
}
