//! The official `openai` Python package's `embeddings.create`, pointed at
//! mindgate: a string and a list, in the base64 the SDK asks for by
//! default (and decodes) and in floats, from echo and from a provider.
//! Skipped (loudly) where Python or the package is missing, unless
//! MINDGATE_REQUIRE_PYTHON is set.

use super::*;
use crate::helpers::{python_with, run_python};
use crate::mock_upstream::{mock_embedding, PROMPT_TOKENS};

/// The floats of a script's vectors.
fn vectors(result: &Value, name: &str) -> Vec<Vec<f32>> {
    result[name]
        .as_array()
        .unwrap_or_else(|| panic!("no {name}: {result}"))
        .iter()
        .map(|v| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

#[actix_web::test]
async fn the_official_openai_sdk_embeds_through_mindgate() {
    if !python_with("openai", "openai") {
        return;
    }
    let gw = spawn_gateway().await;
    let args = |model: &str| vec![gw.app.url("/api/v1"), gw.app.api_key.clone(), model.into()];

    let echo = run_python("openai_embeddings.py", args("echo")).await;
    let (one, listed, floats) = (
        vectors(&echo, "one"),
        vectors(&echo, "listed"),
        vectors(&echo, "floats"),
    );
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].len(), 16, "{echo}");
    assert_eq!(listed.len(), 2);
    assert_eq!(echo["indexes"], json!([0, 1]));
    assert_eq!(one[0], listed[0], "the same text, the same vector");
    assert_ne!(listed[0], listed[1]);
    assert_eq!(listed, floats, "base64 decoded by the SDK: the floats");
    assert_eq!(echo["model"], "echo");
    assert_eq!(echo["prompt_tokens"], 6, "22 characters, 4 a token");

    let provider = run_python("openai_embeddings.py", args("text-embedding-3-small")).await;
    let expected: Vec<Vec<f32>> = (0..2).map(|i| mock_embedding(i, 3)).collect();
    assert_eq!(vectors(&provider, "listed"), expected, "{provider}");
    assert_eq!(vectors(&provider, "floats"), expected);
    assert_eq!(provider["prompt_tokens"], PROMPT_TOKENS);
    let formats: Vec<Value> = gw
        .mock
        .received()
        .iter()
        .map(|r| r.body["encoding_format"].clone())
        .collect();
    assert_eq!(formats, [json!("base64"), json!("base64"), json!("float")]);
    wait_for_chats(&gw.app, 6).await;
}
