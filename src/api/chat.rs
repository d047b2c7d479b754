//! `/chat/completions` and `/models`: the gateway's face in the API.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::json;

use crate::auth::AuthenticatedKey;
use crate::db::Db;
use crate::domain::JsonObject;
use crate::error::ApiError;
use crate::gateway::chat::{self, Caller};
use crate::gateway::request::ChatRequest;
use crate::gateway::{Catalog, Gateway};
use crate::governance::{Governor, Subject};

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
    // As for completions: 400 for a header that is no address, 403 for
    // one no user has.
    let email = req.headers().get("x-user-email");
    let (user, _) =
        chat::find_user_and_character(&db, email, None, governor.rules().needs_tags()).await?;
    let subject = Subject {
        user,
        key: req.extensions().get::<AuthenticatedKey>().map(|k| k.id),
    };
    let mut listing = catalog.snapshot().listing();
    listing.retain(|model| governor.opens_model(&subject, &model.id));
    Ok(HttpResponse::Ok().json(json!({
        "object": "list",
        "data": listing,
    })))
}
