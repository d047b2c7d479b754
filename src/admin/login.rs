//! `/admin/login` and `/admin/logout`: email and password in, a server-side
//! session out. Sign-in attempts are limited per client IP and per email
//! (see `limiter`).

use std::net::Ipv4Addr;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::guard::Ctx;
use super::password::HashingError;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult, Flash};
use super::sessions;
use super::AdminState;
use crate::db::{self, Db};
use crate::domain::{AdminId, Email};
use crate::http::client_ip::client_ip;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    urls: &'a Urls,
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
fn safe_next(urls: &Urls, next: &str) -> String {
    let path = next.split(['?', '#']).next().unwrap_or_default();
    let inside = urls.relative(path).is_some();
    // Browsers read `%2e` as a dot: `/admin/%2e%2e/x` is `/x`.
    let dot_segment = path.split('/').any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    });
    let clean =
        next.bytes().all(|b| b.is_ascii_graphic()) && !next.contains("//") && !next.contains('\\');
    if inside && clean && !dot_segment {
        next.to_owned()
    } else {
        urls.dashboard()
    }
}

pub async fn form(ctx: Ctx, query: web::Query<NextQuery>) -> AdminResult {
    let next = safe_next(&ctx.urls, &query.next);
    if ctx.admin.is_some() {
        return Ok(AdminResponse::redirect(
            next,
            Flash::ok("You are signed in."),
        ));
    }
    AdminResponse::page(
        "Sign in",
        &LoginPage {
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            email: "",
            next: &next,
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
) -> AdminResult {
    let form = form.into_inner();
    let next = safe_next(&ctx.urls, &form.next);
    // The form again, with what went wrong beside it.
    let failed = |status: StatusCode, message: &str| {
        AdminResponse::page_with(
            status,
            "Sign in",
            &LoginPage {
                csrf: &ctx.csrf,
                urls: &ctx.urls,
                email: &form.email,
                next: &next,
                error: Some(message),
            },
        )
    };
    let refused = |wait: u64, message: &str| {
        Ok(failed(StatusCode::TOO_MANY_REQUESTS, message)?.retry_after(wait))
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
        Err(busy @ HashingError::Busy { retry_after }) => {
            attempt.withdraw();
            return refused(retry_after, &busy.to_string());
        }
        Err(e) => return Err(e.into()),
    };
    match stored {
        Some((admin_id, _)) if valid => {
            attempt.succeeded();
            signed_in(&db, admin_id, next, "Signed in.").await
        }
        _ => failed(StatusCode::UNAUTHORIZED, "wrong email or password"),
    }
}

/// Opens a session for the admin and sends them on to `to`.
pub async fn signed_in(db: &Db, admin_id: AdminId, to: String, message: &str) -> AdminResult {
    let session = sessions::start(db, admin_id).await?;
    Ok(AdminResponse::SignedIn {
        session,
        to,
        flash: Flash::ok(message),
    })
}

pub async fn logout(ctx: Ctx, db: web::Data<Db>) -> AdminResult {
    sessions::end(&db, ctx.admin()?).await?;
    Ok(AdminResponse::SignedOut {
        flash: Flash::ok("Signed out."),
    })
}
