//! The `usage_rollups` table: requests, errors, tokens and cost per UTC
//! day, user, API key, model and provider. Chat logs are added to it in the
//! transaction that records them, and it outlives them: deleting chat logs
//! or a user leaves its totals alone (a user is kept as the id and email
//! they had). The usage report reads it, never the chat logs.

use std::borrow::Borrow;
use std::collections::HashMap;

use rusqlite::{params, Connection, Transaction};

use super::chat_logs::{self, ChatStatus, NewChatLog};
use super::StoreError;
use crate::domain::Micros;

const DAY_MS: i64 = 86_400_000;

/// Records chat logs, each one completion, and adds them to the rollups,
/// in the caller's transaction.
pub fn record_chats<T: Borrow<NewChatLog>>(tx: &Transaction, rows: &[T]) -> Result<(), StoreError> {
    for row in rows {
        chat_logs::upsert(tx, row.borrow())?;
    }
    add(tx, rows)
}

/// What one rollup row adds up, and what a report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    pub requests: i64,
    /// Requests that ended in an error (cancelled ones are not errors).
    pub errors: i64,
    /// Input tokens neither read from nor written to the prompt cache.
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost: Micros,
    /// Requests whose model had no price: they cost nothing.
    pub unpriced_requests: i64,
}

impl UsageTotals {
    fn add(&mut self, other: &UsageTotals) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cost.0 += other.cost.0;
        self.unpriced_requests += other.unpriced_requests;
    }

    fn of(log: &NewChatLog) -> UsageTotals {
        UsageTotals {
            requests: 1,
            errors: i64::from(log.status == ChatStatus::Error),
            input_tokens: log.prompt_tokens.unwrap_or(0),
            output_tokens: log.completion_tokens.unwrap_or(0),
            cache_read_tokens: log.cache_read_tokens,
            cache_write_tokens: log.cache_write_tokens,
            cost: log.cost.unwrap_or_default(),
            unpriced_requests: i64::from(log.cost.is_none()),
        }
    }
}

/// Adds a batch of chat logs to the rollups: summed in memory first, so a
/// batch costs one statement per (day, user, key, model, provider), not
/// per chat.
fn add<T: Borrow<NewChatLog>>(tx: &Transaction, rows: &[T]) -> Result<(), StoreError> {
    let mut sums: HashMap<(i64, i64, i64, &str, &str), UsageTotals> = HashMap::new();
    for row in rows {
        let log = row.borrow();
        let key = (
            log.recorded_at.millis().div_euclid(DAY_MS),
            log.user_id.map_or(0, |id| id.0),
            log.api_key_id.map_or(0, |id| id.0),
            log.model.as_deref().unwrap_or(""),
            log.provider.as_deref().unwrap_or(""),
        );
        sums.entry(key).or_default().add(&UsageTotals::of(log));
    }
    // The user as they are now (the email kept with the totals), or none
    // when they were deleted since the chat began, as in the chat log.
    let mut stmt = tx.prepare_cached(
        "INSERT INTO usage_rollups (day, user_id, user_email, api_key_id, model, provider,
             requests, errors, input_tokens, output_tokens, cache_read_tokens,
             cache_write_tokens, cost_micros, unpriced_requests)
         SELECT ?1, IFNULL(u.id, 0), IFNULL(u.email, ''), ?3, ?4, ?5,
                ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
         FROM (SELECT ?2 AS id) AS asked LEFT JOIN users AS u ON u.id = asked.id
         WHERE true
         ON CONFLICT (day, user_id, api_key_id, model, provider) DO UPDATE SET
             requests = requests + excluded.requests,
             errors = errors + excluded.errors,
             input_tokens = input_tokens + excluded.input_tokens,
             output_tokens = output_tokens + excluded.output_tokens,
             cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
             cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
             cost_micros = cost_micros + excluded.cost_micros,
             unpriced_requests = unpriced_requests + excluded.unpriced_requests",
    )?;
    for ((day, user, key, model, provider), t) in sums {
        stmt.execute(params![
            day,
            user,
            key,
            model,
            provider,
            t.requests,
            t.errors,
            t.input_tokens,
            t.output_tokens,
            t.cache_read_tokens,
            t.cache_write_tokens,
            t.cost,
            t.unpriced_requests,
        ])?;
    }
    Ok(())
}

/// What a report's rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// The UTC day.
    Day,
    /// The user, by email.
    User,
    /// Each of the user's tags, as they are now: a user with several counts
    /// under each.
    Tag,
    Model,
    ApiKey,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Day,
        Dimension::User,
        Dimension::Tag,
        Dimension::Model,
        Dimension::ApiKey,
    ];

    /// Its name in `groupBy`.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Day => "day",
            Dimension::User => "user",
            Dimension::Tag => "tag",
            Dimension::Model => "model",
            Dimension::ApiKey => "apiKey",
        }
    }

    pub fn parse(name: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The column it reads, with none (0, '') as NULL.
    fn column(self) -> &'static str {
        match self {
            Dimension::Day => "r.day",
            Dimension::User => "NULLIF(r.user_email, '')",
            Dimension::Tag => "t.tag",
            Dimension::Model => "r.model",
            Dimension::ApiKey => "NULLIF(r.api_key_id, 0)",
        }
    }
}

/// What a usage report covers and how its rows are grouped.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    /// Inclusive bounds, in days since the Unix epoch (UTC); a range that
    /// ends before it starts holds nothing.
    pub start_day: i64,
    pub end_day: i64,
    /// Grouped by these, in this order; none gives one row, the total.
    pub group_by: Vec<Dimension>,
    /// Only this user's usage (by email, lower case as stored).
    pub user_email: Option<String>,
    /// Only the usage of the users who have this tag now.
    pub tag: Option<String>,
    pub model: Option<String>,
}

impl UsageQuery {
    fn groups(&self, dimension: Dimension) -> bool {
        self.group_by.contains(&dimension)
    }
}

/// One group's key: the fields of the dimensions grouped by are set (the
/// inner `None` where a chat had no user, tag or key); the others are
/// `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageKey {
    /// Days since the Unix epoch (UTC).
    pub day: Option<i64>,
    pub user_email: Option<Option<String>>,
    pub tag: Option<Option<String>>,
    pub model: Option<String>,
    pub api_key_id: Option<Option<i64>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub key: UsageKey,
    pub totals: UsageTotals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// Ordered by the keys, in the order of `Dimension::ALL`.
    pub rows: Vec<UsageRow>,
    /// Each request once, whatever the grouping (a user's tags repeat it
    /// in the rows).
    pub total: UsageTotals,
}

const SUMS: &str = "SUM(r.requests), SUM(r.errors), SUM(r.input_tokens), SUM(r.output_tokens),
    SUM(r.cache_read_tokens), SUM(r.cache_write_tokens), SUM(r.cost_micros),
    SUM(r.unpriced_requests)";

/// `?1..?2` days, `?3` email, `?4` tag, `?5` model.
const FILTER: &str = "r.day BETWEEN ?1 AND ?2
    AND (?3 IS NULL OR r.user_email = ?3)
    AND (?4 IS NULL OR r.user_id IN (SELECT user_id FROM user_tags WHERE tag = ?4))
    AND (?5 IS NULL OR r.model = ?5)";

fn totals_at(row: &rusqlite::Row, first: usize) -> rusqlite::Result<UsageTotals> {
    let sum =
        |i: usize| Ok::<_, rusqlite::Error>(row.get::<_, Option<i64>>(first + i)?.unwrap_or(0));
    Ok(UsageTotals {
        requests: sum(0)?,
        errors: sum(1)?,
        input_tokens: sum(2)?,
        output_tokens: sum(3)?,
        cache_read_tokens: sum(4)?,
        cache_write_tokens: sum(5)?,
        cost: Micros(sum(6)?),
        unpriced_requests: sum(7)?,
    })
}

/// Usage over the query's days, grouped and filtered as it asks, with the
/// total.
pub fn report(conn: &Connection, query: &UsageQuery) -> Result<UsageReport, StoreError> {
    let filters = params![
        query.start_day,
        query.end_day,
        query.user_email,
        query.tag,
        query.model
    ];
    let total = conn
        .prepare_cached(&format!(
            "SELECT {SUMS} FROM usage_rollups AS r WHERE {FILTER}"
        ))?
        .query_row(filters, |row| totals_at(row, 0))?;
    let dimensions: Vec<Dimension> = Dimension::ALL
        .into_iter()
        .filter(|d| query.groups(*d))
        .collect();
    if dimensions.is_empty() {
        let rows = vec![UsageRow {
            key: UsageKey::default(),
            totals: total,
        }];
        return Ok(UsageReport { rows, total });
    }
    let columns: Vec<&str> = dimensions.iter().map(|d| d.column()).collect();
    let keys = columns.join(", ");
    // With the tag filter, only that tag of each user is a group.
    let tags = if query.groups(Dimension::Tag) {
        "LEFT JOIN user_tags AS t ON t.user_id = r.user_id AND (?4 IS NULL OR t.tag = ?4)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {keys}, {SUMS} FROM usage_rollups AS r {tags} WHERE {FILTER}
         GROUP BY {keys} ORDER BY {keys}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(filters, |row| {
        let mut key = UsageKey::default();
        for (i, dimension) in dimensions.iter().enumerate() {
            match dimension {
                Dimension::Day => key.day = Some(row.get(i)?),
                Dimension::User => key.user_email = Some(row.get(i)?),
                Dimension::Tag => key.tag = Some(row.get(i)?),
                Dimension::Model => key.model = Some(row.get(i)?),
                Dimension::ApiKey => key.api_key_id = Some(row.get(i)?),
            }
        }
        Ok(UsageRow {
            key,
            totals: totals_at(row, dimensions.len())?,
        })
    })?;
    Ok(UsageReport {
        rows: rows.collect::<Result<_, _>>()?,
        total,
    })
}
