//! The one API error type. Every handler returns `Result<_, ApiError>`;
//! the mapping to an HTTP status and the JSON error body lives here only,
//! with a `From` for each layer's own error.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::StoreError;
use crate::domain::InvalidInput;

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

    /// An upstream failure mindgate has already retried.
    pub fn after_retries(mut self) -> Self {
        self.retried = true;
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
        let mut response = HttpResponse::build(self.status_code());
        if self.kind == ErrorKind::Authentication {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.retried {
            response.insert_header(("x-should-retry", "false"));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                message: &self.message,
                kind: self.kind.type_name(),
                param: self.param.as_deref(),
            },
        })
    }
}

impl From<InvalidInput> for ApiError {
    fn from(e: InvalidInput) -> Self {
        ApiError::invalid_field(e.field, e.message)
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

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use serde_json::{json, Value};

    use super::*;
    use crate::db::Conflict;
    use crate::domain::UserId;

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
}
