//! `/completions`: OpenAI's legacy text completions. The body is read here
//! and the gateway answers it, a chat for each answer asked for.

use actix_web::{web, HttpRequest, HttpResponse};

use super::chat::{caller, respond};
use crate::domain::JsonObject;
use crate::error::ApiError;
use crate::gateway::{Gateway, TextCompletion};

pub async fn create(
    req: HttpRequest,
    body: JsonObject,
    gateway: web::Data<Gateway>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, ApiError> {
    let request = TextCompletion::parse(body)?;
    let answer = request.answer(&gateway, &client, caller(&req)?).await?;
    Ok(respond(answer))
}
