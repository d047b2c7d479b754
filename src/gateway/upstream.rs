//! Talking to providers: the HTTP client, requests with each vendor's
//! authentication, timeouts, and retries before the first byte.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_service::{apply_fn, Service};
use actix_tls::connect::{
    ConnectError, ConnectInfo, Connection, Connector as TcpConnector, ConnectorService,
};
use actix_web::http::{StatusCode, Uri};
use actix_web::rt::net::TcpStream;
use awc::error::{ConnectError as ClientConnectError, SendRequestError};
use bytes::Bytes;
use rand::Rng;
use serde_json::Value;

use super::answer::Completion;
use super::redact::Redactor;
use super::{anthropic, openai};
use crate::config::GatewayConfig;
use crate::db::providers::{Provider, ProviderKind};
use crate::error::{ApiError, ErrorKind};

pub type Response = awc::ClientResponse;

/// The longest `Retry-After` mindgate waits out itself; a longer one goes
/// back to the client as a 429.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Largest upstream error body read.
const ERROR_BODY_LIMIT: usize = 1 << 20;

fn tls() -> Arc<rustls::ClientConfig> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        // HTTP/1.1 only: awc puts h2 requests on a shared connection, and a
        // request that finds it at the provider's stream limit waits there
        // for another chat to end. A connection per chat, kept alive for the
        // next one, never waits.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    })
    .clone()
}

/// A client for one worker (awc clients are not `Send`), keeping upstream
/// connections alive between requests. It opens at most `max_connections`
/// at once (0: no limit); awc's default of 100 would queue the 101st chat
/// of a worker until another one ends.
pub fn client(connect_timeout: Duration, max_connections: usize) -> awc::Client {
    type Info = ConnectInfo<Uri>;
    let tcp = apply_fn::<_, _, _, _, Info, Info, _, _>(
        TcpConnector::default().service(),
        |request: Info, tcp: &ConnectorService| {
            let connecting = tcp.call(request);
            async move {
                let connection: Connection<Uri, TcpStream> = connecting.await?;
                // A request head, a small body: out at once, not after
                // Nagle waits for an ACK the peer delays.
                let _ = connection.io_ref().set_nodelay(true);
                Ok::<_, ConnectError>(connection)
            }
        },
    );
    let connector = awc::Connector::new()
        .connector(tcp)
        .timeout(connect_timeout)
        .handshake_timeout(connect_timeout)
        .rustls_0_23(tls())
        .limit(max_connections)
        .conn_keep_alive(Duration::from_secs(60));
    awc::Client::builder()
        .connector(connector)
        .disable_timeout()
        .disable_redirects()
        .finish()
}

/// A request ready to go (and to go again on a retry).
pub struct UpstreamRequest {
    url: String,
    provider: Arc<Provider>,
    body: Bytes,
}

impl UpstreamRequest {
    pub fn new(provider: Arc<Provider>, body: &Value) -> Result<UpstreamRequest, ApiError> {
        let base = provider.base_url.trim_end_matches('/');
        let url = match provider.kind {
            ProviderKind::OpenAi => format!("{base}/chat/completions"),
            ProviderKind::Anthropic => format!("{base}/v1/messages"),
        };
        if provider.lacks_key() {
            let var = match provider.kind {
                ProviderKind::OpenAi => "OPENAI_API_KEY",
                ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
            };
            return Err(ApiError::new(
                ErrorKind::Upstream,
                format!(
                    "provider {:?} has no API key: set {var} or add the key in the admin UI",
                    provider.id
                ),
            ));
        }
        let body = serde_json::to_vec(body).map_err(ApiError::internal)?;
        Ok(UpstreamRequest {
            url,
            provider,
            body: body.into(),
        })
    }

    fn request(&self, client: &awc::Client) -> awc::ClientRequest {
        authorize(client.post(&self.url), &self.provider)
            .insert_header(("content-type", "application/json"))
    }
}

fn authorize(request: awc::ClientRequest, provider: &Provider) -> awc::ClientRequest {
    match (provider.kind, &provider.api_key) {
        (ProviderKind::OpenAi, Some(key)) => {
            request.insert_header(("authorization", format!("Bearer {key}")))
        }
        (ProviderKind::OpenAi, None) => request,
        (ProviderKind::Anthropic, key) => request
            .insert_header(("x-api-key", key.as_deref().unwrap_or_default()))
            .insert_header(("anthropic-version", anthropic::VERSION)),
    }
}

/// Why one attempt failed, and whether another may follow.
enum Failure {
    Retryable {
        error: ApiError,
        retry_after: Option<Duration>,
    },
    Final(ApiError),
}

/// Sends the request, retrying connect failures, 429, 5xx and 529 (at most
/// `config.retries` times, with jittered backoff that honours
/// `Retry-After`). Only a 2xx response comes back; an error after retries
/// says so, for the client not to multiply them.
pub async fn send(
    client: &awc::Client,
    config: &GatewayConfig,
    prepared: &UpstreamRequest,
    redactor: &Redactor,
) -> Result<Response, ApiError> {
    let mut attempt = 0;
    loop {
        let failure = match attempt_once(client, config, prepared, redactor).await {
            Ok(response) => return Ok(response),
            Err(failure) => failure,
        };
        let retried = |error: ApiError| {
            if attempt > 0 {
                error.after_retries()
            } else {
                error
            }
        };
        match failure {
            Failure::Final(error) => return Err(retried(error)),
            Failure::Retryable { error, retry_after } => {
                if retry_after.is_some_and(|wait| wait > MAX_RETRY_WAIT) {
                    // The client may wait that long; mindgate does not.
                    return Err(error);
                }
                if attempt >= config.retries {
                    return Err(retried(error));
                }
                let backoff = BACKOFF_BASE * 2u32.pow(attempt);
                let jittered = backoff.mul_f64(rand::rng().random_range(0.5..1.5));
                let wait = retry_after.map_or(jittered, |after| after.max(jittered / 4));
                log::warn!(
                    "upstream {} failed ({}); retry {} in {} ms",
                    prepared.provider.id,
                    error.message,
                    attempt + 1,
                    wait.as_millis()
                );
                actix_web::rt::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

async fn attempt_once(
    client: &awc::Client,
    config: &GatewayConfig,
    prepared: &UpstreamRequest,
    redactor: &Redactor,
) -> Result<Response, Failure> {
    let provider = &prepared.provider.id;
    let sent = actix_web::rt::time::timeout(
        config.first_byte_timeout,
        prepared.request(client).send_body(prepared.body.clone()),
    )
    .await;
    let mut response = match sent {
        Err(_) => {
            return Err(Failure::Final(ApiError::new(
                ErrorKind::UpstreamTimeout,
                format!(
                    "provider {provider:?} did not answer within {} ms",
                    config.first_byte_timeout.as_millis()
                ),
            )))
        }
        Ok(Err(SendRequestError::Connect(ClientConnectError::Timeout))) => {
            return Err(Failure::Retryable {
                error: ApiError::new(
                    ErrorKind::UpstreamTimeout,
                    format!("connecting to provider {provider:?} timed out"),
                ),
                retry_after: None,
            })
        }
        Ok(Err(SendRequestError::Connect(e))) => {
            return Err(Failure::Retryable {
                error: ApiError::new(
                    ErrorKind::Upstream,
                    format!("cannot connect to provider {provider:?}: {e}"),
                ),
                retry_after: None,
            })
        }
        Ok(Err(e)) => {
            return Err(Failure::Final(ApiError::new(
                ErrorKind::Upstream,
                format!("request to provider {provider:?} failed: {e}"),
            )))
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after(&response);
    let body = response
        .body()
        .limit(ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let detail = error_detail(&redactor.bytes(body));
    let message = format!(
        "provider {provider:?} answered {}: {detail}",
        status.as_u16()
    );
    let seconds = retry_after.map_or(1, |d| d.as_secs().max(1));
    let error = upstream_error(kind_for_status(status), message, seconds);
    Err(
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Failure::Retryable { error, retry_after }
        } else {
            Failure::Final(error)
        },
    )
}

/// What a provider's failing status means for the client.
pub fn kind_for_status(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        429 => ErrorKind::RateLimited,
        // The instance's provider key is wrong or lacks rights, not the
        // caller's.
        401 | 403 => ErrorKind::Upstream,
        400..=499 => ErrorKind::UpstreamRejected(status),
        _ => ErrorKind::Upstream,
    }
}

/// An upstream failure for the client; a rate limit always says when to
/// come back (`retry_after` seconds).
fn upstream_error(kind: ErrorKind, message: String, retry_after: u64) -> ApiError {
    match kind {
        ErrorKind::RateLimited => ApiError::rate_limited(message, Some(retry_after)),
        kind => ApiError::new(kind, message),
    }
}

/// What an error a provider reports in a body (an OpenAI `error` object,
/// an Anthropic `error` event) means for the client: the same as the HTTP
/// status that goes with its code or type.
pub fn reported_kind(error: &Value) -> ErrorKind {
    let named = |field: &str| error[field].as_str().and_then(status_of_error_name);
    named("code")
        .or_else(|| error["code"].as_u64().and_then(|c| u16::try_from(c).ok()))
        .or_else(|| named("type"))
        .and_then(|status| StatusCode::from_u16(status).ok())
        .filter(|status| status.is_client_error() || status.is_server_error())
        .map_or(ErrorKind::Upstream, kind_for_status)
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

/// A whole answer's body as a completion; an error object in it (some
/// servers answer 200 with one) is the error it reports.
pub fn completion(kind: ProviderKind, body: &[u8]) -> Result<Completion, ApiError> {
    let malformed = |e: serde_json::Error| {
        ApiError::new(
            ErrorKind::Upstream,
            format!("the provider's answer is not what its API returns: {e}"),
        )
    };
    if let Some(error) = reported_error(body) {
        return Err(error);
    }
    match kind {
        ProviderKind::OpenAi => openai::completion(body).map_err(malformed),
        ProviderKind::Anthropic => serde_json::from_slice::<Value>(body)
            .map(|value| anthropic::completion(&value))
            .map_err(malformed),
    }
}

/// The error a body is, when it is `{"error": {...}}` (either vendor's
/// shape).
fn reported_error(body: &[u8]) -> Option<ApiError> {
    #[derive(serde::Deserialize)]
    struct Reported {
        error: Option<Value>,
    }
    // A substring search spares real answers a second parse.
    memchr::memmem::find(body, b"\"error\"")?;
    let error = serde_json::from_slice::<Reported>(body).ok()?.error?;
    let message = openai::error_message(&error);
    Some(upstream_error(reported_kind(&error), message, 1))
}

fn retry_after(response: &Response) -> Option<Duration> {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    header("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| header("retry-after").map(Duration::from_secs_f64))
}

/// The message inside an upstream's error body (OpenAI's or Anthropic's
/// shape), else the body itself, shortened.
pub fn error_detail(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some(message) = openai::error_text(&value["error"]) {
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

/// Checks that a provider answers with its key: lists its models.
pub async fn test_connection(provider: &Provider, timeout: Duration) -> Result<String, String> {
    let base = provider.base_url.trim_end_matches('/');
    let url = match provider.kind {
        ProviderKind::OpenAi => format!("{base}/models"),
        ProviderKind::Anthropic => format!("{base}/v1/models"),
    };
    let client = client(timeout, 1);
    let request = authorize(client.get(&url), provider);
    let mut response = actix_web::rt::time::timeout(timeout, request.send())
        .await
        .map_err(|_| format!("no answer from {url} within {} s", timeout.as_secs()))?
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let body = actix_web::rt::time::timeout(timeout, response.body().limit(8 << 20))
        .await
        .map_err(|_| format!("{url} stopped answering"))?
        .map_err(|e| format!("cannot read the answer of {url}: {e}"))?;
    if !response.status().is_success() {
        let redactor = Redactor::new(provider.api_key.as_deref());
        return Err(format!(
            "{url} answered {}: {}",
            response.status().as_u16(),
            error_detail(&redactor.bytes(body))
        ));
    }
    let count = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["data"].as_array().map(Vec::len));
    Ok(match count {
        Some(n) => format!("connected: {n} models available"),
        None => "connected".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reported_errors_map_like_the_status_they_go_with() {
        let kind = |error: Value| reported_kind(&error);
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

    #[test]
    fn an_error_body_is_the_error_it_reports() {
        let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#;
        let error = completion(ProviderKind::Anthropic, body).unwrap_err();
        assert_eq!(error.kind, ErrorKind::RateLimited);
        assert_eq!(error.message, "slow down");
        let answer = br#"{"choices":[{"message":{"content":"an \"error\" is fine"}}]}"#;
        assert_eq!(
            completion(ProviderKind::OpenAi, answer).unwrap().text,
            "an \"error\" is fine"
        );
    }
}
