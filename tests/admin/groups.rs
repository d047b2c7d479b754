//! Groups and policies in the admin: the Groups page and a page per tag,
//! the one policy form (everyone, a tag, a user, a key) read back and
//! checked by the one validator, a refused form shown again beside its
//! error with nothing saved, removing a policy, scoped keys and the key
//! page, and the instance's time zone.

use actix_web::http::{Method, StatusCode};
use mindgate::config::GatewayConfig;
use mindgate::db;
use mindgate::domain::{InstanceTimeZone, Scope, Timestamp, Window};
use serde_json::{json, Value};

use crate::common::html;
use crate::common::server::{mindgate_blocking, stderr};
use crate::helpers::{send_body, signed_in, Browser, Page, TestApp};

const XSS: &str = "<script>alert(1)</script>";
const XSS_ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

fn scope(raw: &str) -> Scope {
    Scope::parse("scope", raw).unwrap()
}

/// The policy stored for `raw`, as the API shows it.
fn stored(app: &TestApp, raw: &str) -> Option<Value> {
    let scope = scope(raw);
    app.db
        .read_blocking(move |conn| db::policies::get(conn, &scope))
        .unwrap()
        .map(|policy| serde_json::to_value(policy).unwrap())
}

async fn add_user(app: &TestApp, email: &str, tags: &[&str]) -> String {
    let user = app
        .create_user(&json!({"email": email, "tags": tags}))
        .await;
    user["id"].as_str().unwrap().to_owned()
}

/// Posts the policy form of `raw` as a browser without JavaScript would,
/// with the token of the page it is on.
async fn save(browser: &Browser, raw: &str, fields: &[(&str, &str)]) -> Page {
    let u = &browser.urls;
    let scope = scope(raw);
    browser
        .post(&u.policy_page(&scope), &u.policy(&scope), fields)
        .await
}

/// The models of a policy, sorted.
fn models(policy: &Value) -> Vec<String> {
    let mut names: Vec<String> = policy["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[actix_web::test]
async fn the_groups_page_lists_each_tag_with_its_members_and_policy() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    add_user(&app, "ann@example.com", &["interns", "staff"]).await;
    add_user(&app, "bob@example.com", &["interns"]).await;
    add_user(&app, "carl@example.com", &[]).await;
    // A tag with a policy and no member yet.
    save(
        &browser,
        "tag:contractors",
        &[("models", "only"), ("model", "gpt-4o-mini")],
    )
    .await
    .assert_redirect(&u.group("contractors"));
    save(
        &browser,
        "tag:interns",
        &[
            ("models", "any"),
            ("limits[0].metric", "requests"),
            ("limits[0].window", "day"),
            ("limits[0].max", "5"),
            ("limits[0].per", "member"),
        ],
    )
    .await;

    let page = browser.get(&u.groups()).await;
    page.assert_ok();
    // In the navigation, marked as the page we are on.
    page.assert_contains(&format!(
        "<a href=\"{}\" aria-current=\"page\">Groups</a>",
        u.groups()
    ));
    let table = html::by_id(&page.body, "groups-table");
    let row = |tag: &str| html::row_of(table, tag).unwrap_or_else(|| panic!("{tag}: {table}"));
    assert_eq!(row("interns").cell(1), ["2"]);
    assert_eq!(row("interns").cell(2), ["5 requests a day per member"]);
    assert_eq!(row("staff").cell(1), ["1"]);
    assert_eq!(row("staff").cell(2), ["No policy: restricts nothing"]);
    assert_eq!(row("contractors").cell(1), ["0"]);
    assert_eq!(row("contractors").cell(2), ["models: gpt-4o-mini"]);
    assert_eq!(html::rows(table).len(), 4, "a heading and three tags");
    assert_eq!(html::link(table, "interns").unwrap(), u.group("interns"));
    assert_eq!(
        html::by_id(&page.body, "everyone-summary"),
        "No policy: restricts nothing"
    );
}

#[actix_web::test]
async fn any_tag_has_a_page_listing_its_members() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let tags = ["Data team/EU", "..", ".", "a?b#c%", "ünï", XSS];
    let ann = add_user(&app, "ann@example.com", &tags).await;
    let groups = browser.get(&u.groups()).await;
    assert!(!groups.body.contains(XSS), "escaped");
    for tag in tags {
        // The Groups page leads there, in one segment the server reads back.
        let path = u.group(tag);
        assert_eq!(
            html::link(&groups.body, tag).as_deref(),
            Some(path.as_str())
        );
        let page = browser.get(&path).await;
        page.assert_ok();
        let members = html::by_id(&page.body, "members-table");
        let row = html::row_of(members, "ann@example.com").unwrap_or_else(|| panic!("{tag}"));
        assert_eq!(row.cell(1), tags, "{tag}");
        assert_eq!(
            html::link(members, "ann@example.com").unwrap(),
            u.user(&ann),
            "{tag}"
        );
        assert_eq!(
            page.header("content-type"),
            "text/html; charset=utf-8",
            "{tag}"
        );
    }
    let xss = browser.get(&u.group(XSS)).await;
    xss.assert_contains(&format!("<h1>{XSS_ESCAPED}</h1>"));
    assert!(!xss.body.contains(XSS));
    // A tag no one carries has a page too, where it gets its policy.
    let nobody = browser.get(&u.group("nobody yet")).await;
    nobody
        .assert_ok()
        .assert_contains("No user carries this tag")
        .assert_contains(&u.policy(&scope("tag:nobody yet")));
    // A blank or overlong tag is no tag.
    let blank = browser.get(&u.group(" ")).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    blank.assert_contains("`tag`");
    let long = browser.get(&u.group(&"x".repeat(65))).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn a_policy_saved_from_the_plain_form_is_stored_and_shown_again() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let group = u.group("interns");
    // No JavaScript: the provider's "All" box is read by the server.
    let page = save(
        &browser,
        "tag:interns",
        &[
            ("models", "only"),
            ("all_models_of", "anthropic"),
            ("model", "gpt-4o-mini"),
            ("model_patterns", "o3*\n gpt-5, \n"),
            ("characters", "any"),
            ("limits[0].metric", "requests"),
            ("limits[0].window", "day"),
            ("limits[0].max", "5"),
            ("limits[0].per", "member"),
            ("limits[3].metric", "costUsd"),
            ("limits[3].window", "month"),
            ("limits[3].max", "1.5"),
            ("limits[3].per", "group"),
            // The blank row, left empty, adds nothing.
            ("limits[4].metric", "requests"),
            ("limits[4].window", "day"),
            ("limits[4].max", ""),
            ("limits[4].per", "member"),
        ],
    )
    .await;
    page.assert_redirect(&group);
    let policy = stored(&app, "tag:interns").unwrap();
    let mut expected = vec![
        "claude-1",
        "claude-2",
        "claude-3-5-haiku-latest",
        "claude-haiku-4-5",
        "claude-instant-1",
        "claude-instant-1.2",
        "claude-opus-4-1",
        "claude-sonnet-4-5",
        "gpt-4o-mini",
        "gpt-5",
        "o3*",
    ];
    expected.sort();
    assert_eq!(models(&policy), expected);
    assert_eq!(policy["characters"], Value::Null);
    assert_eq!(
        policy["limits"],
        json!([
            {"metric": "requests", "window": "day", "max": 5, "per": "member"},
            {"metric": "costUsd", "window": "month", "max": 1.5, "per": "group"},
        ])
    );

    let shown = browser.get(&group).await;
    shown
        .assert_ok()
        .assert_contains("Saved the policy of tag interns.")
        .assert_contains(
            "name=\"all_models_of\" value=\"anthropic\" data-select-all checked",
        )
        .assert_contains("name=\"model\" value=\"gpt-4o-mini\" checked")
        .assert_contains("name=\"model\" value=\"gpt-4o\">")
        .assert_contains("name=\"models\" value=\"only\" data-mode=\"only\" checked")
        .assert_contains(">o3*</textarea>")
        .assert_contains("name=\"limits[1].max\" type=\"number\" min=\"0\" step=\"any\" inputmode=\"decimal\" value=\"1.5\"")
        .assert_contains("<option value=\"group\" selected>");
    assert!(
        !shown
            .body
            .contains("name=\"all_models_of\" value=\"openai\" data-select-all checked"),
        "openai is not all ticked"
    );
    assert!(html::by_id(&shown.body, "group-summary")
        .contains("5 requests a day per member · $1.50 a month for the group"));

    // A row ticked for removal goes; the others stay as they were.
    save(
        &browser,
        "tag:interns",
        &[
            ("models", "only"),
            ("model", "gpt-4o-mini"),
            ("limits[0].metric", "requests"),
            ("limits[0].window", "day"),
            ("limits[0].max", "5"),
            ("limits[0].per", "member"),
            ("limits[0].remove", "on"),
            ("limits[1].metric", "tokens"),
            ("limits[1].window", "week"),
            ("limits[1].max", "100000"),
            ("limits[1].per", "member"),
        ],
    )
    .await
    .assert_redirect(&group);
    let policy = stored(&app, "tag:interns").unwrap();
    assert_eq!(models(&policy), ["gpt-4o-mini"]);
    assert_eq!(
        policy["limits"],
        json!([{"metric": "tokens", "window": "week", "max": 100000, "per": "member"}])
    );
    // "No restriction" and no limit: nothing is left to store.
    save(&browser, "tag:interns", &[("models", "any")])
        .await
        .assert_redirect(&group);
    assert_eq!(stored(&app, "tag:interns"), None);
}

#[actix_web::test]
async fn a_refused_policy_is_shown_again_beside_its_error_and_nothing_is_saved() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let good = [
        ("models", "only"),
        ("model", "gpt-4o"),
        ("limits[0].metric", "requests"),
        ("limits[0].window", "day"),
        ("limits[0].max", "5"),
        ("limits[0].per", "member"),
    ];
    save(&browser, "tag:staff", &good).await;
    let before = stored(&app, "tag:staff").unwrap();
    let limit = |max: &'static str, window: &'static str| {
        vec![
            ("models", "only"),
            ("model_patterns", "keep-me-*"),
            ("limits[0].metric", "requests"),
            ("limits[0].window", "day"),
            ("limits[0].max", "5"),
            ("limits[0].per", "member"),
            ("limits[2].metric", "tokens"),
            ("limits[2].window", window),
            ("limits[2].max", max),
            ("limits[2].per", "group"),
        ]
    };
    let long = "m".repeat(201);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            limit("-1", "day"),
            "`limits[1].max` must not be negative, got -1",
        ),
        (
            limit("lots", "day"),
            "`limits[1].max` must be a number, got &#34;lots&#34;",
        ),
        (
            limit("2.5", "day"),
            "`limits[1].max` must be a whole number of tokens",
        ),
        (limit("10", "year"), "`limits[1].window` must be one of"),
        (
            vec![("models", "any"), ("model", "gpt-4o")],
            "choose “Only these” to restrict models",
        ),
        (
            vec![("characters", "any"), ("character", "c-1")],
            "choose “Only these” to restrict characters",
        ),
        (
            vec![("models", "only"), ("model_patterns", &long)],
            "`models[0]`",
        ),
        (
            vec![("requires_user", "on")],
            "`requiresUser` applies to API keys only",
        ),
    ];
    for (fields, message) in &cases {
        let page = save(&browser, "tag:staff", fields).await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{message}: {}",
            page.body
        );
        // Beside the form, on the tag's page, what was typed kept.
        let error = html::by_id(&page.body, "policy-error");
        assert!(error.contains(message), "{message}: {error}");
        page.assert_contains("<h1>staff</h1>");
        if message.starts_with("`limits[1]") {
            page.assert_contains(">keep-me-*</textarea>")
                .assert_contains("<tr data-limit class=\"invalid\">")
                .assert_contains("aria-describedby=\"limit-1-error\"");
        }
        assert_eq!(stored(&app, "tag:staff").unwrap(), before, "{message}");
    }
    // htmx gets the page's content for #main, the error in it.
    let hx = browser
        .hx_post(
            &u.group("staff"),
            &u.policy(&scope("tag:staff")),
            &limit("-1", "day"),
        )
        .await;
    assert_eq!(hx.status, StatusCode::BAD_REQUEST);
    assert!(!hx.body.contains("<html"));
    assert!(html::by_id(&hx.body, "policy-error").contains("must not be negative"));
    assert_eq!(stored(&app, "tag:staff").unwrap(), before);
    // Everyone's form is shown open on the Groups page.
    let everyone = save(&browser, "everyone", &limit("-1", "day")).await;
    assert_eq!(everyone.status, StatusCode::BAD_REQUEST);
    everyone.assert_contains("<details class=\"policy-details\" open>");
    assert_eq!(stored(&app, "everyone"), None);
    // A scope that is no scope, or names no user or key.
    let bad = browser
        .post(&u.groups(), &u.at("/policies/group:a"), &good)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    bad.assert_contains("`scope` must be");
    for missing in ["user:999", "key:999"] {
        let page = browser
            .post(&u.groups(), &u.policy(&scope(missing)), &good)
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(stored(&app, missing), None);
    }
}

#[actix_web::test]
async fn the_form_marks_its_select_all_boxes_and_works_without_script() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    app.create_character(&json!({"title": "Tutor", "instruction": "Teach."}))
        .await;
    let page = browser.get(&u.group("interns")).await;
    page.assert_ok();
    for provider in ["openai", "anthropic", "mindgate"] {
        page.assert_contains(&format!(
            "<input type=\"checkbox\" name=\"all_models_of\" value=\"{provider}\" data-select-all>"
        ));
    }
    // 17 models of openai: one box ticks them all.
    page.assert_contains("All 17 of <strong>openai</strong>")
        .assert_contains("name=\"model\" value=\"echo\"")
        .assert_contains("name=\"character\" value=\"")
        .assert_contains("Tutor")
        .assert_contains("<tr data-limit data-blank-limit>")
        .assert_contains("data-add-limit hidden");
    assert!(!page.body.contains("<script>") && !page.body.contains("style=\""));
    assert!(!page.body.contains("requires_user"), "for keys only");
    // The script is a static file, served under the CSP's `script-src 'self'`.
    let script = browser.get(&u.asset("admin.js")).await;
    script.assert_ok().assert_contains("[data-select-all]");
    assert!(!script.body.contains("eval("));
}

#[actix_web::test]
async fn a_policy_is_removed_after_a_question() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let interns = scope("tag:interns");
    save(
        &browser,
        "tag:interns",
        &[("models", "only"), ("model", "echo")],
    )
    .await;
    let group = browser.get(&u.group("interns")).await;
    assert_eq!(
        html::link(&group.body, "Remove policy").unwrap(),
        u.policy_delete(&interns)
    );
    // Without JavaScript the link asks first.
    let question = browser.get(&u.policy_delete(&interns)).await;
    question
        .assert_ok()
        .assert_contains("Remove the policy of tag interns?")
        .assert_contains(&format!("action=\"{}\"", u.policy_delete(&interns)));
    assert!(stored(&app, "tag:interns").is_some());
    browser
        .post(&u.group("interns"), &u.policy_delete(&interns), &[])
        .await
        .assert_redirect(&u.group("interns"));
    assert_eq!(stored(&app, "tag:interns"), None);
    let after = browser.get(&u.group("interns")).await;
    after.assert_contains("Removed the policy of tag interns.");
    assert!(html::link(&after.body, "Remove policy").is_none());
    browser
        .post(&u.group("interns"), &u.policy_delete(&interns), &[])
        .await;
    browser
        .get(&u.group("interns"))
        .await
        .assert_contains("There was no policy for tag interns.");
}

#[actix_web::test]
async fn keys_are_made_admin_or_chat_and_have_a_page_with_their_policy() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let made = browser
        .post(
            &u.api_keys(),
            &u.api_keys(),
            &[
                ("name", "Chat widget"),
                ("scope", "chat"),
                ("requires_user", "on"),
            ],
        )
        .await;
    made.assert_ok().assert_contains("id=\"new-key-value\"");
    let id = app.count("SELECT id FROM api_keys WHERE name = 'Chat widget' AND scope = 'chat'");
    assert_eq!(
        stored(&app, &format!("key:{id}")).unwrap()["requiresUser"],
        json!(true)
    );
    // The form of before (no scope) makes an admin key, as the CLI does.
    browser
        .post(&u.api_keys(), &u.api_keys(), &[("name", "HR sync")])
        .await
        .assert_ok();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_keys WHERE name = 'HR sync' AND scope = 'admin'"),
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM policies"), 1);
    let bad = browser
        .post(
            &u.api_keys(),
            &u.api_keys(),
            &[("name", "Root"), ("scope", "root")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    bad.assert_contains("`scope` must be `admin`");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_keys WHERE name = 'Root'"),
        0
    );

    let list = browser.get(&u.api_keys()).await;
    let keys = html::by_id(&list.body, "keys-table");
    let row = html::row_of(keys, "Chat widget").unwrap();
    assert!(row.shows("chat"), "{row:?}");
    assert!(html::row_of(keys, "HR sync").unwrap().shows("admin"));
    assert_eq!(html::link(keys, "Chat widget").unwrap(), u.api_key(id));

    let page = browser.get(&u.api_key(id)).await;
    page.assert_ok()
        .assert_contains("<h1>Chat widget</h1>")
        .assert_contains("chat completions and the model list only")
        .assert_contains("<input type=\"checkbox\" name=\"requires_user\" checked>")
        .assert_contains("requires a user")
        .assert_contains("narrows what its callers may use");
    // Its policy: models narrowed, a limit, and it still requires a user.
    save(
        &browser,
        &format!("key:{id}"),
        &[
            ("models", "only"),
            ("model", "gpt-4o-mini"),
            ("limits[0].metric", "requests"),
            ("limits[0].window", "minute"),
            ("limits[0].max", "60"),
            ("limits[0].per", "group"),
            ("requires_user", "on"),
        ],
    )
    .await
    .assert_redirect(&u.api_key(id));
    assert_eq!(
        stored(&app, &format!("key:{id}")).unwrap(),
        json!({
            "models": ["gpt-4o-mini"],
            "characters": null,
            "limits": [{"metric": "requests", "window": "minute", "max": 60, "per": "group"}],
            "requiresUser": true,
        })
    );
    // What a request with the key and no user may use: everyone's
    // models, narrowed by the key's; everyone's limits and the key's.
    save(
        &browser,
        "everyone",
        &[
            ("models", "only"),
            ("model", "gpt-4o"),
            ("model", "gpt-4o-mini"),
        ],
    )
    .await;
    let page = browser.get(&u.api_key(id)).await;
    let models = html::by_id(&page.body, "access-models");
    assert!(
        models.contains(&format!(
            "<code>gpt-4o-mini</code> <span class=\"muted\">opened by</span> <a href=\"{}\">everyone</a>",
            u.groups()
        )),
        "{models}"
    );
    assert!(!models.contains("<code>gpt-4o</code>"), "{models}");
    assert!(
        models.contains("Narrowed by the API key to gpt-4o-mini."),
        "{models}"
    );
    let limit = bar(&page.body, "60 requests a minute for the group");
    assert!(
        limit.contains(&format!("<a href=\"{}\">API key {id}</a>", u.api_key(id))),
        "{limit}"
    );
    assert!(limit.contains("0 of 60 requests (0%)"), "{limit}");
    let missing = browser.get(&u.api_key(999)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn the_time_zone_is_a_setting_checked_as_an_iana_name() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let zone = || {
        app.db
            .read_blocking(db::settings::timezone)
            .map(|zone| zone.name().to_owned())
            .unwrap()
    };
    browser
        .get(&u.settings())
        .await
        .assert_contains("currently UTC");
    browser
        .post(
            &u.settings(),
            &u.settings_timezone(),
            &[("timezone", " Europe/Paris ")],
        )
        .await
        .assert_redirect(&u.settings());
    assert_eq!(zone(), "Europe/Paris");
    browser
        .get(&u.settings())
        .await
        .assert_contains("now follow the calendar of Europe/Paris")
        .assert_contains("value=\"Europe/Paris\"");
    let bad = browser
        .post(
            &u.settings(),
            &u.settings_timezone(),
            &[("timezone", "Mars/Olympus")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    bad.assert_contains("`timezone` must be a time zone name");
    assert_eq!(zone(), "Europe/Paris");
    browser
        .post(&u.settings(), &u.settings_timezone(), &[("timezone", "")])
        .await;
    assert_eq!(zone(), "UTC");
}

#[actix_web::test]
async fn the_time_zone_flag_wins_over_the_setting_and_unset_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mindgate.db");
    let start = |zone: Option<&str>| {
        let gateway = GatewayConfig {
            timezone: zone.map(|z| InstanceTimeZone::parse("timezone", z).unwrap()),
            ..GatewayConfig::default()
        };
        TestApp::builder().on(&path).gateway(gateway).spawn()
    };
    let stored = |app: &TestApp| {
        app.db
            .read_blocking(|conn| db::settings::get(conn, db::settings::TIMEZONE))
            .unwrap()
    };
    let first = start(None).await;
    assert_eq!(stored(&first), None, "UTC, unset");
    first
        .db
        .write_blocking(|tx| db::settings::set(tx, db::settings::TIMEZONE, "Europe/Paris"))
        .unwrap();
    first.stop().await;
    drop(first);
    let flagged = start(Some("America/New_York")).await;
    assert_eq!(stored(&flagged).as_deref(), Some("America/New_York"));
    flagged.stop().await;
    drop(flagged);
    let unset = start(None).await;
    assert_eq!(stored(&unset).as_deref(), Some("America/New_York"));
}

/// A chat with `model` as `email`; its status.
async fn chat(app: &TestApp, email: &str, model: &str) -> StatusCode {
    let body = json!({"model": model, "messages": [{"role": "user", "content": "Hello"}]});
    let request = app
        .request(Method::POST, "/api/v1/chat/completions")
        .insert_header(("X-User-Email", email));
    let (status, answer) = send_body(request, body.to_string()).await;
    assert!(!status.is_server_error(), "{answer}");
    status
}

/// Asserts that `bar` resets at the end of the day in `zone` that held
/// `shown` (a moment before the page was asked for) or now, should a day
/// have ended in between.
fn assert_resets_at_day_end(bar: &str, zone: &str, shown: i64) {
    let zone = InstanceTimeZone::parse("timezone", zone).unwrap();
    let end = |at: i64| {
        format!(
            "datetime=\"{}\"",
            Timestamp(zone.window(Window::Day, at).1).to_iso()
        )
    };
    assert!(
        bar.contains(&end(shown)) || bar.contains(&end(Timestamp::now().millis())),
        "resets at the end of the day in {zone}: {bar}"
    );
}

/// The text of the limit bar that names `limit`.
fn bar(page: &str, limit: &str) -> String {
    let bars = html::by_id(page, "limits");
    bars.split("<li class=\"limit-bar")
        .find(|b| b.contains(limit))
        .unwrap_or_else(|| panic!("no bar for {limit}: {bars}"))
        .to_owned()
}

#[actix_web::test]
async fn a_user_page_shows_what_is_open_to_them_and_where_each_limit_stands() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let ann = add_user(&app, "ann@example.com", &["interns", "staff"]).await;
    add_user(&app, "bob@example.com", &["interns"]).await;
    let tutor = app
        .create_character(&json!({"title": "Tutor", "instruction": "Teach."}))
        .await;
    let tutor = tutor["id"].as_str().unwrap();
    let page = browser.get(&u.user(&ann)).await;
    page.assert_ok();
    assert!(html::by_id(&page.body, "access-models").contains("Every model"));
    assert!(html::by_id(&page.body, "limits").contains("No limit applies to them."));

    save(
        &browser,
        "tag:interns",
        &[
            ("models", "only"),
            ("model", "echo"),
            ("model", "gpt-4o-mini"),
            ("limits[0].metric", "requests"),
            ("limits[0].window", "day"),
            ("limits[0].max", "3"),
            ("limits[0].per", "member"),
        ],
    )
    .await;
    save(
        &browser,
        "tag:staff",
        &[
            ("characters", "only"),
            ("character", tutor),
            ("limits[0].metric", "costUsd"),
            ("limits[0].window", "month"),
            ("limits[0].max", "1"),
            ("limits[0].per", "group"),
        ],
    )
    .await;
    // Bob's echo counts for him alone under interns' per-member limit.
    assert_eq!(chat(&app, "bob@example.com", "echo").await, StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(chat(&app, "ann@example.com", "echo").await, StatusCode::OK);
    }
    assert_eq!(
        chat(&app, "ann@example.com", "gpt-5").await,
        StatusCode::FORBIDDEN
    );

    let shown = Timestamp::now().millis();
    let page = browser.get(&u.user(&ann)).await;
    page.assert_ok();
    let models = html::by_id(&page.body, "access-models");
    assert!(models.contains("<code>echo</code>"), "{models}");
    assert!(models.contains("<code>gpt-4o-mini</code>"), "{models}");
    assert!(!models.contains("gpt-5"), "{models}");
    assert!(
        models.contains(&format!(
            "<a href=\"{}\">tag interns</a>",
            u.group("interns")
        )),
        "{models}"
    );
    let characters = html::by_id(&page.body, "access-characters");
    assert!(
        characters.contains("Tutor") && characters.contains("tag staff"),
        "{characters}"
    );

    let requests = bar(&page.body, "3 requests a day per member");
    assert!(requests.contains("2 of 3 requests (66%)"), "{requests}");
    assert!(
        requests.contains("<progress max=\"100\" value=\"66\""),
        "{requests}"
    );
    assert!(
        requests.contains(&format!(
            "<a href=\"{}\">tag interns</a>",
            u.group("interns")
        )),
        "{requests}"
    );
    assert_resets_at_day_end(&requests, "UTC", shown);
    let pool = bar(&page.body, "$1.00 a month for the group");
    assert!(pool.contains("$0.00 of $1.00 (0%)"), "{pool}");

    // The third passes, the fourth is refused: the bar is full.
    assert_eq!(chat(&app, "ann@example.com", "echo").await, StatusCode::OK);
    assert_eq!(
        chat(&app, "ann@example.com", "echo").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let full = bar(
        &browser.get(&u.user(&ann)).await.body,
        "3 requests a day per member",
    );
    assert!(full.contains("3 of 3 requests (100%)"), "{full}");
    assert!(full.contains("reached"), "{full}");

    // The time zone moves the window's end, at once.
    browser
        .post(
            &u.settings(),
            &u.settings_timezone(),
            &[("timezone", "Pacific/Kiritimati")],
        )
        .await
        .assert_redirect(&u.settings());
    let shown = Timestamp::now().millis();
    let moved = bar(
        &browser.get(&u.user(&ann)).await.body,
        "3 requests a day per member",
    );
    assert_resets_at_day_end(&moved, "Pacific/Kiritimati", shown);

    // Their own policy opens a model too, and says so.
    save(
        &browser,
        &format!("user:{ann}"),
        &[("models", "only"), ("model_patterns", "claude-*")],
    )
    .await
    .assert_redirect(&u.user(&ann));
    let page = browser.get(&u.user(&ann)).await;
    page.assert_contains(&format!("Saved the policy of user {ann}."))
        .assert_contains("<details class=\"policy-details\" open>");
    let models = html::by_id(&page.body, "access-models");
    assert!(models.contains("<code>claude-haiku-4-5</code>"), "{models}");
    assert!(
        models.contains(&format!("<a href=\"{}\">user {ann}</a>", u.user(&ann))),
        "{models}"
    );
    assert!(
        models.contains("<code>claude-*</code> <span class=\"badge badge-muted\">pattern</span>"),
        "{models}"
    );
}

#[actix_web::test]
async fn the_usage_page_counts_the_requests_refused_to_each_user() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    add_user(&app, "ann@example.com", &["interns"]).await;
    add_user(&app, "bob@example.com", &["interns"]).await;
    save(
        &browser,
        "tag:interns",
        &[("models", "only"), ("model", "echo")],
    )
    .await;
    assert_eq!(chat(&app, "ann@example.com", "echo").await, StatusCode::OK);
    for model in ["gpt-4o", "gpt-5"] {
        assert_eq!(
            chat(&app, "ann@example.com", model).await,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(chat(&app, "bob@example.com", "echo").await, StatusCode::OK);
    // Counted by the background writer, soon.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.count("SELECT COALESCE(SUM(refused + requests), 0) FROM usage_rollups") < 4 {
        assert!(std::time::Instant::now() < deadline, "never counted");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = browser.get(&u.usage()).await;
    let table = html::by_id(&page.body, "by-user");
    assert!(table.contains(">Refused</th>"), "{table}");
    let row = |email: &str| html::row_of(table, email).unwrap();
    // The label, eight figures, then the refused.
    assert_eq!(row("ann@example.com").cell(1), ["1"]);
    assert_eq!(row("ann@example.com").cell(9), ["2"]);
    assert_eq!(row("bob@example.com").cell(9), ["0"]);
    // The others tables keep their columns.
    assert!(!html::by_id(&page.body, "by-model").contains(">Refused<"));
}

#[test]
fn a_time_zone_flag_that_names_no_zone_is_a_usage_error() {
    let args = ["serve", "--timezone", "Mars/Olympus"].map(String::from);
    let output = mindgate_blocking(&args);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("Mars/Olympus") && err.contains("--timezone"),
        "{err}"
    );
}
