//! Model names as local servers and their clients send them: the catalog
//! in any case (the chat log, the price and the policies see the catalog's
//! name), `PROVIDER/MODEL`, the default provider (automatic with a custom
//! OpenAI base URL, chosen, none), and a provider's model list imported
//! (the API, `--sync-models`, Anthropic's pages).

use mindgate::db::settings::DefaultProvider;
use mindgate::db::{models, providers};
use mindgate::domain::NewModel;

use super::*;
use crate::helpers::{error_message, send_body, spawn_app_with};

/// The model id the mock was sent last.
fn sent_model(gw: &Gateway) -> String {
    gw.mock.last().body["model"].as_str().unwrap().to_owned()
}

/// Adds an OpenAI-compatible provider `id` at the mock, with no key.
fn add_local_provider(gw: &Gateway, id: &str) {
    add_provider_at(gw, id, &gw.mock.openai_base());
}

/// Adds an OpenAI-compatible provider `id` at `base_url`, with no key.
fn add_provider_at(gw: &Gateway, id: &str, base_url: &str) {
    let secret = Default::default();
    gw.app
        .db
        .write_blocking(|tx| {
            providers::insert(
                tx,
                &secret,
                id,
                mindgate::db::providers::ProviderKind::OpenAi,
                "Local",
                base_url,
                None,
            )
        })
        .unwrap();
}

/// A gateway where gpt-4o costs 1000 USD per million tokens each way.
async fn spawn_gateway_with_dear_gpt_4o() -> Gateway {
    let gw = spawn_gateway().await;
    let (status, _) = send_body(
        gw.app.request(Method::PUT, "/api/v1/models/gpt-4o/price"),
        json!({"input": 1000, "output": 1000}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    gw
}

#[actix_web::test]
async fn a_catalog_name_in_any_case_is_the_catalogs_for_log_price_and_policy() {
    let gw = spawn_gateway_with_dear_gpt_4o().await;
    let app = &gw.app;
    // Everyone may use gpt-4o (and echo) only: `GPT-4O` must be it.
    app.put_policy("everyone", &json!({"models": ["gpt-4o", "echo"]}))
        .await;
    for name in ["GPT-4O", "Gpt-4o", "ECHO"] {
        let (status, answer) = gw.complete(&hello(name)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
    }
    assert_eq!(sent_model(&gw), "gpt-4o", "the catalog's upstream id");
    let chats = wait_for_chats(app, 3).await;
    let logged: Vec<_> = chats.iter().map(|c| c.model.clone().unwrap()).collect();
    assert_eq!(logged, ["gpt-4o", "gpt-4o", "echo"]);
    assert!(
        chats[0].cost_micros.unwrap() > 0,
        "priced as gpt-4o: {:?}",
        chats[0].cost_micros
    );
    let (_, usage) = app.get("/api/v1/usage?groupBy=model").await;
    let models: Vec<&str> = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["echo", "gpt-4o"], "{usage}");
    // A name the policy does not open is refused whatever its case.
    let (status, _) = gw.complete(&hello("GPT-4O-MINI")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn provider_slash_model_goes_to_that_provider_after_the_catalog() {
    let gw = spawn_gateway().await;
    add_local_provider(&gw, "ollama");
    // A catalog name with a `/` goes first, even where a provider has the
    // id before it.
    gw.app
        .db
        .write_blocking(|tx| {
            models::insert(
                tx,
                &NewModel {
                    name: "ollama/fast".into(),
                    provider: "openai".into(),
                    upstream: "gpt-4o-mini".into(),
                    enabled: true,
                    price: None,
                },
            )
        })
        .unwrap();
    // Written behind the server's back: it follows within seconds.
    gw.app.wait_for_model("ollama/probe", Some("ollama")).await;
    for (name, upstream, provider) in [
        ("ollama/llama3.1:8b", "llama3.1:8b", "ollama"),
        ("Ollama/qwen2.5", "qwen2.5", "ollama"),
        ("anthropic/claude-x", "claude-x", "anthropic"),
        ("ollama/fast", "gpt-4o-mini", "openai"),
    ] {
        let (status, answer) = gw.complete(&hello(name)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        assert_eq!(sent_model(&gw), upstream, "{name}");
        let (_, shown) = gw.app.get(&format!("/api/v1/models/{name}")).await;
        assert_eq!(shown["owned_by"], provider, "{name}: {shown}");
    }
    let chats = wait_for_chats(&gw.app, 4).await;
    let logged: Vec<_> = chats
        .iter()
        .map(|c| (c.model.clone().unwrap(), c.provider.clone().unwrap()))
        .collect();
    assert_eq!(
        logged[0],
        ("ollama/llama3.1:8b".to_owned(), "ollama".to_owned()),
        "the name as sent"
    );
}

#[actix_web::test]
async fn the_default_provider_is_automatic_chosen_or_none() {
    // The mock as OPENAI_BASE_URL: not OpenAI's own, so `openai` takes
    // every other name, sent upstream as it came.
    let gw = spawn_gateway().await;
    let (status, answer) = gw.complete(&hello("llama3.1:8b")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(sent_model(&gw), "llama3.1:8b");
    let (status, shown) = gw.app.get("/api/v1/models/mistral-small").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&shown["id"], &shown["owned_by"], &shown["upstream"]),
        (
            &json!("mistral-small"),
            &json!("openai"),
            &json!("mistral-small")
        )
    );

    // Chosen: another provider takes them.
    add_local_provider(&gw, "vllm");
    gw.app
        .set_default_provider(DefaultProvider::Provider("vllm".into()), Some("vllm"))
        .await;
    let (_, shown) = gw.app.get("/api/v1/models/qwen2.5").await;
    assert_eq!(shown["owned_by"], "vllm");
    let (status, _) = gw.complete(&hello("qwen2.5")).await;
    assert_eq!(status, StatusCode::OK);

    // None: refused, and the error says how to reach such a model.
    gw.app
        .set_default_provider(DefaultProvider::None, None)
        .await;
    let (status, error) = gw.complete(&hello("qwen2.5")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error_message(&error, "invalid_request_error");
    for says in ["qwen2.5", "PROVIDER/MODEL", "vllm", "no default provider"] {
        assert!(message.contains(says), "{message} does not say {says}");
    }
    let chats = wait_for_chats(&gw.app, 2).await;
    assert_eq!(chats[1].provider.as_deref(), Some("vllm"));
}

#[actix_web::test]
async fn openai_itself_is_no_default_provider() {
    // The built-in base URL: a name outside the catalog and the families
    // is refused rather than sent to OpenAI.
    let app = spawn_app_with(GatewayConfig {
        openai: ProviderSeed {
            base_url: None,
            api_key: Some(OPENAI_KEY.into()),
        },
        ..GatewayConfig::default()
    })
    .await;
    let (status, error) = app
        .post("/api/v1/chat/completions", &hello("llama3.1:8b"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error_message(&error, "invalid_request_error").contains("no default provider"));
}

#[actix_web::test]
async fn a_providers_model_list_is_imported_without_touching_the_catalog() {
    let gw = spawn_gateway().await;
    gw.mock.list_models(&[
        "llama3.1:8b",
        "qwen2.5",
        "mistral-small",
        "GPT-4O",
        "claude-haiku-4-5",
        "bad name",
    ]);
    let (status, report) = gw
        .app
        .post("/api/v1/providers/openai/models/sync", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["added"],
        json!(["llama3.1:8b", "qwen2.5", "mistral-small"])
    );
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        ["GPT-4O", "claude-haiku-4-5", "bad name"],
        "{report}"
    );
    let (_, claude) = gw.app.get("/api/v1/models/claude-haiku-4-5").await;
    assert_eq!(claude["owned_by"], "anthropic", "not stolen");
    let (_, listed) = gw.app.get("/api/v1/models").await;
    assert!(data_ids(&listed).contains(&"qwen2.5".to_owned()));
    let (status, _) = gw.complete(&hello("QWEN2.5")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, model) = gw.app.get("/api/v1/models/qwen2.5").await;
    assert!(
        model["created"].as_i64().unwrap() > 1_700_000_000,
        "{model}"
    );

    // Again: nothing new, nothing changed.
    let (_, again) = gw
        .app
        .post("/api/v1/providers/openai/models/sync", &json!({}))
        .await;
    assert_eq!(again["added"], json!([]));
    assert_eq!(
        again["present"],
        json!(["llama3.1:8b", "qwen2.5", "mistral-small"])
    );

    // Anthropic's list comes in pages, two at a time from the mock.
    gw.mock
        .list_models(&["claude-a", "claude-b", "claude-c", "claude-d", "claude-e"]);
    let before = gw.mock.model_lists();
    let (_, report) = gw
        .app
        .post("/api/v1/providers/anthropic/models/sync", &json!({}))
        .await;
    assert_eq!(
        report["added"],
        json!(["claude-a", "claude-b", "claude-c", "claude-d", "claude-e"])
    );
    assert_eq!(gw.mock.model_lists() - before, 3, "three pages");

    let (status, body) = gw
        .app
        .post("/api/v1/providers/nowhere/models/sync", &json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[actix_web::test]
async fn an_import_fails_clearly_when_the_provider_cannot_answer() {
    let gw = spawn_gateway().await;
    gw.mock.accept_only("some-other-key");
    let (status, error) = gw
        .app
        .post("/api/v1/providers/openai/models/sync", &json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    let message = error_message(&error, "upstream_error");
    assert!(message.contains("401"), "{message}");
    assert!(
        !message.contains(OPENAI_KEY),
        "the key is redacted: {message}"
    );
    // No key where one is needed: nothing is asked.
    let app = spawn_app_with(GatewayConfig::default()).await;
    let (status, error) = app
        .post("/api/v1/providers/anthropic/models/sync", &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert!(error_message(&error, "conflict_error").contains("ANTHROPIC_API_KEY"));
}

#[actix_web::test]
async fn an_import_error_shows_the_url_without_the_credentials_in_it() {
    let gw = spawn_gateway().await;
    gw.mock.accept_only("some-other-key");
    let base = gw.mock.openai_base();
    let with_user = base.replacen("http://", "http://user:secret@", 1);
    add_provider_at(&gw, "userinfo", &with_user);
    add_provider_at(&gw, "query", &format!("{base}?key=secret"));
    for id in ["userinfo", "query"] {
        let (status, error) = gw
            .app
            .post(&format!("/api/v1/providers/{id}/models/sync"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{id}: {error}");
        let message = error_message(&error, "upstream_error");
        assert!(message.contains(&base), "{id}: {message}");
        assert!(!message.contains("secret"), "{id}: {message}");
    }
}

#[actix_web::test]
async fn sync_models_at_start_imports_every_provider_that_can_answer() {
    let mock = MockUpstream::start().await;
    mock.list_models(&["llama3.1:8b", "qwen2.5"]);
    let mut config = config(&mock);
    config.sync_models = true;
    // Anthropic without a key is skipped (logged), never fatal.
    config.anthropic = ProviderSeed::default();
    let app = spawn_app_with(config).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, listed) = app.get("/api/v1/models").await;
        let ids = data_ids(&listed);
        if ids.contains(&"llama3.1:8b".to_owned()) && ids.contains(&"qwen2.5".to_owned()) {
            break;
        }
        assert!(Instant::now() < deadline, "never imported: {listed}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let owner =
        app.count("SELECT COUNT(*) FROM models WHERE provider_id = 'openai' AND name = 'qwen2.5'");
    assert_eq!(owner, 1);
}

fn data_ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn the_official_openai_sdk_retrieves_echo_and_local_models() {
    if !crate::helpers::python_with("openai", "openai") {
        return;
    }
    let gw = spawn_gateway().await;
    add_local_provider(&gw, "ollama");
    gw.app.wait_for_model("ollama/probe", Some("ollama")).await;
    let args = [gw.app.url("/api/v1"), gw.app.api_key.clone()]
        .into_iter()
        .chain(["echo", "llama3.1:8b", "ollama/qwen2.5", "GPT-4O"].map(String::from))
        .collect();
    let result = crate::helpers::run_python("openai_models.py", args).await;
    for (name, id, owner) in [
        ("echo", "echo", "mindgate"),
        ("llama3.1:8b", "llama3.1:8b", "openai"),
        ("ollama/qwen2.5", "ollama/qwen2.5", "ollama"),
        ("GPT-4O", "gpt-4o", "openai"),
    ] {
        assert_eq!(result[name]["id"], id, "{name}: {result}");
        assert_eq!(result[name]["object"], "model", "{name}");
        assert_eq!(result[name]["owned_by"], owner, "{name}");
        assert!(result[name]["answer"].is_string(), "{name}: {result}");
    }
    assert_eq!(gw.mock.last().body["model"], "gpt-4o");
    // Without a default provider, an unknown name is the SDK's NotFoundError.
    gw.app
        .set_default_provider(DefaultProvider::None, None)
        .await;
    let args = vec![
        gw.app.url("/api/v1"),
        gw.app.api_key.clone(),
        "llama3.1:8b".into(),
    ];
    let result = crate::helpers::run_python("openai_models.py", args).await;
    assert_eq!(
        result["llama3.1:8b"],
        json!({"error": "NotFoundError", "status": 404})
    );
}

#[actix_web::test]
async fn provider_slash_model_is_the_catalogs_entry_for_its_price_and_its_state() {
    let gw = spawn_gateway_with_dear_gpt_4o().await;
    let app = &gw.app;
    // `openai/gpt-4o` is what `gpt-4o` sends: it costs what gpt-4o does,
    // so no cost limit is escaped by naming the provider.
    let (status, answer) = gw.complete(&hello("openai/gpt-4o")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(sent_model(&gw), "gpt-4o");
    let chats = wait_for_chats(app, 1).await;
    assert_eq!(chats[0].model.as_deref(), Some("openai/gpt-4o"));
    assert!(
        chats[0].cost_micros.is_some_and(|cost| cost > 0),
        "priced as gpt-4o: {:?}",
        chats[0].cost_micros
    );
    let (_, shown) = app.get("/api/v1/models/openai/gpt-4o").await;
    assert_eq!(shown["price"]["input"], json!(1000.0), "{shown}");
    // Disabled in the catalog, it is disabled under its provider's name too.
    let (status, _) = app
        .patch("/api/v1/models/gpt-4o", &json!({"enabled": false}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let sent = gw.mock.received().len();
    for name in ["gpt-4o", "openai/gpt-4o", "OpenAI/gpt-4o"] {
        let (status, error) = gw.complete(&hello(name)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {error}");
        assert_eq!(error["error"]["param"], "model");
        assert!(
            error_message(&error, "invalid_request_error").contains("disabled"),
            "{error}"
        );
        let (status, _) = app.get(&format!("/api/v1/models/{name}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    }
    let (status, error) = app
        .post(
            "/api/v1/embeddings",
            &json!({"model": "openai/gpt-4o", "input": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(gw.mock.received().len(), sent, "nothing went upstream");
}

#[actix_web::test]
async fn a_model_name_longer_than_any_catalog_name_is_refused() {
    // The default provider takes any name: a huge one must not be sent
    // on, kept in memory or stored in the chat logs and usage.
    let gw = spawn_gateway().await;
    let long = "m".repeat(201);
    let bodies = [
        ("/api/v1/chat/completions", hello(&long)),
        ("/api/v1/responses", json!({"model": long, "input": "Hi"})),
        (
            "/api/v1/completions",
            json!({"model": long, "prompt": "Hi"}),
        ),
        ("/api/v1/embeddings", json!({"model": long, "input": "Hi"})),
    ];
    for (path, body) in bodies {
        let (status, error) = gw.app.post(path, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {error}");
        assert_eq!(error["error"]["param"], "model", "{path}");
        assert!(
            error_message(&error, "invalid_request_error").contains("200"),
            "{path}: {error}"
        );
    }
    let (status, _) = gw.app.get(&format!("/api/v1/models/{long}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(gw.mock.received().is_empty());
    // 200 characters is a name like any other.
    let (status, answer) = gw.complete(&hello(&"m".repeat(200))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
