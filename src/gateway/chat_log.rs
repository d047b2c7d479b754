//! One completion's chat log row, filled in as the completion goes and
//! handed to the sink (the background writer) when it ends, however it
//! ends: a record dropped unfinished (its request was dropped) is written
//! as cancelled. Its tokens are the provider's counts, or estimated from
//! the text where it gave none, and its cost is theirs at the price in
//! force now.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::answer::Usage;
use super::catalog::Catalog;
use super::message::{ChatMessage, Role};
use super::recording::Recording;
use crate::db::chat_logs::{ChatStatus, NewChatLog};
use crate::db::usage::Recorded;
use crate::domain::{ApiKeyId, Timestamp, Tokens, UserId};
use crate::governance::Admission;

/// Where the gateway's rows go: the background writer, or a test's own.
pub trait ChatLogSink: Send + Sync {
    /// Takes a row; never blocks.
    fn record(&self, row: Recorded);
}

pub struct PendingChatLog {
    /// Prices, and the keys to redact.
    catalog: Arc<Catalog>,
    sink: Arc<dyn ChatLogSink>,
    /// `None` once written.
    meta: Option<ChatMeta>,
    first_byte: Option<Duration>,
    /// The limits the request counts against: its tokens and cost are
    /// added when it ends.
    admission: Option<Admission>,
}

/// Who asked what, known before anything goes upstream.
pub struct ChatMeta {
    pub chat_id: String,
    pub title: String,
    pub prefix: String,
    /// Characters of the prompt's text, every message's (system ones too).
    pub prompt_chars: usize,
    pub model: String,
    pub provider: Option<String>,
    pub character_id: Option<String>,
    pub user_id: Option<UserId>,
    pub api_key_id: Option<ApiKeyId>,
    pub started: Instant,
    /// What the log keeps, as the settings said when the chat began.
    pub recording: Recording,
    /// The chat is a session (`ChatRequest::session`).
    pub session: bool,
}

/// `User: Hello\n\nAssistant: Hi there!` for the turns (system messages
/// left out), without the reply. An assistant's tool calls show as
/// `[tool_use: name]`, each on a line of its own.
pub fn conversation_prefix(messages: &[ChatMessage]) -> String {
    let mut text = String::new();
    for message in messages {
        let (label, content) = match message.role() {
            Role::User => ("User", message.text()),
            Role::Assistant => {
                let names = message
                    .tool_calls()
                    .iter()
                    .map(|call| call["function"]["name"].as_str().unwrap_or_default());
                ("Assistant", assistant_turn(&message.text(), names).into())
            }
            Role::Tool | Role::Function => ("Tool", message.text()),
            Role::System | Role::Developer => continue,
        };
        push_turn(&mut text, label, &content);
    }
    text
}

/// An assistant's text, then a line `[tool_use: name]` for each tool call.
fn assistant_turn<'a>(text: &str, tools: impl IntoIterator<Item = &'a str>) -> String {
    let mut turn = text.to_owned();
    for name in tools {
        if !turn.is_empty() {
            turn.push('\n');
        }
        turn.push_str("[tool_use: ");
        turn.push_str(name);
        turn.push(']');
    }
    turn
}

/// Adds `Label: content` to a conversation, unless the content is empty.
fn push_turn(conversation: &mut String, label: &str, content: &str) {
    if content.is_empty() {
        return;
    }
    if !conversation.is_empty() {
        conversation.push_str("\n\n");
    }
    conversation.push_str(label);
    conversation.push_str(": ");
    conversation.push_str(content);
}

/// The first user message, cut to 60 characters: a chat's default title.
pub fn default_title(messages: &[ChatMessage]) -> String {
    let first = messages
        .iter()
        .find(|m| m.is_user())
        .map(ChatMessage::text)
        .unwrap_or_default();
    let first = first.split_whitespace().collect::<Vec<_>>().join(" ");
    if first.chars().count() <= 60 {
        first
    } else {
        first.chars().take(60).collect()
    }
}

/// Characters of the text of `messages`.
pub fn prompt_chars(messages: &[ChatMessage]) -> usize {
    messages.iter().map(|m| m.text().chars().count()).sum()
}

/// Where a provider reports no usage, tokens are estimated at about this
/// many characters a token (OpenAI's rule of thumb for English).
pub const CHARS_PER_TOKEN: usize = 4;

/// Tokens of `chars` characters, where nobody counted them.
pub fn estimate_tokens(chars: usize) -> i64 {
    i64::try_from(chars.div_ceil(CHARS_PER_TOKEN)).unwrap_or(i64::MAX)
}

/// The tokens to record: the provider's counts, each estimated from the
/// text where it gave none; and whether any was.
fn counted(usage: Usage, prompt_chars: usize, reply_chars: usize) -> (Tokens, bool) {
    let estimated = usage.prompt_tokens.is_none() || usage.completion_tokens.is_none();
    let tokens = Tokens {
        input: usage
            .prompt_tokens
            .unwrap_or_else(|| estimate_tokens(prompt_chars)),
        output: usage
            .completion_tokens
            .unwrap_or_else(|| estimate_tokens(reply_chars)),
        cache_read: usage.cache_read_tokens.unwrap_or(0),
        cache_write: usage.cache_write_tokens.unwrap_or(0),
    };
    (tokens, estimated)
}

/// How a completion ended.
pub struct Outcome<'a> {
    pub reply: &'a str,
    /// The names of the tool calls in the reply.
    pub tools: &'a [String],
    /// Characters of the tool calls in the reply.
    pub tool_chars: usize,
    /// What the provider reported.
    pub usage: Usage,
    /// Whether a model may have worked on the prompt: false when the
    /// provider refused the request or was never reached, and no token is
    /// counted.
    pub prompt_used: bool,
    pub status: ChatStatus,
    pub error: Option<String>,
}

impl PendingChatLog {
    pub fn new(
        catalog: Arc<Catalog>,
        sink: Arc<dyn ChatLogSink>,
        meta: ChatMeta,
        admission: Admission,
    ) -> PendingChatLog {
        PendingChatLog {
            catalog,
            sink,
            meta: Some(meta),
            first_byte: None,
            admission: Some(admission),
        }
    }

    /// Notes the first byte sent to the client (once).
    pub fn first_byte(&mut self) {
        if let (None, Some(meta)) = (self.first_byte, &self.meta) {
            self.first_byte = Some(meta.started.elapsed());
        }
    }

    /// Replaces the conversation before the reply with `text`: what a
    /// request with no conversation to keep (embeddings) did.
    pub fn describe(&mut self, text: String) {
        if let Some(meta) = &mut self.meta {
            meta.prefix = text;
        }
    }

    pub fn finish(mut self, outcome: Outcome) {
        self.write(outcome);
    }

    fn write(&mut self, outcome: Outcome) {
        let Some(meta) = self.meta.take() else {
            return;
        };
        let snapshot = self.catalog.snapshot();
        let reply_chars = outcome.reply.chars().count() + outcome.tool_chars;
        let (tokens, estimated) = if outcome.prompt_used {
            counted(outcome.usage, meta.prompt_chars, reply_chars)
        } else {
            (Tokens::default(), false)
        };
        let cost = snapshot.price(&meta.model).map(|price| price.cost(&tokens));
        if let Some(admission) = self.admission.take() {
            admission.finish(tokens.total(), cost.unwrap_or_default());
        }
        // Not recording chats still counts their usage (limits need it):
        // the row goes to the rollups, not the chat logs.
        let keep_log = meta.recording.chats;
        let mut conversation = String::new();
        let mut title = String::new();
        let mut error = outcome.error;
        if keep_log {
            // Metadata only: no prompt, no reply, and no title (the
            // client's is made from the conversation too).
            if meta.recording.conversations {
                conversation = meta.prefix;
                let reply = assistant_turn(outcome.reply, outcome.tools.iter().map(String::as_str));
                push_turn(&mut conversation, "Assistant", &reply);
                title = meta.title;
            }
            // Nothing an upstream echoed (a provider key) is stored.
            let redactor = snapshot.redactor();
            redactor.scrub(&mut conversation);
            if let Some(error) = &mut error {
                redactor.scrub(error);
            }
        }
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let counts = |n: i64| outcome.prompt_used.then_some(n);
        let log = NewChatLog {
            chat_id: meta.chat_id,
            chat_title: title,
            recorded_at: Timestamp::now(),
            conversation_text: conversation,
            model: Some(meta.model),
            provider: meta.provider,
            character_id: meta.character_id,
            user_id: meta.user_id,
            api_key_id: meta.api_key_id,
            prompt_tokens: counts(tokens.input),
            completion_tokens: counts(tokens.output),
            cache_read_tokens: tokens.cache_read,
            cache_write_tokens: tokens.cache_write,
            cost,
            usage_estimated: estimated,
            status: outcome.status,
            error_message: error,
            latency_ms: Some(millis(meta.started.elapsed())),
            ttft_ms: self.first_byte.map(millis),
            session: meta.session,
        };
        self.sink.record(Recorded::Chat { log, keep_log });
    }
}

impl Drop for PendingChatLog {
    fn drop(&mut self) {
        if self.meta.is_some() {
            // The prompt went out, or was about to: a model may be at work.
            self.write(Outcome {
                reply: "",
                tools: &[],
                tool_chars: 0,
                usage: Usage::default(),
                prompt_used: true,
                status: ChatStatus::Cancelled,
                error: Some("the request ended before the answer".to_owned()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::message::parse_messages;

    #[test]
    fn conversation_text_leaves_out_system_and_labels_turns() {
        let messages = parse_messages(vec![
            json!({"role": "system", "content": "secret"}),
            json!({"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "image_url", "image_url": {"url": "x"}}]}),
            json!({"role": "assistant", "content": "Hi"}),
            json!({"role": "assistant", "content": null, "tool_calls": []}),
            json!({"role": "tool", "tool_call_id": "c1", "content": "rain"}),
        ])
        .unwrap();
        assert_eq!(
            conversation_prefix(&messages),
            "User: Hello\n[image]\n\nAssistant: Hi\n\nTool: rain"
        );
    }

    #[test]
    fn unreported_tokens_are_estimated_at_four_characters_each() {
        let reported = Usage {
            prompt_tokens: Some(7),
            completion_tokens: Some(2),
            cache_read_tokens: Some(100),
            cache_write_tokens: None,
        };
        let (tokens, estimated) = counted(reported, 1000, 1000);
        assert!(!estimated);
        assert_eq!(
            tokens,
            Tokens {
                input: 7,
                output: 2,
                cache_read: 100,
                cache_write: 0
            }
        );
        let half = Usage {
            prompt_tokens: Some(7),
            ..Usage::default()
        };
        assert_eq!(
            counted(half, 1000, 9),
            (
                Tokens {
                    input: 7,
                    output: 3,
                    ..Tokens::default()
                },
                true
            )
        );
        let (none, estimated) = counted(Usage::default(), 8, 0);
        assert!(estimated);
        assert_eq!((none.input, none.output), (2, 0));
    }

    #[test]
    fn titles_are_the_first_user_message_cut_to_sixty_characters() {
        let long = "word ".repeat(30);
        let messages = [
            ChatMessage::new(Role::System, "Be brief."),
            ChatMessage::new(Role::User, long),
            ChatMessage::new(Role::User, "later"),
        ];
        let title = default_title(&messages);
        assert_eq!(title.chars().count(), 60);
        assert!(title.starts_with("word word"));
        assert_eq!(default_title(&messages[..1]), "");
    }
}
