//! What every upstream's answer is turned into before it is rendered in
//! the client's protocol: a whole completion, or a stream of pieces.

use serde_json::Value;

use super::upstream_error::ProviderError;

/// Why generation stopped, in either vendor's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
}

impl Finish {
    pub fn from_openai(reason: &str) -> Finish {
        match reason {
            "length" => Finish::Length,
            "tool_calls" | "function_call" => Finish::ToolCalls,
            "content_filter" => Finish::ContentFilter,
            _ => Finish::Stop,
        }
    }

    pub fn from_anthropic(reason: &str) -> Finish {
        match reason {
            "max_tokens" => Finish::Length,
            "tool_use" => Finish::ToolCalls,
            "refusal" => Finish::ContentFilter,
            _ => Finish::Stop,
        }
    }

    pub fn openai(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::ToolCalls => "tool_calls",
            Finish::ContentFilter => "content_filter",
        }
    }

    /// The legacy text-completion `stop_reason`; a tool call, which the
    /// legacy protocol has no words for, is Messages' `tool_use`.
    pub fn legacy(self) -> &'static str {
        match self {
            Finish::Length => "max_tokens",
            Finish::ToolCalls => "tool_use",
            _ => "stop_sequence",
        }
    }

    /// The Messages API's `stop_reason`.
    pub fn anthropic(self) -> &'static str {
        match self {
            Finish::Stop => "end_turn",
            Finish::Length => "max_tokens",
            Finish::ToolCalls => "tool_use",
            Finish::ContentFilter => "refusal",
        }
    }
}

/// Tokens as a provider reports them, `None` where it said nothing.
/// `prompt_tokens` counts the prompt tokens neither read from nor written
/// to the provider's prompt cache: OpenAI's `prompt_tokens` less its
/// `cached_tokens`, Anthropic's `input_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
}

impl Usage {
    pub fn is_known(&self) -> bool {
        self.prompt_tokens.is_some() || self.completion_tokens.is_some()
    }

    /// Takes whatever `other` knows.
    pub fn merge(&mut self, other: Usage) {
        self.prompt_tokens = other.prompt_tokens.or(self.prompt_tokens);
        self.completion_tokens = other.completion_tokens.or(self.completion_tokens);
        self.cache_read_tokens = other.cache_read_tokens.or(self.cache_read_tokens);
        self.cache_write_tokens = other.cache_write_tokens.or(self.cache_write_tokens);
    }

    /// OpenAI's `prompt_tokens` counts the whole prompt, cached or not.
    pub fn openai_json(&self) -> Value {
        let prompt = self.prompt_tokens.unwrap_or(0)
            + self.cache_read_tokens.unwrap_or(0)
            + self.cache_write_tokens.unwrap_or(0);
        let completion = self.completion_tokens.unwrap_or(0);
        let mut usage = serde_json::json!({
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        });
        if let Some(cached) = self.cache_read_tokens {
            usage["prompt_tokens_details"] = serde_json::json!({ "cached_tokens": cached });
        }
        usage
    }

    pub fn anthropic_json(&self) -> Value {
        let mut usage = serde_json::json!({
            "input_tokens": self.prompt_tokens.unwrap_or(0),
            "output_tokens": self.completion_tokens.unwrap_or(0),
        });
        if let Some(read) = self.cache_read_tokens {
            usage["cache_read_input_tokens"] = read.into();
        }
        if let Some(written) = self.cache_write_tokens {
            usage["cache_creation_input_tokens"] = written.into();
        }
        usage
    }
}

/// A whole (non-streamed) answer.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub id: Option<String>,
    pub text: String,
    /// OpenAI-shaped `tool_calls`.
    pub tool_calls: Vec<Value>,
    pub finish: Option<Finish>,
    pub usage: Usage,
}

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    /// A tool call begins: its index among the calls, id and function name.
    ToolStart {
        index: u64,
        id: String,
        name: String,
    },
    /// More of a tool call's JSON arguments.
    ToolArgs {
        index: u64,
        json: String,
    },
    Finish(Finish),
    Usage(Usage),
    /// The upstream reported an error inside the stream.
    Error(ProviderError),
}

impl Completion {
    /// Characters of its tool calls (names and arguments), as a stream of
    /// it would have counted them.
    pub fn tool_chars(&self) -> usize {
        self.tool_calls
            .iter()
            .map(|call| {
                let function = &call["function"];
                let count = |field: &str| function[field].as_str().map_or(0, |s| s.chars().count());
                count("name") + count("arguments")
            })
            .sum()
    }

    /// The names of its tool calls, in order.
    pub fn tool_names(&self) -> Vec<String> {
        self.tool_calls
            .iter()
            .map(|call| {
                call["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    /// The answer as the pieces a stream of it would have carried.
    pub fn pieces(&self) -> Vec<Piece> {
        let mut pieces = Vec::new();
        if !self.text.is_empty() {
            pieces.push(Piece::Text(self.text.clone()));
        }
        for (index, call) in (0..).zip(&self.tool_calls) {
            let function = &call["function"];
            pieces.push(Piece::ToolStart {
                index,
                id: call["id"].as_str().unwrap_or_default().to_owned(),
                name: function["name"].as_str().unwrap_or_default().to_owned(),
            });
            if let Some(json) = function["arguments"].as_str().filter(|a| !a.is_empty()) {
                pieces.push(Piece::ToolArgs {
                    index,
                    json: json.to_owned(),
                });
            }
        }
        pieces.push(Piece::Finish(self.finish.unwrap_or(Finish::Stop)));
        if self.usage.is_known() {
            pieces.push(Piece::Usage(self.usage));
        }
        pieces
    }
}

/// What a stream has delivered so far, for the chat log.
#[derive(Debug, Default)]
pub struct Transcript {
    pub text: String,
    /// Characters of tool calls (names and arguments), for an estimate of
    /// the tokens when the provider reports none.
    pub tool_chars: usize,
    /// The names of the tool calls, in order.
    pub tools: Vec<String>,
    pub finish: Option<Finish>,
    pub usage: Usage,
    pub error: Option<String>,
}

impl Transcript {
    pub fn take(&mut self, piece: &Piece) {
        match piece {
            Piece::Text(text) => self.text.push_str(text),
            Piece::Finish(finish) => self.finish = Some(*finish),
            Piece::Usage(usage) => self.usage.merge(*usage),
            Piece::Error(said) => self.error = Some(said.message.clone()),
            Piece::ToolStart { name, .. } => {
                self.tool_chars += name.chars().count();
                self.tools.push(name.clone());
            }
            Piece::ToolArgs { json, .. } => self.tool_chars += json.chars().count(),
        }
    }
}
