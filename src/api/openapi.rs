//! `GET /api/v1/openapi.json`: this server's own OpenAPI document, public.

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;

const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(DOCUMENT)
}
