//! `/chat/completions` and `/models`: the gateway's face in the API.

use actix_web::http::header::HeaderValue;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::json;

use crate::auth::AuthenticatedKey;
use crate::db::{self, Db};
use crate::domain::{Email, JsonObject};
use crate::error::ApiError;
use crate::gateway::chat::{self, Caller};
use crate::gateway::request::ChatRequest;
use crate::gateway::{Catalog, Gateway};
use crate::governance::{Governor, Member, Subject};

pub async fn create(
    req: HttpRequest,
    body: JsonObject,
    gateway: web::Data<Gateway>,
    db: web::Data<Db>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    let request = ChatRequest::parse(body)?;
    let caller = Caller {
        api_key: req.extensions().get::<AuthenticatedKey>().map(|k| k.id),
        user_email: req.headers().get("x-user-email").cloned(),
    };
    chat::complete(gateway, &db, &client, caller, request).await
}

/// Enabled models, in OpenAI's list shape: those open to the user named
/// by `X-User-Email` (else to everyone) and to the key.
pub async fn models(
    req: HttpRequest,
    catalog: web::Data<Catalog>,
    governor: web::Data<Governor>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let subject = Subject {
        user: member(&db, req.headers().get("x-user-email")).await?,
        key: req.extensions().get::<AuthenticatedKey>().map(|k| k.id),
    };
    let mut listing = catalog.snapshot().listing();
    listing.retain(|model| governor.opens_model(&subject, &model.id));
    Ok(HttpResponse::Ok().json(json!({
        "object": "list",
        "data": listing,
    })))
}

/// The user `X-User-Email` names, with their tags: 400 for a header that
/// is no address, 403 for one no user has (as for completions).
async fn member(db: &Db, header: Option<&HeaderValue>) -> Result<Option<Member>, ApiError> {
    let Some(value) = header else { return Ok(None) };
    let raw = value.to_str().map_err(|_| {
        ApiError::invalid_field("X-User-Email", "the X-User-Email header must be plain text")
    })?;
    let email =
        Email::parse(raw).map_err(|e| ApiError::invalid_field("X-User-Email", e.message))?;
    db.read_on_worker(move |conn| {
        let user = db::users::id_by_email(conn, &email)?
            .map(|id| db::users::get(conn, id))
            .transpose()?
            .flatten()
            .ok_or_else(|| {
                ApiError::forbidden(format!("{} is not a user of this instance", email.as_str()))
            })?;
        Ok(Some(Member {
            id: user.id,
            tags: user.tags.as_slice().to_vec(),
        }))
    })
    .await
}
