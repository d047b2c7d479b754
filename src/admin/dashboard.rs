//! `/admin`: counts, and 30 days of usage drawn as SVG on the server.

use std::collections::HashMap;

use actix_web::web;
use askama::Template;

use super::format::{self, DAY_MS};
use super::guard::Ctx;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult};
use crate::db::{self, chat_logs::DailyUsage, Db, StoreError};
use crate::domain::Timestamp;

const DAYS: i64 = 30;
/// Models drawn in their own colour; the rest are "other".
const SERIES: usize = 5;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

pub struct Bar {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    series: usize,
    tip: String,
}

pub struct Tick {
    pos: f64,
    label: String,
}

/// One stacked bar chart, laid out in SVG user units.
pub struct Chart {
    title: &'static str,
    bars: Vec<Bar>,
    y_ticks: Vec<Tick>,
    x_ticks: Vec<Tick>,
    total: String,
}

pub struct Legend {
    series: usize,
    label: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    urls: &'a Urls,
    users: i64,
    characters: i64,
    chats_today: i64,
    tokens_week: String,
    charts: Vec<Chart>,
    legend: Vec<Legend>,
    width: f64,
    height: f64,
    plot_left: f64,
    plot_right: f64,
    empty: bool,
}

/// 1, 2 or 5 times a power of ten, at least `n`.
fn nice_ceiling(n: i64) -> i64 {
    let mut scale = 1;
    loop {
        for step in [1, 2, 5] {
            if step * scale >= n {
                return step * scale;
            }
        }
        scale *= 10;
    }
}

fn chart(
    title: &'static str,
    usage: &[DailyUsage],
    first_day: i64,
    series_of: &dyn Fn(&Option<String>) -> (usize, String),
    value: fn(&DailyUsage) -> i64,
    unit: &str,
) -> Chart {
    let slot = (WIDTH - LEFT - RIGHT) / DAYS as f64;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut stacks: HashMap<i64, i64> = HashMap::new();
    for u in usage {
        *stacks.entry(u.day).or_default() += value(u);
    }
    let max = nice_ceiling(stacks.values().copied().max().unwrap_or(0).max(1));
    let scale = plot_h / max as f64;
    let mut heights: HashMap<i64, f64> = HashMap::new();
    let mut bars = Vec::new();
    for u in usage {
        let v = value(u);
        if v == 0 {
            continue;
        }
        let (series, label) = series_of(&u.model);
        let below = heights.entry(u.day).or_default();
        let h = v as f64 * scale;
        bars.push(Bar {
            x: LEFT + (u.day - first_day) as f64 * slot + slot * 0.15,
            y: TOP + plot_h - *below - h,
            w: slot * 0.7,
            h,
            series,
            tip: format!("{} · {label}: {v} {unit}", format::iso_day(u.day)),
        });
        *below += h;
    }
    // The middle line only where it falls on a whole number.
    let middle = (max % 2 == 0).then_some(max / 2);
    let y_ticks = [Some(0), middle, Some(max)]
        .into_iter()
        .flatten()
        .map(|v| Tick {
            pos: TOP + plot_h - v as f64 * scale,
            label: format::compact(v),
        })
        .collect();
    let x_ticks = (0..DAYS)
        .filter(|d| d % 5 == 4)
        .map(|d| Tick {
            pos: LEFT + d as f64 * slot + slot / 2.0,
            label: format::month_day(first_day + d),
        })
        .collect();
    Chart {
        title,
        bars,
        y_ticks,
        x_ticks,
        total: format::compact(stacks.values().sum()),
    }
}

pub async fn show(ctx: Ctx, db: web::Data<Db>) -> AdminResult {
    let now = Timestamp::now().millis();
    let today = now.div_euclid(DAY_MS);
    let first_day = today - (DAYS - 1);
    let (users, characters, (chats_today, _), (_, tokens_week), usage) = db
        .read(move |conn| {
            Ok::<_, StoreError>((
                db::users::count(conn)?,
                db::characters::count(conn)?,
                db::chat_logs::totals_since(conn, today * DAY_MS)?,
                db::chat_logs::totals_since(conn, now - 7 * DAY_MS)?,
                db::chat_logs::daily_usage(conn, first_day * DAY_MS)?,
            ))
        })
        .await?;
    // The busiest models get their own colour.
    let mut per_model: HashMap<Option<String>, i64> = HashMap::new();
    for u in &usage {
        *per_model.entry(u.model.clone()).or_default() += u.chats * 1_000_000 + u.tokens;
    }
    let mut ranked: Vec<(Option<String>, i64)> = per_model.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let label = |m: &Option<String>| m.clone().unwrap_or_else(|| "unknown model".to_owned());
    let mut legend: Vec<Legend> = ranked
        .iter()
        .take(SERIES)
        .enumerate()
        .map(|(series, (m, _))| Legend {
            series,
            label: label(m),
        })
        .collect();
    if ranked.len() > SERIES {
        legend.push(Legend {
            series: SERIES,
            label: "other models".to_owned(),
        });
    }
    let series_of = |m: &Option<String>| match ranked.iter().position(|(r, _)| r == m) {
        Some(i) if i < SERIES => (i, label(m)),
        _ => (SERIES, label(m)),
    };
    let charts = vec![
        chart(
            "Chats per day",
            &usage,
            first_day,
            &series_of,
            |u| u.chats,
            "chats",
        ),
        chart(
            "Tokens per day",
            &usage,
            first_day,
            &series_of,
            |u| u.tokens,
            "tokens",
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
            empty: usage.is_empty(),
            charts,
            legend,
            width: WIDTH,
            height: HEIGHT,
            plot_left: LEFT,
            plot_right: WIDTH - RIGHT,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::nice_ceiling;

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(101), 200);
        assert_eq!(nice_ceiling(4_900), 5_000);
    }
}
