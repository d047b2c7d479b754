//! The admin's access rules over every POST route (`admin::endpoints`, the
//! table the server mounts), as a table: a stranger is sent to sign in
//! before anything happens; a signed-in admin's change is refused (403)
//! without the session's CSRF token, with a wrong one, or from another
//! origin; and nothing changes in any of those cases. A new POST route is
//! checked as soon as it is in the table. The sign-in and setup forms, open
//! to anyone, have rows of their own.

use actix_web::http::{Method, StatusCode};
use mindgate::admin::paths::{self, Urls};
use mindgate::db::StoreError;
use mindgate::domain::{AdminId, Scope};
use serde_json::json;

use crate::helpers::{signed_in, Browser, Page, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::providers::add_local;

/// A POST route with a form that would change something if let through.
struct Route {
    path: String,
    form: Vec<(&'static str, String)>,
}

fn route(path: impl Into<String>, form: &[(&'static str, &str)]) -> Route {
    Route {
        path: path.into(),
        form: form.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

/// What each POST route is sent: a form that changes something when let
/// through. A route not named here gets an empty form, and every rule
/// still holds for it.
fn form_for(pattern: &str) -> Vec<(&'static str, &'static str)> {
    let new_pw = "a new passphrase for all";
    match pattern {
        paths::USERS => vec![("email", "eve@example.com")],
        paths::USERS_IMPORT => vec![("csv", "email\nmallory@example.com\n")],
        paths::USER_TAGS => vec![("tags", "owned")],
        paths::CHARACTERS => vec![("title", "Evil"), ("instruction", "Obey.")],
        paths::CHARACTER => vec![("title", "Renamed"), ("instruction", "Obey.")],
        paths::PROVIDERS => vec![
            ("id", "evil"),
            ("kind", "openai"),
            ("name", "Evil"),
            ("base_url", "http://127.0.0.1:9/v1"),
        ],
        paths::PROVIDER => vec![
            ("name", "Renamed"),
            ("base_url", "http://127.0.0.1:9/v1"),
            ("api_key", "sk-stolen-0000"),
        ],
        paths::MODELS => vec![
            ("name", "evil-model"),
            ("provider", "openai"),
            ("upstream", "gpt-4o"),
        ],
        paths::MODEL_TOGGLE => vec![("name", "gpt-4o")],
        paths::MODEL_PRICE => vec![("name", "gpt-4o"), ("input", "99"), ("output", "99")],
        paths::API_KEYS => vec![("name", "backdoor")],
        paths::SETTINGS_CHATLOGS => vec![("retention_days", "7")],
        paths::SETTINGS_TIMEZONE => vec![("timezone", "Europe/Paris")],
        paths::POLICY => vec![
            ("models", "only"),
            ("model", "echo"),
            ("limits[0].metric", "requests"),
            ("limits[0].window", "day"),
            ("limits[0].max", "1"),
            ("limits[0].per", "group"),
        ],
        paths::SETTINGS_PASSWORD => vec![
            ("current", ADMIN_PASSWORD),
            ("password", new_pw),
            ("confirm", new_pw),
        ],
        paths::ADMINS => vec![
            ("email", "eve@example.com"),
            ("password", new_pw),
            ("confirm", new_pw),
        ],
        _ => vec![],
    }
}

/// `pattern` with its segment naming a row of `ids` (see `populate`).
fn path_for(u: &Urls, pattern: &str, ids: &Ids) -> String {
    let under = |root: &str| pattern.starts_with(&format!("{root}/"));
    let tag = Scope::Tag("a".to_owned());
    if pattern == paths::MODEL_DELETE {
        u.model_delete("gpt-4o")
    } else if pattern == paths::POLICY {
        u.policy(&tag)
    } else if pattern == paths::POLICY_DELETE {
        u.policy_delete(&tag)
    } else if !pattern.contains('{') {
        u.at(pattern)
    } else if under(paths::USERS) {
        u.with(pattern, &ids.user)
    } else if under(paths::CHARACTERS) {
        u.with(pattern, &ids.character)
    } else if under(paths::PROVIDERS) {
        u.with(pattern, "local")
    } else if under(paths::API_KEYS) {
        u.with(pattern, ids.key)
    } else if under(paths::ADMINS) {
        u.with(pattern, ids.admin)
    } else {
        panic!("no row for the segment of {pattern}: name one in `path_for`")
    }
}

/// Every POST route that needs a session, with ids that exist in `app`;
/// sign-out comes last, as it ends the session.
fn protected_routes(u: &Urls, ids: &Ids) -> Vec<Route> {
    let mut routes: Vec<(&str, Route)> = mindgate::admin::endpoints()
        .into_iter()
        .filter(|e| e.method == Method::POST && !paths::is_public(e.pattern))
        .map(|e| {
            let path = path_for(u, e.pattern, ids);
            (e.pattern, route(path, &form_for(e.pattern)))
        })
        .collect();
    routes.sort_by_key(|(pattern, _)| *pattern == paths::LOGOUT);
    routes.into_iter().map(|(_, route)| route).collect()
}

/// The ids of the rows that `populate` made.
struct Ids {
    user: String,
    character: String,
    key: i64,
    admin: AdminId,
}

/// Something for every route to act on: a user, a character, an added
/// provider, an API key and a second admin.
async fn populate(app: &TestApp, browser: &Browser) -> Ids {
    let user = app
        .create_user(&json!({"email": "ann@example.com", "tags": ["a"]}))
        .await;
    let character = app
        .create_character(&json!({"title": "Tutor", "instruction": "Teach."}))
        .await;
    add_local(browser, "http://127.0.0.1:9/v1", "").await;
    Ids {
        user: user["id"].as_str().unwrap().to_owned(),
        character: character["id"].as_str().unwrap().to_owned(),
        key: app.count("SELECT id FROM api_keys"),
        admin: app.add_admin("second@example.com", ADMIN_PASSWORD),
    }
}

/// Every row of every table, as text: what a refused request must leave
/// as it was.
fn snapshot(app: &TestApp) -> Vec<String> {
    app.db
        .read_blocking(|conn| {
            let mut tables = conn.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )?;
            let tables: Vec<String> = tables
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let mut rows = Vec::new();
            for table in tables {
                // A session's last use is not a change the admin made.
                let columns = match table.as_str() {
                    "admin_sessions" => "id_hash, admin_id, csrf_token, created_at",
                    _ => "*",
                };
                let mut select = conn.prepare(&format!("SELECT {columns} FROM {table}"))?;
                let width = select.column_count();
                let mut found = select.query([])?;
                while let Some(row) = found.next()? {
                    let values = (0..width)
                        .map(|i| row.get_ref(i).map(|v| format!("{v:?}")))
                        .collect::<Result<Vec<_>, _>>()?;
                    rows.push(format!("{table}: {}", values.join(" | ")));
                }
            }
            rows.sort();
            Ok::<_, StoreError>(rows)
        })
        .unwrap()
}

/// Posts `route`'s form with `csrf` in its `csrf` field when given, and
/// `headers`.
async fn post(
    browser: &Browser,
    route: &Route,
    csrf: Option<&str>,
    headers: &[(&str, &str)],
) -> Page {
    let mut fields: Vec<(&str, &str)> = csrf.map(|t| ("csrf", t)).into_iter().collect();
    fields.extend(route.form.iter().map(|(k, v)| (*k, v.as_str())));
    let mut request = browser.request(Method::POST, &route.path);
    for header in headers {
        request = request.insert_header(*header);
    }
    let body = serde_urlencoded::to_string(&fields).unwrap();
    browser.send(request, Some(body)).await
}

fn assert_refused(page: &Page, why: &str, case: &str, path: &str) {
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}, {case}");
    assert!(page.body.contains(why), "{path}, {case}: {}", page.body);
}

#[actix_web::test]
async fn every_post_route_sends_strangers_to_sign_in_and_refuses_forged_changes() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let ids = populate(&app, &browser).await;
    let routes = protected_routes(u, &ids);
    assert!(routes.len() > 20, "every POST route: {}", routes.len());
    let csrf = browser.get(&u.dashboard()).await.csrf();
    let before = snapshot(&app);
    let stranger = app.browser();
    let evil = "https://evil.example";
    for route in &routes {
        let path = route.path.as_str();
        // No session: to the sign-in page, before the body is read.
        let page = post(&stranger, route, Some(&csrf), &[]).await;
        page.assert_redirect(&u.login());
        let hx = post(&stranger, route, Some(&csrf), &[("HX-Request", "true")]).await;
        assert_eq!(hx.header("hx-redirect"), &u.login(), "{path}");
        // A session, but no token, a wrong one, or another origin.
        let missing = post(&browser, route, None, &[]).await;
        assert_refused(&missing, "CSRF", "no token", path);
        let wrong = post(&browser, route, Some("guessed"), &[]).await;
        assert_refused(&wrong, "CSRF", "a wrong token", path);
        let hx_wrong = post(
            &browser,
            route,
            None,
            &[("HX-Request", "true"), ("X-CSRF-Token", "guessed")],
        )
        .await;
        assert_refused(&hx_wrong, "CSRF", "a wrong htmx token", path);
        let origin = post(&browser, route, Some(&csrf), &[("Origin", evil)]).await;
        assert_refused(&origin, "cross-origin", "another Origin", path);
        let referer = format!("{evil}/admin");
        let referred = post(&browser, route, Some(&csrf), &[("Referer", &referer)]).await;
        assert_refused(&referred, "cross-origin", "another Referer", path);
    }
    assert_eq!(
        snapshot(&app),
        before,
        "a refused request changed something"
    );
    // The same requests with the token and from this origin go through:
    // the refusals above came from the rules, not from the routes.
    let own = browser.address.clone();
    for route in &routes {
        let page = post(&browser, route, Some(&csrf), &[("Origin", &own)]).await;
        let path = route.path.as_str();
        assert!(
            ![
                StatusCode::FORBIDDEN,
                StatusCode::NOT_FOUND,
                StatusCode::METHOD_NOT_ALLOWED
            ]
            .contains(&page.status),
            "{path}: {} {}",
            page.status,
            page.body
        );
        if path == u.logout() {
            page.assert_redirect(&u.login());
        } else {
            assert!(!page.location().starts_with(&u.login()), "{path}");
        }
    }
    assert_ne!(snapshot(&app), before);
}

#[actix_web::test]
async fn the_public_forms_need_their_own_token_and_this_origin() {
    let app = TestApp::builder().spawn().await;
    let u = &app.urls;
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let setup = TestApp::builder().spawn().await;
    let setup_token = setup.setup_path.clone().unwrap();
    let setup_token = setup_token.split("token=").nth(1).unwrap().to_owned();
    let new_pw = "the first admin's passphrase";
    let cases = [
        (
            &app,
            route(
                u.login(),
                &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
            ),
        ),
        (
            &setup,
            route(
                u.setup(),
                &[
                    ("token", &setup_token),
                    ("email", ADMIN_EMAIL),
                    ("password", new_pw),
                    ("confirm", new_pw),
                ],
            ),
        ),
    ];
    for (app, route) in &cases {
        let path = route.path.as_str();
        let browser = app.browser();
        // Before any page was shown there is no token to send.
        let unknown = post(&browser, route, None, &[]).await;
        assert_refused(&unknown, "CSRF", "no token, no cookie", path);
        // The page's token: only its own counts, and only from here.
        let csrf = browser.get(&u.login()).await.csrf();
        let missing = post(&browser, route, None, &[]).await;
        assert_refused(&missing, "CSRF", "no token", path);
        let wrong = post(&browser, route, Some("guessed"), &[]).await;
        assert_refused(&wrong, "CSRF", "a wrong token", path);
        let origin = post(
            &browser,
            route,
            Some(&csrf),
            &[("Origin", "https://evil.example")],
        )
        .await;
        assert_refused(&origin, "cross-origin", "another Origin", path);
        assert!(browser.cookie("mg_session").is_none(), "{path}");
        assert_eq!(app.count("SELECT COUNT(*) FROM admin_sessions"), 0);
        // With it, from here: signed in (and, by setup, the admin made).
        let own = browser.address.clone();
        post(&browser, route, Some(&csrf), &[("Origin", &own)])
            .await
            .assert_redirect(&u.dashboard());
        assert!(browser.cookie("mg_session").is_some(), "{path}");
    }
}
