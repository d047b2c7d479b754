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

/// Enabled models, in OpenAI's list shape.
pub async fn models(catalog: web::Data<Catalog>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "object": "list",
        "data": catalog.snapshot().listing(),
    }))
}
