//! Where things are served: under `--base-path` (the admin's flows, the
//! API, the static files, every link, redirect and cookie carrying it, and
//! nothing left at the unprefixed paths), and with a trailing slash.

use actix_web::http::StatusCode;
use mindgate::config::{AppConfig, HttpConfig};
use mindgate::http::BasePath;
use regex::Regex;
use serde_json::json;

use crate::helpers::{
    mindgate_blocking, signed_in, signed_in_with, stderr, Browser, ServerProcess, TestApp,
    ADMIN_EMAIL, ADMIN_PASSWORD,
};

const BASE: &str = "/mindgate";

fn under_a_base_path() -> AppConfig {
    AppConfig {
        http: HttpConfig {
            base_path: BasePath::parse(BASE).unwrap(),
            ..HttpConfig::default()
        },
        ..AppConfig::default()
    }
}

/// Every path a page links to, loads, posts to or has htmx request: the
/// values of its `href`, `src`, `action`, `hx-get` and `hx-post`
/// attributes that start with `/`.
fn local_urls(html: &str) -> Vec<String> {
    let attribute = Regex::new(r#"\s(?:href|src|action|hx-get|hx-post)="(/[^"]*)""#).unwrap();
    attribute
        .captures_iter(html)
        .map(|c| c[1].to_owned())
        .collect()
}

fn assert_all_under_base(html: &str, page: &str) {
    let urls = local_urls(html);
    assert!(!urls.is_empty(), "{page} links nowhere");
    for url in urls {
        assert!(
            url.starts_with(&format!("{BASE}/")),
            "{page} links to {url}"
        );
    }
}

#[actix_web::test]
async fn the_admin_runs_under_a_base_path() {
    let app = TestApp::builder().config(under_a_base_path()).spawn().await;
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let browser = app.browser();
    let u = &browser.urls;
    assert_eq!(u.dashboard(), "/mindgate/admin");
    // A stranger goes to the sign-in page under the base, and back after.
    let stranger = browser.get(&u.users()).await;
    assert_eq!(
        stranger.location(),
        "/mindgate/admin/login?next=%2Fmindgate%2Fadmin%2Fusers"
    );
    let hx = browser.hx_get(&u.users()).await;
    assert_eq!(hx.header("hx-redirect"), "/mindgate/admin/login");
    // Signing in: its cookies are for the admin under the base only.
    let login = browser.get(&u.login()).await;
    login.assert_ok();
    assert_all_under_base(&login.body, "the sign-in page");
    let signed_in = browser
        .post(
            &u.login(),
            &u.login(),
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("next", &u.users()),
            ],
        )
        .await;
    signed_in.assert_redirect("/mindgate/admin/users");
    let cookies: Vec<&str> = signed_in
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("mg_session=")),
        "{cookies:?}"
    );
    for cookie in &cookies {
        let path = cookie.split("; ").find(|a| a.starts_with("Path="));
        assert_eq!(path, Some("Path=/mindgate/admin"), "{cookie}");
    }
    // Every page's links, forms, scripts and htmx requests carry the base.
    let dashboard = browser.get(&u.dashboard()).await;
    dashboard.assert_ok().assert_contains("Signed in.");
    for page in [
        u.dashboard(),
        u.users(),
        u.characters(),
        u.character_new(),
        u.providers(),
        u.chatlogs(),
        u.api_keys(),
        u.settings(),
    ] {
        let shown = browser.get(&page).await;
        shown.assert_ok();
        assert_all_under_base(&shown.body, &page);
    }
    let css = local_urls(&dashboard.body)
        .into_iter()
        .find(|url| url.contains("admin.css"))
        .expect("the stylesheet");
    browser.get(&css).await.assert_ok();
    // A user added with the plain form, then its tags edited with htmx.
    browser
        .post(&u.users(), &u.users(), &[("email", "ann@example.com")])
        .await
        .assert_redirect("/mindgate/admin/users");
    let id = app.count("SELECT id FROM users");
    let editing = browser.hx_get(&u.user_edit(id)).await;
    editing
        .assert_ok()
        .assert_contains(&format!("hx-post=\"/mindgate/admin/users/{id}/tags\""));
    assert_all_under_base(&editing.body, "the editing row");
    let saved = browser
        .hx_post(&u.users(), &u.user_tags(id), &[("tags", "vip")])
        .await;
    saved
        .assert_ok()
        .assert_contains("Saved the tags of ann@example.com.");
    // A change from a filtered page goes back to it, under the base.
    let csrf = dashboard.csrf();
    let filtered = format!("{}?q=bob", u.users());
    let added = browser
        .hx_post_on(&filtered, &csrf, &u.users(), "email=bob%40example.com")
        .await;
    let location: serde_json::Value = serde_json::from_str(added.header("hx-location")).unwrap();
    assert_eq!(location["path"], "/mindgate/admin/users?q=bob");
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 2);
    // Signing out: to the sign-in page under the base.
    browser
        .post(&u.dashboard(), &u.logout(), &[])
        .await
        .assert_redirect("/mindgate/admin/login");
    assert!(browser.cookie("mg_session").is_none());
    browser
        .get(&u.dashboard())
        .await
        .assert_redirect("/mindgate/admin/login");
}

#[actix_web::test]
async fn the_setup_link_and_the_api_are_under_the_base_path_and_nothing_is_outside_it() {
    let app = TestApp::builder().config(under_a_base_path()).spawn().await;
    let link = app.setup_path.clone().expect("a setup link");
    assert!(link.starts_with("/mindgate/admin/setup?token="), "{link}");
    let browser = app.browser();
    let token = link.split("token=").nth(1).unwrap();
    browser
        .post(
            &link,
            &browser.urls.setup(),
            &[
                ("token", token),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("confirm", ADMIN_PASSWORD),
            ],
        )
        .await
        .assert_redirect("/mindgate/admin");
    // The API, its document and the health check.
    let (status, users) = app.get("/mindgate/api/v1/users").await;
    assert_eq!((status, users), (StatusCode::OK, json!({"data": []})));
    let (status, _) = app
        .post(
            "/mindgate/api/v1/users",
            &json!({"email": "ann@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, document) = app.get("/mindgate/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["servers"], json!([{"url": "/mindgate/api/v1"}]));
    let (status, index) = app.get("/mindgate").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(index["openapi"], "/mindgate/api/v1/openapi.json");
    assert_eq!(app.get("/mindgate/healthz").await.0, StatusCode::OK);
    // Outside the base: nothing.
    for path in ["/api/v1/users", "/api/v1/openapi.json", "/healthz", "/"] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"]["type"], "not_found_error", "{path}");
    }
    let outside = Browser::new(&app.address);
    for path in ["/admin", "/admin/login", "/static/admin.css"] {
        assert_eq!(
            outside.get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[actix_web::test]
async fn the_base_path_is_checked_and_the_setup_link_logged_at_start_carries_it() {
    for (bad, problem) in [
        ("mindgate", "must start with /"),
        ("/mindgate/", "must not end with /"),
        ("/a/../b", ". or .."),
        ("/a?b", "no query"),
    ] {
        let out = mindgate_blocking(&["serve".into(), "--base-path".into(), bad.into()]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = stderr(&out);
        assert!(
            err.contains("--base-path") && err.contains(problem),
            "{bad}: {err}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mindgate.db");
    let server = ServerProcess::serve(&db, &[], &[("MINDGATE_BASE_PATH", BASE)]);
    let link = server
        .startup
        .iter()
        .find_map(|line| line.split_once("create the first one within 30 minutes at "))
        .map(|(_, link)| link.to_owned())
        .unwrap_or_else(|| panic!("no setup link in {:?}", server.startup));
    let origin = server.url.trim_end_matches('/');
    assert!(
        link.starts_with(&format!("{origin}/mindgate/admin/setup?token=")),
        "{link}"
    );
    let browser = Browser::new(origin);
    browser
        .get(&link[origin.len()..])
        .await
        .assert_ok()
        .assert_contains("Create the first admin");
}

#[actix_web::test]
async fn a_trailing_slash_reaches_the_same_page() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let dashboard = browser.get(&format!("{}/", u.dashboard())).await;
    dashboard.assert_ok().assert_contains("<h1>Dashboard</h1>");
    browser
        .get(&format!("{}/", u.users()))
        .await
        .assert_ok()
        .assert_contains("<h1>Users");
    browser
        .post(
            &u.users(),
            &format!("{}/", u.users()),
            &[("email", "ann@example.com")],
        )
        .await
        .assert_redirect(&u.users());
    // A stranger meets the sign-in page, not a 404.
    let stranger = app.browser();
    let page = stranger.get(&format!("{}/", u.dashboard())).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location().starts_with(&u.login()),
        "{}",
        page.location()
    );
    // The API the same; an unknown API route is still its JSON 404.
    let (status, users) = app.get("/api/v1/users/").await;
    assert_eq!(status, StatusCode::OK, "{users}");
    assert_eq!(users["data"][0]["email"], "ann@example.com");
    let (status, missing) = app.get("/api/v1/nowhere/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["type"], "not_found_error");
}

#[actix_web::test]
async fn under_a_base_path_a_trailing_slash_reaches_the_same_page_too() {
    let (app, browser) = signed_in_with(under_a_base_path()).await;
    browser
        .get("/mindgate/admin/")
        .await
        .assert_ok()
        .assert_contains("<h1>Dashboard</h1>");
    let (status, index) = app.get("/mindgate/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(index["api"], "/mindgate/api/v1");
}
