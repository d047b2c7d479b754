//! The Chat logs page at scale: text search through the full-text index
//! with the semantics of a contains-search, pages found by where they
//! start, exports sent as they are read, and the storage settings.

use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use mindgate::db::chat_logs::SCAN_WINDOW;
use serde_json::{json, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::common::html;
use crate::helpers::{
    send_body, signed_in, spawn_app, Browser, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD,
};

const DAY: i64 = 86_400_000;

/// The chat titles a chat logs page lists, in order.
fn titles(html: &str) -> Vec<String> {
    html::rows(html)
        .iter()
        .skip(1)
        .filter_map(|row| row.cell(0).first().cloned())
        .filter(|title| !title.starts_with("No chat matches"))
        .collect()
}

/// Records `chats` (id, text, model), each titled by its id: the first the
/// newest, each next one `step_ms` older.
fn record_newest_first(app: &TestApp, chats: &[(String, &str, &str)], step_ms: i64) {
    let rows: Vec<(&str, &str, &str, &str, i64)> = chats
        .iter()
        .enumerate()
        .map(|(i, (id, text, model))| (id.as_str(), id.as_str(), *text, *model, i as i64 * step_ms))
        .collect();
    app.record_texts(&rows);
}

/// The chat logs page for `query` (a query string).
async fn listing(browser: &Browser, query: &[(&str, &str)]) -> String {
    let u = &browser.urls;
    let query = serde_urlencoded::to_string(query).unwrap();
    let page = browser.get(&format!("{}?{query}", u.chatlogs())).await;
    page.assert_ok();
    page.body
}

async fn search(browser: &Browser, text: &str) -> Vec<String> {
    titles(&listing(browser, &[("q", text)]).await)
}

#[actix_web::test]
async fn text_search_finds_any_piece_of_a_title_or_conversation() {
    let (app, browser) = signed_in().await;
    app.record_texts(&[
        (
            "c1",
            "Billing",
            "user: where is my INVOICE for 2024?",
            "gpt-4o",
            1_000,
        ),
        ("c2", "Voice notes", "user: record this", "gpt-4o", 2_000),
        (
            "c3",
            "Trip",
            "user: a week in Kyōto in spring",
            "gpt-4o",
            3_000,
        ),
        ("c4", "Percent", "user: 100%_sure, a_b", "gpt-4o", 4_000),
        ("c5", "Nothing", "user: unrelated", "gpt-4o", 5_000),
    ]);
    // Pieces of words, any case (ASCII), spaces and all, newest first.
    assert_eq!(search(&browser, "voice").await, ["Billing", "Voice notes"]);
    assert_eq!(search(&browser, "ice FOR 20").await, ["Billing"]);
    assert_eq!(search(&browser, "kyō").await, ["Trip"]);
    // LIKE's wildcards are plain characters.
    assert_eq!(search(&browser, "%_s").await, ["Percent"]);
    assert_eq!(search(&browser, "a_b").await, ["Percent"]);
    assert!(search(&browser, "a%b").await.is_empty());
    // Shorter than a trigram: every chat is read, with the same result.
    assert_eq!(search(&browser, "in").await, ["Billing", "Trip", "Nothing"]);
    assert_eq!(search(&browser, "%").await, ["Percent"]);
    assert!(search(&browser, "zzz").await.is_empty());
    // Quotes and query syntax are text too.
    app.record_chat(
        "c6",
        "Quoted",
        r#"user: say "NEAR(a b)" OR *"#,
        "gpt-4o",
        6_000,
    );
    assert_eq!(search(&browser, r#""NEAR(a b)" OR *"#).await, ["Quoted"]);
    assert_eq!(
        search(&browser, "Billing Voice").await,
        Vec::<String>::new()
    );
    // Combined with the other filters.
    let by_both = listing(&browser, &[("q", "in"), ("model", "gpt-4o"), ("user", "")]).await;
    assert_eq!(titles(&by_both), ["Billing", "Trip", "Nothing"]);
}

#[actix_web::test]
async fn a_continued_chat_is_found_by_its_new_text_only() {
    let (app, browser) = signed_in().await;
    app.record_chat(
        "c1",
        "Billing",
        "user: where is my invoice?",
        "gpt-4o",
        2_000,
    );
    assert_eq!(search(&browser, "invoice").await, ["Billing"]);
    // The same chatID again: the row and its index entry are replaced.
    app.record_chat("c1", "Billing", "user: paid, thanks", "gpt-4o", 1_000);
    assert!(search(&browser, "invoice").await.is_empty());
    assert_eq!(search(&browser, "paid").await, ["Billing"]);
    // The same once the background indexing has caught up.
    app.wait_indexed().await;
    assert!(search(&browser, "invoice").await.is_empty());
    assert_eq!(search(&browser, "paid").await, ["Billing"]);
    let entries = |piece: &str| {
        app.count(&format!(
            "SELECT COUNT(*) FROM chat_logs_fts WHERE chat_logs_fts MATCH '\"{piece}\"'"
        ))
    };
    assert_eq!(entries("nvo"), 0, "the old text left the index");
    assert_eq!(entries("aid"), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM chat_logs_fts_docsize"), 1);
}

#[actix_web::test]
async fn a_common_search_pages_through_every_match_in_time_order() {
    // More matches than the index lookup sorts: the chats are read in time
    // order instead. Every third chat does not match.
    let (app, browser) = signed_in().await;
    let chats: Vec<(String, &str, &str)> = (0..15_100)
        .map(|i| {
            let text = if i % 3 == 2 {
                "user: hello"
            } else {
                "user: the common case"
            };
            (format!("chat-{i:05}"), text, "gpt-4o")
        })
        .collect();
    record_newest_first(&app, &chats, 10);
    let expected: Vec<String> = (0..15_100)
        .filter(|i| i % 3 != 2)
        .map(|i| format!("chat-{i:05}"))
        .collect();
    let mut seen = Vec::new();
    let mut page = listing(&browser, &[("q", "COMMON")]).await;
    for _ in 0..3 {
        seen.extend(titles(&page));
        let older = html::link(&page, "Older →").expect("older matches");
        page = browser.get(&older).await.body;
    }
    assert_eq!(seen, expected[..75]);
    // And back: the page before holds the 25 before.
    let newer = html::link(&page, "← Newer").expect("newer matches");
    assert_eq!(titles(&browser.get(&newer).await.body), expected[50..75]);
    // The oldest match is reached from the end of the time order.
    let oldest = listing(&browser, &[("q", "common"), ("to", "2000-01-01")]).await;
    assert!(titles(&oldest).is_empty());
}

/// The page the link that says `label` leads to.
async fn follow(browser: &Browser, page: &str, label: &str) -> String {
    let url = html::link(page, label).unwrap_or_else(|| panic!("no {label:?} link"));
    let page = browser.get(&url).await;
    page.assert_ok();
    page.body
}

/// What the page says of the time of chat `chat_id`: `2026-11-26 17:30 UTC`.
fn shown_time(app: &TestApp, chat_id: &str) -> String {
    let ms = app.count(&format!(
        "SELECT recorded_at FROM chat_logs WHERE chat_id = '{chat_id}'"
    ));
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
    at.format(&format).unwrap()
}

#[actix_web::test]
async fn a_short_search_reads_a_window_per_page_and_goes_on_from_its_end() {
    // A two-character search has no trigram to look up: each page checks
    // at most a window of chats. Chat `rank` is the rank-th newest; two
    // matches lie in the newest window, thirty among the oldest, past it.
    let app = spawn_app().await;
    let window = SCAN_WINDOW as usize;
    let title = |rank: usize| format!("chat-{rank:06}");
    let matches = |rank: usize| rank == 3 || rank == window - 10 || rank >= window + 10;
    let chats: Vec<(String, &str, &str)> = (0..window + 40)
        .map(|rank| {
            let text = match rank {
                // The oldest: also the one chat with another word.
                r if r == window + 39 => "user: 東京と大阪",
                r if matches(r) => "user: 東京へ行く",
                _ => "user: hello there",
            };
            (title(rank), text, "gpt-4o")
        })
        .collect();
    record_newest_first(&app, &chats, 1000);
    // Signed in now: a connection kept from before the seeding may have
    // been closed by the server meanwhile.
    app.add_admin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let browser = app.browser();
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let expected: Vec<String> = (0..window + 40)
        .filter(|&r| matches(r))
        .map(title)
        .collect();
    let back_to = |rank| {
        format!(
            "Searched the chats back to {}",
            shown_time(&app, &title(rank))
        )
    };

    // The newest window: its two matches, how far it read, and on.
    let first = listing(&browser, &[("q", "東京")]).await;
    assert_eq!(titles(&first), expected[..2]);
    assert!(first.contains(&back_to(window - 1)), "{first}");
    assert!(html::link(&first, "← Newer").is_none());
    // Past the window: fewer chats than a window are left, read to the end.
    let older = html::link(&first, "Older →").expect("the search goes on");
    assert!(older.contains("q="), "{older}");
    let second = browser.get(&older).await.body;
    assert_eq!(titles(&second), expected[2..27]);
    assert!(!second.contains("Searched the chats"), "{second}");
    let third = follow(&browser, &second, "Older →").await;
    assert_eq!(titles(&third), expected[27..]);
    assert!(html::link(&third, "Older →").is_none());
    assert!(!third.contains("Searched the chats"));

    // And back newer: the pages before, a window at a time.
    let page = follow(&browser, &third, "← Newer").await;
    assert_eq!(titles(&page), expected[2..27]);
    let page = follow(&browser, &page, "← Newer").await;
    assert_eq!(titles(&page), expected[1..2]);
    let forward_to = shown_time(&app, &title(10));
    assert!(
        page.contains(&format!("Searched the chats forward to {forward_to}")),
        "{page}"
    );
    let page = follow(&browser, &page, "← Newer").await;
    assert_eq!(titles(&page), expected[..2], "the newest page");
    assert!(html::link(&page, "← Newer").is_none());

    // A window with no match says so, and the search goes on.
    let empty = listing(&browser, &[("q", "大阪")]).await;
    assert!(titles(&empty).is_empty());
    assert!(empty.contains("No chat matches in the chats searched so far."));
    assert!(empty.contains(&back_to(window - 1)));
    let oldest = follow(&browser, &empty, "Older →").await;
    assert_eq!(titles(&oldest), [title(window + 39)]);
    // So does a longer one whose every piece is too common to look up.
    let common_pieces = listing(&browser, &[("q", "o thello")]).await;
    assert!(titles(&common_pieces).is_empty());
    assert!(common_pieces.contains(&back_to(window - 1)));

    // The export reads every chat, in one go.
    let query = serde_urlencoded::to_string([("q", "東京")]).unwrap();
    let json = browser
        .get(&format!("{}?{query}", browser.urls.chatlogs_json()))
        .await;
    json.assert_ok();
    let body: Value = serde_json::from_str(&json.body).unwrap();
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|chat| chat["chatID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, expected);
}

#[actix_web::test]
async fn pages_under_a_filter_run_older_and_back_newer() {
    let (app, browser) = signed_in().await;
    let chats: Vec<(String, &str, &str)> = (0..60)
        .map(|i| {
            let model = if i % 2 == 0 { "gpt-4o" } else { "o3" };
            (format!("chat-{i:02}"), "user: hi", model)
        })
        .collect();
    record_newest_first(&app, &chats, 1000);
    let expected: Vec<String> = (0..60).step_by(2).map(|i| format!("chat-{i:02}")).collect();
    let first = listing(&browser, &[("model", "gpt-4o")]).await;
    assert_eq!(titles(&first), expected[..25]);
    assert!(html::link(&first, "← Newer").is_none());
    let older = html::link(&first, "Older →").unwrap();
    assert!(older.contains("model=gpt-4o"), "{older}");
    let last = browser.get(&older).await.body;
    assert_eq!(titles(&last), expected[25..]);
    assert!(html::link(&last, "Older →").is_none());
    // Back to the newest page, whole.
    let newer = html::link(&last, "← Newer").unwrap();
    let back = browser.get(&newer).await.body;
    assert_eq!(titles(&back), expected[..25]);
    assert!(html::link(&back, "← Newer").is_none());
    // A cursor that no page gave out is the admin's mistake.
    let u = &browser.urls;
    for bad in ["before=zz", "after=31", "before=3132&after=3132"] {
        let page = browser.get(&format!("{}?{bad}", u.chatlogs())).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
        page.assert_contains("must come from a page link");
    }
}

#[actix_web::test]
async fn exports_are_sent_as_they_are_read_and_hold_every_chat() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    let text = "user: =SUM(A1) ".repeat(40);
    let ids: Vec<String> = (0..2_000).map(|i| format!("chat-{i:04}")).collect();
    let rows: Vec<(&str, &str, &str, &str, i64)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), "=1+1", text.as_str(), "gpt-4o", i as i64))
        .collect();
    app.record_texts(&rows);

    let csv = browser.get(&u.chatlogs_csv()).await;
    csv.assert_ok();
    assert_eq!(csv.header("transfer-encoding"), "chunked", "streamed");
    assert_eq!(csv.header("content-length"), "");
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2_000);
    assert_eq!(&records[0][0], "chat-0000");
    assert_eq!(&records[1_999][0], "chat-1999");
    assert!(records
        .iter()
        .all(|r| &r[1] == "'=1+1" && r[17].starts_with("user: =SUM")));

    let json = browser
        .get(&format!("{}?q=chat-19", u.chatlogs_json()))
        .await;
    json.assert_ok();
    assert_eq!(json.header("transfer-encoding"), "chunked");
    let body: Value = serde_json::from_str(&json.body).unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 0, "the text is searched, not the id");
    let json = browser.get(&format!("{}?q=SUM", u.chatlogs_json())).await;
    let body: Value = serde_json::from_str(&json.body).unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2_000);
    assert_eq!(data[0]["chatID"], "chat-0000");
    assert_eq!(data[0]["conversationText"], text.as_str());
    assert_eq!(data[0]["promptTokens"], 100);
}

/// Waits until `sql` counts `expected`, for at most 10 s.
async fn until_counted(app: &TestApp, sql: &str, expected: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = app.count(sql);
        if n == expected || Instant::now() > deadline {
            return n;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn the_storage_settings_take_effect_at_once() {
    let (app, browser) = signed_in().await;
    let u = &browser.urls;
    app.record_chat("old", "Old", "user: long ago", "gpt-4o", 40 * DAY);
    app.record_chat("new", "New", "user: lately", "gpt-4o", DAY);
    browser
        .get(&u.settings())
        .await
        .assert_contains("kept forever");

    let bad = browser
        .post(
            &u.settings(),
            &u.settings_chatlogs(),
            &[("retention_days", "-3")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    bad.assert_contains("`retention_days` must be a number of days");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM settings"),
        0,
        "nothing changed"
    );

    browser
        .post(
            &u.settings(),
            &u.settings_chatlogs(),
            &[("retention_days", "30")],
        )
        .await
        .assert_redirect(&u.settings());
    browser
        .get(&u.settings())
        .await
        .assert_contains("Chat logs keep no conversation")
        .assert_contains("deleted after 30 days")
        .assert_contains("kept 30 days");
    // The purge ran now, not at the next round.
    let left = until_counted(&app, "SELECT COUNT(*) FROM chat_logs", 1).await;
    assert_eq!(left, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM chat_logs WHERE chat_id = 'new'"),
        1
    );

    // Metadata only, from the next chat on.
    let body = json!({"model": "echo", "chatID": "quiet", "chatTitle": "Plans",
                      "messages": [{"role": "user", "content": "confidential"}]});
    let request = app.request(Method::POST, "/api/v1/chat/completions");
    assert_eq!(send_body(request, body.to_string()).await.0, StatusCode::OK);
    let quiet = "SELECT COUNT(*) FROM chat_logs WHERE chat_id = 'quiet' \
                 AND conversation_text = '' AND chat_title = ''";
    assert_eq!(until_counted(&app, quiet, 1).await, 1);

    browser
        .post(
            &u.settings(),
            &u.settings_chatlogs(),
            &[("conversations", "on"), ("retention_days", "")],
        )
        .await
        .assert_redirect(&u.settings());
    browser
        .get(&u.settings())
        .await
        .assert_contains("Chat logs keep the conversation, and are kept forever.");
}
