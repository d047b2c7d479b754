//! The Usage page, a user's page and the dashboard's cost: chats driven
//! through the gateway (`echo` and the mock providers) as two users with
//! their own API keys, priced through the API, then read back from the
//! pages, their CSVs and `GET /api/v1/usage`; periods, sorting, deleted
//! users, escaping and bad query strings.

use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use mindgate::config::GatewayConfig;
use mindgate::db::api_keys;
use mindgate::db::chat_logs::NewChatLog;
use mindgate::db::providers::ProviderSeed;
use mindgate::domain::day::{date_of, day_of, iso_day, today};
use mindgate::domain::{ApiKey, KeyScope, Micros, Timestamp, UserId};
use serde_json::{json, Value};

use crate::common::html::{self, Row};
use crate::helpers::{chat_log, send_body, Browser, TestApp};
use crate::mock_upstream::MockUpstream;

const DAY_MS: i64 = 86_400_000;
const XSS: &str = "<script>alert(1)</script>";

/// Columns of a usage table row: the label, then these figures.
const REQUESTS: usize = 1;
const ERRORS: usize = 2;
const INPUT: usize = 3;
const OUTPUT: usize = 4;
const TOKENS: usize = 7;
const COST: usize = 8;

/// The server with the mock as both providers, its admin signed in.
async fn signed_in_gateway() -> (TestApp, Browser, MockUpstream) {
    let mock = MockUpstream::start().await;
    let gateway = GatewayConfig {
        openai: ProviderSeed {
            base_url: Some(mock.openai_base()),
            api_key: Some("sk-test-openai-0123456789".into()),
        },
        anthropic: ProviderSeed {
            base_url: Some(mock.address.clone()),
            api_key: Some("sk-ant-test-0123456789".into()),
        },
        ..GatewayConfig::default()
    };
    let (app, browser) = TestApp::builder().gateway(gateway).signed_in().await;
    (app, browser, mock)
}

async fn set_price(app: &TestApp, model: &str, price: Value) {
    let request = app.request(Method::PUT, &format!("/api/v1/models/{model}/price"));
    let (status, body) = send_body(request, price.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{model}: {body}");
}

/// Waits until `n` chat logs (and their rollups) are written.
async fn wait_for_chats(app: &TestApp, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.count("SELECT COUNT(*) FROM chat_logs") < n {
        assert!(Instant::now() < deadline, "the chats were not recorded");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ann (team-a, vip) asks gpt-4o-mini twice (once streamed) and `echo`
/// once with the test key; Bob (team-b) asks claude-haiku-4-5 and
/// gpt-4o-mini (streamed) with a key of his own. The mock answers 11
/// prompt and 3 completion tokens; gpt-4o-mini costs $150 and $600 per
/// million, claude-haiku-4-5 $1000 and $5000: $0.00345 and $0.026 a chat.
/// `echo` has no price.
pub(crate) async fn seeded() -> (TestApp, Browser) {
    let (app, browser, _mock) = signed_in_gateway().await;
    app.create_user(&json!({"email": "ann@example.com", "tags": ["team-a", "vip"]}))
        .await;
    app.create_user(&json!({"email": "bob@example.com", "tags": ["team-b"]}))
        .await;
    let bob_key = ApiKey::generate();
    app.db
        .write_blocking(|tx| api_keys::insert(tx, "bob's script", &bob_key, KeyScope::Admin))
        .unwrap();
    set_price(&app, "gpt-4o-mini", json!({"input": 150, "output": 600})).await;
    set_price(
        &app,
        "claude-haiku-4-5",
        json!({"input": 1000, "output": 5000}),
    )
    .await;
    let plan = [
        (
            "ann@example.com",
            app.api_key.as_str(),
            "gpt-4o-mini",
            false,
        ),
        ("ann@example.com", app.api_key.as_str(), "gpt-4o-mini", true),
        ("ann@example.com", app.api_key.as_str(), "echo", false),
        (
            "bob@example.com",
            bob_key.as_str(),
            "claude-haiku-4-5",
            false,
        ),
        ("bob@example.com", bob_key.as_str(), "gpt-4o-mini", true),
    ];
    for (email, key, model, stream) in plan {
        let body = json!({"model": model, "stream": stream,
                          "messages": [{"role": "user", "content": "Hi there"}]});
        let mut response = app
            .client
            .post(app.url("/api/v1/chat/completions"))
            .insert_header(("X-API-KEY", key))
            .insert_header(("X-User-Email", email))
            .send_body(body.to_string())
            .await
            .expect("chat");
        assert_eq!(response.status(), StatusCode::OK, "{model}");
        response.body().await.expect("read the answer");
    }
    wait_for_chats(&app, plan.len() as i64).await;
    (app, browser)
}

/// The rows of the table with the id `table` on `page`.
fn table_rows(page: &str, table: &str) -> Vec<Row> {
    let inside = html::by_id(page, table);
    assert!(!inside.is_empty(), "no #{table} in {page}");
    html::rows(inside).into_iter().skip(1).collect()
}

/// The row of `table` whose label is `label`.
fn row(page: &str, table: &str, label: &str) -> Row {
    table_rows(page, table)
        .into_iter()
        .find(|r| r.cell(0).first().map(String::as_str) == Some(label))
        .unwrap_or_else(|| {
            panic!(
                "no row {label:?} in #{table}: {:?}",
                table_rows(page, table)
            )
        })
}

fn figure(row: &Row, column: usize) -> String {
    row.cell(column).join(" ")
}

/// The labels of a table's rows, in order (the total row aside).
fn labels(page: &str, table: &str) -> Vec<String> {
    table_rows(page, table)
        .iter()
        .map(|r| r.cell(0)[0].clone())
        .filter(|l| l != "Total")
        .collect()
}

#[actix_web::test]
async fn the_usage_page_shows_each_users_requests_tokens_and_cost_per_model() {
    let (app, browser) = seeded().await;
    let u = &browser.urls;
    let page = browser.get(&u.usage()).await;
    page.assert_ok();
    // By user, dearest first: Bob's $0.026 + $0.00345, then Ann's two
    // gpt-4o-mini chats and her echo, which has no price.
    assert_eq!(
        labels(&page.body, "by-user"),
        ["bob@example.com", "ann@example.com"]
    );
    let bob = row(&page.body, "by-user", "bob@example.com");
    assert_eq!(figure(&bob, REQUESTS), "2");
    assert_eq!(figure(&bob, INPUT), "22");
    assert_eq!(figure(&bob, OUTPUT), "6");
    assert_eq!(figure(&bob, COST), "$0.02945");
    let ann = row(&page.body, "by-user", "ann@example.com");
    assert_eq!(figure(&ann, REQUESTS), "3");
    assert_eq!(figure(&ann, ERRORS), "0");
    assert_eq!(figure(&ann, COST), "$0.0069 1 with no price");
    // By model: echo's requests had no price.
    let mini = row(&page.body, "by-model", "gpt-4o-mini");
    assert_eq!(
        (
            figure(&mini, REQUESTS),
            figure(&mini, INPUT),
            figure(&mini, COST)
        ),
        ("3".into(), "33".into(), "$0.01035".into())
    );
    assert_eq!(
        figure(&row(&page.body, "by-model", "claude-haiku-4-5"), COST),
        "$0.026"
    );
    let echo = row(&page.body, "by-model", "echo");
    assert_eq!(echo.cell(0), ["echo"], "a model is no deleted user");
    assert_eq!(figure(&echo, COST), "no price");
    // By tag: Ann under each of hers; the total counts each request once.
    for (tag, requests) in [("team-a", "3"), ("vip", "3"), ("team-b", "2")] {
        assert_eq!(figure(&row(&page.body, "by-tag", tag), REQUESTS), requests);
    }
    let total = row(&page.body, "by-tag", "Total");
    assert_eq!(figure(&total, REQUESTS), "5");
    assert_eq!(figure(&total, COST), "$0.03635 1 with no price");
    // The cost chart: a bar a model with a price, today.
    let chart = html::by_id(&page.body, "cost-chart");
    assert_eq!(chart.matches("<rect class=\"bar").count(), 2, "{chart}");
    let today = iso_day(day_of(today()));
    assert!(chart.contains(&format!("{today} · claude-haiku-4-5: $0.026")));

    // Each user's page: their usage by model, as the API counts it.
    let (_, api) = app.get("/api/v1/usage?groupBy=user,model").await;
    let api_rows = api["data"].as_array().unwrap();
    assert_eq!(api_rows.len(), 4, "{api}");
    for email in ["ann@example.com", "bob@example.com"] {
        let href = html::by_id(&page.body, "by-user");
        let id = app.count(&format!("SELECT id FROM users WHERE email = '{email}'"));
        let link = format!("{}?period=this-month&#38;sort=cost", u.user(id));
        assert!(
            href.contains(&link),
            "{email}'s row leads to their page: {href}"
        );
        let theirs = browser.get(&u.user(id)).await;
        theirs.assert_ok().assert_contains(email);
        let mine: Vec<&Value> = api_rows
            .iter()
            .filter(|r| r["userEmail"] == email)
            .collect();
        assert_eq!(labels(&theirs.body, "by-model").len(), mine.len());
        for api_row in mine {
            let model = api_row["model"].as_str().unwrap();
            let shown = row(&theirs.body, "by-model", model);
            for (column, field) in [
                (REQUESTS, "requests"),
                (INPUT, "inputTokens"),
                (OUTPUT, "outputTokens"),
            ] {
                assert_eq!(
                    figure(&shown, column),
                    api_row[field].to_string(),
                    "{email} {model} {field}"
                );
            }
            let cost = match api_row["unpricedRequests"].as_i64() {
                Some(0) => format!("${}", api_row["costUsd"]),
                _ => "no price".to_owned(),
            };
            assert_eq!(figure(&shown, COST), cost, "{email} {model}");
        }
    }
}

#[actix_web::test]
async fn each_table_downloads_as_csv_with_the_figures_of_the_usage_api() {
    let (app, browser) = seeded().await;
    let u = &browser.urls;
    let page = browser.get(&u.usage()).await;
    let first = iso_day(day_of(today().replace_day(1).unwrap()));
    let today = iso_day(day_of(today()));
    for (csv_url, group, key, slug) in [
        (u.usage_users_csv(), "user", "userEmail", "by-user"),
        (u.usage_tags_csv(), "tag", "tag", "by-tag"),
        (u.usage_models_csv(), "model", "model", "by-model"),
    ] {
        let href = format!("{csv_url}?period=this-month&#38;sort=cost");
        page.assert_contains(&href);
        let csv = browser.get(&href.replace("&#38;", "&")).await;
        csv.assert_ok();
        assert!(csv.header("content-type").starts_with("text/csv"));
        assert_eq!(
            csv.header("content-disposition"),
            format!("attachment; filename=\"mindgate-usage-{slug}-{first}-to-{today}.csv\"")
        );
        let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            [
                key,
                "requests",
                "errors",
                "inputTokens",
                "outputTokens",
                "cacheReadTokens",
                "cacheWriteTokens",
                "totalTokens",
                "costUsd",
                "unpricedRequests"
            ]
        );
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let (_, api) = app.get(&format!("/api/v1/usage?groupBy={group}")).await;
        let api_rows = api["data"].as_array().unwrap();
        assert_eq!(records.len(), api_rows.len(), "{group}: one line per row");
        for api_row in api_rows {
            let name = api_row[key].as_str().unwrap_or("");
            let record = records.iter().find(|r| &r[0] == name).unwrap();
            for (i, field) in [
                "requests",
                "errors",
                "inputTokens",
                "outputTokens",
                "cacheReadTokens",
                "cacheWriteTokens",
            ]
            .iter()
            .enumerate()
            {
                assert_eq!(
                    record[i + 1],
                    api_row[*field].to_string(),
                    "{group} {name} {field}"
                );
            }
            assert_eq!(
                record[8].parse::<f64>().unwrap(),
                api_row["costUsd"].as_f64().unwrap()
            );
            assert_eq!(record[9], api_row["unpricedRequests"].to_string());
        }
    }
    // Exactly, in the page's order (by cost).
    let users = browser
        .get(&format!(
            "{}?period=this-month&sort=cost",
            u.usage_users_csv()
        ))
        .await;
    let lines: Vec<&str> = users.body.lines().collect();
    assert_eq!(lines[1], "bob@example.com,2,0,22,6,0,0,28,0.02945,0");
    assert!(lines[2].starts_with("ann@example.com,3,0,"), "{}", lines[2]);
    assert!(lines[2].ends_with(",0.0069,1"), "{}", lines[2]);
}

/// A chat of `user` recorded at `at`, with these tokens and cost.
fn chat(id: &str, user: Option<i64>, at: Timestamp, tokens: i64, cost: Option<i64>) -> NewChatLog {
    NewChatLog {
        user_id: user.map(UserId),
        prompt_tokens: Some(tokens),
        completion_tokens: Some(0),
        cost: cost.map(Micros),
        ..chat_log(id, at)
    }
}

/// Noon UTC of a day counted from the Unix epoch.
fn noon(day: i64) -> Timestamp {
    Timestamp(day * DAY_MS + DAY_MS / 2)
}

#[actix_web::test]
async fn a_chat_of_last_month_shows_in_last_month_and_not_in_this_one() {
    let (app, browser) = crate::helpers::signed_in().await;
    let u = &browser.urls;
    let ann = app.create_user(&json!({"email": "ann@example.com"})).await;
    let ann: i64 = ann["id"].as_str().unwrap().parse().unwrap();
    let today = day_of(today());
    let first_of_month = day_of(date_of(today).unwrap().replace_day(1).unwrap());
    app.record_chats(&[
        chat("now", Some(ann), Timestamp::now(), 100, Some(1_000)),
        chat(
            "last-month",
            Some(ann),
            noon(first_of_month - 1),
            7,
            Some(2_000_000),
        ),
    ]);
    let this_month = browser.get(&u.usage()).await;
    let cost = |page: &str| figure(&row(page, "by-user", "ann@example.com"), COST);
    assert_eq!(cost(&this_month.body), "$0.001");
    let last = browser
        .get(&format!("{}?period=last-month", u.usage()))
        .await;
    assert_eq!(cost(&last.body), "$2.00");
    assert_eq!(
        figure(&row(&last.body, "by-user", "ann@example.com"), TOKENS),
        "7"
    );
    let period = html::by_id(&last.body, "period-dates");
    let last_month_end = iso_day(first_of_month - 1);
    assert!(
        period.contains(&format!(" to {last_month_end}")),
        "{period}"
    );
    // A custom range of both days holds both; the same on her page.
    let both = format!(
        "?period=custom&start={}&end={}",
        iso_day(first_of_month - 1),
        iso_day(today)
    );
    let range = browser.get(&format!("{}{both}", u.usage())).await;
    let both_chats = row(&range.body, "by-user", "ann@example.com");
    assert_eq!(figure(&both_chats, REQUESTS), "2");
    // From a dollar up, to the cent; the CSV has it exactly.
    assert_eq!(figure(&both_chats, COST), "$2.00");
    let csv = browser.get(&format!("{}{both}", u.usage_users_csv())).await;
    assert!(csv.body.contains(",2.001,0"), "{}", csv.body);
    let hers = browser.get(&format!("{}{both}", u.user(ann))).await;
    assert_eq!(
        figure(&row(&hers.body, "by-model", "gpt-4o"), REQUESTS),
        "2"
    );
    // A period with nothing says so, rather than show empty tables.
    let empty = browser
        .get(&format!("{}?start=2001-01-01&end=2001-01-31", u.usage()))
        .await;
    empty
        .assert_ok()
        .assert_contains("No usage in this period.");
    assert!(!empty.body.contains("id=\"by-user\""));
    assert!(!empty.body.contains("Download CSV"));
    browser
        .get(&format!("{}?start=2001-01-01&end=2001-01-31", u.user(ann)))
        .await
        .assert_contains("No usage in this period.");
}

#[actix_web::test]
async fn tables_sort_by_cost_tokens_or_requests_and_the_links_keep_the_period() {
    let (app, browser) = crate::helpers::signed_in().await;
    let u = &browser.urls;
    let mut ids = Vec::new();
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        let user = app.create_user(&json!({ "email": email })).await;
        ids.push(user["id"].as_str().unwrap().parse::<i64>().unwrap());
    }
    let now = Timestamp::now();
    // Cost: a > b > c; tokens: c > b > a; requests: b > c > a.
    let mut logs = vec![
        chat("a1", Some(ids[0]), now, 10, Some(900)),
        chat("c1", Some(ids[2]), now, 500, Some(10)),
        chat("c2", Some(ids[2]), now, 500, Some(10)),
    ];
    for i in 0..3 {
        logs.push(chat(&format!("b{i}"), Some(ids[1]), now, 100, Some(100)));
    }
    app.record_chats(&logs);
    let emails = |s: [&str; 3]| s.map(|c| format!("{c}@example.com")).to_vec();
    for (sort, order) in [
        ("cost", ["a", "b", "c"]),
        ("tokens", ["c", "b", "a"]),
        ("requests", ["b", "c", "a"]),
    ] {
        let page = browser
            .get(&format!("{}?period=last-30-days&sort={sort}", u.usage()))
            .await;
        assert_eq!(labels(&page.body, "by-user"), emails(order), "{sort}");
    }
    let page = browser
        .get(&format!("{}?period=last-30-days&sort=tokens", u.usage()))
        .await;
    // The headers sort within the period; the period links keep the sort.
    let users = html::by_id(&page.body, "by-user");
    assert!(users.contains(&format!(
        "href=\"{}?period=last-30-days&#38;sort=requests#by-user\"",
        u.usage()
    )));
    assert!(users.contains("aria-sort=\"descending\""));
    page.assert_contains(&format!(
        "href=\"{}?period=last-month&#38;sort=tokens\"",
        u.usage()
    ));
    page.assert_contains("name=\"sort\" value=\"tokens\"");
    // So does the CSV.
    let csv = browser
        .get(&format!(
            "{}?period=last-30-days&sort=requests",
            u.usage_users_csv()
        ))
        .await;
    let first: Vec<&str> = csv.body.lines().skip(1).map(|l| &l[..1]).collect();
    assert_eq!(first, ["b", "c", "a"]);
}

#[actix_web::test]
async fn a_users_page_shows_their_usage_and_latest_chats_and_the_users_list_leads_there() {
    let (app, browser) = crate::helpers::signed_in().await;
    let u = &browser.urls;
    let ann = app
        .create_user(&json!({"email": "ann@example.com", "tags": ["team-a"]}))
        .await;
    let ann: i64 = ann["id"].as_str().unwrap().parse().unwrap();
    let bob = app.create_user(&json!({"email": "bob@example.com"})).await;
    let bob: i64 = bob["id"].as_str().unwrap().parse().unwrap();
    let now = Timestamp::now().millis();
    let mut logs: Vec<NewChatLog> = (0..25)
        .map(|i| NewChatLog {
            chat_title: format!("Ann's chat {i}"),
            ..chat(
                &format!("ann-{i}"),
                Some(ann),
                Timestamp(now - i * 60_000),
                10,
                Some(5),
            )
        })
        .collect();
    logs.push(chat("bob-1", Some(bob), Timestamp(now), 10, None));
    app.record_chats(&logs);
    browser
        .get(&u.users())
        .await
        .assert_contains(&format!("href=\"{}\"", u.user(ann)));
    let page = browser.get(&u.user(ann)).await;
    page.assert_ok()
        .assert_contains("<h1>ann@example.com</h1>")
        .assert_contains("team-a")
        .assert_contains(&format!("{}?user=ann%40example.com", u.chatlogs()));
    let model = row(&page.body, "by-model", "gpt-4o");
    assert_eq!(figure(&model, REQUESTS), "25");
    assert_eq!(figure(&model, INPUT), "250");
    assert_eq!(figure(&model, COST), "$0.000125");
    // The latest 20, newest first, each leading to its chat log.
    let chats = table_rows(&page.body, "recent-chats");
    assert_eq!(chats.len(), 20);
    assert_eq!(chats[0].cell(0), ["Ann's chat 0"]);
    assert_eq!(chats[19].cell(0), ["Ann's chat 19"]);
    assert!(chats.iter().all(|c| !c.shows("bob-1")));
    page.assert_contains(&format!("href=\"{}\"", u.chatlog("ann-0")));
    let bobs = browser.get(&u.user(bob)).await;
    assert!(table_rows(&bobs.body, "recent-chats")[0].shows("no price"));
    // No such user: a 404 page.
    let missing = browser.get(&u.user(999)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    missing.assert_contains("no user with id 999");
}

#[actix_web::test]
async fn a_deleted_users_usage_stays_under_their_email_without_a_page() {
    let (app, browser) = crate::helpers::signed_in().await;
    let u = &browser.urls;
    let gone = app.create_user(&json!({"email": "gone@example.com"})).await;
    let id = gone["id"].as_str().unwrap();
    app.record_chats(&[chat(
        "c",
        Some(id.parse().unwrap()),
        Timestamp::now(),
        10,
        Some(50),
    )]);
    let (status, _) = app.delete(&format!("/api/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let page = browser.get(&u.usage()).await;
    page.assert_ok();
    let row = row(&page.body, "by-user", "gone@example.com");
    assert!(row.shows("deleted"), "{row:?}");
    assert!(!html::by_id(&page.body, "by-user").contains(&u.user(id)));
    let dashboard = browser.get(&u.dashboard()).await;
    dashboard.assert_ok();
    assert!(html::by_id(&dashboard.body, "by-user").contains("gone@example.com"));
    browser
        .get(&u.usage_users_csv())
        .await
        .assert_ok()
        .assert_contains("gone@example.com,1,");
    assert_eq!(browser.get(&u.user(id)).await.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn the_dashboard_shows_this_months_cost_and_its_five_dearest_users() {
    let (app, browser) = crate::helpers::signed_in().await;
    let u = &browser.urls;
    let empty = browser.get(&u.dashboard()).await;
    empty.assert_contains("No user has chatted this month yet.");
    assert!(html::by_id(&empty.body, "cost-month").contains("$0.00"));
    let today = day_of(today());
    let first_of_month = day_of(date_of(today).unwrap().replace_day(1).unwrap());
    let mut logs = Vec::new();
    for n in 1..=7_i64 {
        let user = app
            .create_user(&json!({ "email": format!("u{n}@example.com") }))
            .await;
        let id = user["id"].as_str().unwrap().parse().unwrap();
        logs.push(chat(
            &format!("c{n}"),
            Some(id),
            Timestamp::now(),
            10,
            Some(n * 1_000_000),
        ));
    }
    // Last month's chat counts for nothing; a chat with no user is in the
    // cost, not in the users.
    logs.push(chat(
        "old",
        Some(1),
        noon(first_of_month - 1),
        10,
        Some(50_000_000),
    ));
    logs.push(chat("anon", None, Timestamp::now(), 10, Some(500_000)));
    app.record_chats(&logs);
    let page = browser.get(&u.dashboard()).await;
    page.assert_ok();
    let cost = html::by_id(&page.body, "cost-month");
    assert!(
        cost.contains("$28.50"),
        "1 + 2 + ... + 7 + 0.5 dollars: {cost}"
    );
    page.assert_contains(&format!(
        "id=\"cost-month\" href=\"{}?period=this-month&#38;sort=cost\"",
        u.usage()
    ));
    assert_eq!(
        labels(&page.body, "by-user"),
        [
            "u7@example.com",
            "u6@example.com",
            "u5@example.com",
            "u4@example.com",
            "u3@example.com"
        ]
    );
    let top = row(&page.body, "by-user", "u7@example.com");
    assert_eq!(top.0.len(), 4, "user, requests, tokens, cost: {top:?}");
    assert_eq!(figure(&top, 3), "$7.00");
    let u7 = app.count("SELECT id FROM users WHERE email = 'u7@example.com'");
    assert!(html::by_id(&page.body, "by-user").contains(&u.user(u7)));
}

#[actix_web::test]
async fn user_provided_strings_come_back_escaped_and_defused() {
    let (app, browser) = crate::helpers::signed_in().await;
    let u = &browser.urls;
    let email = format!("{XSS}@example.com");
    let user = app
        .create_user(&json!({"email": email, "tags": [XSS, "=HYPERLINK(\"x\")"]}))
        .await;
    let id: i64 = user["id"].as_str().unwrap().parse().unwrap();
    app.record_chats(&[NewChatLog {
        model: Some(XSS.into()),
        chat_title: XSS.into(),
        ..chat("x", Some(id), Timestamp::now(), 10, Some(5))
    }]);
    for path in [u.usage(), u.user(id), u.dashboard()] {
        let page = browser.get(&path).await;
        page.assert_ok()
            .assert_contains("&#60;script&#62;alert(1)&#60;/script&#62;");
        assert!(!page.body.contains(XSS), "{path} has the raw payload");
    }
    let tags = browser.get(&u.usage_tags_csv()).await;
    assert!(
        tags.body.contains("\"'=HYPERLINK(\"\"x\"\")\""),
        "{}",
        tags.body
    );
    let models = browser.get(&u.usage_models_csv()).await;
    assert!(
        models.body.contains(&format!("\n{XSS},1,")),
        "{}",
        models.body
    );
}

#[actix_web::test]
async fn bad_query_strings_are_a_page_naming_the_parameter_never_a_500() {
    let (app, browser) = crate::helpers::signed_in().await;
    let u = &browser.urls;
    let ann = app.create_user(&json!({"email": "ann@example.com"})).await;
    let ann = ann["id"].as_str().unwrap().to_owned();
    for (query, message) in [
        (
            "start=2024-02-30&end=2024-03-01",
            "`start` must be a date like 2024-08-14, got \"2024-02-30\"",
        ),
        (
            "start=yesterday&end=today",
            "`start` must be a date like 2024-08-14",
        ),
        (
            "period=custom&start=2024-01-01",
            "a custom range needs `end`",
        ),
        (
            "sort=price",
            "`sort` must be cost, tokens or requests, got \"price\"",
        ),
        (
            "period=fortnight",
            "`period` must be this-month, last-month, last-30-days or custom",
        ),
        (
            "start=2024-03-02&end=2024-03-01",
            "`end` must not be before `start`",
        ),
        (
            "start=2000-01-01&end=2024-01-01",
            "a range may span at most 366 days",
        ),
    ] {
        for page in [
            u.usage(),
            u.usage_users_csv(),
            u.usage_models_csv(),
            u.user(&ann),
        ] {
            let answer = browser.get(&format!("{page}?{query}")).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{page}?{query}");
            answer.assert_contains(&message.replace('"', "&#34;"));
        }
    }
    // Parameters it does not know are no harm; a bad id is the id's 400.
    browser
        .get(&format!("{}?colour=red", u.usage()))
        .await
        .assert_ok();
    assert_eq!(
        browser.get(&u.user("abc")).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn the_cost_chart_draws_one_day_a_month_and_many_models_with_a_legend() {
    let (app, browser) = crate::helpers::signed_in().await;
    let u = &browser.urls;
    let today = day_of(today());
    let models = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"];
    let mut logs = Vec::new();
    for (i, model) in models.iter().enumerate() {
        for day in 0..31 {
            logs.push(NewChatLog {
                model: Some((*model).into()),
                cost: Some(Micros((i as i64 + 1) * 1_000)),
                ..chat_log(&format!("{model}-{day}"), noon(today - day))
            });
        }
    }
    app.record_chats(&logs);
    let month = browser
        .get(&format!(
            "{}?start={}&end={}",
            u.usage(),
            iso_day(today - 30),
            iso_day(today)
        ))
        .await;
    let chart = html::by_id(&month.body, "cost-chart");
    assert_eq!(chart.matches("<rect class=\"bar").count(), 7 * 31);
    // The five dearest get a colour each, the other two share one.
    let legend: Vec<&str> = chart.split("<li>").skip(1).collect();
    assert_eq!(legend.len(), 6, "{chart}");
    assert!(legend[0].contains("s0") && legend[0].contains("m7"));
    assert!(legend[5].contains("s5") && legend[5].contains("other models"));
    assert_eq!(chart.matches("class=\"bar s5\"").count(), 2 * 31);
    assert!(chart.contains("$0.868 in 31 days"), "$0.028 a day: {chart}");
    let day = iso_day(today);
    let one = browser
        .get(&format!("{}?start={day}&end={day}", u.usage()))
        .await;
    let chart = html::by_id(&one.body, "cost-chart");
    assert_eq!(chart.matches("<rect class=\"bar").count(), 7);
    assert!(chart.contains("in 1 day"));
    // Nothing priced: no chart, and why.
    app.record_chats(&[NewChatLog {
        model: Some("free".into()),
        ..chat_log("free", noon(today - 200))
    }]);
    let free = iso_day(today - 200);
    browser
        .get(&format!("{}?start={free}&end={free}", u.usage()))
        .await
        .assert_contains("None of these requests had a price");
}

#[actix_web::test]
async fn a_long_table_shows_its_first_hundred_rows_and_its_csv_all() {
    use mindgate::db::users;
    use mindgate::domain::{Email, Tags};

    let (app, browser) = crate::helpers::signed_in().await;
    let u = &browser.urls;
    let ids: Vec<UserId> = app
        .db
        .write_blocking(|tx| {
            (0..105)
                .map(|n| {
                    let email = Email::parse(&format!("user{n:03}@example.com")).unwrap();
                    users::insert(tx, &email, &Tags::default()).map(|u| u.id)
                })
                .collect::<Result<_, _>>()
        })
        .unwrap();
    let now = Timestamp::now();
    let logs: Vec<NewChatLog> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| chat(&format!("c{n}"), Some(id.0), now, 10, Some(n as i64 + 1)))
        .collect();
    app.record_chats(&logs);
    let page = browser.get(&u.usage()).await;
    let shown = labels(&page.body, "by-user");
    assert_eq!(shown.len(), 100);
    assert_eq!(shown[0], "user104@example.com", "the dearest first");
    let table = html::by_id(&page.body, "by-user");
    assert!(table.contains("The first 100 rows; the CSV has the other 5."));
    let csv = browser.get(&u.usage_users_csv()).await;
    assert_eq!(csv.body.lines().count(), 1 + 105);
}
