//! `POST /chat/completions` from start to end: who asks, which character
//! and model, the upstream call, and the answer in the client's style.

use std::time::Instant;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use serde_json::{json, Value};

use super::catalog::Route;
use super::completion::Completion;
use super::record::{ChatMeta, ChatRecord, Outcome};
use super::relay::{Mode, Relay};
use super::render::{self, Encoder, Header};
use super::request::{conversation_prefix, default_title, ChatRequest, Style};
use super::upstream::{self, Prepared};
use super::{anthropic, echo, openai, Gateway};
use crate::db::characters::Character;
use crate::db::chat_logs::ChatStatus;
use crate::db::providers::ProviderKind;
use crate::db::{self, Db};
use crate::domain::{random_base62, ApiKeyId, Email, UserId};
use crate::error::{ApiError, ErrorKind};

/// Largest whole (non-streamed) upstream answer read.
const ANSWER_LIMIT: usize = 64 << 20;

/// The caller, as the auth middleware and headers say.
pub struct Caller {
    pub api_key: Option<ApiKeyId>,
    /// The `X-User-Email` header.
    pub user_email: Option<HeaderValue>,
}

pub async fn complete(
    gateway: web::Data<Gateway>,
    db: &Db,
    client: &awc::Client,
    caller: Caller,
    request: ChatRequest,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let (user_id, character) =
        lookups(db, caller.user_email.as_ref(), request.character_id.clone()).await?;
    let model = request
        .model
        .clone()
        .or_else(|| character.as_ref().and_then(|c| c.default_model.clone()))
        .ok_or_else(|| {
            ApiError::invalid_field(
                "model",
                "`model` is required (or activate an AI character that has a default model)",
            )
        })?;
    let route = gateway.catalog.snapshot().resolve(&model)?;
    let mut messages = request.messages;
    if let Some(character) = &character {
        messages.insert(
            0,
            json!({ "role": "system", "content": character.instruction }),
        );
    }
    let provider_id = match &route {
        Route::Echo => None,
        Route::Upstream { provider, .. } => Some(provider.id.clone()),
    };
    let record = ChatRecord::new(
        gateway.clone(),
        ChatMeta {
            chat_id: request.chat_id.unwrap_or_else(|| random_base62(10)),
            title: request
                .chat_title
                .unwrap_or_else(|| default_title(&messages)),
            prefix: conversation_prefix(&messages),
            model: model.clone(),
            provider: provider_id,
            character_id: character.map(|c| c.id.0),
            user_id,
            api_key_id: caller.api_key,
            started,
        },
    );
    let style = request.style;
    let (provider, upstream_model) = match route {
        Route::Echo => {
            let completion = echo::completion(&messages);
            let header = Header::new(style, None, &model);
            let response = if request.stream {
                let chunks = echo::chunks(&completion, style, header, request.include_usage);
                event_stream().streaming(futures_util::stream::iter(
                    chunks.into_iter().map(Ok::<_, actix_web::Error>),
                ))
            } else {
                HttpResponse::Ok().json(render::completion(style, &header, &completion))
            };
            finish_ok(record, &completion);
            return Ok(response);
        }
        Route::Upstream {
            provider,
            upstream_model,
        } => (provider, upstream_model),
    };
    let kind = provider.kind;
    let body = match kind {
        ProviderKind::OpenAi => {
            openai::request_body(messages, &request.params, &upstream_model, request.stream)
        }
        ProviderKind::Anthropic => {
            anthropic::request_body(&messages, &request.params, &upstream_model, request.stream)
        }
    };
    let config = &gateway.config;
    let sent = match Prepared::new(provider, &body) {
        Ok(prepared) => upstream::send(client, config, &prepared).await,
        Err(e) => Err(e),
    };
    let mut response = match sent {
        Ok(response) => response,
        Err(error) => return Err(finish_failed(record, error)),
    };
    if request.stream {
        let mode = match (style, kind) {
            (Style::Messages, ProviderKind::OpenAi) => Mode::Passthrough {
                client_wants_usage: request.include_usage,
            },
            (style, from) => Mode::Translate {
                from,
                encoder: Box::new(Encoder::new(
                    style,
                    Header::new(style, None, &model),
                    request.include_usage,
                )),
            },
        };
        let relay = Relay::new(response, mode, style, config.idle_timeout, record);
        return Ok(event_stream().streaming(relay));
    }
    let read =
        actix_web::rt::time::timeout(config.idle_timeout, response.body().limit(ANSWER_LIMIT));
    let body: Bytes = match read.await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => {
            let error = ApiError::new(
                ErrorKind::Upstream,
                format!("cannot read the provider's answer: {e}"),
            );
            return Err(finish_failed(record, error));
        }
        Err(_) => {
            let error = ApiError::new(
                ErrorKind::UpstreamTimeout,
                "the provider stopped sending its answer",
            );
            return Err(finish_failed(record, error));
        }
    };
    let completion = match kind {
        ProviderKind::OpenAi => openai::completion(&body),
        ProviderKind::Anthropic => {
            serde_json::from_slice::<Value>(&body).map(|value| anthropic::completion(&value))
        }
    };
    let completion = match completion {
        Ok(completion) => completion,
        Err(e) => {
            let error = ApiError::new(
                ErrorKind::Upstream,
                format!("the provider's answer is not what its API returns: {e}"),
            );
            return Err(finish_failed(record, error));
        }
    };
    finish_ok(record, &completion);
    if style == Style::Messages && kind == ProviderKind::OpenAi {
        // Same protocol: the provider's answer as it came.
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(body));
    }
    let header = Header::new(
        style,
        completion
            .id
            .as_deref()
            .filter(|_| style == Style::Messages),
        &model,
    );
    Ok(HttpResponse::Ok().json(render::completion(style, &header, &completion)))
}

/// The user named by `X-User-Email` and the activated character, in one
/// database read (none when neither is asked for).
async fn lookups(
    db: &Db,
    user_email: Option<&HeaderValue>,
    character_id: Option<String>,
) -> Result<(Option<UserId>, Option<Character>), ApiError> {
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
    db.read_quick(move |conn| {
        let user = match &email {
            None => None,
            Some(email) => Some(db::users::id_by_email(conn, email)?.ok_or_else(|| {
                ApiError::forbidden(format!("{} is not a user of this instance", email.as_str()))
            })?),
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

fn finish_ok(record: ChatRecord, completion: &Completion) {
    record.finish(Outcome {
        reply: &completion.text,
        usage: completion.usage,
        status: ChatStatus::Ok,
        error: None,
    });
}

/// Records a completion that failed before the client got anything.
fn finish_failed(record: ChatRecord, error: ApiError) -> ApiError {
    record.finish(Outcome {
        reply: "",
        usage: Default::default(),
        status: ChatStatus::Error,
        error: Some(error.message.clone()),
    });
    error
}
