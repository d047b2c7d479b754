//! The web admin under `/admin`: server-rendered askama pages that htmx
//! swaps in place. One module per page; every admin route is listed here
//! (`endpoints`), its path in `paths`.
//!
//! Every page and action also works as a plain form or link: handlers
//! answer an `AdminResponse`, or an `AdminError`, and `response::respond`
//! gives a request with `HX-Request` the page's fragment, one without the
//! whole page. Mutations are POSTs carrying the session's CSRF token (see
//! `guard`, `sessions` and `csrf`).

mod access;
mod api_keys;
mod characters;
mod chart;
mod chatlogs;
mod csrf;
mod dashboard;
mod download;
mod error;
pub(crate) mod format;
mod groups;
mod guard;
mod limiter;
mod login;
pub mod password;
pub mod paths;
mod policies;
mod providers;
mod response;
mod sessions;
mod settings;
mod setup;
mod usage;
mod users;

use std::time::Duration;

use actix_web::error::UrlencodedError;
use actix_web::http::{header, Method};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, FromRequest, Handler, Route};

use crate::config::AdminConfig;
use crate::db::{self, Db, StoreError};
use crate::http::BasePath;
use error::AdminError;
use response::{answer, AdminResult};

pub use setup::SETUP_TOKEN_LIFETIME;

/// The largest form an admin may post (a CSV import is the big one).
const FORM_LIMIT: usize = 8 << 20;
/// The largest sign-in or setup form: anyone may post those.
const PUBLIC_FORM_LIMIT: usize = 16 << 10;

/// The Content-Security-Policy of every admin page: only our own scripts
/// and styles, no inline code, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn form_config(limit: usize) -> web::FormConfig {
    web::FormConfig::default()
        .limit(limit)
        .error_handler(|e, _| match e {
            UrlencodedError::Overflow { limit, .. } => AdminError::TooLarge(limit).into(),
            e => AdminError::invalid("", format!("the form could not be read: {e}")).into(),
        })
}

/// One admin route: a method on a pattern of `paths`, and its handler.
pub struct Endpoint {
    pub method: Method,
    pub pattern: &'static str,
    route: Route,
}

fn endpoint<F, Args>(method: Method, pattern: &'static str, handler: F) -> Endpoint
where
    F: Handler<Args, Output = AdminResult>,
    Args: FromRequest + 'static,
{
    Endpoint {
        route: web::route().method(method.clone()).to(answer(handler)),
        method,
        pattern,
    }
}

/// Every admin route, once: `mount` serves them, and the tests walk them
/// (each POST route against the access rules).
pub fn endpoints() -> Vec<Endpoint> {
    use paths::*;
    const GET: Method = Method::GET;
    const POST: Method = Method::POST;
    vec![
        endpoint(GET, DASHBOARD, dashboard::show),
        endpoint(GET, LOGIN, login::form),
        endpoint(POST, LOGIN, login::submit),
        endpoint(POST, LOGOUT, login::logout),
        endpoint(GET, SETUP, setup::form),
        endpoint(POST, SETUP, setup::submit),
        endpoint(GET, USERS, users::list),
        endpoint(POST, USERS, users::create),
        endpoint(POST, USERS_IMPORT, users::import),
        endpoint(GET, USER, users::show),
        endpoint(GET, USER_ROW, users::row),
        endpoint(GET, USER_EDIT, users::edit),
        endpoint(POST, USER_TAGS, users::set_tags),
        endpoint(GET, USER_DELETE, users::confirm_delete),
        endpoint(POST, USER_DELETE, users::delete),
        endpoint(GET, CHARACTERS, characters::list),
        endpoint(POST, CHARACTERS, characters::create),
        endpoint(GET, CHARACTER_NEW, characters::new),
        endpoint(GET, CHARACTER_EDIT, characters::edit),
        endpoint(POST, CHARACTER, characters::update),
        endpoint(GET, CHARACTER_DELETE, characters::confirm_delete),
        endpoint(POST, CHARACTER_DELETE, characters::delete),
        endpoint(GET, PROVIDERS, providers::show),
        endpoint(POST, PROVIDERS, providers::create),
        endpoint(POST, PROVIDER, providers::update),
        endpoint(POST, PROVIDER_TEST, providers::test),
        endpoint(GET, PROVIDER_DELETE, providers::confirm_delete),
        endpoint(POST, PROVIDER_IMPORT, providers::import),
        endpoint(POST, PROVIDER_DELETE, providers::delete),
        endpoint(POST, MODELS, providers::save_model),
        endpoint(POST, MODEL_TOGGLE, providers::toggle_model),
        endpoint(POST, MODEL_PRICE, providers::set_price),
        endpoint(GET, MODEL_DELETE, providers::confirm_delete_model),
        endpoint(POST, MODEL_DELETE, providers::delete_model),
        endpoint(POST, DEFAULT_PROVIDER, providers::set_default_provider),
        endpoint(GET, CHATLOGS, chatlogs::list),
        endpoint(GET, CHATLOGS_JSON, chatlogs::export_json),
        endpoint(GET, CHATLOGS_CSV, chatlogs::export_csv),
        endpoint(GET, CHATLOG, chatlogs::show),
        endpoint(GET, USAGE, usage::show),
        endpoint(GET, USAGE_USERS_CSV, usage::users_csv),
        endpoint(GET, USAGE_TAGS_CSV, usage::tags_csv),
        endpoint(GET, USAGE_MODELS_CSV, usage::models_csv),
        endpoint(GET, GROUPS, groups::list),
        endpoint(GET, GROUP, groups::show),
        endpoint(POST, POLICY, policies::save),
        endpoint(GET, POLICY_DELETE, policies::confirm_delete),
        endpoint(POST, POLICY_DELETE, policies::delete),
        endpoint(GET, API_KEYS, api_keys::list),
        endpoint(POST, API_KEYS, api_keys::create),
        endpoint(GET, API_KEY, api_keys::show),
        endpoint(GET, API_KEY_REVOKE, api_keys::confirm_revoke),
        endpoint(POST, API_KEY_REVOKE, api_keys::revoke),
        endpoint(GET, SETTINGS, settings::show),
        endpoint(POST, SETTINGS_RECORDING, settings::set_recording),
        endpoint(POST, SETTINGS_CHATLOGS, settings::set_chat_logs),
        endpoint(POST, SETTINGS_TIMEZONE, settings::set_timezone),
        endpoint(POST, SETTINGS_PASSWORD, settings::change_password),
        endpoint(POST, ADMINS, settings::add_admin),
        endpoint(GET, ADMIN_DELETE, settings::confirm_remove_admin),
        endpoint(POST, ADMIN_DELETE, settings::remove_admin),
    ]
}

/// Mounts the admin at `paths::ROOT`: each pattern of `endpoints` one
/// resource with its methods, in their order.
pub fn mount(cfg: &mut web::ServiceConfig) {
    let mut grouped: Vec<(&str, Vec<Route>)> = Vec::new();
    for Endpoint { pattern, route, .. } in endpoints() {
        match grouped.iter_mut().find(|(p, _)| *p == pattern) {
            Some((_, routes)) => routes.push(route),
            None => grouped.push((pattern, vec![route])),
        }
    }
    let mut scope = web::scope(paths::ROOT)
        .app_data(form_config(FORM_LIMIT))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            AdminError::invalid("", format!("the query string could not be read: {e}")).into()
        }))
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, req| AdminError::from(crate::http::bad_segment(e, req)).into()),
        )
        .wrap(from_fn(guard::guard))
        .wrap(security_headers());
    for (pattern, routes) in grouped {
        let mut resource = web::resource(pattern);
        if paths::is_public(pattern) {
            // Anyone may post these: small forms only (the guard reads
            // their token with the same limit).
            resource = resource.app_data(form_config(PUBLIC_FORM_LIMIT));
        }
        for route in routes {
            resource = resource.route(route);
        }
        scope = scope.service(resource);
    }
    cfg.service(scope.default_service(web::to(answer(not_found))));
}

async fn not_found(req: actix_web::HttpRequest) -> AdminResult {
    Err(AdminError::NotFound(format!(
        "there is no admin page at {}",
        req.path()
    )))
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::CACHE_CONTROL, "no-store"))
}

/// Listings show this many rows a page.
const PAGE_SIZE: u32 = 25;

/// The first `PAGE_SIZE` of `rows` (fetched with one extra), and whether
/// there is a next page.
fn one_page<T>(mut rows: Vec<T>) -> (Vec<T>, bool) {
    let has_next = rows.len() > PAGE_SIZE as usize;
    rows.truncate(PAGE_SIZE as usize);
    (rows, has_next)
}

/// `(limit, offset)` that fetch page `page` (from 1) and one row beyond.
fn page_window(page: u32) -> (u32, u32) {
    (PAGE_SIZE + 1, (page.max(1) - 1).saturating_mul(PAGE_SIZE))
}

/// The row `get` finds under `key`, or a 404 saying `missing`.
async fn find_or_404<T: Send + 'static>(
    db: &Db,
    key: String,
    get: fn(&rusqlite::Connection, &str) -> Result<Option<T>, StoreError>,
    missing: String,
) -> Result<T, AdminError> {
    db.read(move |conn| get(conn, &key))
        .await?
        .ok_or(AdminError::NotFound(missing))
}

/// What the admin pages share across workers: the one-time setup token,
/// the login rate limiter, the password hashing queue, whether cookies
/// must be `Secure`, and the admin's URLs.
pub struct AdminState {
    setup: setup::SetupToken,
    limiter: limiter::Limiter,
    hashing: password::Hashing,
    /// Mark cookies `Secure` even on plain HTTP (behind a TLS proxy that
    /// does not say so).
    secure_cookies: bool,
    urls: paths::Urls,
}

impl AdminState {
    /// Issues a setup token when the instance has no admin yet.
    pub fn start(db: &Db, config: &AdminConfig, base: &BasePath) -> Result<AdminState, StoreError> {
        let admins = db.read_blocking(db::admins::count)?;
        Ok(AdminState {
            setup: if admins == 0 {
                setup::SetupToken::issue(config.clock.clone())
            } else {
                setup::SetupToken::none()
            },
            limiter: limiter::Limiter::new(5, Duration::from_secs(5 * 60)),
            hashing: password::Hashing::for_this_machine(),
            secure_cookies: config.secure_cookies,
            urls: paths::Urls::new(base.clone()),
        })
    }

    /// The one-time link that creates the first admin, while there is none
    /// to create it.
    pub fn setup_path(&self) -> Option<String> {
        self.setup.token().map(|token| self.urls.setup_with(&token))
    }
}
