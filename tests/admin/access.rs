//! Sign-in, sessions, CSRF, rate limiting and security headers.

use actix_web::http::{Method, StatusCode};
use mindgate::admin::paths::Urls;
use mindgate::domain::Scope;

use crate::helpers::{field_value, signed_in, spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};

fn pages(u: &Urls) -> [String; 14] {
    [
        u.dashboard(),
        u.users(),
        u.user_edit(1),
        u.groups(),
        u.group("interns"),
        u.policy_delete(&Scope::Everyone),
        u.api_key(1),
        u.characters(),
        u.character_new(),
        u.providers(),
        u.chatlogs(),
        u.chatlogs_csv(),
        u.api_keys(),
        u.settings(),
    ]
}

#[actix_web::test]
async fn anonymous_requests_go_to_the_login_page() {
    let app = spawn_app().await;
    let u = &app.urls;
    let browser = app.browser();
    browser
        .get(&u.dashboard())
        .await
        .assert_redirect(&u.login());
    for path in &pages(u)[1..] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        let next = page
            .location()
            .strip_prefix(&format!("{}?next=", u.login()))
            .unwrap();
        assert_eq!(
            percent_encoding::percent_decode_str(next)
                .decode_utf8()
                .unwrap(),
            *path
        );
    }
    let hx = browser.hx_get(&u.users()).await;
    assert_eq!(hx.header("hx-redirect"), &u.login());
    browser
        .get(&u.login())
        .await
        .assert_ok()
        .assert_contains("Sign in");
}

#[actix_web::test]
async fn wrong_password_fails_and_the_right_one_lands_on_the_dashboard() {
    let app = spawn_app().await;
    let u = &app.urls;
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let browser = app.browser();
    for (email, pw) in [
        (ADMIN_EMAIL, "not the password!"),
        ("nobody@example.com", ADMIN_PASSWORD),
    ] {
        let page = browser
            .post(
                &u.login(),
                &u.login(),
                &[("email", email), ("password", pw)],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        page.assert_contains("wrong email or password");
        assert!(browser.cookie("mg_session").is_none());
    }
    let page = browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let set_cookie: Vec<&str> = page
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.starts_with("mg_session="))
        .collect();
    assert_eq!(set_cookie.len(), 1, "{set_cookie:?}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set_cookie[0].contains(attribute), "{}", set_cookie[0]);
    }
    assert!(
        !set_cookie[0].contains("Secure"),
        "plain HTTP: {}",
        set_cookie[0]
    );
    let dashboard = browser.get(&u.dashboard()).await;
    dashboard
        .assert_ok()
        .assert_contains("Dashboard")
        .assert_contains("Signed in.")
        .assert_contains(ADMIN_EMAIL);
    // Only a hash of the session id is stored.
    let id = browser.cookie("mg_session").unwrap();
    let stored = app.count(&format!(
        "SELECT COUNT(*) FROM admin_sessions WHERE CAST(id_hash AS TEXT) = '{id}'"
    ));
    assert_eq!(stored, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM admin_sessions"), 1);
}

/// `next` values that are no clean path inside the admin.
const UNUSABLE_NEXT: [&str; 13] = [
    "/admin/users\r\nSet-Cookie: evil=1",
    "/admin\n",
    "/admin/users\tx",
    "/admin/\u{7f}",
    "/admin/ü",
    "//evil.example/admin",
    "/\\evil.example",
    "/admin\\..\\..\\x",
    "https://evil.example/admin",
    "/admin/../evil",
    "/admin/%2E%2e/evil",
    "/administrator",
    "",
];

#[actix_web::test]
async fn login_leads_back_to_the_page_asked_for_and_anywhere_else_to_the_dashboard() {
    let app = spawn_app().await;
    let u = &app.urls;
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let asked = format!("{}?q=x", u.users());
    let dashboard = u.dashboard();
    let cases = [(asked.as_str(), asked.as_str())]
        .into_iter()
        .chain(UNUSABLE_NEXT.map(|next| (next, dashboard.as_str())));
    for (next, to) in cases {
        let browser = app.browser();
        let query = percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC);
        let form = browser.get(&format!("{}?next={query}", u.login())).await;
        form.assert_ok();
        assert_eq!(
            field_value(&form.body, "next").as_deref(),
            Some(to),
            "{next:?}"
        );
        let page = browser
            .post(
                &u.login(),
                &u.login(),
                &[
                    ("email", ADMIN_EMAIL),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "{next:?}: {}",
            page.body
        );
        assert_eq!(page.location(), to, "{next:?}");
        // Already signed in, the sign-in page sends you on.
        browser
            .get(&format!("{}?next={query}", u.login()))
            .await
            .assert_redirect(to);
    }
}

#[actix_web::test]
async fn logout_ends_the_session_for_good() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let old = browser.cookie("mg_session").unwrap();
    browser
        .post(&u.dashboard(), &u.logout(), &[])
        .await
        .assert_redirect(&u.login());
    assert!(browser.cookie("mg_session").is_none());
    assert_eq!(app.count("SELECT COUNT(*) FROM admin_sessions"), 0);
    browser.set_cookie("mg_session", &old);
    browser
        .get(&u.dashboard())
        .await
        .assert_redirect(&u.login());
}

#[actix_web::test]
async fn mutations_without_the_token_or_from_elsewhere_get_403() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let fields = [("email", "eve@example.com"), ("tags", "")];
    let no_token = browser.post_raw(&u.users(), &fields).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    no_token.assert_contains("CSRF");
    let wrong = browser
        .post_raw(&u.users(), &[("csrf", "guessed"), fields[0], fields[1]])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // The right token, but sent from another site.
    let csrf = browser.get(&u.users()).await.csrf();
    let body = serde_urlencoded::to_string([("csrf", csrf.as_str()), fields[0]]).unwrap();
    let cross = browser
        .send(
            browser
                .request(Method::POST, &u.users())
                .insert_header(("Origin", "https://evil.example")),
            Some(body.clone()),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    cross.assert_contains("cross-origin");
    // htmx's header counts only when it is right.
    let hx = browser
        .send(
            browser
                .request(Method::POST, &u.users())
                .insert_header(("HX-Request", "true"))
                .insert_header(("X-CSRF-Token", "nope")),
            Some(serde_urlencoded::to_string(fields).unwrap()),
        )
        .await;
    assert_eq!(hx.status, StatusCode::FORBIDDEN);
    assert_eq!(hx.header("hx-retarget"), "#flash");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users"),
        0,
        "nothing changed"
    );
    // Logging out needs the token too.
    let logout = browser.post_raw(&u.logout(), &[]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    // And with it, from the same origin, the mutation goes through.
    let same_origin = browser
        .send(
            browser
                .request(Method::POST, &u.users())
                .insert_header(("Origin", browser.address.as_str())),
            Some(body),
        )
        .await;
    same_origin.assert_redirect(&u.users());
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 1);
}

#[actix_web::test]
async fn failed_logins_are_limited_per_email_and_per_ip() {
    let app = spawn_app().await;
    let u = &app.urls;
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let browser = app.browser();
    for _ in 0..5 {
        let page = browser
            .post(
                &u.login(),
                &u.login(),
                &[("email", ADMIN_EMAIL), ("password", "wrong password")],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    // Now this IP is refused, even with the right password...
    let page = browser
        .post(
            &u.login(),
            &u.login(),
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    page.assert_contains("too many failed sign-ins");
    let wait: u64 = page.header("retry-after").parse().unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
    // ...and for any other email (a clean IP still gets in: see `limits`).
    let other = browser
        .post(
            &u.login(),
            &u.login(),
            &[
                ("email", "other@example.com"),
                ("password", "whatever it is"),
            ],
        )
        .await;
    assert_eq!(other.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(browser.cookie("mg_session").is_none());
}

#[actix_web::test]
async fn sessions_survive_a_restart_and_expire_when_idle_or_old() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    app.stop().await;
    let again = crate::helpers::spawn_app_on(&app.db_path).await;
    let moved = crate::helpers::Browser::clone_to(&browser, &again.address);
    moved.get(&u.dashboard()).await.assert_ok();
    // Idle for three hours: gone.
    let three_hours_ago = mindgate::domain::Timestamp::now().millis() - 3 * 3_600_000;
    again
        .db
        .write_blocking(|tx| {
            Ok::<_, mindgate::db::StoreError>(tx.execute(
                "UPDATE admin_sessions SET last_seen_at = ?1",
                [three_hours_ago],
            )?)
        })
        .unwrap();
    moved.get(&u.dashboard()).await.assert_redirect(&u.login());
    assert_eq!(again.count("SELECT COUNT(*) FROM admin_sessions"), 0);
    // In use all along, but signed in 13 hours ago: gone too.
    moved.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let thirteen_hours_ago = mindgate::domain::Timestamp::now().millis() - 13 * 3_600_000;
    again
        .db
        .write_blocking(|tx| {
            Ok::<_, mindgate::db::StoreError>(tx.execute(
                "UPDATE admin_sessions SET created_at = ?1",
                [thirteen_hours_ago],
            )?)
        })
        .unwrap();
    moved.get(&u.dashboard()).await.assert_redirect(&u.login());
}

#[actix_web::test]
async fn every_page_sends_the_security_headers() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    for path in [&u.dashboard(), &u.login(), &u.users(), &u.at("/nowhere")] {
        let page = browser.get(path).await;
        let csp = page.header("content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(page.header("referrer-policy"), "same-origin", "{path}");
    }
    let page = browser.get(&u.dashboard()).await;
    page.assert_contains("\"allowEval\":false")
        .assert_contains("\"includeIndicatorStyles\":false");
    assert!(!page.body.contains("<script>"), "no inline script");
    assert!(!page.body.contains("style=\""), "no inline style");
    let nowhere = u.at("/nowhere");
    let missing = browser.get(&nowhere).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    missing.assert_contains(&format!("there is no admin page at {nowhere}"));
}

#[actix_web::test]
async fn static_files_are_cached_forever_and_revalidate_with_304() {
    let app = spawn_app().await;
    let u = &app.urls;
    let browser = app.browser();
    let login = browser.get(&u.login()).await;
    let start = login.body.find("/static/htmx.min.js?v=").unwrap();
    let src = &login.body[start..login.body[start..].find('"').unwrap() + start];
    let js = browser.get(src).await;
    js.assert_ok().assert_contains("htmx");
    assert_eq!(
        js.header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(js.header("content-type").starts_with("text/javascript"));
    let etag = js.header("etag").to_owned();
    assert!(src.ends_with(etag.trim_matches('"')), "{src} {etag}");
    let again = browser
        .send(
            browser
                .request(Method::GET, "/static/htmx.min.js")
                .insert_header(("If-None-Match", etag.as_str())),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    browser.get("/static/htmx.LICENSE.txt").await.assert_ok();
    let css = browser.get("/static/admin.css").await;
    assert!(css.header("content-type").starts_with("text/css"));
    assert_eq!(
        browser.get("/static/nope.js").await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn cookies_are_secure_when_the_request_came_over_tls() {
    let app = spawn_app().await;
    let u = &app.urls;
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let browser = app.browser();
    let csrf = browser.get(&u.login()).await.csrf();
    let body = serde_urlencoded::to_string([
        ("csrf", csrf.as_str()),
        ("email", ADMIN_EMAIL),
        ("password", ADMIN_PASSWORD),
    ])
    .unwrap();
    // As a TLS-terminating proxy in front of mindgate says it.
    let page = browser
        .send(
            browser
                .request(Method::POST, &u.login())
                .insert_header(("X-Forwarded-Proto", "https")),
            Some(body),
        )
        .await;
    page.assert_redirect(&u.dashboard());
    let session = page
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mg_session="))
        .unwrap();
    assert!(session.contains("Secure"), "{session}");
}
