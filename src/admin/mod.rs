//! The web admin under `/admin`: server-rendered askama pages that htmx
//! swaps in place. One module per page; every admin route is listed here.
//!
//! Every page and action also works as a plain form or link: a request
//! with `HX-Request` gets the page's fragment, one without the whole page.
//! Mutations are POSTs carrying the session's CSRF token (see `guard`).

mod api_keys;
mod characters;
mod chatlogs;
mod dashboard;
pub(crate) mod format;
mod guard;
mod limiter;
mod login;
pub mod password;
mod providers;
mod render;
mod settings;
mod setup;
mod users;

use std::time::Duration;

use actix_web::error::UrlencodedError;
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::web;

use crate::config::AdminConfig;
use crate::db::{self, Db, StoreError};
use crate::error::ApiError;

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
            UrlencodedError::Overflow { limit, .. } => ApiError::too_large(limit).into(),
            e => ApiError::invalid(format!("the form could not be read: {e}")).into(),
        })
}

/// What the sign-in and setup forms accept (the guard reads theirs with
/// the same limit).
fn public_form() -> web::FormConfig {
    form_config(PUBLIC_FORM_LIMIT)
}

/// Mounts `/admin`.
pub fn mount(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .app_data(form_config(FORM_LIMIT))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::invalid(format!("the query string could not be read: {e}")).into()
            }))
            .wrap(from_fn(guard::guard))
            .wrap(security_headers())
            .route("", web::get().to(dashboard::show))
            .service(
                web::resource("/login")
                    .app_data(public_form())
                    .get(login::form)
                    .post(login::submit),
            )
            .route("/logout", web::post().to(login::logout))
            .service(
                web::resource("/setup")
                    .app_data(public_form())
                    .get(setup::form)
                    .post(setup::submit),
            )
            .route("/users", web::get().to(users::list))
            .route("/users", web::post().to(users::create))
            .route("/users/import", web::post().to(users::import))
            .route("/users/{id}/row", web::get().to(users::row))
            .route("/users/{id}/edit", web::get().to(users::edit))
            .route("/users/{id}/tags", web::post().to(users::set_tags))
            .route("/users/{id}/delete", web::get().to(users::confirm_delete))
            .route("/users/{id}/delete", web::post().to(users::delete))
            .route("/characters", web::get().to(characters::list))
            .route("/characters", web::post().to(characters::create))
            .route("/characters/new", web::get().to(characters::new))
            .route("/characters/{id}/edit", web::get().to(characters::edit))
            .route("/characters/{id}", web::post().to(characters::update))
            .route(
                "/characters/{id}/delete",
                web::get().to(characters::confirm_delete),
            )
            .route(
                "/characters/{id}/delete",
                web::post().to(characters::delete),
            )
            .route("/providers", web::get().to(providers::show))
            .route("/providers", web::post().to(providers::create))
            .route("/providers/{id}", web::post().to(providers::update))
            .route("/providers/{id}/test", web::post().to(providers::test))
            .route(
                "/providers/{id}/delete",
                web::get().to(providers::confirm_delete),
            )
            .route("/providers/{id}/delete", web::post().to(providers::delete))
            .route("/models", web::post().to(providers::save_model))
            .route("/models/toggle", web::post().to(providers::toggle_model))
            .route(
                "/models/delete",
                web::get().to(providers::confirm_delete_model),
            )
            .route("/models/delete", web::post().to(providers::delete_model))
            .route("/chatlogs", web::get().to(chatlogs::list))
            .route("/chatlogs.json", web::get().to(chatlogs::export_json))
            .route("/chatlogs.csv", web::get().to(chatlogs::export_csv))
            .route("/chatlogs/{chat_id}", web::get().to(chatlogs::show))
            .route("/api-keys", web::get().to(api_keys::list))
            .route("/api-keys", web::post().to(api_keys::create))
            .route(
                "/api-keys/{id}/revoke",
                web::get().to(api_keys::confirm_revoke),
            )
            .route("/api-keys/{id}/revoke", web::post().to(api_keys::revoke))
            .route("/settings", web::get().to(settings::show))
            .route(
                "/settings/recording",
                web::post().to(settings::set_recording),
            )
            .route(
                "/settings/password",
                web::post().to(settings::change_password),
            )
            .route("/settings/admins", web::post().to(settings::add_admin))
            .route(
                "/settings/admins/{id}/delete",
                web::get().to(settings::confirm_remove_admin),
            )
            .route(
                "/settings/admins/{id}/delete",
                web::post().to(settings::remove_admin),
            )
            .default_service(web::to(render::not_found)),
    );
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
) -> Result<T, ApiError> {
    db.read(move |conn| get(conn, &key))
        .await?
        .ok_or_else(|| ApiError::not_found(missing))
}

/// What the admin pages share across workers: the one-time setup token,
/// the login rate limiter, the password hashing queue and whether cookies
/// must be `Secure`.
pub struct AdminState {
    setup: setup::SetupToken,
    limiter: limiter::Limiter,
    hashing: password::Hashing,
    /// Mark cookies `Secure` even on plain HTTP (behind a TLS proxy that
    /// does not say so).
    secure_cookies: bool,
}

impl AdminState {
    /// Issues a setup token when the instance has no admin yet.
    pub fn start(db: &Db, config: &AdminConfig) -> Result<AdminState, StoreError> {
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
        })
    }

    /// `/admin/setup?token=…` while the first admin is still to be created.
    pub fn setup_path(&self) -> Option<String> {
        self.setup.path()
    }
}
