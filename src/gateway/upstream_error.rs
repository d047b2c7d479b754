//! Why a provider gave no usable answer, kept as data: what the provider
//! said (its status, error type, code and message), or what went wrong on
//! the way (a timeout, no connection, a broken or malformed answer). The
//! gateway decides retries from it; the API's edge maps it to the client's
//! status once (`ApiError: From<UpstreamError>`).

use std::time::Duration;

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde_json::Value;

/// A failed provider request, with the message the client and the chat log
/// read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct UpstreamError {
    pub failure: Failure,
    /// What happened, with its context (which provider, which limit).
    pub message: String,
    /// How long the provider asked to be left alone (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// mindgate retried already, so the client should not.
    pub retried: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The provider refused: an error status, or an error object in a 200
    /// answer or a stream. Boxed: the rare case keeps the error small.
    Refused(Box<ProviderError>),
    /// It took longer than allowed.
    Timeout(Wait),
    /// It could not be reached.
    Unreachable,
    /// The request or the answer broke on the way.
    Broken,
    /// The answer is not what the provider's API sends: malformed, too
    /// large, or cut short.
    BadAnswer,
    /// The provider needs a key the instance does not have.
    NoKey,
}

/// What mindgate waited for when it gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Connect,
    FirstByte,
    /// The next chunk of an answer already begun.
    NextChunk,
}

/// What a provider said when it refused a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderError {
    /// The HTTP status it answered with; none for an error reported inside
    /// a 200 answer or a stream.
    pub status: Option<StatusCode>,
    /// Its error `type` (`invalid_request_error`, `overloaded_error`...).
    pub error_type: Option<String>,
    /// Its error `code` (`rate_limit_exceeded`; vLLM and others put the
    /// HTTP status there).
    pub code: Option<String>,
    /// The request parameter it names (OpenAI's `param`).
    pub param: Option<String>,
    /// Its message (provider keys redacted), or its body, shortened, when
    /// it has none.
    pub message: String,
    /// The body of an answer with a failing status, as it came (provider
    /// keys redacted, at most the 1 MiB read); empty for an error reported
    /// inside an answer or a stream.
    pub body: Bytes,
}

impl ProviderError {
    /// An `error` object, OpenAI's or Anthropic's (or a bare string), as
    /// found in an answer or a stream.
    pub fn reported(error: &Value) -> ProviderError {
        let text = |field: &str| match &error[field] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        ProviderError {
            status: None,
            error_type: text("type"),
            code: text("code"),
            param: text("param"),
            message: error_message(error),
            body: Bytes::new(),
        }
    }

    /// The body of an answer with a failing status.
    fn answered(status: StatusCode, body: &[u8]) -> ProviderError {
        let value = serde_json::from_slice::<Value>(body).unwrap_or_default();
        ProviderError {
            status: Some(status),
            message: error_detail(body),
            body: Bytes::copy_from_slice(body),
            ..ProviderError::reported(&value["error"])
        }
    }

    /// The HTTP status the error goes with: its own, else the one its code
    /// or type stands for.
    pub fn status(&self) -> Option<StatusCode> {
        if self.status.is_some() {
            return self.status;
        }
        let code = self.code.as_deref();
        code.and_then(status_of_error_name)
            .or_else(|| code.and_then(|c| c.parse().ok()))
            .or_else(|| self.error_type.as_deref().and_then(status_of_error_name))
            .and_then(|status| StatusCode::from_u16(status).ok())
            .filter(|status| status.is_client_error() || status.is_server_error())
    }

    /// Whether the provider refused the request for carrying `param`: a 400
    /// or 422 that names it, in `param` or, as servers that refuse unknown
    /// fields write it, in the message.
    pub fn refuses_param(&self, param: &str) -> bool {
        let refused = self
            .status
            .is_some_and(|s| s == StatusCode::BAD_REQUEST || s == StatusCode::UNPROCESSABLE_ENTITY);
        refused && (self.param.as_deref() == Some(param) || self.message.contains(param))
    }
}

/// The message of an `error` object (or a bare string).
fn error_message(error: &Value) -> String {
    error_text(error).map_or_else(|| error.to_string(), str::to_owned)
}

/// The text of an `error` object (OpenAI's and Anthropic's both have a
/// `message`), or the error itself when it is a bare string.
fn error_text(error: &Value) -> Option<&str> {
    error["message"].as_str().or(error.as_str())
}

/// The HTTP status of an OpenAI or Anthropic error type or code.
fn status_of_error_name(name: &str) -> Option<u16> {
    Some(match name {
        "invalid_request_error" => 400,
        "authentication_error" | "invalid_api_key" => 401,
        "permission_error" => 403,
        "not_found_error" | "model_not_found" => 404,
        "request_too_large" => 413,
        "rate_limit_error"
        | "rate_limit_exceeded"
        | "insufficient_quota"
        | "tokens"
        | "requests" => 429,
        "api_error" | "server_error" => 500,
        "overloaded_error" => 529,
        _ => return None,
    })
}

/// The message inside an upstream's error body (OpenAI's or Anthropic's
/// shape), else the body itself, shortened.
pub fn error_detail(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some(message) = error_text(&value["error"]) {
            return message.to_owned();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "no message".to_owned();
    }
    text.chars().take(500).collect()
}

impl UpstreamError {
    fn new(failure: Failure, message: impl Into<String>) -> UpstreamError {
        UpstreamError {
            failure,
            message: message.into(),
            retry_after: None,
            retried: false,
        }
    }

    /// `provider`'s answer with a failing status, and its body.
    pub fn answered(
        provider: &str,
        status: StatusCode,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> UpstreamError {
        let said = ProviderError::answered(status, body);
        let message = format!(
            "provider {provider:?} answered {}: {}",
            status.as_u16(),
            said.message
        );
        UpstreamError {
            retry_after,
            ..UpstreamError::new(Failure::Refused(Box::new(said)), message)
        }
    }

    /// An error the provider reported inside an answer or a stream.
    pub fn reported(said: ProviderError) -> UpstreamError {
        let message = said.message.clone();
        UpstreamError::new(Failure::Refused(Box::new(said)), message)
    }

    pub fn timeout(wait: Wait, message: impl Into<String>) -> UpstreamError {
        UpstreamError::new(Failure::Timeout(wait), message)
    }

    /// Silence past the idle timeout in the middle of an answer.
    pub fn silent(idle: Duration) -> UpstreamError {
        let message = format!("the provider sent nothing for {} ms", idle.as_millis());
        UpstreamError::timeout(Wait::NextChunk, message)
    }

    pub fn unreachable(message: impl Into<String>) -> UpstreamError {
        UpstreamError::new(Failure::Unreachable, message)
    }

    pub fn broken(message: impl Into<String>) -> UpstreamError {
        UpstreamError::new(Failure::Broken, message)
    }

    pub fn bad_answer(message: impl Into<String>) -> UpstreamError {
        UpstreamError::new(Failure::BadAnswer, message)
    }

    /// A whole answer past `limit` bytes.
    pub fn too_large(limit: usize) -> UpstreamError {
        UpstreamError::bad_answer(format!(
            "the provider's answer is larger than the limit of {limit} bytes"
        ))
    }

    pub fn no_key(message: impl Into<String>) -> UpstreamError {
        UpstreamError::new(Failure::NoKey, message)
    }

    /// Marks an error that came after retries.
    pub fn after_retries(mut self) -> UpstreamError {
        self.retried = true;
        self
    }

    /// Whether another attempt may fare better: the connection failed, or
    /// the provider answered 429 or 5xx (but 501: it does not do that).
    pub fn retryable(&self) -> bool {
        match &self.failure {
            Failure::Unreachable | Failure::Timeout(Wait::Connect) => true,
            Failure::Refused(said) => said.status.is_some_and(|s| {
                s == StatusCode::TOO_MANY_REQUESTS
                    || (s.is_server_error() && s != StatusCode::NOT_IMPLEMENTED)
            }),
            _ => false,
        }
    }

    /// Whether the provider answered that it does not serve the endpoint
    /// asked (or not for that model): 404, 405 or 501.
    pub fn unserved(&self) -> bool {
        let Failure::Refused(said) = &self.failure else {
            return false;
        };
        said.status.is_some_and(|s| {
            [
                StatusCode::NOT_FOUND,
                StatusCode::METHOD_NOT_ALLOWED,
                StatusCode::NOT_IMPLEMENTED,
            ]
            .contains(&s)
        })
    }

    /// Whether a model may have worked on the prompt before this failure
    /// (it timed out or broke after the request went out, or answered with
    /// something unusable), so that its tokens are counted: not when the
    /// provider refused it, was never reached or had no key.
    pub fn prompt_used(&self) -> bool {
        match &self.failure {
            Failure::Timeout(wait) => *wait != Wait::Connect,
            Failure::Broken | Failure::BadAnswer => true,
            Failure::Refused(_) | Failure::Unreachable | Failure::NoKey => false,
        }
    }

    /// Whether the provider refused the request for carrying `param`.
    pub fn refuses_param(&self, param: &str) -> bool {
        matches!(&self.failure, Failure::Refused(said) if said.refuses_param(param))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_reported_error_keeps_its_type_code_param_and_message() {
        let said = ProviderError::reported(&json!({
            "type": "invalid_request_error", "code": "context_length_exceeded",
            "param": "messages", "message": "too long"
        }));
        assert_eq!(said.error_type.as_deref(), Some("invalid_request_error"));
        assert_eq!(said.code.as_deref(), Some("context_length_exceeded"));
        assert_eq!(said.param.as_deref(), Some("messages"));
        assert_eq!(said.message, "too long");
        assert_eq!(said.status(), Some(StatusCode::BAD_REQUEST));
        assert_eq!(ProviderError::reported(&json!("bare")).message, "bare");
    }

    #[test]
    fn an_error_goes_with_its_status_else_its_code_else_its_type() {
        let status = |error: Value| ProviderError::reported(&error).status().map(|s| s.as_u16());
        assert_eq!(
            status(json!({"type": "invalid_request_error", "code": "invalid_api_key"})),
            Some(401)
        );
        assert_eq!(
            status(json!({"type": "tokens", "code": "rate_limit_exceeded"})),
            Some(429)
        );
        // vLLM and others put the HTTP status in `code`.
        assert_eq!(
            status(json!({"type": "BadRequestError", "code": 400})),
            Some(400)
        );
        assert_eq!(status(json!({"type": "overloaded_error"})), Some(529));
        assert_eq!(status(json!({"code": 200})), None);
        assert_eq!(status(json!({"message": "?"})), None);
        let answered = ProviderError::answered(
            StatusCode::SERVICE_UNAVAILABLE,
            br#"{"error":{"type":"invalid_request_error","message":"busy"}}"#,
        );
        assert_eq!(answered.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(answered.message, "busy");
    }

    #[test]
    fn a_body_without_an_error_object_is_the_message_shortened() {
        let said = ProviderError::answered(StatusCode::BAD_GATEWAY, "<h1>oops</h1>".as_bytes());
        assert_eq!(said.message, "<h1>oops</h1>");
        assert_eq!(said.error_type, None);
        let long = "x".repeat(600);
        let said = ProviderError::answered(StatusCode::BAD_GATEWAY, long.as_bytes());
        assert_eq!(said.message.len(), 500);
        let said = ProviderError::answered(StatusCode::BAD_GATEWAY, b"  ");
        assert_eq!(said.message, "no message");
    }

    #[test]
    fn refusing_stream_options_is_a_400_or_422_that_names_it() {
        let answered = |status: u16, body: Value| {
            let status = StatusCode::from_u16(status).unwrap();
            UpstreamError::answered("p", status, body.to_string().as_bytes(), None)
        };
        // Azure OpenAI and older vLLM name it in the message only.
        let azure =
            json!({"error": {"message": "Unrecognized request argument supplied: stream_options"}});
        assert!(answered(400, azure.clone()).refuses_param("stream_options"));
        assert!(answered(422, azure.clone()).refuses_param("stream_options"));
        let named = json!({"error": {"message": "unknown field", "param": "stream_options"}});
        assert!(answered(400, named).refuses_param("stream_options"));
        // Another status, another field, or an error inside a 200 answer:
        // not a refusal of the option.
        assert!(!answered(500, azure.clone()).refuses_param("stream_options"));
        let other = json!({"error": {"message": "bad `temperature`", "param": "temperature"}});
        assert!(!answered(400, other).refuses_param("stream_options"));
        let reported = UpstreamError::reported(ProviderError::reported(&azure["error"]));
        assert!(!reported.refuses_param("stream_options"));
        let timeout = UpstreamError::timeout(Wait::FirstByte, "stream_options");
        assert!(!timeout.refuses_param("stream_options"));
    }

    #[test]
    fn an_endpoint_is_unserved_by_a_404_405_or_501() {
        let answered = |status: u16| {
            let status = StatusCode::from_u16(status).unwrap();
            UpstreamError::answered("p", status, b"", None)
        };
        for status in [404, 405, 501] {
            assert!(answered(status).unserved(), "{status}");
        }
        for status in [400, 401, 403, 429, 500, 502] {
            assert!(!answered(status).unserved(), "{status}");
        }
        let reported = ProviderError::reported(&json!({"code": 404, "message": "no"}));
        assert!(
            !UpstreamError::reported(reported).unserved(),
            "an error inside an answer: the endpoint answered"
        );
        assert!(!UpstreamError::unreachable("no").unserved());
    }

    #[test]
    fn only_connection_failures_429_and_5xx_are_retried() {
        let answered = |status: u16| {
            let status = StatusCode::from_u16(status).unwrap();
            UpstreamError::answered("p", status, b"", None)
        };
        assert!(answered(429).retryable());
        assert!(answered(500).retryable());
        assert!(answered(529).retryable());
        assert!(!answered(501).retryable(), "not implemented stays so");
        assert!(!answered(400).retryable());
        assert!(!answered(401).retryable());
        assert!(UpstreamError::unreachable("no").retryable());
        assert!(UpstreamError::timeout(Wait::Connect, "slow").retryable());
        assert!(!UpstreamError::timeout(Wait::FirstByte, "slow").retryable());
        assert!(!UpstreamError::broken("cut").retryable());
        assert_eq!(
            answered(503).message,
            "provider \"p\" answered 503: no message"
        );
    }
}
