//! `/tags`: the groups users form, each with its member count (extension).

use actix_web::{web, HttpResponse};

use super::data_list;
use crate::db::{users, Db};
use crate::error::ApiError;

/// Every tag in use, and every tag with a policy but no members, by name.
pub async fn list(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    Ok(data_list(db.read(users::tags).await?))
}
