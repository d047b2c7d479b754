//! The REST API under `/api/v1`: one module per resource. Every route is
//! listed here.

mod characters;
mod chat;
mod chatlogs;
mod completions;
mod embeddings;
mod limits;
mod messages;
mod models;
mod openapi;
mod policies;
mod responses;
mod tags;
mod usage;
mod users;

use std::future::{ready, Ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{HttpServiceFactory, Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::auth::{require_api_key, AuthenticatedKey};
use crate::domain::{InvalidInput, KeyScope};
use crate::error::ApiError;
use crate::http::BodyLimit;

/// Mounts the API at `/api/v1`, and the same routes again at `/v1` (for
/// clients given a bare host, such as `OPENAI_BASE_URL=http://host/v1`):
/// the public OpenAPI document, then everything else behind an API key; a
/// `chat` key reaches only the chat routes. Chat and text completions, messages,
/// responses and embeddings take bodies up to `completion_body_limit`. Pages on `cors_origins` may
/// call it from a browser.
pub fn mount(cfg: &mut web::ServiceConfig, completion_body_limit: usize, cors_origins: &[String]) {
    cfg.service(
        web::scope("/api")
            .wrap(crate::http::cors(cors_origins))
            .wrap(from_fn(crate::http::cors_errors_as_json))
            .service(v1(completion_body_limit))
            .default_service(web::to(not_found)),
    );
    cfg.service(
        v1(completion_body_limit)
            .wrap(crate::http::cors(cors_origins))
            .wrap(from_fn(crate::http::cors_errors_as_json)),
    );
}

/// Every route of the API, under `/v1`.
fn v1(completion_body_limit: usize) -> actix_web::Scope {
    web::scope("/v1")
        .service(resource("/openapi.json", "GET, HEAD").get(openapi::document))
        .service(
            web::scope("")
                .wrap(from_fn(require_api_key))
                .wrap(from_fn(messages::anthropic_errors))
                // What a chat key may call (CHAT_ROUTES): the rest
                // is `admin(...)`, refused to it with a 403.
                .service(
                    resource("/chat/completions", "POST")
                        .app_data(BodyLimit(completion_body_limit))
                        .post(chat::create),
                )
                .service(
                    resource("/completions", "POST")
                        .app_data(BodyLimit(completion_body_limit))
                        .post(completions::create),
                )
                .service(
                    resource("/messages", "POST")
                        .name(messages::MESSAGES)
                        .app_data(BodyLimit(completion_body_limit))
                        .post(messages::create),
                )
                .service(
                    resource("/messages/count_tokens", "POST")
                        .name(messages::COUNT_TOKENS)
                        .app_data(BodyLimit(completion_body_limit))
                        .post(messages::count_tokens),
                )
                .service(
                    resource("/responses", "POST")
                        .app_data(BodyLimit(completion_body_limit))
                        .post(responses::create),
                )
                .service(
                    resource("/embeddings", "POST")
                        .app_data(BodyLimit(completion_body_limit))
                        .post(embeddings::create),
                )
                .service(
                    resource("/models", "GET, HEAD")
                        .name(messages::MODELS)
                        .get(chat::models),
                )
                // Before `/models/{name}`, whose name may hold `/`.
                .service(admin(
                    resource("/models/{name}/price", "PUT, DELETE")
                        .put(models::set_price)
                        .delete(models::delete_price),
                ))
                // A name with `/` (`ollama/llama3.1:8b`) comes as it is, or
                // as `%2F`.
                .service(admin_writes(
                    resource("/models/{name:.+}", "GET, HEAD, POST, PATCH, DELETE")
                        .name(messages::MODEL)
                        .get(models::show)
                        .post(models::create)
                        .patch(models::update)
                        .delete(models::delete),
                ))
                .service(admin(
                    resource("/providers/{id}/models/sync", "POST").post(models::sync),
                ))
                .service(admin(
                    resource("/users", "GET, HEAD, POST")
                        .get(users::list)
                        .post(users::create),
                ))
                .service(admin(
                    resource("/users/{id}", "GET, HEAD, PATCH, DELETE")
                        .get(users::show)
                        .patch(users::update)
                        .delete(users::delete),
                ))
                .service(admin(
                    resource("/users/{id}/limits", "GET, HEAD").get(limits::show),
                ))
                .service(admin(
                    resource("/ai-characters", "GET, HEAD, POST")
                        .get(characters::list)
                        .post(characters::create),
                ))
                .service(admin(
                    resource("/ai-characters/{id}", "GET, HEAD, PATCH, DELETE")
                        .get(characters::show)
                        .patch(characters::update)
                        .delete(characters::delete),
                ))
                .service(admin(
                    resource("/chatlogs", "GET, HEAD").get(chatlogs::list),
                ))
                .service(admin(resource("/usage", "GET, HEAD").get(usage::report)))
                .service(admin(resource("/tags", "GET, HEAD").get(tags::list)))
                .service(admin(
                    resource("/policies", "GET, HEAD").get(policies::list),
                ))
                .service(admin(
                    resource("/policies/{scope}", "GET, HEAD, PUT, DELETE")
                        .get(policies::show)
                        .put(policies::put)
                        .delete(policies::delete),
                ))
                .default_service(web::to(not_found)),
        )
}

/// The routes a `chat` key may call, all served outside `admin(...)`.
const CHAT_ROUTES: &str = "POST /chat/completions, POST /completions, POST /messages, \
    POST /messages/count_tokens, POST /responses, POST /embeddings, GET /models and \
    GET /models/{name}";

/// A route only an `admin` key may call.
fn admin(resource: actix_web::Resource) -> impl HttpServiceFactory {
    resource.wrap(from_fn(require_admin_key))
}

/// A route a `chat` key may read (`GET`, `HEAD`) and only an `admin` key
/// may change.
fn admin_writes(resource: actix_web::Resource) -> impl HttpServiceFactory {
    resource.wrap(from_fn(require_admin_key_to_write))
}

/// Middleware of `admin_writes(...)`.
async fn require_admin_key_to_write(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let refusal = match *req.method() {
        Method::GET | Method::HEAD => None,
        _ => chat_key_refusal(&req),
    };
    refuse_or_go_on(req, next, refusal).await
}

/// Middleware of `admin(...)`: a `chat` key is refused with a 403 that
/// says what it may call.
async fn require_admin_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let refusal = chat_key_refusal(&req);
    refuse_or_go_on(req, next, refusal).await
}

/// The 403 for a key that is not an `admin` key.
fn chat_key_refusal(req: &ServiceRequest) -> Option<ApiError> {
    let scope = req
        .extensions()
        .get::<AuthenticatedKey>()
        .map(|key| key.scope);
    match scope {
        Some(KeyScope::Admin) => None,
        Some(KeyScope::Chat) => Some(ApiError::forbidden(format!(
            "this API key is a chat key: it may call only {CHAT_ROUTES}; \
             {} {} takes an admin key",
            req.method(),
            req.path()
        ))),
        // `require_api_key` runs first and always leaves the key.
        None => Some(ApiError::internal(
            "an admin route was reached without an API key",
        )),
    }
}

async fn refuse_or_go_on(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
    refusal: Option<ApiError>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match refusal {
        None => Ok(next.call(req).await?.map_into_left_body()),
        // A response rather than an error, so the access log records it.
        Some(refusal) => Ok(req.error_response(refusal).map_into_right_body()),
    }
}

/// A list response, `{"data": [...]}`.
#[derive(Serialize)]
struct DataList<T> {
    data: Vec<T>,
}

fn data_list<T: Serialize>(data: Vec<T>) -> HttpResponse {
    HttpResponse::Ok().json(DataList { data })
}

/// The request's `field` header as text (its first value), if sent; a
/// 400 naming it when it is not plain text.
fn header_text<'r>(req: &'r HttpRequest, field: &str) -> Result<Option<&'r str>, ApiError> {
    req.headers()
        .get(field)
        .map(|value| {
            value.to_str().map_err(|_| {
                ApiError::invalid_field(field, format!("the {field} header must be plain text"))
            })
        })
        .transpose()
}

/// A resource whose unsupported methods get a JSON 405 naming, in `Allow`,
/// the methods it has.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        // The error stays attached, for a route that renders its own shape.
        let mut response = HttpResponse::from_error(ApiError::method_not_allowed(
            req.method().as_str(),
            req.path(),
        ));
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        response
    }))
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no route for {} {}; the API is documented at /api/v1/openapi.json",
        req.method(),
        req.path()
    )))
}

/// The query string's parameters, decoded; the last of a repeated name wins.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromRequest for QueryParams {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            web::Query::<Vec<(String, String)>>::from_query(req.query_string())
                .map(|q| QueryParams(q.into_inner()))
                .map_err(|e| ApiError::invalid(format!("the query string is malformed: {e}"))),
        )
    }
}

/// Parses an optional integer query parameter within `min..=max`.
fn bounded_param(
    name: &str,
    raw: Option<&str>,
    min: u32,
    max: u32,
) -> Result<Option<u32>, InvalidInput> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(InvalidInput::new(
            name,
            format!("`{name}` must be an integer from {min} to {max}, got {raw:?}"),
        )),
    }
}
