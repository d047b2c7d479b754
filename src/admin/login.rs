//! `/admin/login` and `/admin/logout`: email and password in, a server-side
//! session out. Failed logins are limited per IP and per email.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::guard::{session_hash, session_removal, SESSION_COOKIE};
use super::password;
use super::render::{cookie, Ctx, Flash};
use super::AdminState;
use crate::db::{self, Db};
use crate::domain::{random_base62, Email, Timestamp};
use crate::error::ApiError;

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

/// Only a path inside the admin: never an open redirect.
fn safe_next(next: &str) -> &str {
    let inside = next == "/admin" || next.starts_with("/admin/");
    if inside && !next.contains("//") && !next.contains('\\') {
        next
    } else {
        "/admin"
    }
}

pub async fn form(ctx: Ctx, query: web::Query<NextQuery>) -> Result<HttpResponse, ApiError> {
    if ctx.admin.is_some() {
        return Ok(ctx.done(safe_next(&query.next), Flash::ok("You are signed in.")));
    }
    ctx.page(
        "Sign in",
        &LoginPage {
            csrf: &ctx.csrf,
            email: "",
            next: &query.next,
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
    let failed = |status: StatusCode, message: &str| {
        ctx.page_with_status(
            status,
            "Sign in",
            &LoginPage {
                csrf: &ctx.csrf,
                email: &form.email,
                next: &form.next,
                error: Some(message),
            },
        )
    };
    let ip = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let email_key = format!("email:{}", form.email.trim().to_lowercase());
    let keys = [format!("ip:{ip}"), email_key.clone()];
    if let Err(wait) = state.limiter.check(&keys) {
        let message = format!("too many failed sign-ins; wait {wait} seconds and try again");
        let mut response = failed(StatusCode::TOO_MANY_REQUESTS, &message)?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Ok(response);
    }
    let stored = match Email::parse(&form.email) {
        Ok(email) => {
            db.read(move |conn| db::admins::credentials(conn, &email))
                .await?
        }
        Err(_) => None,
    };
    let pw = form.password.clone();
    let hash = stored.as_ref().map(|(_, h)| h.clone());
    // Unknown emails run the same argon2 verification as wrong passwords.
    let valid = web::block(move || password::verify(&pw, hash.as_deref())).await?;
    match stored {
        Some((admin_id, _)) if valid => {
            state.limiter.clear(&email_key);
            start_session(&ctx, &db, admin_id, safe_next(&form.next), "Signed in.").await
        }
        _ => {
            state.limiter.record_failure(&keys);
            failed(StatusCode::UNAUTHORIZED, "wrong email or password")
        }
    }
}

/// Opens a session for the admin and sends them on to `to`.
pub async fn start_session(
    ctx: &Ctx,
    db: &Db,
    admin_id: i64,
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
