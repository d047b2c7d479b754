//! The Usage page in a real headless Chromium, as a new admin tries it:
//! two users have chatted through the gateway (`echo` and the mock
//! providers, with prices set through the API); the admin signs in, opens
//! Usage from the navigation, reads each user's figures, switches the
//! period, fetches the CSV its link points to, and follows a user's row
//! to their page. Screenshots land in `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`, like `browser`.

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::browser::{click, connect, fill, screenshot, start_driver, wait_for, wait_for_text};
use crate::helpers::{TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::usage::seeded;

#[actix_web::test]
async fn an_admin_reads_usage_and_downloads_its_csv_in_a_real_browser() {
    let Some(driver) = start_driver() else {
        return;
    };
    let (app, _) = seeded().await;
    let c = connect(&driver).await;
    let result = run(&app, &c).await;
    let _ = c.close().await;
    result.expect("browser session");
}

/// The text of each cell of the row of `table` that `label` heads.
async fn row_text(c: &Client, table: &str, label: &str) -> Vec<String> {
    let rows = c
        .find_all(Locator::Css(&format!("#{table} tbody tr")))
        .await
        .expect("rows");
    for row in rows {
        let cells = row.find_all(Locator::Css("th, td")).await.expect("cells");
        let mut texts = Vec::new();
        for cell in cells {
            texts.push(cell.text().await.expect("text"));
        }
        if texts.first().is_some_and(|t| t == label) {
            return texts;
        }
    }
    let shown = c
        .find(Locator::Css(&format!("#{table}")))
        .await
        .expect("the table");
    panic!(
        "no row {label:?} in #{table}: {}",
        shown.text().await.unwrap_or_default()
    );
}

async fn run(app: &TestApp, c: &Client) -> Result<(), fantoccini::error::CmdError> {
    let u = &app.urls;
    c.goto(&app.url(&u.login())).await?;
    fill(c, "#email", ADMIN_EMAIL).await;
    fill(c, "#password", ADMIN_PASSWORD).await;
    click(
        c,
        &format!("form[action='{}'] button[type=submit]", u.login()),
    )
    .await;
    wait_for(c, ".stat-value").await;

    // From the navigation: this month, by cost, Bob first.
    click(c, &format!("nav a[href='{}']", u.usage())).await;
    wait_for(c, "#by-user").await;
    assert_eq!(c.title().await?, "Usage · mindgate admin");
    let bob = row_text(c, "by-user", "bob@example.com").await;
    assert_eq!(bob[1], "2", "requests: {bob:?}");
    assert_eq!(bob[7], "28", "tokens: {bob:?}");
    assert_eq!(bob[8], "$0.02945", "cost: {bob:?}");
    let ann = row_text(c, "by-user", "ann@example.com").await;
    assert_eq!(ann[1], "3", "{ann:?}");
    assert!(
        ann[8].starts_with("$0.0069") && ann[8].contains("1 with no price"),
        "{ann:?}"
    );
    let echo = row_text(c, "by-model", "echo").await;
    assert_eq!(echo[8], "no price");
    wait_for(c, "#cost-chart rect.bar").await;
    screenshot(c, "usage").await;
    c.execute(
        "document.getElementById('by-user').scrollIntoView()",
        vec![],
    )
    .await?;
    screenshot(c, "usage-tables").await;
    c.execute("window.scrollTo(0, 0)", vec![]).await?;

    // Last month had nothing; back to this month by the custom range.
    click(c, "nav.presets a[href*='period=last-month']").await;
    wait_for_text(c, "No usage in this period.").await;
    assert!(c
        .current_url()
        .await?
        .query()
        .unwrap_or("")
        .contains("period=last-month"));
    let today = mindgate::domain::day::iso_day(mindgate::domain::day::day_of(
        mindgate::domain::day::today(),
    ));
    // Date inputs take what is typed in the browser's locale: set them
    // as a script would.
    c.execute(
        "document.getElementById('p-start').value = arguments[0];
         document.getElementById('p-end').value = arguments[0];",
        vec![json!(today)],
    )
    .await?;
    click(c, "form.period-form button[type=submit]").await;
    wait_for(c, "#by-user").await;
    let url = c.current_url().await?;
    assert!(
        url.query()
            .unwrap_or("")
            .contains(&format!("start={today}")),
        "{url}"
    );
    assert_eq!(
        row_text(c, "by-user", "bob@example.com").await[8],
        "$0.02945"
    );

    // The CSV behind the link, fetched as the page's own request.
    let href = wait_for(c, "#by-user a[download]")
        .await
        .attr("href")
        .await?
        .expect("the CSV link");
    let fetched = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.text().then(body => done({
                 status: r.status,
                 type: r.headers.get('content-type'),
                 disposition: r.headers.get('content-disposition'),
                 body,
             })));",
            vec![json!(href)],
        )
        .await?;
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert!(fetched["type"].as_str().unwrap().starts_with("text/csv"));
    let disposition = fetched["disposition"].as_str().unwrap();
    assert!(
        disposition.contains(&format!("mindgate-usage-by-user-{today}-to-{today}.csv")),
        "{disposition}"
    );
    let body = fetched["body"].as_str().unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[0].starts_with("userEmail,requests,errors,"), "{body}");
    assert_eq!(lines[1], "bob@example.com,2,0,22,6,0,0,28,0.02945,0");
    // The same figures as the API.
    let (_, api) = app
        .get(&format!(
            "/api/v1/usage?start={today}&end={today}&groupBy=user"
        ))
        .await;
    let bob_api = api["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["userEmail"] == "bob@example.com")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(bob_api["costUsd"], 0.02945, "{api}");
    assert_eq!(bob_api["requests"], 2);

    // Bob's row, the first, leads to his page: his models, his chats.
    click(c, "#by-user th a[href*='/users/']").await;
    wait_for(c, "#recent-chats").await;
    let heading = wait_for(c, "h1").await.text().await?;
    assert_eq!(heading, "bob@example.com");
    let model = row_text(c, "by-model", "claude-haiku-4-5").await;
    assert_eq!(model[8], "$0.026");
    screenshot(c, "user").await;

    c.goto(&app.url(&u.dashboard())).await?;
    wait_for(c, "#cost-month").await;
    let cost = wait_for(c, "#cost-month .stat-value").await.text().await?;
    assert_eq!(cost, "$0.03635");
    screenshot(c, "dashboard-cost").await;
    Ok(())
}
