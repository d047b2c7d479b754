//! CORS in a real headless Chromium: a page on an origin that
//! `--cors-origins` lists posts JSON to the API with a key (the browser
//! sends a preflight first) and reads the answer; the same page on another
//! origin is stopped by the browser, and nothing reaches the API.
//!
//! Needs Debian's `chromium` and `chromium-driver`, like `browser`.

use std::net::TcpListener;

use actix_web::{web, App, HttpResponse, HttpServer};
use fantoccini::Client;
use mindgate::config::{AppConfig, HttpConfig};

use crate::browser::{connect, start_driver, wait_for_text};
use crate::helpers::{spawn_app_configured, TestApp};

/// Posts `email` as a new user to the API at `api` with `key` (all from
/// the query string), and shows what came of it.
const PAGE: &str = r#"<!doctype html>
<title>another origin</title>
<p id="out">waiting</p>
<script>
const params = new URLSearchParams(location.search);
const out = document.getElementById("out");
fetch(params.get("api") + "/api/v1/users", {
  method: "POST",
  headers: { "Content-Type": "application/json", "X-API-KEY": params.get("key") },
  body: JSON.stringify({ email: params.get("email") }),
})
  .then(async (r) => { out.textContent = "answered " + r.status + " " + (await r.json()).email; })
  .catch((e) => { out.textContent = "refused: " + e.name; });
</script>
"#;

/// A second server: the page, on two ports of 127.0.0.1, which makes two
/// origins.
fn serve_page() -> (String, String) {
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = |l: &TcpListener| format!("http://{}", l.local_addr().unwrap());
    let origins = (origin(&allowed), origin(&other));
    let server = HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(PAGE)
            }),
        )
    })
    .workers(1)
    .listen(allowed)
    .unwrap()
    .listen(other)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    origins
}

#[actix_web::test]
async fn a_page_on_a_listed_origin_calls_the_api_and_others_are_stopped() {
    let Some(driver) = start_driver() else {
        return;
    };
    let (allowed, other) = serve_page();
    let app = spawn_app_configured(AppConfig {
        http: HttpConfig {
            cors_origins: vec![allowed.clone()],
            ..HttpConfig::default()
        },
        ..AppConfig::default()
    })
    .await;
    let c = connect(&driver).await;
    let result = run(&app, &c, &allowed, &other).await;
    let _ = c.close().await;
    result.expect("browser session");
}

async fn run(
    app: &TestApp,
    c: &Client,
    allowed: &str,
    other: &str,
) -> Result<(), fantoccini::error::CmdError> {
    let key = app.api_key.clone();
    let page = |origin: &str, email: &str| {
        format!(
            "{origin}/?api={}&key={key}&email={email}",
            app.address.replace(':', "%3A").replace('/', "%2F")
        )
    };

    c.goto(&page(allowed, "ann@example.com")).await?;
    wait_for_text(c, "answered 200 ann@example.com").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = 'ann@example.com'"),
        1
    );

    c.goto(&page(other, "bob@example.com")).await?;
    wait_for_text(c, "refused: TypeError").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = 'bob@example.com'"),
        0,
        "the browser sent the POST after a refused preflight"
    );
    Ok(())
}
