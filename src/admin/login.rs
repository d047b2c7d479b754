//! `/admin/login` and `/admin/logout`: email and password in, a server-side
//! session out. Sign-in attempts are limited per client IP and per email
//! (see `limiter`).

use std::net::Ipv4Addr;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::guard::{session_hash, session_removal, SESSION_COOKIE};
use super::render::{cookie, Ctx, Flash};
use super::AdminState;
use crate::db::{self, Db};
use crate::domain::{random_base62, AdminId, Email, Timestamp};
use crate::error::{ApiError, ErrorKind};
use crate::http::client_ip::client_ip;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    email: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only a clean path inside the admin, fit for a `Location` header: never
/// an open redirect, never a 500. Anything else is the dashboard.
fn safe_next(next: &str) -> &str {
    let path = next.split(['?', '#']).next().unwrap_or_default();
    let inside = path == "/admin" || path.starts_with("/admin/");
    // Browsers read `%2e` as a dot: `/admin/%2e%2e/x` is `/x`.
    let dot_segment = path.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    });
    let clean =
        next.bytes().all(|b| b.is_ascii_graphic()) && !next.contains("//") && !next.contains('\\');
    if inside && clean && !dot_segment {
        next
    } else {
        "/admin"
    }
}

pub async fn form(ctx: Ctx, query: web::Query<NextQuery>) -> Result<HttpResponse, ApiError> {
    let next = safe_next(&query.next);
    if ctx.admin.is_some() {
        return Ok(ctx.done(next, Flash::ok("You are signed in.")));
    }
    ctx.page(
        "Sign in",
        &LoginPage {
            csrf: &ctx.csrf,
            email: "",
            next,
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    state: web::Data<AdminState>,
    db: web::Data<Db>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let next = safe_next(&form.next);
    let failed = |status: StatusCode, message: &str| {
        ctx.page_with_status(
            status,
            "Sign in",
            &LoginPage {
                csrf: &ctx.csrf,
                email: &form.email,
                next,
                error: Some(message),
            },
        )
    };
    let refused = |wait: u64, message: &str| {
        let mut response = failed(StatusCode::TOO_MANY_REQUESTS, message)?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        Ok(response)
    };
    let email = Email::parse(&form.email).ok();
    // No peer address happens only off TCP: all such requests share a count.
    let ip = client_ip(&req).unwrap_or(Ipv4Addr::UNSPECIFIED.into());
    // Counted before the slow check, so a burst gets no more checks than
    // the limit allows.
    let attempt = match state.limiter.begin(ip, email.as_ref().map(Email::as_str)) {
        Ok(attempt) => attempt,
        Err(wait) => {
            let message = format!("too many failed sign-ins; wait {wait} seconds and try again");
            return refused(wait, &message);
        }
    };
    let stored = match email {
        Some(email) => {
            db.read(move |conn| db::admins::credentials(conn, &email))
                .await?
        }
        None => None,
    };
    // Unknown emails run the same argon2 verification as wrong passwords.
    let hash = stored.as_ref().map(|(_, h)| h.clone());
    let valid = match state.hashing.verify(&form.password, hash).await {
        Ok(valid) => valid,
        Err(busy) if busy.kind == ErrorKind::RateLimited => {
            attempt.withdraw();
            return refused(busy.retry_after.unwrap_or(1), &busy.message);
        }
        Err(e) => return Err(e),
    };
    match stored {
        Some((admin_id, _)) if valid => {
            attempt.succeeded();
            start_session(&ctx, &db, admin_id, next, "Signed in.").await
        }
        _ => failed(StatusCode::UNAUTHORIZED, "wrong email or password"),
    }
}

/// Opens a session for the admin and sends them on to `to`.
pub async fn start_session(
    ctx: &Ctx,
    db: &Db,
    admin_id: AdminId,
    to: &str,
    message: &str,
) -> Result<HttpResponse, ApiError> {
    let id = random_base62(43);
    let hash = session_hash(&id);
    let csrf = random_base62(32);
    db.write(move |tx| {
        let now = Timestamp::now().millis();
        db::sessions::delete_expired(
            tx,
            Timestamp(now - super::guard::IDLE_TIMEOUT_MS),
            Timestamp(now - super::guard::ABSOLUTE_TIMEOUT_MS),
        )?;
        db::sessions::insert(tx, &hash, admin_id, &csrf)
    })
    .await?;
    let mut response = ctx.done(to, Flash::ok(message));
    response
        .add_cookie(&cookie(SESSION_COOKIE, id, ctx.secure))
        .map_err(ApiError::internal)?;
    Ok(response)
}

pub async fn logout(ctx: Ctx, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let hash = ctx.admin()?.session_hash.clone();
    db.write(move |tx| db::sessions::delete(tx, &hash)).await?;
    let mut response = ctx.done("/admin/login", Flash::ok("Signed out."));
    response
        .add_cookie(&session_removal())
        .map_err(ApiError::internal)?;
    Ok(response)
}
