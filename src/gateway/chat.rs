//! One chat from start to end, with no HTTP in it: who asks, which
//! character and model, the policy check, the upstream call, and the
//! answer in the client's protocol (whole, or a stream of events) or the
//! error to tell it. The API's edge reads the request and the caller and
//! makes the response.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde_json::Value;

use super::answer::{Completion, Usage};
use super::catalog::{CatalogSnapshot, Resolution, Route};
use super::chat_log::{
    conversation_prefix, default_title, estimate_tokens, prompt_chars, ChatMeta, Outcome,
    PendingChatLog,
};
use super::message::{ChatMessage, Role};
use super::providers::{self, BodyInput, Wire, WireReader};
use super::redact::Redactor;
use super::relay::{Mode, Relay};
use super::request::{ChatRequest, ClientProtocol};
use super::upstream::{self, Response, UpstreamRequest};
use super::upstream_error::UpstreamError;
use super::{echo, Core};
use crate::config::GatewayConfig;
use crate::db::characters::Character;
use crate::db::chat_logs::ChatStatus;
use crate::db::providers::Provider;
use crate::db::usage::Recorded;
use crate::db::{self, Db, StoreError};
use crate::domain::{time_ordered_id, ApiKeyId, Email, InvalidInput, Timestamp};
use crate::governance::{Admission, Member, Refusal, Subject};

/// Who asks, as the API's edge found it.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub api_key: Option<ApiKeyId>,
    /// The user named by `X-User-Email`.
    pub user_email: Option<Email>,
}

/// What a chat gives the client.
pub enum Answer {
    /// A whole answer: its JSON body.
    Whole(Bytes),
    /// Server-sent events, each sent as it comes.
    Events(Events),
}

pub type Events = Pin<Box<dyn Stream<Item = Result<Bytes, Infallible>>>>;

/// Why a chat got no answer. Each is recorded as a chat would be (a
/// refusal in the usage rollups, an upstream failure in its chat log)
/// before it comes back.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The model is missing, unknown or disabled.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("{} is not a user of this instance", .0.as_str())]
    UnknownUser(Email),
    #[error("no AI character with id {0:?}")]
    UnknownCharacter(String),
    /// A policy refused the request.
    #[error("{}", .0.message())]
    Refused(Refusal),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A request checked and routed, its chat record begun.
struct Chat {
    protocol: ClientProtocol,
    stream: bool,
    include_usage: bool,
    /// The model the client asked for (or its character's).
    model: String,
    messages: Vec<ChatMessage>,
    params: serde_json::Map<String, Value>,
    /// The client's own body, and headers, for an upstream of its protocol.
    native: Option<serde_json::Map<String, Value>>,
    native_headers: Vec<(&'static str, String)>,
    /// The AI character's instruction (first in `messages` already).
    instruction: Option<String>,
    /// Why the request cannot be translated, should an upstream that may
    /// serve its protocol turn out not to.
    untranslatable: Option<InvalidInput>,
    /// Provider keys, redacted from what the upstream sends.
    redactor: Arc<Redactor>,
    record: PendingChatLog,
}

impl Core {
    /// Answers `request` for `caller`, through `client` (one per worker).
    pub async fn complete(
        &self,
        client: &awc::Client,
        caller: Caller,
        request: ChatRequest,
    ) -> Result<Answer, ChatError> {
        self.complete_within(client, caller, request, &self.config)
            .await
    }

    /// `complete`, within the limits and timeouts of `config` rather than
    /// the core's: the answers of one request share its size limit.
    pub async fn complete_within(
        &self,
        client: &awc::Client,
        caller: Caller,
        request: ChatRequest,
        config: &GatewayConfig,
    ) -> Result<Answer, ChatError> {
        let (mut chat, route) = self.open_chat(caller, request).await?;
        let (provider, upstream_model) = match route {
            Route::Echo => return Ok(echo_answer(chat)),
            Route::Upstream {
                provider,
                upstream_model,
            } => (provider, upstream_model),
        };
        if let Some((wire, url)) = self.native_endpoint(chat.protocol, &provider, &upstream_model) {
            if let Some(native) = chat.native.take() {
                let body = chat.protocol.api().native_body(
                    native,
                    &upstream_model,
                    chat.instruction.as_deref(),
                );
                let headers = std::mem::take(&mut chat.native_headers);
                let sent = match UpstreamRequest::to(url, provider.clone(), &body) {
                    Ok(prepared) => {
                        let prepared = prepared.with_headers(headers);
                        upstream::send(client, config, &prepared, &chat.redactor).await
                    }
                    Err(error) => Err(error),
                };
                match sent {
                    Ok(response) => return answer(chat, wire, true, response, config).await,
                    Err(error) if error.unserved() => {
                        log::info!(
                            "provider {:?} does not serve {wire:?} for model {upstream_model:?} \
                             ({}): translated for the next hour",
                            provider.id,
                            error.message
                        );
                        self.unserved.remember(&provider.id, &upstream_model, wire);
                        if let Some(refused) = chat.untranslatable.take() {
                            let message = refused.message.clone();
                            finish_error(chat.record, message, false);
                            return Err(refused.into());
                        }
                    }
                    Err(error) => return Err(finish_failed(chat.record, error)),
                }
            }
        }
        let api = providers::api(provider.kind);
        // The client's own body and headers go only to its own protocol.
        let native = chat.protocol.api().wire() == Some(api.wire());
        let headers = if native {
            std::mem::take(&mut chat.native_headers)
        } else {
            Vec::new()
        };
        // The record holds the conversation already: the messages go.
        let body = api.request_body(BodyInput {
            protocol: chat.protocol,
            messages: std::mem::take(&mut chat.messages),
            params: &chat.params,
            model: &upstream_model,
            stream: chat.stream,
            native: chat.native.take().filter(|_| native),
            instruction: chat.instruction.as_deref(),
        });
        let redactor = &chat.redactor;
        let mut sent = send(client, config, &provider, &body, &headers, redactor).await;
        if let Err(error) = &sent {
            if let Some(body) = api.retry_body(error, &body, chat.include_usage) {
                sent = send(client, config, &provider, &body, &headers, redactor).await;
            }
        }
        match sent {
            Ok(response) => answer(chat, api.wire(), native, response, config).await,
            Err(error) => Err(finish_failed(chat.record, error)),
        }
    }

    /// Where `provider` may serve the client's protocol as it was sent
    /// besides its own wire (`ProviderApi::native_url`): that wire and its
    /// URL, unless the provider was found lately not to serve it for the
    /// model.
    fn native_endpoint(
        &self,
        protocol: ClientProtocol,
        provider: &Provider,
        upstream_model: &str,
    ) -> Option<(Wire, String)> {
        let api = providers::api(provider.kind);
        let wire = protocol.api().wire().filter(|wire| *wire != api.wire())?;
        if self.unserved.knows(&provider.id, upstream_model, wire) {
            return None;
        }
        let url = api.native_url(wire, provider.base_url.trim_end_matches('/'))?;
        Some((wire, url))
    }

    /// Who asks, with which character and model, and where that model
    /// leads; the request admitted by the policies (a refusal is recorded).
    async fn open_chat(
        &self,
        caller: Caller,
        request: ChatRequest,
    ) -> Result<(Chat, Route), ChatError> {
        let started = Instant::now();
        let recording = self.recording.now();
        let Resolved {
            subject,
            character,
            model,
            snapshot,
            route,
        } = self
            .resolve(caller, request.character_id, request.model)
            .await?;
        // What only the client's own protocol can answer: refused unless
        // the upstream may serve that protocol (echo never does, but what
        // it can ignore it ignores).
        let mut untranslatable = None;
        match &route {
            Route::Echo => {
                if let Some(refused) = request.native_only {
                    return Err(refused.into());
                }
            }
            Route::Upstream {
                provider,
                upstream_model,
            } => {
                let api = providers::api(provider.kind);
                if request.protocol.api().wire() != Some(api.wire()) {
                    untranslatable = request.native_only.or(request.untranslatable);
                    let elsewhere =
                        self.native_endpoint(request.protocol, provider, upstream_model);
                    if elsewhere.is_none() {
                        if let Some(refused) = untranslatable.take() {
                            return Err(refused.into());
                        }
                    }
                }
            }
        }
        let user_id = subject.user.as_ref().map(|m| m.id);
        let admission = self.admit(
            &subject,
            &model,
            character.as_ref().map(|c| c.id.0.as_str()),
        )?;
        let mut messages = request.messages;
        let instruction = character.as_ref().map(|c| c.instruction.clone());
        if let Some(instruction) = &instruction {
            messages.insert(0, ChatMessage::new(Role::System, instruction.clone()));
        }
        let provider = match &route {
            Route::Echo => None,
            Route::Upstream { provider, .. } => Some(provider.id.clone()),
        };
        let record = PendingChatLog::new(
            self.catalog.clone(),
            self.sink.clone(),
            ChatMeta {
                chat_id: request
                    .chat_id
                    .unwrap_or_else(|| time_ordered_id(Timestamp::now())),
                title: request
                    .chat_title
                    .unwrap_or_else(|| default_title(&messages)),
                prefix: conversation_prefix(&messages),
                prompt_chars: prompt_chars(&messages),
                model: model.clone(),
                provider,
                character_id: character.map(|c| c.id.0),
                user_id,
                api_key_id: subject.key,
                started,
                recording,
                session: request.session,
            },
            admission,
        );
        let chat = Chat {
            protocol: request.protocol,
            stream: request.stream,
            include_usage: request.include_usage,
            model,
            messages,
            params: request.params,
            native: request.native,
            native_headers: request.native_headers,
            instruction,
            untranslatable,
            redactor: snapshot.redactor().clone(),
            record,
        };
        Ok((chat, route))
    }
}

/// Who asks, with which character, and where the model asked (or the
/// character's) leads.
pub(super) struct Resolved {
    pub subject: Subject,
    pub character: Option<Character>,
    /// The model as the catalog names it (`Resolution::model`).
    pub model: String,
    pub snapshot: Arc<CatalogSnapshot>,
    pub route: Route,
}

impl Core {
    /// The request let through by the policies, counted against their
    /// limits; a refusal is recorded as one.
    pub(super) fn admit(
        &self,
        subject: &Subject,
        model: &str,
        character: Option<&str>,
    ) -> Result<Admission, ChatError> {
        self.governor
            .admit(subject, model, character)
            .map_err(|refusal| self.refused(subject, model, refusal))
    }

    /// Whether the policies would let all of `count` chats of `model` for
    /// `caller` through now, counting nothing (several answers to one
    /// request); a refusal is recorded as one, for the request.
    pub(super) async fn admits_all(
        &self,
        caller: Caller,
        model: String,
        count: usize,
    ) -> Result<(), ChatError> {
        let Resolved { subject, model, .. } = self.resolve(caller, None, Some(model)).await?;
        self.governor
            .admits_all(&subject, &model, None, count)
            .map_err(|refusal| self.refused(&subject, &model, refusal))
    }

    /// A refusal, recorded in the usage.
    fn refused(&self, subject: &Subject, model: &str, refusal: Refusal) -> ChatError {
        self.sink.record(Recorded::Refused {
            at: Timestamp::now(),
            user_id: subject.user.as_ref().map(|m| m.id),
            api_key_id: subject.key,
            model: model.to_owned(),
        });
        ChatError::Refused(refusal)
    }

    /// The user named by `X-User-Email` and the API key, the character,
    /// and the model's route.
    pub(super) async fn resolve(
        &self,
        caller: Caller,
        character_id: Option<String>,
        model: Option<String>,
    ) -> Result<Resolved, ChatError> {
        let needs_tags = self.governor.rules().needs_tags();
        let (user, character) =
            find_user_and_character(&self.db, caller.user_email, character_id, needs_tags).await?;
        let snapshot = self.catalog.snapshot();
        let Resolution { model, route } =
            snapshot.resolve(&model_of(model, character.as_ref())?)?;
        Ok(Resolved {
            subject: Subject {
                user,
                key: caller.api_key,
            },
            character,
            model,
            snapshot,
            route,
        })
    }

    /// Counts the input tokens of a Messages request, as Anthropic's
    /// `count_tokens` does: an Anthropic provider's own count, else an
    /// estimate (a token per 4 characters of the prompt and the tools).
    /// Checked as a completion is (user, character, model, policies), but
    /// counted against no limit and recorded nowhere.
    pub async fn count_tokens(
        &self,
        client: &awc::Client,
        caller: Caller,
        mut request: ChatRequest,
    ) -> Result<Bytes, ChatError> {
        let Resolved {
            subject,
            character,
            model,
            snapshot,
            route,
        } = self
            .resolve(caller, request.character_id.take(), request.model.take())
            .await?;
        let character_id = character.as_ref().map(|c| c.id.0.as_str());
        self.governor
            .permits(&subject, &model, character_id)
            .map_err(ChatError::Refused)?;
        let instruction = character.as_ref().map(|c| c.instruction.as_str());
        if let Route::Upstream {
            provider,
            upstream_model,
        } = &route
        {
            let api = providers::api(provider.kind);
            let url = api
                .count_tokens_url(provider.base_url.trim_end_matches('/'))
                .filter(|_| request.protocol.api().wire() == Some(api.wire()));
            if let (Some(url), Some(native)) = (url, request.native.take()) {
                let body = api.request_body(BodyInput {
                    protocol: request.protocol,
                    messages: Vec::new(),
                    params: &request.params,
                    model: upstream_model,
                    stream: false,
                    native: Some(native),
                    instruction,
                });
                let prepared = UpstreamRequest::to(url, provider.clone(), &body)?
                    .with_headers(request.native_headers);
                let redactor = snapshot.redactor();
                let response = upstream::send(client, &self.config, &prepared, redactor).await?;
                return Ok(read_body(response, &self.config, redactor).await?);
            }
        }
        let counted = serde_json::json!({ "input_tokens": estimated_input(&request, instruction) });
        Ok(serde_json::to_vec(&counted)
            .expect("JSON values serialize")
            .into())
    }
}

/// The input tokens of a request, estimated from what it sends: its
/// messages (tool calls too), the character's instruction and the tools.
fn estimated_input(request: &ChatRequest, instruction: Option<&str>) -> i64 {
    let json_chars = |value: &Value| value.to_string().chars().count();
    let tools = request.params.get("tools").map_or(0, json_chars);
    let calls: usize = request
        .messages
        .iter()
        .flat_map(ChatMessage::tool_calls)
        .map(json_chars)
        .sum();
    let instruction = instruction.map_or(0, |text| text.chars().count());
    estimate_tokens(prompt_chars(&request.messages) + instruction + tools + calls)
}

/// The model asked for, else the activated character's default.
fn model_of(model: Option<String>, character: Option<&Character>) -> Result<String, InvalidInput> {
    model
        .or_else(|| character.and_then(|c| c.default_model.clone()))
        .ok_or_else(|| {
            InvalidInput::new(
                "model",
                "`model` is required (or activate an AI character that has a default model)",
            )
        })
}

async fn send(
    client: &awc::Client,
    config: &GatewayConfig,
    provider: &Arc<Provider>,
    body: &Value,
    headers: &[(&'static str, String)],
    redactor: &Redactor,
) -> Result<Response, UpstreamError> {
    let prepared = UpstreamRequest::new(provider.clone(), body)?.with_headers(headers.to_vec());
    upstream::send(client, config, &prepared, redactor).await
}

fn echo_answer(chat: Chat) -> Answer {
    let completion = echo::completion(&chat.messages);
    let protocol = chat.protocol.api();
    let meta = protocol.meta(None, &chat.model);
    let answer = if chat.stream {
        let chunks = echo::chunks(&completion, protocol.encoder(meta, chat.include_usage));
        Answer::Events(Box::pin(futures_util::stream::iter(
            chunks.into_iter().map(Ok),
        )))
    } else {
        whole(&protocol.completion(&meta, &completion))
    };
    // echo's word counts are for its client; its log estimates the tokens
    // by the one rule for every model that reports none.
    finish_ok(chat.record, &completion, Usage::default());
    answer
}

/// The upstream's answer, in `wire`: passed through as it came when that
/// is the client's protocol, translated otherwise.
async fn answer(
    chat: Chat,
    wire: Wire,
    passthrough: bool,
    response: Response,
    config: &GatewayConfig,
) -> Result<Answer, ChatError> {
    if chat.stream {
        return Ok(stream_answer(chat, wire, passthrough, response, config));
    }
    whole_answer(chat, wire, passthrough, response, config).await
}

fn stream_answer(
    chat: Chat,
    wire: Wire,
    passthrough: bool,
    response: Response,
    config: &GatewayConfig,
) -> Answer {
    let protocol = chat.protocol.api();
    let mode = if passthrough {
        Mode::Passthrough {
            client_wants_usage: chat.include_usage,
        }
    } else {
        Mode::Translate
    };
    let encoder = protocol.encoder(protocol.meta(None, &chat.model), chat.include_usage);
    Answer::Events(Box::pin(Relay::new(
        response,
        wire.reader(),
        mode,
        encoder,
        config,
        chat.redactor,
        chat.record,
    )))
}

async fn whole_answer(
    chat: Chat,
    wire: Wire,
    passthrough: bool,
    response: Response,
    config: &GatewayConfig,
) -> Result<Answer, ChatError> {
    let read = read_answer(wire.reader(), response, config, &chat.redactor).await;
    let (body, completion) = match read {
        Ok(read) => read,
        Err(error) => return Err(finish_failed(chat.record, error)),
    };
    finish_ok(chat.record, &completion, completion.usage);
    if passthrough {
        // Same protocol: the provider's answer as it came.
        return Ok(Answer::Whole(body));
    }
    let protocol = chat.protocol.api();
    let meta = protocol.meta(completion.id.as_deref(), &chat.model);
    Ok(whole(&protocol.completion(&meta, &completion)))
}

fn whole(body: &Value) -> Answer {
    Answer::Whole(
        serde_json::to_vec(body)
            .expect("JSON values serialize")
            .into(),
    )
}

/// A whole answer, as it came (keys redacted) and as read. The idle
/// timeout bounds each silence between two chunks, not the whole read: a
/// long answer may take its time while it keeps coming.
async fn read_answer(
    api: &dyn WireReader,
    response: Response,
    config: &GatewayConfig,
    redactor: &Redactor,
) -> Result<(Bytes, Completion), UpstreamError> {
    let body = read_body(response, config, redactor).await?;
    let completion = providers::completion(api, &body)?;
    Ok((body, completion))
}

/// A whole answer's body, as it came (keys redacted).
pub(super) async fn read_body(
    mut response: Response,
    config: &GatewayConfig,
    redactor: &Redactor,
) -> Result<Bytes, UpstreamError> {
    let limit = config.max_answer_bytes;
    let mut body = BytesMut::new();
    loop {
        let chunk = actix_web::rt::time::timeout(config.idle_timeout, response.next())
            .await
            .map_err(|_| UpstreamError::silent(config.idle_timeout))?;
        match chunk {
            None => break,
            Some(Ok(chunk)) if body.len() + chunk.len() > limit => {
                return Err(UpstreamError::too_large(limit))
            }
            Some(Ok(chunk)) => body.extend_from_slice(&chunk),
            Some(Err(e)) => {
                return Err(UpstreamError::broken(format!(
                    "cannot read the provider's answer: {e}"
                )))
            }
        }
    }
    Ok(redactor.bytes(body.freeze()))
}

/// The user named by `X-User-Email` (with their tags, when a policy
/// needs them) and the activated character, in one database read (none
/// when neither is asked for).
pub async fn find_user_and_character(
    db: &Db,
    email: Option<Email>,
    character_id: Option<String>,
    with_tags: bool,
) -> Result<(Option<Member>, Option<Character>), ChatError> {
    if email.is_none() && character_id.is_none() {
        return Ok((None, None));
    }
    db.read_on_worker(move |conn| {
        let user = match email {
            None => None,
            Some(email) => {
                let found = if with_tags {
                    db::users::with_tags_by_email(conn, &email)?
                } else {
                    db::users::id_by_email(conn, &email)?.map(|id| (id, Vec::new()))
                };
                let Some((id, tags)) = found else {
                    return Err(ChatError::UnknownUser(email));
                };
                Some(Member { id, tags })
            }
        };
        let character = match character_id {
            None => None,
            Some(id) => match db::characters::get(conn, &id)? {
                Some(character) => Some(character),
                None => return Err(ChatError::UnknownCharacter(id)),
            },
        };
        Ok((user, character))
    })
    .await
}

fn finish_ok(record: PendingChatLog, completion: &Completion, usage: Usage) {
    record.finish(Outcome {
        reply: &completion.text,
        tools: &completion.tool_names(),
        tool_chars: completion.tool_chars(),
        usage,
        prompt_used: true,
        status: ChatStatus::Ok,
        error: None,
    });
}

/// Records a completion that failed before the client got anything.
pub(super) fn finish_failed(record: PendingChatLog, error: UpstreamError) -> ChatError {
    finish_error(record, error.message.clone(), error.prompt_used());
    error.into()
}

/// Records a completion that ended in an error before the client got
/// anything.
fn finish_error(record: PendingChatLog, message: String, prompt_used: bool) {
    record.finish(Outcome {
        reply: "",
        tools: &[],
        tool_chars: 0,
        usage: Usage::default(),
        prompt_used,
        status: ChatStatus::Error,
        error: Some(message),
    });
}
