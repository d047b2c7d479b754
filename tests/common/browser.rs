//! A client for the admin that keeps cookies like a browser and never
//! follows redirects, and the pages it reads.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::http::{header, Method, StatusCode};
use mindgate::admin::paths::Urls;

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
    /// The admin's URLs on this server (under its base path).
    pub urls: Urls,
    client: awc::Client,
    cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    /// A browser with no cookies yet, for the server at `address`.
    pub fn new(address: &str) -> Browser {
        Browser::under(address, Urls::default())
    }

    /// A browser for a server that serves the admin at `urls`.
    pub fn under(address: &str, urls: Urls) -> Browser {
        Browser {
            address: address.to_owned(),
            urls,
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
            urls: self.urls.clone(),
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
                    .insert_header_if_none((
                        header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    ))
                    .send_body(body)
                    .await
            }
            None => request.send().await,
        };
        self.read(sent.expect("request failed")).await
    }

    /// Sends `request` with a multipart form, as a browser posts a file:
    /// each part a name, a file name if it is a file, and its bytes.
    pub async fn send_multipart(
        &self,
        request: awc::ClientRequest,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Page {
        let boundary = "----mindgate-test-boundary";
        let mut body = Vec::new();
        for (name, file, content) in parts {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").bytes(),
            );
            if let Some(file) = file {
                body.extend(format!("; filename=\"{file}\"\r\nContent-Type: text/csv").bytes());
            }
            body.extend(b"\r\n\r\n");
            body.extend(*content);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let sent = request
            .insert_header((header::CONTENT_TYPE, content_type))
            .send_body(body)
            .await;
        self.read(sent.expect("request failed")).await
    }

    /// Reads a response whole, keeping its cookies.
    async fn read<S>(&self, mut response: awc::ClientResponse<S>) -> Page
    where
        S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
            + Unpin,
    {
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

    /// Posts `body` as htmx does from the page at `current` (a path and
    /// query), which it names in `HX-Current-URL`.
    pub async fn hx_post_on(&self, current: &str, csrf: &str, path: &str, body: &str) -> Page {
        let request = self
            .request(Method::POST, path)
            .insert_header(("HX-Request", "true"))
            .insert_header(("HX-Current-URL", format!("{}{current}", self.address)))
            .insert_header(("X-CSRF-Token", csrf));
        self.send(request, Some(body.to_owned())).await
    }

    pub async fn sign_in(&self, email: &str, pw: &str) -> Page {
        let login = self.urls.login();
        let page = self
            .post(&login, &login, &[("email", email), ("password", pw)])
            .await;
        page.assert_redirect(&self.urls.dashboard());
        page
    }
}
