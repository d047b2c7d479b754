//! Streams an upstream's events to the client the moment each arrives:
//! passed through as they are (provider keys redacted) when the client
//! speaks the upstream's protocol, translated otherwise. An upstream that
//! fails mid-stream (an error event, a cut, an event past the size limit, a
//! silence past the idle timeout) ends the stream with an error event in
//! the client's protocol; a client that goes away drops the upstream
//! request. A JSON answer to a stream request is read whole, then streamed.
//!
//! While the upstream is silent, a comment line goes out every
//! `HEARTBEAT`: writing is how a server learns that the client is gone
//! (a closed socket fails the next write), and SSE clients ignore comments.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::rt::time::{sleep, Instant, Sleep};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::answer::{Piece, Transcript};
use super::chat_log::{Outcome, PendingChatLog};
use super::protocols::Encoder;
use super::providers::{self, WireReader};
use super::redact::Redactor;
use super::sse::{self, Splitter};
use super::upstream::Response;
use super::upstream_error::UpstreamError;
use crate::config::GatewayConfig;
use crate::db::chat_logs::ChatStatus;

/// How upstream events become client events.
pub enum Mode {
    /// The client speaks the upstream's protocol: forward each event as it
    /// came, except the usage chunk mindgate asked for when the client did
    /// not, and errors, which are mapped like any other.
    Passthrough { client_wants_usage: bool },
    /// Anything else: decode the upstream's events, encode the client's.
    Translate,
}

/// What the upstream's body turns out to be.
enum Body {
    /// Nothing but whitespace yet.
    Unknown,
    Events,
    /// One JSON answer (some servers answer a stream request with one),
    /// read whole, then streamed.
    Json(BytesMut),
}

const HEARTBEAT: Duration = Duration::from_millis(250);
const HEARTBEAT_EVENT: &[u8] = b": keep-alive\n\n";

pub struct Relay {
    upstream: Response,
    from: &'static dyn WireReader,
    mode: Mode,
    encoder: Box<dyn Encoder>,
    /// The client's events come from the encoder (not passed through).
    encoding: bool,
    body: Body,
    splitter: Splitter,
    max_event: usize,
    max_answer: usize,
    redactor: Arc<Redactor>,
    transcript: Transcript,
    /// Events passed through that could not be read.
    malformed: usize,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    heartbeat: Pin<Box<Sleep>>,
    record: Option<PendingChatLog>,
    /// The upstream said it is done (`[DONE]`, `message_stop`).
    complete: bool,
    ended: bool,
}

impl Relay {
    pub fn new(
        upstream: Response,
        from: &'static dyn WireReader,
        mode: Mode,
        encoder: Box<dyn Encoder>,
        config: &GatewayConfig,
        redactor: Arc<Redactor>,
        record: PendingChatLog,
    ) -> Relay {
        let json = upstream
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim() == "application/json");
        Relay {
            upstream,
            from,
            encoding: matches!(mode, Mode::Translate),
            mode,
            encoder,
            body: if json {
                Body::Json(BytesMut::new())
            } else {
                Body::Unknown
            },
            splitter: Splitter::new(config.max_event_bytes),
            max_event: config.max_event_bytes,
            max_answer: config.max_answer_bytes,
            redactor,
            transcript: Transcript::default(),
            malformed: 0,
            idle: config.idle_timeout,
            deadline: Box::pin(sleep(config.idle_timeout)),
            heartbeat: Box::pin(sleep(HEARTBEAT)),
            record: Some(record),
            complete: false,
            ended: false,
        }
    }

    /// Takes a chunk of the upstream's body.
    fn receive(&mut self, chunk: &[u8], out: &mut BytesMut) {
        if let Body::Unknown = self.body {
            // An SSE line never opens with a brace; a JSON answer does.
            self.body = match chunk.iter().find(|b| !b.is_ascii_whitespace()) {
                None => return,
                Some(b'{') => Body::Json(BytesMut::new()),
                Some(_) => Body::Events,
            };
        }
        match &mut self.body {
            Body::Json(whole) if whole.len() + chunk.len() > self.max_answer => {
                self.fail(UpstreamError::too_large(self.max_answer), out);
            }
            Body::Json(whole) => whole.extend_from_slice(chunk),
            Body::Events | Body::Unknown => {
                self.splitter.push(chunk);
                self.drain(out);
            }
        }
    }

    /// Handles every whole event received so far.
    fn drain(&mut self, out: &mut BytesMut) {
        loop {
            match self.splitter.next_event() {
                Ok(Some(raw)) => self.event(raw, out),
                Ok(None) => return,
                Err(sse::TooLarge) => {
                    let message = format!(
                        "the provider sent an event larger than the limit of {} bytes",
                        self.max_event
                    );
                    self.fail(UpstreamError::bad_answer(message), out);
                }
            }
            if self.ended {
                return;
            }
        }
    }

    fn event(&mut self, raw: Bytes, out: &mut BytesMut) {
        let raw = self.redactor.bytes(raw);
        let Some(event) = sse::parse(&raw) else {
            return self.malformed(&raw, out);
        };
        if event.data.is_empty() {
            return;
        }
        if event.data == "[DONE]" {
            self.complete = true;
            if !self.encoding {
                out.extend_from_slice(&raw);
            }
            return;
        }
        let Some(read) = self.from.stream_event(&event.data) else {
            return self.malformed(&raw, out);
        };
        if read.last {
            self.complete = true;
        }
        if let Mode::Passthrough { client_wants_usage } = self.mode {
            let error = read.pieces.iter().any(|p| matches!(p, Piece::Error(_)));
            if !error && (client_wants_usage || !read.usage_only) {
                out.extend_from_slice(&raw);
                self.encoder.passed(&event.data);
            }
        }
        self.take(&read.pieces, out);
    }

    /// Records the pieces, and encodes them for the client unless they
    /// were passed through; an error ends the stream.
    fn take(&mut self, pieces: &[Piece], out: &mut BytesMut) {
        for piece in pieces {
            if let Piece::Error(said) = piece {
                return self.fail(UpstreamError::reported(said.clone()), out);
            }
            self.transcript.take(piece);
            if self.encoding {
                self.encoder.piece(piece, out);
            }
        }
    }

    /// An event that cannot be read: passed on as it came where mindgate
    /// only relays (and noted for the chat log), the end of the stream
    /// where it translates.
    fn malformed(&mut self, raw: &[u8], out: &mut BytesMut) {
        if self.encoding {
            self.fail(
                UpstreamError::bad_answer(
                    "the provider's stream is malformed: an event is not what its API sends",
                ),
                out,
            );
        } else {
            self.malformed += 1;
            out.extend_from_slice(raw);
        }
    }

    /// The upstream finished sending: close the client's stream properly,
    /// or with an error when the upstream stopped short.
    fn upstream_ended(&mut self, out: &mut BytesMut) {
        match std::mem::replace(&mut self.body, Body::Events) {
            Body::Json(whole) => self.whole(whole.freeze(), out),
            Body::Events => {
                if let Some(rest) = self.splitter.rest() {
                    self.event(rest, out);
                }
            }
            Body::Unknown => {}
        }
        if self.ended {
            return;
        }
        if !self.complete {
            return self.fail(
                UpstreamError::bad_answer("the provider ended the stream before it was complete"),
                out,
            );
        }
        self.ended = true;
        if self.encoding {
            self.encoder.end(&self.transcript, out);
        }
    }

    /// A whole JSON answer, streamed in the client's protocol.
    fn whole(&mut self, body: Bytes, out: &mut BytesMut) {
        match providers::completion(self.from, &self.redactor.bytes(body)) {
            Ok(completion) => {
                self.encoding = true;
                self.complete = true;
                self.take(&completion.pieces(), out);
            }
            Err(error) => self.fail(error, out),
        }
    }

    fn fail(&mut self, error: UpstreamError, out: &mut BytesMut) {
        self.ended = true;
        self.transcript.error = Some(error.message.clone());
        self.encoder.error(error, out);
    }

    fn finish_record(&mut self, status: ChatStatus) {
        if let Some(record) = self.record.take() {
            if self.malformed > 0 && self.transcript.error.is_none() {
                self.transcript.error = Some(format!(
                    "the provider's stream was malformed: {} event(s) that are not what its API sends were passed on as they came",
                    self.malformed
                ));
            }
            let status = match (&self.transcript.error, status) {
                (Some(_), ChatStatus::Ok) => ChatStatus::Error,
                (_, status) => status,
            };
            // The provider answered: its model worked on the prompt.
            record.finish(Outcome {
                reply: &self.transcript.text,
                tools: &self.transcript.tools,
                tool_chars: self.transcript.tool_chars,
                usage: self.transcript.usage,
                prompt_used: true,
                status,
                error: self.transcript.error.take(),
            });
        }
    }
}

impl Stream for Relay {
    type Item = Result<Bytes, Infallible>;

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
                    this.receive(&chunk, &mut out);
                }
                Poll::Ready(Some(Err(e))) => {
                    log::warn!("upstream stream failed: {e}");
                    this.fail(
                        UpstreamError::broken("the connection to the provider broke"),
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
                    this.fail(UpstreamError::silent(this.idle), &mut out);
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
