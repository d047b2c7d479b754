//! Turning templates, redirects and errors into responses: the whole page
//! for a plain request, the fragment for htmx. The one place where an
//! `ApiError` becomes HTML is `Ctx::error_response`.

use std::future::{ready, Ready};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

use crate::domain::AdminId;
use crate::error::{ApiError, ErrorKind};

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

/// The signed-in admin.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub id: AdminId,
    pub email: String,
    /// The SHA-256 of the session id, to end or keep this session.
    pub session_hash: Vec<u8>,
}

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
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = Ready<Result<Ctx, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Ctx>()
                .cloned()
                .ok_or_else(|| ApiError::internal("admin context missing: is the guard mounted?")),
        )
    }
}

struct NavItem {
    href: &'static str,
    label: &'static str,
    active: bool,
}

const NAV: [(&str, &str); 7] = [
    ("/admin", "Dashboard"),
    ("/admin/users", "Users"),
    ("/admin/characters", "AI characters"),
    ("/admin/providers", "Providers & models"),
    ("/admin/chatlogs", "Chat logs"),
    ("/admin/api-keys", "API integration"),
    ("/admin/settings", "Settings"),
];

#[derive(Template)]
#[template(path = "base.html")]
struct Layout<'a> {
    title: &'a str,
    nav: Vec<NavItem>,
    admin_email: Option<&'a str>,
    csrf: &'a str,
    flash: Option<&'a Flash>,
    oob: bool,
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
}

/// "Are you sure?": the page a delete link leads to without JavaScript
/// (with htmx, the link posts at once after the browser's confirm).
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

fn render(template: &impl Template) -> Result<String, ApiError> {
    template
        .render()
        .map_err(|e| ApiError::internal(format!("template: {e}")))
}

/// The flash, swapped out of band beside a fragment. Inside a `<template>`
/// so that it parses next to anything, even a lone table row.
fn oob_flash(flash: Option<&Flash>) -> Result<String, ApiError> {
    let flash = render(&FlashBox { flash, oob: true })?;
    Ok(format!("<template>{flash}</template>"))
}

/// A bare fragment, for htmx to swap in place.
pub fn html(template: &impl Template) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(render(template)?))
}

pub fn cookie<'c>(name: &'c str, value: String, secure: bool) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

pub fn removal(name: &str) -> Cookie<'_> {
    let mut c = Cookie::build(name, "").path("/admin").finish();
    c.make_removal();
    c
}

impl Ctx {
    pub fn admin(&self) -> Result<&SignedIn, ApiError> {
        self.admin
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("sign in first"))
    }

    /// The page (or, for htmx, its fragment), status 200.
    pub fn page(&self, title: &str, content: &impl Template) -> Result<HttpResponse, ApiError> {
        self.page_with_status(StatusCode::OK, title, content)
    }

    pub fn page_with_status(
        &self,
        status: StatusCode,
        title: &str,
        content: &impl Template,
    ) -> Result<HttpResponse, ApiError> {
        let content = render(content)?;
        let html = self.wrap(title, &content, self.flash.as_ref())?;
        let mut response = HttpResponse::build(status);
        if self.flash.is_some() {
            response.cookie(removal(FLASH_COOKIE));
        }
        Ok(response.content_type("text/html; charset=utf-8").body(html))
    }

    fn wrap(&self, title: &str, content: &str, flash: Option<&Flash>) -> Result<String, ApiError> {
        if self.hx {
            return Ok(format!("{}\n{content}", oob_flash(flash)?));
        }
        let signed_in = self.admin.is_some();
        let nav = NAV
            .iter()
            .filter(|_| signed_in)
            .map(|&(href, label)| NavItem {
                href,
                label,
                active: if href == "/admin" {
                    self.path == href
                } else {
                    self.path.starts_with(href)
                },
            })
            .collect();
        render(&Layout {
            title,
            nav,
            admin_email: self.admin.as_ref().map(|a| a.email.as_str()),
            csrf: &self.csrf,
            flash,
            oob: false,
            content,
        })
    }

    /// "Are you sure?": a form posting to `action`, or back to `back`.
    pub fn confirm(
        &self,
        heading: &str,
        question: &str,
        action: &str,
        button: &str,
        back: &str,
    ) -> Result<HttpResponse, ApiError> {
        self.page(
            heading,
            &Confirm {
                heading,
                question,
                action,
                button,
                back,
                csrf: &self.csrf,
            },
        )
    }

    /// A fragment swapped in place (a table row), with a flash beside it.
    pub fn fragment(
        &self,
        content: &impl Template,
        flash: Flash,
    ) -> Result<HttpResponse, ApiError> {
        let html = format!("{}\n{}", oob_flash(Some(&flash))?, render(content)?);
        Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html))
    }

    /// After a change: back to `to` with a flash (303 for a form; for htmx,
    /// `HX-Location`, staying on the filtered page it came from).
    pub fn done(&self, to: &str, flash: Flash) -> HttpResponse {
        let mut response = if self.hx && to == "/admin/login" {
            // Signed out: reload the whole page, nav bar included.
            let mut r = HttpResponse::Ok();
            r.insert_header(("HX-Redirect", to.to_owned()));
            r
        } else if self.hx {
            let path = match &self.current {
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
        response.cookie(cookie(FLASH_COOKIE, flash.encode(), self.secure));
        response.finish()
    }

    /// An error as HTML: for htmx a flash swapped into place (what the
    /// admin typed stays in the form), else a page.
    pub fn error_response(&self, err: &ApiError) -> HttpResponse {
        if err.kind == ErrorKind::Internal {
            log::error!("admin: {err}");
        }
        let status = err.kind.status();
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = err.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        let message = &err.message;
        let html = if self.hx {
            response.insert_header(("HX-Retarget", "#flash"));
            response.insert_header(("HX-Reswap", "outerHTML"));
            render(&FlashBox {
                flash: Some(&Flash::error(message.clone())),
                oob: false,
            })
        } else {
            let page = ErrorPage {
                heading: status.canonical_reason().unwrap_or("Error"),
                message,
                signed_in: self.admin.is_some(),
            };
            render(&page).and_then(|content| {
                self.wrap(status.canonical_reason().unwrap_or("Error"), &content, None)
            })
        };
        match html {
            Ok(html) => response.content_type("text/html; charset=utf-8").body(html),
            Err(e) => {
                log::error!("admin: cannot render an error page: {e}");
                response
                    .content_type("text/plain; charset=utf-8")
                    .body(message.clone())
            }
        }
    }
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "there is no admin page at {}",
        req.path()
    )))
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
