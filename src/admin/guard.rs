//! The middleware in front of every admin route: finds the session
//! (`sessions`), sends strangers to the sign-in page before their body is
//! read, refuses forged changes (`csrf`), and hands the handler its `Ctx`.

use std::future::{ready, Ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::csrf::{self, PRE_SESSION_COOKIE};
use super::error::AdminError;
use super::paths::{self, Urls};
use super::response::{self, AdminResponse, Flash, FLASH_COOKIE};
use super::sessions::{self, SignedIn, SESSION_COOKIE};
use super::AdminState;
use crate::db::Db;

/// What every admin handler knows about its request; set by the guard.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub admin: Option<SignedIn>,
    pub csrf: String,
    pub flash: Option<Flash>,
    /// Sent by htmx: answer with a fragment.
    pub hx: bool,
    /// Cookies get `Secure`.
    pub secure: bool,
    pub path: String,
    /// Path and query of the page htmx is on, from `HX-Current-URL`.
    pub current: Option<String>,
    pub urls: Urls,
}

impl Ctx {
    /// The signed-in admin: every page but the public ones has one.
    pub fn admin(&self) -> Result<&SignedIn, AdminError> {
        self.admin
            .as_ref()
            .ok_or_else(|| AdminError::internal("no admin signed in past the guard"))
    }
}

impl FromRequest for Ctx {
    type Error = AdminError;
    type Future = Ready<Result<Ctx, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions().get::<Ctx>().cloned().ok_or_else(|| {
                AdminError::internal("admin context missing: is the guard mounted?")
            }),
        )
    }
}

/// The path and query of `url` (`http://host/admin/users?q=x`).
fn path_and_query(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/').map(|i| &rest[i..])
}

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let db = req
        .app_data::<web::Data<Db>>()
        .cloned()
        .ok_or_else(|| AdminError::internal("database missing from app data"))?;
    let state = req
        .app_data::<web::Data<AdminState>>()
        .cloned()
        .ok_or_else(|| AdminError::internal("admin state missing from app data"))?;
    let found = match req.cookie(SESSION_COOKIE) {
        Some(c) => sessions::find(&db, c.value()).await,
        None => Ok(None),
    };
    let (session, failure) = match found {
        Ok(session) => (session, None),
        Err(e) => (None, Some(e)),
    };
    let (admin, csrf, new_pre_token) = match session {
        Some(session) => (Some(session.admin), session.csrf, false),
        None => {
            let (token, new) = csrf::pre_session_token(&req);
            (None, token, new)
        }
    };
    let ctx = Ctx {
        admin,
        csrf,
        flash: req
            .cookie(FLASH_COOKIE)
            .and_then(|c| Flash::decode(c.value())),
        // htmx restoring history (back button) wants the whole page.
        hx: req.headers().contains_key("hx-request")
            && !req.headers().contains_key("hx-history-restore-request"),
        secure: state.secure_cookies || req.connection_info().scheme() == "https",
        path: req.path().to_owned(),
        current: req
            .headers()
            .get("hx-current-url")
            .and_then(|v| v.to_str().ok())
            .and_then(path_and_query)
            .map(str::to_owned),
        urls: state.urls.clone(),
    };
    let public = state
        .urls
        .relative(req.path())
        .is_some_and(paths::is_public);
    let refused = if let Some(e) = failure {
        Some(Err(e))
    } else if ctx.admin.is_none() && !public {
        // Before any body is read: a stranger cannot make us read one.
        let back =
            (req.method() == Method::GET && req.path() != ctx.urls.dashboard()).then(|| match req
                .query_string()
            {
                "" => req.path().to_owned(),
                q => format!("{}?{q}", req.path()),
            });
        Some(Ok(AdminResponse::SignInFirst { back }))
    } else if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let limit = if public {
            super::PUBLIC_FORM_LIMIT
        } else {
            super::FORM_LIMIT
        };
        csrf::check(&mut req, &ctx.csrf, limit).await.err().map(Err)
    } else {
        None
    };
    if let Some(answer) = refused {
        let response = response::respond(&ctx, answer);
        return Ok(req.into_response(response));
    }
    req.extensions_mut().insert(ctx.clone());
    let mut res = next.call(req).await?.map_into_boxed_body();
    if new_pre_token {
        res.response_mut()
            .add_cookie(&response::cookie(
                &ctx,
                PRE_SESSION_COOKIE,
                ctx.csrf.clone(),
            ))
            .map_err(AdminError::internal)?;
    }
    Ok(res)
}
