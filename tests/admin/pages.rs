//! Each admin page with data: what it shows, what its forms change, and
//! that everything stored through the API comes back escaped.

use actix_web::http::{Method, StatusCode};

use std::time::Duration;

use mindgate::db::{Db, StoreError};

use crate::common::html;
use crate::helpers::{
    set_password, signed_in, Browser, ServerProcess, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD,
};

const XSS: &str = "<script>alert(1)</script>";
const XSS_ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

/// Adds a user with the plain form, as a browser without JavaScript.
async fn add_user(browser: &Browser, email: &str, tags: &str) {
    let u = &browser.urls;
    browser
        .post(&u.users(), &u.users(), &[("email", email), ("tags", tags)])
        .await
        .assert_redirect(&u.users());
}

/// The tags that the users page shows for `email`, if it lists them.
fn listed_tags(html: &str, email: &str) -> Option<Vec<String>> {
    html::row_of(html, email).map(|row| row.cell(1).to_vec())
}

fn listed(html: &str, email: &str) -> bool {
    listed_tags(html, email).is_some()
}

#[actix_web::test]
async fn an_added_user_is_listed_with_its_tags_and_the_flash_shows_once() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    browser
        .get(&u.users())
        .await
        .assert_ok()
        .assert_contains("No users yet");
    add_user(&browser, " Ann@Example.com ", "team-a, beta").await;
    let list = browser.get(&u.users()).await;
    list.assert_ok().assert_contains("Added ann@example.com.");
    assert_eq!(
        listed_tags(&list.body, "ann@example.com").unwrap(),
        ["team-a", "beta"]
    );
    // The flash is shown once.
    assert!(!browser.get(&u.users()).await.body.contains("Added ann"));
}

#[actix_web::test]
async fn a_bad_or_taken_email_is_refused_naming_the_problem_and_changes_nothing() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    add_user(&browser, "ann@example.com", "").await;
    let bad = browser
        .post(
            &u.users(),
            &u.users(),
            &[("email", "not-an-email"), ("tags", "")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    bad.assert_contains("`email` must contain an @");
    let dup = browser
        .hx_post(&u.users(), &u.users(), &[("email", "ann@example.com")])
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    dup.assert_contains("already exists");
    assert!(dup.body.contains("id=\"flash\"") && !dup.body.contains("<html"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 1);
}

#[actix_web::test]
async fn users_are_found_by_a_piece_of_the_email_or_a_tag() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    add_user(&browser, "ann@example.com", "team-a, beta").await;
    add_user(&browser, "bob@example.com", "").await;
    let by_email = browser.get(&format!("{}?q=bob", u.users())).await;
    assert!(listed(&by_email.body, "bob@example.com"));
    assert!(!listed(&by_email.body, "ann@example.com"));
    let by_tag = browser.get(&format!("{}?q=beta", u.users())).await;
    assert!(listed(&by_tag.body, "ann@example.com"));
    assert!(!listed(&by_tag.body, "bob@example.com"));
    browser
        .get(&format!("{}?q=nobody", u.users()))
        .await
        .assert_contains("No user matches");
}

#[actix_web::test]
async fn tags_are_edited_inline() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    add_user(&browser, "ann@example.com", "team-a, beta").await;
    let id = app.count("SELECT id FROM users").to_string();
    // htmx gets the editing row, then the saved row.
    let editing = browser.hx_get(&u.user_edit(&id)).await;
    editing
        .assert_ok()
        .assert_contains("value=\"team-a, beta\"");
    assert!(editing.body.trim_start().starts_with("<tr"));
    let saved = browser
        .hx_post(&u.users(), &u.user_tags(&id), &[("tags", "gold; team-a")])
        .await;
    saved
        .assert_ok()
        .assert_contains("hx-swap-oob=\"true\"")
        .assert_contains("Saved the tags of ann@example.com.");
    assert_eq!(
        listed_tags(&saved.body, "ann@example.com").unwrap(),
        ["gold", "team-a"]
    );
    let too_long = "x".repeat(65);
    let bad_tag = browser
        .post(
            &u.users(),
            &u.user_tags(&id),
            &[("tags", too_long.as_str())],
        )
        .await;
    assert_eq!(bad_tag.status, StatusCode::BAD_REQUEST);
    bad_tag.assert_contains("tags[0]");
    let list = browser.get(&u.users()).await;
    assert_eq!(
        listed_tags(&list.body, "ann@example.com").unwrap(),
        ["gold", "team-a"]
    );
}

#[actix_web::test]
async fn without_javascript_delete_asks_first_and_the_post_deletes() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    add_user(&browser, "ann@example.com", "").await;
    add_user(&browser, "bob@example.com", "").await;
    let id = app.count("SELECT id FROM users WHERE email = 'ann@example.com'");
    browser
        .get(&u.user_delete(id))
        .await
        .assert_ok()
        .assert_contains("Delete the user ann@example.com?");
    browser
        .post(&u.users(), &u.user_delete(id), &[])
        .await
        .assert_redirect(&u.users());
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 1);
    let list = browser.get(&u.users()).await;
    assert!(!listed(&list.body, "ann@example.com"));
    assert!(listed(&list.body, "bob@example.com"));
    let gone = browser.get(&u.user_edit(id)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let junk = browser.get(&u.user_edit("abc")).await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn htmx_gets_the_fragment_and_a_plain_request_the_page() {
    let (_app, browser) = signed_in().await;
    let u = &browser.urls;
    let page = browser.get(&u.users()).await;
    page.assert_contains("<html").assert_contains("<nav");
    let fragment = browser.hx_get(&format!("{}?q=x", u.users())).await;
    fragment.assert_ok().assert_contains("id=\"users-table\"");
    assert!(!fragment.body.contains("<html") && !fragment.body.contains("<nav"));
    // Going back, htmx asks for the whole page again.
    let restore = browser
        .send(
            browser
                .request(Method::GET, &format!("{}?q=x", u.users()))
                .insert_header(("HX-Request", "true"))
                .insert_header(("HX-History-Restore-Request", "true")),
            None,
        )
        .await;
    restore.assert_contains("<html").assert_contains("<nav");
    // A change answered to htmx reloads the page it came from.
    let csrf = page.csrf();
    let filtered = format!("{}?q=ann", u.users());
    let response = browser
        .hx_post_on(&filtered, &csrf, &u.users(), "email=ann%40example.com")
        .await;
    response.assert_ok();
    let location: serde_json::Value = serde_json::from_str(response.header("hx-location")).unwrap();
    assert_eq!(location["path"], format!("{}?q=ann", u.users()));
    assert_eq!(location["target"], "#main");
}

/// Line, email and outcome of each row of an import's report, then the
/// outcome's detail.
fn import_report(page: &str) -> Vec<(String, String, String, String)> {
    html::rows(html::by_id(page, "import-report"))
        .iter()
        .skip(1)
        .map(|row| {
            let outcome = row.cell(2);
            (
                row.cell(0).concat(),
                row.cell(1).concat(),
                outcome.first().cloned().unwrap_or_default(),
                outcome[1..].concat(),
            )
        })
        .collect()
}

/// A row of the report with no detail.
fn line(line: &str, email: &str, outcome: &str) -> (String, String, String, String) {
    (line.into(), email.into(), outcome.into(), String::new())
}

#[actix_web::test]
async fn a_csv_import_reports_each_row() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    browser
        .post(&u.users(), &u.users(), &[("email", "old@example.com")])
        .await;
    let csv = "email,tags\nnew@example.com,vip;beta\nold@example.com,\nbroken-address,x\n\"quoted@example.com\",\"a;b\",c\n";
    let report = browser
        .post(&u.users(), &u.users_import(), &[("csv", csv)])
        .await;
    report.assert_ok().assert_contains("Import result");
    let rows = import_report(&report.body);
    assert_eq!(rows.len(), 4, "{}", report.body);
    assert_eq!(rows[0], line("2", "new@example.com", "added"));
    assert_eq!(rows[1], line("3", "old@example.com", "already there"));
    assert_eq!(rows[2].1, "broken-address");
    assert_eq!(rows[2].2, "invalid");
    assert!(rows[2].3.contains("must contain an @"), "{:?}", rows[2]);
    assert_eq!(rows[3], line("5", "quoted@example.com", "added"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 3);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM user_tags t JOIN users u ON u.id = t.user_id WHERE u.email = 'quoted@example.com'"),
        3
    );
    let empty = browser
        .post(&u.users(), &u.users_import(), &[("csv", "  ")])
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn a_csv_file_is_imported_without_javascript() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let page = browser.get(&u.users()).await;
    // The form posts the chosen file itself, no script needed.
    page.assert_contains("enctype=\"multipart/form-data\"")
        .assert_contains("name=\"file\" type=\"file\"");
    let csrf = page.csrf();
    let import = || browser.request(Method::POST, &u.users_import());
    // A spreadsheet's export: a byte order mark first, a header line.
    let file = "\u{feff}email,tags\nann@example.com,vip;beta\nbroken-address,x\n";
    let report = browser
        .send_multipart(
            import(),
            &[
                ("csrf", None, csrf.as_bytes()),
                ("file", Some("team.csv"), file.as_bytes()),
                ("csv", None, b""),
            ],
        )
        .await;
    report.assert_ok().assert_contains("<html");
    let rows = import_report(&report.body);
    assert_eq!(rows.len(), 2, "{}", report.body);
    assert_eq!(rows[0], line("2", "ann@example.com", "added"));
    assert_eq!(
        (rows[1].1.as_str(), rows[1].2.as_str()),
        ("broken-address", "invalid")
    );
    let listed = html::by_id(&report.body, "users-table");
    let ann = html::row_of(listed, "ann@example.com").expect("ann is listed");
    assert_eq!(ann.cell(1), ["vip", "beta"]);
    // htmx posts the same form with its token in a header, for the fragment.
    let hx = import()
        .insert_header(("HX-Request", "true"))
        .insert_header(("X-CSRF-Token", csrf.as_str()));
    let fragment = browser
        .send_multipart(hx, &[("file", Some("more.csv"), b"bob@example.com\n")])
        .await;
    fragment.assert_ok();
    assert!(!fragment.body.contains("<html"), "{}", fragment.body);
    assert_eq!(
        import_report(&fragment.body),
        [line("1", "bob@example.com", "added")]
    );
    // Pasted lines still work, in the same form.
    let pasted = browser
        .send_multipart(
            import(),
            &[
                ("csrf", None, csrf.as_bytes()),
                ("file", Some(""), b""),
                ("csv", None, b"carol@example.com,x\n"),
            ],
        )
        .await;
    assert_eq!(
        import_report(&pasted.body),
        [line("1", "carol@example.com", "added")]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 3);
    // A file and pasted lines at once, or a file that is not UTF-8: refused.
    let both = browser
        .send_multipart(
            import(),
            &[
                ("csrf", None, csrf.as_bytes()),
                ("file", Some("a.csv"), b"dan@example.com\n"),
                ("csv", None, b"eve@example.com\n"),
            ],
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    both.assert_contains("choose a file or paste lines, not both");
    let latin1 = browser
        .send_multipart(
            import(),
            &[
                ("csrf", None, csrf.as_bytes()),
                ("file", Some("a.csv"), b"jos\xe9@example.com\n"),
            ],
        )
        .await;
    assert_eq!(latin1.status, StatusCode::BAD_REQUEST);
    latin1.assert_contains("`file` must be UTF-8 text");
    // The token counts in a multipart form as in any other.
    let forged = browser
        .send_multipart(
            import(),
            &[("file", Some("a.csv"), b"mallory@example.com\n")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    forged.assert_contains("CSRF");
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 3);
}

#[actix_web::test]
async fn a_character_is_created_and_listed_with_its_model() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let form = browser.get(&u.character_new()).await;
    form.assert_ok()
        .assert_contains("<option value=\"gpt-4o\">gpt-4o</option>");
    let missing = browser
        .post(
            &u.character_new(),
            &u.characters(),
            &[("title", "  "), ("instruction", "Be kind.")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    missing.assert_contains("`title` must not be empty or blank");
    assert_eq!(app.count("SELECT COUNT(*) FROM characters"), 0);
    add_tutor(&browser).await;
    let list = browser.get(&u.characters()).await;
    list.assert_contains("Created “Tutor”.");
    let row = html::row_of(&list.body, "Tutor").expect("Tutor is listed");
    assert_eq!(row.cell(1), ["Explains things"]);
    assert_eq!(row.cell(2), ["gpt-4o"]);
}

/// Creates the character "Tutor" with the form.
async fn add_tutor(browser: &Browser) {
    let u = &browser.urls;
    browser
        .post(
            &u.character_new(),
            &u.characters(),
            &[
                ("title", "Tutor"),
                ("description", "Explains things"),
                ("instruction", "You are a patient tutor."),
                ("default_model", "gpt-4o"),
            ],
        )
        .await
        .assert_redirect(&u.characters());
}

#[actix_web::test]
async fn a_character_is_edited_and_deleted() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    add_tutor(&browser).await;
    let list = browser.get(&u.characters()).await;
    let id = field_after(&list.body, "<tr id=\"character-", "\"");
    let edit = browser.get(&u.character_edit(id)).await;
    edit.assert_contains("You are a patient tutor.")
        .assert_contains("<option value=\"gpt-4o\" selected>");
    browser
        .post(
            &u.characters(),
            &u.character(id),
            &[
                ("title", "Math tutor"),
                ("description", ""),
                ("instruction", "Teach maths."),
                ("default_model", ""),
            ],
        )
        .await
        .assert_redirect(&u.characters());
    let stored: String = app
        .db
        .read_blocking(|c| {
            Ok::<_, mindgate::db::StoreError>(c.query_row(
                "SELECT title || '|' || instruction || '|' || IFNULL(default_model, '-') FROM characters",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(stored, "Math tutor|Teach maths.|-");
    browser
        .post(&u.characters(), &u.character_delete(id), &[])
        .await
        .assert_redirect(&u.characters());
    assert_eq!(app.count("SELECT COUNT(*) FROM characters"), 0);
    let gone = browser.get(&u.character_edit(id)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

/// The text between `before` and the next `after`.
fn field_after<'a>(html: &'a str, before: &str, after: &str) -> &'a str {
    let start = html.find(before).unwrap() + before.len();
    let end = html[start..].find(after).unwrap() + start;
    &html[start..end]
}

#[actix_web::test]
async fn an_api_key_made_in_the_admin_works_until_revoked() {
    let (app, browser) = TestApp::builder().without_api_key().signed_in().await;
    let u = &browser.urls;
    browser
        .get(&u.api_keys())
        .await
        .assert_contains("No API keys yet");
    let blank = browser
        .post(&u.api_keys(), &u.api_keys(), &[("name", " ")])
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    let created = browser
        .post(&u.api_keys(), &u.api_keys(), &[("name", "HR sync")])
        .await;
    created
        .assert_ok()
        .assert_contains("shown only this once")
        .assert_contains("data-copy=\"new-key-value\"");
    let key = field_after(
        &created.body,
        "id=\"new-key-value\" class=\"mono\" readonly value=\"",
        "\"",
    );
    assert!(key.starts_with("mg_") && key.len() == 43, "{key}");
    let api = awc::Client::default();
    let mut ok = api
        .get(app.url("/api/v1/users"))
        .insert_header(("X-API-KEY", key))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.body().await.unwrap().starts_with(b"{\"data\":"));
    // Listed by name and prefix, never in full again.
    let list = browser.get(&u.api_keys()).await;
    list.assert_contains("HR sync")
        .assert_contains(&format!("{}…", &key[..9]));
    assert!(!list.body.contains(key));
    let id = app.count("SELECT id FROM api_keys");
    browser
        .get(&u.api_key_revoke(id))
        .await
        .assert_contains("Revoke API key");
    browser
        .post(&u.api_keys(), &u.api_key_revoke(id), &[])
        .await
        .assert_redirect(&u.api_keys());
    browser
        .get(&u.api_keys())
        .await
        .assert_contains("Revoked key")
        .assert_contains("badge-error\">revoked");
    let refused = api
        .get(app.url("/api/v1/users"))
        .insert_header(("X-API-KEY", key))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn recording_is_switched_off_and_on() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    browser
        .get(&u.settings())
        .await
        .assert_contains("currently on");
    browser
        .post(&u.settings(), &u.settings_recording(), &[])
        .await
        .assert_redirect(&u.settings());
    browser
        .get(&u.settings())
        .await
        .assert_contains("Chats are no longer recorded.")
        .assert_contains("currently off");
    let value: String = app
        .db
        .read_blocking(|c| {
            Ok::<_, mindgate::db::StoreError>(c.query_row(
                "SELECT value FROM settings WHERE key = 'record_chats'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(value, "off");
    browser
        .post(&u.settings(), &u.settings_recording(), &[("record", "on")])
        .await;
    browser
        .get(&u.settings())
        .await
        .assert_contains("currently on");
}

#[actix_web::test]
async fn the_last_admin_stays_and_others_are_added_and_removed() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    browser
        .get(&u.settings())
        .await
        .assert_contains("the last admin stays");
    // The last admin cannot be removed.
    let me = app.count("SELECT id FROM admins");
    let last = browser.post(&u.settings(), &u.admin_delete(me), &[]).await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    last.assert_contains("last admin");
    let weak = browser
        .post(
            &u.settings(),
            &u.admins(),
            &[
                ("email", "two@example.com"),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    weak.assert_contains("`password` must be 12 to 256 characters");
    let pw = "second admin passphrase";
    browser
        .post(
            &u.settings(),
            &u.admins(),
            &[
                ("email", "two@example.com"),
                ("password", pw),
                ("confirm", pw),
            ],
        )
        .await
        .assert_redirect(&u.settings());
    assert_eq!(app.count("SELECT COUNT(*) FROM admins"), 2);
    let second = app.browser();
    second.sign_in("two@example.com", pw).await;
    let two = app.count("SELECT id FROM admins WHERE email = 'two@example.com'");
    browser
        .post(&u.settings(), &u.admin_delete(two), &[])
        .await
        .assert_redirect(&u.settings());
    // Removing an admin signs them out at once.
    second.get(&u.dashboard()).await.assert_redirect(&u.login());
}

#[actix_web::test]
async fn changing_the_password_signs_out_the_other_sessions() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let other = app.browser();
    other
        .sign_in(ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD)
        .await;
    let new = "a completely new passphrase";
    let wrong = browser
        .post(
            &u.settings(),
            &u.settings_password(),
            &[
                ("current", "not it at all"),
                ("password", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    wrong.assert_contains("the current password is wrong");
    let differ = browser
        .post(
            &u.settings(),
            &u.settings_password(),
            &[
                ("current", crate::helpers::ADMIN_PASSWORD),
                ("password", new),
                ("confirm", "another one here"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    browser
        .post(
            &u.settings(),
            &u.settings_password(),
            &[
                ("current", crate::helpers::ADMIN_PASSWORD),
                ("password", new),
                ("confirm", new),
            ],
        )
        .await
        .assert_redirect(&u.settings());
    browser.get(&u.settings()).await.assert_ok();
    other.get(&u.dashboard()).await.assert_redirect(&u.login());
    app.browser().sign_in(ADMIN_EMAIL, new).await;
}

const DAY: i64 = 86_400_000;

/// A recent chat, one 40 days old and 26 in between from two days ago:
/// 28 chats, two pages.
fn record_chats(app: &TestApp) {
    app.record_chat(
        "c-new",
        "Holiday plans",
        "user: where to go in May?",
        "gpt-4o",
        1_000,
    );
    app.record_chat(
        "c-old",
        "Tax question",
        "user: how do I file?",
        "claude-2",
        40 * DAY,
    );
    for i in 0..26 {
        app.record_chat(
            &format!("bulk-{i}"),
            "Bulk",
            "user: hi",
            "gpt-4o-mini",
            2 * DAY + i,
        );
    }
}

/// The chat titles that a chat logs page lists, in order.
fn titles(html: &str) -> Vec<String> {
    html::rows(html)
        .iter()
        .skip(1)
        .filter_map(|row| row.cell(0).first().cloned())
        .collect()
}

#[actix_web::test]
async fn chat_logs_are_listed_newest_first_by_pages() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    browser
        .get(&u.chatlogs())
        .await
        .assert_contains("No chats recorded yet");
    record_chats(&app);
    let page = browser.get(&u.chatlogs()).await;
    page.assert_ok().assert_contains("Older →");
    let first = titles(&page.body);
    assert_eq!(first.len(), 25);
    assert_eq!(first[0], "Holiday plans", "newest first");
    assert!(first[1..].iter().all(|t| t == "Bulk"), "{first:?}");
    let older = html::link(&page.body, "Older →").expect("a link to older chats");
    let second = browser.get(&older).await;
    second.assert_contains("← Newer");
    assert_eq!(titles(&second.body), ["Bulk", "Bulk", "Tax question"]);
}

#[actix_web::test]
async fn chat_logs_are_filtered_by_model_text_date_and_user() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    record_chats(&app);
    let by_model = browser
        .get(&format!("{}?model=claude-2", u.chatlogs()))
        .await;
    assert_eq!(titles(&by_model.body), ["Tax question"]);
    let by_text = browser.get(&format!("{}?q=MAY", u.chatlogs())).await;
    assert_eq!(titles(&by_text.body), ["Holiday plans"]);
    let today = mindgate::domain::Timestamp::now().to_iso()[..10].to_owned();
    let by_date = browser
        .get(&format!("{}?from={today}&to={today}", u.chatlogs()))
        .await;
    assert_eq!(titles(&by_date.body), ["Holiday plans"]);
    browser
        .get(&format!("{}?user=nobody%40example.com", u.chatlogs()))
        .await
        .assert_contains("No chat matches these filters");
    let bad = browser
        .get(&format!("{}?from=yesterday", u.chatlogs()))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    bad.assert_contains("`from` must be a date like 2024-08-14");
}

#[actix_web::test]
async fn a_chat_log_shows_the_whole_conversation() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    record_chats(&app);
    let chat = browser.get(&u.chatlog("c-new")).await;
    chat.assert_ok()
        .assert_contains("user: where to go in May?")
        .assert_contains("812 ms");
    assert_eq!(
        browser.get(&u.chatlog("nope")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn chat_logs_export_as_json_and_csv() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    record_chats(&app);
    let json = browser
        .get(&format!("{}?model=gpt-4o", u.chatlogs_json()))
        .await;
    assert!(json
        .header("content-disposition")
        .contains("mindgate-chatlogs.json"));
    let body: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["chatID"], "c-new");
    assert_eq!(data[0]["conversationText"], "user: where to go in May?");
    assert_eq!(data[0]["promptTokens"], 100);
    let csv = browser.get(&u.chatlogs_csv()).await;
    assert!(csv.header("content-type").starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 29, "a header and 28 chats");
    assert!(lines[0].starts_with("chatID,chatTitle,createdAt"));
    assert!(lines[1].starts_with("c-new,Holiday plans,"));
}

#[actix_web::test]
async fn chat_logs_show_their_cost_or_no_price_and_estimated_usage_everywhere() {
    use mindgate::db::chat_logs::NewChatLog;
    use mindgate::domain::{Micros, Timestamp};

    use crate::helpers::chat_log;

    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let now = Timestamp::now();
    app.record_chats(&[
        NewChatLog {
            cache_read_tokens: 7,
            cost: Some(Micros(125)),
            ..chat_log("priced", now)
        },
        NewChatLog {
            model: Some("house-model".into()),
            usage_estimated: true,
            ..chat_log("unpriced", now)
        },
    ]);
    let page = browser.get(&u.chatlogs()).await;
    let row = |title: &str| html::row_of(&page.body, title).unwrap();
    assert!(
        row("Chat priced").shows("$0.000125"),
        "{:?}",
        row("Chat priced")
    );
    assert!(
        row("Chat priced").shows("130"),
        "prompt, cache and completion tokens"
    );
    assert!(row("Chat unpriced").shows("no price"));
    assert!(row("Chat unpriced").shows("est."));
    browser
        .get(&u.chatlog("priced"))
        .await
        .assert_contains("$0.000125")
        .assert_contains("7 cache read");
    browser
        .get(&u.chatlog("unpriced"))
        .await
        .assert_contains("no price")
        .assert_contains("estimated");

    let json = browser.get(&u.chatlogs_json()).await;
    let body: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    let by_id = |id: &str| {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["chatID"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("priced")["costUsd"], 0.000125);
    assert_eq!(by_id("priced")["cacheReadTokens"], 7);
    assert_eq!(by_id("unpriced")["costUsd"], serde_json::Value::Null);
    assert_eq!(by_id("unpriced")["usageEstimated"], true);
    let csv = browser.get(&u.chatlogs_csv()).await;
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let of = |id: &str| records.iter().find(|r| &r[0] == id).unwrap().clone();
    assert_eq!(&of("priced")[column("costUsd")], "0.000125");
    assert_eq!(&of("priced")[column("userEmail")], "");
    assert_eq!(&of("unpriced")[column("costUsd")], "", "no price");
    assert_eq!(&of("unpriced")[column("usageEstimated")], "true");
    assert_eq!(&of("unpriced")[column("model")], "house-model");
}

#[actix_web::test]
async fn the_dashboard_counts_and_charts_usage() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let empty = browser.get(&u.dashboard()).await;
    empty.assert_contains("No chats in the last 30 days yet");
    app.record_chat("a", "A", "x", "gpt-4o", 1_000);
    app.record_chat("b", "B", "x", "gpt-4o", 3 * DAY);
    app.record_chat("c", "C", "x", "claude-2", 10 * DAY);
    app.record_chat("d", "D", "x", "claude-2", 45 * DAY);
    let page = browser.get(&u.dashboard()).await;
    page.assert_ok();
    let stat = |label: &str| {
        let end = page
            .body
            .find(&format!("<span class=\"stat-label\">{label}"))
            .unwrap();
        let start = page.body[..end].rfind("stat-value\">").unwrap() + 12;
        page.body[start..end].trim_end_matches("</span>").to_owned()
    };
    assert_eq!(stat("Users"), "0");
    assert_eq!(stat("Chats today"), "1");
    assert_eq!(stat("Tokens, last 7 days"), "246");
    // Three chats within 30 days, drawn once per chart.
    assert_eq!(page.body.matches("<rect class=\"bar").count(), 6);
    page.assert_contains("gpt-4o: 1 chats")
        .assert_contains("claude-2: 123 tokens")
        .assert_contains("<span class=\"swatch s0\"");
}

#[actix_web::test]
async fn what_the_api_stored_comes_back_escaped() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let key = app.api_key.clone();
    let api = awc::Client::default();
    for (path, body) in [
        (
            "/api/v1/users",
            serde_json::json!({"email": "x@example.com", "tags": [XSS]}),
        ),
        (
            "/api/v1/ai-characters",
            serde_json::json!({"title": XSS, "instruction": XSS, "description": XSS}),
        ),
    ] {
        let response = api
            .post(app.url(path))
            .insert_header(("X-API-KEY", key.as_str()))
            .send_json(&body)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    app.record_chat("<b>id</b>", XSS, XSS, XSS, 1_000);
    let id = app
        .db
        .read_blocking(|c| {
            Ok::<_, mindgate::db::StoreError>(c.query_row(
                "SELECT id FROM characters",
                [],
                |r| r.get::<_, String>(0),
            )?)
        })
        .unwrap();
    for path in [
        u.users(),
        u.characters(),
        u.character_edit(&id),
        u.chatlogs(),
        u.chatlog("<b>id</b>"),
        u.dashboard(),
    ] {
        let page = browser.get(&path).await;
        page.assert_ok().assert_contains(XSS_ESCAPED);
        assert!(!page.body.contains(XSS), "{path} has the raw payload");
        assert!(!page.body.contains("<b>id</b>"), "{path}");
    }
    // A search term is escaped too.
    let search = browser
        .get(&format!(
            "{}?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            u.users()
        ))
        .await;
    search.assert_contains(XSS_ESCAPED);
    assert!(!search.body.contains(XSS));
}

#[actix_web::test]
async fn the_csv_export_defuses_formulas_even_full_width_or_after_blanks() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let titles = [
        ("plain", "Holiday plans", "Holiday plans"),
        ("ascii", "=1+1", "'=1+1"),
        ("blank-first", "  =HYPERLINK(\"x\")", "'  =HYPERLINK(\"x\")"),
        ("full-equals", "\u{FF1D}1+1", "'\u{FF1D}1+1"),
        ("full-plus", " \u{FF0B}1", "' \u{FF0B}1"),
        ("full-minus", "\u{FF0D}1", "'\u{FF0D}1"),
        (
            "full-at",
            "\u{3000}\u{FF20}SUM(A1)",
            "'\u{3000}\u{FF20}SUM(A1)",
        ),
        ("tab", "\tx", "'\tx"),
        ("inside", "a=b", "a=b"),
    ];
    for (i, (id, title, _)) in titles.iter().enumerate() {
        app.record_chat(id, title, "x", "gpt-4o", i as i64 * 1000);
    }
    let csv = browser.get(&u.chatlogs_csv()).await;
    csv.assert_ok();
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let cells: std::collections::HashMap<String, String> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_owned(), r[1].to_owned())
        })
        .collect();
    for (id, _, expected) in titles {
        assert_eq!(cells[id], expected, "{id}");
    }
}

#[actix_web::test]
async fn the_user_form_normalises_emails_and_refuses_invisible_characters() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let hidden = browser
        .post(
            &u.users(),
            &u.users(),
            &[("email", "ann\u{200B}@example.com"), ("tags", "")],
        )
        .await;
    assert_eq!(hidden.status, StatusCode::BAD_REQUEST);
    hidden.assert_contains("`email` must not contain spaces, control or invisible characters; found U+200B at character 4");

    browser
        .post(
            &u.users(),
            &u.users(),
            &[("email", "jos\u{e9}@example.com"), ("tags", "")],
        )
        .await
        .assert_redirect(&u.users());
    let twin = browser
        .hx_post(
            &u.users(),
            &u.users(),
            &[("email", "JOSE\u{301}@example.com")],
        )
        .await;
    assert_eq!(twin.status, StatusCode::CONFLICT);
    // The search finds the address however its accent is typed.
    browser.get(&u.users()).await.assert_ok(); // shows the flash, once
    browser
        .get(&format!("{}?q=jose%CC%81", u.users()))
        .await
        .assert_contains("jos\u{e9}@example.com");
    assert!(!browser
        .get(&format!("{}?q=nobody", u.users()))
        .await
        .body
        .contains("jos\u{e9}@example.com"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users"), 1);
}

#[actix_web::test]
async fn the_character_form_refuses_control_characters() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let nul = browser
        .post(
            &u.character_new(),
            &u.characters(),
            &[("title", "Tu\0tor"), ("instruction", "Be kind.")],
        )
        .await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST);
    nul.assert_contains("`title` must not contain control characters");
    assert_eq!(app.count("SELECT COUNT(*) FROM characters"), 0);
}

#[actix_web::test]
async fn a_bad_id_in_a_path_is_a_page_naming_it_from_the_ids_own_parser() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    for (method, segment, path, what) in [
        (Method::GET, "abc", u.user_edit("abc"), "user"),
        (Method::GET, "0", u.user_row("0"), "user"),
        (Method::POST, "1.5", u.user_tags("1.5"), "user"),
        (Method::POST, "-1", u.user_delete("-1"), "user"),
        (Method::GET, "x", u.api_key_revoke("x"), "key"),
        (Method::POST, "x", u.api_key_revoke("x"), "key"),
        (Method::GET, "+1", u.admin_delete("+1"), "admin"),
        (Method::POST, "0", u.admin_delete("0"), "admin"),
    ] {
        let path = path.as_str();
        let message = format!("{what} id must be a positive integer, got &#34;{segment}&#34;");
        let (page, hx) = if method == Method::GET {
            (browser.get(path).await, browser.hx_get(path).await)
        } else {
            let fields = [("tags", "x")];
            (
                browser.post(&u.users(), path, &fields).await,
                browser.hx_post(&u.users(), path, &fields).await,
            )
        };
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert!(page.header("content-type").starts_with("text/html"));
        page.assert_contains("<html").assert_contains(&message);
        // htmx gets the message as a flash, swapped into place.
        assert_eq!(hx.status, StatusCode::BAD_REQUEST, "hx {method} {path}");
        assert_eq!(hx.header("hx-retarget"), "#flash");
        assert!(!hx.body.contains("<html"), "{}", hx.body);
        hx.assert_contains(&message);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM admins"), 1);
}

#[actix_web::test]
async fn a_server_fault_is_a_page_that_hides_it_and_is_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mindgate.db");
    assert!(set_password(&path, ADMIN_EMAIL, ADMIN_PASSWORD)
        .status
        .success());
    let server = ServerProcess::serve(&path, &[], &[]);
    let browser = Browser::new(&server.url);
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // The store fails under the page: a table is gone.
    Db::open(&path)
        .unwrap()
        .write_blocking(|tx| Ok::<_, StoreError>(tx.execute_batch("DROP TABLE chat_logs")?))
        .unwrap();
    let u = &browser.urls;
    let page = browser.get(&u.chatlogs()).await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    page.assert_contains("<html")
        .assert_contains("internal server error; the details are in the server log");
    assert!(!page.body.contains("no such table"), "{}", page.body);
    let hx = browser.hx_get(&u.chatlogs()).await;
    assert_eq!(hx.header("hx-retarget"), "#flash");
    // The request after both, to know the log has all they wrote.
    browser.get("/healthz").await;
    let mut log = Vec::new();
    while !log.iter().any(|l: &String| l.contains("GET /healthz")) {
        let line = server.log.recv_timeout(Duration::from_secs(10));
        log.push(line.expect("the server logs each request"));
    }
    let faults = log.iter().filter(|l| l.contains("no such table")).count();
    assert_eq!(faults, 2, "once for each of the two requests: {log:#?}");
}
