//! `/tags`: the groups users form, each with its member count (extension).

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::data_list;
use crate::db::{policies, users, Db, StoreError};
use crate::domain::Scope;
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
    let (counts, stored) = db
        .read(|conn| Ok::<_, StoreError>((users::tags_with_counts(conn)?, policies::list(conn)?)))
        .await?;
    let mut tags: BTreeMap<String, (i64, bool)> = counts
        .into_iter()
        .map(|(name, members)| (name, (members, false)))
        .collect();
    for (scope, _) in stored {
        if let Scope::Tag(name) = scope {
            tags.entry(name).or_default().1 = true;
        }
    }
    Ok(data_list(
        tags.into_iter()
            .map(|(name, (members, has_policy))| TagSummary {
                name,
                members,
                has_policy,
            })
            .collect(),
    ))
}
