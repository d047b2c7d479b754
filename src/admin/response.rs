//! What an admin handler answers, and the one place it becomes HTTP
//! (`respond`): the whole page for a plain request, the fragment for htmx;
//! an `AdminError` as an error page, or as a flash for htmx.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, Handler, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

use super::download::Chunks;
use super::error::AdminError;
use super::guard::Ctx;
use super::paths::Urls;
use super::sessions::SESSION_COOKIE;

pub type AdminResult = Result<AdminResponse, AdminError>;

pub const FLASH_COOKIE: &str = "mg_flash";

/// A message shown once, at the top of the next page.
#[derive(Debug, Clone)]
pub struct Flash {
    pub ok: bool,
    pub message: String,
}

impl Flash {
    pub fn ok(message: impl Into<String>) -> Flash {
        Flash {
            ok: true,
            message: message.into(),
        }
    }

    pub fn error(message: impl Into<String>) -> Flash {
        Flash {
            ok: false,
            message: message.into(),
        }
    }

    fn encode(&self) -> String {
        let kind = if self.ok { "ok" } else { "error" };
        let message = utf8_percent_encode(&self.message, NON_ALPHANUMERIC);
        format!("{kind}.{message}")
    }

    pub fn decode(raw: &str) -> Option<Flash> {
        let (kind, message) = raw.split_once('.')?;
        let message = percent_decode_str(message).decode_utf8().ok()?.into_owned();
        match kind {
            "ok" => Some(Flash::ok(message)),
            "error" => Some(Flash::error(message)),
            _ => None,
        }
    }
}

/// An admin handler's answer.
pub enum AdminResponse {
    /// A page (a rendered template): for htmx its content alone.
    Page {
        status: StatusCode,
        title: String,
        content: String,
        retry_after: Option<u64>,
    },
    /// For htmx, `html` swapped in place (a table row), with `flash`
    /// beside it; without JavaScript, `otherwise`.
    Swap {
        html: String,
        flash: Option<Flash>,
        otherwise: Box<AdminResponse>,
    },
    /// After a change: on to `to` (a path) with a flash.
    Redirect { to: String, flash: Flash },
    /// Signed in: the session's cookie (its id), then on to `to`.
    SignedIn {
        session: String,
        to: String,
        flash: Flash,
    },
    /// Signed out: the session's cookie removed, the sign-in page reloaded
    /// whole.
    SignedOut { flash: Flash },
    /// No session: to the sign-in page, which leads back to `back` (a path
    /// and query) when there is one.
    SignInFirst { back: Option<String> },
    /// A file to save, sent as it is written.
    Download {
        content_type: &'static str,
        file_name: String,
        chunks: Chunks,
    },
}

fn render(template: &impl Template) -> Result<String, AdminError> {
    template
        .render()
        .map_err(|e| AdminError::internal(format!("template: {e}")))
}

impl AdminResponse {
    /// The page titled `title` showing `content`, status 200.
    pub fn page(title: &str, content: &impl Template) -> AdminResult {
        AdminResponse::page_with(StatusCode::OK, title, content)
    }

    pub fn page_with(status: StatusCode, title: &str, content: &impl Template) -> AdminResult {
        Ok(AdminResponse::Page {
            status,
            title: title.to_owned(),
            content: render(content)?,
            retry_after: None,
        })
    }

    /// Sends `Retry-After` with a page.
    pub fn retry_after(mut self, seconds: u64) -> AdminResponse {
        if let AdminResponse::Page { retry_after, .. } = &mut self {
            *retry_after = Some(seconds);
        }
        self
    }

    /// `fragment` for htmx to swap in place, else `otherwise`.
    pub fn swap(fragment: &impl Template, otherwise: AdminResponse) -> AdminResult {
        Ok(AdminResponse::Swap {
            html: render(fragment)?,
            flash: None,
            otherwise: Box::new(otherwise),
        })
    }

    /// Shows `message` beside a swapped fragment.
    pub fn with_flash(mut self, message: Flash) -> AdminResponse {
        if let AdminResponse::Swap { flash, .. } = &mut self {
            *flash = Some(message);
        }
        self
    }

    pub fn redirect(to: String, flash: Flash) -> AdminResponse {
        AdminResponse::Redirect { to, flash }
    }

    /// "Are you sure?": the page a delete link leads to without JavaScript
    /// (with htmx, the link posts at once after the browser's confirm), a
    /// form posting to `action`, or back to `back`.
    pub fn confirm(
        ctx: &Ctx,
        heading: &str,
        question: &str,
        action: &str,
        button: &str,
        back: &str,
    ) -> AdminResult {
        AdminResponse::page(
            heading,
            &Confirm {
                heading,
                question,
                action,
                button,
                back,
                csrf: &ctx.csrf,
            },
        )
    }

    fn render(self, ctx: &Ctx) -> Result<HttpResponse, AdminError> {
        let html = |mut response: actix_web::HttpResponseBuilder, body: String| {
            response.content_type("text/html; charset=utf-8").body(body)
        };
        Ok(match self {
            AdminResponse::Page {
                status,
                title,
                content,
                retry_after,
            } => {
                let mut response = HttpResponse::build(status);
                if ctx.flash.is_some() {
                    response.cookie(removal(ctx, FLASH_COOKIE));
                }
                if let Some(seconds) = retry_after {
                    response.insert_header((header::RETRY_AFTER, seconds.to_string()));
                }
                html(response, wrap(ctx, &title, &content, ctx.flash.as_ref())?)
            }
            AdminResponse::Swap {
                html: fragment,
                flash,
                ..
            } if ctx.hx => {
                let flash = match &flash {
                    Some(flash) => oob_flash(Some(flash))?,
                    None => String::new(),
                };
                html(HttpResponse::Ok(), format!("{flash}\n{fragment}"))
            }
            AdminResponse::Swap { otherwise, .. } => otherwise.render(ctx)?,
            AdminResponse::Redirect { to, flash } => redirect(ctx, &to, &flash),
            AdminResponse::SignedIn { session, to, flash } => {
                let mut response = redirect(ctx, &to, &flash);
                response
                    .add_cookie(&cookie(ctx, SESSION_COOKIE, session))
                    .map_err(AdminError::internal)?;
                response
            }
            AdminResponse::SignedOut { flash } => {
                let mut response = to_login(ctx, ctx.urls.login());
                response.cookie(cookie(ctx, FLASH_COOKIE, flash.encode()));
                response.cookie(removal(ctx, SESSION_COOKIE));
                response.finish()
            }
            AdminResponse::SignInFirst { back } => {
                let to = match back {
                    Some(back) => ctx.urls.login_then(&back),
                    None => ctx.urls.login(),
                };
                to_login(ctx, to).finish()
            }
            AdminResponse::Download {
                content_type,
                file_name,
                chunks,
            } => HttpResponse::Ok()
                .content_type(content_type)
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file_name}\""),
                ))
                .streaming(chunks.into_stream()),
        })
    }
}

/// After a change: back to `to` with a flash (303 for a form; for htmx,
/// `HX-Location`, staying on the filtered page it came from).
fn redirect(ctx: &Ctx, to: &str, flash: &Flash) -> HttpResponse {
    let mut response = if ctx.hx {
        let path = match &ctx.current {
            Some(current) if current.split('?').next() == Some(to) => current.as_str(),
            _ => to,
        };
        let location = serde_json::json!({ "path": path, "target": "#main" });
        let mut r = HttpResponse::Ok();
        r.insert_header(("HX-Location", location.to_string()));
        r
    } else {
        let mut r = HttpResponse::SeeOther();
        r.insert_header((header::LOCATION, to.to_owned()));
        r
    };
    response.cookie(cookie(ctx, FLASH_COOKIE, flash.encode()));
    response.finish()
}

/// To the sign-in page at `to`: for htmx the whole page reloads, nav bar
/// and all.
fn to_login(ctx: &Ctx, to: String) -> actix_web::HttpResponseBuilder {
    if ctx.hx {
        let mut r = HttpResponse::Ok();
        r.insert_header(("HX-Redirect", ctx.urls.login()));
        r
    } else {
        let mut r = HttpResponse::SeeOther();
        r.insert_header((header::LOCATION, to));
        r
    }
}

/// An error as HTML: for htmx a flash swapped into place (what the admin
/// typed stays in the form), else a page. A server fault is logged here,
/// the one place.
fn render_error(ctx: &Ctx, err: &AdminError) -> HttpResponse {
    if let AdminError::Internal(detail) = err {
        log::error!("admin: {detail}");
    }
    let status = err.status();
    let mut response = HttpResponse::build(status);
    if let AdminError::RateLimited { retry_after, .. } = err {
        response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
    }
    let message = err.message();
    let html = if ctx.hx {
        response.insert_header(("HX-Retarget", "#flash"));
        response.insert_header(("HX-Reswap", "outerHTML"));
        render(&FlashBox {
            flash: Some(&Flash::error(message.clone())),
            oob: false,
        })
    } else {
        let heading = status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage {
            heading,
            message: &message,
            signed_in: ctx.admin.is_some(),
            urls: &ctx.urls,
        };
        render(&page).and_then(|content| wrap(ctx, heading, &content, None))
    };
    match html {
        Ok(html) => response.content_type("text/html; charset=utf-8").body(html),
        Err(e) => {
            log::error!("admin: cannot render an error page: {e}");
            response
                .content_type("text/plain; charset=utf-8")
                .body(message)
        }
    }
}

/// The one place an answer, or an error, becomes the response.
pub fn respond(ctx: &Ctx, result: AdminResult) -> HttpResponse {
    result
        .and_then(|answer| answer.render(ctx))
        .unwrap_or_else(|e| render_error(ctx, &e))
}

/// Serves `handler` as an admin route: its arguments read from the
/// request (an argument that cannot be read is its `AdminError`), its
/// answer or error rendered by `respond` with the request's `Ctx`.
pub fn answer<F, Args>(
    handler: F,
) -> impl Handler<(HttpRequest, web::Payload), Output = HttpResponse>
where
    F: Handler<Args, Output = AdminResult>,
    Args: FromRequest + 'static,
{
    move |req: HttpRequest, payload: web::Payload| {
        let handler = handler.clone();
        async move {
            let mut payload = payload.into_inner();
            let result = match Args::from_request(&req, &mut payload).await {
                Ok(args) => handler.call(args).await,
                Err(e) => Err(AdminError::from_extractor(e.into())),
            };
            match req.extensions().get::<Ctx>() {
                Some(ctx) => respond(ctx, result),
                None => {
                    log::error!("admin: no request context: is the guard mounted?");
                    HttpResponse::InternalServerError().finish()
                }
            }
        }
    }
}

struct NavItem {
    href: String,
    label: &'static str,
    active: bool,
}

/// The main navigation: each page's path and label.
fn nav(urls: &Urls) -> [(String, &'static str); 9] {
    [
        (urls.dashboard(), "Dashboard"),
        (urls.users(), "Users"),
        (urls.groups(), "Groups"),
        (urls.characters(), "AI characters"),
        (urls.providers(), "Providers & models"),
        (urls.chatlogs(), "Chat logs"),
        (urls.usage(), "Usage"),
        (urls.api_keys(), "API integration"),
        (urls.settings(), "Settings"),
    ]
}

#[derive(Template)]
#[template(path = "base.html")]
struct Layout<'a> {
    title: &'a str,
    nav: Vec<NavItem>,
    admin_email: Option<&'a str>,
    csrf: &'a str,
    flash: Option<&'a Flash>,
    oob: bool,
    urls: &'a Urls,
    /// A rendered template (escaped when it was rendered).
    content: &'a str,
}

#[derive(Template)]
#[template(path = "_flash.html")]
struct FlashBox<'a> {
    flash: Option<&'a Flash>,
    oob: bool,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    heading: &'a str,
    message: &'a str,
    signed_in: bool,
    urls: &'a Urls,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct Confirm<'a> {
    heading: &'a str,
    question: &'a str,
    action: &'a str,
    button: &'a str,
    back: &'a str,
    csrf: &'a str,
}

/// The flash, swapped out of band beside a fragment. Inside a `<template>`
/// so that it parses next to anything, even a lone table row.
fn oob_flash(flash: Option<&Flash>) -> Result<String, AdminError> {
    let flash = render(&FlashBox { flash, oob: true })?;
    Ok(format!("<template>{flash}</template>"))
}

/// `content` in the layout, or for htmx beside the flash.
fn wrap(
    ctx: &Ctx,
    title: &str,
    content: &str,
    flash: Option<&Flash>,
) -> Result<String, AdminError> {
    if ctx.hx {
        return Ok(format!("{}\n{content}", oob_flash(flash)?));
    }
    let dashboard = ctx.urls.dashboard();
    let nav = match ctx.admin {
        Some(_) => nav(&ctx.urls)
            .into_iter()
            .map(|(href, label)| NavItem {
                active: if href == dashboard {
                    ctx.path == href
                } else {
                    ctx.path.starts_with(&href)
                },
                href,
                label,
            })
            .collect(),
        None => Vec::new(),
    };
    render(&Layout {
        title,
        nav,
        admin_email: ctx.admin.as_ref().map(|a| a.email.as_str()),
        csrf: &ctx.csrf,
        flash,
        oob: false,
        urls: &ctx.urls,
        content,
    })
}

/// A cookie for the admin's paths only.
pub fn cookie<'c>(ctx: &Ctx, name: &'c str, value: String) -> Cookie<'c> {
    Cookie::build(name, value)
        .path(ctx.urls.root())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(ctx.secure)
        .finish()
}

fn removal<'c>(ctx: &Ctx, name: &'c str) -> Cookie<'c> {
    let mut c = Cookie::build(name, "").path(ctx.urls.root()).finish();
    c.make_removal();
    c
}

#[cfg(test)]
mod tests {
    use super::Flash;

    #[test]
    fn flash_survives_its_cookie() {
        let flash = Flash::error("bad <b>\"tag\"</b>; ünïcode, 100%");
        let back = Flash::decode(&flash.encode()).unwrap();
        assert_eq!(back.message, flash.message);
        assert!(!back.ok);
        assert!(Flash::decode("junk").is_none());
    }
}
