//! Typed path segments (`web::Path<UserId>`): a segment that does not
//! parse is a 400 naming it, as JSON from the API and as a page from the
//! admin (whose guard renders every `ApiError` as HTML).

use actix_web::error::PathError;
use actix_web::{web, HttpRequest};

use crate::error::ApiError;

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(bad_segment)
}

/// The id's own parser said what is wrong; the field is the segment's
/// name in the route (`{id}`). Every route has one typed segment at most.
fn bad_segment(err: PathError, req: &HttpRequest) -> actix_web::Error {
    let problem = match err {
        PathError::Deserialize(problem) => problem.to_string(),
        other => other.to_string(),
    };
    let field = req
        .match_info()
        .iter()
        .next()
        .map_or("path", |(name, _)| name);
    ApiError::invalid_field(field, problem).into()
}
