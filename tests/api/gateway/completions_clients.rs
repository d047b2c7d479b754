//! Legacy text completions from the clients that send them: the official
//! `openai` Python package's `completions.create`, and LlamaIndex's
//! `OpenAILike` LLM (which calls `/completions` unless told the model
//! chats), each given the bare host's `/v1` as its base URL. Skipped
//! (loudly) where Python or the package is missing, unless
//! MINDGATE_REQUIRE_PYTHON is set (CI sets it, after installing them).

use super::*;
use crate::helpers::{python_with, run_python};
use crate::mock_upstream::{COMPLETION_TOKENS, PROMPT_TOKENS, REPLY};

async fn run(gw: &Gateway, model: &str, client: &str) -> Value {
    let args = [gw.app.url("/v1"), gw.app.api_key.clone()]
        .into_iter()
        .chain([model, client].map(String::from))
        .collect();
    run_python("openai_completions.py", args).await
}

#[actix_web::test]
async fn the_official_openai_sdk_completes_text() {
    if !python_with("openai", "openai") {
        return;
    }
    let gw = spawn_gateway().await;
    for model in ["gpt-4o-mini", "claude-haiku-4-5"] {
        let result = run(&gw, model, "openai").await;
        assert_eq!(result["object"], "text_completion", "{model}: {result}");
        assert_eq!(result["whole"], REPLY, "{model}: {result}");
        assert_eq!(result["finish"], "stop", "{model}");
        assert_eq!(result["prompt_tokens"], PROMPT_TOKENS, "{model}");
        assert_eq!(
            result["several"],
            json!([
                [0, format!("Say this is a test{REPLY}")],
                [1, format!("Another{REPLY}")]
            ]),
            "{model}"
        );
        assert_eq!(result["streamed"], REPLY, "{model}: {result}");
        assert_eq!(
            result["stream_completion_tokens"], COMPLETION_TOKENS,
            "{model}"
        );
        assert!(result["chunks"].as_u64().unwrap() >= 4, "{model}: {result}");
    }
    // Each prompt of each call a chat: 4 a model.
    let chats = wait_for_chats(&gw.app, 8).await;
    assert!(chats.iter().all(|c| c.status == "ok"), "{chats:#?}");
}

#[actix_web::test]
async fn llamaindex_openai_like_completes_text() {
    if !python_with(
        "llama_index.llms.openai_like",
        "llama-index-llms-openai-like",
    ) {
        return;
    }
    let gw = spawn_gateway().await;
    let result = run(&gw, "gpt-4o-mini", "llamaindex").await;
    assert_eq!(result["whole"], REPLY, "{result}");
    assert_eq!(result["streamed"], REPLY, "{result}");
    assert!(result["deltas"].as_u64().unwrap() >= 3, "{result}");
    // Its own request: a prompt, its default temperature, no max_tokens.
    let sent = gw.mock.last();
    assert_eq!(sent.body["messages"][0]["content"], "Say this is a test");
    assert_eq!(sent.body["temperature"], 0.1, "{}", sent.body);
    assert!(sent.body.get("max_tokens").is_none(), "{}", sent.body);
    let chats = wait_for_chats(&gw.app, 2).await;
    assert!(
        chats
            .iter()
            .all(|c| c.conversation == format!("User: Say this is a test\n\nAssistant: {REPLY}")),
        "{chats:#?}"
    );
}
