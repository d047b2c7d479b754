//! The middleware that demands an API key on every protected route.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use crate::db::{self, Db};
use crate::domain::{ApiKey, ApiKeyId, KeyHash, KeyScope, Timestamp};
use crate::error::ApiError;

/// The key that authenticated the request, left in the request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedKey {
    pub id: ApiKeyId,
    pub scope: KeyScope,
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

async fn authenticate(db: &Db, headers: &HeaderMap) -> Result<AuthenticatedKey, ApiError> {
    let key = presented_key(headers)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
            "missing API key: send it in the X-API-KEY header (or as Authorization: Bearer KEY)",
        )
        })?;
    let invalid = || ApiError::unauthorized("invalid API key");
    if !key.starts_with(ApiKey::PREFIX) {
        return Err(invalid());
    }
    let hash = KeyHash::of(key);
    let record = db
        .read_on_worker(move |conn| db::api_keys::find_by_hash(conn, &hash))
        .await?
        .ok_or_else(invalid)?;
    if record.revoked {
        return Err(ApiError::unauthorized("this API key has been revoked"));
    }
    let now = Timestamp::now();
    let stale = record
        .last_used_at
        .is_none_or(|t| now.millis() - t.millis() >= db::api_keys::LAST_USED_RESOLUTION_MS);
    if stale {
        db.write(move |tx| db::api_keys::touch(tx, record.id, now))
            .await?;
    }
    Ok(AuthenticatedKey {
        id: record.id,
        scope: record.scope,
    })
}

/// Middleware: lets a request through only with a valid, unrevoked key.
/// A path that no route serves passes, so it gets its 404 with or without one.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !req.resource_map().has_resource(req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let db = req
        .app_data::<web::Data<Db>>()
        .ok_or_else(|| ApiError::internal("database missing from app data"))?
        .clone();
    match authenticate(&db, req.headers()).await {
        Ok(key) => {
            req.extensions_mut().insert(key);
            Ok(next.call(req).await?.map_into_left_body())
        }
        // A response rather than an error, so the access log records it.
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}
