//! The first admin: the one-time setup link (30 minutes, once) and
//! `mindgate admin set-password`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use mindgate::config::{AdminConfig, AppConfig, Clock};

use crate::helpers::{set_password, spawn_app, spawn_app_configured, spawn_app_on, ADMIN_PASSWORD};

#[actix_web::test]
async fn the_setup_link_creates_the_first_admin_once() {
    let app = spawn_app().await;
    let u = &app.urls;
    let link = app.setup_path.clone().expect("a setup link with no admin");
    let token = link.split("token=").nth(1).unwrap();
    let browser = app.browser();
    let bad = browser.get(&format!("{}?token=guessed", u.setup())).await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    bad.assert_contains("setup link is invalid");
    browser
        .get(&link)
        .await
        .assert_ok()
        .assert_contains("Create the first admin");
    // A mistake shows the form again and keeps the link alive.
    let typo = browser
        .post(
            &link,
            &u.setup(),
            &[
                ("token", token),
                ("email", "boss@example.com"),
                ("password", ADMIN_PASSWORD),
                ("confirm", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    typo.assert_contains("the two passwords differ")
        .assert_contains("boss@example.com");
    let fields = [
        ("token", token),
        ("email", "Boss@Example.com"),
        ("password", ADMIN_PASSWORD),
        ("confirm", ADMIN_PASSWORD),
    ];
    browser
        .post(&link, &u.setup(), &fields)
        .await
        .assert_redirect(&u.dashboard());
    browser
        .get(&u.dashboard())
        .await
        .assert_ok()
        .assert_contains("boss@example.com")
        .assert_contains("Your admin account is ready");
    assert_eq!(app.count("SELECT COUNT(*) FROM admins"), 1);
    // Dead after use, for anyone.
    let stranger = app.browser();
    assert_eq!(stranger.get(&link).await.status, StatusCode::FORBIDDEN);
    let reuse = stranger.post(&u.login(), &u.setup(), &fields).await;
    assert_eq!(reuse.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM admins"), 1);
    // With an admin in place, a restart prints no link.
    app.stop().await;
    assert!(spawn_app_on(&app.db_path).await.setup_path.is_none());
}

#[actix_web::test]
async fn the_cli_creates_an_admin_and_changes_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mindgate.db");
    let short = set_password(&db, "ops@example.com", "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("`password` must be 12 to 256"));
    let created = set_password(&db, "Ops@Example.com", ADMIN_PASSWORD);
    assert!(created.status.success(), "{created:?}");
    assert!(String::from_utf8_lossy(&created.stdout).contains("created admin ops@example.com"));
    let changed = set_password(&db, "ops@example.com", "a brand new passphrase");
    assert!(String::from_utf8_lossy(&changed.stdout).contains("changed the password"));
    let app = spawn_app_on(&db).await;
    let u = &app.urls;
    assert!(app.setup_path.is_none(), "an admin exists: no setup link");
    let browser = app.browser();
    let old = browser
        .post(
            &u.login(),
            &u.login(),
            &[("email", "ops@example.com"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    browser
        .sign_in("ops@example.com", "a brand new passphrase")
        .await;
}

#[actix_web::test]
async fn the_setup_link_dies_30_minutes_after_the_start() {
    // A clock that stands still until the test moves it on.
    let start = Instant::now();
    let skipped = Arc::new(AtomicU64::new(0));
    let clock = {
        let skipped = skipped.clone();
        Clock::new(move || start + Duration::from_secs(skipped.load(Ordering::SeqCst)))
    };
    let app = spawn_app_configured(AppConfig {
        admin: AdminConfig {
            clock,
            ..AdminConfig::default()
        },
        ..AppConfig::default()
    })
    .await;
    let u = &app.urls;
    let link = app.setup_path.clone().expect("a setup link with no admin");
    let token = link.split("token=").nth(1).unwrap();
    let browser = app.browser();
    skipped.store(30 * 60 - 1, Ordering::SeqCst);
    browser
        .get(&link)
        .await
        .assert_ok()
        .assert_contains("Create the first admin");
    skipped.store(30 * 60, Ordering::SeqCst);
    let expired = browser.get(&link).await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    expired.assert_contains("setup link is invalid, expired or already used");
    let fields = [
        ("token", token),
        ("email", "boss@example.com"),
        ("password", ADMIN_PASSWORD),
        ("confirm", ADMIN_PASSWORD),
    ];
    let late = browser.post(&u.login(), &u.setup(), &fields).await;
    assert_eq!(late.status, StatusCode::FORBIDDEN);
    late.assert_contains("setup link is invalid, expired or already used");
    assert_eq!(app.count("SELECT COUNT(*) FROM admins"), 0);
}
