//! Talking to providers: the HTTP client, requests with each vendor's
//! authentication, timeouts, and retries before the first byte.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_service::{apply_fn, Service};
use actix_tls::connect::{
    ConnectError, ConnectInfo, Connection, Connector as TcpConnector, ConnectorService,
};
use actix_web::http::Uri;
use actix_web::rt::net::TcpStream;
use awc::error::{ConnectError as ClientConnectError, SendRequestError};
use bytes::Bytes;
use rand::Rng;
use serde_json::Value;

use super::providers::{self, ProviderApi};
use super::redact::Redactor;
use super::upstream_error::{error_detail, UpstreamError, Wait};
use crate::config::GatewayConfig;
use crate::db::providers::Provider;

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
    api: &'static dyn ProviderApi,
    body: Bytes,
    /// Sent after the provider's own (a client's `anthropic-version`
    /// replaces mindgate's).
    headers: Vec<(&'static str, String)>,
}

impl UpstreamRequest {
    /// A chat.
    pub fn new(provider: Arc<Provider>, body: &Value) -> Result<UpstreamRequest, UpstreamError> {
        let api = providers::api(provider.kind);
        let url = api.chat_url(provider.base_url.trim_end_matches('/'));
        UpstreamRequest::to(url, provider, body)
    }

    /// A request to `url` of the provider's.
    pub fn to(
        url: String,
        provider: Arc<Provider>,
        body: &Value,
    ) -> Result<UpstreamRequest, UpstreamError> {
        let api = providers::api(provider.kind);
        if providers::lacks_key(&provider) {
            return Err(UpstreamError::no_key(format!(
                "provider {:?} has no API key: set {} or add the key in the admin UI",
                provider.id,
                api.key_variable()
            )));
        }
        let body = serde_json::to_vec(body).expect("JSON values serialize");
        Ok(UpstreamRequest {
            url,
            provider,
            api,
            body: body.into(),
            headers: Vec::new(),
        })
    }

    pub fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> UpstreamRequest {
        self.headers = headers;
        self
    }

    fn request(&self, client: &awc::Client) -> awc::ClientRequest {
        let key = self.provider.api_key.as_deref();
        let mut request = self
            .api
            .authorize(client.post(&self.url), key)
            .insert_header(("content-type", "application/json"));
        for (name, value) in &self.headers {
            request = request.insert_header((*name, value.as_str()));
        }
        request
    }
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
) -> Result<Response, UpstreamError> {
    let mut attempt = 0;
    loop {
        let error = match attempt_once(client, config, prepared, redactor).await {
            Ok(response) => return Ok(response),
            Err(error) => error,
        };
        let retried = |error: UpstreamError| {
            if attempt > 0 {
                error.after_retries()
            } else {
                error
            }
        };
        if !error.retryable() {
            return Err(retried(error));
        }
        if error.retry_after.is_some_and(|wait| wait > MAX_RETRY_WAIT) {
            // The client may wait that long; mindgate does not.
            return Err(error);
        }
        if attempt >= config.retries {
            return Err(retried(error));
        }
        let backoff = BACKOFF_BASE * 2u32.pow(attempt);
        let jittered = backoff.mul_f64(rand::rng().random_range(0.5..1.5));
        let wait = error
            .retry_after
            .map_or(jittered, |after| after.max(jittered / 4));
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

async fn attempt_once(
    client: &awc::Client,
    config: &GatewayConfig,
    prepared: &UpstreamRequest,
    redactor: &Redactor,
) -> Result<Response, UpstreamError> {
    let provider = &prepared.provider.id;
    let sent = actix_web::rt::time::timeout(
        config.first_byte_timeout,
        prepared.request(client).send_body(prepared.body.clone()),
    )
    .await;
    let mut response = match sent {
        Err(_) => {
            return Err(UpstreamError::timeout(
                Wait::FirstByte,
                format!(
                    "provider {provider:?} did not answer within {} ms",
                    config.first_byte_timeout.as_millis()
                ),
            ))
        }
        Ok(Err(SendRequestError::Connect(ClientConnectError::Timeout))) => {
            return Err(UpstreamError::timeout(
                Wait::Connect,
                format!("connecting to provider {provider:?} timed out"),
            ))
        }
        Ok(Err(SendRequestError::Connect(e))) => {
            return Err(UpstreamError::unreachable(format!(
                "cannot connect to provider {provider:?}: {e}"
            )))
        }
        Ok(Err(e)) => {
            return Err(UpstreamError::broken(format!(
                "request to provider {provider:?} failed: {e}"
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
    Err(UpstreamError::answered(
        provider,
        status,
        &redactor.bytes(body),
        retry_after,
    ))
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

/// `url` as errors and logs show it: scheme, host, port and path, never
/// the user info or query where a base URL may carry credentials.
pub fn shown_url(url: &str) -> String {
    let hidden = || "the provider's URL".to_owned();
    let Ok(uri) = url.parse::<Uri>() else {
        return hidden();
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return hidden();
    };
    let port = authority
        .port_u16()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let host = format!("{}{port}", authority.host());
    // A secret with a `/`, `?` or `#` in it ends the authority early, and
    // what seems the host or the path may hold the rest of it.
    let after_user = authority.as_str().rsplit('@').next().unwrap_or_default();
    if host != after_user || uri.path().contains('@') {
        return hidden();
    }
    format!("{scheme}://{host}{}", uri.path())
}

/// Largest page of a provider's model list read.
const MODEL_PAGE_LIMIT: usize = 8 << 20;

/// A page of the provider's model list at `url`: its body, within
/// `timeout` for the answer to begin and again for it to arrive, at most
/// `MODEL_PAGE_LIMIT` bytes. The error says what went wrong in words for
/// an admin (the provider's key redacted).
pub async fn models_page(
    client: &awc::Client,
    provider: &Provider,
    url: &str,
    timeout: Duration,
) -> Result<Bytes, String> {
    let api = providers::api(provider.kind);
    let request = api.authorize(client.get(url), provider.api_key.as_deref());
    let shown = shown_url(url);
    let mut response = actix_web::rt::time::timeout(timeout, request.send())
        .await
        .map_err(|_| format!("no answer from {shown} within {} s", timeout.as_secs()))?
        .map_err(|e| format!("cannot reach {shown}: {e}"))?;
    let body = actix_web::rt::time::timeout(timeout, response.body().limit(MODEL_PAGE_LIMIT))
        .await
        .map_err(|_| format!("{shown} stopped answering"))?
        .map_err(|e| format!("cannot read the answer of {shown}: {e}"))?;
    let redactor = Redactor::new(provider.api_key.as_deref());
    if !response.status().is_success() {
        return Err(format!(
            "{shown} answered {}: {}",
            response.status().as_u16(),
            error_detail(&redactor.bytes(body))
        ));
    }
    Ok(redactor.bytes(body))
}

/// Checks that a provider answers with its key: lists its models.
pub async fn test_connection(provider: &Provider, timeout: Duration) -> Result<String, String> {
    let api = providers::api(provider.kind);
    let url = api.models_url(provider.base_url.trim_end_matches('/'));
    let body = models_page(&client(timeout, 1), provider, &url, timeout).await?;
    Ok(match api.model_page(&body) {
        Ok(page) => format!("connected: {} models available", page.ids.len()),
        Err(_) => "connected".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn a_shown_url_has_no_user_info_or_query() {
        for (url, shown) in [
            (
                "https://user:secret@llm.example.com/v1/models",
                "https://llm.example.com/v1/models",
            ),
            (
                "http://127.0.0.1:11434/v1/models?key=secret#top",
                "http://127.0.0.1:11434/v1/models",
            ),
            (
                "http://secret@[::1]:8000/v1/models",
                "http://[::1]:8000/v1/models",
            ),
            (
                "https://api.anthropic.com/v1/models?limit=1000",
                "https://api.anthropic.com/v1/models",
            ),
            // A `/`, `?` or `#` in a secret ends the authority early:
            // nothing shows.
            ("http://user:se/cret@host/v1/models", "the provider's URL"),
            ("http://se/cret@host/v1/models", "the provider's URL"),
            ("http://user:se?cret@host/v1/models", "the provider's URL"),
            ("http://user:se#cret@host/v1/models", "the provider's URL"),
            ("http://u:se@cret@host/v1/models", "http://host/v1/models"),
            ("not a url", "the provider's URL"),
        ] {
            assert_eq!(shown_url(url), shown, "{url}");
        }
    }
}
