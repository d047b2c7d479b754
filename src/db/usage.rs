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
use crate::domain::day::DAY_MS;
use crate::domain::{ApiKeyId, Micros, Timestamp, UserId};

/// Records chat logs, each one completion, and adds them to the rollups,
/// in the caller's transaction.
pub fn record_chats<T: Borrow<NewChatLog>>(tx: &Transaction, rows: &[T]) -> Result<(), StoreError> {
    chat_logs::upsert_all(tx, rows)?;
    add_slots(tx, rows.iter().map(Borrow::borrow))?;
    add(tx, rows.iter().map(|row| rollup_of(row.borrow())))
}

/// What the gateway records of a request.
// Boxed on the way to the writer, so the size of the largest is paid once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Recorded {
    /// A completion: its usage, and its chat log when chats are recorded.
    Chat { log: NewChatLog, keep_log: bool },
    /// A request a policy refused: counted, nothing else.
    Refused {
        at: Timestamp,
        user_id: Option<UserId>,
        api_key_id: Option<ApiKeyId>,
        model: String,
    },
}

/// Records a batch in the caller's transaction: the chat logs kept, and
/// everything in the rollups.
pub fn record<T: Borrow<Recorded>>(tx: &Transaction, batch: &[T]) -> Result<(), StoreError> {
    let logs: Vec<&NewChatLog> = batch
        .iter()
        .filter_map(|r| match r.borrow() {
            Recorded::Chat {
                log,
                keep_log: true,
            } => Some(log),
            _ => None,
        })
        .collect();
    chat_logs::upsert_all(tx, &logs)?;
    add_slots(
        tx,
        batch.iter().filter_map(|r| match r.borrow() {
            Recorded::Chat { log, .. } => Some(log),
            Recorded::Refused { .. } => None,
        }),
    )?;
    add(
        tx,
        batch.iter().map(|r| match r.borrow() {
            Recorded::Chat { log, .. } => rollup_of(log),
            Recorded::Refused {
                at,
                user_id,
                api_key_id,
                model,
            } => (
                RollupKey {
                    day: at.millis().div_euclid(DAY_MS),
                    user: user_id.map_or(0, |id| id.0),
                    key: api_key_id.map_or(0, |id| id.0),
                    model,
                    provider: "",
                },
                UsageTotals {
                    refused: 1,
                    ..UsageTotals::default()
                },
            ),
        }),
    )
}

const MINUTE_MS: i64 = 60_000;
/// The slots kept, and how long (in minutes): minutes for an hour window
/// and one more minute, quarters of an hour for a month and a day.
const SLOTS: [(i64, i64); 2] = [(1, 61), (15, 32 * 24 * 60)];

/// Adds completions to the usage slots of the minute and the quarter hour
/// each was recorded in: summed in memory first, as the rollups are.
fn add_slots<'a>(
    tx: &Transaction,
    logs: impl Iterator<Item = &'a NewChatLog>,
) -> Result<(), StoreError> {
    // (span, slot, user, key) -> (requests, tokens, cost)
    type Slot = (i64, i64, i64, i64);
    let mut sums: HashMap<Slot, (i64, i64, i64)> = HashMap::new();
    for log in logs {
        let minute = log.recorded_at.millis().div_euclid(MINUTE_MS);
        let user = log.user_id.map_or(0, |id| id.0);
        let key = log.api_key_id.map_or(0, |id| id.0);
        let tokens = UsageTotals::of(log).tokens();
        let cost = log.cost.unwrap_or_default().0;
        for (span, _) in SLOTS {
            let sum = sums
                .entry((span, minute - minute.rem_euclid(span), user, key))
                .or_default();
            *sum = (sum.0 + 1, sum.1 + tokens, sum.2 + cost);
        }
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO usage_slots (span, slot, user_id, api_key_id, requests, tokens, cost_micros)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (span, slot, user_id, api_key_id) DO UPDATE SET
             requests = requests + excluded.requests,
             tokens = tokens + excluded.tokens,
             cost_micros = cost_micros + excluded.cost_micros",
    )?;
    for ((span, slot, user, key), (requests, tokens, cost)) in sums {
        stmt.execute(params![span, slot, user, key, requests, tokens, cost])?;
    }
    Ok(())
}

/// Deletes the usage slots older than they are kept; how many went.
pub fn prune_slots(tx: &Transaction, now: Timestamp) -> Result<usize, StoreError> {
    let minute = now.millis().div_euclid(MINUTE_MS);
    let mut stmt = tx.prepare_cached("DELETE FROM usage_slots WHERE span = ?1 AND slot < ?2")?;
    let mut deleted = 0;
    for (span, kept) in SLOTS {
        deleted += stmt.execute(params![span, minute - kept])?;
    }
    Ok(deleted)
}

/// A rollup row's key: UTC day, user (0: none), key (0: none), model,
/// provider.
#[derive(PartialEq, Eq, Hash)]
struct RollupKey<'a> {
    day: i64,
    user: i64,
    key: i64,
    model: &'a str,
    provider: &'a str,
}

fn rollup_of(log: &NewChatLog) -> (RollupKey<'_>, UsageTotals) {
    let key = RollupKey {
        day: log.recorded_at.millis().div_euclid(DAY_MS),
        user: log.user_id.map_or(0, |id| id.0),
        key: log.api_key_id.map_or(0, |id| id.0),
        model: log.model.as_deref().unwrap_or(""),
        provider: log.provider.as_deref().unwrap_or(""),
    };
    (key, UsageTotals::of(log))
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
    /// Requests a policy refused (not in `requests`: nothing went upstream).
    pub refused: i64,
}

impl UsageTotals {
    /// The counts, each named as the usage API and the admin's CSVs name
    /// it.
    pub fn counts(&self) -> [(&'static str, i64); 6] {
        [
            ("requests", self.requests),
            ("errors", self.errors),
            ("inputTokens", self.input_tokens),
            ("outputTokens", self.output_tokens),
            ("cacheReadTokens", self.cache_read_tokens),
            ("cacheWriteTokens", self.cache_write_tokens),
        ]
    }

    /// Every token: input, output, cache reads and cache writes.
    pub fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }

    pub fn add(&mut self, other: &UsageTotals) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cost.0 += other.cost.0;
        self.unpriced_requests += other.unpriced_requests;
        self.refused += other.refused;
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
            refused: 0,
        }
    }
}

/// Adds a batch to the rollups: summed in memory first, so a batch costs
/// one statement per (day, user, key, model, provider), not per chat.
fn add<'a>(
    tx: &Transaction,
    rows: impl Iterator<Item = (RollupKey<'a>, UsageTotals)>,
) -> Result<(), StoreError> {
    let mut sums: HashMap<RollupKey, UsageTotals> = HashMap::new();
    for (key, totals) in rows {
        sums.entry(key).or_default().add(&totals);
    }
    // The user as they are now (the email kept with the totals), or none
    // when they were deleted since the chat began, as in the chat log.
    let mut stmt = tx.prepare_cached(
        "INSERT INTO usage_rollups (day, user_id, user_email, api_key_id, model, provider,
             requests, errors, input_tokens, output_tokens, cache_read_tokens,
             cache_write_tokens, cost_micros, unpriced_requests, refused)
         SELECT ?1, IFNULL(u.id, 0), IFNULL(u.email, ''), ?3, ?4, ?5,
                ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14
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
             unpriced_requests = unpriced_requests + excluded.unpriced_requests,
             refused = refused + excluded.refused",
    )?;
    for (k, t) in sums {
        stmt.execute(params![
            k.day,
            k.user,
            k.key,
            k.model,
            k.provider,
            t.requests,
            t.errors,
            t.input_tokens,
            t.output_tokens,
            t.cache_read_tokens,
            t.cache_write_tokens,
            t.cost,
            t.unpriced_requests,
            t.refused,
        ])?;
    }
    Ok(())
}

/// One user's (0: none) usage through one API key (0: none) in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUsage {
    pub user_id: i64,
    pub api_key_id: i64,
    pub requests: i64,
    /// Every token, cached ones too.
    pub tokens: i64,
    pub cost: Micros,
}

/// What was recorded from `start` to `now` (milliseconds), per user and
/// key: whole UTC days from the rollups, and the part of a day a window
/// starts in (a minute, an hour, a day in another time zone) from the
/// usage slots: the minutes' when it starts within the hour they are kept,
/// else the quarter hours' (from the quarter `start` falls in).
pub fn window_usage(
    conn: &Connection,
    start: i64,
    now: i64,
) -> Result<Vec<WindowUsage>, StoreError> {
    let mut totals: HashMap<(i64, i64), WindowUsage> = HashMap::new();
    let mut add = |row: WindowUsage| {
        let sum = totals
            .entry((row.user_id, row.api_key_id))
            .or_insert(WindowUsage {
                requests: 0,
                tokens: 0,
                cost: Micros(0),
                ..row
            });
        sum.requests += row.requests;
        sum.tokens += row.tokens;
        sum.cost.0 += row.cost.0;
    };
    let read = |row: &rusqlite::Row| {
        Ok(WindowUsage {
            user_id: row.get(0)?,
            api_key_id: row.get(1)?,
            requests: row.get(2)?,
            tokens: row.get(3)?,
            cost: row.get(4)?,
        })
    };
    let first_whole_day = start.div_euclid(DAY_MS) + i64::from(start.rem_euclid(DAY_MS) != 0);
    let partial_end = (first_whole_day * DAY_MS).min(now);
    if start < partial_end {
        let (minutes, quarters) = (SLOTS[0], SLOTS[1]);
        let recent = start.rem_euclid(MINUTE_MS) == 0 && now - start < minutes.1 * MINUTE_MS;
        let span = if recent { minutes.0 } else { quarters.0 };
        let first = start.div_euclid(MINUTE_MS);
        let end = (partial_end + MINUTE_MS - 1).div_euclid(MINUTE_MS);
        let mut stmt = conn.prepare_cached(
            "SELECT user_id, api_key_id, SUM(requests), SUM(tokens), SUM(cost_micros)
             FROM usage_slots WHERE span = ?1 AND slot >= ?2 AND slot < ?3 GROUP BY 1, 2",
        )?;
        for row in stmt.query_map(params![span, first - first.rem_euclid(span), end], read)? {
            add(row?);
        }
    }
    let last_day = now.div_euclid(DAY_MS);
    if first_whole_day <= last_day {
        let mut stmt = conn.prepare_cached(
            "SELECT user_id, api_key_id, SUM(requests),
                    SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens),
                    SUM(cost_micros)
             FROM usage_rollups WHERE day BETWEEN ?1 AND ?2 GROUP BY 1, 2",
        )?;
        for row in stmt.query_map(params![first_whole_day, last_day], read)? {
            add(row?);
        }
    }
    Ok(totals.into_values().collect())
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

/// `?1..?2` days, `?3` email, `?4` tag, `?5` model.
const FILTER: &str = "day BETWEEN ?1 AND ?2
    AND (?3 IS NULL OR user_email = ?3)
    AND (?4 IS NULL OR user_id IN (SELECT user_id FROM user_tags WHERE tag = ?4))
    AND (?5 IS NULL OR model = ?5)";

/// Names seen while reading, each stored once and known by a number
/// (from 1: 0 is a dimension not grouped by).
#[derive(Default)]
struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        self.names.push(name.to_owned());
        let id = self.names.len() as u32;
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// The name of `id`; `None` for the empty name (no user, no tag).
    fn get(&self, id: u32) -> Option<String> {
        Some(self.names[id as usize - 1].clone()).filter(|name| !name.is_empty())
    }
}

/// A group: day, user email, tag, model (names by number) and key id, each
/// 0 when not grouped by.
type GroupId = (i64, u32, u32, u32, i64);

/// Which dimensions a grouping (or any of several) has.
#[derive(Clone, Copy, Default)]
struct Grouped {
    day: bool,
    user: bool,
    tag: bool,
    model: bool,
    key: bool,
}

impl Grouped {
    fn of(dimensions: &[Dimension]) -> Grouped {
        let has = |d| dimensions.contains(&d);
        Grouped {
            day: has(Dimension::Day),
            user: has(Dimension::User),
            tag: has(Dimension::Tag),
            model: has(Dimension::Model),
            key: has(Dimension::ApiKey),
        }
    }

    fn or(self, other: Grouped) -> Grouped {
        Grouped {
            day: self.day || other.day,
            user: self.user || other.user,
            tag: self.tag || other.tag,
            model: self.model || other.model,
            key: self.key || other.key,
        }
    }
}

/// Usage over the query's days, grouped and filtered as it asks, with the
/// total.
pub fn report(conn: &Connection, query: &UsageQuery) -> Result<UsageReport, StoreError> {
    let [report] = reports(conn, query, [query.group_by.as_slice()])?;
    Ok(report)
}

/// Usage over the query's days and filters (its `group_by` aside), grouped
/// each way of `groupings`: a report each, in their order.
///
/// The rollup rows of the days are read once and summed here, into the
/// groups of every grouping and the total at once: a month of a thousand
/// users is some 100,000 rows, which SQLite would sort to group, and a
/// page that shows usage by user, by tag and by model reads them once.
pub fn reports<const N: usize>(
    conn: &Connection,
    query: &UsageQuery,
    groupings: [&[Dimension]; N],
) -> Result<[UsageReport; N], StoreError> {
    let each = groupings.map(Grouped::of);
    let any = each.iter().fold(Grouped::default(), |a, g| a.or(*g));
    let mut names = Names::default();
    // Each user's tags now (with the tag filter, only that one); a user
    // with none, or no user, is under the empty tag.
    let mut tags: HashMap<i64, Vec<u32>> = HashMap::new();
    if any.tag {
        let mut stmt = conn.prepare_cached(
            "SELECT user_id, tag FROM user_tags WHERE ?1 IS NULL OR tag = ?1 ORDER BY user_id, position",
        )?;
        let mut rows = stmt.query([&query.tag])?;
        while let Some(row) = rows.next()? {
            let tag = names.id(&row.get::<_, String>(1)?);
            tags.entry(row.get(0)?).or_default().push(tag);
        }
    }
    let untagged = [names.id("")];
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT day, user_id, user_email, api_key_id, model, requests, errors, input_tokens,
                output_tokens, cache_read_tokens, cache_write_tokens, cost_micros,
                unpriced_requests, refused
         FROM usage_rollups WHERE {FILTER}"
    ))?;
    let mut rows = stmt.query(params![
        query.start_day,
        query.end_day,
        query.user_email,
        query.tag,
        query.model
    ])?;
    let mut groups: [HashMap<GroupId, UsageTotals>; N] = std::array::from_fn(|_| HashMap::new());
    let mut total = UsageTotals::default();
    while let Some(row) = rows.next()? {
        let totals = UsageTotals {
            requests: row.get(5)?,
            errors: row.get(6)?,
            input_tokens: row.get(7)?,
            output_tokens: row.get(8)?,
            cache_read_tokens: row.get(9)?,
            cache_write_tokens: row.get(10)?,
            cost: row.get(11)?,
            unpriced_requests: row.get(12)?,
            refused: row.get(13)?,
        };
        total.add(&totals);
        // Each dimension read once, whichever grouping wants it.
        let mut name = |grouped: bool, i: usize| -> rusqlite::Result<u32> {
            Ok(if grouped {
                names.id(row.get_ref(i)?.as_str()?)
            } else {
                0
            })
        };
        let day = if any.day { row.get(0)? } else { 0 };
        let user = name(any.user, 2)?;
        let model = name(any.model, 4)?;
        let key = if any.key { row.get(3)? } else { 0 };
        let user_tags: &[u32] = if any.tag {
            tags.get(&row.get(1)?).map_or(&untagged, Vec::as_slice)
        } else {
            &[0]
        };
        for ((dimensions, g), groups) in groupings.iter().zip(&each).zip(&mut groups) {
            if dimensions.is_empty() {
                continue;
            }
            let pick = |grouped: bool, id: u32| if grouped { id } else { 0 };
            let id = (
                if g.day { day } else { 0 },
                pick(g.user, user),
                pick(g.model, model),
                if g.key { key } else { 0 },
            );
            for tag in if g.tag { user_tags } else { &[0] } {
                groups
                    .entry((id.0, id.1, *tag, id.2, id.3))
                    .or_default()
                    .add(&totals);
            }
        }
    }
    Ok(std::array::from_fn(|i| {
        let groups = std::mem::take(&mut groups[i]);
        grouped_report(groupings[i], each[i], groups, &names, total)
    }))
}

/// The rows of one grouping's groups, in order, and the total.
fn grouped_report(
    dimensions: &[Dimension],
    g: Grouped,
    groups: HashMap<GroupId, UsageTotals>,
    names: &Names,
    total: UsageTotals,
) -> UsageReport {
    if dimensions.is_empty() {
        let rows = vec![UsageRow {
            key: UsageKey::default(),
            totals: total,
        }];
        return UsageReport { rows, total };
    }
    let named = |id: u32| (id > 0).then(|| names.get(id));
    let mut rows: Vec<UsageRow> = groups
        .into_iter()
        .map(|((day, user, tag, model, key), totals)| UsageRow {
            key: UsageKey {
                day: g.day.then_some(day),
                user_email: named(user),
                tag: named(tag),
                model: named(model).map(Option::unwrap_or_default),
                api_key_id: g.key.then_some(Some(key).filter(|k| *k != 0)),
            },
            totals,
        })
        .collect();
    // None (no user, tag or key) first, as SQL sorts NULL.
    rows.sort_by(|a, b| {
        let (a, b) = (&a.key, &b.key);
        (a.day, &a.user_email, &a.tag, &a.model, a.api_key_id).cmp(&(
            b.day,
            &b.user_email,
            &b.tag,
            &b.model,
            b.api_key_id,
        ))
    });
    UsageReport { rows, total }
}
