//! The middleware in front of every admin route: finds the session, refuses
//! cross-origin and token-less mutations (403), sends strangers to the login
//! page, and turns handler errors into HTML.

use actix_web::body::{to_bytes_limited, BodyStream, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::render::{cookie, removal, Ctx, Flash, SignedIn, FLASH_COOKIE};
use super::AdminState;
use crate::db::{self, Db};
use crate::domain::{random_base62, Timestamp};
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "mg_session";
/// Before login there is no session: the login and setup forms carry this
/// cookie's value instead (double submit).
const PRE_SESSION_COOKIE: &str = "mg_csrf";
const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_FIELD: &str = "csrf";

/// A session unused this long ends...
pub const IDLE_TIMEOUT_MS: i64 = 2 * 60 * 60 * 1000;
/// ...and any session ends this long after login.
pub const ABSOLUTE_TIMEOUT_MS: i64 = 12 * 60 * 60 * 1000;
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// Pages anyone may see.
fn is_public(path: &str) -> bool {
    matches!(path, "/admin/login" | "/admin/setup")
}

pub fn session_hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

async fn load_session(db: &Db, id: &str) -> Result<Option<(SignedIn, String)>, ApiError> {
    let hash = session_hash(id);
    let lookup = hash.clone();
    let Some(session) = db
        .read(move |conn| db::sessions::find(conn, &lookup))
        .await?
    else {
        return Ok(None);
    };
    let now = Timestamp::now();
    let idle = now.millis() - session.last_seen_at.millis();
    let age = now.millis() - session.created_at.millis();
    if idle > IDLE_TIMEOUT_MS || age > ABSOLUTE_TIMEOUT_MS {
        let expired = hash.clone();
        db.write(move |tx| db::sessions::delete(tx, &expired))
            .await?;
        return Ok(None);
    }
    if idle > TOUCH_EVERY_MS {
        let touched = hash.clone();
        db.write(move |tx| db::sessions::touch(tx, &touched, now))
            .await?;
    }
    Ok(Some((
        SignedIn {
            id: session.admin_id,
            email: session.email,
            session_hash: hash,
        },
        session.csrf_token,
    )))
}

/// A mutation must come from our own pages: its `Origin` (or, lacking
/// one, its `Referer`) names this host, when the browser sends either.
fn check_origin(req: &ServiceRequest) -> Result<(), ApiError> {
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
        Err(ApiError::forbidden(
            "cross-origin request refused: submit the form from this admin's own pages",
        ))
    }
}

/// The token from the `X-CSRF-Token` header (htmx) or the form's `csrf`
/// field (plain forms); the body, at most `limit` bytes, is put back for
/// the handler.
async fn presented_token(
    req: &mut ServiceRequest,
    limit: usize,
) -> Result<Option<String>, ApiError> {
    if let Some(value) = req.headers().get(CSRF_HEADER) {
        return Ok(value.to_str().ok().map(str::to_owned));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(None);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::too_large(limit));
    }
    let body = to_bytes_limited(BodyStream::new(req.take_payload()), limit)
        .await
        .map_err(|_| ApiError::too_large(limit))?
        .map_err(|e| ApiError::invalid(format!("the form could not be read: {e}")))?;
    let token = form_urlencoded_field(&body, CSRF_FIELD);
    req.set_payload(Payload::from(body));
    Ok(token)
}

fn form_urlencoded_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

async fn check_mutation(
    req: &mut ServiceRequest,
    expected: &str,
    body_limit: usize,
) -> Result<(), ApiError> {
    check_origin(req)?;
    let token = presented_token(req, body_limit).await?;
    let valid = token.is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected.as_bytes())));
    if valid {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "this form has expired or did not come from this admin (missing or wrong CSRF token); \
             reload the page and try again",
        ))
    }
}

/// Where a stranger goes: the login page, then back here.
fn to_login(req: &ServiceRequest, hx: bool) -> HttpResponse {
    if hx {
        return HttpResponse::Ok()
            .insert_header(("HX-Redirect", "/admin/login"))
            .finish();
    }
    let mut to = "/admin/login".to_owned();
    if req.method() == Method::GET && req.path() != "/admin" {
        let back = match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        };
        to = format!(
            "{to}?next={}",
            percent_encoding::utf8_percent_encode(&back, percent_encoding::NON_ALPHANUMERIC)
        );
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let db = req
        .app_data::<web::Data<Db>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("database missing from app data"))?;
    let state = req
        .app_data::<web::Data<AdminState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("admin state missing from app data"))?;
    let secure = state.secure_cookies || req.connection_info().scheme() == "https";
    // htmx restoring history (back button) wants the whole page.
    let hx = req.headers().contains_key("hx-request")
        && !req.headers().contains_key("hx-history-restore-request");
    let (session, failure) = match req.cookie(SESSION_COOKIE) {
        Some(c) => match load_session(&db, c.value()).await {
            Ok(session) => (session, None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    let mut new_pre_token = None;
    let (admin, csrf) = match session {
        Some((admin, csrf)) => (Some(admin), csrf),
        None => match req.cookie(PRE_SESSION_COOKIE) {
            Some(c) if !c.value().is_empty() => (None, c.value().to_owned()),
            _ => {
                let token = random_base62(32);
                new_pre_token = Some(token.clone());
                (None, token)
            }
        },
    };
    let current = req
        .headers()
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .and_then(|url| url.find("/admin").map(|i| url[i..].to_owned()));
    let ctx = Ctx {
        admin,
        csrf,
        flash: req
            .cookie(FLASH_COOKIE)
            .and_then(|c| Flash::decode(c.value())),
        hx,
        secure,
        path: req.path().to_owned(),
        current,
    };
    if let Some(e) = failure {
        return Ok(req.into_response(ctx.error_response(&e)));
    }
    let public = is_public(req.path());
    // Before any body is read: a stranger cannot make us read one.
    if ctx.admin.is_none() && !public {
        let response = to_login(&req, hx);
        return Ok(req.into_response(response));
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let limit = if public {
            super::PUBLIC_FORM_LIMIT
        } else {
            super::FORM_LIMIT
        };
        if let Err(e) = check_mutation(&mut req, &ctx.csrf, limit).await {
            return Ok(req.into_response(ctx.error_response(&e)));
        }
    }
    req.extensions_mut().insert(ctx.clone());
    let res = next.call(req).await?;
    let mut res = match res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        Some(e) => {
            let html = ctx.error_response(e);
            res.into_response(html)
        }
        None => res.map_into_boxed_body(),
    };
    if let Some(token) = new_pre_token {
        res.response_mut()
            .add_cookie(&cookie(PRE_SESSION_COOKIE, token, secure))
            .map_err(ApiError::internal)?;
    }
    Ok(res)
}

/// The `Set-Cookie` that ends the session in the browser.
pub fn session_removal() -> actix_web::cookie::Cookie<'static> {
    removal(SESSION_COOKIE)
}
