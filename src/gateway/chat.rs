//! `POST /chat/completions` from start to end: who asks, which character
//! and model, the upstream call, and the answer in the client's protocol.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;

use super::answer::{Completion, Usage};
use super::catalog::Route;
use super::chat_log::{
    conversation_prefix, default_title, prompt_chars, ChatMeta, Outcome, PendingChatLog,
};
use super::message::{ChatMessage, Role};
use super::redact::Redactor;
use super::relay::{Mode, Relay};
use super::render::{self, AnswerMeta, Encoder};
use super::request::{ChatRequest, ClientProtocol};
use super::upstream::{self, Response, UpstreamRequest};
use super::upstream_error::UpstreamError;
use super::{anthropic, echo, openai, Gateway};
use crate::config::GatewayConfig;
use crate::db::characters::Character;
use crate::db::chat_logs::ChatStatus;
use crate::db::providers::{Provider, ProviderKind};
use crate::db::usage::Recorded;
use crate::db::{self, Db};
use crate::domain::{time_ordered_id, ApiKeyId, Email, Timestamp};
use crate::error::ApiError;
use crate::governance::{Member, Subject};

/// The caller, as the auth middleware and headers say.
pub struct Caller {
    pub api_key: Option<ApiKeyId>,
    /// The `X-User-Email` header.
    pub user_email: Option<HeaderValue>,
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
    /// Provider keys, redacted from what the upstream sends.
    redactor: Arc<Redactor>,
    record: PendingChatLog,
}

pub async fn complete(
    gateway: web::Data<Gateway>,
    db: &Db,
    client: &awc::Client,
    caller: Caller,
    request: ChatRequest,
) -> Result<HttpResponse, ApiError> {
    let (mut chat, route) = open_chat(&gateway, db, caller, request).await?;
    match route {
        Route::Echo => Ok(echo_answer(chat)),
        Route::Upstream {
            provider,
            upstream_model,
        } => {
            let kind = provider.kind;
            // The record holds the conversation already: the messages go.
            let messages = std::mem::take(&mut chat.messages);
            let body = match kind {
                ProviderKind::OpenAi => openai::request_body(
                    chat.protocol,
                    messages,
                    &chat.params,
                    &upstream_model,
                    chat.stream,
                ),
                ProviderKind::Anthropic => {
                    anthropic::request_body(&messages, &chat.params, &upstream_model, chat.stream)
                }
            };
            let config = &gateway.config;
            let mut sent = send(client, config, &provider, &body, &chat.redactor).await;
            if let Err(error) = &sent {
                // Some OpenAI-compatible servers refuse the usage option
                // mindgate adds: ask again without it.
                if error.refuses_param("stream_options") && !chat.include_usage {
                    let mut body = body;
                    if let Some(fields) = body.as_object_mut() {
                        fields.remove("stream_options");
                    }
                    sent = send(client, config, &provider, &body, &chat.redactor).await;
                }
            }
            let response = match sent {
                Ok(response) => response,
                Err(error) => return Err(finish_failed(chat.record, error)),
            };
            if chat.stream {
                return Ok(stream_answer(chat, kind, response, config));
            }
            whole_answer(chat, kind, response, config).await
        }
    }
}

async fn send(
    client: &awc::Client,
    config: &GatewayConfig,
    provider: &Arc<Provider>,
    body: &Value,
    redactor: &Redactor,
) -> Result<Response, UpstreamError> {
    let prepared = UpstreamRequest::new(provider.clone(), body)?;
    upstream::send(client, config, &prepared, redactor).await
}

/// Who asks, with which character and model, and where that model leads.
async fn open_chat(
    gateway: &web::Data<Gateway>,
    db: &Db,
    caller: Caller,
    request: ChatRequest,
) -> Result<(Chat, Route), ApiError> {
    let started = Instant::now();
    let governor = &gateway.governor;
    let (user, character) = find_user_and_character(
        db,
        caller.user_email.as_ref(),
        request.character_id.clone(),
        governor.rules().needs_tags(),
    )
    .await?;
    let model = request
        .model
        .or_else(|| character.as_ref().and_then(|c| c.default_model.clone()))
        .ok_or_else(|| {
            ApiError::invalid_field(
                "model",
                "`model` is required (or activate an AI character that has a default model)",
            )
        })?;
    let snapshot = gateway.catalog.snapshot();
    let route = snapshot.resolve(&model)?;
    let subject = Subject {
        user,
        key: caller.api_key,
    };
    let user_id = subject.user.as_ref().map(|m| m.id);
    let admission = governor
        .admit(
            &subject,
            &model,
            character.as_ref().map(|c| c.id.0.as_str()),
        )
        .map_err(|refusal| {
            gateway.chat_log_writer.record(Recorded::Refused {
                at: Timestamp::now(),
                user_id,
                api_key_id: caller.api_key,
                model: model.clone(),
            });
            ApiError::from(refusal)
        })?;
    let mut messages = request.messages;
    if let Some(character) = &character {
        messages.insert(
            0,
            ChatMessage::new(Role::System, character.instruction.clone()),
        );
    }
    let provider = match &route {
        Route::Echo => None,
        Route::Upstream { provider, .. } => Some(provider.id.clone()),
    };
    let record = PendingChatLog::new(
        gateway.clone(),
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
            api_key_id: caller.api_key,
            started,
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
        redactor: snapshot.redactor().clone(),
        record,
    };
    Ok((chat, route))
}

fn echo_answer(chat: Chat) -> HttpResponse {
    let completion = echo::completion(&chat.messages);
    let meta = AnswerMeta::new(chat.protocol, None, &chat.model);
    let response = if chat.stream {
        let chunks = echo::chunks(&completion, chat.protocol, meta, chat.include_usage);
        event_stream().streaming(futures_util::stream::iter(
            chunks.into_iter().map(Ok::<_, actix_web::Error>),
        ))
    } else {
        HttpResponse::Ok().json(render::completion(chat.protocol, &meta, &completion))
    };
    // echo's word counts are for its client; its log estimates the tokens
    // by the one rule for every model that reports none.
    finish_ok(chat.record, &completion, Usage::default());
    response
}

fn stream_answer(
    chat: Chat,
    kind: ProviderKind,
    response: Response,
    config: &GatewayConfig,
) -> HttpResponse {
    let mode = match (chat.protocol, kind) {
        (ClientProtocol::OpenAiChat, ProviderKind::OpenAi) => Mode::Passthrough {
            client_wants_usage: chat.include_usage,
        },
        _ => Mode::Translate,
    };
    let encoder = Encoder::new(
        chat.protocol,
        AnswerMeta::new(chat.protocol, None, &chat.model),
        chat.include_usage,
    );
    event_stream().streaming(Relay::new(
        response,
        kind,
        mode,
        encoder,
        config,
        chat.redactor,
        chat.record,
    ))
}

async fn whole_answer(
    chat: Chat,
    kind: ProviderKind,
    response: Response,
    config: &GatewayConfig,
) -> Result<HttpResponse, ApiError> {
    let (body, completion) = match read_answer(kind, response, config, &chat.redactor).await {
        Ok(read) => read,
        Err(error) => return Err(finish_failed(chat.record, error)),
    };
    finish_ok(chat.record, &completion, completion.usage);
    if chat.protocol == ClientProtocol::OpenAiChat && kind == ProviderKind::OpenAi {
        // Same protocol: the provider's answer as it came.
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(body));
    }
    let upstream_id = completion
        .id
        .as_deref()
        .filter(|_| chat.protocol == ClientProtocol::OpenAiChat);
    let meta = AnswerMeta::new(chat.protocol, upstream_id, &chat.model);
    Ok(HttpResponse::Ok().json(render::completion(chat.protocol, &meta, &completion)))
}

/// A whole answer, as it came (keys redacted) and as read. The idle
/// timeout bounds each silence between two chunks, not the whole read: a
/// long answer may take its time while it keeps coming.
async fn read_answer(
    kind: ProviderKind,
    mut response: Response,
    config: &GatewayConfig,
    redactor: &Redactor,
) -> Result<(Bytes, Completion), UpstreamError> {
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
    let body = redactor.bytes(body.freeze());
    let completion = upstream::completion(kind, &body)?;
    Ok((body, completion))
}

/// The user named by `X-User-Email` (with their tags, when a policy
/// needs them) and the activated character, in one database read (none
/// when neither is asked for).
pub async fn find_user_and_character(
    db: &Db,
    user_email: Option<&HeaderValue>,
    character_id: Option<String>,
    with_tags: bool,
) -> Result<(Option<Member>, Option<Character>), ApiError> {
    let email = match user_email {
        None => None,
        Some(value) => {
            let raw = value.to_str().map_err(|_| {
                ApiError::invalid_field(
                    "X-User-Email",
                    "the X-User-Email header must be plain text",
                )
            })?;
            Some(
                Email::parse(raw)
                    .map_err(|e| ApiError::invalid_field("X-User-Email", e.message))?,
            )
        }
    };
    if email.is_none() && character_id.is_none() {
        return Ok((None, None));
    }
    db.read_on_worker(move |conn| {
        let user = match &email {
            None => None,
            Some(email) => {
                let id = db::users::id_by_email(conn, email)?.ok_or_else(|| {
                    ApiError::forbidden(format!(
                        "{} is not a user of this instance",
                        email.as_str()
                    ))
                    .with_param("X-User-Email")
                })?;
                let tags = if with_tags {
                    db::users::tags_of(conn, id)?
                } else {
                    Vec::new()
                };
                Some(Member { id, tags })
            }
        };
        let character = match &character_id {
            None => None,
            Some(id) => Some(db::characters::get(conn, id)?.ok_or_else(|| {
                ApiError::not_found(format!("no AI character with id {id:?}"))
                    .with_param("activatedCharacterID")
            })?),
        };
        Ok((user, character))
    })
    .await
}

fn event_stream() -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::Ok();
    builder
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"));
    builder
}

fn finish_ok(record: PendingChatLog, completion: &Completion, usage: Usage) {
    record.finish(Outcome {
        reply: &completion.text,
        tool_chars: completion.tool_chars(),
        usage,
        prompt_used: true,
        status: ChatStatus::Ok,
        error: None,
    });
}

/// Records a completion that failed before the client got anything.
fn finish_failed(record: PendingChatLog, error: UpstreamError) -> ApiError {
    record.finish(Outcome {
        reply: "",
        tool_chars: 0,
        usage: Usage::default(),
        prompt_used: error.prompt_used(),
        status: ChatStatus::Error,
        error: Some(error.message.clone()),
    });
    error.into()
}
