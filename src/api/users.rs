//! `/users`: the instance's users and their tags.

use actix_web::{web, HttpResponse};
use percent_encoding::percent_decode_str;
use serde_json::json;

use super::{bounded_param, data_list, QueryParams};
use crate::db::users::{self, UserFilter};
use crate::db::Db;
use crate::domain::{Email, NewUser, Tags, TagsInput, UserId, UserInput};
use crate::error::ApiError;
use crate::governance::Governor;
use crate::http::JsonBody;

fn no_such_user(id: UserId) -> ApiError {
    ApiError::not_found(format!("no user with id {id}"))
}

/// Normalises an `email` filter the way stored addresses are. A value that
/// is still percent-encoded after the query string's own decoding
/// (`user%40example.com`, as the spec's example shows it) is decoded again.
pub(super) fn email_filter(raw: &str) -> String {
    let raw = raw.trim();
    let decoded = if !raw.contains('@') && raw.contains('%') {
        percent_decode_str(raw).decode_utf8_lossy().into_owned()
    } else {
        raw.to_owned()
    };
    Email::normalise(&decoded)
}

pub async fn create(
    db: web::Data<Db>,
    body: JsonBody<UserInput>,
) -> Result<HttpResponse, ApiError> {
    let NewUser { email, tags } = body.into_inner().try_into()?;
    let user = db.write(move |tx| users::insert(tx, &email, &tags)).await?;
    Ok(HttpResponse::Ok().json(user))
}

pub async fn list(db: web::Data<Db>, query: QueryParams) -> Result<HttpResponse, ApiError> {
    let filter = UserFilter {
        email: query.get("email").map(email_filter),
        tag: query.get("tag").map(|t| t.trim().to_owned()),
        limit: bounded_param("limit", query.get("limit"), 1, 1000)?,
        offset: bounded_param("offset", query.get("offset"), 0, u32::MAX)?.unwrap_or(0),
    };
    let users = db.read(move |conn| users::list(conn, &filter)).await?;
    Ok(data_list(users))
}

pub async fn show(db: web::Data<Db>, id: web::Path<UserId>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let user = db.read(move |conn| users::get(conn, id)).await?;
    Ok(HttpResponse::Ok().json(user.ok_or_else(|| no_such_user(id))?))
}

pub async fn update(
    db: web::Data<Db>,
    id: web::Path<UserId>,
    body: JsonBody<TagsInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let tags = Tags::try_from(body.into_inner())?;
    let user = db.write(move |tx| users::set_tags(tx, id, &tags)).await?;
    Ok(HttpResponse::Ok().json(user.ok_or_else(|| no_such_user(id))?))
}

/// Removes the user; their policy goes with them (a trigger), so the
/// governor forgets it too.
pub async fn delete(
    db: web::Data<Db>,
    governor: web::Data<Governor>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !db.write(move |tx| users::delete(tx, id)).await? {
        return Err(no_such_user(id));
    }
    governor.reload().await?;
    Ok(HttpResponse::Ok().json(json!({ "success": true })))
}
