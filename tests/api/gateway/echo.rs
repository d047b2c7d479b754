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
