//! `/ai-characters`: AI characters, a title plus a system instruction.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::data_list;
use crate::db::characters;
use crate::db::Db;
use crate::domain::{CharacterId, CharacterInput, CharacterPatch, NewCharacter};
use crate::error::ApiError;
use crate::http::JsonBody;

fn no_such_character(id: &CharacterId) -> ApiError {
    ApiError::not_found(format!("no AI character with id {:?}", id.as_str()))
}

pub async fn list(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let characters = db.read(characters::list).await?;
    Ok(data_list(characters))
}

pub async fn create(
    db: web::Data<Db>,
    body: JsonBody<CharacterInput>,
) -> Result<HttpResponse, ApiError> {
    let new = NewCharacter::try_from(body.into_inner())?;
    let character = db.write(move |tx| characters::insert(tx, &new)).await?;
    Ok(HttpResponse::Ok().json(character))
}

pub async fn show(db: web::Data<Db>, id: web::Path<CharacterId>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let lookup = id.clone();
    let character = db
        .read(move |conn| characters::get(conn, lookup.as_str()))
        .await?;
    Ok(HttpResponse::Ok().json(character.ok_or_else(|| no_such_character(&id))?))
}

pub async fn update(
    db: web::Data<Db>,
    id: web::Path<CharacterId>,
    body: JsonBody<CharacterInput>,
) -> Result<HttpResponse, ApiError> {
    let patch = CharacterPatch::try_from(body.into_inner())?;
    let id = id.into_inner();
    let lookup = id.clone();
    let character = db
        .write(move |tx| characters::update(tx, lookup.as_str(), &patch))
        .await?;
    Ok(HttpResponse::Ok().json(character.ok_or_else(|| no_such_character(&id))?))
}

pub async fn delete(
    db: web::Data<Db>,
    id: web::Path<CharacterId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let lookup = id.clone();
    if !db
        .write(move |tx| characters::delete(tx, lookup.as_str()))
        .await?
    {
        return Err(no_such_character(&id));
    }
    Ok(HttpResponse::Ok().json(json!({ "success": true })))
}
