//! `/responses`: OpenAI's Responses API, for the OpenAI SDKs' `responses`
//! calls and the agents built on them. The body and the `X-Character-ID`
//! header are read here, the gateway's core answers; errors are in
//! OpenAI's envelope, as for chat completions.

use actix_web::{web, HttpRequest, HttpResponse};

use super::chat::{caller, respond};
use super::header_text;
use crate::domain::JsonObject;
use crate::error::ApiError;
use crate::gateway::request::ChatRequest;
use crate::gateway::Gateway;

pub async fn create(
    req: HttpRequest,
    body: JsonObject,
    gateway: web::Data<Gateway>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    let character_id = header_text(&req, "X-Character-ID")?.map(str::to_owned);
    let request = ChatRequest::from_responses_api(body, character_id)?;
    let answer = gateway.complete(&client, caller(&req)?, request).await?;
    Ok(respond(answer))
}
