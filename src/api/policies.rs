//! `/policies`: what each scope (everyone, a tag, a user, an API key) opens
//! and how much it may use (extension). A change takes effect on the next
//! request: the governor reloads the policies after it.

use actix_web::{web, HttpResponse};
use rusqlite::Connection;
use serde::Serialize;

use super::data_list;
use crate::db::{api_keys, characters, policies, users, Db};
use crate::domain::{Policy, PolicyInput, Scope};
use crate::error::ApiError;
use crate::gateway::Catalog;
use crate::governance::Governor;
use crate::http::JsonBody;

/// A policy with its scope, as every route shows it.
#[derive(Serialize)]
struct PolicyView<'a> {
    scope: &'a Scope,
    #[serde(flatten)]
    policy: &'a Policy,
}

/// Something a stored policy names that does not exist (yet): said, not
/// refused, since a model may be added or routed by family later.
#[derive(Serialize)]
struct Warning {
    param: &'static str,
    value: String,
    message: String,
}

/// A stored policy, and what it names that does not exist.
#[derive(Serialize)]
struct Stored<'a> {
    #[serde(flatten)]
    view: PolicyView<'a>,
    warnings: Vec<Warning>,
}

/// The scope named in the path; a bad one is a 400 naming `scope`.
fn scope(raw: &str) -> Result<Scope, ApiError> {
    Ok(Scope::parse("scope", raw)?)
}

/// A user or key scope must name one that exists: 404 otherwise.
fn ensure_exists(conn: &Connection, scope: &Scope) -> Result<(), ApiError> {
    let missing = match scope {
        Scope::Everyone | Scope::Tag(_) => false,
        Scope::User(id) => users::get(conn, *id)?.is_none(),
        Scope::Key(id) => api_keys::get(conn, *id)?.is_none(),
    };
    if missing {
        return Err(
            ApiError::not_found(format!("there is no {}", scope.describe())).with_param("scope"),
        );
    }
    Ok(())
}

fn no_policy(scope: &Scope) -> ApiError {
    ApiError::not_found(format!("{} has no policy", scope.describe()))
}

/// Every stored policy, in the order of their scopes.
pub async fn list(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let stored = db.read(policies::list).await?;
    Ok(data_list(
        stored
            .iter()
            .map(|(scope, policy)| PolicyView { scope, policy })
            .collect(),
    ))
}

/// The scope's policy; one with none stored restricts nothing.
pub async fn show(db: web::Data<Db>, raw: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let scope = scope(&raw)?;
    let asked = scope.clone();
    let policy = db
        .read(move |conn| {
            ensure_exists(conn, &asked)?;
            Ok::<_, ApiError>(policies::get(conn, &asked)?)
        })
        .await?
        .ok_or_else(|| {
            // Deleted is gone: a scope with no policy restricts nothing.
            ApiError::not_found(format!(
                "{} has no policy: it opens everything and limits nothing (PUT one to set it)",
                scope.describe()
            ))
        })?;
    Ok(HttpResponse::Ok().json(PolicyView {
        scope: &scope,
        policy: &policy,
    }))
}

/// Replaces the scope's policy with the one sent (an empty one removes
/// it), and answers with it and what it names that does not exist.
pub async fn put(
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    governor: web::Data<Governor>,
    raw: web::Path<String>,
    body: JsonBody<PolicyInput>,
) -> Result<HttpResponse, ApiError> {
    let scope = scope(&raw)?;
    let policy = body.into_inner().check(&scope)?;
    let (stored, unknown_characters) = {
        let scope = scope.clone();
        db.write(move |tx| {
            ensure_exists(tx, &scope)?;
            policies::put(tx, &scope, &policy)?;
            let mut unknown = Vec::new();
            for id in policy.characters.iter().flatten() {
                if characters::get(tx, id)?.is_none() {
                    unknown.push(id.clone());
                }
            }
            Ok::<_, ApiError>((policy, unknown))
        })
        .await?
    };
    governor.reload().await?;
    let warnings = warnings(&catalog, &stored, unknown_characters);
    Ok(HttpResponse::Ok().json(Stored {
        view: PolicyView {
            scope: &scope,
            policy: &stored,
        },
        warnings,
    }))
}

/// What `policy` names that does not exist: model patterns that match no
/// model of `GET /models`, and the character ids found missing.
fn warnings(catalog: &Catalog, policy: &Policy, unknown_characters: Vec<String>) -> Vec<Warning> {
    let listed = catalog.snapshot().listing();
    let models = policy
        .models
        .iter()
        .flatten()
        .filter(|pattern| !listed.iter().any(|model| pattern.matches(&model.id)))
        .map(|pattern| Warning {
            param: "models",
            value: pattern.as_str().to_owned(),
            message: format!(
                "`{}` matches none of the models of GET /models; a name the gateway \
                 routes by family (gpt-4o-2024-08-06) still opens",
                pattern.as_str()
            ),
        });
    let characters = unknown_characters.into_iter().map(|id| Warning {
        param: "characters",
        message: format!("no AI character has the id {id:?}"),
        value: id,
    });
    models.chain(characters).collect()
}

/// Removes the scope's policy: 204, or 404 when it had none.
pub async fn delete(
    db: web::Data<Db>,
    governor: web::Data<Governor>,
    raw: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = scope(&raw)?;
    let asked = scope.clone();
    let deleted = db
        .write(move |tx| {
            ensure_exists(tx, &asked)?;
            Ok::<_, ApiError>(policies::delete(tx, &asked)?)
        })
        .await?;
    if !deleted {
        return Err(no_policy(&scope));
    }
    governor.reload().await?;
    Ok(HttpResponse::NoContent().finish())
}
