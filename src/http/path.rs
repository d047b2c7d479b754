//! Typed path segments (`web::Path<UserId>`): a segment that does not
//! parse is a 400 naming it, as JSON from the API and as a page from the
//! admin (which reads segments with its own config around `bad_segment`).

use actix_web::error::PathError;
use actix_web::{web, HttpRequest};

use crate::domain::InvalidInput;
use crate::error::ApiError;

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, req| ApiError::from(bad_segment(err, req)).into())
}

/// The id's own parser said what is wrong; the field is the segment's
/// name in the route (`{id}`). Every route has one typed segment at most.
pub fn bad_segment(err: PathError, req: &HttpRequest) -> InvalidInput {
    let problem = match err {
        PathError::Deserialize(problem) => problem.to_string(),
        other => other.to_string(),
    };
    let field = req
        .match_info()
        .iter()
        .next()
        .map_or("path", |(name, _)| name);
    InvalidInput::new(field, problem)
}
