//! Calls to the API from web pages on other origins, for the origins the
//! operator lists (`--cors-origins`). With none listed there is no CORS at
//! all: no headers, and `OPTIONS` is a request like any other.
//!
//! Preflights are answered here, before the API key is checked (browsers
//! send them without one). Any request header is allowed: besides the key,
//! `Content-Type` and `X-User-Email`, the OpenAI SDKs add headers of their
//! own. The key, not the origin, is what protects the API, and no cookie is
//! ever involved, so credentials are never allowed.

use actix_cors::{Cors, CorsError};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Condition, Next};
use actix_web::ResponseError;

use crate::error::ApiError;

/// How long a browser may cache a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: usize = 3600;

/// Checks one `--cors-origins` entry: `*`, or `scheme://host[:port]` as a
/// browser sends it in `Origin` (lower case, no path).
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let origin = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    if origin == "*" {
        return Ok(origin);
    }
    let host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) => Ok(origin),
        _ => Err(format!(
            "{raw:?} is not an origin like https://chat.example.com (scheme, host and port; no path)"
        )),
    }
}

/// The API's CORS middleware: on only when `origins` lists some.
pub fn cors(origins: &[String]) -> Condition<Cors> {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
        .allow_any_header()
        .expose_headers([header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW])
        .max_age(PREFLIGHT_MAX_AGE);
    if origins.iter().any(|o| o == "*") {
        cors = cors.allow_any_origin().send_wildcard();
    } else {
        for origin in origins {
            cors = cors.allowed_origin(origin);
        }
    }
    Condition::new(!origins.is_empty(), cors)
}

/// Middleware around `cors`: its refusals of a preflight, in the API's JSON
/// error shape.
pub async fn cors_errors_as_json(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let Some(refusal) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<CorsError>())
    else {
        return Ok(res.map_into_left_body());
    };
    let error = match refusal {
        CorsError::OriginNotAllowed => {
            let origin = res
                .request()
                .headers()
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            ApiError::forbidden(format!(
                "pages on {origin} may not call this API; the server's --cors-origins \
                 (MINDGATE_CORS_ORIGINS) lists the origins that may"
            ))
        }
        other => ApiError::invalid(format!("CORS preflight refused: {other}")),
    }
    .error_response();
    Ok(res.into_response(error).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_are_scheme_host_and_port_as_browsers_send_them() {
        assert_eq!(
            parse_origin(" https://Chat.Example.com/ ").as_deref(),
            Ok("https://chat.example.com")
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:3000").as_deref(),
            Ok("http://127.0.0.1:3000")
        );
        assert_eq!(parse_origin("*").as_deref(), Ok("*"));
        for bad in [
            "",
            "chat.example.com",
            "https://",
            "https://chat.example.com/app",
            "https://chat.example.com?x=1",
            "ftp://chat.example.com",
        ] {
            let error = parse_origin(bad).unwrap_err();
            assert!(error.contains("is not an origin"), "{bad:?}: {error}");
        }
    }
}
