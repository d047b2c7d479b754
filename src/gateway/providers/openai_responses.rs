//! OpenAI's Responses API as an OpenAI-compatible upstream serves it at
//! `{base}/responses` (`OpenAi::native_url`): its answers read, a
//! `response` object whole and its typed events streamed, into a
//! `Completion` or `Piece`s for the chat log (the client gets them as
//! they came).

use serde::Deserialize;
use serde_json::{json, Value};

use super::openai::{usage_of, WireTokenDetails};
use super::{StreamEvent, WireReader};
use crate::gateway::answer::{Completion, Finish, Piece, Usage};
use crate::gateway::upstream_error::ProviderError;

pub struct Responses;

impl WireReader for Responses {
    fn completion(&self, body: &[u8]) -> serde_json::Result<Completion> {
        let response: WireResponse = serde_json::from_slice(body)?;
        Ok(response.completion())
    }

    fn stream_event(&self, data: &str) -> Option<StreamEvent> {
        event(data)
    }
}

// The wire shapes, read straight into structs: only what mindgate records.

#[derive(Deserialize)]
struct WireResponse {
    id: Option<String>,
    status: Option<String>,
    #[serde(default)]
    output: Vec<WireItem>,
    usage: Option<WireUsage>,
    incomplete_details: Option<Value>,
}

#[derive(Deserialize)]
struct WireItem {
    #[serde(rename = "type")]
    kind: String,
    /// A message's parts.
    #[serde(default)]
    content: Value,
    call_id: Option<String>,
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    input_tokens_details: Option<WireTokenDetails>,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Usage {
        let cached = usage
            .input_tokens_details
            .and_then(|details| details.cached_tokens);
        usage_of(usage.input_tokens, usage.output_tokens, cached)
    }
}

impl WireItem {
    /// A `function_call` item as an OpenAI chat tool call.
    fn tool_call(&self) -> Option<Value> {
        (self.kind == "function_call").then(|| {
            json!({
                "id": self.call_id.as_deref().unwrap_or_default(),
                "type": "function",
                "function": {
                    "name": self.name.as_deref().unwrap_or_default(),
                    "arguments": self.arguments.as_deref().unwrap_or_default(),
                },
            })
        })
    }

    /// A `message` item's text: its `output_text` parts.
    fn text(&self) -> String {
        if self.kind != "message" {
            return String::new();
        }
        let parts = self
            .content
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        parts
            .iter()
            .filter(|part| part["type"] == "output_text")
            .filter_map(|part| part["text"].as_str())
            .collect()
    }
}

impl WireResponse {
    fn finish(&self, tool_calls: bool) -> Finish {
        match self.status.as_deref() {
            Some("incomplete") => match self.incomplete_details.as_ref() {
                Some(details) if details["reason"] == "content_filter" => Finish::ContentFilter,
                _ => Finish::Length,
            },
            _ if tool_calls => Finish::ToolCalls,
            _ => Finish::Stop,
        }
    }

    fn completion(self) -> Completion {
        let tool_calls: Vec<Value> = self.output.iter().filter_map(WireItem::tool_call).collect();
        Completion {
            text: self.output.iter().map(WireItem::text).collect(),
            finish: Some(self.finish(!tool_calls.is_empty())),
            tool_calls,
            usage: self.usage.map(Usage::from).unwrap_or_default(),
            id: self.id,
        }
    }
}

#[derive(Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    delta: Option<String>,
    output_index: Option<u64>,
    item: Option<WireItem>,
    response: Option<WireResponse>,
}

/// One typed event; `None` when the data is not such JSON.
fn event(data: &str) -> Option<StreamEvent> {
    let wire: WireEvent = serde_json::from_str(data).ok()?;
    let index = wire.output_index.unwrap_or(0);
    let mut pieces = Vec::new();
    let mut last = false;
    match wire.kind.as_str() {
        "response.output_text.delta" => {
            pieces.extend(wire.delta.filter(|d| !d.is_empty()).map(Piece::Text));
        }
        "response.output_item.added" => {
            if let Some(item) = wire.item.filter(|item| item.kind == "function_call") {
                pieces.push(Piece::ToolStart {
                    index,
                    id: item.call_id.unwrap_or_default(),
                    name: item.name.unwrap_or_default(),
                });
                if let Some(json) = item.arguments.filter(|a| !a.is_empty()) {
                    pieces.push(Piece::ToolArgs { index, json });
                }
            }
        }
        "response.function_call_arguments.delta" => {
            if let Some(json) = wire.delta.filter(|d| !d.is_empty()) {
                pieces.push(Piece::ToolArgs { index, json });
            }
        }
        "response.completed" | "response.incomplete" => {
            let response = wire.response?;
            let calls = response
                .output
                .iter()
                .any(|item| item.kind == "function_call");
            pieces.push(Piece::Finish(response.finish(calls)));
            pieces.extend(response.usage.map(|usage| Piece::Usage(usage.into())));
            last = true;
        }
        "response.failed" | "error" => {
            // The failure is the event's `response.error`, or the event.
            let event: Value = serde_json::from_str(data).ok()?;
            let error = match &event["response"]["error"] {
                Value::Null => &event,
                error => error,
            };
            let mut said = ProviderError::reported(error);
            if !error["message"].is_string() {
                said.message = "the provider's response failed".to_owned();
            }
            pieces.push(Piece::Error(said));
        }
        // The others (created, in progress, parts, reasoning...) carry
        // nothing the chat log keeps.
        _ => {}
    }
    Some(StreamEvent {
        pieces,
        usage_only: false,
        last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_give_text_tool_calls_finish_usage_and_errors() {
        let text = event(r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"Hi","sequence_number":4}"#).unwrap();
        assert_eq!(text.pieces, vec![Piece::Text("Hi".into())]);
        let call = event(r#"{"type":"response.output_item.added","output_index":1,"item":{"id":"fc_1","type":"function_call","status":"in_progress","call_id":"call_1","name":"f","arguments":""}}"#).unwrap();
        assert_eq!(
            call.pieces,
            vec![Piece::ToolStart {
                index: 1,
                id: "call_1".into(),
                name: "f".into()
            }]
        );
        let args = event(r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"{\"a\""}"#).unwrap();
        assert_eq!(
            args.pieces,
            vec![Piece::ToolArgs {
                index: 1,
                json: "{\"a\"".into()
            }]
        );
        let done = event(r#"{"type":"response.completed","response":{"id":"r","status":"completed","output":[{"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"}],"usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":20},"output_tokens":4,"total_tokens":34}}}"#).unwrap();
        assert!(done.last);
        assert_eq!(
            done.pieces,
            vec![
                Piece::Finish(Finish::ToolCalls),
                Piece::Usage(Usage {
                    prompt_tokens: Some(10),
                    completion_tokens: Some(4),
                    cache_read_tokens: Some(20),
                    cache_write_tokens: None,
                })
            ]
        );
        let other = event(r#"{"type":"response.in_progress","response":{"id":"r"}}"#).unwrap();
        assert!(other.pieces.is_empty() && !other.last);
        let failed = event(r#"{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"server_error","message":"boom"}}}"#).unwrap();
        let [Piece::Error(said)] = failed.pieces.as_slice() else {
            panic!("{:?}", failed.pieces);
        };
        assert_eq!(said.message, "boom");
        assert_eq!(said.code.as_deref(), Some("server_error"));
        let error = event(
            r#"{"type":"error","code":"rate_limit_exceeded","message":"slow","sequence_number":3}"#,
        )
        .unwrap();
        let [Piece::Error(said)] = error.pieces.as_slice() else {
            panic!("{:?}", error.pieces);
        };
        assert_eq!(said.status().map(|s| s.as_u16()), Some(429));
        assert!(event("not json").is_none());
        assert!(event(r#"{"delta":"no type"}"#).is_none());
    }

    #[test]
    fn a_response_keeps_its_text_tool_calls_finish_and_usage() {
        let body = br#"{"id":"resp_1","object":"response","status":"completed","output":[
            {"type":"reasoning","id":"rs_1","summary":[]},
            {"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]},
            {"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{\"a\":1}"}],
            "usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7}}"#;
        let c = Responses.completion(body).unwrap();
        assert_eq!(c.id.as_deref(), Some("resp_1"));
        assert_eq!(c.text, "Hello");
        assert_eq!(c.tool_names(), ["f"]);
        assert_eq!(c.tool_calls[0]["id"], "call_1");
        assert_eq!(c.finish, Some(Finish::ToolCalls));
        assert_eq!(c.usage.prompt_tokens, Some(5));
        let cut = br#"{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}"#;
        assert_eq!(
            Responses.completion(cut).unwrap().finish,
            Some(Finish::Length)
        );
        assert!(Responses.completion(b"[]").is_err());
    }
}
