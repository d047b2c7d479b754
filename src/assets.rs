//! The static files under `/static/`, embedded in the binary. Each is served
//! with a content-hash ETag and cached for good: pages link them with the
//! hash in the query (`admin::paths::Urls::asset`), so a new build busts the
//! cache.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

/// name -> hex of the first 8 bytes of the file's SHA-256.
fn hashes() -> &'static HashMap<String, String> {
    static HASHES: OnceLock<HashMap<String, String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        Static::iter()
            .filter_map(|name| {
                let file = Static::get(&name)?;
                let hex: String = file.metadata.sha256_hash()[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                Some((name.into_owned(), hex))
            })
            .collect()
    })
}

/// The version of an embedded file: a hash of its content.
pub fn version(name: &str) -> Option<&'static str> {
    hashes().get(name).map(String::as_str)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") | None => "text/plain; charset=utf-8",
        Some(_) => "application/octet-stream",
    }
}

async fn serve(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let name = path.into_inner();
    let (Some(file), Some(hash)) = (Static::get(&name), hashes().get(&name)) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("no static file {name}"));
    };
    let etag = format!("\"{hash}\"");
    let cache = (header::CACHE_CONTROL, "public, max-age=31536000, immutable");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header(cache)
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .insert_header(cache)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type(content_type(&name))
        .body(file.data.into_owned())
}

/// Mounts `/static/{name}`.
pub fn mount(cfg: &mut web::ServiceConfig) {
    cfg.route(crate::admin::paths::STATIC, web::get().to(serve));
}
