//! `/ai-characters`: AI characters, a title plus a system instruction.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::data_list;
use crate::db::characters;
use crate::db::Db;
use crate::domain::{CharacterPatch, JsonObject, NewCharacter};
use crate::error::ApiError;

fn no_such_character(id: &str) -> ApiError {
    ApiError::not_found(format!("no AI character with id {id:?}"))
}

pub async fn list(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let characters = db.read(characters::list).await?;
    Ok(data_list(characters))
}

pub async fn create(db: web::Data<Db>, body: JsonObject) -> Result<HttpResponse, ApiError> {
    let new = NewCharacter::parse(&body)?;
    let character = db.write(move |tx| characters::insert(tx, &new)).await?;
    Ok(HttpResponse::Ok().json(character))
}

pub async fn show(db: web::Data<Db>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let lookup = id.clone();
    let character = db.read(move |conn| characters::get(conn, &lookup)).await?;
    Ok(HttpResponse::Ok().json(character.ok_or_else(|| no_such_character(&id))?))
}

pub async fn update(
    db: web::Data<Db>,
    id: web::Path<String>,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let patch = CharacterPatch::parse(&body)?;
    let id = id.into_inner();
    let lookup = id.clone();
    let character = db
        .write(move |tx| characters::update(tx, &lookup, &patch))
        .await?;
    Ok(HttpResponse::Ok().json(character.ok_or_else(|| no_such_character(&id))?))
}

pub async fn delete(db: web::Data<Db>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let lookup = id.clone();
    if !db.write(move |tx| characters::delete(tx, &lookup)).await? {
        return Err(no_such_character(&id));
    }
    Ok(HttpResponse::Ok().json(json!({ "success": true })))
}
