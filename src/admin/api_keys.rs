//! `/admin/api-keys` (Integrations > API Integration): keys for the REST
//! API, created here and shown once, listed, revoked.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::render::{Ctx, Flash};
use crate::db::api_keys::{self, ApiKeyInfo, Revoked};
use crate::db::Db;
use crate::domain::{ApiKey, ApiKeyId, KeyName};
use crate::error::ApiError;

#[derive(Template)]
#[template(path = "api_keys.html")]
struct KeysPage<'a> {
    csrf: &'a str,
    keys: Vec<ApiKeyInfo>,
    /// The key just created: its only showing.
    created: Option<(String, String)>,
}

async fn keys_page(
    ctx: &Ctx,
    db: &Db,
    created: Option<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let mut keys = db.read(api_keys::list).await?;
    keys.reverse();
    ctx.page(
        "API integration",
        &KeysPage {
            csrf: &ctx.csrf,
            keys,
            created,
        },
    )
}

pub async fn list(ctx: Ctx, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    keys_page(&ctx, &db, None).await
}

#[derive(Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    name: String,
}

/// Answers with the page itself, not a redirect: the key is shown in this
/// response only, and never stored in clear.
pub async fn create(
    ctx: Ctx,
    db: web::Data<Db>,
    form: web::Form<NewKeyForm>,
) -> Result<HttpResponse, ApiError> {
    let name = KeyName::parse(&form.name)?;
    let key = ApiKey::generate();
    let secret = key.as_str().to_owned();
    let info = db
        .write(move |tx| api_keys::insert(tx, name.as_str(), &key))
        .await?;
    keys_page(&ctx, &db, Some((info.name, secret))).await
}

pub async fn confirm_revoke(ctx: Ctx, id: web::Path<ApiKeyId>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let question = format!(
        "Revoke API key {id}? Anything using it stops working at once; this cannot be undone."
    );
    let action = format!("/admin/api-keys/{id}/revoke");
    ctx.confirm(
        "Revoke API key",
        &question,
        &action,
        "Revoke key",
        "/admin/api-keys",
    )
}

pub async fn revoke(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<ApiKeyId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let flash = match db.write(move |tx| api_keys::revoke(tx, id)).await? {
        Revoked::Now => Flash::ok(format!("Revoked key {id}.")),
        Revoked::Already => Flash::ok(format!("Key {id} was already revoked.")),
        Revoked::NoSuchKey => return Err(ApiError::not_found(format!("no API key with id {id}"))),
    };
    Ok(ctx.done("/admin/api-keys", flash))
}
