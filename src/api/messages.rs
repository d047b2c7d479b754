//! `/messages` and `/messages/count_tokens`: Anthropic's Messages API, the
//! gateway's third face, for the Anthropic SDKs and Claude Code. The body
//! and headers are read here, the gateway's core answers; every error of
//! these routes is in Anthropic's envelope, and a provider's own error in
//! that envelope comes back as it was sent. `/models` answers in
//! Anthropic's list shape to a request with `anthropic-version`.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::Value;

use super::chat::{caller, respond};
use super::{bounded_param, QueryParams};
use crate::domain::{JsonObject, Timestamp};
use crate::error::ApiError;
use crate::gateway::catalog::ModelEntry;
use crate::gateway::request::ChatRequest;
use crate::gateway::{ChatError, Endpoint, Failure, Gateway, MessagesHeaders, UpstreamError};

/// The names of the routes that answer in Anthropic's shape.
pub const MESSAGES: &str = "anthropic-messages";
pub const COUNT_TOKENS: &str = "anthropic-count-tokens";
pub const MODELS: &str = "models";
pub const MODEL: &str = "model";

/// The header Anthropic's clients send with every request.
const VERSION: &str = "anthropic-version";

pub async fn create(
    req: HttpRequest,
    body: JsonObject,
    gateway: web::Data<Gateway>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    let request = ChatRequest::from_messages_api(body, headers(&req)?, Endpoint::Messages)?;
    match gateway.complete(&client, caller(&req)?, request).await {
        Ok(answer) => Ok(respond(answer)),
        Err(error) => failed(error),
    }
}

pub async fn count_tokens(
    req: HttpRequest,
    body: JsonObject,
    gateway: web::Data<Gateway>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    let request = ChatRequest::from_messages_api(body, headers(&req)?, Endpoint::CountTokens)?;
    match gateway.count_tokens(&client, caller(&req)?, request).await {
        Ok(counted) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(counted)),
        Err(error) => failed(error),
    }
}

/// What the headers of a Messages request add to its body.
fn headers(req: &HttpRequest) -> Result<MessagesHeaders, ApiError> {
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        let values: Vec<&str> = req
            .headers()
            .get_all(name)
            .map(|value| {
                value.to_str().map_err(|_| {
                    ApiError::invalid_field(name, format!("the {name} header must be plain text"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok((!values.is_empty()).then(|| values.join(",")))
    };
    let mut forwarded = Vec::new();
    for name in [VERSION, "anthropic-beta"] {
        if let Some(value) = text(name)? {
            forwarded.push((name, value));
        }
    }
    Ok(MessagesHeaders {
        character_id: text("x-character-id")?,
        session_id: text("x-claude-code-session-id")?,
        forwarded,
    })
}

/// An Anthropic provider's error comes back as it sent it, with its status
/// (clients such as Claude Code recover by matching its text), but for a
/// 401 or 403, which is about the instance's key, not the caller's; any
/// other error is mindgate's, in its envelope.
fn failed(error: ChatError) -> Result<HttpResponse, ApiError> {
    if let ChatError::Upstream(upstream) = &error {
        if let Some((status, body)) = as_sent(upstream) {
            let mut response = ApiError::from(upstream.clone()).response(status);
            return Ok(response.content_type("application/json").body(body));
        }
    }
    Err(error.into())
}

/// The status and body of a provider's error in Anthropic's envelope.
fn as_sent(error: &UpstreamError) -> Option<(StatusCode, bytes::Bytes)> {
    let Failure::Refused(said) = &error.failure else {
        return None;
    };
    let status = said.status?;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return None;
    }
    let envelope: Value = serde_json::from_slice(&said.body).ok()?;
    let anthropic = envelope["type"] == "error" && envelope["error"]["message"].is_string();
    anthropic.then(|| (status, said.body.clone()))
}

/// Middleware: on the Messages routes (and `/models` and `/models/{name}`
/// asked with `anthropic-version`), mindgate's errors in Anthropic's envelope, those
/// of the key check and the body included.
pub async fn anthropic_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let anthropic = match req.request().match_name() {
        Some(MESSAGES | COUNT_TOKENS) => true,
        Some(MODELS | MODEL) => req.headers().contains_key(VERSION),
        _ => false,
    };
    let res = next.call(req).await?;
    let error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>());
    match error {
        Some(error) if anthropic => {
            let mut response = error.anthropic_response();
            // The headers set beside the error (a 405's `Allow`) stay.
            for (name, value) in res.headers() {
                if !response.headers().contains_key(name) {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
            }
            Ok(res.into_response(response).map_into_right_body())
        }
        _ => Ok(res.map_into_left_body()),
    }
}

/// Whether `/models` is asked in Anthropic's shape.
pub fn wants_anthropic_shape(req: &HttpRequest) -> bool {
    req.headers().contains_key(VERSION)
}

/// A model in Anthropic's shape.
#[derive(Serialize)]
pub struct AnthropicModel<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    display_name: &'a str,
    created_at: String,
}

impl<'a> From<&'a ModelEntry> for AnthropicModel<'a> {
    fn from(model: &'a ModelEntry) -> AnthropicModel<'a> {
        AnthropicModel {
            kind: "model",
            id: &model.id,
            display_name: &model.id,
            created_at: Timestamp(model.created * 1000).to_iso(),
        }
    }
}

/// A page of models in Anthropic's list shape: all of them, or `limit`,
/// the first or those after `after_id` or before `before_id`, in the order
/// of their ids (so any id, listed or not, marks a place).
pub struct ModelPage<'a> {
    limit: Option<usize>,
    after_id: Option<&'a str>,
    before_id: Option<&'a str>,
}

impl<'a> ModelPage<'a> {
    pub fn parse(query: &'a QueryParams) -> Result<ModelPage<'a>, ApiError> {
        Ok(ModelPage {
            limit: bounded_param("limit", query.get("limit"), 1, 1000)?.map(|n| n as usize),
            after_id: query.get("after_id"),
            before_id: query.get("before_id"),
        })
    }

    pub fn of(&self, listing: &[ModelEntry]) -> Value {
        let limit = self.limit.unwrap_or(listing.len());
        let (from, to, has_more) = match (self.after_id, self.before_id) {
            (None, Some(before)) => {
                let to = listing.partition_point(|m| m.id.as_str() < before);
                let from = to.saturating_sub(limit);
                (from, to, from > 0)
            }
            (after, _) => {
                let from = after.map_or(0, |after| {
                    listing.partition_point(|m| m.id.as_str() <= after)
                });
                let to = (from + limit).min(listing.len());
                (from, to, to < listing.len())
            }
        };
        let page = &listing[from..to];
        let data: Vec<AnthropicModel> = page.iter().map(AnthropicModel::from).collect();
        serde_json::json!({
            "data": data,
            "has_more": has_more,
            "first_id": page.first().map(|m| &m.id),
            "last_id": page.last().map(|m| &m.id),
        })
    }
}
