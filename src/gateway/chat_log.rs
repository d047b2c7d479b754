//! One completion's chat log row, filled in as the completion goes and
//! handed to the background writer when it ends, however it ends: a record
//! dropped unfinished (its request was dropped) is written as cancelled.

use std::time::{Duration, Instant};

use actix_web::web;

use super::answer::Usage;
use super::Gateway;
use crate::db::chat_logs::{ChatStatus, NewChatLog};
use crate::domain::{ApiKeyId, Timestamp, UserId};

pub struct PendingChatLog {
    gateway: web::Data<Gateway>,
    /// `None` once written.
    meta: Option<ChatMeta>,
    first_byte: Option<Duration>,
}

/// Who asked what, known before anything goes upstream.
pub struct ChatMeta {
    pub chat_id: String,
    pub title: String,
    pub prefix: String,
    pub model: String,
    pub provider: Option<String>,
    pub character_id: Option<String>,
    pub user_id: Option<UserId>,
    pub api_key_id: Option<ApiKeyId>,
    pub started: Instant,
}

/// How a completion ended.
pub struct Outcome<'a> {
    pub reply: &'a str,
    pub usage: Usage,
    pub status: ChatStatus,
    pub error: Option<String>,
}

impl PendingChatLog {
    pub fn new(gateway: web::Data<Gateway>, meta: ChatMeta) -> PendingChatLog {
        PendingChatLog {
            gateway,
            meta: Some(meta),
            first_byte: None,
        }
    }

    /// Notes the first byte sent to the client (once).
    pub fn first_byte(&mut self) {
        if let (None, Some(meta)) = (self.first_byte, &self.meta) {
            self.first_byte = Some(meta.started.elapsed());
        }
    }

    pub fn finish(mut self, outcome: Outcome) {
        self.write(outcome);
    }

    fn write(&mut self, outcome: Outcome) {
        let Some(meta) = self.meta.take() else {
            return;
        };
        if !self.gateway.catalog.record_chats() {
            return;
        }
        let mut conversation = meta.prefix;
        if !outcome.reply.is_empty() {
            if !conversation.is_empty() {
                conversation.push_str("\n\n");
            }
            conversation.push_str("Assistant: ");
            conversation.push_str(outcome.reply);
        }
        // Nothing an upstream echoed (a provider key) is stored.
        let snapshot = self.gateway.catalog.snapshot();
        let redactor = snapshot.redactor();
        redactor.scrub(&mut conversation);
        let error = outcome.error.map(|mut error| {
            redactor.scrub(&mut error);
            error
        });
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.gateway.chat_log_writer.record(NewChatLog {
            chat_id: meta.chat_id,
            chat_title: meta.title,
            recorded_at: Timestamp::now(),
            conversation_text: conversation,
            model: Some(meta.model),
            provider: meta.provider,
            character_id: meta.character_id,
            user_id: meta.user_id,
            api_key_id: meta.api_key_id,
            prompt_tokens: outcome.usage.prompt_tokens,
            completion_tokens: outcome.usage.completion_tokens,
            status: outcome.status,
            error_message: error,
            latency_ms: Some(millis(meta.started.elapsed())),
            ttft_ms: self.first_byte.map(millis),
        });
    }
}

impl Drop for PendingChatLog {
    fn drop(&mut self) {
        if self.meta.is_some() {
            self.write(Outcome {
                reply: "",
                usage: Usage::default(),
                status: ChatStatus::Cancelled,
                error: Some("the request ended before the answer".to_owned()),
            });
        }
    }
}
