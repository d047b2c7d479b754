//! `/chat/completions` and `/models`: the gateway's face in the API. The
//! request's body and headers are read here, the gateway's core answers,
//! and its answer or error becomes the response here.

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::json;

use super::{header_text, messages, QueryParams};
use crate::auth::AuthenticatedKey;
use crate::db::Db;
use crate::domain::{Email, JsonObject};
use crate::error::ApiError;
use crate::gateway::request::ChatRequest;
use crate::gateway::{chat, Answer, Caller, Catalog, Gateway};
use crate::governance::{Governor, Subject};

pub async fn create(
    req: HttpRequest,
    body: JsonObject,
    gateway: web::Data<Gateway>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    let request = ChatRequest::parse(body)?;
    let answer = gateway.complete(&client, caller(&req)?, request).await?;
    Ok(respond(answer))
}

/// The API key the request came with, and the user its `X-User-Email`
/// names.
pub fn caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    let user_email = header_text(req, "X-User-Email")?
        .map(|raw| {
            Email::parse(raw).map_err(|e| ApiError::invalid_field("X-User-Email", e.message))
        })
        .transpose()?;
    Ok(Caller {
        api_key: req.extensions().get::<AuthenticatedKey>().map(|k| k.id),
        user_email,
    })
}

/// Whom the policies see in a request: the user its `X-User-Email`
/// names (as for completions: 400 for a header that is no address, 403
/// for one no user has) and its key.
pub async fn subject(req: &HttpRequest, governor: &Governor, db: &Db) -> Result<Subject, ApiError> {
    let caller = caller(req)?;
    let needs_tags = governor.rules().needs_tags();
    let (user, _) = chat::find_user_and_character(db, caller.user_email, None, needs_tags).await?;
    Ok(Subject {
        user,
        key: caller.api_key,
    })
}

/// The gateway's answer as a 200: JSON, or events sent as they come.
pub fn respond(answer: Answer) -> HttpResponse {
    match answer {
        Answer::Whole(body) => HttpResponse::Ok()
            .content_type("application/json")
            .body(body),
        Answer::Events(events) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/event-stream"))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header(("x-accel-buffering", "no"))
            .streaming(events),
    }
}

/// Enabled models that can answer now, in OpenAI's list shape (Anthropic's
/// when asked with `anthropic-version`): those open to the user named by
/// `X-User-Email` (else to everyone) and to the key.
pub async fn models(
    req: HttpRequest,
    query: QueryParams,
    catalog: web::Data<Catalog>,
    governor: web::Data<Governor>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    // Checked whatever the shape, which alone reads it.
    let page = messages::ModelPage::parse(&query)?;
    let subject = subject(&req, &governor, &db).await?;
    let snapshot = catalog.snapshot();
    let mut listing = snapshot.listing();
    // What a client would pick from: a model whose provider lacks its key
    // (Claude with no Anthropic key) would only fail.
    listing.retain(|model| {
        snapshot
            .resolve(&model.id)
            .is_ok_and(|resolution| snapshot.can_answer(&resolution))
            && governor.opens_model(&subject, &model.id)
    });
    if messages::wants_anthropic_shape(&req) {
        return Ok(HttpResponse::Ok().json(page.of(&listing)));
    }
    Ok(HttpResponse::Ok().json(json!({
        "object": "list",
        "data": listing,
    })))
}
