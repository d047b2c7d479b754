use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use actix_web::dev::ServerHandle;
use actix_web::http::{Method, StatusCode};
use mindgate::config::{AppConfig, GatewayConfig};
use mindgate::db::{api_keys, Db};
use mindgate::domain::ApiKey;
use mindgate::startup::Application;
use serde_json::Value;
use tempfile::TempDir;

pub struct TestApp {
    pub address: String,
    pub api_key: String,
    pub db_path: PathBuf,
    pub db: Db,
    pub client: awc::Client,
    handle: ServerHandle,
    server: std::sync::Mutex<Option<actix_web::rt::task::JoinHandle<std::io::Result<()>>>>,
    // Dropped last: the database lives here.
    _dir: Option<TempDir>,
}

/// A server on a fresh database, with one API key ready in `api_key`.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(GatewayConfig::default()).await
}

/// A server on a fresh database whose gateway is configured by `config`.
pub async fn spawn_app_with(config: GatewayConfig) -> TestApp {
    spawn_app_configured(AppConfig {
        gateway: config,
        ..AppConfig::default()
    })
    .await
}

/// A server on a fresh database, configured by `config`.
pub async fn spawn_app_configured(config: AppConfig) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mindgate.db");
    let mut app = spawn_app_on_configured(&path, config).await;
    app._dir = Some(dir);
    app
}

/// A server on the database at `path` (kept by the caller).
pub async fn spawn_app_on(path: &Path) -> TestApp {
    spawn_app_on_with(path, GatewayConfig::default()).await
}

pub async fn spawn_app_on_with(path: &Path, config: GatewayConfig) -> TestApp {
    spawn_app_on_configured(
        path,
        AppConfig {
            gateway: config,
            ..AppConfig::default()
        },
    )
    .await
}

pub async fn spawn_app_on_configured(path: &Path, config: AppConfig) -> TestApp {
    let db = Db::open(path).expect("open database");
    let key = ApiKey::generate();
    db.write_blocking(|tx| api_keys::insert(tx, "tests", &key))
        .expect("create key");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let app = Application::on_listener(listener, db.clone(), config).expect("build server");
    let address = format!("http://{}", app.address());
    let handle = app.handle();
    let server = actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        api_key: key.as_str().to_owned(),
        db_path: path.to_owned(),
        db,
        client: awc::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .finish(),
        handle,
        server: std::sync::Mutex::new(Some(server)),
        _dir: None,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
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

/// Runs the mindgate binary, off the async runtime.
pub fn mindgate(args: &[&str]) -> impl std::future::Future<Output = Output> + 'static {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    async move {
        actix_web::rt::task::spawn_blocking(move || mindgate_blocking(&args))
            .await
            .expect("join")
    }
}

pub fn mindgate_blocking(args: &[String]) -> Output {
    mindgate_command(args).output().expect("run mindgate")
}

/// The mindgate binary with `args`, free of the caller's mindgate settings.
pub fn mindgate_command(args: &[String]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mindgate"));
    command
        .args(args)
        .env_remove("MINDGATE_DB")
        .env_remove("MINDGATE_LISTEN")
        .env_remove("MINDGATE_RECORD_CHATS")
        .env_remove("MINDGATE_SECRET_KEY")
        .env_remove("MINDGATE_SECRET_KEY_FILE")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_BASE_URL");
    command
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
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
