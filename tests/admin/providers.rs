//! The providers page: keys masked and kept unless replaced, the connection
//! test against a local mock upstream, the model catalog, and the gateway
//! seeing every change at once.

use std::net::TcpListener;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::json;

use mindgate::config::{AppConfig, GatewayConfig};
use mindgate::secrets::SecretKey;

use crate::helpers::{signed_in, signed_in_with};

const GOOD_KEY: &str = "sk-test-0123456789abcd";

/// An OpenAI-style `/models` that wants `GOOD_KEY`; returns its base URL.
fn mock_upstream() -> String {
    async fn models(req: HttpRequest) -> HttpResponse {
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth == format!("Bearer {GOOD_KEY}") {
            HttpResponse::Ok().json(json!({"data": [{"id": "m1"}, {"id": "m2"}, {"id": "m3"}]}))
        } else {
            // Echoing the key, as some providers do.
            HttpResponse::Unauthorized().json(
                json!({"error": {"message": format!("Incorrect API key <provided>: {auth}")}}),
            )
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = HttpServer::new(|| App::new().route("/v1/models", web::get().to(models)))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);
    format!("http://{address}/v1")
}

fn stored_key(app: &crate::helpers::TestApp, id: &str) -> Option<String> {
    app.db
        .read_blocking(|c| {
            Ok::<_, mindgate::db::StoreError>(c.query_row(
                "SELECT api_key FROM providers WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
        .unwrap()
}

#[actix_web::test]
async fn provider_keys_are_masked_kept_and_tested() {
    let (app, browser) = signed_in().await;
    let upstream = mock_upstream();
    let page = browser.get("/admin/providers").await;
    page.assert_ok()
        .assert_contains("id=\"provider-openai\"")
        .assert_contains("id=\"provider-anthropic\"")
        .assert_contains("(none set)");
    let bad_url = browser
        .post(
            "/admin/providers",
            "/admin/providers",
            &[
                ("id", "local"),
                ("kind", "openai"),
                ("name", "Local"),
                ("base_url", "ftp://x"),
            ],
        )
        .await;
    assert_eq!(bad_url.status, StatusCode::BAD_REQUEST);
    bad_url.assert_contains("`base_url` must be an http:// or https:// URL");
    let bad_id = browser
        .post(
            "/admin/providers",
            "/admin/providers",
            &[
                ("id", "Local Box"),
                ("kind", "openai"),
                ("name", "Local"),
                ("base_url", &upstream),
            ],
        )
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    browser
        .post(
            "/admin/providers",
            "/admin/providers",
            &[
                ("id", "local"),
                ("kind", "openai"),
                ("name", "Local box"),
                ("base_url", &format!("{upstream}/")),
                ("api_key", "wrong-key-but-long"),
            ],
        )
        .await
        .assert_redirect("/admin/providers");
    let page = browser.get("/admin/providers").await;
    page.assert_contains("Added the provider Local box.")
        .assert_contains(&format!("value=\"{upstream}\""))
        .assert_contains("(set: ••••long;");
    assert!(
        !page.body.contains("wrong-key-but-long"),
        "the key is never shown"
    );

    // The test reports the upstream's own error...
    let failed = browser
        .hx_post("/admin/providers", "/admin/providers/local/test", &[])
        .await;
    failed
        .assert_ok()
        .assert_contains("badge-error")
        .assert_contains("answered 401: Incorrect API key &#60;provided&#62;: Bearer [redacted]");
    assert!(
        !failed.body.contains("wrong-key-but-long"),
        "{}",
        failed.body
    );
    // ...and, with the right key, success. Saving with an empty key field
    // keeps the key; typing one replaces it.
    let save = |key: &'static str| {
        [
            ("name", "Local box"),
            ("base_url", upstream.as_str()),
            ("api_key", key),
        ]
    };
    browser
        .post("/admin/providers", "/admin/providers/local", &save(""))
        .await
        .assert_redirect("/admin/providers");
    assert_eq!(
        stored_key(&app, "local").as_deref(),
        Some("wrong-key-but-long")
    );
    browser
        .post(
            "/admin/providers",
            "/admin/providers/local",
            &save(GOOD_KEY),
        )
        .await;
    assert_eq!(stored_key(&app, "local").as_deref(), Some(GOOD_KEY));
    let passed = browser
        .post("/admin/providers", "/admin/providers/local/test", &[])
        .await;
    passed.assert_redirect("/admin/providers");
    browser
        .get("/admin/providers")
        .await
        .assert_contains("Local box: connected: 3 models available");
    // Removing the key is explicit.
    browser
        .post(
            "/admin/providers",
            "/admin/providers/local",
            &[
                ("name", "Local box"),
                ("base_url", upstream.as_str()),
                ("remove_key", "on"),
            ],
        )
        .await;
    assert_eq!(stored_key(&app, "local"), None);
    // Built-in providers stay; added ones can go.
    let builtin = browser
        .post("/admin/providers", "/admin/providers/openai/delete", &[])
        .await;
    assert_eq!(builtin.status, StatusCode::BAD_REQUEST);
    browser
        .post("/admin/providers", "/admin/providers/local/delete", &[])
        .await
        .assert_redirect("/admin/providers");
    assert_eq!(app.count("SELECT COUNT(*) FROM providers"), 2);
}

#[actix_web::test]
async fn with_a_secret_typed_keys_are_stored_sealed_shown_masked_and_still_work() {
    let secret = SecretKey::derive("kQ3v8yXo1c5Jm2Rz7Tq4Wb9Ld6Hs0Fp+Ae3Gn8Ku1Y=", "test").unwrap();
    let config = AppConfig {
        gateway: GatewayConfig {
            secret_key: secret,
            ..GatewayConfig::default()
        },
        ..AppConfig::default()
    };
    let (app, browser) = signed_in_with(config).await;
    let upstream = mock_upstream();
    let sealed_key = || {
        let stored = stored_key(&app, "local").expect("a stored key");
        assert!(stored.starts_with("enc:v1:"), "{stored}");
        let chars: Vec<char> = GOOD_KEY.chars().collect();
        for window in chars.windows(6) {
            let part: String = window.iter().collect();
            assert!(!stored.contains(&part), "{part:?} of the key in {stored}");
        }
        stored
    };
    let form = |key: &'static str| {
        [
            ("id", "local"),
            ("kind", "openai"),
            ("name", "Local box"),
            ("base_url", upstream.as_str()),
            ("api_key", key),
        ]
    };
    browser
        .post("/admin/providers", "/admin/providers", &form(GOOD_KEY))
        .await
        .assert_redirect("/admin/providers");
    let first = sealed_key();
    let page = browser.get("/admin/providers").await;
    page.assert_contains("(set: ••••abcd;");
    assert!(!page.body.contains(GOOD_KEY), "the key is never shown");
    // The connection test sends the key itself, opened.
    browser
        .post("/admin/providers", "/admin/providers/local/test", &[])
        .await
        .assert_redirect("/admin/providers");
    browser
        .get("/admin/providers")
        .await
        .assert_contains("Local box: connected: 3 models available");
    // Saved with the key field empty, the sealed key stays as it was.
    browser
        .post("/admin/providers", "/admin/providers/local", &form("")[2..])
        .await
        .assert_redirect("/admin/providers");
    assert_eq!(sealed_key(), first);
}

#[actix_web::test]
async fn the_model_catalog_changes_reach_the_gateway_at_once() {
    let (app, browser) = signed_in().await;
    let key = app.api_key();
    let listed = || async {
        let mut response = awc::Client::default()
            .get(app.url("/api/v1/models"))
            .insert_header(("X-API-KEY", key.as_str()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await.unwrap();
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(listed().await.contains(&"gpt-4o".to_owned()));
    browser
        .get("/admin/providers")
        .await
        .assert_contains("<code>gpt-4-32k</code></td>");
    browser
        .post(
            "/admin/providers",
            "/admin/models/toggle",
            &[("name", "gpt-4o")],
        )
        .await
        .assert_redirect("/admin/providers");
    browser
        .get("/admin/providers")
        .await
        .assert_contains("The model gpt-4o is disabled.");
    assert!(
        !listed().await.contains(&"gpt-4o".to_owned()),
        "disabled: gone from the gateway"
    );
    browser
        .post(
            "/admin/providers",
            "/admin/models",
            &[
                ("name", "house-model"),
                ("provider", "anthropic"),
                ("upstream", "claude-haiku-4-5"),
                ("enabled", "on"),
            ],
        )
        .await
        .assert_redirect("/admin/providers");
    assert!(listed().await.contains(&"house-model".to_owned()));
    let page = browser.get("/admin/providers").await;
    page.assert_contains(
        "<code>claude-haiku-4-5</code> <span class=\"badge badge-muted\">alias</span>",
    );
    let unknown = browser
        .post(
            "/admin/providers",
            "/admin/models",
            &[("name", "x"), ("provider", "nowhere")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    unknown.assert_contains("no provider has the id");
    browser
        .get("/admin/models/delete?name=house-model")
        .await
        .assert_contains("Remove the model house-model from the catalog?");
    browser
        .post(
            "/admin/providers",
            "/admin/models/delete?name=house-model",
            &[],
        )
        .await
        .assert_redirect("/admin/providers");
    assert!(!listed().await.contains(&"house-model".to_owned()));
    let missing = browser
        .post(
            "/admin/providers",
            "/admin/models/toggle",
            &[("name", "nope")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
