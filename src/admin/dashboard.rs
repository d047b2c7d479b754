//! `/admin`: counts, this month's cost and the users who cost the most,
//! and 30 days of usage drawn as SVG on the server.

use actix_web::web;
use askama::Template;

use super::chart::{self, Chart, Legend, Point, Series, Unit};
use super::format;
use super::guard::Ctx;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult};
use super::usage::{self, Cell, UsageTable};
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
    let (users, characters, (chats_today, _), (_, tokens_week), daily, (month, top_users)) = db
        .read(move |conn| {
            Ok::<_, StoreError>((
                db::users::count(conn)?,
                db::characters::count(conn)?,
                db::chat_logs::totals_since(conn, today * DAY_MS)?,
                db::chat_logs::totals_since(conn, now - 7 * DAY_MS)?,
                db::chat_logs::daily_usage(conn, first_day * DAY_MS)?,
                usage::month_top_users(conn, &urls, TOP_USERS)?,
            ))
        })
        .await?;
    let model = |m: &Option<String>| m.clone().unwrap_or_else(|| "unknown model".to_owned());
    // The busiest models get their own colour.
    let series = Series::rank(
        daily
            .iter()
            .map(|u| (model(&u.model), u.chats * 1_000_000 + u.tokens)),
        "other models",
    );
    let points = |value: fn(&db::chat_logs::DailyUsage) -> i64| -> Vec<Point> {
        daily
            .iter()
            .map(|u| Point {
                day: u.day,
                series: model(&u.model),
                value: value(u),
            })
            .collect()
    };
    let span = format!("{DAYS} days");
    let charts = vec![
        chart::chart(
            "Chats per day",
            &span,
            &points(|u| u.chats),
            first_day,
            DAYS,
            &series,
            Unit::Count("chats"),
        ),
        chart::chart(
            "Tokens per day",
            &span,
            &points(|u| u.tokens),
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
