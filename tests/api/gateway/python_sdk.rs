//! The official `openai` Python package, pointed at mindgate, whole and
//! streamed, for an OpenAI and an Anthropic model, and retrying no failure
//! mindgate already retried. Skipped (loudly) where
//! Python or the package is missing, unless MINDGATE_REQUIRE_PYTHON is set
//! (CI sets it, after installing the package).

use super::*;
use crate::helpers::{python_with, run_python};
use crate::mock_upstream::{COMPLETION_TOKENS, PROMPT_TOKENS, REPLY};

#[actix_web::test]
async fn the_official_openai_sdk_chats_through_mindgate() {
    if !python_with("openai", "openai") {
        return;
    }
    let gw = spawn_gateway().await;
    let base_url = gw.app.url("/api/v1");
    for model in ["gpt-4o-mini", "claude-haiku-4-5"] {
        let args = vec![base_url.clone(), gw.app.api_key.clone(), model.to_owned()];
        let result = run_python("openai_sdk.py", args).await;
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
    if !python_with("openai", "openai") {
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
    let args = [gw.app.url("/api/v1"), gw.app.api_key.clone()]
        .into_iter()
        .chain(["gpt-4o", "retries"].map(String::from))
        .collect();
    let result = run_python("openai_sdk.py", args).await;
    assert_eq!(result["error"], "RateLimitError", "{result}");
    assert_eq!(result["status"], 429);
    assert_eq!(
        gw.mock.received().len(),
        3,
        "one call, mindgate's two retries, none from the SDK"
    );
}
