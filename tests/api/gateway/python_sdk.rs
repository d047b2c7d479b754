//! The official `openai` Python package, pointed at mindgate, whole and
//! streamed, for an OpenAI and an Anthropic model, and retrying no failure
//! mindgate already retried. Skipped (loudly) where
//! Python or the package is missing, unless MINDGATE_REQUIRE_PYTHON is set
//! (CI sets it, after installing the package).

use std::process::Command;

use serde_json::Value;

use super::*;
use crate::mock_upstream::{COMPLETION_TOKENS, PROMPT_TOKENS, REPLY};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/openai_sdk.py");

fn python_with_openai() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import openai"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            std::env::var_os("MINDGATE_REQUIRE_PYTHON").is_none(),
            "MINDGATE_REQUIRE_PYTHON is set but python3 cannot import openai"
        );
        eprintln!(
            "SKIPPED: python3 with the `openai` package is not available (pip install openai)"
        );
    }
    found
}

async fn run_sdk(base_url: String, key: String, args: &[&str]) -> Value {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = actix_web::rt::task::spawn_blocking(move || {
        Command::new("python3")
            .args([SCRIPT, &base_url, &key])
            .args(args)
            .env_remove("OPENAI_BASE_URL")
            .env_remove("OPENAI_API_KEY")
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the openai SDK failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

#[actix_web::test]
async fn the_official_openai_sdk_chats_through_mindgate() {
    if !python_with_openai() {
        return;
    }
    let gw = spawn_gateway().await;
    let base_url = gw.app.url("/api/v1");
    for model in ["gpt-4o-mini", "claude-haiku-4-5"] {
        let result = run_sdk(base_url.clone(), gw.app.api_key.clone(), &[model]).await;
        assert_eq!(result["whole"], REPLY, "{model}: {result}");
        assert_eq!(result["finish"], "stop", "{model}");
        assert_eq!(result["prompt_tokens"], PROMPT_TOKENS, "{model}");
        assert_eq!(result["streamed"], REPLY, "{model}: {result}");
        assert_eq!(
            result["stream_completion_tokens"], COMPLETION_TOKENS,
            "{model}"
        );
        assert!(result["chunks"].as_u64().unwrap() >= 4, "{model}: {result}");
    }
    wait_for_chats(&gw.app, 4).await;
}

#[actix_web::test]
async fn the_openai_sdk_does_not_retry_a_rate_limit_mindgate_retried() {
    if !python_with_openai() {
        return;
    }
    let gw = spawn_gateway().await;
    // More than the SDK's retries times mindgate's could use.
    gw.mock.fail_with(
        std::iter::repeat_with(|| crate::mock_upstream::Fault::Status {
            code: 429,
            retry_after: Some("0"),
            message: "mock rate limit",
        })
        .take(9),
    );
    let result = run_sdk(
        gw.app.url("/api/v1"),
        gw.app.api_key.clone(),
        &["gpt-4o", "retries"],
    )
    .await;
    assert_eq!(result["error"], "RateLimitError", "{result}");
    assert_eq!(result["status"], 429);
    assert_eq!(
        gw.mock.received().len(),
        3,
        "one call, mindgate's two retries, none from the SDK"
    );
}
