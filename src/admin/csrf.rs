//! Cross-site request forgery: every admin change is a POST from this
//! admin's own pages. It must come from this origin (when the browser says
//! where it came from) and carry the CSRF token: the session's, or before
//! sign-in the one in the `mg_csrf` cookie (double submit).

use actix_multipart::Multipart;
use actix_web::body::{to_bytes_limited, BodyStream};
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::StreamExt;
use subtle::ConstantTimeEq;

use super::error::AdminError;
use crate::domain::random_base62;

/// Before sign-in there is no session: the sign-in and setup forms carry
/// this cookie's value instead.
pub const PRE_SESSION_COOKIE: &str = "mg_csrf";
const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_FIELD: &str = "csrf";
/// A token is 32 characters: a field holding more is no token.
const MOST_TOKEN_BYTES: usize = 64;

/// The token of a request with no session: its cookie's, or a new one to
/// set (`true`).
pub fn pre_session_token(req: &ServiceRequest) -> (String, bool) {
    match req.cookie(PRE_SESSION_COOKIE) {
        Some(c) if !c.value().is_empty() => (c.value().to_owned(), false),
        _ => (random_base62(32), true),
    }
}

/// Lets a change through only from this origin and with the `expected`
/// token. Reads a form body of at most `limit` bytes for its `csrf` field
/// (htmx sends the header instead), and puts it back for the handler.
pub async fn check(
    req: &mut ServiceRequest,
    expected: &str,
    limit: usize,
) -> Result<(), AdminError> {
    check_origin(req)?;
    let token = presented_token(req, limit).await?;
    let valid = token.is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected.as_bytes())));
    if valid {
        Ok(())
    } else {
        Err(AdminError::Forbidden(
            "this form has expired or did not come from this admin (missing or wrong CSRF token); \
             reload the page and try again"
                .to_owned(),
        ))
    }
}

/// A change must come from our own pages: its `Origin` (or, lacking one,
/// its `Referer`) names this host, when the browser sends either.
fn check_origin(req: &ServiceRequest) -> Result<(), AdminError> {
    let headers = req.headers();
    let Some(source) = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
    else {
        return Ok(());
    };
    let info = req.connection_info();
    let host = info.host();
    let same = source.to_str().ok().is_some_and(|s| {
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"));
        rest.is_some_and(|r| r.split('/').next() == Some(host))
    });
    if same {
        Ok(())
    } else {
        Err(AdminError::Forbidden(
            "cross-origin request refused: submit the form from this admin's own pages".to_owned(),
        ))
    }
}

/// How a form's fields are encoded.
enum FormKind {
    Urlencoded,
    Multipart,
}

/// The token from the `X-CSRF-Token` header, or the form's `csrf` field.
async fn presented_token(
    req: &mut ServiceRequest,
    limit: usize,
) -> Result<Option<String>, AdminError> {
    if let Some(value) = req.headers().get(CSRF_HEADER) {
        return Ok(value.to_str().ok().map(str::to_owned));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let kind = if content_type.starts_with("application/x-www-form-urlencoded") {
        FormKind::Urlencoded
    } else if content_type.starts_with("multipart/form-data") {
        FormKind::Multipart
    } else {
        return Ok(None);
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(AdminError::TooLarge(limit));
    }
    let body = to_bytes_limited(BodyStream::new(req.take_payload()), limit)
        .await
        .map_err(|_| AdminError::TooLarge(limit))?
        .map_err(|e| AdminError::invalid("", format!("the form could not be read: {e}")))?;
    let token = match kind {
        FormKind::Urlencoded => urlencoded_field(&body),
        FormKind::Multipart => multipart_field(req, body.clone()).await,
    };
    req.set_payload(Payload::from(body));
    Ok(token)
}

fn urlencoded_field(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == CSRF_FIELD).then_some(v))
}

/// The `csrf` part of a multipart form (the file is only skipped over).
async fn multipart_field(req: &ServiceRequest, body: Bytes) -> Option<String> {
    let whole = futures_util::stream::once(async move { Ok(body) });
    let mut form = Multipart::new(req.headers(), whole);
    while let Some(Ok(mut field)) = form.next().await {
        if field.name() == Some(CSRF_FIELD) {
            let value = field.bytes(MOST_TOKEN_BYTES).await.ok()?.ok()?;
            return String::from_utf8(value.to_vec()).ok();
        }
    }
    None
}
