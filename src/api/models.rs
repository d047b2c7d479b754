//! `/models/{name}` and `/models/{name}/price`: a catalog model with its
//! price, and the price set or removed (extension). A change applies to the
//! chats recorded after it; recorded costs never change.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::db::models::{self, CatalogModel};
use crate::db::Db;
use crate::domain::{Price, PriceInput};
use crate::error::ApiError;
use crate::gateway::catalog::ECHO_MODEL;
use crate::gateway::Catalog;
use crate::http::JsonBody;

/// A model in OpenAI's shape, with the catalog's fields.
#[derive(Serialize)]
struct ModelView {
    id: String,
    object: &'static str,
    created: i64,
    owned_by: String,
    /// The model id sent upstream; none for the built-in `echo`.
    upstream: Option<String>,
    enabled: bool,
    price: Option<Price>,
}

impl From<CatalogModel> for ModelView {
    fn from(m: CatalogModel) -> ModelView {
        ModelView {
            id: m.name,
            object: "model",
            created: m.created_at.millis() / 1000,
            owned_by: m.provider_id,
            upstream: Some(m.upstream),
            enabled: m.enabled,
            price: m.price,
        }
    }
}

fn not_in_catalog(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "no model {name:?} in the catalog; only catalog models carry a price \
         (the admin's Providers & models page adds them)"
    ))
}

pub async fn show(db: web::Data<Db>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if name == ECHO_MODEL {
        return Ok(HttpResponse::Ok().json(ModelView {
            id: name,
            object: "model",
            created: 0,
            owned_by: "mindgate".to_owned(),
            upstream: None,
            enabled: true,
            price: None,
        }));
    }
    let lookup = name.clone();
    let model = db.read(move |conn| models::get(conn, &lookup)).await?;
    let model = model.ok_or_else(|| not_in_catalog(&name))?;
    Ok(HttpResponse::Ok().json(ModelView::from(model)))
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
