//! `/admin/usage`: requests, tokens and cost over a period of UTC days, by
//! user, by tag and by model, each table sortable and downloadable as CSV,
//! with the cost per day by model drawn as SVG. Read from the daily usage
//! rollups (`db::usage`), never the chat logs, so it answers alike however
//! many chats there are. The tables and the period selector serve the
//! user page and the dashboard too.

use std::collections::HashMap;

use actix_web::web;
use askama::Template;
use serde::Deserialize;
use time::Date;

use super::chart::{self, Chart, Legend, Point, Series, Unit};
use super::chatlogs::defuse;
use super::download::Chunks;
use super::error::AdminError;
use super::format::{thousands, usd};
use super::guard::Ctx;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult};
use crate::db::usage::{self as rollups, Dimension, UsageQuery, UsageReport, UsageTotals};
use crate::db::{users, Db, StoreError};
use crate::domain::day::{date_of, day_of, iso_day, parse_date, today};
use crate::domain::{InvalidInput, UserId};

/// The longest custom range, in days: a year, leap day included.
const MAX_DAYS: i64 = 366;
/// Rows a table shows; its CSV has them all.
const TABLE_ROWS: usize = 100;

/// The query string of the usage pages; every field may be empty.
#[derive(Debug, Default, Deserialize)]
pub struct UsageParams {
    #[serde(default)]
    period: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    sort: String,
}

/// The periods a page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preset {
    ThisMonth,
    LastMonth,
    Last30Days,
    Custom,
}

impl Preset {
    /// Those offered as links; a custom range has its form.
    const LINKS: [Preset; 3] = [Preset::ThisMonth, Preset::LastMonth, Preset::Last30Days];

    fn name(self) -> &'static str {
        match self {
            Preset::ThisMonth => "this-month",
            Preset::LastMonth => "last-month",
            Preset::Last30Days => "last-30-days",
            Preset::Custom => "custom",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Preset::ThisMonth => "This month",
            Preset::LastMonth => "Last month",
            Preset::Last30Days => "Last 30 days",
            Preset::Custom => "Custom range",
        }
    }

    fn parse(raw: &str) -> Result<Preset, InvalidInput> {
        [Preset::Custom]
            .into_iter()
            .chain(Preset::LINKS)
            .find(|p| p.name() == raw)
            .ok_or_else(|| {
                InvalidInput::new(
                    "period",
                    format!(
                        "`period` must be this-month, last-month, last-30-days or custom, got {raw:?}"
                    ),
                )
            })
    }

    /// Its first and last day, as of `today`; `None` for a custom range.
    fn days(self, today: Date) -> Option<(i64, i64)> {
        let (first_of_month, now) = month_to_date(today);
        match self {
            Preset::ThisMonth => Some((first_of_month, now)),
            Preset::LastMonth => {
                let end = first_of_month - 1;
                let start = date_of(end).map_or(end, |d| day_of(d.replace_day(1).unwrap_or(d)));
                Some((start, end))
            }
            Preset::Last30Days => Some((now - 29, now)),
            Preset::Custom => None,
        }
    }
}

/// The first of `today`'s month, and `today`.
fn month_to_date(today: Date) -> (i64, i64) {
    (day_of(today.replace_day(1).unwrap_or(today)), day_of(today))
}

/// What a table is sorted by, largest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sort {
    Cost,
    Tokens,
    Requests,
}

impl Sort {
    fn name(self) -> &'static str {
        match self {
            Sort::Cost => "cost",
            Sort::Tokens => "tokens",
            Sort::Requests => "requests",
        }
    }

    fn parse(raw: &str) -> Result<Sort, InvalidInput> {
        [Sort::Cost, Sort::Tokens, Sort::Requests]
            .into_iter()
            .find(|s| s.name() == raw)
            .ok_or_else(|| {
                InvalidInput::new(
                    "sort",
                    format!("`sort` must be cost, tokens or requests, got {raw:?}"),
                )
            })
    }

    /// The figures compared, in turn.
    fn key(self, t: &UsageTotals) -> [i64; 3] {
        let (cost, tokens, requests) = (t.cost.0, t.tokens(), t.requests);
        match self {
            Sort::Cost => [cost, tokens, requests],
            Sort::Tokens => [tokens, cost, requests],
            Sort::Requests => [requests, cost, tokens],
        }
    }
}

/// The days a page covers and how its tables are sorted, read from its
/// query string.
#[derive(Debug, Clone, Copy)]
pub(super) struct View {
    preset: Preset,
    /// Inclusive, in days since the Unix epoch (UTC).
    start: i64,
    end: i64,
    sort: Sort,
}

fn given(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|s| !s.is_empty())
}

fn date_param(name: &str, raw: Option<&str>) -> Result<i64, InvalidInput> {
    let raw = raw.ok_or_else(|| {
        InvalidInput::new(
            name,
            format!("a custom range needs `{name}`, a date like 2024-08-14"),
        )
    })?;
    parse_date(raw).map(day_of).ok_or_else(|| {
        InvalidInput::new(
            name,
            format!("`{name}` must be a date like 2024-08-14, got {raw:?}"),
        )
    })
}

impl View {
    /// This month, by cost.
    pub(super) fn this_month() -> View {
        let (start, end) = month_to_date(today());
        View {
            preset: Preset::ThisMonth,
            start,
            end,
            sort: Sort::Cost,
        }
    }

    /// The view `params` ask for, as of today.
    pub(super) fn asked(params: &UsageParams) -> Result<View, InvalidInput> {
        View::read(params, today())
    }

    /// Without a period, this month; with a start or an end, a custom range.
    fn read(params: &UsageParams, today: Date) -> Result<View, InvalidInput> {
        let sort = given(&params.sort).map_or(Ok(Sort::Cost), Sort::parse)?;
        let (start, end) = (given(&params.start), given(&params.end));
        let preset = match given(&params.period) {
            Some(name) => Preset::parse(name)?,
            None if start.is_some() || end.is_some() => Preset::Custom,
            None => Preset::ThisMonth,
        };
        let (start, end) = match preset.days(today) {
            Some(days) => days,
            None => (date_param("start", start)?, date_param("end", end)?),
        };
        if end < start {
            return Err(InvalidInput::new("end", "`end` must not be before `start`"));
        }
        if end - start >= MAX_DAYS {
            return Err(InvalidInput::new(
                "end",
                format!("a range may span at most {MAX_DAYS} days"),
            ));
        }
        Ok(View {
            preset,
            start,
            end,
            sort,
        })
    }

    fn days(&self) -> i64 {
        self.end - self.start + 1
    }

    /// The query string of this period sorted by `sort`.
    fn query_sorted(&self, sort: Sort) -> String {
        let mut pairs = vec![("period", self.preset.name().to_owned())];
        if self.preset == Preset::Custom {
            pairs.push(("start", iso_day(self.start)));
            pairs.push(("end", iso_day(self.end)));
        }
        pairs.push(("sort", sort.name().to_owned()));
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// The query string of this view, for links that keep it.
    pub(super) fn query(&self) -> String {
        self.query_sorted(self.sort)
    }

    /// The rollups of these days, for one user or everyone.
    fn usage_query(&self, user_email: Option<String>) -> UsageQuery {
        UsageQuery {
            start_day: self.start,
            end_day: self.end,
            group_by: Vec::new(),
            user_email,
            tag: None,
            model: None,
        }
    }

    /// `2024-08-01 to 2024-08-14`, or the one day.
    fn dates(&self) -> String {
        if self.start == self.end {
            iso_day(self.start)
        } else {
            format!("{} to {}", iso_day(self.start), iso_day(self.end))
        }
    }

    fn span(&self) -> String {
        match self.days() {
            1 => "1 day".to_owned(),
            n => format!("{n} days"),
        }
    }

    /// The period's links and custom form, leading to `page`.
    pub(super) fn selector(&self, page: String) -> PeriodSelector {
        let links = Preset::LINKS
            .into_iter()
            .map(|preset| PresetLink {
                label: preset.label(),
                href: format!("{page}?{}", View { preset, ..*self }.query()),
                active: preset == self.preset,
            })
            .collect();
        PeriodSelector {
            links,
            action: page,
            start: iso_day(self.start),
            end: iso_day(self.end),
            sort: self.sort.name(),
            custom: self.preset == Preset::Custom,
            dates: self.dates(),
            span: self.span(),
        }
    }
}

pub struct PresetLink {
    pub(super) label: &'static str,
    pub(super) href: String,
    pub(super) active: bool,
}

/// `_period.html`: the presets as links, a custom range as a GET form.
pub struct PeriodSelector {
    pub(super) links: Vec<PresetLink>,
    /// The page the form leads to.
    pub(super) action: String,
    pub(super) start: String,
    pub(super) end: String,
    pub(super) sort: &'static str,
    pub(super) custom: bool,
    pub(super) dates: String,
    pub(super) span: String,
}

/// The columns a table may show, each a figure of `UsageTotals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    Requests,
    Errors,
    Input,
    Output,
    CacheRead,
    CacheWrite,
    Tokens,
    Cost,
    /// Requests a policy refused: they are not in `Requests`.
    Refused,
}

impl Column {
    /// Every figure, as the usage page shows it.
    pub(super) const ALL: [Column; 8] = [
        Column::Requests,
        Column::Errors,
        Column::Input,
        Column::Output,
        Column::CacheRead,
        Column::CacheWrite,
        Column::Tokens,
        Column::Cost,
    ];
    /// The figures that sort, for a glance.
    pub(super) const BRIEF: [Column; 3] = [Column::Requests, Column::Tokens, Column::Cost];

    fn label(self) -> &'static str {
        match self {
            Column::Requests => "Requests",
            Column::Errors => "Errors",
            Column::Input => "Input tokens",
            Column::Output => "Output tokens",
            Column::CacheRead => "Cache read",
            Column::CacheWrite => "Cache write",
            Column::Tokens => "Tokens",
            Column::Cost => "Cost",
            Column::Refused => "Refused",
        }
    }

    fn sort(self) -> Option<Sort> {
        match self {
            Column::Requests => Some(Sort::Requests),
            Column::Tokens => Some(Sort::Tokens),
            Column::Cost => Some(Sort::Cost),
            _ => None,
        }
    }

    fn cell(self, t: &UsageTotals) -> Cell {
        let count = |n: i64| Cell {
            text: thousands(n),
            muted: false,
            note: None,
        };
        match self {
            Column::Requests => count(t.requests),
            Column::Errors => count(t.errors),
            Column::Input => count(t.input_tokens),
            Column::Output => count(t.output_tokens),
            Column::CacheRead => count(t.cache_read_tokens),
            Column::CacheWrite => count(t.cache_write_tokens),
            Column::Tokens => count(t.tokens()),
            Column::Cost => cost_cell(t),
            Column::Refused => count(t.refused),
        }
    }
}

/// One figure as shown: its text, and a note beside it.
pub struct Cell {
    pub(super) text: String,
    pub(super) muted: bool,
    pub(super) note: Option<String>,
}

/// What requests cost, or "no price" when none of them had one; requests
/// of models with no price cost nothing, and say so.
pub(super) fn cost_cell(t: &UsageTotals) -> Cell {
    if t.requests > 0 && t.unpriced_requests == t.requests {
        return Cell {
            text: "no price".to_owned(),
            muted: true,
            note: None,
        };
    }
    Cell {
        text: usd(t.cost),
        muted: false,
        note: (t.unpriced_requests > 0)
            .then(|| format!("{} with no price", thousands(t.unpriced_requests))),
    }
}

pub struct Header {
    pub(super) label: &'static str,
    /// The link that sorts by this column, when it sorts.
    pub(super) href: Option<String>,
    pub(super) sorted: bool,
}

pub struct TableRow {
    pub(super) label: String,
    pub(super) href: Option<String>,
    /// A row that stands for none (no user, no tag, unknown model).
    pub(super) muted: bool,
    pub(super) badge: Option<&'static str>,
    pub(super) cells: Vec<Cell>,
}

/// A link beside a table's heading: its CSV, or more of it.
pub struct TableLink {
    pub(super) href: String,
    pub(super) label: &'static str,
    pub(super) download: bool,
}

/// `_usage_table.html`: one breakdown of usage, with its total.
pub struct UsageTable {
    pub(super) id: &'static str,
    pub(super) heading: String,
    pub(super) caption: String,
    pub(super) key_header: &'static str,
    pub(super) headers: Vec<Header>,
    pub(super) rows: Vec<TableRow>,
    /// The total row (none when empty), and what it counts when that is
    /// not the rows' sum.
    pub(super) total: Vec<Cell>,
    pub(super) total_note: Option<&'static str>,
    pub(super) link: Option<TableLink>,
    /// Rows left out past `TABLE_ROWS`.
    pub(super) more: usize,
}

/// What a table breaks usage down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Breakdown {
    Users,
    Tags,
    Models,
}

/// How a breakdown is named, in the page, its CSV and its file.
struct BreakdownNames {
    dimension: Dimension,
    heading: &'static str,
    key_header: &'static str,
    /// The key's column in the CSV, named as the usage API names it.
    csv_header: &'static str,
    /// `by-user`: the table's id and its file's name.
    slug: &'static str,
    /// What a row without a key stands for.
    none_label: &'static str,
}

impl Breakdown {
    fn names(self) -> &'static BreakdownNames {
        match self {
            Breakdown::Users => &BreakdownNames {
                dimension: Dimension::User,
                heading: "By user",
                key_header: "User",
                csv_header: "userEmail",
                slug: "by-user",
                none_label: "No user",
            },
            Breakdown::Tags => &BreakdownNames {
                dimension: Dimension::Tag,
                heading: "By tag",
                key_header: "Tag",
                csv_header: "tag",
                slug: "by-tag",
                none_label: "No tag",
            },
            Breakdown::Models => &BreakdownNames {
                dimension: Dimension::Model,
                heading: "By model",
                key_header: "Model",
                csv_header: "model",
                slug: "by-model",
                none_label: "Unknown model",
            },
        }
    }

    fn csv_url(self, urls: &Urls) -> String {
        match self {
            Breakdown::Users => urls.usage_users_csv(),
            Breakdown::Tags => urls.usage_tags_csv(),
            Breakdown::Models => urls.usage_models_csv(),
        }
    }

    /// The report's rows as entries: the key (`None`: no user, no tag, an
    /// unknown model) and the totals, sorted.
    fn entries(self, report: &UsageReport, sort: Sort) -> Vec<Entry> {
        let mut entries: Vec<Entry> = report
            .rows
            .iter()
            .map(|row| Entry {
                key: match self {
                    Breakdown::Users => row.key.user_email.clone().flatten(),
                    Breakdown::Tags => row.key.tag.clone().flatten(),
                    Breakdown::Models => row.key.model.clone().filter(|m| !m.is_empty()),
                },
                totals: row.totals,
            })
            .collect();
        entries.sort_by(|a, b| {
            sort.key(&b.totals)
                .cmp(&sort.key(&a.totals))
                .then_with(|| a.key.cmp(&b.key))
        });
        entries
    }
}

/// One row of a breakdown.
pub(super) struct Entry {
    key: Option<String>,
    totals: UsageTotals,
}

/// Where a user's row leads: their page, when they are still a user.
pub(super) struct UserLinks<'a> {
    pub urls: &'a Urls,
    pub ids: HashMap<String, UserId>,
    /// The query string the user page keeps (the period).
    pub query: String,
}

/// A table of `entries` (already sorted), showing `columns`, with sort
/// links to `sort_page` (a path) when it sorts.
pub(super) struct TableSpec<'a> {
    pub breakdown: Breakdown,
    pub heading: String,
    pub caption: String,
    pub columns: &'a [Column],
    pub view: &'a View,
    pub sort_page: Option<String>,
    pub users: Option<&'a UserLinks<'a>>,
    pub total: Option<UsageTotals>,
    pub link: Option<TableLink>,
}

impl TableSpec<'_> {
    fn build(self, entries: &[Entry]) -> UsageTable {
        let b = self.breakdown;
        let headers = self
            .columns
            .iter()
            .map(|c| Header {
                label: c.label(),
                href: c.sort().zip(self.sort_page.as_ref()).map(|(sort, page)| {
                    format!("{page}?{}#{}", self.view.query_sorted(sort), b.names().slug)
                }),
                sorted: c.sort() == Some(self.view.sort),
            })
            .collect();
        let row = |entry: &Entry| {
            // Only a user's row leads to a page, or was a user.
            let users = self.users.filter(|_| b == Breakdown::Users);
            let (href, badge) = match (&entry.key, users) {
                (Some(email), Some(links)) => match links.ids.get(email) {
                    Some(id) => (
                        Some(format!("{}?{}", links.urls.user(id), links.query)),
                        None,
                    ),
                    None => (None, Some("deleted")),
                },
                _ => (None, None),
            };
            TableRow {
                label: entry
                    .key
                    .clone()
                    .unwrap_or_else(|| b.names().none_label.to_owned()),
                href,
                muted: entry.key.is_none(),
                badge,
                cells: self.columns.iter().map(|c| c.cell(&entry.totals)).collect(),
            }
        };
        UsageTable {
            id: b.names().slug,
            heading: self.heading,
            caption: self.caption,
            key_header: b.names().key_header,
            headers,
            rows: entries.iter().take(TABLE_ROWS).map(row).collect(),
            total: self
                .total
                .map(|t| self.columns.iter().map(|c| c.cell(&t)).collect())
                .unwrap_or_default(),
            total_note: (b == Breakdown::Tags).then_some(
                "A user with several tags counts under each; the total counts each request once.",
            ),
            link: self.link,
            more: entries.len().saturating_sub(TABLE_ROWS),
        }
    }
}

/// The current users among the first rows of a user breakdown, by email.
fn user_ids(
    conn: &rusqlite::Connection,
    entries: &[Entry],
) -> Result<HashMap<String, UserId>, StoreError> {
    let emails = entries.iter().take(TABLE_ROWS);
    users::ids_by_email(conn, emails.filter_map(|e| e.key.as_deref()))
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage<'a> {
    urls: &'a Urls,
    period: PeriodSelector,
    empty: bool,
    cost: Cell,
    requests: String,
    tokens: String,
    errors: String,
    /// None when nothing had a price.
    chart: Option<Chart>,
    legend: Vec<Legend>,
    tables: Vec<UsageTable>,
}

/// The page's four reports, read in one pass, with the ids of the users
/// its first rows name.
struct Read {
    total: UsageTotals,
    breakdowns: [(Breakdown, Vec<Entry>); 3],
    daily: UsageReport,
    ids: HashMap<String, UserId>,
}

pub async fn show(ctx: Ctx, db: web::Data<Db>, params: web::Query<UsageParams>) -> AdminResult {
    let view = View::asked(&params)?;
    let read = db
        .read(move |conn| {
            let [by_user, by_tag, by_model, daily] = rollups::reports(
                conn,
                &view.usage_query(None),
                [
                    &[Dimension::User],
                    &[Dimension::Tag],
                    &[Dimension::Model],
                    &[Dimension::Day, Dimension::Model],
                ],
            )?;
            let breakdowns = [
                (Breakdown::Users, by_user),
                (Breakdown::Tags, by_tag),
                (Breakdown::Models, by_model),
            ]
            .map(|(b, report)| (b, b.entries(&report, view.sort)));
            let ids = user_ids(conn, &breakdowns[0].1)?;
            Ok::<_, StoreError>(Read {
                total: daily.total,
                breakdowns,
                daily,
                ids,
            })
        })
        .await?;
    let urls = &ctx.urls;
    let links = UserLinks {
        urls,
        ids: read.ids,
        query: view.query(),
    };
    let tables = read
        .breakdowns
        .iter()
        .map(|(b, entries)| {
            // The by-user table adds the requests a policy refused each
            // user, after the other figures.
            let refused = (*b == Breakdown::Users).then_some(Column::Refused);
            let columns: Vec<Column> = Column::ALL.into_iter().chain(refused).collect();
            TableSpec {
                breakdown: *b,
                heading: b.names().heading.to_owned(),
                caption: format!(
                    "Usage {} from {}",
                    b.names().heading.to_lowercase(),
                    view.dates()
                ),
                columns: &columns,
                view: &view,
                sort_page: Some(urls.usage()),
                users: Some(&links),
                total: Some(read.total),
                link: Some(TableLink {
                    href: format!("{}?{}", b.csv_url(urls), view.query()),
                    label: "Download CSV",
                    download: true,
                }),
            }
            .build(entries)
        })
        .collect();
    let (chart, legend) = cost_chart(&read.daily, &view);
    let t = read.total;
    AdminResponse::page(
        "Usage",
        &UsagePage {
            urls,
            period: view.selector(urls.usage()),
            empty: t.requests == 0,
            cost: cost_cell(&t),
            requests: thousands(t.requests),
            tokens: thousands(t.tokens()),
            errors: thousands(t.errors),
            chart: (!chart.bars.is_empty()).then_some(chart),
            legend,
            tables,
        },
    )
}

/// The cost of each day, stacked by model.
fn cost_chart(daily: &UsageReport, view: &View) -> (Chart, Vec<Legend>) {
    let points: Vec<Point> = daily
        .rows
        .iter()
        .map(|row| Point {
            day: row.key.day.unwrap_or_default(),
            series: row
                .key
                .model
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| Breakdown::Models.names().none_label.to_lowercase()),
            value: row.totals.cost.0,
        })
        .collect();
    let series = Series::rank(
        points.iter().map(|p| (p.series.clone(), p.value)),
        "other models",
    );
    let chart = chart::chart(
        "Cost per day",
        &view.span(),
        &points,
        view.start,
        view.days(),
        &series,
        Unit::Usd,
    );
    (chart, series.legend())
}

/// One breakdown of the period as a CSV file, every row, sorted as the
/// page sorts it, with the figures the table shows: cost as an exact
/// decimal number of USD.
async fn csv(db: &Db, params: &UsageParams, breakdown: Breakdown) -> AdminResult {
    let view = View::asked(params)?;
    let report = db
        .read(move |conn| {
            let query = UsageQuery {
                group_by: vec![breakdown.names().dimension],
                ..view.usage_query(None)
            };
            rollups::report(conn, &query)
        })
        .await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| AdminError::internal(format!("csv: {e}"));
    let counts = UsageTotals::default().counts().map(|(name, _)| name);
    let header = [breakdown.names().csv_header]
        .into_iter()
        .chain(counts)
        .chain(["totalTokens", "costUsd", "unpricedRequests"]);
    out.write_record(header).map_err(csv_err)?;
    for Entry { key, totals: t } in breakdown.entries(&report, view.sort) {
        let mut record = vec![defuse(key.as_deref().unwrap_or(""))];
        record.extend(t.counts().iter().map(|(_, n)| n.to_string()));
        record.push(t.tokens().to_string());
        record.push(t.cost.decimal_usd());
        record.push(t.unpriced_requests.to_string());
        out.write_record(record).map_err(csv_err)?;
    }
    let body = out
        .into_inner()
        .map_err(|e| AdminError::internal(format!("csv: {e}")))?;
    Ok(AdminResponse::Download {
        content_type: "text/csv; charset=utf-8",
        file_name: format!(
            "mindgate-usage-{}-{}-to-{}.csv",
            breakdown.names().slug,
            iso_day(view.start),
            iso_day(view.end)
        ),
        chunks: Chunks::whole(body),
    })
}

pub async fn users_csv(db: web::Data<Db>, params: web::Query<UsageParams>) -> AdminResult {
    csv(&db, &params, Breakdown::Users).await
}

pub async fn tags_csv(db: web::Data<Db>, params: web::Query<UsageParams>) -> AdminResult {
    csv(&db, &params, Breakdown::Tags).await
}

pub async fn models_csv(db: web::Data<Db>, params: web::Query<UsageParams>) -> AdminResult {
    csv(&db, &params, Breakdown::Models).await
}

/// One user's usage by model over `view`, as their page shows it.
pub(super) fn user_table(
    conn: &rusqlite::Connection,
    email: &str,
    view: &View,
    page: String,
) -> Result<Option<UsageTable>, StoreError> {
    let query = UsageQuery {
        group_by: vec![Dimension::Model],
        ..view.usage_query(Some(email.to_owned()))
    };
    let report = rollups::report(conn, &query)?;
    if report.total.requests == 0 {
        return Ok(None);
    }
    let entries = Breakdown::Models.entries(&report, view.sort);
    Ok(Some(
        TableSpec {
            breakdown: Breakdown::Models,
            heading: Breakdown::Models.names().heading.to_owned(),
            caption: format!("Usage of {email} by model from {}", view.dates()),
            columns: &Column::ALL,
            view,
            sort_page: Some(page),
            users: None,
            total: Some(report.total),
            link: None,
        }
        .build(&entries),
    ))
}

/// This month's totals and the `n` users who cost the most in it, for the
/// dashboard.
pub(super) fn month_top_users(
    conn: &rusqlite::Connection,
    urls: &Urls,
    n: usize,
) -> Result<(UsageTotals, UsageTable), StoreError> {
    let view = View::this_month();
    let query = UsageQuery {
        group_by: vec![Dimension::User],
        ..view.usage_query(None)
    };
    let report = rollups::report(conn, &query)?;
    let mut entries = Breakdown::Users.entries(&report, Sort::Cost);
    entries.retain(|e| e.key.is_some());
    entries.truncate(n);
    let links = UserLinks {
        urls,
        ids: user_ids(conn, &entries)?,
        query: view.query(),
    };
    let table = TableSpec {
        breakdown: Breakdown::Users,
        heading: "Top users this month".to_owned(),
        caption: format!(
            "The {n} users who cost the most this month, from {}",
            view.dates()
        ),
        columns: &Column::BRIEF,
        view: &view,
        sort_page: None,
        users: Some(&links),
        total: None,
        link: Some(TableLink {
            href: format!("{}?{}", urls.usage(), view.query()),
            label: "All usage",
            download: false,
        }),
    }
    .build(&entries);
    Ok((report.total, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(query: &str) -> Result<View, InvalidInput> {
        let params: UsageParams = serde_urlencoded::from_str(query).unwrap();
        // 2024-03-15: last month is a leap February.
        View::read(&params, parse_date("2024-03-15").unwrap())
    }

    fn dates(query: &str) -> (String, String) {
        let v = view(query).unwrap();
        (iso_day(v.start), iso_day(v.end))
    }

    #[test]
    fn presets_cover_their_days_up_to_today() {
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(dates(""), pair("2024-03-01", "2024-03-15"));
        assert_eq!(dates("period=this-month"), pair("2024-03-01", "2024-03-15"));
        assert_eq!(dates("period=last-month"), pair("2024-02-01", "2024-02-29"));
        assert_eq!(
            dates("period=last-30-days"),
            pair("2024-02-15", "2024-03-15")
        );
        assert_eq!(
            dates("start=2023-12-25&end=2024-01-02"),
            pair("2023-12-25", "2024-01-02")
        );
        assert_eq!(
            dates("period=custom&start=2024-01-01&end=2024-01-01"),
            pair("2024-01-01", "2024-01-01")
        );
        // On January 1st, last month is December.
        let params = UsageParams {
            period: "last-month".into(),
            ..UsageParams::default()
        };
        let v = View::read(&params, parse_date("2025-01-01").unwrap()).unwrap();
        assert_eq!(
            (iso_day(v.start), iso_day(v.end)),
            pair("2024-12-01", "2024-12-31")
        );
    }

    #[test]
    fn links_keep_the_period_and_the_sort() {
        let v = view("start=2024-01-01&end=2024-01-31&sort=tokens").unwrap();
        assert_eq!(
            v.query(),
            "period=custom&start=2024-01-01&end=2024-01-31&sort=tokens"
        );
        assert_eq!(
            v.query_sorted(Sort::Requests),
            "period=custom&start=2024-01-01&end=2024-01-31&sort=requests"
        );
        let selector = v.selector("/admin/usage".into());
        assert_eq!(
            selector.links[1].href,
            "/admin/usage?period=last-month&sort=tokens"
        );
        assert!(selector.custom && !selector.links.iter().any(|l| l.active));
    }

    #[test]
    fn bad_periods_and_sorts_name_their_parameter() {
        for (query, field) in [
            ("period=yesterday", "period"),
            ("sort=price", "sort"),
            ("start=2024-02-30&end=2024-03-01", "start"),
            ("start=yesterday&end=2024-03-01", "start"),
            ("start=2024-03-01", "end"),
            ("period=custom", "start"),
            ("start=2024-03-02&end=2024-03-01", "end"),
            ("start=2022-01-01&end=2024-01-01", "end"),
        ] {
            assert_eq!(view(query).unwrap_err().field, field, "{query}");
        }
        assert!(view("start=2023-03-16&end=2024-03-15").is_ok(), "366 days");
    }

    #[test]
    fn costs_show_no_price_for_requests_that_had_none() {
        let t = |requests, unpriced_requests, cost| UsageTotals {
            requests,
            unpriced_requests,
            cost: crate::domain::Micros(cost),
            ..UsageTotals::default()
        };
        let all = cost_cell(&t(3, 3, 0));
        assert_eq!((all.text.as_str(), all.muted), ("no price", true));
        let some = cost_cell(&t(3, 1, 12_300));
        assert_eq!(some.text, "$0.0123");
        assert_eq!(some.note.as_deref(), Some("1 with no price"));
        assert_eq!(cost_cell(&t(0, 0, 0)).text, "$0.00");
    }
}
