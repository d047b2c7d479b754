//! The chat completions gateway against the mock upstream.

mod anthropic_sdk;
mod characters;
mod completions;
mod completions_clients;
mod concurrency;
pub(crate) mod costs;
mod echo;
mod embeddings;
mod faults;
mod http_free;
mod local_models;
mod logging;
mod messages;
mod messages_upstream;
mod new_user;
mod openai_responses_sdk;
mod python_sdk;
mod python_sdk_embeddings;
mod requests;
mod responses;
mod streaming;
mod styles;
mod upstreams;

use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use bytes::Bytes;
use futures_util::StreamExt;
use mindgate::config::GatewayConfig;
use mindgate::db::providers::ProviderSeed;
use mindgate::db::StoreError;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};
use crate::mock_upstream::MockUpstream;

pub const OPENAI_KEY: &str = "sk-test-openai-0123456789";
pub const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789";

/// Test timeouts: short, so faults show quickly.
pub fn config(mock: &MockUpstream) -> GatewayConfig {
    GatewayConfig {
        connect_timeout: Duration::from_secs(2),
        first_byte_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(2),
        openai: ProviderSeed {
            base_url: Some(mock.openai_base()),
            api_key: Some(OPENAI_KEY.into()),
        },
        anthropic: ProviderSeed {
            base_url: Some(mock.address.clone()),
            api_key: Some(ANTHROPIC_KEY.into()),
        },
        ..GatewayConfig::default()
    }
}

pub struct Gateway {
    pub app: TestApp,
    pub mock: MockUpstream,
}

pub async fn spawn_gateway() -> Gateway {
    let mock = MockUpstream::start().await;
    let app = spawn_app_with(config(&mock)).await;
    Gateway { app, mock }
}

pub async fn spawn_gateway_with(adjust: impl FnOnce(&mut GatewayConfig)) -> Gateway {
    let mock = MockUpstream::start().await;
    let mut config = config(&mock);
    adjust(&mut config);
    let app = spawn_app_with(config).await;
    Gateway { app, mock }
}

pub fn hello(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "Hi there" }] })
}

pub fn streamed(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body
}

impl Gateway {
    pub async fn complete(&self, body: &Value) -> (StatusCode, Value) {
        self.app.post("/api/v1/chat/completions", body).await
    }

    /// Sends a streaming request; the response is still being read.
    pub async fn open_stream(&self, body: &Value) -> awc::ClientResponse {
        self.app
            .request(Method::POST, "/api/v1/chat/completions")
            .insert_header(("content-type", "application/json"))
            .send_body(body.to_string())
            .await
            .expect("request failed")
    }

    /// A whole streamed answer: status, headers checked, raw text.
    pub async fn stream(&self, body: &Value) -> (StatusCode, String) {
        let mut response = self.open_stream(body).await;
        let status = response.status();
        let body = response.body().limit(16 << 20).await.expect("read stream");
        (status, String::from_utf8(body.to_vec()).expect("utf-8"))
    }
}

/// The chunks of a response as they arrive, each with when it arrived.
pub async fn chunks_with_times(response: &mut awc::ClientResponse) -> Vec<(Instant, Bytes)> {
    let mut chunks = Vec::new();
    while let Some(chunk) = response.next().await {
        chunks.push((Instant::now(), chunk.expect("read chunk")));
    }
    chunks
}

/// Each SSE event's data, parsed (`[DONE]` kept as a string).
pub fn event_data(stream: &str) -> Vec<Value> {
    events(stream)
        .into_iter()
        .map(|(_, data)| serde_json::from_str(&data).unwrap_or(Value::String(data)))
        .collect()
}

/// Each SSE event as (event name, data).
pub fn events(stream: &str) -> Vec<(Option<String>, String)> {
    stream
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let mut name = None;
            let mut data = String::new();
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            (name, data)
        })
        .collect()
}

/// The text of an OpenAI chunk stream, joined.
pub fn streamed_text(stream: &str) -> String {
    event_data(stream)
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect()
}

/// A chat log row as stored, with the gateway's columns.
#[derive(Debug)]
pub struct StoredChat {
    pub chat_id: String,
    pub chat_title: String,
    pub conversation: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub character_id: Option<String>,
    pub user_id: Option<i64>,
    pub api_key_id: Option<i64>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub status: String,
    pub error: Option<String>,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub created_at: i64,
    pub recorded_at: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: Option<i64>,
    pub usage_estimated: bool,
}

pub fn stored_chats(app: &TestApp) -> Vec<StoredChat> {
    app.db
        .read_blocking(|conn| {
            let mut stmt = conn.prepare(
                "SELECT chat_id, chat_title, conversation_text, model, provider, character_id,
                        user_id, api_key_id, prompt_tokens, completion_tokens, status,
                        error_message, latency_ms, ttft_ms, created_at, recorded_at,
                        cache_read_tokens, cache_write_tokens, cost_micros, usage_estimated
                 FROM chat_logs ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(StoredChat {
                    chat_id: r.get(0)?,
                    chat_title: r.get(1)?,
                    conversation: r.get(2)?,
                    model: r.get(3)?,
                    provider: r.get(4)?,
                    character_id: r.get(5)?,
                    user_id: r.get(6)?,
                    api_key_id: r.get(7)?,
                    prompt_tokens: r.get(8)?,
                    completion_tokens: r.get(9)?,
                    status: r.get(10)?,
                    error: r.get(11)?,
                    latency_ms: r.get(12)?,
                    ttft_ms: r.get(13)?,
                    created_at: r.get(14)?,
                    recorded_at: r.get(15)?,
                    cache_read_tokens: r.get(16)?,
                    cache_write_tokens: r.get(17)?,
                    cost_micros: r.get(18)?,
                    usage_estimated: r.get(19)?,
                })
            })?;
            Ok::<_, StoreError>(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .expect("read chat logs")
}

/// Waits (up to 5 s) until `count` chat logs are stored, and returns them.
pub async fn wait_for_chats(app: &TestApp, count: usize) -> Vec<StoredChat> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let chats = stored_chats(app);
        if chats.len() >= count || Instant::now() > deadline {
            assert_eq!(chats.len(), count, "chat logs stored: {chats:#?}");
            return chats;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the one chat log of a test.
pub async fn the_chat(app: &TestApp) -> StoredChat {
    wait_for_chats(app, 1).await.pop().unwrap()
}
