//! `/admin`: counts, this month's cost and the users who cost the most,
//! and 30 days of usage drawn as SVG on the server, all from the usage
//! rollups (which outlive the chat logs, and count chats not recorded).

use actix_web::web;
use askama::Template;

use super::chart::{self, Chart, Legend, Point, Series, Unit};
use super::format;
use super::guard::Ctx;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult};
use super::usage::{self, Cell, UsageTable};
use crate::db::usage::{Dimension, UsageQuery, UsageTotals};
use crate::db::{self, Db, StoreError};
use crate::domain::day::DAY_MS;
use crate::domain::Timestamp;

const DAYS: i64 = 30;
/// Users listed by what they cost this month.
const TOP_USERS: usize = 5;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    urls: &'a Urls,
    users: i64,
    characters: i64,
    chats_today: i64,
    tokens_week: String,
    cost_month: Cell,
    month_query: String,
    top_users: UsageTable,
    charts: Vec<Chart>,
    legend: Vec<Legend>,
    empty: bool,
}

pub async fn show(ctx: Ctx, db: web::Data<Db>) -> AdminResult {
    let now = Timestamp::now().millis();
    let today = now.div_euclid(DAY_MS);
    let first_day = today - (DAYS - 1);
    let urls = ctx.urls.clone();
    let query = UsageQuery {
        start_day: first_day,
        end_day: today,
        ..UsageQuery::default()
    };
    let (users, characters, [daily], (month, top_users)) = db
        .read(move |conn| {
            Ok::<_, StoreError>((
                db::users::count(conn)?,
                db::characters::count(conn)?,
                db::usage::reports(conn, &query, [&[Dimension::Day, Dimension::Model]])?,
                usage::month_top_users(conn, &urls, TOP_USERS)?,
            ))
        })
        .await?;
    let daily: Vec<(i64, String, UsageTotals)> = daily
        .rows
        .into_iter()
        .filter(|row| row.totals.requests > 0)
        .map(|row| {
            let model = row
                .key
                .model
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "unknown model".to_owned());
            (row.key.day.unwrap_or(today), model, row.totals)
        })
        .collect();
    let since = |first: i64| -> UsageTotals {
        let mut sum = UsageTotals::default();
        daily
            .iter()
            .filter(|(day, ..)| *day >= first)
            .for_each(|(_, _, t)| sum.add(t));
        sum
    };
    let chats_today = since(today).requests;
    let tokens_week = since(today - 6).tokens();
    // The busiest models get their own colour.
    let series = Series::rank(
        daily
            .iter()
            .map(|(_, model, t)| (model.clone(), t.requests * 1_000_000 + t.tokens())),
        "other models",
    );
    let points = |value: fn(&UsageTotals) -> i64| -> Vec<Point> {
        daily
            .iter()
            .map(|(day, model, t)| Point {
                day: *day,
                series: model.clone(),
                value: value(t),
            })
            .collect()
    };
    let span = format!("{DAYS} days");
    let charts = vec![
        chart::chart(
            "Chats per day",
            &span,
            &points(|t| t.requests),
            first_day,
            DAYS,
            &series,
            Unit::Count("chats"),
        ),
        chart::chart(
            "Tokens per day",
            &span,
            &points(UsageTotals::tokens),
            first_day,
            DAYS,
            &series,
            Unit::Count("tokens"),
        ),
    ];
    AdminResponse::page(
        "Dashboard",
        &DashboardPage {
            urls: &ctx.urls,
            users,
            characters,
            chats_today,
            tokens_week: format::compact(tokens_week),
            cost_month: usage::cost_cell(&month),
            month_query: usage::View::this_month().query(),
            top_users,
            empty: daily.is_empty(),
            charts,
            legend: series.legend(),
        },
    )
}
