//! `/admin/api-keys` (Integrations > API Integration): keys for the REST
//! API, created here (admin or chat, maybe requiring a user) and shown
//! once, listed, revoked; `/admin/api-keys/{id}`: one key, its policy.

use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::access::AccessView;
use super::error::AdminError;
use super::guard::Ctx;
use super::paths::Urls;
use super::policies::{summary, Offer, PolicyForm};
use super::response::{AdminResponse, AdminResult, Flash};
use crate::db::api_keys::{self, ApiKeyInfo, Revoked};
use crate::db::{self, Db, StoreError};
use crate::domain::{ApiKey, ApiKeyId, KeyName, KeyScope, Policy, Scope};
use crate::gateway::Catalog;
use crate::governance::{Governor, Subject};

#[derive(Template)]
#[template(path = "api_keys.html")]
struct KeysPage<'a> {
    csrf: &'a str,
    urls: &'a Urls,
    keys: Vec<ApiKeyInfo>,
    /// The key just created: its only showing.
    created: Option<(String, String)>,
}

async fn keys_page(ctx: &Ctx, db: &Db, created: Option<(String, String)>) -> AdminResult {
    let mut keys = db.read(api_keys::list).await?;
    keys.reverse();
    AdminResponse::page(
        "API integration",
        &KeysPage {
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            keys,
            created,
        },
    )
}

pub async fn list(ctx: Ctx, db: web::Data<Db>) -> AdminResult {
    keys_page(&ctx, &db, None).await
}

#[derive(Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    name: String,
    /// `admin` or `chat`; absent (a form of before) is `admin`.
    #[serde(default)]
    scope: Option<String>,
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    requires_user: Option<String>,
}

/// Answers with the page itself, not a redirect: the key is shown in this
/// response only, and never stored in clear.
pub async fn create(
    ctx: Ctx,
    db: web::Data<Db>,
    governor: web::Data<Governor>,
    form: web::Form<NewKeyForm>,
) -> AdminResult {
    let name = KeyName::parse(&form.name)?;
    let scope = match &form.scope {
        Some(raw) => KeyScope::parse("scope", raw)?,
        None => KeyScope::Admin,
    };
    let requires_user = form.requires_user.is_some();
    let key = ApiKey::generate();
    let secret = key.as_str().to_owned();
    let info = db
        .write(move |tx| {
            let info = api_keys::insert(tx, name.as_str(), &key, scope)?;
            if requires_user {
                let policy = Policy {
                    requires_user,
                    ..Policy::default()
                };
                db::policies::put(tx, &Scope::Key(info.id), &policy)?;
            }
            Ok::<_, StoreError>(info)
        })
        .await?;
    if requires_user {
        governor.reload().await?;
    }
    keys_page(&ctx, &db, Some((info.name, secret))).await
}

#[derive(Template)]
#[template(path = "api_key.html")]
struct KeyPage<'a> {
    csrf: &'a str,
    urls: &'a Urls,
    key: ApiKeyInfo,
    summary: String,
    /// What a completion with the key and no user may use.
    access: AccessView,
    policy: PolicyForm,
}

/// A key's page; `sent` is its policy form just refused.
pub async fn key_page(
    ctx: &Ctx,
    db: &Db,
    catalog: &Catalog,
    governor: &Governor,
    id: ApiKeyId,
    sent: Option<PolicyForm>,
) -> AdminResult {
    let scope = Scope::Key(id);
    let lookup = scope.clone();
    let (key, stored) = db
        .read(move |conn| {
            Ok::<_, StoreError>((api_keys::get(conn, id)?, db::policies::get(conn, &lookup)?))
        })
        .await?;
    let key = key.ok_or_else(|| AdminError::NotFound(format!("no API key with id {id}")))?;
    let offer = Offer::load(db, catalog).await?;
    let policy = PolicyForm::shown(scope, stored.as_ref(), &offer, sent);
    let effective = governor.effective(&Subject {
        user: None,
        key: Some(id),
    });
    AdminResponse::page_with(
        policy.status(),
        &format!("API key {}", key.name),
        &KeyPage {
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            summary: summary(stored.as_ref(), &offer),
            access: AccessView::new(
                "a request with this key and no user",
                effective,
                &offer,
                &ctx.urls,
            ),
            key,
            policy,
        },
    )
}

pub async fn show(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    governor: web::Data<Governor>,
    id: web::Path<ApiKeyId>,
) -> AdminResult {
    key_page(&ctx, &db, &catalog, &governor, id.into_inner(), None).await
}

pub async fn confirm_revoke(ctx: Ctx, id: web::Path<ApiKeyId>) -> AdminResult {
    let id = id.into_inner();
    let question = format!(
        "Revoke API key {id}? Anything using it stops working at once; this cannot be undone."
    );
    AdminResponse::confirm(
        &ctx,
        "Revoke API key",
        &question,
        &ctx.urls.api_key_revoke(id),
        "Revoke key",
        &ctx.urls.api_keys(),
    )
}

pub async fn revoke(ctx: Ctx, db: web::Data<Db>, id: web::Path<ApiKeyId>) -> AdminResult {
    let id = id.into_inner();
    let flash = match db.write(move |tx| api_keys::revoke(tx, id)).await? {
        Revoked::Now => Flash::ok(format!("Revoked key {id}.")),
        Revoked::Already => Flash::ok(format!("Key {id} was already revoked.")),
        Revoked::NoSuchKey => return Err(AdminError::NotFound(format!("no API key with id {id}"))),
    };
    Ok(AdminResponse::redirect(ctx.urls.api_keys(), flash))
}
