//! The built-in `echo` model: the whole flow with no provider at all.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::helpers::spawn_app;

#[actix_web::test]
async fn echo_answers_with_the_last_user_message_on_a_fresh_instance() {
    let app = spawn_app().await;
    let request = json!({ "model": "echo", "messages": [
        { "role": "user", "content": "first" },
        { "role": "assistant", "content": "ok" },
        { "role": "user", "content": "Hello  echo world" }
    ]});
    let (status, body) = app.post("/api/v1/chat/completions", &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "echo");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello  echo world"
    );
    assert_eq!(body["usage"]["completion_tokens"], 3);
    let chat = the_chat(&app).await;
    assert_eq!(
        chat.conversation,
        "User: first\n\nAssistant: ok\n\nUser: Hello  echo world\n\nAssistant: Hello  echo world"
    );
    assert_eq!(chat.provider, None);
    assert_eq!(chat.status, "ok");
}

#[actix_web::test]
async fn echo_streams_word_by_word_in_either_style() {
    let gw = spawn_gateway().await;
    let (status, stream) = gw.stream(&streamed(json!({ "model": "echo", "messages": [{ "role": "user", "content": "one two three" }] }))).await;
    assert_eq!(status, StatusCode::OK);
    let data = event_data(&stream);
    let words: Vec<&str> = data
        .iter()
        .filter_map(|d| d["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(words, ["", "one", " two", " three"]);
    assert_eq!(data[data.len() - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(data.last().unwrap(), &Value::String("[DONE]".into()));

    let (_, stream) = gw
        .stream(&streamed(
            json!({ "model": "echo", "prompt": "\n\nHuman: a b\n\nAssistant:" }),
        ))
        .await;
    let texts: Vec<String> = events(&stream)
        .iter()
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["completion"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(texts, ["a", " b", ""]);
    assert!(gw.mock.received().is_empty(), "echo needs no upstream");
}

/// Clients generated from the spec, which marks `model`, `messages` and
/// `prompt` all required, send all three on every call.
#[actix_web::test]
async fn an_empty_messages_beside_a_prompt_is_a_prompt_style_request() {
    let app = spawn_app().await;
    let prompt = "\n\nHuman: Hello there\n\nAssistant:";
    for messages in [json!([]), json!(""), json!(null)] {
        let request = json!({ "model": "echo", "messages": messages, "prompt": prompt });
        let (status, body) = app.post("/api/v1/chat/completions", &request).await;
        assert_eq!(status, StatusCode::OK, "{messages}: {body}");
        assert_eq!(body["type"], "completion", "{messages}: {body}");
        assert_eq!(body["completion"], "Hello there");
    }
    // Both given: messages win, as before.
    let both = json!({
        "model": "echo",
        "messages": [{ "role": "user", "content": "from messages" }],
        "prompt": prompt
    });
    let (status, body) = app.post("/api/v1/chat/completions", &both).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "from messages");
    // An empty prompt beside messages is an OpenAI-style request.
    let empty_prompt = json!({
        "model": "echo",
        "messages": [{ "role": "user", "content": "hi" }],
        "prompt": ""
    });
    let (_, body) = app.post("/api/v1/chat/completions", &empty_prompt).await;
    assert_eq!(body["choices"][0]["message"]["content"], "hi");
}
