//! `POST /embeddings`: sent to an OpenAI-compatible provider as the client
//! wrote it (with the catalog's model id) and answered as the provider
//! sent it, echo's own vectors, every bad field refused with nothing
//! changed, policies, upstream failures, and one chat log per request
//! without the input.

use actix_web::http::StatusCode;
use base64::Engine;
use mindgate::db::models;
use mindgate::db::settings::DefaultProvider;
use mindgate::domain::KeyScope;
use serde_json::{json, Value};

use super::costs::set_price;
use super::*;
use crate::helpers::error_message;
use crate::mock_upstream::{mock_embedding, Fault, MockUsage, PROMPT_TOKENS};

/// Posts `body` as it is written; the answer's status, headers and bytes.
async fn post_raw(app: &TestApp, key: &str, body: &str) -> (StatusCode, Bytes, Option<String>) {
    let mut response = app
        .client
        .post(app.url("/api/v1/embeddings"))
        .insert_header(("authorization", format!("Bearer {key}")))
        .send_body(body.to_owned())
        .await
        .expect("request");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.body().limit(64 << 20).await.expect("read answer");
    (response.status(), bytes, retry_after)
}

async fn embed(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    app.post("/api/v1/embeddings", body).await
}

/// The floats of an answer's vector `index`, decoding base64.
fn vector(answer: &Value, index: usize) -> Vec<f32> {
    match &answer["data"][index]["embedding"] {
        Value::String(text) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("base64")
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        Value::Array(numbers) => numbers.iter().map(|x| x.as_f64().unwrap() as f32).collect(),
        other => panic!("no vector {index}: {other}"),
    }
}

/// One row of `GET /usage` (the total).
async fn usage_total(app: &TestApp) -> Value {
    let (status, usage) = app.get("/api/v1/usage").await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    usage["total"].clone()
}

#[actix_web::test]
async fn the_body_goes_upstream_as_sent_with_the_catalogs_model_id_and_the_answer_comes_back_as_sent(
) {
    let gw = spawn_gateway().await;
    gw.app
        .db
        .write_blocking(|tx| {
            models::upsert(
                tx,
                "team-embedder",
                "openai",
                "text-embedding-3-small",
                true,
            )
        })
        .unwrap();
    // Setting a price reloads the catalog, the new name with it.
    set_price(
        &gw.app,
        "team-embedder",
        json!({"input": 0.02, "output": 0}),
    )
    .await;
    let sent = r#"{"model":"team-embedder","input":["secret words","more secret"],"encoding_format":"float","dimensions":3,"user":"u-1","extra":{"nested":[1.5,true,null]}}"#;
    let (status, answer, _) = post_raw(&gw.app, &gw.app.api_key, sent).await;
    assert_eq!(status, StatusCode::OK, "{answer:?}");

    let received = gw.mock.last();
    assert_eq!(received.path, "/v1/embeddings");
    assert_eq!(
        String::from_utf8(received.raw.to_vec()).unwrap(),
        sent.replace("team-embedder", "text-embedding-3-small"),
        "every byte but the model id as the client sent it"
    );
    assert_eq!(
        received.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(
        answer,
        gw.mock.sent_body(),
        "the provider's answer as it came"
    );
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(vector(&answer, 1), mock_embedding(1, 3));

    let chat = the_chat(&gw.app).await;
    assert_eq!(chat.chat_title, "Embeddings");
    assert_eq!(chat.conversation, "[embeddings: 2 inputs, 3 dimensions]");
    assert!(!chat.conversation.contains("secret"));
    assert_eq!(chat.model.as_deref(), Some("team-embedder"));
    assert_eq!(chat.provider.as_deref(), Some("openai"));
    assert_eq!(chat.status, "ok");
    assert_eq!(
        (chat.prompt_tokens, chat.completion_tokens),
        (Some(PROMPT_TOKENS), Some(0))
    );
    assert!(!chat.usage_estimated, "the provider counted them");
    // 11 tokens at $0.02 a million, rounded up to a micro-dollar.
    assert_eq!(chat.cost_micros, Some(1));
    let total = usage_total(&gw.app).await;
    assert_eq!(
        (
            &total["requests"],
            &total["inputTokens"],
            &total["outputTokens"]
        ),
        (&json!(1), &json!(PROMPT_TOKENS), &json!(0))
    );
    let (_, logs) = gw.app.get("/api/v1/chatlogs").await;
    assert_eq!(logs["data"][0]["chatTitle"], "Embeddings", "{logs}");
}

#[actix_web::test]
async fn strings_lists_and_token_ids_are_each_embedded_and_counted() {
    let gw = spawn_gateway().await;
    gw.mock.report_usage(MockUsage::Unreported);
    // (input, vectors, tokens estimated: 4 characters or 1 token id each)
    let cases = [
        (json!("twelve chars"), 1, 3),
        (json!(["a", "bcdef", "ghi"]), 3, 3),
        (json!([17, 42, 9000]), 1, 3),
        (json!([[1, 2], [3], [4, 5, 6, 7]]), 3, 7),
    ];
    for (input, vectors, _) in &cases {
        let body = json!({"model": "text-embedding-3-small", "input": input});
        let (status, answer) = embed(&gw.app, &body).await;
        assert_eq!(status, StatusCode::OK, "{input}: {answer}");
        assert_eq!(gw.mock.last().body, body, "{input}");
        assert_eq!(answer["data"].as_array().unwrap().len(), *vectors);
    }
    let chats = wait_for_chats(&gw.app, cases.len()).await;
    for (chat, (input, vectors, tokens)) in chats.iter().zip(&cases) {
        let plural = if *vectors == 1 { "" } else { "s" };
        assert_eq!(
            chat.conversation,
            format!("[embeddings: {vectors} input{plural}, 3 dimensions]")
        );
        assert_eq!(chat.prompt_tokens, Some(*tokens), "{input}");
        assert!(chat.usage_estimated, "{input}: the provider reported none");
    }
}

#[actix_web::test]
async fn each_bad_field_is_refused_by_name_and_changes_nothing() {
    let gw = spawn_gateway().await;
    // With no default provider, for an unknown name to be one.
    gw.app
        .set_default_provider(DefaultProvider::None, None)
        .await;
    let model = "text-embedding-3-small";
    let too_many: Vec<&str> = vec!["x"; 2049];
    let enough: Vec<&str> = vec!["x"; 2048];
    let cases = [
        (json!({"input": "a"}), "model", "`model` is required"),
        (
            json!({"model": null, "input": "a"}),
            "model",
            "`model` is required",
        ),
        (
            json!({"model": 5, "input": "a"}),
            "model",
            "must be a string, not a number",
        ),
        (
            json!({"model": " ", "input": "a"}),
            "model",
            "must not be blank",
        ),
        (
            json!({"model": "nope", "input": "a"}),
            "model",
            "is not available",
        ),
        (json!({"model": model}), "input", "`input` is required"),
        (
            json!({"model": model, "input": null}),
            "input",
            "`input` is required",
        ),
        (
            json!({"model": model, "input": ""}),
            "input",
            "must not be empty",
        ),
        (
            json!({"model": model, "input": []}),
            "input",
            "must not be empty",
        ),
        (
            json!({"model": model, "input": {}}),
            "input",
            "not an object",
        ),
        (
            json!({"model": model, "input": true}),
            "input",
            "not a boolean",
        ),
        (
            json!({"model": model, "input": too_many}),
            "input",
            "at most 2048 items, not 2049",
        ),
        (
            json!({"model": model, "input": ["a", ""]}),
            "input[1]",
            "must not be empty",
        ),
        (
            json!({"model": model, "input": ["a", 1]}),
            "input[1]",
            "must be a string, like `input[0]`",
        ),
        (
            json!({"model": model, "input": [null]}),
            "input[0]",
            "not null",
        ),
        (
            json!({"model": model, "input": [1, -2]}),
            "input[1]",
            "must be a token id",
        ),
        (
            json!({"model": model, "input": [1, 1.5]}),
            "input[1]",
            "must be a token id",
        ),
        (
            json!({"model": model, "input": [1, 4294967296u64]}),
            "input[1]",
            "from 0 to 4294967295",
        ),
        (
            json!({"model": model, "input": [[1], []]}),
            "input[1]",
            "must not be empty",
        ),
        (
            json!({"model": model, "input": [[1], "a"]}),
            "input[1]",
            "an array of token ids",
        ),
        (
            json!({"model": model, "input": [[1], ["a"]]}),
            "input[1][0]",
            "must be a token id",
        ),
        (
            json!({"model": model, "input": "a", "encoding_format": "int8"}),
            "encoding_format",
            "\"float\" or \"base64\", not \"int8\"",
        ),
        (
            json!({"model": model, "input": "a", "encoding_format": 1}),
            "encoding_format",
            "not 1",
        ),
        (
            json!({"model": model, "input": "a", "dimensions": 0}),
            "dimensions",
            "from 1 to 8192, not 0",
        ),
        (
            json!({"model": model, "input": "a", "dimensions": -3}),
            "dimensions",
            "not -3",
        ),
        (
            json!({"model": model, "input": "a", "dimensions": 1.5}),
            "dimensions",
            "not 1.5",
        ),
        (
            json!({"model": model, "input": "a", "dimensions": "3"}),
            "dimensions",
            "not \"3\"",
        ),
        (
            json!({"model": model, "input": "a", "dimensions": 8193}),
            "dimensions",
            "not 8193",
        ),
        (
            json!({"model": model, "input": "a", "user": 5}),
            "user",
            "must be a string, not a number",
        ),
        (
            json!({"model": "echo", "input": enough, "dimensions": 1025}),
            "dimensions",
            "echo answers with at most",
        ),
    ];
    for (body, field, message) in &cases {
        let (status, error) = embed(&gw.app, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["error"]["param"], *field, "{body}: {error}");
        let said = error_message(&error, "invalid_request_error");
        assert!(said.contains(message), "{field}: {said}");
    }
    let (status, error) = gw.app.post("/api/v1/embeddings", &json!([1])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(gw.mock.received().is_empty(), "nothing went upstream");
    let total = usage_total(&gw.app).await;
    assert_eq!(
        (&total["requests"], &total["refused"]),
        (&json!(0), &json!(0))
    );
    assert!(stored_chats(&gw.app).is_empty());
}

#[actix_web::test]
async fn a_model_whose_provider_makes_no_embeddings_is_a_400_naming_it() {
    let gw = spawn_gateway().await;
    for model in ["claude-haiku-4-5", "claude-2"] {
        let (status, error) = embed(&gw.app, &json!({"model": model, "input": "hi"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["error"]["param"], "model");
        let message = error_message(&error, "invalid_request_error");
        assert!(
            message.contains(model) && message.contains("no embeddings API"),
            "{message}"
        );
    }
    assert!(gw.mock.received().is_empty());
    assert_eq!(usage_total(&gw.app).await["requests"], 0);
}

#[actix_web::test]
async fn echo_embeds_without_a_provider_in_floats_or_base64() {
    let app = crate::helpers::spawn_app().await;
    let (status, answer) = embed(
        &app,
        &json!({"model": "echo", "input": ["hello", "world", "hello"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["object"], "list");
    assert_eq!(answer["model"], "echo");
    assert_eq!(answer["data"][2]["index"], 2);
    assert_eq!(answer["data"][0]["object"], "embedding");
    let hello = vector(&answer, 0);
    assert_eq!(hello.len(), 16);
    let norm: f32 = hello.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "a unit vector: {norm}");
    assert_eq!(hello, vector(&answer, 2), "the same input, the same vector");
    assert_ne!(hello, vector(&answer, 1));
    // 15 characters at 4 a token, rounded up.
    assert_eq!(
        answer["usage"],
        json!({"prompt_tokens": 4, "total_tokens": 4})
    );
    // As documented: every required field there, every field documented.
    let (_, doc) = app.get("/api/v1/openapi.json").await;
    let schema = &doc["components"]["schemas"]["EmbeddingList"];
    for field in schema["required"].as_array().unwrap() {
        assert!(answer.get(field.as_str().unwrap()).is_some(), "{field}");
    }
    for field in answer.as_object().unwrap().keys() {
        assert!(
            schema["properties"].get(field).is_some(),
            "{field} undocumented"
        );
    }

    let (status, encoded) = embed(
        &app,
        &json!({"model": "echo", "input": "hello", "encoding_format": "base64", "dimensions": 8}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{encoded}");
    assert!(encoded["data"][0]["embedding"].is_string(), "{encoded}");
    let (_, floats) = embed(
        &app,
        &json!({"model": "echo", "input": "hello", "encoding_format": "float", "dimensions": 8}),
    )
    .await;
    let decoded = vector(&encoded, 0);
    assert_eq!(decoded.len(), 8);
    assert_eq!(decoded, vector(&floats, 0), "base64 holds the same floats");
    let (status, tokens) = embed(&app, &json!({"model": "echo", "input": [[1, 2], [3]]})).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["usage"]["prompt_tokens"], 3);

    let chats = wait_for_chats(&app, 4).await;
    assert_eq!(
        chats[0].conversation,
        "[embeddings: 3 inputs, 16 dimensions]"
    );
    assert_eq!(chats[1].conversation, "[embeddings: 1 input, 8 dimensions]");
    assert_eq!(chats[0].prompt_tokens, Some(4), "as echo reported");
    assert_eq!(chats[0].provider, None);
    let total = usage_total(&app).await;
    assert_eq!(
        (&total["requests"], &total["inputTokens"]),
        (&json!(4), &json!(4 + 2 + 2 + 3))
    );
}

#[actix_web::test]
async fn policies_refuse_and_limit_embeddings_as_they_do_chats() {
    let gw = spawn_gateway().await;
    gw.app
        .put_policy(
            "everyone",
            &json!({"models": ["echo"],
                    "limits": [{"metric": "requests", "window": "hour", "max": 1}]}),
        )
        .await;
    let (status, error) = embed(
        &gw.app,
        &json!({"model": "text-embedding-3-small", "input": "hi"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert_eq!(error["error"]["param"], "model");
    error_message(&error, "permission_error");
    assert!(gw.mock.received().is_empty(), "a refusal goes nowhere");

    let (status, _) = embed(&gw.app, &json!({"model": "echo", "input": "hi"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, retry_after) = post_raw(
        &gw.app,
        &gw.app.api_key,
        r#"{"model":"echo","input":"again"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after.is_some(), "429 says when to come back");
    wait_for_chats(&gw.app, 1).await;
    let total = usage_total(&gw.app).await;
    assert_eq!(
        (&total["requests"], &total["refused"]),
        (&json!(1), &json!(2))
    );
}

#[actix_web::test]
async fn a_chat_key_may_embed() {
    let app = crate::helpers::spawn_app().await;
    let (_, chat_key) = app.add_key("chat client", KeyScope::Chat);
    let (status, answer, _) = post_raw(&app, &chat_key, r#"{"model":"echo","input":"hi"}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer:?}");
}

#[actix_web::test]
async fn upstream_failures_are_retried_then_mapped_as_for_chats() {
    let gw = spawn_gateway().await;
    let body = json!({"model": "text-embedding-3-small", "input": "hi"});
    let status_fault = |code, retry_after| Fault::Status {
        code,
        retry_after,
        message: "mock says no to {key}",
    };

    // A 500 is retried.
    gw.mock.fail_with([status_fault(500, None)]);
    let (status, answer) = embed(&gw.app, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(gw.mock.received().len(), 2);

    // Server errors past the retries: a 502, the key never shown.
    gw.mock.fail_with([
        status_fault(500, None),
        status_fault(503, None),
        status_fault(500, None),
    ]);
    let (status, error) = embed(&gw.app, &body).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    let message = error_message(&error, "upstream_error");
    assert!(message.contains("mock says no"), "{message}");
    assert!(!error.to_string().contains(OPENAI_KEY), "{error}");
    assert_eq!(gw.mock.received().len(), 5);

    // A rate limit stays a 429 with the provider's Retry-After.
    gw.mock.fail_with([
        status_fault(429, Some("0")),
        status_fault(429, Some("0")),
        status_fault(429, Some("7")),
    ]);
    let (status, _, retry_after) = post_raw(&gw.app, &gw.app.api_key, &body.to_string()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("7"));

    // The provider's own client error, with its message, not retried.
    gw.mock.fail_with([status_fault(400, None)]);
    let before = gw.mock.received().len();
    let (status, error) = embed(&gw.app, &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error_message(&error, "invalid_request_error").contains("mock says no"));
    assert_eq!(gw.mock.received().len(), before + 1);

    let chats = wait_for_chats(&gw.app, 4).await;
    let statuses: Vec<&str> = chats.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(statuses, ["ok", "error", "error", "error"]);
    assert_eq!(chats[1].conversation, "[embeddings: 1 input]");
    assert!(!chats[1].error.as_deref().unwrap().contains(OPENAI_KEY));
    assert_eq!(
        chats[3].prompt_tokens, None,
        "a refused request counts no token"
    );
}

#[actix_web::test]
async fn a_provider_that_stalls_falls_silent_or_answers_too_much_is_cut_off() {
    let gw = spawn_gateway_with(|c| c.max_answer_bytes = 400).await;
    let body = json!({"model": "text-embedding-3-small", "input": "hi"});

    gw.mock
        .fail_with([Fault::StallHead(Duration::from_secs(3))]);
    let (status, error) = embed(&gw.app, &body).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{error}");
    error_message(&error, "timeout_error");

    // Its first piece, then a silence past the idle timeout.
    gw.mock.fail_with([Fault::Trickle {
        pieces: 2,
        pause: Duration::from_secs(3),
    }]);
    let (status, error) = embed(&gw.app, &body).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{error}");
    assert!(error_message(&error, "timeout_error").contains("sent nothing"));

    // Four vectors of 8 numbers: past 400 bytes.
    let large =
        json!({"model": "text-embedding-3-small", "input": ["a", "b", "c", "d"], "dimensions": 8});
    let (status, error) = embed(&gw.app, &large).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    assert!(error_message(&error, "upstream_error").contains("larger than the limit"));

    let chats = wait_for_chats(&gw.app, 3).await;
    assert!(chats.iter().all(|c| c.status == "error"), "{chats:#?}");
}

#[actix_web::test]
async fn a_body_past_the_completion_limit_is_a_413() {
    let gw = spawn_gateway_with(|c| c.max_body_bytes = 4096).await;
    let text = "x".repeat(5000);
    let (status, error) = embed(&gw.app, &json!({"model": "echo", "input": text})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");
    error_message(&error, "request_too_large");
    // Larger than other routes take (1 MiB), within the completions' own.
    let gw = spawn_gateway().await;
    let text = "x".repeat(2 << 20);
    let (status, answer) = embed(&gw.app, &json!({"model": "echo", "input": text})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
