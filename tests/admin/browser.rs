//! End to end in a real headless Chromium driven over WebDriver: set up the
//! first admin, sign out and in, add a user and edit its tags, import a CSV
//! file, create a character, make an API key and use it, give a group a
//! policy (a provider's models in one click, limits) and see it on the
//! group's and a member's page, open a chat log.
//! Screenshots of each page land in `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test
//! skips loudly, unless `MINDGATE_REQUIRE_BROWSER=1` (as in CI) makes it fail.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::http::StatusCode;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long to wait for an element after a click (not a timing assertion:
/// it only bounds a hang).
const WAIT: Duration = Duration::from_secs(30);

/// chromedriver, killed when dropped, with Chromium's throwaway profile.
pub(crate) struct Driver {
    child: Child,
    url: String,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn browser_required() -> bool {
    std::env::var("MINDGATE_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

pub(crate) fn start_driver() -> Option<Driver> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        assert!(
            !browser_required(),
            "MINDGATE_REQUIRE_BROWSER=1 but {missing:?} missing: apt-get install chromium chromium-driver"
        );
        eprintln!(
            "\n\n!!!!!!!! SKIPPING the browser tests: {missing:?} not found. \
             Install them with `apt-get install chromium chromium-driver`. !!!!!!!!\n\n"
        );
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    Some(Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile: tempfile::tempdir().expect("profile dir"),
    })
}

pub(crate) async fn connect(driver: &Driver) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!(
        "--user-data-dir={}",
        driver.profile.path().display()
    )])
    .collect::<Vec<_>>();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    // chromedriver needs a moment to listen: retry the first connection.
    let mut last_error = None;
    for _ in 0..100 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(client) => return client,
            Err(e) => last_error = Some(e),
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot start a Chromium session: {last_error:?}");
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

pub(crate) async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("save screenshot");
}

pub(crate) async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never showed up: {e}"))
}

pub(crate) async fn wait_for_text(client: &Client, text: &str) -> fantoccini::elements::Element {
    let xpath = format!("//*[contains(text(), '{text}')]");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("{text:?} never showed up: {e}"))
}

pub(crate) async fn fill(client: &Client, css: &str, value: &str) {
    let input = wait_for(client, css).await;
    input.clear().await.expect("clear");
    input.send_keys(value).await.expect("type");
}

pub(crate) async fn click(client: &Client, css: &str) {
    wait_for(client, css).await.click().await.expect("click");
}

/// A month of usage across three models, for the dashboard and the logs.
fn seed_chats(app: &TestApp) {
    let models = ["gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini"];
    for day in 0..30_i64 {
        for n in 0..((day * 7) % 5 + 1) {
            let model = models[((day + n) % 3) as usize];
            app.record_chat(
                &format!("seed-{day}-{n}"),
                &format!("Planning session {day}.{n}"),
                "user: Can you outline a plan?\n\nassistant: Sure. First, ...",
                model,
                day * 86_400_000 + n * 60_000 + 1_000,
            );
        }
    }
    app.record_chat(
        "trip-chat",
        "Trip to Lisbon",
        "user: What should I see in Lisbon?\n\nassistant: Start with Alfama and the tram 28.",
        "gpt-4o",
        500,
    );
}

#[actix_web::test]
async fn an_admin_runs_the_instance_in_a_real_browser() {
    let Some(driver) = start_driver() else {
        return;
    };
    let app = spawn_app().await;
    seed_chats(&app);
    let c = connect(&driver).await;
    let result = run(&app, &c).await;
    let _ = c.close().await;
    result.expect("browser session");
}

async fn run(app: &TestApp, c: &Client) -> Result<(), fantoccini::error::CmdError> {
    let u = &app.urls;
    // First start: the setup link creates the admin and signs them in.
    c.goto(&app.url(app.setup_path.as_deref().unwrap())).await?;
    screenshot(c, "setup").await;
    fill(c, "#email", "admin@example.com").await;
    fill(c, "#password", ADMIN_PASSWORD).await;
    fill(c, "#confirm", ADMIN_PASSWORD).await;
    click(
        c,
        &format!("form[action='{}'] button[type=submit]", u.setup()),
    )
    .await;
    wait_for_text(c, "Your admin account is ready").await;

    // Sign out, and back in with the password.
    click(c, "form.signout button").await;
    wait_for_text(c, "Signed out.").await;
    fill(c, "#email", "admin@example.com").await;
    fill(c, "#password", ADMIN_PASSWORD).await;
    screenshot(c, "login").await;
    click(
        c,
        &format!("form[action='{}'] button[type=submit]", u.login()),
    )
    .await;
    wait_for(c, ".stat-value").await;
    assert_eq!(c.title().await?, "Dashboard · mindgate admin");
    wait_for(c, "rect.bar").await;

    // Users: added without a reload, tags edited inline, one deleted.
    c.goto(&app.url(&u.users())).await?;
    for (email, tags) in [("ann@example.com", "team-a, beta"), ("bob@example.com", "")] {
        fill(c, "#new-email", email).await;
        fill(c, "#new-tags", tags).await;
        click(
            c,
            &format!("form[action='{}'] button[type=submit]", u.users()),
        )
        .await;
        wait_for_text(c, &format!("Added {email}.")).await;
    }
    // htmx runs under the CSP: the edit row swaps in, the page stays.
    let htmx = c.execute("return typeof htmx.ajax", vec![]).await?;
    assert_eq!(htmx, json!("function"));
    let ann = app.count("SELECT id FROM users WHERE email = 'ann@example.com'");
    click(c, &format!("#user-{ann} a[href$='/edit']")).await;
    fill(c, &format!("#tags-{ann}"), "team-a, gold").await;
    assert!(c.current_url().await?.path() == u.users());
    click(c, &format!("#user-{ann} button[type=submit]")).await;
    wait_for_text(c, "Saved the tags of ann@example.com.").await;
    let row = wait_for(c, &format!("#user-{ann}")).await.text().await?;
    assert!(row.contains("gold") && !row.contains("beta"), "{row}");
    let bob = app.count("SELECT id FROM users WHERE email = 'bob@example.com'");
    click(c, &format!("#user-{bob} a[href$='/delete']")).await;
    assert_eq!(
        c.get_alert_text().await?,
        "Delete the user bob@example.com?"
    );
    c.accept_alert().await?;
    wait_for_text(c, "Deleted bob@example.com.").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 1);
    // A CSV file, chosen and posted by htmx as the multipart form it is.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("team.csv");
    std::fs::write(&file, "email,tags\ncarol@example.com,team-c\n").expect("write the CSV");
    wait_for(c, "#csv-file")
        .await
        .send_keys(file.to_str().unwrap())
        .await?;
    let import = format!("form[action='{}'] button[type=submit]", u.users_import());
    click(c, &import).await;
    let report = wait_for(c, "#import-report").await.text().await?;
    assert!(report.contains("carol@example.com"), "{report}");
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 2);
    screenshot(c, "users").await;

    // An AI character, with a default model from the catalog.
    c.goto(&app.url(&u.character_new())).await?;
    fill(c, "#title", "Travel guide").await;
    fill(c, "#description", "Plans city trips").await;
    fill(c, "#instruction", "You are a friendly travel guide.").await;
    wait_for(c, "#default_model")
        .await
        .select_by_value("gpt-4o")
        .await?;
    screenshot(c, "character-form").await;
    click(
        c,
        &format!("form[action='{}'] button[type=submit]", u.characters()),
    )
    .await;
    wait_for_text(c, "Created “Travel guide”.").await;
    screenshot(c, "characters").await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM characters WHERE default_model = 'gpt-4o'"),
        1
    );

    // An API key made here works against the REST API.
    c.goto(&app.url(&u.api_keys())).await?;
    fill(c, "#key-name", "HR sync").await;
    click(
        c,
        &format!("form[action='{}'] button[type=submit]", u.api_keys()),
    )
    .await;
    let key = wait_for(c, "#new-key-value")
        .await
        .prop("value")
        .await?
        .expect("the new key");
    click(c, "[data-copy]").await;
    wait_for_text(c, "Copied").await;
    screenshot(c, "api-keys").await;
    // Its own page: its scope, and its policy form with "requires a user".
    click(c, "#keys-table a").await;
    wait_for(c, "input[name='requires_user']").await;
    assert!(wait_for(c, ".details")
        .await
        .text()
        .await?
        .contains("admin"));
    screenshot(c, "api-key").await;
    let mut response = awc::Client::default()
        .get(app.url("/api/v1/users"))
        .insert_header(("X-API-KEY", key.as_str()))
        .send()
        .await
        .expect("call the API");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.body().await.expect("body");
    assert!(String::from_utf8_lossy(&body).contains("ann@example.com"));

    // Groups: a provider's models in one click, and two limits.
    c.goto(&app.url(&u.groups())).await?;
    wait_for(c, "#groups-table").await;
    click(c, &format!("#groups-table a[href='{}']", u.group("team-a"))).await;
    wait_for(c, "#policy-form").await;
    assert_eq!(c.title().await?, "Group team-a · mindgate admin");
    click(c, "input[name='all_models_of'][value='anthropic']").await;
    let ticked = c
        .execute(
            "return Array.from(document.querySelectorAll('input[name=model]:checked'), b => b.value)",
            vec![],
        )
        .await?;
    let ticked: Vec<String> = serde_json::from_value(ticked).expect("names");
    assert_eq!(ticked.len(), 8, "every Anthropic model: {ticked:?}");
    assert!(
        ticked.iter().all(|m| m.starts_with("claude-")),
        "{ticked:?}"
    );
    let only = wait_for(c, "input[name='models'][value='only']").await;
    assert_eq!(only.prop("checked").await?.as_deref(), Some("true"));
    c.execute("document.getElementById('policy').scrollIntoView()", vec![])
        .await?;
    screenshot(c, "group-policy-models").await;
    fill(c, "#limit-0-max", "5").await;
    wait_for(c, "#limit-0-window")
        .await
        .select_by_value("week")
        .await?;
    // Shown by the script: a second blank row.
    click(c, "[data-add-limit]").await;
    fill(c, "#limit-1-max", "2.5").await;
    wait_for(c, "#limit-1-metric")
        .await
        .select_by_value("costUsd")
        .await?;
    wait_for(c, "#limit-1-window")
        .await
        .select_by_value("month")
        .await?;
    wait_for(c, "#limit-1-per")
        .await
        .select_by_value("group")
        .await?;
    screenshot(c, "group-policy-limits").await;
    click(c, "#policy-form button[type=submit]").await;
    wait_for_text(c, "Saved the policy of tag team-a.").await;
    let summary = wait_for(c, "#group-summary").await.text().await?;
    assert!(
        summary.contains("5 requests a week per member · $2.50 a month for the group"),
        "{summary}"
    );
    let members = wait_for(c, "#members-table").await.text().await?;
    assert!(members.contains("ann@example.com"), "{members}");
    screenshot(c, "group").await;
    c.goto(&app.url(&u.groups())).await?;
    let groups = wait_for(c, "#groups-table").await.text().await?;
    assert!(
        groups.contains("models: claude-1, claude-2, claude-3-5-haiku-latest and 5 more"),
        "{groups}"
    );
    screenshot(c, "groups").await;
    // On a member's page: what the group opens, and each limit's bar.
    c.goto(&app.url(&u.user(ann))).await?;
    let models = wait_for(c, "#access-models").await.text().await?;
    assert!(
        models.contains("claude-sonnet-4-5 opened by tag team-a"),
        "{models}"
    );
    let limits = wait_for(c, "#limits").await.text().await?;
    assert!(limits.contains("5 requests a week per member"), "{limits}");
    assert!(limits.contains("0 of 5 requests (0%)"), "{limits}");
    assert!(limits.contains("$0.00 of $2.50 (0%)"), "{limits}");
    assert_eq!(c.find_all(Locator::Css("#limits progress")).await?.len(), 2);
    screenshot(c, "user-access").await;

    // Chat logs: filter, then open one.
    c.goto(&app.url(&u.chatlogs())).await?;
    screenshot(c, "chatlogs").await;
    fill(c, "#f-q", "Lisbon").await;
    click(c, "form.filters button[type=submit]").await;
    // The Reset link shows once the filtered table is in.
    wait_for(c, &format!("form.filters a[href='{}']", u.chatlogs())).await;
    assert!(c.current_url().await?.as_str().contains("q=Lisbon"));
    click(c, &format!("a[href='{}']", u.chatlog("trip-chat"))).await;
    let conversation = wait_for(c, "#conversation").await.text().await?;
    assert!(
        conversation.contains("Alfama and the tram 28"),
        "{conversation}"
    );
    screenshot(c, "chatlog").await;

    c.goto(&app.url(&u.providers())).await?;
    wait_for(c, "#models-table").await;
    screenshot(c, "providers").await;

    c.goto(&app.url(&u.settings())).await?;
    wait_for(c, "#admins-table").await;
    screenshot(c, "settings").await;

    c.goto(&app.url(&u.dashboard())).await?;
    wait_for(c, "rect.bar").await;
    screenshot(c, "dashboard").await;

    // On a phone.
    c.set_window_size(390, 844).await?;
    c.goto(&app.url(&u.users())).await?;
    wait_for(c, "#users-table").await;
    screenshot(c, "users-phone").await;
    c.goto(&app.url(&u.dashboard())).await?;
    wait_for(c, "rect.bar").await;
    screenshot(c, "dashboard-phone").await;
    Ok(())
}
