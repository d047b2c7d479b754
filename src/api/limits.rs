//! `/users/{id}/limits`: what a user may use, through every policy that
//! applies to them, and where each of their limits stands (extension).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::{json, Value};

use crate::db::users::{self, User};
use crate::db::Db;
use crate::domain::{Limit, Metric, Micros, ModelPattern, Scope, Timestamp, UserId};
use crate::error::ApiError;
use crate::gateway::Catalog;
use crate::governance::{Access, Governor, LimitStatus, Member, Subject};

/// A user's effective access and limits. Costs are in USD.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserLimits<'a> {
    user: &'a User,
    /// The calendar day, week and month windows follow.
    timezone: String,
    models: AccessView<'a, ModelPattern>,
    characters: AccessView<'a, String>,
    limits: Vec<LimitView<'a>>,
}

/// `open: all`, or `open: only` with the scopes that grant, what each
/// grants, and (for models) the catalog's models that are open.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessView<'a, T> {
    open: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    granted_by: Option<Vec<Grant<'a, T>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    narrowed_by: Option<&'a [T]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    available: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Grant<'a, T> {
    scope: &'a Scope,
    allows: &'a [T],
}

impl<'a, T> AccessView<'a, T> {
    fn of(access: &'a Access<T>) -> AccessView<'a, T> {
        match access {
            Access::All => AccessView {
                open: "all",
                granted_by: None,
                narrowed_by: None,
                available: None,
            },
            Access::Only {
                granted,
                narrowed_by,
            } => AccessView {
                open: "only",
                granted_by: Some(
                    granted
                        .iter()
                        .map(|(scope, allows)| Grant { scope, allows })
                        .collect(),
                ),
                narrowed_by: narrowed_by.as_deref(),
                available: None,
            },
        }
    }
}

/// A limit, what it has used in its window, and when that ends.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LimitView<'a> {
    scope: &'a Scope,
    #[serde(flatten)]
    limit: &'a Limit,
    /// In USD for a cost, as `max` is.
    used: Value,
    window_start: Timestamp,
    resets_at: Timestamp,
}

impl<'a> LimitView<'a> {
    fn of(status: &'a LimitStatus) -> LimitView<'a> {
        let used = match status.limit.metric {
            Metric::CostUsd => json!(Micros(status.used)),
            Metric::Requests | Metric::Tokens => json!(status.used),
        };
        LimitView {
            scope: &status.scope,
            limit: &status.limit,
            used,
            window_start: status.window_start,
            resets_at: status.resets_at,
        }
    }
}

pub async fn show(
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    governor: web::Data<Governor>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let user = db
        .read(move |conn| users::get(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))?;
    let subject = Subject {
        user: Some(Member {
            id,
            tags: user.tags.as_slice().to_vec(),
        }),
        key: None,
    };
    let effective = governor.effective(&subject);
    let mut models = AccessView::of(&effective.models);
    models.available = Some(
        catalog
            .snapshot()
            .listing()
            .into_iter()
            .map(|model| model.id)
            .filter(|name| governor.opens_model(&subject, name))
            .collect(),
    );
    Ok(HttpResponse::Ok().json(UserLimits {
        user: &user,
        timezone: governor.rules().timezone().name().to_owned(),
        models,
        characters: AccessView::of(&effective.characters),
        limits: effective.limits.iter().map(LimitView::of).collect(),
    }))
}
