//! The providers page's "Import models" button and its default provider:
//! a provider's own model list added to the catalog (the flash says what
//! was added and skipped, or why nothing was), and the provider that takes
//! the names nothing else resolves.

use actix_web::http::StatusCode;
use mindgate::db::settings::{self, DefaultProvider};

use crate::common::html;
use crate::helpers::{signed_in, Browser, TestApp};
use crate::mock_upstream::MockUpstream;
use crate::providers::add_local;

const KEY: &str = "sk-local-0123456789abcd";

fn default_choice(app: &TestApp) -> DefaultProvider {
    app.db.read_blocking(settings::default_provider).unwrap()
}

async fn chat(app: &TestApp, model: &str) -> StatusCode {
    let body = serde_json::json!({"model": model, "messages": [{"role": "user", "content": "Hi"}]});
    app.post("/api/v1/chat/completions", &body).await.0
}

async fn import(browser: &Browser, id: &str) -> String {
    let u = &browser.urls;
    browser
        .post(&u.providers(), &u.provider_import(id), &[])
        .await
        .assert_redirect(&u.providers());
    browser.get(&u.providers()).await.body
}

#[actix_web::test]
async fn import_models_adds_what_the_provider_lists_and_says_what_it_skipped() {
    let (app, browser) = signed_in().await;
    let mock = MockUpstream::start().await;
    mock.accept_only(KEY);
    mock.list_models(&["llama3.1:8b", "qwen2.5", "gpt-4o", "Mistral Small"]);
    add_local(&browser, &mock.openai_base(), KEY).await;
    let page = import(&browser, "local").await;
    assert!(
        page.contains("Imported models from local: added 2 models (llama3.1:8b, qwen2.5)"),
        "{page}"
    );
    assert!(page.contains("skipped &#34;gpt-4o&#34;"), "{page}");
    assert!(page.contains("skipped &#34;Mistral Small&#34;"), "{page}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM models WHERE provider_id = 'local'"),
        2
    );
    assert_eq!(
        chat(&app, "qwen2.5").await,
        StatusCode::OK,
        "the gateway has it at once"
    );

    // A provider that refuses: an error flash, nothing added.
    mock.accept_only("another-key");
    mock.list_models(&["phi3"]);
    let page = import(&browser, "local").await;
    assert!(
        page.contains("Cannot import the models of Local box"),
        "{page}"
    );
    assert!(page.contains("401"), "{page}");
    assert!(!page.contains(KEY), "the key never shows");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM models WHERE name = 'phi3'"),
        0
    );
}

#[actix_web::test]
async fn a_failed_import_or_test_shows_the_url_without_its_credentials() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    let mock = MockUpstream::start().await;
    mock.accept_only("another-key");
    let base = mock
        .openai_base()
        .replacen("http://", "http://user:secret@", 1);
    add_local(&browser, &base, KEY).await;
    let page = import(&browser, "local").await;
    let flash = html::by_id(&page, "flash");
    assert!(
        flash.contains("Cannot import the models of Local box"),
        "{flash}"
    );
    let shown = mock.openai_base();
    assert!(flash.contains(&format!("{shown}/models")), "{flash}");
    assert!(!flash.contains("secret"), "{flash}");
    let tested = browser
        .hx_post(&u.providers(), &u.provider_test("local"), &[])
        .await;
    tested.assert_ok().assert_contains("badge-error");
    assert!(tested.body.contains(&shown), "{}", tested.body);
    assert!(!tested.body.contains("secret"), "{}", tested.body);
}

#[actix_web::test]
async fn the_default_provider_is_chosen_on_the_providers_page() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let mock = MockUpstream::start().await;
    add_local(&browser, &mock.openai_base(), KEY).await;
    assert_eq!(default_choice(&app), DefaultProvider::Automatic);
    // The built-in OpenAI base URL: no default, so other names are refused.
    assert_eq!(chat(&app, "llama3.1:8b").await, StatusCode::BAD_REQUEST);

    for (choice, stored, status) in [
        (
            "local",
            DefaultProvider::Provider("local".into()),
            StatusCode::OK,
        ),
        (":none", DefaultProvider::None, StatusCode::BAD_REQUEST),
        (
            ":automatic",
            DefaultProvider::Automatic,
            StatusCode::BAD_REQUEST,
        ),
    ] {
        browser
            .post(
                &u.providers(),
                &u.default_provider(),
                &[("provider", choice)],
            )
            .await
            .assert_redirect(&u.providers());
        assert_eq!(default_choice(&app), stored, "{choice}");
        assert_eq!(chat(&app, "llama3.1:8b").await, status, "{choice}");
    }
    let refused = browser
        .post(
            &u.providers(),
            &u.default_provider(),
            &[("provider", "nowhere")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    refused.assert_contains("no provider has the id");
    assert_eq!(default_choice(&app), DefaultProvider::Automatic);
}
