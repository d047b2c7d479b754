use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use actix_web::dev::ServerHandle;
use actix_web::http::{header, Method, StatusCode};
use mindgate::admin::password;
use mindgate::config::AppConfig;
use mindgate::db::chat_logs::{self, ChatStatus, NewChatLog};
use mindgate::db::{admins, api_keys, Db, StoreError};
use mindgate::domain::ApiKey;
use mindgate::domain::{Email, Timestamp};
use mindgate::startup::Application;
use tempfile::TempDir;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub db_path: PathBuf,
    pub setup_path: Option<String>,
    handle: ServerHandle,
    // Dropped last: the database lives here.
    _dir: Option<TempDir>,
}

/// A server on a fresh database with no admin yet.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppConfig::default()).await
}

/// A server on a fresh database with no admin yet, configured by `config`.
pub async fn spawn_app_with(config: AppConfig) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mindgate.db");
    let mut app = spawn_app_on_with(&path, config).await;
    app._dir = Some(dir);
    app
}

pub async fn spawn_app_on(path: &Path) -> TestApp {
    spawn_app_on_with(path, AppConfig::default()).await
}

pub async fn spawn_app_on_with(path: &Path, config: AppConfig) -> TestApp {
    let db = Db::open(path).expect("open database");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let app = Application::on_listener(listener, db.clone(), config).expect("build server");
    let address = format!("http://{}", app.address());
    let setup_path = app.setup_path();
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        db,
        db_path: path.to_owned(),
        setup_path,
        handle,
        _dir: None,
    }
}

/// A server with one admin, and a browser-like client signed in as them.
pub async fn signed_in() -> (TestApp, Browser) {
    signed_in_with(AppConfig::default()).await
}

/// A server configured by `config`, and a browser-like client signed in.
pub async fn signed_in_with(config: AppConfig) -> (TestApp, Browser) {
    let app = spawn_app_with(config).await;
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let browser = app.browser();
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    (app, browser)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.address)
    }

    pub fn add_admin(&self, email: &str, pw: &str) -> i64 {
        let email = Email::parse(email).unwrap();
        let hash = password::hash(pw).unwrap();
        self.db
            .write_blocking(|tx| admins::insert(tx, &email, &hash))
            .expect("add admin")
    }

    pub fn api_key(&self) -> String {
        let key = ApiKey::generate();
        self.db
            .write_blocking(|tx| api_keys::insert(tx, "tests", &key))
            .expect("create key");
        key.as_str().to_owned()
    }

    /// Records a chat directly, as the gateway would.
    pub fn record_chat(&self, chat_id: &str, title: &str, text: &str, model: &str, ms_ago: i64) {
        let log = NewChatLog {
            chat_id: chat_id.to_owned(),
            chat_title: title.to_owned(),
            recorded_at: Timestamp(Timestamp::now().millis() - ms_ago),
            conversation_text: text.to_owned(),
            model: Some(model.to_owned()),
            provider: Some("openai".to_owned()),
            character_id: None,
            user_id: None,
            api_key_id: None,
            prompt_tokens: Some(100),
            completion_tokens: Some(23),
            status: ChatStatus::Ok,
            error_message: None,
            latency_ms: Some(812),
            ttft_ms: Some(240),
        };
        self.db
            .write_blocking(|tx| chat_logs::upsert(tx, &log))
            .expect("record chat");
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db
            .read_blocking(|conn| Ok::<_, StoreError>(conn.query_row(sql, [], |row| row.get(0))?))
            .unwrap()
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// A response, read whole.
pub struct Page {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn location(&self) -> &str {
        self.header("location")
    }

    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> String {
        field_value(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        self
    }

    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.body.contains(needle),
            "{needle:?} not in the page: {}",
            self.body
        );
        self
    }

    /// A 303 to `to`.
    pub fn assert_redirect(&self, to: &str) -> &Self {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        assert_eq!(self.location(), to);
        self
    }
}

/// The value of the first `<input name="NAME" value="...">`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// A client that keeps cookies, like a browser, and never follows redirects.
pub struct Browser {
    pub address: String,
    client: awc::Client,
    cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    /// A browser with no cookies yet, for the server at `address`.
    pub fn new(address: &str) -> Browser {
        Browser {
            address: address.to_owned(),
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(std::time::Duration::from_secs(60))
                // Tests send bursts: no pool limit queues them client-side.
                .connector(awc::Connector::new().limit(0))
                .finish(),
            cookies: Mutex::default(),
        }
    }

    /// The same cookies, against another server (after a restart).
    pub fn clone_to(&self, address: &str) -> Browser {
        Browser {
            address: address.to_owned(),
            client: self.client.clone(),
            cookies: Mutex::new(self.cookies.lock().unwrap().clone()),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn request(&self, method: Method, path: &str) -> awc::ClientRequest {
        let jar: Vec<String> = self
            .cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut request = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if !jar.is_empty() {
            request = request.insert_header((header::COOKIE, jar.join("; ")));
        }
        request
    }

    pub async fn send(&self, request: awc::ClientRequest, body: Option<String>) -> Page {
        let sent = match body {
            Some(body) => {
                request
                    .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                    .send_body(body)
                    .await
            }
            None => request.send().await,
        };
        let mut response = sent.expect("request failed");
        let headers = response.headers().clone();
        for value in headers.get_all(header::SET_COOKIE) {
            let cookie =
                actix_web::cookie::Cookie::parse(value.to_str().unwrap().to_owned()).unwrap();
            let mut jar = self.cookies.lock().unwrap();
            if cookie.value().is_empty() {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        let body = response.body().limit(64 << 20).await.expect("read body");
        Page {
            status: response.status(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.request(Method::GET, path), None).await
    }

    /// A GET as htmx sends it.
    pub async fn hx_get(&self, path: &str) -> Page {
        let request = self
            .request(Method::GET, path)
            .insert_header(("HX-Request", "true"));
        self.send(request, None).await
    }

    /// Posts a form as is: no token added.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(self.request(Method::POST, path), Some(body))
            .await
    }

    /// Posts a form with the CSRF token of the page `from` (fetched first).
    pub async fn post(&self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts as htmx does: the token in `X-CSRF-Token`, `HX-Request` set.
    pub async fn hx_post(&self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let request = self
            .request(Method::POST, path)
            .insert_header(("HX-Request", "true"))
            .insert_header(("X-CSRF-Token", csrf));
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(request, Some(body)).await
    }

    pub async fn sign_in(&self, email: &str, pw: &str) -> Page {
        let page = self
            .post(
                "/admin/login",
                "/admin/login",
                &[("email", email), ("password", pw)],
            )
            .await;
        page.assert_redirect("/admin");
        page
    }
}
