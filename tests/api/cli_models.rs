//! `mindgate models`: the catalog from the command line, against the
//! database of a running server, which follows within seconds.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::gateway::{hello, spawn_gateway, Gateway};
use crate::helpers::{mindgate, stderr, stdout};

/// Runs `mindgate models ARGS --db` on the gateway's database.
pub(crate) async fn models(gw: &Gateway, args: &[&str]) -> std::process::Output {
    let db = gw.app.db_path.to_str().unwrap().to_owned();
    let mut all = vec!["models"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--db", &db]);
    mindgate(&all).await
}

#[actix_web::test]
async fn models_are_added_aliased_listed_and_removed_while_the_server_runs() {
    let gw = spawn_gateway().await;
    let added = models(&gw, &["add", "llama3.1:8b", "--provider", "anthropic"]).await;
    assert!(added.status.success(), "{}", stderr(&added));
    assert_eq!(
        stdout(&added),
        "llama3.1:8b -> anthropic llama3.1:8b (enabled)\n"
    );
    gw.app.wait_listed("llama3.1:8b", Some("anthropic")).await;
    let (status, _) = gw.complete(&hello("llama3.1:8b")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        gw.mock.last().path,
        "/v1/messages",
        "the catalog's provider"
    );

    // An alias takes its target's provider, upstream id and price.
    let alias = models(&gw, &["alias", "fast", "GPT-4O-MINI"]).await;
    assert!(alias.status.success(), "{}", stderr(&alias));
    assert_eq!(stdout(&alias), "fast -> openai gpt-4o-mini (enabled)\n");
    let (_, fast) = gw.app.get("/api/v1/models/fast").await;
    assert_eq!(fast["price"]["input"], 0.15, "{fast}");
    let own = models(&gw, &["alias", "local", "qwen2.5", "--provider", "openai"]).await;
    assert!(own.status.success(), "{}", stderr(&own));
    let slash = models(&gw, &["alias", "claude", "anthropic/claude-haiku-4-5"]).await;
    assert_eq!(
        stdout(&slash),
        "claude -> anthropic claude-haiku-4-5 (enabled)\n"
    );

    let list = models(&gw, &["list"]).await;
    let listed = stdout(&list);
    assert!(listed.starts_with("NAME"), "{listed}");
    for row in ["llama3.1:8b", "fast", "local", "qwen2.5"] {
        assert!(listed.contains(row), "{row} missing: {listed}");
    }
    assert!(listed
        .ends_with("default provider: automatic (openai when its base URL is not OpenAI's own)\n"));

    // The admin's rules: every refusal says why, and changes nothing.
    for (args, says) in [
        (
            vec!["add", "LLAMA3.1:8B", "--provider", "openai"],
            "unique in any case",
        ),
        (
            vec!["add", "x", "--provider", "nowhere"],
            "no provider has the id \"nowhere\"",
        ),
        (
            vec!["add", "a b", "--provider", "openai"],
            "`name` must not contain white space",
        ),
        (vec!["add", "echo", "--provider", "openai"], "built-in"),
        (vec!["alias", "y", "nope"], "--provider"),
        (vec!["remove", "nope"], "no model \"nope\""),
    ] {
        let refused = models(&gw, &args).await;
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&refused).contains(says),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    let removed = models(&gw, &["remove", "FAST"]).await;
    assert_eq!(stdout(&removed), "removed fast from the catalog\n");
    gw.app.wait_listed("fast", None).await;
    let (_, fast) = gw.app.get("/api/v1/models/fast").await;
    assert_eq!(
        fast["price"],
        json!(null),
        "the default provider's now, with no price"
    );
}

#[actix_web::test]
async fn an_empty_upstream_or_alias_target_is_refused_not_taken_as_the_name() {
    let gw = spawn_gateway().await;
    for args in [
        vec!["add", "local", "--provider", "openai", "--upstream", ""],
        vec!["alias", "local", "", "--provider", "openai"],
    ] {
        let refused = models(&gw, &args).await;
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&refused).contains("`upstream` must be 1 to 200 characters"),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    assert_eq!(
        gw.app
            .count("SELECT COUNT(*) FROM models WHERE name = 'local'"),
        0
    );
}

#[actix_web::test]
async fn the_default_provider_is_set_from_the_command_line() {
    let gw = spawn_gateway().await;
    let none = models(&gw, &["default", "--none"]).await;
    assert_eq!(stdout(&none), "default provider: none\n");
    gw.app.wait_for_model("llama3.1:8b", None).await;
    let (status, _) = gw.complete(&hello("llama3.1:8b")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let chosen = models(&gw, &["default", "anthropic"]).await;
    assert!(chosen.status.success(), "{}", stderr(&chosen));
    gw.app
        .wait_for_model("llama3.1:8b", Some("anthropic"))
        .await;
    let shown = models(&gw, &["default"]).await;
    assert_eq!(stdout(&shown), "default provider: anthropic\n");
    let both = models(&gw, &["default", "openai", "--none"]).await;
    assert_eq!(both.status.code(), Some(2), "a usage error");
    let unknown = models(&gw, &["default", "nowhere"]).await;
    assert!(stderr(&unknown).contains("no provider has the id \"nowhere\""));
}

#[actix_web::test]
async fn sync_imports_the_providers_models_into_a_running_server() {
    let gw = spawn_gateway().await;
    gw.mock
        .list_models(&["llama3.1:8b", "qwen2.5", "mistral-small", "gpt-4o"]);
    gw.app
        .set_default_provider(mindgate::db::settings::DefaultProvider::None, None)
        .await;
    let synced = models(&gw, &["sync", "openai"]).await;
    assert!(synced.status.success(), "{}", stderr(&synced));
    assert_eq!(
        stdout(&synced),
        "added llama3.1:8b\nadded qwen2.5\nadded mistral-small\n"
    );
    assert!(
        stderr(&synced).contains("1 in the catalog already"),
        "{}",
        stderr(&synced)
    );
    gw.app.wait_listed("mistral-small", Some("openai")).await;
    let (status, _) = gw.complete(&hello("qwen2.5")).await;
    assert_eq!(status, StatusCode::OK);
    let failed = models(&gw, &["sync", "nowhere"]).await;
    assert_eq!(failed.status.code(), Some(1));
    assert!(stderr(&failed).contains("no provider has the id \"nowhere\""));
}
