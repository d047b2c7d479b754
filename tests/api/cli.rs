use std::process::Command;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use mindgate::db::Db;

use serde_json::Value;

use crate::helpers::{
    error_message, is_iso_millis, mindgate, mindgate_blocking, send, spawn_app, stderr, stdout,
    ServerProcess,
};

#[actix_web::test]
async fn a_key_from_the_cli_works_until_it_is_revoked() {
    let app = spawn_app().await;
    let db = app.db_path.to_str().unwrap();
    let created = mindgate(&["keys", "create", "--name", "nightly script", "--db", db]).await;
    assert!(created.status.success(), "{}", stderr(&created));
    let out = stdout(&created);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "stdout must hold the key alone: {out:?}");
    let key = lines[0];
    assert!(key.starts_with("mg_") && key.len() >= 35, "{key}");
    assert!(key[3..].chars().all(|c| c.is_ascii_alphanumeric()), "{key}");

    let use_key = || {
        send(
            app.client
                .get(app.url("/api/v1/users"))
                .insert_header(("X-API-KEY", key)),
        )
    };
    let (status, body) = use_key().await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let listed = mindgate(&["keys", "list", "--db", db]).await;
    assert!(listed.status.success());
    let table = stdout(&listed);
    let row = table
        .lines()
        .find(|l| l.contains("nightly script"))
        .unwrap_or_else(|| panic!("key missing from list:\n{table}"));
    assert!(row.contains(&key[..9]), "prefix shown: {row}");
    assert!(
        !row.contains(&key[10..]),
        "the key itself is never shown: {row}"
    );
    let id = row.split_whitespace().next().unwrap().to_owned();
    let dates = iso_dates(row);
    assert_eq!(
        dates, 2,
        "created and last used are set, revoked is not: {row}"
    );
    assert!(table.lines().next().unwrap().contains("LAST USED"));

    let revoked = mindgate(&["keys", "revoke", &id, "--db", db]).await;
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let (status, error) = use_key().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(error_message(&error, "authentication_error").contains("revoked"));

    let listed = stdout(&mindgate(&["keys", "list", "--db", db]).await);
    let row = listed
        .lines()
        .find(|l| l.contains("nightly script"))
        .unwrap();
    assert_eq!(iso_dates(row), 3, "revoked time shown: {row}");

    let unknown = mindgate(&["keys", "revoke", "999", "--db", db]).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no API key with id 999"));
}

#[actix_web::test]
async fn a_chat_key_from_the_cli_reaches_the_chat_routes_only_and_may_require_a_user() {
    let app = spawn_app().await;
    let db = app.db_path.to_str().unwrap();
    let created = mindgate(&[
        "keys",
        "create",
        "--name",
        "chat app",
        "--scope",
        "chat",
        "--requires-user",
        "--db",
        db,
    ])
    .await;
    assert!(created.status.success(), "{}", stderr(&created));
    let key = stdout(&created).trim().to_owned();
    assert!(
        stderr(&created).contains("created chat API key 2 (\"chat app\", requiring a user)"),
        "{}",
        stderr(&created)
    );
    let admin = mindgate(&["keys", "create", "--name", "ops", "--db", db]).await;
    assert!(admin.status.success(), "{}", stderr(&admin));
    let admin_key = stdout(&admin).trim().to_owned();

    let table = stdout(&mindgate(&["keys", "list", "--db", db]).await);
    assert!(table.lines().next().unwrap().contains(" SCOPE "), "{table}");
    let scope_of = |name: &str| {
        let row = table.lines().find(|l| l.contains(name)).unwrap();
        row.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .nth(2)
            .unwrap()
            .to_owned()
    };
    assert_eq!(scope_of("chat app"), "chat");
    assert_eq!(scope_of("ops"), "admin");

    let get = |path: &str, key: &str| {
        send(
            app.client
                .get(app.url(path))
                .insert_header(("X-API-KEY", key.to_owned())),
        )
    };
    let (status, body) = get("/api/v1/users", &key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_message(&body, "permission_error").contains("chat key"));
    let (status, _) = get("/api/v1/users", &admin_key).await;
    assert_eq!(status, StatusCode::OK);
    let (status, policy) = get("/api/v1/policies/key:2", &admin_key).await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_eq!(policy["requiresUser"], true);
    let (status, _) = get("/api/v1/policies/key:3", &admin_key).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no --requires-user, no policy"
    );

    // The key's completions must name a user of the instance: the running
    // server sees the policy the command line wrote within seconds.
    app.create_user(&serde_json::json!({"email": "ann@example.com"}))
        .await;
    let chat = |email: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/api/v1/chat/completions"))
            .insert_header(("X-API-KEY", key.clone()));
        if let Some(email) = email {
            request = request.insert_header(("X-User-Email", email.to_owned()));
        }
        crate::helpers::send_body(
            request,
            r#"{"model": "echo", "messages": [{"role": "user", "content": "hi"}]}"#.to_owned(),
        )
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (status, body) = loop {
        let (status, body) = chat(None).await;
        if status != StatusCode::OK || std::time::Instant::now() > deadline {
            break (status, body);
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(error_message(&body, "permission_error").contains("X-User-Email"));
    let (status, body) = chat(Some("ann@example.com")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let bad = mindgate(&[
        "keys", "create", "--name", "x", "--scope", "root", "--db", db,
    ])
    .await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("`admin`"), "{}", stderr(&bad));
}

/// How many cells of a `keys list` row are timestamps.
fn iso_dates(row: &str) -> usize {
    row.split_whitespace()
        .filter(|t| is_iso_millis(&Value::from(*t)))
        .count()
}

#[test]
fn bad_flags_are_usage_errors_with_exit_code_2() {
    for args in [
        vec!["--bogus"],
        vec!["keys", "create"],
        vec!["keys", "revoke", "abc"],
        vec!["keys", "revoke", "0"],
        vec!["serve", "--listen"],
        vec!["backup"],
        vec!["frobnicate"],
        vec!["--cors-origins", "https://chat.example.com/app"],
        vec!["--body-timeout", "0s"],
        vec!["--body-min-rate", "0"],
    ] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let output = mindgate_blocking(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert!(
            err.starts_with("error:") && err.contains("--help"),
            "{args:?}: {err}"
        );
        assert!(stdout(&output).is_empty());
    }
}

#[test]
fn a_blank_key_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let args: Vec<String> = [
        "keys",
        "create",
        "--name",
        "  ",
        "--db",
        db.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let output = mindgate_blocking(&args);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty());
    assert!(stderr(&output).contains("name"));
}

#[test]
fn input_is_checked_by_the_same_rules_as_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let db = db.to_str().unwrap();
    for (args, message) in [
        (
            vec!["admin", "set-password", "not-an-email", "--db", db],
            "`email` must contain an @, got \"not-an-email\"",
        ),
        (
            vec!["keys", "create", "--name", "two\nlines", "--db", db],
            "`name` must not contain control characters; found U+000A at character 4",
        ),
    ] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let output = mindgate_blocking(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(stdout(&output).is_empty(), "{args:?}");
        assert!(stderr(&output).contains(message), "{}", stderr(&output));
    }
    let output = mindgate_blocking(&["keys", "revoke", "+1"].map(String::from));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("key id must be a positive integer, got \"+1\""),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Db::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 999").unwrap();
    drop(conn);
    let args: Vec<String> = ["keys", "list", "--db", path.to_str().unwrap()]
        .map(String::from)
        .to_vec();
    let output = mindgate_blocking(&args);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("999") && err.contains("newer"), "{err}");
}

#[actix_web::test]
async fn serve_logs_its_url_answers_health_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("served.db");
    let server = ServerProcess::serve(
        &db,
        &[],
        // Flags win over the environment.
        &[
            ("MINDGATE_LISTEN", "127.0.0.1:1"),
            ("MINDGATE_DB", "/nonexistent/x.db"),
        ],
    );
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    let client = awc::Client::default();
    let (status, body) = send(client.get(format!("{}/healthz", server.url))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, _) = send(client.get(format!("{}/api/v1/users", server.url))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (exit, log) = actix_web::rt::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}: {log:?}");
    assert!(
        log.iter().any(|l| l.contains("mindgate stopped")),
        "{log:?}"
    );
    // Refused keys are logged like every other request.
    assert!(
        log.iter()
            .any(|l| l.contains(r#""GET /api/v1/users HTTP/1.1" 401"#)),
        "{log:?}"
    );
    assert!(db.exists());
    // Closed cleanly: the last connection checkpointed and removed the WAL.
    assert!(!db.with_extension("db-wal").exists(), "WAL left behind");
}

#[actix_web::test]
async fn with_no_subcommand_mindgate_serves_configured_by_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("env.db");
    let server = ServerProcess::start(
        &[],
        &[
            ("MINDGATE_LISTEN", "127.0.0.1:0"),
            ("MINDGATE_DB", db.to_str().unwrap()),
        ],
    );
    let (status, _) = send(awc::Client::default().get(format!("{}/healthz", server.url))).await;
    assert_eq!(status, StatusCode::OK);
    let (exit, _) = actix_web::rt::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(exit.success());
    assert!(
        db.exists(),
        "the database was created where MINDGATE_DB said"
    );
}

#[actix_web::test]
async fn cors_origins_and_the_body_timeout_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("http.db");
    let server = ServerProcess::start(
        &["--listen", "127.0.0.1:0", "--db", db.to_str().unwrap()],
        &[
            (
                "MINDGATE_CORS_ORIGINS",
                "https://a.example.com, HTTPS://B.example.com/",
            ),
            ("MINDGATE_BODY_TIMEOUT", "500ms"),
        ],
    );
    let response = awc::Client::default()
        .request(Method::OPTIONS, format!("{}/api/v1/users", server.url))
        .insert_header(("Origin", "https://b.example.com"))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://b.example.com"
    );

    // Too slow a body on the sign-in form, which needs no key.
    let mut stream = tokio::net::TcpStream::connect(server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut stream,
        b"POST /admin/login HTTP/1.1\r\nHost: localhost\r\nCookie: mg_csrf=abcdefgh\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=",
    )
    .await
    .unwrap();
    let (answer, closed) =
        crate::raw::read_bytes_until_closed(&mut stream, Duration::from_secs(30)).await;
    assert!(closed);
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    let (exit, _) = actix_web::rt::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(exit.success());
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db");
    let args: Vec<String> = ["serve", "--listen", &addr, "--db", db.to_str().unwrap()]
        .map(String::from)
        .to_vec();
    let output = mindgate_blocking(&args);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&output)
    );
}

#[actix_web::test]
async fn on_a_wildcard_address_the_setup_link_points_at_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let server = ServerProcess::start(
        &["--listen", "0.0.0.0:0", "--db", db.to_str().unwrap()],
        &[],
    );
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    let link = server
        .startup
        .iter()
        .find_map(|line| {
            line.split_whitespace()
                .find(|w| w.contains("/admin/setup?token="))
        })
        .unwrap_or_else(|| panic!("no setup link in {:?}", server.startup))
        .to_owned();
    assert!(
        link.starts_with(&format!("http://127.0.0.1:{port}/admin/setup?token=")),
        "{link}"
    );
    let response = awc::Client::default().get(&link).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the link opens the setup page"
    );
    let (status, _) = server.terminate();
    assert!(status.success());
}

/// mindgate serving under `sh -c 'ulimit LIMIT'`, and its open files
/// limits as the kernel has them.
fn serve_with_ulimit(ulimit: &str) -> (ServerProcess, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let mut command = Command::new("sh");
    command.args([
        "-c",
        &format!(r#"ulimit {ulimit} && exec "$0" "$@""#),
        env!("CARGO_BIN_EXE_mindgate"),
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().unwrap(),
    ]);
    let server = ServerProcess::start_with(command, &[]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id()))
        .expect("read the server's limits");
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("an open files limit")
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    (server, open_files)
}

#[test]
fn serving_raises_the_open_files_limit_to_the_hard_one() {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    // Services often start with 1024; below the hard limit in any case.
    let soft = 1024.min(hard / 2);
    let (server, limits) = serve_with_ulimit(&format!("-S -n {soft}"));
    assert_eq!(limits, format!("{hard} {hard}"), "soft and hard limits");
    assert!(
        server
            .startup
            .iter()
            .any(|l| l.contains(&format!("open files limit {hard}: room for"))),
        "{:?}",
        server.startup
    );
    drop(server);
}

#[test]
fn a_low_hard_open_files_limit_is_a_warning() {
    let (server, limits) = serve_with_ulimit("-n 512");
    assert_eq!(limits, "512 512", "soft and hard limits");
    let warning = "open files limit 512: room for only about 224 chats";
    assert!(
        server
            .startup
            .iter()
            .any(|l| l.contains("WARN") && l.contains(warning)),
        "{:?}",
        server.startup
    );
    drop(server);
}
