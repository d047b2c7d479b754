//! The one API error type. Every API handler returns `Result<_, ApiError>`;
//! the mapping to an HTTP status and the JSON error body lives here only,
//! with a `From` for each layer's own error: the store's, the domain's and
//! the gateway's.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::StoreError;
use crate::domain::InvalidInput;
use crate::gateway::{ChatError, Failure, ImportError, UpstreamError};
use crate::governance::Refusal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    NotFound,
    MethodNotAllowed,
    /// The request body did not arrive in time.
    RequestTimeout,
    Conflict,
    TooLarge,
    Permission,
    RateLimited,
    /// An upstream refused the request with this 4xx status.
    UpstreamRejected(StatusCode),
    /// An upstream failed or could not be reached.
    Upstream,
    UpstreamTimeout,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Permission => StatusCode::FORBIDDEN,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::UpstreamRejected(status) => status,
            ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
            ErrorKind::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn type_name(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::MethodNotAllowed => "invalid_request_error",
            ErrorKind::RequestTimeout => "request_timeout",
            ErrorKind::Conflict => "conflict_error",
            ErrorKind::TooLarge => "request_too_large",
            ErrorKind::Permission => "permission_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::UpstreamRejected(StatusCode::NOT_FOUND) => "not_found_error",
            ErrorKind::UpstreamRejected(_) => "invalid_request_error",
            ErrorKind::Upstream => "upstream_error",
            ErrorKind::UpstreamTimeout => "timeout_error",
            ErrorKind::Internal => "api_error",
        }
    }

    /// The type Anthropic's API gives such an error: its own list, where
    /// any other client error is an `invalid_request_error` and a failure
    /// on the server's side an `api_error`.
    pub fn anthropic_type_name(self) -> &'static str {
        match self {
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::NotFound | ErrorKind::UpstreamRejected(StatusCode::NOT_FOUND) => {
                "not_found_error"
            }
            ErrorKind::TooLarge => "request_too_large",
            ErrorKind::Permission => "permission_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::UpstreamTimeout => "timeout_error",
            ErrorKind::Upstream | ErrorKind::Internal => "api_error",
            ErrorKind::InvalidRequest
            | ErrorKind::MethodNotAllowed
            | ErrorKind::RequestTimeout
            | ErrorKind::Conflict
            | ErrorKind::UpstreamRejected(_) => "invalid_request_error",
        }
    }
}

/// Displays as the detail of a server fault (for logs and the CLI), else
/// as the message the client sees.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.detail.as_deref().unwrap_or(&self.message))]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// The request field the error is about, when there is one.
    pub param: Option<String>,
    /// Seconds a rate-limited client should wait (sent as `Retry-After`).
    pub retry_after: Option<u64>,
    /// mindgate already retried the upstream: clients are told not to
    /// (`x-should-retry: false`, which the OpenAI SDKs honour).
    pub retried: bool,
    /// What went wrong inside; logged, never sent to the client.
    detail: Option<String>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            param: None,
            retry_after: None,
            retried: false,
            detail: None,
        }
    }

    /// A 400 about one named field of the request.
    pub fn invalid_field(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorKind::InvalidRequest,
            message: message.into(),
            param: Some(param.into()),
            retry_after: None,
            retried: false,
            detail: None,
        }
    }

    /// Names the request field the error is about.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds;
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Authentication, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permission, message)
    }

    /// A 429; `retry_after` seconds, when known, go out as `Retry-After`.
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<u64>) -> Self {
        Self::new(ErrorKind::RateLimited, message).with_retry_after(retry_after)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            ErrorKind::TooLarge,
            format!("request body is larger than the limit of {limit} bytes"),
        )
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            ErrorKind::MethodNotAllowed,
            format!("method {method} is not allowed on {path}"),
        )
    }

    /// A server fault. The detail goes to the log, never to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError {
            detail: Some(detail.to_string()),
            ..Self::new(
                ErrorKind::Internal,
                "internal server error; the details are in the server log",
            )
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(detail) = &self.detail {
            log::error!("internal error: {detail}");
        }
        self.response(self.status_code()).json(ErrorBody {
            error: ErrorDetail {
                message: &self.message,
                kind: self.kind.type_name(),
                param: self.param.as_deref(),
            },
        })
    }
}

impl ApiError {
    /// The error in Anthropic's envelope, as the Messages routes answer:
    /// `{"type": "error", "error": {"type": ..., "message": ...}}`. It
    /// renders again what `error_response` rendered (and logged) first.
    pub fn anthropic_response(&self) -> HttpResponse {
        self.response(self.status_code())
            .json(crate::gateway::anthropic_error(
                self.kind.anthropic_type_name(),
                &self.message,
            ))
    }

    /// An answer with `status` and the error's headers, for its body.
    pub fn response(&self, status: StatusCode) -> actix_web::HttpResponseBuilder {
        let mut response = HttpResponse::build(status);
        if self.kind == ErrorKind::Authentication {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.retried {
            response.insert_header(("x-should-retry", "false"));
        }
        response
    }
}

impl From<InvalidInput> for ApiError {
    fn from(e: InvalidInput) -> Self {
        let param = (!e.field.is_empty()).then_some(e.field);
        ApiError {
            param,
            ..ApiError::invalid(e.message)
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(conflict) => ApiError::conflict(conflict.to_string()),
            // The client named a row that is not there (a model's provider):
            // a 400 on the field named after it.
            StoreError::NotFound { what, .. } => ApiError::invalid_field(what, e.to_string()),
            StoreError::BuiltInProvider(_) => ApiError::invalid_field("id", e.to_string()),
            e => ApiError::internal(e),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::NoProvider(_) => ApiError::not_found(e.to_string()),
            // The instance's provider is not ready for it, not the request wrong.
            ImportError::NoKey { .. } => ApiError::conflict(e.to_string()),
            ImportError::Upstream(message) => ApiError::new(ErrorKind::Upstream, message),
            ImportError::Store(e) => e.into(),
        }
    }
}

/// What a provider's failing status means for the client.
fn kind_for_status(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        429 => ErrorKind::RateLimited,
        // The instance's provider key is wrong or lacks rights, not the
        // caller's.
        401 | 403 => ErrorKind::Upstream,
        400..=499 => ErrorKind::UpstreamRejected(status),
        _ => ErrorKind::Upstream,
    }
}

/// The README's mapping of upstream failures, for whole answers and
/// streams alike: a provider's refusal by the status it goes with, a
/// timeout as 504, anything else as 502. A rate limit always says when to
/// come back.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::NotOpen { field, message } => ApiError::forbidden(message).with_param(field),
            Refusal::UserRequired { message } => {
                ApiError::forbidden(message).with_param("X-User-Email")
            }
            Refusal::Limited {
                message,
                retry_after,
                ..
            } => ApiError::rate_limited(message, Some(retry_after)),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Invalid(e) => e.into(),
            ChatError::UnknownUser(_) => {
                ApiError::forbidden(e.to_string()).with_param("X-User-Email")
            }
            ChatError::UnknownCharacter(_) => {
                ApiError::not_found(e.to_string()).with_param("activatedCharacterID")
            }
            ChatError::Refused(e) => e.into(),
            ChatError::Upstream(e) => e.into(),
            ChatError::Store(e) => e.into(),
        }
    }
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        let kind = match &e.failure {
            Failure::Refused(said) => said.status().map_or(ErrorKind::Upstream, kind_for_status),
            Failure::Timeout(_) => ErrorKind::UpstreamTimeout,
            Failure::Unreachable | Failure::Broken | Failure::BadAnswer | Failure::NoKey => {
                ErrorKind::Upstream
            }
        };
        let retry_after = (kind == ErrorKind::RateLimited)
            .then(|| e.retry_after.map_or(1, |wait| wait.as_secs().max(1)));
        ApiError {
            retry_after,
            retried: e.retried,
            ..ApiError::new(kind, e.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::body::to_bytes;
    use serde_json::{json, Value};

    use super::*;
    use crate::db::Conflict;
    use crate::domain::UserId;
    use crate::gateway::ProviderError;

    /// Status, headers and JSON body, as a client gets them.
    async fn rendered(error: ApiError) -> (StatusCode, header::HeaderMap, Value) {
        let response = error.error_response();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = to_bytes(response.into_body()).await.unwrap();
        (status, headers, serde_json::from_slice(&body).unwrap())
    }

    #[actix_web::test]
    async fn store_errors_become_409_400_or_a_500_that_keeps_its_detail_in_the_log() {
        let taken = StoreError::from(Conflict::UserEmail {
            email: "ann@example.com".into(),
            existing: UserId(7),
        });
        let (status, _, body) = rendered(taken.into()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            body["error"],
            json!({"message": "a user with email ann@example.com already exists (id 7)",
                   "type": "conflict_error"})
        );

        let dangling = StoreError::NotFound {
            what: "provider",
            key: "nowhere".into(),
        };
        let (status, _, body) = rendered(dangling.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["param"], "provider");
        assert_eq!(
            body["error"]["message"],
            "no provider has the id \"nowhere\""
        );

        let built_in = ApiError::from(StoreError::BuiltInProvider("openai".into()));
        assert_eq!(built_in.kind, ErrorKind::InvalidRequest);
        assert_eq!(built_in.param.as_deref(), Some("id"));

        let failed = StoreError::from(rusqlite::Error::InvalidQuery);
        let error = ApiError::from(failed);
        assert!(error.to_string().starts_with("database: "), "{error}");
        let (status, _, body) = rendered(error).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["type"], "api_error");
        assert!(
            !body.to_string().contains("database"),
            "the detail stays in the log: {body}"
        );
    }

    fn answered(status: u16, retry_after: Option<Duration>) -> UpstreamError {
        let status = StatusCode::from_u16(status).unwrap();
        let body = br#"{"error":{"type":"mock_error","message":"mock says no"}}"#;
        UpstreamError::answered("openai", status, body, retry_after)
    }

    #[actix_web::test]
    async fn a_providers_status_maps_as_the_readme_says() {
        for (from, to, kind) in [
            (400, 400, "invalid_request_error"),
            (404, 404, "not_found_error"),
            (422, 422, "invalid_request_error"),
            // The instance's key is at fault, not the caller's.
            (401, 502, "upstream_error"),
            (403, 502, "upstream_error"),
            (500, 502, "upstream_error"),
            (503, 502, "upstream_error"),
            (529, 502, "upstream_error"),
            (429, 429, "rate_limit_error"),
        ] {
            let (status, headers, body) = rendered(answered(from, None).into()).await;
            assert_eq!(status.as_u16(), to, "{from}");
            assert_eq!(body["error"]["type"], kind, "{from}");
            assert_eq!(
                body["error"]["message"],
                format!("provider \"openai\" answered {from}: mock says no")
            );
            let retry_after = headers.get(header::RETRY_AFTER);
            assert_eq!(retry_after.is_some(), from == 429, "{from}");
            assert!(headers.get("x-should-retry").is_none(), "{from}");
        }
    }

    #[actix_web::test]
    async fn a_rate_limit_always_says_when_to_come_back() {
        for (wait, header) in [
            (Some(Duration::from_secs(7)), "7"),
            (Some(Duration::from_millis(500)), "1"),
            (None, "1"),
        ] {
            let (_, headers, _) = rendered(answered(429, wait).into()).await;
            assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), header);
        }
        let slow_down = ProviderError::reported(&json!({"type": "rate_limit_error"}));
        let error = ApiError::from(UpstreamError::reported(slow_down));
        assert_eq!(
            (error.kind, error.retry_after),
            (ErrorKind::RateLimited, Some(1))
        );
    }

    #[test]
    fn reported_errors_map_like_the_status_they_go_with() {
        let kind = |error: Value| {
            ApiError::from(UpstreamError::reported(ProviderError::reported(&error))).kind
        };
        // OpenAI reports a bad key as an invalid request with its code.
        assert_eq!(
            kind(json!({"type": "invalid_request_error", "code": "invalid_api_key"})),
            ErrorKind::Upstream
        );
        assert_eq!(
            kind(json!({"type": "invalid_request_error", "code": "context_length_exceeded"})),
            ErrorKind::UpstreamRejected(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            kind(json!({"type": "permission_error"})),
            ErrorKind::Upstream
        );
        assert_eq!(
            kind(json!({"type": "tokens", "code": "rate_limit_exceeded"})),
            ErrorKind::RateLimited
        );
        assert_eq!(
            kind(json!({"type": "not_found_error"})),
            ErrorKind::UpstreamRejected(StatusCode::NOT_FOUND)
        );
        // vLLM and others put the HTTP status in `code`.
        assert_eq!(
            kind(json!({"type": "BadRequestError", "code": 400})),
            ErrorKind::UpstreamRejected(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            kind(json!({"type": "overloaded_error"})),
            ErrorKind::Upstream
        );
        assert_eq!(kind(json!({"message": "?"})), ErrorKind::Upstream);
        assert_eq!(kind(json!("a bare string")), ErrorKind::Upstream);
    }

    #[actix_web::test]
    async fn timeouts_are_504_other_failures_502_and_retries_are_told() {
        let silent = ApiError::from(UpstreamError::silent(Duration::from_millis(300)));
        assert_eq!(silent.kind, ErrorKind::UpstreamTimeout);
        assert_eq!(silent.message, "the provider sent nothing for 300 ms");
        for failure in [
            UpstreamError::unreachable("cannot connect"),
            UpstreamError::broken("cut"),
            UpstreamError::too_large(100),
            UpstreamError::no_key("no key"),
        ] {
            assert_eq!(ApiError::from(failure).kind, ErrorKind::Upstream);
        }
        let retried = UpstreamError::unreachable("cannot connect").after_retries();
        let (status, headers, body) = rendered(retried.into()).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(headers.get("x-should-retry").unwrap(), "false");
        assert_eq!(body["error"]["message"], "cannot connect");
    }
}
