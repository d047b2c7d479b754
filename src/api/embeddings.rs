//! `POST /embeddings`: OpenAI's embeddings API. The body and the caller
//! are read here; the gateway's core answers.

use actix_web::{web, HttpRequest, HttpResponse};

use super::chat::{caller, respond};
use crate::domain::JsonObject;
use crate::error::ApiError;
use crate::gateway::embeddings::EmbeddingsRequest;
use crate::gateway::{Answer, Gateway};

pub async fn create(
    req: HttpRequest,
    body: JsonObject,
    gateway: web::Data<Gateway>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    let request = EmbeddingsRequest::parse(body)?;
    let answer = gateway.embed(&client, caller(&req)?, request).await?;
    Ok(respond(Answer::Whole(answer)))
}
