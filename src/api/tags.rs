//! `/tags`: the groups users form, each with its member count (extension).

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::data_list;
use crate::db::{policies, Db};
use crate::error::ApiError;

/// A tag: how many users carry it, and whether a policy is set for it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TagSummary {
    name: String,
    members: i64,
    has_policy: bool,
}

/// Every tag in use, and every tag with a policy but no members, by name.
pub async fn list(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let groups = db.read(policies::tag_groups).await?;
    Ok(data_list(
        groups
            .into_iter()
            .map(|group| TagSummary {
                name: group.name,
                members: group.members,
                has_policy: group.policy.is_some(),
            })
            .collect(),
    ))
}
