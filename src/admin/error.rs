//! The admin's own error: what went wrong, as the admin tells an admin.
//! `response::respond` renders it as HTML (a page, or a flash for htmx)
//! and logs a server fault, once; the message of a fault is never shown.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::password::HashingError;
use crate::db::StoreError;
use crate::domain::InvalidInput;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    /// What the admin typed or sent breaks a rule (400).
    #[error("{0}")]
    Invalid(InvalidInput),
    #[error("{0}")]
    NotFound(String),
    /// The change would clash with what is there (409).
    #[error("{0}")]
    Conflict(String),
    /// Refused: a forged or cross-origin request, a dead setup link (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many at once; try again in `retry_after` seconds (429).
    #[error("{message}")]
    RateLimited { message: String, retry_after: u64 },
    /// A form over its limit of bytes (413).
    #[error("request body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    /// A fault of the server; the detail goes to the log.
    #[error("{0}")]
    Internal(String),
}

impl AdminError {
    pub fn invalid(field: &str, message: impl Into<String>) -> AdminError {
        AdminError::Invalid(InvalidInput::new(field, message))
    }

    pub fn internal(detail: impl std::fmt::Display) -> AdminError {
        AdminError::Internal(detail.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Forbidden(_) => StatusCode::FORBIDDEN,
            AdminError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AdminError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the admin reads.
    pub fn message(&self) -> String {
        match self {
            AdminError::Internal(_) => {
                "internal server error; the details are in the server log".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// An error an extractor (a form, a query, a path) failed with: ours as
    /// it is, anything else by its status.
    pub fn from_extractor(error: actix_web::Error) -> AdminError {
        if let Some(ours) = error.as_error::<AdminError>() {
            return ours.clone();
        }
        if error.as_response_error().status_code().is_client_error() {
            AdminError::Invalid(InvalidInput::whole(error.to_string()))
        } else {
            AdminError::internal(error)
        }
    }
}

/// Only for the extractors' configs, which must hand actix an error:
/// `response::answer` takes it back and renders it with the request.
impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status())
            .content_type("text/plain; charset=utf-8")
            .body(self.message())
    }
}

impl From<InvalidInput> for AdminError {
    fn from(e: InvalidInput) -> Self {
        AdminError::Invalid(e)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(conflict) => AdminError::Conflict(conflict.to_string()),
            // The form named a row that is not there (a model's provider).
            StoreError::NotFound { what, .. } => AdminError::invalid(what, e.to_string()),
            StoreError::BuiltInProvider(_) => AdminError::invalid("id", e.to_string()),
            e => AdminError::internal(e),
        }
    }
}

impl From<HashingError> for AdminError {
    fn from(e: HashingError) -> Self {
        match e {
            HashingError::Busy { retry_after } => AdminError::RateLimited {
                message: e.to_string(),
                retry_after,
            },
            HashingError::Failed(_) => AdminError::internal(e),
        }
    }
}

impl From<actix_multipart::MultipartError> for AdminError {
    fn from(e: actix_multipart::MultipartError) -> Self {
        AdminError::Invalid(InvalidInput::whole(format!(
            "the form could not be read: {e}"
        )))
    }
}
