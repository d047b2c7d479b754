//! `/admin/api-keys` (Integrations > API Integration): keys for the REST
//! API, created here and shown once, listed, revoked.

use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::guard::Ctx;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult, Flash};
use crate::db::api_keys::{self, ApiKeyInfo, Revoked};
use crate::db::Db;
use crate::domain::{ApiKey, ApiKeyId, KeyName, KeyScope};

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
}

/// Answers with the page itself, not a redirect: the key is shown in this
/// response only, and never stored in clear.
pub async fn create(ctx: Ctx, db: web::Data<Db>, form: web::Form<NewKeyForm>) -> AdminResult {
    let name = KeyName::parse(&form.name)?;
    let key = ApiKey::generate();
    let secret = key.as_str().to_owned();
    let info = db
        .write(move |tx| api_keys::insert(tx, name.as_str(), &key, KeyScope::Admin))
        .await?;
    keys_page(&ctx, &db, Some((info.name, secret))).await
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
