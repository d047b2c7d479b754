//! Issue 13's "Done when", end to end, as a new user would try it: "point
//! `OPENAI_BASE_URL` at an OpenAI-compatible server with its own model
//! names, import its models with one command, and use them from the OpenAI
//! SDK's chat, embeddings and Responses calls and from LlamaIndex's default
//! `OpenAILike`, all recorded in the chat logs."
//!
//! The server is the mock with Ollama's names and Ollama's gaps (no
//! `/responses`, no legacy `/completions`), as the only provider, with no
//! key. The default provider is set to none first, so that the names work
//! because of the import (`mindgate models sync openai`, run while the
//! server runs) and not because `openai` would take any name. One Python
//! script then uses the names through the root `/v1`, with the clients'
//! defaults. Skipped (loudly) where Python or the packages are missing,
//! unless MINDGATE_REQUIRE_PYTHON is set.

use mindgate::db::settings::DefaultProvider;

use super::*;
use crate::cli_models::models;
use crate::helpers::{data_field, error_message, python_with, run_python, stderr, stdout};
use crate::mock_upstream::{mock_embedding, PROMPT_TOKENS, REPLY};

const CHAT: &str = "llama3.1:8b";
const RESPONSES: &str = "qwen2.5";
const EMBEDDINGS: &str = "nomic-embed-text";

#[actix_web::test]
async fn a_local_servers_models_imported_with_one_command_work_from_the_sdks() {
    if !python_with("openai", "openai")
        || !python_with(
            "llama_index.llms.openai_like",
            "llama-index-llms-openai-like",
        )
    {
        return;
    }
    // OPENAI_BASE_URL at the server, and nothing else: no key, no Anthropic.
    let gw = spawn_gateway_with(|config| {
        config.openai.api_key = None;
        config.anthropic = ProviderSeed::default();
    })
    .await;
    gw.mock.list_models(&[CHAT, RESPONSES, EMBEDDINGS]);
    gw.mock.serve_responses(false);
    gw.app
        .set_default_provider(DefaultProvider::None, None)
        .await;
    let (status, error) = gw.complete(&hello(CHAT)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "before the import: {error}"
    );
    assert!(error_message(&error, "invalid_request_error").contains(CHAT));

    // The one command.
    let synced = models(&gw, &["sync", "openai"]).await;
    assert!(synced.status.success(), "{}", stderr(&synced));
    assert_eq!(
        stdout(&synced),
        format!("added {CHAT}\nadded {RESPONSES}\nadded {EMBEDDINGS}\n")
    );
    for name in [CHAT, RESPONSES, EMBEDDINGS] {
        gw.app.wait_listed(name, Some("openai")).await;
    }

    let args = [gw.app.url("/v1"), gw.app.api_key.clone()]
        .into_iter()
        .chain([CHAT, EMBEDDINGS, RESPONSES].map(String::from))
        .collect();
    let result = run_python("new_user.py", args).await;
    for name in [CHAT, RESPONSES, EMBEDDINGS] {
        assert!(
            result["listed"].as_array().unwrap().contains(&json!(name)),
            "{name} listed: {result}"
        );
    }
    for answer in [
        "chat",
        "chat_streamed",
        "response",
        "response_streamed",
        "response_final",
        "completion",
    ] {
        assert_eq!(result[answer], REPLY, "{answer}: {result}");
    }
    assert_eq!(result["chat_model"], CHAT);
    assert_eq!(result["response_status"], "completed");
    let expected: Vec<Vec<f32>> = (0..2).map(|i| mock_embedding(i, 3)).collect();
    let vectors: Vec<Vec<f32>> = serde_json::from_value(result["vectors"].clone()).unwrap();
    assert_eq!(vectors, expected, "{result}");
    assert_eq!(result["embedding_tokens"], PROMPT_TOKENS);
    assert_eq!(result["is_chat_model"], false, "LlamaIndex's default");
    assert_eq!(
        result["completion_object"], "text_completion",
        "LlamaIndex called /completions: {result}"
    );

    // What the server was asked, where, with its own ids: the Responses
    // API once (a 404, remembered), then through chat, as is LlamaIndex's
    // text completion (the mock keeps no record of its 404s there).
    let asked: Vec<(String, Value)> = gw
        .mock
        .received()
        .into_iter()
        .map(|r| (r.path, r.body["model"].clone()))
        .collect();
    let chat = "/v1/chat/completions".to_owned();
    assert_eq!(
        asked,
        [
            (chat.clone(), json!(CHAT)),
            (chat.clone(), json!(CHAT)),
            ("/v1/embeddings".to_owned(), json!(EMBEDDINGS)),
            ("/v1/responses".to_owned(), json!(RESPONSES)),
            (chat.clone(), json!(RESPONSES)),
            (chat.clone(), json!(RESPONSES)),
            (chat, json!(CHAT)),
        ]
    );
    assert!(
        gw.mock
            .received()
            .iter()
            .all(|r| r.headers.iter().all(|(_, v)| !v.contains(&gw.app.api_key))),
        "the instance's key never goes upstream"
    );

    // One chat log a call, under the server's names, counted in the usage.
    let chats = wait_for_chats(&gw.app, 6).await;
    let logged: Vec<(&str, &str, &str)> = chats
        .iter()
        .map(|c| {
            (
                c.model.as_deref().unwrap(),
                c.provider.as_deref().unwrap(),
                c.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        logged,
        [
            (CHAT, "openai", "ok"),
            (CHAT, "openai", "ok"),
            (EMBEDDINGS, "openai", "ok"),
            (RESPONSES, "openai", "ok"),
            (RESPONSES, "openai", "ok"),
            (CHAT, "openai", "ok"),
        ]
    );
    assert!(
        chats
            .iter()
            .all(|c| c.prompt_tokens == Some(PROMPT_TOKENS) && !c.usage_estimated),
        "the server's usage: {chats:#?}"
    );
    let (_, logs) = gw.app.get("/api/v1/chatlogs").await;
    let texts = data_field(&logs, "conversationText");
    assert_eq!(texts.len(), 6, "{texts:?}");
    let answered = texts
        .iter()
        .filter(|t| t.ends_with(&format!("Assistant: {REPLY}")))
        .count();
    assert_eq!(answered, 5, "{texts:?}");
    assert!(texts.contains(&"[embeddings: 2 inputs, 3 dimensions]".to_owned()));
    let (_, usage) = gw.app.get("/api/v1/usage?groupBy=model").await;
    let rows: Vec<(&str, i64, i64)> = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["model"].as_str().unwrap(),
                row["requests"].as_i64().unwrap(),
                row["inputTokens"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (CHAT, 3, 3 * PROMPT_TOKENS),
            (EMBEDDINGS, 1, PROMPT_TOKENS),
            (RESPONSES, 2, 2 * PROMPT_TOKENS),
        ],
        "{usage}"
    );
}
