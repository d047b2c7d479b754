//! `/admin/setup`: creating the first admin with the one-time link that the
//! log shows at start when there is none.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::AdminError;
use super::guard::Ctx;
use super::login::signed_in;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult};
use super::settings::{NewAdmin, NewAdminForm};
use super::AdminState;
use crate::config::Clock;
use crate::db::{self, Db};
use crate::domain::random_base62;

pub const SETUP_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The one-time setup token: valid 30 minutes by `clock`, gone once used.
pub struct SetupToken {
    token: Mutex<Option<(String, Instant)>>,
    clock: Clock,
}

impl SetupToken {
    pub fn issue(clock: Clock) -> SetupToken {
        SetupToken {
            token: Mutex::new(Some((random_base62(32), clock.now()))),
            clock,
        }
    }

    pub fn none() -> SetupToken {
        SetupToken {
            token: Mutex::new(None),
            clock: Clock::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, Instant)>> {
        self.token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The token, until it is used.
    pub fn token(&self) -> Option<String> {
        self.lock().as_ref().map(|(token, _)| token.clone())
    }

    fn is_valid(&self, presented: &str) -> bool {
        self.lock().as_ref().is_some_and(|(token, issued)| {
            self.clock.now().saturating_duration_since(*issued) < SETUP_TOKEN_LIFETIME
                && bool::from(token.as_bytes().ct_eq(presented.as_bytes()))
        })
    }

    /// Uses the token up, if it is the valid one.
    fn redeem(&self, presented: &str) -> bool {
        let valid = self.is_valid(presented);
        if valid {
            *self.lock() = None;
        }
        valid
    }
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    csrf: &'a str,
    urls: &'a Urls,
    token: &'a str,
    email: &'a str,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn dead_link() -> AdminError {
    AdminError::Forbidden(
        "this setup link is invalid, expired or already used; \
         restart mindgate for a new one, or run `mindgate admin set-password EMAIL`"
            .to_owned(),
    )
}

pub async fn form(
    ctx: Ctx,
    state: web::Data<AdminState>,
    query: web::Query<TokenQuery>,
) -> AdminResult {
    if !state.setup.is_valid(&query.token) {
        return Err(dead_link());
    }
    AdminResponse::page(
        "Create the first admin",
        &SetupPage {
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            token: &query.token,
            email: "",
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(flatten)]
    admin: NewAdminForm,
}

pub async fn submit(
    ctx: Ctx,
    state: web::Data<AdminState>,
    db: web::Data<Db>,
    form: web::Form<SetupForm>,
) -> AdminResult {
    if !state.setup.is_valid(&form.token) {
        return Err(dead_link());
    }
    let NewAdmin { email, password } = match NewAdmin::try_from(&form.admin) {
        Ok(admin) => admin,
        Err(e) => {
            return AdminResponse::page_with(
                StatusCode::BAD_REQUEST,
                "Create the first admin",
                &SetupPage {
                    csrf: &ctx.csrf,
                    urls: &ctx.urls,
                    token: &form.token,
                    email: &form.admin.email,
                    error: Some(e.message),
                },
            )
        }
    };
    let hash = state.hashing.hash(password.as_str()).await?;
    // Redeem only now: a typo above must not burn the link.
    if !state.setup.redeem(&form.token) {
        return Err(dead_link());
    }
    let admin_id = db
        .write(move |tx| {
            if db::admins::count(tx)? > 0 {
                return Err(dead_link());
            }
            Ok(db::admins::insert(tx, &email, &hash)?)
        })
        .await?;
    log::info!("admin setup: created the first admin");
    signed_in(
        &db,
        admin_id,
        ctx.urls.dashboard(),
        "Welcome! Your admin account is ready.",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::SetupToken;
    use crate::config::Clock;

    // Its 30 minutes are tested through the server, on a clock the test
    // moves (tests/admin/setup.rs).
    #[test]
    fn a_token_redeems_once() {
        let token = SetupToken::issue(Clock::default());
        let value = token.token().unwrap();
        assert!(!token.redeem("wrong"));
        assert!(token.redeem(&value));
        assert!(!token.redeem(&value), "dead after use");
        assert!(token.token().is_none());
    }
}
