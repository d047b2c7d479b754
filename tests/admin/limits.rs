//! What a client can make the admin do before signing in: sign-in bursts,
//! lockouts, forwarded addresses, password hashing memory and form sizes
//! (where `next` may lead is in `access`).

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use futures_util::stream::{FuturesUnordered, StreamExt};
use mindgate::config::{AppConfig, HttpConfig};
use mindgate::http::client_ip::TrustedProxies;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    set_password, spawn_app, spawn_app_configured, Browser, Page, ServerProcess, ADMIN_EMAIL,
    ADMIN_PASSWORD,
};

/// Posts the sign-in form with the page token `csrf`, as a request that a
/// proxy forwarded for `from` when given.
async fn attempt(
    browser: &Browser,
    csrf: &str,
    from: Option<&str>,
    email: &str,
    password: &str,
) -> Page {
    let u = &browser.urls;
    let body =
        serde_urlencoded::to_string([("csrf", csrf), ("email", email), ("password", password)])
            .unwrap();
    let mut request = browser.request(Method::POST, &u.login());
    if let Some(ip) = from {
        request = request.insert_header(("X-Forwarded-For", ip));
    }
    browser.send(request, Some(body)).await
}

/// mindgate behind a reverse proxy on this machine.
fn behind_a_proxy() -> AppConfig {
    AppConfig {
        http: HttpConfig {
            trusted_proxies: TrustedProxies::parse("127.0.0.1").unwrap(),
            ..HttpConfig::default()
        },
        ..AppConfig::default()
    }
}

#[actix_web::test]
async fn a_burst_gets_five_checks_and_then_429_even_for_the_right_password() {
    let app = spawn_app().await;
    let u = &app.urls;
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let browser = app.browser();
    let csrf = browser.get(&u.login()).await.csrf();
    let wrong: Vec<String> = (0..40).map(|i| format!("wrong password {i}")).collect();
    let mut burst: FuturesUnordered<_> = wrong
        .iter()
        .map(|pw| attempt(&browser, &csrf, None, ADMIN_EMAIL, pw))
        .collect();
    let mut statuses = Vec::new();
    // A 429 means the budget is spent, even while its checks still run.
    while let Some(page) = burst.next().await {
        statuses.push(page.status);
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    let right = attempt(&browser, &csrf, None, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        right.body
    );
    right.assert_contains("too many failed sign-ins");
    let wait: u64 = right.header("retry-after").parse().unwrap();
    assert!((1..=301).contains(&wait), "{wait}");
    statuses.extend(burst.map(|page| page.status).collect::<Vec<_>>().await);
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(count(StatusCode::UNAUTHORIZED), 5, "{statuses:?}");
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 35, "{statuses:?}");
    assert!(browser.cookie("mg_session").is_none());
}

#[actix_web::test]
async fn a_locked_email_still_lets_its_admin_in_from_a_clean_ip() {
    let app = spawn_app_configured(behind_a_proxy()).await;
    let u = &app.urls;
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let attacker = app.browser();
    let csrf = attacker.get(&u.login()).await.csrf();
    let a = Some("203.0.113.66");
    for _ in 0..5 {
        let page = attempt(&attacker, &csrf, a, ADMIN_EMAIL, "guessing away").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    // The attacker's IP is locked out, for this email and any other.
    for email in [ADMIN_EMAIL, "other@example.com"] {
        let page = attempt(&attacker, &csrf, a, email, ADMIN_PASSWORD).await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{email}");
    }
    // An IP that has failed elsewhere meets the email's lock.
    let c = Some("203.0.113.77");
    let elsewhere = attempt(&attacker, &csrf, c, "other@example.com", "guessing").await;
    assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
    let locked = attempt(&attacker, &csrf, c, ADMIN_EMAIL, "guessing again").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    // The admin, from an address with no failures, gets in.
    let admin = app.browser();
    let admin_csrf = admin.get(&u.login()).await.csrf();
    let b = Some("198.51.100.5");
    let page = attempt(&admin, &admin_csrf, b, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    page.assert_redirect(&u.dashboard());
    admin.get(&u.dashboard()).await.assert_ok();
    // Which forgave the email's failures; the attacker's IP stays locked.
    let page = attempt(&attacker, &csrf, c, ADMIN_EMAIL, "guessing again").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let page = attempt(&attacker, &csrf, a, ADMIN_EMAIL, "guessing again").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn a_forwarded_header_from_an_untrusted_peer_changes_nothing() {
    let app = spawn_app().await;
    let u = &app.urls;
    let browser = app.browser();
    let csrf = browser.get(&u.login()).await.csrf();
    for i in 0..5 {
        let from = format!("10.0.0.{i}");
        let email = format!("user{i}@example.com");
        let page = attempt(&browser, &csrf, Some(&from), &email, "a wrong password").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let page = attempt(
        &browser,
        &csrf,
        Some("10.0.0.99"),
        "fresh@example.com",
        "a wrong password",
    )
    .await;
    assert_eq!(
        page.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the peer is limited"
    );
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let app = spawn_app_configured(behind_a_proxy()).await;
    let u = &app.urls;
    let browser = app.browser();
    let csrf = browser.get(&u.login()).await.csrf();
    // What the client wrote comes first; the proxy appends what it saw.
    for forged in ["6.6.6.1", "6.6.6.2", "6.6.6.3", "6.6.6.4", "6.6.6.5"] {
        let from = format!("{forged}, 203.0.113.10");
        let page = attempt(&browser, &csrf, Some(&from), "a@example.com", "wrong!").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let forged = attempt(
        &browser,
        &csrf,
        Some("6.6.6.6, 203.0.113.10"),
        "b@example.com",
        "wrong!",
    )
    .await;
    assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS);
    let other = attempt(
        &browser,
        &csrf,
        Some("203.0.113.11"),
        "b@example.com",
        "wrong!",
    )
    .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED, "another client");
}

#[actix_web::test]
async fn a_flood_of_sign_ins_hashes_a_few_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mindgate.db");
    assert!(set_password(&db, ADMIN_EMAIL, ADMIN_PASSWORD)
        .status
        .success());
    let server = ServerProcess::serve(&db, &["--trusted-proxies", "127.0.0.1"], &[]);
    let browser = Browser::new(&server.url);
    let u = &browser.urls;
    let csrf = browser.get(&u.login()).await.csrf();
    // The first check also makes the stand-in hash for unknown emails.
    let first = attempt(&browser, &csrf, Some("10.9.9.9"), ADMIN_EMAIL, "warming up").await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    let before = server.peak_rss_kib();
    // Distinct clients and emails: no limit stops any of them before the hash.
    let clients: Vec<(String, String)> = (0..150)
        .map(|i| {
            (
                format!("10.0.{}.{}", i / 100, i % 100 + 1),
                format!("user{i}@example.com"),
            )
        })
        .collect();
    let flood: FuturesUnordered<_> = clients
        .iter()
        .map(|(from, email)| attempt(&browser, &csrf, Some(from), email, "a wrong password"))
        .collect();
    let statuses: Vec<StatusCode> = flood.map(|page| page.status).collect().await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "every one was checked: {statuses:?}"
    );
    let grown_mib = server.peak_rss_kib().saturating_sub(before) / 1024;
    eprintln!("peak RSS grew by {grown_mib} MiB, from {before} KiB");
    // A hashing thread (one per core, at most 4) holds 19 MiB; the 150
    // computations at once that this once started held 2.8 GiB.
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(4) as u64;
    assert!(
        grown_mib < 20 * threads + 16,
        "peak RSS grew by {grown_mib} MiB"
    );
    // The access log names the client the proxy forwarded for.
    let log: Vec<String> = server.log.try_iter().collect();
    assert!(
        log.iter().any(|l| l.contains(&format!(
            r#"10.0.1.7 "POST {} HTTP/1.1" 401"#,
            browser.urls.login()
        ))),
        "{log:?}"
    );
}

/// Sends `head` and then waits for the response head, whatever the body.
async fn response_head(address: &str, head: &str) -> String {
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0; 4096];
    let read = async {
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed without an answer");
            received.extend_from_slice(&buf[..n]);
        }
    };
    // Guards against a server that waits for the body: it never comes.
    actix_web::rt::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("no answer without the body");
    String::from_utf8_lossy(&received).into_owned()
}

#[actix_web::test]
async fn strangers_are_turned_away_before_their_body_is_read() {
    let app = spawn_app().await;
    let u = &app.urls;
    // Announces 8 MiB and sends a few bytes of it.
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 8000000\r\n\r\ncsrf=x&csv=",
        u.users_import()
    );
    let answer = response_head(&app.address, &head).await;
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains(&format!("location: {}", u.login())),
        "{answer}"
    );
}

#[actix_web::test]
async fn the_sign_in_and_setup_forms_take_16_kib_at_most() {
    let app = spawn_app().await;
    let u = &app.urls;
    let setup = app.setup_path.clone().unwrap();
    let token = setup.split("token=").nth(1).unwrap();
    let browser = app.browser();
    let csrf = browser.get(&u.login()).await.csrf();
    let padding = "x".repeat(17 << 10);
    let forms: [(&str, Vec<(&str, &str)>); 2] = [
        (
            &u.login(),
            vec![("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        ),
        (
            &u.setup(),
            vec![
                ("token", token),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("confirm", ADMIN_PASSWORD),
            ],
        ),
    ];
    for (path, fields) in &forms {
        let mut big = vec![("csrf", csrf.as_str())];
        big.extend(fields);
        big.push(("padding", &padding));
        let page = browser.post_raw(path, &big).await;
        assert_eq!(
            page.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path}: {}",
            page.body
        );
        page.assert_contains("larger than the limit of 16384 bytes");
        // Streamed, with no length announced: the same.
        let body = serde_urlencoded::to_string(&big).unwrap();
        let chunks = futures_util::stream::iter(
            body.into_bytes()
                .chunks(4096)
                .map(|c| Ok::<_, std::convert::Infallible>(bytes::Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        );
        let streamed = browser
            .request(Method::POST, path)
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .send_stream(chunks)
            .await
            .unwrap();
        assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        // Nothing was created or signed in.
        assert_eq!(app.count("SELECT COUNT(*) FROM admins"), 0);
    }
    // htmx's header token does not lift the cap.
    let hx = browser
        .request(Method::POST, &u.login())
        .insert_header(("X-CSRF-Token", csrf.as_str()))
        .insert_header(("HX-Request", "true"));
    let body = serde_urlencoded::to_string([("email", "a@example.com"), ("password", &padding)]);
    let page = browser.send(hx, Some(body.unwrap())).await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", page.body);
    // A form of ordinary size still goes through.
    browser
        .post(
            &setup,
            &u.setup(),
            &[
                ("token", token),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("confirm", ADMIN_PASSWORD),
            ],
        )
        .await
        .assert_redirect(&u.dashboard());
}
