//! A server on 127.0.0.1:0 with a fresh temporary database (`TestApp`),
//! started by one builder, and what the tests do with it: JSON requests
//! with the API key, admins and a browser signed in as one, rows written
//! straight to the database.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use actix_web::dev::ServerHandle;
use actix_web::http::{Method, StatusCode};
use mindgate::admin::password;
use mindgate::admin::paths::Urls;
use mindgate::config::{AppConfig, GatewayConfig};
use mindgate::db::chat_logs::{ChatStatus, NewChatLog};
use mindgate::db::settings::{self, DefaultProvider};
use mindgate::db::{admins, api_keys, usage, Db, StoreError};
use mindgate::domain::{AdminId, ApiKey, ApiKeyId, Email, KeyScope, Timestamp};
use mindgate::startup::Application;
use serde_json::Value;
use tempfile::TempDir;

pub use super::browser::{field_value, Browser, Page};
pub use super::server::{
    mindgate, mindgate_blocking, mindgate_command, mindgate_with_stdin, set_password, stderr,
    stdout, ServerProcess,
};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: String,
    /// A key for the API, sent by `request`; empty when the builder was
    /// told `without_api_key`.
    pub api_key: String,
    pub db_path: PathBuf,
    pub db: Db,
    pub client: awc::Client,
    /// `/admin/setup?token=…` while the instance has no admin.
    pub setup_path: Option<String>,
    /// The admin's URLs on this server (under its base path).
    pub urls: Urls,
    handle: ServerHandle,
    server: std::sync::Mutex<Option<actix_web::rt::task::JoinHandle<std::io::Result<()>>>>,
    // Dropped last: the database lives here.
    _dir: Option<TempDir>,
}

/// How a `TestApp` starts: on a fresh temporary database unless `on` names
/// one, configured by `config` (defaults otherwise), with one API key
/// unless `without_api_key`.
pub struct TestAppBuilder {
    config: AppConfig,
    path: Option<PathBuf>,
    api_key: bool,
}

impl TestAppBuilder {
    pub fn config(mut self, config: AppConfig) -> Self {
        self.config = config;
        self
    }

    pub fn gateway(mut self, gateway: GatewayConfig) -> Self {
        self.config.gateway = gateway;
        self
    }

    /// The database at `path`, kept by the caller (to restart on it).
    pub fn on(mut self, path: &Path) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    /// No API key: for tests of an instance that has none.
    pub fn without_api_key(mut self) -> Self {
        self.api_key = false;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let (dir, path) = match self.path {
            Some(path) => (None, path),
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("mindgate.db");
                (Some(dir), path)
            }
        };
        let db = Db::open(&path).expect("open database");
        let api_key = if self.api_key {
            let key = ApiKey::generate();
            db.write_blocking(|tx| api_keys::insert(tx, "tests", &key, KeyScope::Admin))
                .expect("create key");
            key.as_str().to_owned()
        } else {
            String::new()
        };
        let urls = Urls::new(self.config.http.base_path.clone());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let app =
            Application::on_listener(listener, db.clone(), self.config).expect("build server");
        let address = format!("http://{}", app.address());
        let setup_path = app.setup_path();
        let handle = app.handle();
        let server = actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            address,
            api_key,
            db_path: path,
            db,
            client: awc::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .finish(),
            setup_path,
            urls,
            handle,
            server: std::sync::Mutex::new(Some(server)),
            _dir: dir,
        }
    }

    /// The server with one admin, and a browser signed in as them.
    pub async fn signed_in(self) -> (TestApp, Browser) {
        let app = self.spawn().await;
        app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
        let browser = app.browser();
        browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        (app, browser)
    }
}

/// A server on a fresh database, with one API key ready in `api_key`.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

/// A server on a fresh database whose gateway is configured by `config`.
pub async fn spawn_app_with(config: GatewayConfig) -> TestApp {
    TestApp::builder().gateway(config).spawn().await
}

/// A server on a fresh database, configured by `config`.
pub async fn spawn_app_configured(config: AppConfig) -> TestApp {
    TestApp::builder().config(config).spawn().await
}

/// A server on the database at `path` (kept by the caller).
pub async fn spawn_app_on(path: &Path) -> TestApp {
    TestApp::builder().on(path).spawn().await
}

pub async fn spawn_app_on_with(path: &Path, config: GatewayConfig) -> TestApp {
    TestApp::builder().on(path).gateway(config).spawn().await
}

/// A server with one admin, and a browser signed in as them.
pub async fn signed_in() -> (TestApp, Browser) {
    TestApp::builder().signed_in().await
}

/// A server configured by `config`, and a browser signed in.
pub async fn signed_in_with(config: AppConfig) -> (TestApp, Browser) {
    TestApp::builder().config(config).signed_in().await
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            config: AppConfig::default(),
            path: None,
            api_key: true,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A browser-like client with no cookies yet.
    pub fn browser(&self) -> Browser {
        Browser::under(&self.address, self.urls.clone())
    }

    pub fn add_admin(&self, email: &str, pw: &str) -> AdminId {
        let email = Email::parse(email).unwrap();
        let hash = password::hash(pw).unwrap();
        self.db
            .write_blocking(|tx| admins::insert(tx, &email, &hash))
            .expect("add admin")
    }

    /// Creates an API key of `scope` straight in the database: its id and
    /// the key.
    pub fn add_key(&self, name: &str, scope: KeyScope) -> (ApiKeyId, String) {
        let key = ApiKey::generate();
        let info = self
            .db
            .write_blocking(|tx| api_keys::insert(tx, name, &key, scope))
            .expect("create key");
        (info.id, key.as_str().to_owned())
    }

    /// Records a chat directly, as the gateway would.
    pub fn record_chat(&self, chat_id: &str, title: &str, text: &str, model: &str, ms_ago: i64) {
        self.record_texts(&[(chat_id, title, text, model, ms_ago)]);
    }

    /// Records chat logs directly, and adds them to the usage rollups, as
    /// the gateway's writer does.
    pub fn record_chats(&self, logs: &[NewChatLog]) {
        self.db
            .write_blocking(|tx| usage::record_chats(tx, logs))
            .expect("record chats");
    }

    /// Like `record_chat` for each of `chats` (id, title, text, model,
    /// age in ms), in one transaction.
    pub fn record_texts(&self, chats: &[(&str, &str, &str, &str, i64)]) {
        let now = Timestamp::now().millis();
        let logs: Vec<NewChatLog> = chats
            .iter()
            .map(|&(chat_id, title, text, model, ms_ago)| NewChatLog {
                chat_title: title.to_owned(),
                conversation_text: text.to_owned(),
                model: Some(model.to_owned()),
                ..chat_log(chat_id, Timestamp(now - ms_ago))
            })
            .collect();
        self.record_chats(&logs);
    }

    /// Waits (at most 10 s) until the background thread has put every
    /// recorded chat's text in the search index.
    pub async fn wait_indexed(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let pending = "SELECT (SELECT COUNT(*) FROM chat_logs_unindexed)
            + (SELECT COUNT(*) FROM chat_logs
               WHERE id > (SELECT indexed_to FROM chat_logs_fts_progress))";
        while self.count(pending) > 0 {
            assert!(std::time::Instant::now() < deadline, "chats left unindexed");
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Sets the default provider as `mindgate models default` does, from
    /// outside the server, and waits until the server sees it.
    pub async fn set_default_provider(&self, choice: DefaultProvider, takes_to: Option<&str>) {
        self.db
            .write_blocking(|tx| settings::set_default_provider(tx, &choice))
            .expect("set the default provider");
        self.wait_for_model("no-such-model-anywhere", takes_to)
            .await;
    }

    /// Waits (at most 10 s) until `GET /models/{name}` says the model is
    /// `owned_by` that provider (`None`: a 404): for changes made behind
    /// the server's back, which it follows within seconds. For names
    /// outside the catalog (the route reads catalog entries from the
    /// database itself; `wait_listed` waits for those).
    pub async fn wait_for_model(&self, name: &str, owned_by: Option<&str>) {
        let path = format!("/api/v1/models/{name}");
        self.wait_for_owner(name, owned_by, async || {
            let (status, model) = self.get(&path).await;
            (status == StatusCode::OK)
                .then(|| model["owned_by"].as_str().map(String::from))
                .flatten()
        })
        .await;
    }

    /// Waits (at most 10 s) until `GET /models` lists `name` as `owned_by`
    /// that provider (`None`: not at all).
    pub async fn wait_listed(&self, name: &str, owned_by: Option<&str>) {
        self.wait_for_owner(name, owned_by, async || {
            let (_, listed) = self.get("/api/v1/models").await;
            listed["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == name)
                .and_then(|m| m["owned_by"].as_str().map(String::from))
        })
        .await;
    }

    /// Asks `owner` every 50 ms, for 10 s at most, until it says `owned_by`.
    async fn wait_for_owner(
        &self,
        name: &str,
        owned_by: Option<&str>,
        mut owner: impl AsyncFnMut() -> Option<String>,
    ) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let now = owner().await;
            if now.as_deref() == owned_by {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} is {now:?}, not {owned_by:?}"
            );
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The first column of the first row `sql` finds.
    pub fn count(&self, sql: &str) -> i64 {
        self.db
            .read_blocking(|conn| Ok::<_, StoreError>(conn.query_row(sql, [], |row| row.get(0))?))
            .unwrap()
    }

    /// A request carrying the test key in X-API-KEY.
    pub fn request(&self, method: Method, path: &str) -> awc::ClientRequest {
        self.client
            .request(method, self.url(path))
            .insert_header(("X-API-KEY", self.api_key.as_str()))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        send_body(self.request(Method::POST, path), body.to_string()).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        send_body(self.request(Method::PATCH, path), body.to_string()).await
    }

    /// Creates a user through the API, asserting it succeeded.
    pub async fn create_user(&self, body: &Value) -> Value {
        self.create("/api/v1/users", body).await
    }

    /// Creates an AI character through the API, asserting it succeeded.
    pub async fn create_character(&self, body: &Value) -> Value {
        self.create("/api/v1/ai-characters", body).await
    }

    /// Sets the policy of `scope` (`everyone`, `tag:NAME`, `user:ID`,
    /// `key:ID`) through the API, asserting it succeeded.
    pub async fn put_policy(&self, scope: &str, policy: &Value) -> Value {
        let path = format!("/api/v1/policies/{scope}");
        let (status, body) = send_body(self.request(Method::PUT, &path), policy.to_string()).await;
        assert_eq!(status, StatusCode::OK, "PUT {path} {policy}: {body}");
        body
    }

    async fn create(&self, path: &str, body: &Value) -> Value {
        let (status, created) = self.post(path, body).await;
        assert_eq!(status, StatusCode::OK, "POST {path} {body}: {created}");
        created
    }

    /// Stops the server gracefully and waits until it has shut down,
    /// queued chat logs written.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
        let server = self.server.lock().unwrap().take();
        if let Some(server) = server {
            server
                .await
                .expect("server task")
                .expect("server shut down cleanly");
        }
    }
}

/// A chat log of `openai`'s `gpt-4o`, with no user or key, 100 prompt and 23
/// completion tokens, no price, `ok`: what tests change with `..`.
pub fn chat_log(chat_id: &str, recorded_at: Timestamp) -> NewChatLog {
    NewChatLog {
        chat_id: chat_id.to_owned(),
        chat_title: format!("Chat {chat_id}"),
        recorded_at,
        conversation_text: "User: Hi\n\nAssistant: Hello".to_owned(),
        model: Some("gpt-4o".to_owned()),
        provider: Some("openai".to_owned()),
        character_id: None,
        user_id: None,
        api_key_id: None,
        prompt_tokens: Some(100),
        completion_tokens: Some(23),
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cost: None,
        usage_estimated: false,
        status: ChatStatus::Ok,
        error_message: None,
        latency_ms: Some(812),
        ttft_ms: Some(240),
        session: false,
    }
}

pub async fn send(request: awc::ClientRequest) -> (StatusCode, Value) {
    read(request.send().await.expect("request failed")).await
}

pub async fn send_body(request: awc::ClientRequest, body: String) -> (StatusCode, Value) {
    let request = request.insert_header_if_none(("Content-Type", "application/json"));
    read(request.send_body(body).await.expect("request failed")).await
}

async fn read<S>(mut response: awc::ClientResponse<S>) -> (StatusCode, Value)
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = response.status();
    let body = response.body().limit(64 << 20).await.expect("read body");
    // A 204 has no body.
    if body.is_empty() && status == StatusCode::NO_CONTENT {
        return (status, Value::Null);
    }
    let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{status}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, json)
}

/// One string field of each item of a `{"data": [...]}` body.
pub fn data_field(body: &Value, field: &str) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array in {body}"))
        .iter()
        .map(|item| {
            item[field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in {item}"))
                .to_owned()
        })
        .collect()
}

/// Asserts the error body shape and returns its message.
pub fn error_message(body: &Value, expected_type: &str) -> String {
    assert_eq!(body["error"]["type"], expected_type, "body: {body}");
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"));
    assert!(!message.is_empty());
    message.to_owned()
}

/// Matches `2024-08-14T04:18:53.000Z`.
pub fn is_iso_millis(value: &Value) -> bool {
    let Some(s) = value.as_str() else {
        return false;
    };
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
        && s.chars()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19, 23].contains(&i) || c.is_ascii_digit())
}

/// Whether `python3` can import `module`. Without it the test is skipped,
/// loudly, unless MINDGATE_REQUIRE_PYTHON is set (CI sets it, after
/// installing the packages), where this fails instead.
pub fn python_with(module: &str, package: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            std::env::var_os("MINDGATE_REQUIRE_PYTHON").is_none(),
            "MINDGATE_REQUIRE_PYTHON is set but python3 cannot import {module}"
        );
        eprintln!("SKIPPED: python3 with the `{package}` package is not available (pip install {package})");
    }
    found
}

/// Runs `tests/clients/{script}` with `args`, off the async workers and
/// with no provider settings in its environment; it must succeed and print
/// one JSON object.
pub async fn run_python(script: &str, args: Vec<String>) -> Value {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = actix_web::rt::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(path)
            .args(args)
            .env_remove("OPENAI_BASE_URL")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_AUTH_TOKEN")
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}
