//! The providers page: keys masked and kept unless replaced, the connection
//! test against a local mock upstream, the model catalog, and the gateway
//! seeing every change at once.

use actix_web::http::StatusCode;

use mindgate::config::{AppConfig, GatewayConfig};
use mindgate::db::providers::ProviderSeed;
use mindgate::secrets::SecretKey;

use crate::common::html;
use crate::helpers::{signed_in, signed_in_with, Browser, TestApp};
use crate::mock_upstream::MockUpstream;

const GOOD_KEY: &str = "sk-test-0123456789abcd";

/// The base URL of a provider that takes only `GOOD_KEY` (it serves on
/// until the test ends).
async fn mock_upstream() -> String {
    let mock = MockUpstream::start().await;
    mock.accept_only(GOOD_KEY);
    mock.openai_base()
}

fn stored_key(app: &TestApp, id: &str) -> Option<String> {
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

/// Adds the provider `local` at `upstream`, with `key`.
pub(crate) async fn add_local(browser: &Browser, upstream: &str, key: &str) {
    let u = &browser.urls;
    browser
        .post(
            &u.providers(),
            &u.providers(),
            &[
                ("id", "local"),
                ("kind", "openai"),
                ("name", "Local box"),
                ("base_url", &format!("{upstream}/")),
                ("api_key", key),
            ],
        )
        .await
        .assert_redirect(&u.providers());
}

/// Saves the provider `local` with `fields` besides its name and URL.
async fn save_local(browser: &Browser, upstream: &str, fields: &[(&str, &str)]) {
    let u = &browser.urls;
    let mut all = vec![("name", "Local box"), ("base_url", upstream)];
    all.extend_from_slice(fields);
    browser
        .post(&u.providers(), &u.provider("local"), &all)
        .await
        .assert_redirect(&u.providers());
}

#[actix_web::test]
async fn the_built_in_providers_are_listed_without_keys() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    browser
        .get(&u.providers())
        .await
        .assert_ok()
        .assert_contains("id=\"provider-openai\"")
        .assert_contains("id=\"provider-anthropic\"")
        .assert_contains("(none set)");
}

#[actix_web::test]
async fn a_provider_with_a_bad_url_or_id_is_refused() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let upstream = mock_upstream().await;
    let bad_url = browser
        .post(
            &u.providers(),
            &u.providers(),
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
            &u.providers(),
            &u.providers(),
            &[
                ("id", "Local Box"),
                ("kind", "openai"),
                ("name", "Local"),
                ("base_url", &upstream),
            ],
        )
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("SELECT COUNT(*) FROM providers"), 2);
}

#[actix_web::test]
async fn an_added_providers_key_is_only_ever_shown_masked() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    let upstream = mock_upstream().await;
    add_local(&browser, &upstream, "wrong-key-but-long").await;
    let page = browser.get(&u.providers()).await;
    page.assert_contains("Added the provider Local box.")
        .assert_contains(&format!("value=\"{upstream}\""))
        .assert_contains("(set: ••••long;");
    assert!(
        !page.body.contains("wrong-key-but-long"),
        "the key is never shown"
    );
}

#[actix_web::test]
async fn the_connection_test_reports_the_providers_error_or_its_models() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    let upstream = mock_upstream().await;
    add_local(&browser, &upstream, "wrong-key-but-long").await;
    // The test reports the upstream's own error, the key it echoed hidden...
    let failed = browser
        .hx_post(&u.providers(), &u.provider_test("local"), &[])
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
    // ...and, with the right key, success.
    save_local(&browser, &upstream, &[("api_key", GOOD_KEY)]).await;
    let passed = browser
        .post(&u.providers(), &u.provider_test("local"), &[])
        .await;
    passed.assert_redirect(&u.providers());
    browser
        .get(&u.providers())
        .await
        .assert_contains("Local box: connected: 3 models available");
}

#[actix_web::test]
async fn an_empty_key_field_keeps_the_key_a_typed_one_replaces_it_and_removal_is_explicit() {
    let (app, browser) = signed_in().await;
    let upstream = mock_upstream().await;
    add_local(&browser, &upstream, "wrong-key-but-long").await;
    save_local(&browser, &upstream, &[("api_key", "")]).await;
    assert_eq!(
        stored_key(&app, "local").as_deref(),
        Some("wrong-key-but-long")
    );
    save_local(&browser, &upstream, &[("api_key", GOOD_KEY)]).await;
    assert_eq!(stored_key(&app, "local").as_deref(), Some(GOOD_KEY));
    save_local(&browser, &upstream, &[("remove_key", "on")]).await;
    assert_eq!(stored_key(&app, "local"), None);
}

#[actix_web::test]
async fn built_in_providers_stay_and_added_ones_can_go() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let upstream = mock_upstream().await;
    add_local(&browser, &upstream, "").await;
    let builtin = browser
        .post(&u.providers(), &u.provider_delete("openai"), &[])
        .await;
    assert_eq!(builtin.status, StatusCode::BAD_REQUEST);
    browser
        .post(&u.providers(), &u.provider_delete("local"), &[])
        .await
        .assert_redirect(&u.providers());
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
    let u = &browser.urls;
    let upstream = mock_upstream().await;
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
        .post(&u.providers(), &u.providers(), &form(GOOD_KEY))
        .await
        .assert_redirect(&u.providers());
    let first = sealed_key();
    let page = browser.get(&u.providers()).await;
    page.assert_contains("(set: ••••abcd;");
    assert!(!page.body.contains(GOOD_KEY), "the key is never shown");
    // The connection test sends the key itself, opened.
    browser
        .post(&u.providers(), &u.provider_test("local"), &[])
        .await
        .assert_redirect(&u.providers());
    browser
        .get(&u.providers())
        .await
        .assert_contains("Local box: connected: 3 models available");
    // Saved with the key field empty, the sealed key stays as it was.
    browser
        .post(&u.providers(), &u.provider("local"), &form("")[2..])
        .await
        .assert_redirect(&u.providers());
    assert_eq!(sealed_key(), first);
}

/// Both providers with a key (never used: nothing here chats), as the API
/// lists only models that can answer.
fn keyed() -> AppConfig {
    let seed = |key: &str| ProviderSeed {
        base_url: None,
        api_key: Some(key.to_owned()),
    };
    AppConfig {
        gateway: GatewayConfig {
            openai: seed("sk-listing-only"),
            anthropic: seed("sk-ant-listing-only"),
            ..GatewayConfig::default()
        },
        ..AppConfig::default()
    }
}

/// The models that the API lists now.
async fn gateway_models(app: &TestApp) -> Vec<String> {
    let mut response = awc::Client::default()
        .get(app.url("/api/v1/models"))
        .insert_header(("X-API-KEY", app.api_key.as_str()))
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
        .collect()
}

/// The catalog row of `model` on the providers page: its provider, what it
/// is sent upstream as, and its state.
async fn catalog_row(browser: &Browser, model: &str) -> Option<Vec<Vec<String>>> {
    let u = &browser.urls;
    let page = browser.get(&u.providers()).await;
    html::rows(&page.body)
        .into_iter()
        .find(|row| row.cell(0) == [model])
        .map(|row| row.0[1..4].to_vec())
}

#[actix_web::test]
async fn a_disabled_model_leaves_the_gateway_at_once() {
    let (app, browser) = signed_in_with(keyed()).await;
    let u = &browser.urls;
    assert!(gateway_models(&app).await.contains(&"gpt-4o".to_owned()));
    assert_eq!(
        catalog_row(&browser, "gpt-4-32k").await.unwrap(),
        [vec!["openai"], vec!["gpt-4o", "alias"], vec!["enabled"]]
    );
    browser
        .post(&u.providers(), &u.model_toggle(), &[("name", "gpt-4o")])
        .await
        .assert_redirect(&u.providers());
    browser
        .get(&u.providers())
        .await
        .assert_contains("The model gpt-4o is disabled.");
    assert_eq!(
        catalog_row(&browser, "gpt-4o").await.unwrap()[2],
        ["disabled"]
    );
    assert!(
        !gateway_models(&app).await.contains(&"gpt-4o".to_owned()),
        "disabled: gone from the gateway"
    );
}

#[actix_web::test]
async fn an_added_alias_reaches_the_gateway_until_it_is_removed() {
    let (app, browser) = signed_in_with(keyed()).await;
    let u = &browser.urls;
    browser
        .post(
            &u.providers(),
            &u.models(),
            &[
                ("name", "house-model"),
                ("provider", "anthropic"),
                ("upstream", "claude-haiku-4-5"),
                ("enabled", "on"),
            ],
        )
        .await
        .assert_redirect(&u.providers());
    assert!(gateway_models(&app)
        .await
        .contains(&"house-model".to_owned()));
    assert_eq!(
        catalog_row(&browser, "house-model").await.unwrap(),
        [
            vec!["anthropic"],
            vec!["claude-haiku-4-5", "alias"],
            vec!["enabled"]
        ]
    );
    browser
        .get(&u.model_delete("house-model"))
        .await
        .assert_contains("Remove the model house-model from the catalog?");
    browser
        .post(&u.providers(), &u.model_delete("house-model"), &[])
        .await
        .assert_redirect(&u.providers());
    assert!(!gateway_models(&app)
        .await
        .contains(&"house-model".to_owned()));
    assert_eq!(catalog_row(&browser, "house-model").await, None);
}

#[actix_web::test]
async fn an_empty_upstream_field_sends_the_model_as_its_name() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    browser
        .post(
            &u.providers(),
            &u.models(),
            &[
                ("name", "llama3.1:8b"),
                ("provider", "openai"),
                ("upstream", " "),
                ("enabled", "on"),
            ],
        )
        .await
        .assert_redirect(&u.providers());
    assert_eq!(
        catalog_row(&browser, "llama3.1:8b").await.unwrap(),
        [vec!["openai"], vec!["same"], vec!["enabled"]],
        "sent upstream as its own name"
    );
}

#[actix_web::test]
async fn a_model_of_no_provider_or_no_model_is_refused() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    let unknown = browser
        .post(
            &u.providers(),
            &u.models(),
            &[("name", "x"), ("provider", "nowhere")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    unknown.assert_contains("no provider has the id");
    let missing = browser
        .post(&u.providers(), &u.model_toggle(), &[("name", "nope")])
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// The price cell of `model`'s catalog row.
async fn price_cell(browser: &Browser, model: &str) -> Vec<String> {
    let page = browser.get(&browser.urls.providers()).await;
    html::rows(&page.body)
        .into_iter()
        .find(|row| row.cell(0) == [model])
        .map(|row| row.cell(4).to_vec())
        .unwrap_or_else(|| panic!("no catalog row for {model}"))
}

/// The price the API shows for `model`.
async fn api_price(app: &TestApp, model: &str) -> serde_json::Value {
    let (_, body) = app.get(&format!("/api/v1/models/{model}")).await;
    body["price"].clone()
}

#[actix_web::test]
async fn prices_are_shown_set_refused_and_removed_from_the_catalog() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    assert_eq!(
        price_cell(&browser, "gpt-4o").await,
        ["in $2.5 · out $10 · cache read $1.25"],
        "the list price"
    );
    let price = |input, output, read, write| {
        vec![
            ("name", "gpt-4o"),
            ("input", input),
            ("output", output),
            ("cacheRead", read),
            ("cacheWrite", write),
        ]
    };
    browser
        .post(
            &u.providers(),
            &u.model_price(),
            &price("0.15", "0.6", "", "3.125"),
        )
        .await
        .assert_redirect(&u.providers());
    browser
        .get(&u.providers())
        .await
        .assert_contains("The model gpt-4o costs $0.15 in, $0.6 out per million tokens.");
    assert_eq!(
        price_cell(&browser, "gpt-4o").await,
        ["in $0.15 · out $0.6 · cache write $3.125"]
    );
    assert_eq!(
        api_price(&app, "gpt-4o").await,
        serde_json::json!({"input": 0.15, "output": 0.6, "cacheRead": null, "cacheWrite": 3.125}),
        "the gateway's catalog was reloaded"
    );
    for (fields, says) in [
        (price("-1", "1", "", ""), "`input` must not be negative"),
        (price("1", "ten", "", ""), "`output` must be a number"),
        (price("1", "", "", ""), "`output` is required"),
        (price("1", "1", "NaN", ""), "`cacheRead` must be a number"),
    ] {
        let refused = browser
            .post(&u.providers(), &u.model_price(), &fields)
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{says}");
        refused.assert_contains(says);
    }
    assert_eq!(api_price(&app, "gpt-4o").await["input"], 0.15, "unchanged");
    browser
        .post(
            &u.providers(),
            &u.model_price(),
            &[("name", "gpt-4o"), ("remove", "1")],
        )
        .await
        .assert_redirect(&u.providers());
    assert_eq!(price_cell(&browser, "gpt-4o").await, ["no price"]);
    assert_eq!(api_price(&app, "gpt-4o").await, serde_json::Value::Null);
}
