//! OpenAI's Responses API as the client speaks it (`POST /responses`):
//! the body checked, kept for an OpenAI-compatible upstream that serves
//! `/responses` (which gets it as it came, with its model id and the AI
//! character's instruction before `instructions`), and read into the
//! common chat input for any other upstream, `echo` and the chat log;
//! answers rendered as a `response` object or as its typed events.

use bytes::BytesMut;
use serde_json::{json, Map, Value};

use super::messages::{model_in_place, required, string_at};
use super::{named, AnswerMeta, ClientProtocol, Encoder, ProtocolApi};
use crate::domain::{random_base62, wrong, InvalidInput, JsonObject};
use crate::error::{ApiError, ErrorKind};
use crate::gateway::answer::{Completion, Finish, Piece, Transcript, Usage};
use crate::gateway::message::parse_messages;
use crate::gateway::providers::Wire;
use crate::gateway::request::{take_string, ChatRequest};
use crate::gateway::upstream_error::UpstreamError;

pub struct Responses;

/// The largest `max_output_tokens` taken.
const MAX_TOKENS: u64 = u32::MAX as u64;

/// Input message roles.
const ROLES: [&str; 4] = ["user", "assistant", "system", "developer"];

impl ProtocolApi for Responses {
    fn wire(&self) -> Option<Wire> {
        Some(Wire::OpenAiResponses)
    }

    fn anthropic_style(&self) -> bool {
        false
    }

    /// Its own: an upstream serving Responses passes its answer as it
    /// came, and another upstream's id is in another format.
    fn answer_id(&self, _upstream_id: Option<&str>) -> String {
        format!("resp_{}", random_base62(32))
    }

    /// The body with the upstream's model id, the AI character's
    /// instruction before the client's `instructions`.
    fn native_body(
        &self,
        mut body: Map<String, Value>,
        upstream_model: &str,
        instruction: Option<&str>,
    ) -> Value {
        body.insert("model".into(), upstream_model.into());
        if let Some(instruction) = instruction {
            let instructions = match body.get("instructions") {
                Some(Value::String(own)) if !own.is_empty() => format!("{instruction}\n\n{own}"),
                _ => instruction.to_owned(),
            };
            body.insert("instructions".into(), instructions.into());
        }
        Value::Object(body)
    }

    fn completion(&self, meta: &AnswerMeta, c: &Completion) -> Value {
        let mut output = Vec::new();
        if !c.text.is_empty() || c.tool_calls.is_empty() {
            output.push(message_item(&item_id("msg"), &c.text, "completed"));
        }
        for call in &c.tool_calls {
            let function = &call["function"];
            output.push(call_item(
                &item_id("fc"),
                &call_id(call["id"].as_str().unwrap_or_default()),
                function["name"].as_str().unwrap_or_default(),
                function["arguments"].as_str().unwrap_or_default(),
                "completed",
            ));
        }
        let finish = c.finish.unwrap_or(Finish::Stop);
        response(meta, finish_status(finish), output, Some(&c.usage))
    }

    fn encoder(&self, meta: AnswerMeta, _include_usage: bool) -> Box<dyn Encoder> {
        Box::new(EventEncoder {
            meta,
            sequence: 0,
            started: false,
            items: Vec::new(),
            open: None,
            calls: Vec::new(),
            upstream: None,
        })
    }
}

fn item_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base62(32))
}

/// A tool call's id, made when the upstream gave it none: a client
/// answers each call by its id.
fn call_id(id: &str) -> String {
    if id.is_empty() {
        item_id("call")
    } else {
        id.to_owned()
    }
}

/// `status` and `incomplete_details` as a finish sets them.
fn finish_status(finish: Finish) -> (&'static str, Value) {
    match finish {
        Finish::Length => ("incomplete", json!({ "reason": "max_output_tokens" })),
        Finish::ContentFilter => ("incomplete", json!({ "reason": "content_filter" })),
        Finish::Stop | Finish::ToolCalls => ("completed", Value::Null),
    }
}

/// A `response` object with every field the SDKs' model has, those of the
/// request at their defaults.
fn response(
    meta: &AnswerMeta,
    (status, incomplete): (&str, Value),
    output: Vec<Value>,
    usage: Option<&Usage>,
) -> Value {
    json!({
        "id": meta.id,
        "object": "response",
        "created_at": meta.created,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": incomplete,
        "instructions": null,
        "max_output_tokens": null,
        "max_tool_calls": null,
        "model": meta.model,
        "output": output,
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": { "effort": null, "summary": null },
        "service_tier": "default",
        "store": false,
        "temperature": null,
        "text": { "format": { "type": "text" } },
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": null,
        "truncation": "disabled",
        "usage": usage.filter(|u| u.is_known()).map(usage_json),
        "user": null,
        "metadata": {},
    })
}

/// Responses' `usage`: `input_tokens` counts the whole prompt, cached or
/// not.
fn usage_json(usage: &Usage) -> Value {
    let cached = usage.cache_read_tokens.unwrap_or(0);
    let written = usage.cache_write_tokens.unwrap_or(0);
    let input = usage.prompt_tokens.unwrap_or(0) + cached + written;
    let output = usage.completion_tokens.unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": { "cached_tokens": cached, "cache_write_tokens": written },
        "output_tokens": output,
        "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": input + output,
    })
}

fn output_text(text: &str) -> Value {
    json!({ "type": "output_text", "text": text, "annotations": [], "logprobs": [] })
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content = if status == "completed" {
        json!([output_text(text)])
    } else {
        json!([])
    };
    json!({ "id": id, "type": "message", "status": status, "role": "assistant",
            "content": content })
}

fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({ "id": id, "type": "function_call", "status": status, "arguments": arguments,
            "call_id": call_id, "name": name })
}

/// An output item of a translated stream, as it grows.
struct Item {
    id: String,
    kind: ItemKind,
}

enum ItemKind {
    Message {
        text: String,
    },
    Call {
        call_id: String,
        name: String,
        arguments: String,
    },
}

impl Item {
    fn value(&self, status: &str) -> Value {
        match &self.kind {
            ItemKind::Message { text } => message_item(&self.id, text, status),
            ItemKind::Call {
                call_id,
                name,
                arguments,
            } => call_item(&self.id, call_id, name, arguments, status),
        }
    }
}

/// A stream's pieces as Responses events: `response.created` and
/// `response.in_progress`; each text run a `message` item (added, its
/// `output_text` part added, its deltas, the text done, the part done,
/// the item done) and each tool call a `function_call` item (added, its
/// argument deltas, the arguments done, the item done), one item closed
/// before the next opens; then `response.completed` (`response.incomplete`
/// when the answer was cut short) with the whole output and the usage, or
/// `response.failed`. Every event has its `sequence_number`.
struct EventEncoder {
    meta: AnswerMeta,
    sequence: u64,
    started: bool,
    items: Vec<Item>,
    /// The item open now, by its output index.
    open: Option<usize>,
    /// The output index of each tool call, by the upstream's index.
    calls: Vec<(u64, usize)>,
    /// The upstream's own `response`, when its events pass through: a
    /// failure names it.
    upstream: Option<Value>,
}

impl EventEncoder {
    fn event(&mut self, out: &mut BytesMut, kind: &str, fields: Value) {
        let mut event = json!({ "type": kind, "sequence_number": self.sequence });
        if let (Some(event), Value::Object(fields)) = (event.as_object_mut(), fields) {
            event.extend(fields);
        }
        self.sequence += 1;
        named(out, kind, &event);
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let begun = response(&self.meta, ("in_progress", Value::Null), Vec::new(), None);
        self.event(out, "response.created", json!({ "response": begun }));
        self.event(out, "response.in_progress", json!({ "response": begun }));
    }

    /// Opens `item` (closing the one open); returns its output index.
    fn open(&mut self, item: Item, out: &mut BytesMut) -> usize {
        self.close(out);
        let index = self.items.len();
        let added = item.value("in_progress");
        let id = item.id.clone();
        let message = matches!(item.kind, ItemKind::Message { .. });
        self.items.push(item);
        self.open = Some(index);
        self.event(
            out,
            "response.output_item.added",
            json!({ "output_index": index, "item": added }),
        );
        if message {
            self.event(
                out,
                "response.content_part.added",
                json!({ "item_id": id, "output_index": index, "content_index": 0,
                        "part": output_text("") }),
            );
        }
        index
    }

    fn close(&mut self, out: &mut BytesMut) {
        let Some(index) = self.open.take() else {
            return;
        };
        let id = self.items[index].id.clone();
        match &self.items[index].kind {
            ItemKind::Message { text } => {
                let text = text.clone();
                self.event(
                    out,
                    "response.output_text.done",
                    json!({ "item_id": id, "output_index": index, "content_index": 0,
                            "text": text, "logprobs": [] }),
                );
                self.event(
                    out,
                    "response.content_part.done",
                    json!({ "item_id": id, "output_index": index, "content_index": 0,
                            "part": output_text(&text) }),
                );
            }
            ItemKind::Call { arguments, .. } => {
                let arguments = arguments.clone();
                self.event(
                    out,
                    "response.function_call_arguments.done",
                    json!({ "item_id": id, "output_index": index, "arguments": arguments }),
                );
            }
        }
        let done = self.items[index].value("completed");
        self.event(
            out,
            "response.output_item.done",
            json!({ "output_index": index, "item": done }),
        );
    }

    fn output(&self, status: &str) -> Vec<Value> {
        self.items.iter().map(|item| item.value(status)).collect()
    }
}

impl Encoder for EventEncoder {
    fn piece(&mut self, piece: &Piece, out: &mut BytesMut) {
        match piece {
            Piece::Text(text) => {
                self.start(out);
                let index = match self.open {
                    Some(index) if matches!(self.items[index].kind, ItemKind::Message { .. }) => {
                        index
                    }
                    _ => {
                        let item = Item {
                            id: item_id("msg"),
                            kind: ItemKind::Message {
                                text: String::new(),
                            },
                        };
                        self.open(item, out)
                    }
                };
                if let ItemKind::Message { text: all } = &mut self.items[index].kind {
                    all.push_str(text);
                }
                let id = self.items[index].id.clone();
                self.event(
                    out,
                    "response.output_text.delta",
                    json!({ "item_id": id, "output_index": index, "content_index": 0,
                            "delta": text, "logprobs": [] }),
                );
            }
            Piece::ToolStart { index, id, name } => {
                self.start(out);
                let item = Item {
                    id: item_id("fc"),
                    kind: ItemKind::Call {
                        call_id: call_id(id),
                        name: name.clone(),
                        arguments: String::new(),
                    },
                };
                let output = self.open(item, out);
                self.calls.push((*index, output));
            }
            Piece::ToolArgs { index, json } => {
                // Arguments of a call that never began have no item to go in.
                let Some(&(_, output)) = self.calls.iter().find(|(call, _)| call == index) else {
                    return;
                };
                if let ItemKind::Call { arguments, .. } = &mut self.items[output].kind {
                    arguments.push_str(json);
                }
                let id = self.items[output].id.clone();
                self.event(
                    out,
                    "response.function_call_arguments.delta",
                    json!({ "item_id": id, "output_index": output, "delta": json }),
                );
            }
            Piece::Finish(_) | Piece::Usage(_) | Piece::Error(_) => {}
        }
    }

    fn passed(&mut self, data: &str) {
        self.started = true;
        self.sequence += 1;
        if self.upstream.is_none() && data.contains("\"response.created\"") {
            if let Ok(event) = serde_json::from_str::<Value>(data) {
                self.upstream = Some(event["response"].clone());
            }
        }
    }

    fn end(&mut self, transcript: &Transcript, out: &mut BytesMut) {
        self.start(out);
        self.close(out);
        let finish = transcript.finish.unwrap_or(Finish::Stop);
        let status = finish_status(finish);
        let kind = match status.0 {
            "completed" => "response.completed",
            _ => "response.incomplete",
        };
        let done = response(
            &self.meta,
            status,
            self.output("completed"),
            Some(&transcript.usage),
        );
        self.event(out, kind, json!({ "response": done }));
    }

    /// `response.failed`, with what was made so far, and the error.
    fn error(&mut self, error: UpstreamError, out: &mut BytesMut) {
        self.start(out);
        let error = ApiError::from(error);
        let code = match error.kind {
            ErrorKind::RateLimited => "rate_limit_exceeded",
            _ => "server_error",
        };
        let mut failed = match self.upstream.take() {
            Some(upstream) if upstream.is_object() => upstream,
            _ => response(
                &self.meta,
                ("failed", Value::Null),
                self.output("in_progress"),
                None,
            ),
        };
        failed["status"] = "failed".into();
        failed["error"] = json!({ "code": code, "message": error.message });
        self.event(out, "response.failed", json!({ "response": failed }));
    }
}

/// Reads a Responses body into a chat request; `character_id` is the
/// `X-Character-ID` header's.
pub fn parse(body: JsonObject, character_id: Option<String>) -> Result<ChatRequest, InvalidInput> {
    let mut body = body.into_map();
    let model = model_in_place(&body)?;
    let character_id = take_string(&mut body, "activatedCharacterID")?.or(character_id);
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(other) => return Err(wrong("stream", "a boolean", other)),
    };
    let mut translation = Translation::default();
    let mut native_only = translation.upstream_state(&body)?;
    let mut messages = Vec::new();
    match body.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if text.is_empty() => {}
        Some(Value::String(text)) => messages.push(json!({ "role": "system", "content": text })),
        Some(other) => return Err(wrong("instructions", "a string", other)),
    }
    let instructions = messages.len();
    match body.get("input") {
        None | Some(Value::Null) if native_only.is_some() => {}
        None | Some(Value::Null) => {
            return Err(InvalidInput::new(
                "input",
                "`input` is required: a string, or an array of input items",
            ))
        }
        Some(Value::String(text)) => messages.push(json!({ "role": "user", "content": text })),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                translation.item(item, &format!("input[{i}]"), &mut messages)?;
            }
        }
        Some(other) => return Err(wrong("input", "a string or an array of input items", other)),
    }
    // An input that gives chat nothing to answer (none, or only items it
    // leaves out) is the upstream's to judge when it serves Responses
    // itself, a 400 from mindgate otherwise.
    if native_only.is_none() && messages.len() == instructions {
        native_only = Some(translation.untranslatable.clone().unwrap_or_else(|| {
            InvalidInput::new(
                "input",
                "`input` must not be empty: send at least one message, function call or \
                 function call output (reasoning items are left out)",
            )
        }));
    }
    let mut params = Map::new();
    translation.params(&body, &mut params)?;
    Ok(ChatRequest {
        protocol: ClientProtocol::Responses,
        model,
        stream,
        character_id,
        chat_id: None,
        chat_title: None,
        // Made by mindgate: a failure here is mindgate's.
        messages: parse_messages(messages).expect("translated messages are well formed"),
        params,
        include_usage: false,
        native: Some(body),
        native_headers: Vec::new(),
        untranslatable: translation.untranslatable,
        native_only,
        session: false,
    })
}

/// A field that must be a string when present.
fn optional_string<'a>(
    object: &'a Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<Option<&'a str>, InvalidInput> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(wrong(&format!("{path}.{name}"), "a string", other)),
    }
}

/// The request read into chat messages and parameters, and the first part
/// of it that chat completions have no words for.
#[derive(Default)]
struct Translation {
    untranslatable: Option<InvalidInput>,
}

impl Translation {
    fn cannot(&mut self, path: &str, what: &str) {
        if self.untranslatable.is_none() {
            self.untranslatable = Some(InvalidInput::new(
                path,
                format!(
                    "`{path}` is {what}, which only a provider serving OpenAI's Responses \
                     API takes, and this model's provider is asked through chat \
                     completions: send it to an OpenAI model"
                ),
            ));
        }
    }

    /// The first field that refers to what the upstream keeps (an earlier
    /// response, a conversation, a stored prompt): no model but the
    /// upstream that keeps it can answer it.
    fn upstream_state(
        &mut self,
        body: &Map<String, Value>,
    ) -> Result<Option<InvalidInput>, InvalidInput> {
        let kept = [
            ("previous_response_id", "an earlier response"),
            ("conversation", "a conversation"),
            ("prompt", "a prompt template"),
        ];
        for (name, what) in kept {
            let Some(value) = body.get(name).filter(|v| !v.is_null()) else {
                continue;
            };
            let valid = match name {
                "previous_response_id" => value.is_string(),
                _ => value.is_string() || value.is_object(),
            };
            if !valid {
                let expected = match name {
                    "previous_response_id" => "a string",
                    _ => "a string or an object",
                };
                return Err(wrong(name, expected, value));
            }
            return Ok(Some(InvalidInput::new(
                name,
                format!(
                    "`{name}` names {what} stored by the provider, so it needs a provider \
                     that serves OpenAI's Responses API itself; this model's provider \
                     (an Anthropic model, echo, or a server without /responses) does not, \
                     so send the whole conversation in `input` instead"
                ),
            )));
        }
        Ok(None)
    }

    /// One input item, appended to `out` as chat messages.
    fn item(&mut self, item: &Value, at: &str, out: &mut Vec<Value>) -> Result<(), InvalidInput> {
        let Some(fields) = item.as_object() else {
            return Err(wrong(at, "an object", item));
        };
        // A message may leave its type out.
        let kind = match fields.get("type") {
            None => "message",
            Some(Value::String(kind)) => kind,
            Some(other) => return Err(wrong(&format!("{at}.type"), "a string", other)),
        };
        match kind {
            "message" => {
                let role = string_at(fields, at, "role")?;
                if !ROLES.contains(&role) {
                    let field = format!("{at}.role");
                    return Err(InvalidInput::new(
                        &field,
                        format!(
                            "`{field}` must be one of {}, not {role:?}",
                            ROLES.join(", ")
                        ),
                    ));
                }
                let content = required(fields, at, "content")?;
                let content = self.content(content, &format!("{at}.content"))?;
                if role == "assistant" {
                    out.push(json!({ "role": role, "content": text_of(&content) }));
                } else {
                    out.push(json!({ "role": role, "content": content }));
                }
            }
            "function_call" => {
                let call = json!({
                    "id": string_at(fields, at, "call_id")?,
                    "type": "function",
                    "function": {
                        "name": string_at(fields, at, "name")?,
                        "arguments": string_at(fields, at, "arguments")?,
                    },
                });
                // Calls in a row, and calls after the assistant's text, are
                // one assistant message.
                match out.last_mut() {
                    Some(last) if last["role"] == "assistant" => {
                        match last["tool_calls"].as_array_mut() {
                            Some(calls) => calls.push(call),
                            None => last["tool_calls"] = json!([call]),
                        }
                    }
                    _ => out.push(json!({ "role": "assistant", "content": null,
                                          "tool_calls": [call] })),
                }
            }
            "function_call_output" => {
                let call_id = string_at(fields, at, "call_id")?;
                let output = match required(fields, at, "output")? {
                    Value::String(text) => Value::String(text.clone()),
                    parts @ Value::Array(_) => {
                        let parts = self.content(parts, &format!("{at}.output"))?;
                        Value::String(text_of(&parts))
                    }
                    other => {
                        return Err(wrong(
                            &format!("{at}.output"),
                            "a string or an array of content parts",
                            other,
                        ))
                    }
                };
                out.push(json!({ "role": "tool", "tool_call_id": call_id, "content": output }));
            }
            // Reasoning means something to the model that wrote it alone.
            "reasoning" => {}
            "item_reference" => self.cannot(at, "a reference to an item stored by the provider"),
            other => self.cannot(at, &format!("an item of type {other:?}")),
        }
        Ok(())
    }

    /// Content (at `at`) as chat content: text, or parts.
    fn content(&mut self, content: &Value, at: &str) -> Result<Value, InvalidInput> {
        match content {
            Value::String(text) => Ok(Value::String(text.clone())),
            Value::Array(parts) => {
                let mut translated = Vec::with_capacity(parts.len());
                for (j, part) in parts.iter().enumerate() {
                    translated.extend(self.part(part, &format!("{at}[{j}]"))?);
                }
                Ok(Value::Array(translated))
            }
            other => Err(wrong(at, "a string or an array of content parts", other)),
        }
    }

    /// A content part as a chat part.
    fn part(&mut self, part: &Value, at: &str) -> Result<Option<Value>, InvalidInput> {
        let Some(fields) = part.as_object() else {
            return Err(wrong(at, "an object", part));
        };
        let translated = match string_at(fields, at, "type")? {
            "input_text" | "output_text" => {
                json!({ "type": "text", "text": string_at(fields, at, "text")? })
            }
            "refusal" => json!({ "type": "text", "text": string_at(fields, at, "refusal")? }),
            "input_image" => {
                let detail = optional_string(fields, at, "detail")?;
                let file_id = optional_string(fields, at, "file_id")?;
                match optional_string(fields, at, "image_url")? {
                    Some(url) => {
                        let mut image = json!({ "url": url });
                        if let Some(detail) = detail {
                            image["detail"] = detail.into();
                        }
                        json!({ "type": "image_url", "image_url": image })
                    }
                    None if file_id.is_some() => {
                        self.cannot(at, "an image by file id");
                        return Ok(None);
                    }
                    None => {
                        let field = format!("{at}.image_url");
                        return Err(InvalidInput::new(
                            &field,
                            format!("`{field}` is required (or `file_id`)"),
                        ));
                    }
                }
            }
            "input_file" => {
                let filename = optional_string(fields, at, "filename")?;
                let file_id = optional_string(fields, at, "file_id")?;
                let file_url = optional_string(fields, at, "file_url")?;
                if let Some(data) = optional_string(fields, at, "file_data")? {
                    json!({ "type": "file", "file": {
                        "filename": filename.unwrap_or("file"), "file_data": data } })
                } else if let Some(id) = file_id {
                    json!({ "type": "file", "file": { "file_id": id } })
                } else if file_url.is_some() {
                    self.cannot(at, "a file by URL");
                    return Ok(None);
                } else {
                    let field = format!("{at}.file_data");
                    return Err(InvalidInput::new(
                        &field,
                        format!("`{field}` is required (or `file_id`, `file_url`)"),
                    ));
                }
            }
            other => {
                self.cannot(at, &format!("a content part of type {other:?}"));
                return Ok(None);
            }
        };
        Ok(Some(translated))
    }

    /// The parameters, checked, in chat completions' words.
    fn params(
        &mut self,
        body: &Map<String, Value>,
        params: &mut Map<String, Value>,
    ) -> Result<(), InvalidInput> {
        if let Some(max) = body.get("max_output_tokens").filter(|v| !v.is_null()) {
            let max = max.as_u64().filter(|n| (1..=MAX_TOKENS).contains(n));
            let max = max.ok_or_else(|| {
                InvalidInput::new(
                    "max_output_tokens",
                    format!("`max_output_tokens` must be an integer from 1 to {MAX_TOKENS}"),
                )
            })?;
            params.insert("max_tokens".into(), max.into());
        }
        for (name, most) in [("temperature", 2.0), ("top_p", 1.0)] {
            if let Some(value) = body.get(name).filter(|v| !v.is_null()) {
                if value.as_f64().is_none_or(|v| !(0.0..=most).contains(&v)) {
                    return Err(InvalidInput::new(
                        name,
                        format!("`{name}` must be a number from 0 to {most}"),
                    ));
                }
                params.insert(name.into(), value.clone());
            }
        }
        for (name, check) in [
            (
                "parallel_tool_calls",
                Value::is_boolean as fn(&Value) -> bool,
            ),
            ("store", Value::is_boolean),
            ("user", Value::is_string),
            ("safety_identifier", Value::is_string),
            ("prompt_cache_key", Value::is_string),
            ("service_tier", Value::is_string),
            ("metadata", Value::is_object),
        ] {
            if let Some(value) = body.get(name).filter(|v| !v.is_null()) {
                if !check(value) {
                    let expected = match value {
                        _ if name == "metadata" => "an object",
                        _ if matches!(name, "parallel_tool_calls" | "store") => "a boolean",
                        _ => "a string",
                    };
                    return Err(wrong(name, expected, value));
                }
                params.insert(name.into(), value.clone());
            }
        }
        if let Some(reasoning) = body.get("reasoning").filter(|v| !v.is_null()) {
            let Some(fields) = reasoning.as_object() else {
                return Err(wrong("reasoning", "an object", reasoning));
            };
            if let Some(effort) = optional_string(fields, "reasoning", "effort")? {
                params.insert("reasoning_effort".into(), effort.into());
            }
        }
        if let Some(text) = body.get("text").filter(|v| !v.is_null()) {
            self.text(text, params)?;
        }
        if let Some(tools) = body.get("tools").filter(|v| !v.is_null()) {
            let Some(tools) = tools.as_array() else {
                return Err(wrong("tools", "an array", tools));
            };
            let mut translated = Vec::with_capacity(tools.len());
            for (k, tool) in tools.iter().enumerate() {
                translated.extend(self.tool(tool, &format!("tools[{k}]"))?);
            }
            if !translated.is_empty() {
                params.insert("tools".into(), Value::Array(translated));
            }
        }
        if let Some(choice) = body.get("tool_choice").filter(|v| !v.is_null()) {
            self.tool_choice(choice, params)?;
        }
        if let Some(background) = body.get("background").filter(|v| !v.is_null()) {
            match background {
                Value::Bool(false) => {}
                Value::Bool(true) => self.cannot("background", "a response run in the background"),
                other => return Err(wrong("background", "a boolean", other)),
            }
        }
        Ok(())
    }

    /// `text.format` as `response_format`, `text.verbosity` as `verbosity`.
    fn text(&mut self, text: &Value, params: &mut Map<String, Value>) -> Result<(), InvalidInput> {
        let Some(fields) = text.as_object() else {
            return Err(wrong("text", "an object", text));
        };
        if let Some(verbosity) = optional_string(fields, "text", "verbosity")? {
            params.insert("verbosity".into(), verbosity.into());
        }
        let Some(format) = fields.get("format").filter(|v| !v.is_null()) else {
            return Ok(());
        };
        let Some(format) = format.as_object() else {
            return Err(wrong("text.format", "an object", format));
        };
        let translated = match string_at(format, "text.format", "type")? {
            "text" => json!({ "type": "text" }),
            "json_object" => json!({ "type": "json_object" }),
            "json_schema" => {
                let mut schema = Map::new();
                schema.insert(
                    "name".into(),
                    string_at(format, "text.format", "name")?.into(),
                );
                let body = required(format, "text.format", "schema")?;
                if !body.is_object() {
                    return Err(wrong("text.format.schema", "an object", body));
                }
                schema.insert("schema".into(), body.clone());
                for name in ["description", "strict"] {
                    if let Some(value) = format.get(name) {
                        schema.insert(name.into(), value.clone());
                    }
                }
                json!({ "type": "json_schema", "json_schema": schema })
            }
            other => {
                return Err(InvalidInput::new(
                    "text.format.type",
                    format!(
                        "`text.format.type` must be one of text, json_object, json_schema, \
                         not {other:?}"
                    ),
                ))
            }
        };
        params.insert("response_format".into(), translated);
        Ok(())
    }

    /// A function tool, flat in Responses, as a chat tool; another kind
    /// (OpenAI's own: web search, file search, computer use...) only the
    /// Responses API runs.
    fn tool(&mut self, tool: &Value, path: &str) -> Result<Option<Value>, InvalidInput> {
        let Some(fields) = tool.as_object() else {
            return Err(wrong(path, "an object", tool));
        };
        let kind = string_at(fields, path, "type")?;
        if kind != "function" {
            self.cannot(path, &format!("OpenAI's built-in {kind:?} tool"));
            return Ok(None);
        }
        let mut function = Map::new();
        function.insert("name".into(), string_at(fields, path, "name")?.into());
        if let Some(description) = optional_string(fields, path, "description")? {
            function.insert("description".into(), description.into());
        }
        match fields.get("parameters") {
            None | Some(Value::Null) => {}
            Some(parameters @ Value::Object(_)) => {
                function.insert("parameters".into(), parameters.clone());
            }
            Some(other) => return Err(wrong(&format!("{path}.parameters"), "an object", other)),
        }
        match fields.get("strict") {
            None | Some(Value::Null) => {}
            Some(strict @ Value::Bool(_)) => {
                function.insert("strict".into(), strict.clone());
            }
            Some(other) => return Err(wrong(&format!("{path}.strict"), "a boolean", other)),
        }
        Ok(Some(json!({ "type": "function", "function": function })))
    }

    fn tool_choice(
        &mut self,
        choice: &Value,
        params: &mut Map<String, Value>,
    ) -> Result<(), InvalidInput> {
        let translated = match choice {
            Value::String(mode) if matches!(mode.as_str(), "auto" | "none" | "required") => {
                choice.clone()
            }
            Value::String(mode) => {
                return Err(InvalidInput::new(
                    "tool_choice",
                    format!(
                        "`tool_choice` must be auto, none, required or an object, not {mode:?}"
                    ),
                ))
            }
            Value::Object(fields) => match string_at(fields, "tool_choice", "type")? {
                "function" => {
                    let name = string_at(fields, "tool_choice", "name")?;
                    json!({ "type": "function", "function": { "name": name } })
                }
                other => {
                    self.cannot("tool_choice", &format!("a choice of type {other:?}"));
                    return Ok(());
                }
            },
            other => return Err(wrong("tool_choice", "a string or an object", other)),
        };
        params.insert("tool_choice".into(), translated);
        Ok(())
    }
}

/// The text of chat content: itself, or its text parts joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}
