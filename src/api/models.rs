//! `/models/{name}`: one model as a client retrieves it, catalog entries
//! added, changed and removed; `/models/{name}/price`, the price set or
//! removed (extension; a change applies to the chats recorded after it,
//! recorded costs never change); a provider's model list imported.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::chat;
use super::messages::{self, AnthropicModel};
use crate::db::models::{self, CatalogModel};
use crate::db::Db;
use crate::domain::{ModelInput, Price, PriceInput};
use crate::error::ApiError;
use crate::gateway::catalog::{ModelEntry, Route};
use crate::gateway::{import_models, Catalog, ImportReport};
use crate::governance::Governor;
use crate::http::JsonBody;

/// A model in OpenAI's shape, with the catalog's fields.
#[derive(Serialize)]
struct ModelView {
    #[serde(flatten)]
    model: ModelEntry,
    /// The model id sent upstream; none for the built-in `echo`.
    upstream: Option<String>,
    enabled: bool,
    price: Option<Price>,
}

impl From<CatalogModel> for ModelView {
    fn from(m: CatalogModel) -> ModelView {
        ModelView {
            model: ModelEntry {
                id: m.name,
                object: "model",
                created: m.created_at.millis() / 1000,
                owned_by: m.provider_id,
            },
            upstream: Some(m.upstream),
            enabled: m.enabled,
            price: m.price,
        }
    }
}

fn not_in_catalog(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "no model {name:?} in the catalog (the admin's Providers & models page, \
         `mindgate models` and POST /models/{{name}} add them)"
    ))
}

/// A model no caller of this key and user may see: the same 404 whether
/// it does not resolve, cannot answer, or a policy closes it, worded to be
/// true of each (and so telling a chat key no more than the listing does).
fn no_such_model(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "no model {name:?} is available to this key and user (it may be missing from the \
         catalog, unable to answer, or closed by a policy); GET /models lists the models \
         open to you"
    ))
}

/// One model, in OpenAI's shape with the catalog's fields (Anthropic's
/// with `anthropic-version`): any name that resolves to something able to
/// answer, open to the caller as `GET /models` is. A catalog entry, in any
/// case, answers as the catalog names it, read from the database (so as
/// changed this instant, by whichever process).
pub async fn show(
    req: HttpRequest,
    name: web::Path<String>,
    catalog: web::Data<Catalog>,
    governor: web::Data<Governor>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let subject = chat::subject(&req, &governor, &db).await?;
    let lookup = name.clone();
    let row = db.read(move |conn| models::find(conn, &lookup)).await?;
    let view = match row {
        Some(row) if row.enabled => Some(ModelView::from(row)),
        Some(_) => None,
        None => {
            let snapshot = catalog.snapshot();
            snapshot
                .resolve(&name)
                .ok()
                .filter(|r| snapshot.can_answer(r))
                .map(|r| ModelView {
                    model: snapshot.describe(&r),
                    upstream: match r.route {
                        Route::Echo => None,
                        Route::Upstream { upstream_model, .. } => Some(upstream_model),
                    },
                    enabled: true,
                    price: snapshot.price(&r.model),
                })
        }
    };
    let view = view
        .filter(|view| governor.opens_model(&subject, &view.model.id))
        .ok_or_else(|| no_such_model(&name))?;
    if messages::wants_anthropic_shape(&req) {
        return Ok(HttpResponse::Ok().json(AnthropicModel::from(&view.model)));
    }
    Ok(HttpResponse::Ok().json(view))
}

/// `POST /models/{name}`: a new catalog entry (201); a name the catalog
/// has in any case is a 409.
pub async fn create(
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    name: web::Path<String>,
    body: JsonBody<ModelInput>,
) -> Result<HttpResponse, ApiError> {
    let model = body.into_inner().new_model(&name)?;
    let row = db.write(move |tx| models::insert(tx, &model)).await?;
    catalog.reload().await?;
    Ok(HttpResponse::Created().json(ModelView::from(row)))
}

/// `PATCH /models/{name}`: changes the fields sent of the entry of that
/// name, in any case.
pub async fn update(
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    name: web::Path<String>,
    body: JsonBody<ModelInput>,
) -> Result<HttpResponse, ApiError> {
    let patch = body.into_inner().patch()?;
    let name = name.into_inner();
    let lookup = name.clone();
    let row = db
        .write(move |tx| match models::find(tx, &lookup)? {
            Some(found) => models::update(tx, &found.name, &patch),
            None => Ok(None),
        })
        .await?
        .ok_or_else(|| not_in_catalog(&name))?;
    catalog.reload().await?;
    Ok(HttpResponse::Ok().json(ModelView::from(row)))
}

/// `DELETE /models/{name}`: the entry of that name, in any case (204).
/// A name a family or the default provider takes still resolves there.
pub async fn delete(
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let lookup = name.clone();
    let deleted = db
        .write(move |tx| match models::find(tx, &lookup)? {
            Some(found) => models::delete(tx, &found.name),
            None => Ok(false),
        })
        .await?;
    if !deleted {
        return Err(not_in_catalog(&name));
    }
    catalog.reload().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What an import did, as the API shows it.
#[derive(Serialize)]
struct ImportView {
    provider: String,
    added: Vec<String>,
    /// In the catalog already, for this provider: left as they are.
    present: Vec<String>,
    skipped: Vec<Skipped>,
    truncated: bool,
}

#[derive(Serialize)]
struct Skipped {
    name: String,
    reason: String,
}

/// `POST /providers/{id}/models/sync`: imports the provider's model list
/// into the catalog.
pub async fn sync(
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let report = import_models(&db, catalog.secret_key(), &id).await?;
    catalog.reload().await?;
    let ImportReport {
        provider,
        imported,
        refused,
        truncated,
    } = report;
    Ok(HttpResponse::Ok().json(ImportView {
        provider,
        added: imported.added,
        present: imported.present,
        skipped: imported
            .skipped
            .into_iter()
            .chain(refused)
            .map(|(name, reason)| Skipped { name, reason })
            .collect(),
        truncated,
    }))
}

/// Sets (`Some`) or removes the price, reloads the gateway's catalog, and
/// answers with the model.
async fn change_price(
    db: &Db,
    catalog: &web::Data<Catalog>,
    name: String,
    price: Option<Price>,
) -> Result<HttpResponse, ApiError> {
    let lookup = name.clone();
    let model = db
        .write(move |tx| {
            if !models::set_price(tx, &lookup, price.as_ref())? {
                return Ok(None);
            }
            models::get(tx, &lookup)
        })
        .await?;
    let model = model.ok_or_else(|| not_in_catalog(&name))?;
    catalog.reload().await?;
    Ok(HttpResponse::Ok().json(ModelView::from(model)))
}

pub async fn set_price(
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    name: web::Path<String>,
    body: JsonBody<PriceInput>,
) -> Result<HttpResponse, ApiError> {
    let price = Price::try_from(body.into_inner())?;
    change_price(&db, &catalog, name.into_inner(), Some(price)).await
}

pub async fn delete_price(
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    change_price(&db, &catalog, name.into_inner(), None).await
}
