//! Streams an upstream's events to the client the moment each arrives:
//! passed through as they are when the client speaks the upstream's
//! protocol, translated otherwise. An upstream that fails mid-stream (an
//! error, a cut, a silence past the idle timeout) ends the stream with an
//! error event; a client that goes away drops the upstream request.
//!
//! While the upstream is silent, a comment line goes out every
//! `HEARTBEAT`: writing is how a server learns that the client is gone
//! (a closed socket fails the next write), and SSE clients ignore comments.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::rt::time::{sleep, Instant, Sleep};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use serde_json::Value;

use super::completion::{Piece, Transcript};
use super::record::{ChatRecord, Outcome};
use super::render::{self, Encoder};
use super::request::Style;
use super::sse::{self, Splitter};
use super::upstream::Response;
use super::{anthropic, openai};
use crate::db::chat_logs::ChatStatus;
use crate::db::providers::ProviderKind;

/// How upstream events become client events.
pub enum Mode {
    /// OpenAI to an OpenAI client: forward each event as it came, except the
    /// usage chunk mindgate asked for when the client did not.
    Passthrough { client_wants_usage: bool },
    /// Anything else: decode the upstream's events, encode the client's.
    Translate {
        from: ProviderKind,
        encoder: Box<Encoder>,
    },
}

const HEARTBEAT: Duration = Duration::from_millis(250);
const HEARTBEAT_EVENT: &[u8] = b": keep-alive\n\n";

pub struct Relay {
    upstream: Response,
    mode: Mode,
    style: Style,
    splitter: Splitter,
    transcript: Transcript,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    heartbeat: Pin<Box<Sleep>>,
    record: Option<ChatRecord>,
    /// The upstream said it is done (`[DONE]`, `message_stop`).
    complete: bool,
    ended: bool,
}

impl Relay {
    pub fn new(
        upstream: Response,
        mode: Mode,
        style: Style,
        idle: Duration,
        record: ChatRecord,
    ) -> Relay {
        Relay {
            upstream,
            mode,
            style,
            splitter: Splitter::default(),
            transcript: Transcript::default(),
            idle,
            deadline: Box::pin(sleep(idle)),
            heartbeat: Box::pin(sleep(HEARTBEAT)),
            record: Some(record),
            complete: false,
            ended: false,
        }
    }

    /// Handles every whole event received so far.
    fn drain(&mut self, out: &mut BytesMut) {
        while let Some(raw) = self.splitter.next_event() {
            self.event(raw, out);
            if self.ended {
                return;
            }
        }
    }

    fn event(&mut self, raw: Bytes, out: &mut BytesMut) {
        let event = sse::parse(&raw);
        if event.data.is_empty() {
            return;
        }
        if event.data == "[DONE]" {
            self.complete = true;
            if let Mode::Passthrough { .. } = self.mode {
                out.extend_from_slice(&raw);
            }
            return;
        }
        let pieces = match &self.mode {
            Mode::Passthrough { client_wants_usage } => {
                let forward = match openai::chunk(&event.data) {
                    Some(chunk) => {
                        for piece in &chunk.pieces {
                            self.transcript.take(piece);
                        }
                        *client_wants_usage || !chunk.usage_only
                    }
                    // Data that is not a chunk: pass it on untouched.
                    None => true,
                };
                if forward {
                    out.extend_from_slice(&raw);
                }
                if self.transcript.error.is_some() {
                    self.ended = true;
                }
                return;
            }
            Mode::Translate {
                from: ProviderKind::OpenAi,
                ..
            } => match openai::chunk(&event.data) {
                Some(chunk) => chunk.pieces,
                None => return,
            },
            Mode::Translate {
                from: ProviderKind::Anthropic,
                ..
            } => match serde_json::from_str::<Value>(&event.data) {
                Ok(value) => {
                    if value["type"] == "message_stop" {
                        self.complete = true;
                    }
                    anthropic::pieces(&value)
                }
                Err(_) => return,
            },
        };
        for piece in &pieces {
            self.transcript.take(piece);
            if let Piece::Error(message) = piece {
                out.extend_from_slice(&render::stream_error(self.style, "upstream_error", message));
                self.ended = true;
                return;
            }
            if let Mode::Translate { encoder, .. } = &mut self.mode {
                encoder.piece(piece, out);
            }
        }
    }

    /// The upstream finished sending: close the client's stream properly,
    /// or with an error when the upstream stopped short.
    fn upstream_ended(&mut self, out: &mut BytesMut) {
        if let Some(rest) = self.splitter.rest() {
            self.event(rest, out);
        }
        if self.ended {
            return;
        }
        self.ended = true;
        if self.complete {
            if let Mode::Translate { encoder, .. } = &mut self.mode {
                encoder.end(&self.transcript, out);
            }
        } else {
            self.fail(
                "upstream_error",
                "the provider ended the stream before it was complete",
                out,
            );
        }
    }

    fn fail(&mut self, kind: &str, message: &str, out: &mut BytesMut) {
        self.ended = true;
        self.transcript.error = Some(message.to_owned());
        out.extend_from_slice(&render::stream_error(self.style, kind, message));
    }

    fn finish_record(&mut self, status: ChatStatus) {
        if let Some(record) = self.record.take() {
            let status = match (&self.transcript.error, status) {
                (Some(_), ChatStatus::Ok) => ChatStatus::Error,
                (_, status) => status,
            };
            record.finish(Outcome {
                reply: &self.transcript.text,
                usage: self.transcript.usage,
                status,
                error: self.transcript.error.take(),
            });
        }
    }
}

impl Stream for Relay {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.ended {
                this.finish_record(ChatStatus::Ok);
                return Poll::Ready(None);
            }
            let mut out = BytesMut::new();
            match Pin::new(&mut this.upstream).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let now = Instant::now();
                    this.deadline.as_mut().reset(now + this.idle);
                    this.heartbeat.as_mut().reset(now + HEARTBEAT);
                    this.splitter.push(&chunk);
                    this.drain(&mut out);
                }
                Poll::Ready(Some(Err(e))) => {
                    log::warn!("upstream stream failed: {e}");
                    this.fail(
                        "upstream_error",
                        "the connection to the provider broke",
                        &mut out,
                    );
                }
                Poll::Ready(None) => this.upstream_ended(&mut out),
                Poll::Pending => {
                    if this.deadline.as_mut().poll(cx).is_pending() {
                        if this.heartbeat.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        let next = Instant::now() + HEARTBEAT;
                        this.heartbeat.as_mut().reset(next);
                        return Poll::Ready(Some(Ok(Bytes::from_static(HEARTBEAT_EVENT))));
                    }
                    let message =
                        format!("the provider sent nothing for {} ms", this.idle.as_millis());
                    this.fail("timeout_error", &message, &mut out);
                }
            }
            if !out.is_empty() {
                if let Some(record) = &mut this.record {
                    record.first_byte();
                }
                return Poll::Ready(Some(Ok(out.freeze())));
            }
        }
    }
}

impl Drop for Relay {
    /// A relay dropped before its end means the client went away.
    fn drop(&mut self) {
        self.finish_record(ChatStatus::Cancelled);
    }
}
