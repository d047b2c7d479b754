//! The official `openai` Python package, pointed at mindgate, whole and
//! streamed, for an OpenAI and an Anthropic model. Skipped (loudly) where
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
