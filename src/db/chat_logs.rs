//! The `chat_logs` table: one row per chat, written by the gateway and read
//! by `GET /chatlogs`. A chat continued under the same `chatID` replaces its
//! row's conversation and moves its `recordedAt`; its tokens and cost are
//! those of all its completions, added up.

use std::borrow::Borrow;
use std::fmt::Write as _;
use std::sync::OnceLock;

use rusqlite::{named_params, params, Connection, OptionalExtension, ToSql, Transaction};
use serde::Serialize;

use super::StoreError;
use crate::domain::{ApiKeyId, Micros, Timestamp, UserId};

/// A chat log as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Chatlog {
    #[serde(rename = "chatID")]
    pub chat_id: String,
    #[serde(rename = "chatTitle")]
    pub chat_title: String,
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
    #[serde(rename = "recordedAt")]
    pub recorded_at: Timestamp,
    #[serde(rename = "conversationText")]
    pub conversation_text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStatus {
    Ok,
    Error,
    Cancelled,
}

impl ChatStatus {
    fn as_str(self) -> &'static str {
        match self {
            ChatStatus::Ok => "ok",
            ChatStatus::Error => "error",
            ChatStatus::Cancelled => "cancelled",
        }
    }
}

/// Everything recorded about one completion.
#[derive(Debug, Clone)]
pub struct NewChatLog {
    pub chat_id: String,
    pub chat_title: String,
    pub recorded_at: Timestamp,
    pub conversation_text: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub character_id: Option<String>,
    pub user_id: Option<UserId>,
    pub api_key_id: Option<ApiKeyId>,
    /// Input tokens neither read from nor written to the prompt cache;
    /// `None` (like `completion_tokens`) when nothing reached a model.
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// At the price in force when recorded; `None`: the model had no price.
    pub cost: Option<Micros>,
    /// The tokens were estimated from the text: the provider reported none.
    pub usage_estimated: bool,
    pub status: ChatStatus,
    pub error_message: Option<String>,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    /// The chat is a session whose every request carries the conversation
    /// so far: a shorter conversation (a side request's) leaves the stored
    /// one, and its title, as they are.
    pub session: bool,
}

/// Chats recorded by one statement, when many are. A statement keeps a copy
/// of each page before it first changes it, to undo itself on failure:
/// once per statement, not per row, so rows written together are cheaper.
const ROWS_PER_STATEMENT: usize = 16;

/// The values of one chat in `upsert_sql`.
const COLUMNS_BOUND: usize = 19;

/// Inserts each chat of `logs`, in order, or replaces the row of an
/// existing `chat_id` (keeping its `created_at`, and adding this
/// completion's tokens and cost to its own). A user deleted since the chat
/// began leaves it unattributed rather than unrecorded (API keys are
/// revoked, never deleted).
pub fn upsert_all<T: Borrow<NewChatLog>>(tx: &Transaction, logs: &[T]) -> Result<(), StoreError> {
    // [chats, sessions] of one row, and of many.
    static ONE: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    static MANY: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    // Runs of the same kind, in order: a later row of a chat updates it.
    for run in logs.chunk_by(|a, b| a.borrow().session == b.borrow().session) {
        let session = run[0].borrow().session;
        let kind = usize::from(session);
        let mut chunks = run.chunks_exact(ROWS_PER_STATEMENT);
        for chunk in chunks.by_ref() {
            let sql = MANY[kind].get_or_init(|| upsert_sql(ROWS_PER_STATEMENT, session));
            execute_upsert(tx, sql, chunk)?;
        }
        let sql = ONE[kind].get_or_init(|| upsert_sql(1, session));
        for log in chunks.remainder() {
            execute_upsert(tx, sql, std::slice::from_ref(log))?;
        }
    }
    Ok(())
}

fn execute_upsert<T: Borrow<NewChatLog>>(
    tx: &Transaction,
    sql: &str,
    logs: &[T],
) -> Result<(), StoreError> {
    let statuses: Vec<&str> = logs.iter().map(|l| l.borrow().status.as_str()).collect();
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(logs.len() * COLUMNS_BOUND);
    for (log, status) in logs.iter().zip(&statuses) {
        let log = log.borrow();
        values.extend_from_slice(&[
            &log.chat_id as &dyn ToSql,
            &log.chat_title,
            &log.recorded_at,
            &log.conversation_text,
            &log.model,
            &log.provider,
            &log.character_id,
            &log.user_id,
            &log.api_key_id,
            &log.prompt_tokens,
            &log.completion_tokens,
            status,
            &log.error_message,
            &log.latency_ms,
            &log.ttft_ms,
            &log.cache_read_tokens,
            &log.cache_write_tokens,
            &log.cost,
            &log.usage_estimated,
        ]);
    }
    // The search index takes them later (`index_pending`).
    tx.prepare_cached(sql)?.execute(values.as_slice())?;
    Ok(())
}

/// The upsert of `rows` chats (of sessions: a shorter conversation keeps
/// the stored one and its title); a later row with the same `chat_id` as
/// an earlier one updates it, as a later statement would.
fn upsert_sql(rows: usize, session: bool) -> String {
    let values: Vec<String> =
        (0..rows)
            .map(|row| {
                let p = |i: usize| format!("?{}", row * COLUMNS_BOUND + i);
                format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, (SELECT id FROM users WHERE id = {}), {}, {}, {},
                  {}, {}, {}, {}, {}, {}, {}, {})",
                p(1), p(2), p(3), p(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11),
                p(12), p(13), p(14), p(15), p(16), p(17), p(18), p(19)
            )
            })
            .collect();
    let (title, conversation) = if session {
        let shorter = "length(excluded.conversation_text) < length(conversation_text)";
        (
            format!("CASE WHEN {shorter} THEN chat_title ELSE excluded.chat_title END"),
            format!(
                "CASE WHEN {shorter} THEN conversation_text ELSE excluded.conversation_text END"
            ),
        )
    } else {
        (
            "excluded.chat_title".to_owned(),
            "excluded.conversation_text".to_owned(),
        )
    };
    // `IFNULL(a + b, IFNULL(b, a))`: the sum, or whichever is known.
    format!(
        "INSERT INTO chat_logs (chat_id, chat_title, created_at, recorded_at, conversation_text,
             model, provider, character_id, user_id, api_key_id, prompt_tokens,
             completion_tokens, status, error_message, latency_ms, ttft_ms,
             cache_read_tokens, cache_write_tokens, cost_micros, usage_estimated)
         VALUES {}
         ON CONFLICT (chat_id) DO UPDATE SET
             chat_title = {title},
             recorded_at = excluded.recorded_at,
             conversation_text = {conversation},
             model = excluded.model,
             provider = excluded.provider,
             character_id = excluded.character_id,
             user_id = excluded.user_id,
             api_key_id = excluded.api_key_id,
             prompt_tokens = IFNULL(prompt_tokens + excluded.prompt_tokens,
                                    IFNULL(excluded.prompt_tokens, prompt_tokens)),
             completion_tokens = IFNULL(completion_tokens + excluded.completion_tokens,
                                        IFNULL(excluded.completion_tokens, completion_tokens)),
             status = excluded.status,
             error_message = excluded.error_message,
             latency_ms = excluded.latency_ms,
             ttft_ms = excluded.ttft_ms,
             cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
             cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
             cost_micros = IFNULL(cost_micros + excluded.cost_micros,
                                  IFNULL(excluded.cost_micros, cost_micros)),
             usage_estimated = MAX(usage_estimated, excluded.usage_estimated)",
        values.join(",\n                ")
    )
}

/// The chats whose text the search index does not hold yet (or holds as
/// it was before it was replaced), as a query of their ids.
const UNINDEXED: &str = "SELECT id FROM chat_logs
         WHERE id > (SELECT indexed_to FROM chat_logs_fts_progress)
     UNION SELECT id FROM chat_logs_unindexed";

/// Puts the text of up to `most` new chats, and up to `most` replaced ones,
/// in the search index (replacing what an earlier text left), oldest first;
/// returns how many it indexed.
pub fn index_pending(tx: &Transaction, most: u32) -> Result<usize, StoreError> {
    let indexed_to: i64 =
        tx.query_row("SELECT indexed_to FROM chat_logs_fts_progress", [], |row| {
            row.get(0)
        })?;
    let upto: Option<i64> = tx
        .prepare_cached(
            "SELECT MAX(id) FROM (SELECT id FROM chat_logs WHERE id > ?1 ORDER BY id LIMIT ?2)",
        )?
        .query_row(params![indexed_to, most], |row| row.get(0))?;
    let mut indexed = 0;
    if let Some(upto) = upto {
        indexed += tx
            .prepare_cached(
                "INSERT OR REPLACE INTO chat_logs_fts (rowid, chat_title, conversation_text)
                 SELECT id, chat_title, conversation_text FROM chat_logs
                 WHERE id > ?1 AND id <= ?2",
            )?
            .execute([indexed_to, upto])?;
        tx.prepare_cached("UPDATE chat_logs_fts_progress SET indexed_to = ?1")?
            .execute([upto])?;
    }
    tx.prepare_cached(
        "INSERT OR REPLACE INTO chat_logs_fts (rowid, chat_title, conversation_text)
         SELECT c.id, c.chat_title, c.conversation_text
         FROM (SELECT id FROM chat_logs_unindexed ORDER BY id LIMIT ?1) AS p
         CROSS JOIN chat_logs AS c ON c.id = p.id",
    )?
    .execute([most])?;
    indexed += tx
        .prepare_cached(
            "DELETE FROM chat_logs_unindexed WHERE id IN
                 (SELECT id FROM chat_logs_unindexed ORDER BY id LIMIT ?1)",
        )?
        .execute([most])?;
    Ok(indexed)
}

/// Where the previous page ended: pages run newest first by
/// (`recorded_at`, `id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    recorded_at: i64,
    id: i64,
}

impl Cursor {
    fn time(self) -> Timestamp {
        Timestamp(self.recorded_at)
    }

    /// An opaque token: hex of `recorded_at.id`.
    pub fn encode(self) -> String {
        let plain = format!("{}.{}", self.recorded_at, self.id);
        plain.bytes().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    /// Takes back exactly what `encode` gives out (lowercase hex of
    /// `digits.digits`, at most 18 digits each), so the API document can
    /// state the format as a pattern.
    pub fn decode(token: &str) -> Option<Cursor> {
        let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
        if !token.len().is_multiple_of(2) || !token.as_bytes().iter().all(lower_hex) {
            return None;
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let plain = String::from_utf8(bytes).ok()?;
        let (recorded_at, id) = plain.split_once('.')?;
        let number = |digits: &str| {
            let ok = (1..=18).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| digits.parse().ok()).flatten()
        };
        Some(Cursor {
            recorded_at: number(recorded_at)?,
            id: number(id)?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ChatLogQuery {
    /// Inclusive bounds on `recorded_at`, in milliseconds.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub limit: u32,
    pub after: Option<Cursor>,
}

/// One page of chat logs, newest first, and the cursor of the next page.
pub fn list(
    conn: &Connection,
    query: &ChatLogQuery,
) -> Result<(Vec<Chatlog>, Option<Cursor>), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, chat_id, chat_title, created_at, recorded_at, conversation_text
         FROM chat_logs
         WHERE recorded_at >= ?1 AND recorded_at <= ?2
           AND (?3 IS NULL OR recorded_at < ?3 OR (recorded_at = ?3 AND id < ?4))
         ORDER BY recorded_at DESC, id DESC
         LIMIT ?5",
    )?;
    let limit = query.limit as usize;
    let mut last = None;
    let mut logs = Vec::with_capacity(limit.min(1000));
    let mut rows = stmt.query(params![
        query.start_ms.unwrap_or(i64::MIN),
        query.end_ms.unwrap_or(i64::MAX),
        query.after.map(|c| c.recorded_at),
        query.after.map(|c| c.id),
        limit as i64 + 1,
    ])?;
    while let Some(row) = rows.next()? {
        if logs.len() == limit {
            return Ok((logs, last));
        }
        let log = Chatlog {
            chat_id: row.get(1)?,
            chat_title: row.get(2)?,
            created_at: row.get(3)?,
            recorded_at: row.get(4)?,
            conversation_text: row.get(5)?,
        };
        last = Some(Cursor {
            recorded_at: log.recorded_at.millis(),
            id: row.get(0)?,
        });
        logs.push(log);
    }
    Ok((logs, None))
}

/// The admin's filter over chat logs; every part is optional.
#[derive(Debug, Clone, Default)]
pub struct AdminFilter {
    /// Inclusive bounds on `recorded_at`, in milliseconds.
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// The chat's user, by email (as stored: lower case).
    pub user_email: Option<String>,
    pub model: Option<String>,
    /// Found in the title or the conversation, case-insensitively (ASCII).
    pub text: Option<String>,
}

/// Everything stored about one chat, with its user's email, for the admin.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatLogDetail {
    #[serde(rename = "chatID")]
    pub chat_id: String,
    pub chat_title: String,
    pub created_at: Timestamp,
    pub recorded_at: Timestamp,
    /// Cut to a preview in listings.
    pub conversation_text: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub character_id: Option<String>,
    pub user_id: Option<i64>,
    pub user_email: Option<String>,
    pub api_key_id: Option<i64>,
    /// Input tokens neither read from nor written to the prompt cache.
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// `None`: no price for its model when it was recorded.
    #[serde(rename = "costUsd")]
    pub cost: Option<Micros>,
    pub usage_estimated: bool,
    pub status: String,
    pub error_message: Option<String>,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    /// Where the chat stands in the listing, for the links to the pages
    /// beside it.
    #[serde(skip)]
    pub cursor: Cursor,
}

impl ChatLogDetail {
    /// Every token of the chat, prompt (cached or not) and completion,
    /// when any was recorded.
    pub fn total_tokens(&self) -> Option<i64> {
        match (self.prompt_tokens, self.completion_tokens) {
            (None, None) => None,
            (p, c) => Some(
                p.unwrap_or(0) + c.unwrap_or(0) + self.cache_read_tokens + self.cache_write_tokens,
            ),
        }
    }
}

/// The columns `detail_from_row` reads, from `c` (the chat) and `u` (its
/// user); `:preview` cuts the conversation (NULL: whole).
const RECORD_COLUMNS: &str = "SELECT c.chat_id, c.chat_title, c.created_at, c.recorded_at,
        CASE WHEN :preview IS NULL THEN c.conversation_text
             ELSE substr(c.conversation_text, 1, :preview) END,
        c.model, c.provider, c.character_id, c.user_id, u.email, c.api_key_id,
        c.prompt_tokens, c.completion_tokens, c.status, c.error_message, c.latency_ms, c.ttft_ms,
        c.cache_read_tokens, c.cache_write_tokens, c.cost_micros, c.usage_estimated, c.id";

fn detail_from_row(row: &rusqlite::Row) -> rusqlite::Result<ChatLogDetail> {
    let recorded_at: Timestamp = row.get(3)?;
    Ok(ChatLogDetail {
        chat_id: row.get(0)?,
        chat_title: row.get(1)?,
        created_at: row.get(2)?,
        recorded_at,
        conversation_text: row.get(4)?,
        model: row.get(5)?,
        provider: row.get(6)?,
        character_id: row.get(7)?,
        user_id: row.get(8)?,
        user_email: row.get(9)?,
        api_key_id: row.get(10)?,
        prompt_tokens: row.get(11)?,
        completion_tokens: row.get(12)?,
        status: row.get(13)?,
        error_message: row.get(14)?,
        latency_ms: row.get(15)?,
        ttft_ms: row.get(16)?,
        cache_read_tokens: row.get(17)?,
        cache_write_tokens: row.get(18)?,
        cost: row.get(19)?,
        usage_estimated: row.get(20)?,
        cursor: Cursor {
            recorded_at: recorded_at.millis(),
            id: row.get(21)?,
        },
    })
}

/// Where a page of the admin's listing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFrom {
    Newest,
    /// The chats just older than this one.
    Before(Cursor),
    /// The chats just newer than this one.
    After(Cursor),
}

/// One page of the admin's listing, newest first, and where the pages
/// beside it start.
#[derive(Debug)]
pub struct AdminPage {
    pub chats: Vec<ChatLogDetail>,
    pub newer: Option<PageFrom>,
    pub older: Option<PageFrom>,
    /// Set when a search stopped at the end of its window short of a page:
    /// there may be more beyond, where the page's link that way goes on.
    pub searched_to: Option<SearchedTo>,
}

/// How far a page of a search that checks each chat read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchedTo {
    /// Back to this chat's time: the link to older chats searches on.
    Back(Timestamp),
    /// Forward to this chat's time: the link to newer chats searches on.
    Forward(Timestamp),
}

/// A search the index cannot narrow (shorter than a trigram, or of pieces
/// too common to look up) checks each chat's text. A page of it reads at
/// most this many chats (of those the other filters keep) from where it
/// starts, and says how far it got: a search that matches few chats would
/// otherwise read the whole table before it could answer.
pub const SCAN_WINDOW: u32 = 50_000;

/// The page of `size` chats matching `filter` from `from`, each
/// conversation cut to `preview` characters. Pages are found by where they
/// start, not by counting the chats before them: every page costs the same.
pub fn page(
    conn: &Connection,
    filter: &AdminFilter,
    from: PageFrom,
    size: u32,
    preview: u32,
) -> Result<AdminPage, StoreError> {
    let search = Search::new(conn, filter)?;
    let until = if search.checks_each() {
        window_end(conn, filter, from)?
    } else {
        None
    };
    let mut chats = Vec::with_capacity(size as usize + 1);
    let read = Read {
        from,
        until,
        limit: Some(size + 1),
        preview: Some(preview),
    };
    select(conn, &search, read, |chat| {
        chats.push(chat);
        Ok::<_, StoreError>(())
    })?;
    let more = chats.len() > size as usize;
    chats.truncate(size as usize);
    // Short of a page at the window's end: the rest lies past it.
    let stopped = until.filter(|_| !more);
    let first = chats.first().map(|c| c.cursor);
    let last = chats.last().map(|c| c.cursor);
    let older = last.filter(|_| more).or(stopped).map(PageFrom::Before);
    let searched_to = stopped.map(|c| SearchedTo::Back(c.time()));
    Ok(match from {
        PageFrom::Newest => AdminPage {
            chats,
            newer: None,
            older,
            searched_to,
        },
        PageFrom::Before(cursor) => AdminPage {
            chats,
            newer: Some(PageFrom::After(first.unwrap_or(cursor))),
            older,
            searched_to,
        },
        // Nothing newer beyond these: the newest page, full.
        PageFrom::After(_) if !more && stopped.is_none() => {
            page(conn, filter, PageFrom::Newest, size, preview)?
        }
        // Read oldest first from the cursor.
        PageFrom::After(_) => {
            chats.reverse();
            AdminPage {
                newer: stopped
                    .or(chats.first().map(|c| c.cursor))
                    .map(PageFrom::After),
                // With no chat shown, none lies between the cursor and the
                // window's end either.
                older: first.or(stopped).map(PageFrom::Before),
                searched_to: stopped.map(|c| SearchedTo::Forward(c.time())),
                chats,
            }
        }
    })
}

/// The last chat of the window a page of a checking search reads from
/// `from` (in its order, matching `filter` but its text), or `None` when
/// the window holds every chat left. Read from an index alone.
fn window_end(
    conn: &Connection,
    filter: &AdminFilter,
    from: PageFrom,
) -> Result<Option<Cursor>, StoreError> {
    let mut sql = String::from("SELECT c.recorded_at, c.id FROM chat_logs AS c WHERE TRUE");
    let mut args = Vec::new();
    let order = push_conditions(&mut sql, &mut args, filter, &from);
    let skip = SCAN_WINDOW - 1;
    args.push((":skip", &skip));
    // Two rows: the window's last, and one past it if there is any.
    let _ = write!(
        sql,
        " ORDER BY c.recorded_at {order}, c.id {order} LIMIT 2 OFFSET :skip"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let ends = stmt
        .query_map(args.as_slice(), |row| {
            Ok(Cursor {
                recorded_at: row.get(0)?,
                id: row.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ends.first().copied().filter(|_| ends.len() == 2))
}

/// Every chat matching `filter`, newest first, handed to `each` as it is
/// read, whole; an error of `each` stops the reading. It reads every chat
/// there is: no window, however long that takes.
pub fn export<E: From<StoreError>>(
    conn: &Connection,
    filter: &AdminFilter,
    each: impl FnMut(ChatLogDetail) -> Result<(), E>,
) -> Result<(), E> {
    let read = Read {
        from: PageFrom::Newest,
        until: None,
        limit: None,
        preview: None,
    };
    select(conn, &Search::new(conn, filter)?, read, each)
}

/// Searches whose index lookup finds at most this many chats read those
/// and sort them by time. Past that, what was typed is common enough that
/// reading the chats in time order and checking each finds a page soon.
const MOST_HITS_SORTED: i64 = 10_000;

/// The most pieces of a search looked up: they narrow it down; the check
/// of the text decides.
const MOST_TRIGRAMS: usize = 32;

/// A filter and how its text is found.
struct Search<'a> {
    filter: &'a AdminFilter,
    /// The text as a LIKE pattern: the check each chat found passes.
    pattern: Option<String>,
    /// The index query that narrows the chats to check, when it does.
    hits: Option<String>,
}

impl<'a> Search<'a> {
    fn new(conn: &Connection, filter: &'a AdminFilter) -> Result<Self, StoreError> {
        let hits = match filter.text.as_deref().and_then(trigram_query) {
            Some(query) if few_hits(conn, &query)? => Some(query),
            _ => None,
        };
        Ok(Search {
            filter,
            pattern: filter.text.as_deref().map(super::contains_pattern),
            hits,
        })
    }

    /// Whether it checks the text of each chat the other filters keep.
    fn checks_each(&self) -> bool {
        self.pattern.is_some() && self.hits.is_none()
    }
}

/// Which chats `select` reads.
#[derive(Debug, Clone, Copy)]
struct Read {
    from: PageFrom,
    /// The last chat it may read (in its order); `None`: up to the end.
    until: Option<Cursor>,
    /// The most chats it hands on; `None`: all.
    limit: Option<u32>,
    /// Each conversation cut to this many characters; `None`: whole.
    preview: Option<u32>,
}

/// Adds `filter`'s conditions but its text, and `from`'s cursor, to `sql`
/// (on `c`, the chat); returns the order of the read from `from`: newest
/// first, but oldest first from an `After` cursor.
fn push_conditions<'a>(
    sql: &mut String,
    args: &mut Vec<(&'static str, &'a dyn ToSql)>,
    filter: &'a AdminFilter,
    from: &'a PageFrom,
) -> &'static str {
    if let Some(start) = &filter.start_ms {
        sql.push_str(" AND c.recorded_at >= :start");
        args.push((":start", start));
    }
    if let Some(end) = &filter.end_ms {
        sql.push_str(" AND c.recorded_at <= :end");
        args.push((":end", end));
    }
    if let Some(email) = &filter.user_email {
        sql.push_str(" AND c.user_id = (SELECT id FROM users WHERE email = :email)");
        args.push((":email", email));
    }
    if let Some(model) = &filter.model {
        sql.push_str(" AND c.model = :model");
        args.push((":model", model));
    }
    let (op, cursor, order) = match from {
        PageFrom::Newest => return "DESC",
        PageFrom::Before(cursor) => ("<", cursor, "DESC"),
        PageFrom::After(cursor) => (">", cursor, "ASC"),
    };
    let _ = write!(sql, " AND (c.recorded_at, c.id) {op} (:at, :id)");
    args.push((":at", &cursor.recorded_at));
    args.push((":id", &cursor.id));
    order
}

/// The chats `search` finds in `read`, each to `each` as it is read.
fn select<E: From<StoreError>>(
    conn: &Connection,
    search: &Search,
    read: Read,
    mut each: impl FnMut(ChatLogDetail) -> Result<(), E>,
) -> Result<(), E> {
    let limit = read.limit.map_or(-1, i64::from);
    let mut args: Vec<(&str, &dyn ToSql)> = vec![(":preview", &read.preview), (":limit", &limit)];
    let mut sql = String::new();
    if let Some(query) = &search.hits {
        let _ = write!(
            sql,
            "WITH hits(id) AS MATERIALIZED (SELECT rowid FROM chat_logs_fts
                 WHERE chat_logs_fts MATCH :hits UNION {UNINDEXED}) "
        );
        args.push((":hits", query));
    }
    sql.push_str(RECORD_COLUMNS);
    // CROSS JOIN: from the few chats found, never the whole table.
    sql.push_str(match search.hits {
        Some(_) => " FROM hits CROSS JOIN chat_logs AS c ON c.id = hits.id",
        None => " FROM chat_logs AS c",
    });
    sql.push_str(" LEFT JOIN users AS u ON u.id = c.user_id WHERE TRUE");
    let order = push_conditions(&mut sql, &mut args, search.filter, &read.from);
    if let Some(until) = &read.until {
        // Up to the window's end, itself included.
        let op = match read.from {
            PageFrom::After(_) => "<=",
            _ => ">=",
        };
        let _ = write!(
            sql,
            " AND (c.recorded_at, c.id) {op} (:until_at, :until_id)"
        );
        args.push((":until_at", &until.recorded_at));
        args.push((":until_id", &until.id));
    }
    if let Some(pattern) = &search.pattern {
        sql.push_str(
            r" AND (c.chat_title LIKE :pattern ESCAPE '\'
                  OR c.conversation_text LIKE :pattern ESCAPE '\')",
        );
        args.push((":pattern", pattern));
    }
    let _ = write!(
        sql,
        " ORDER BY c.recorded_at {order}, c.id {order} LIMIT :limit"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(StoreError::from)?;
    let mut rows = stmt.query(args.as_slice()).map_err(StoreError::from)?;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        each(detail_from_row(row).map_err(StoreError::from)?)?;
    }
    Ok(())
}

/// The index query for the chats holding every three-character piece of
/// `needle` (each piece quoted, so nothing typed is query syntax); `None`
/// when it has no piece to look up (shorter than three characters).
fn trigram_query(needle: &str) -> Option<String> {
    let chars: Vec<char> = needle.chars().collect();
    let mut pieces: Vec<String> = Vec::new();
    for window in chars.windows(3) {
        // The text check still sees these; the query syntax might not.
        if window.iter().any(|c| c.is_control()) {
            continue;
        }
        let piece = format!("\"{}\"", String::from_iter(window).replace('"', "\"\""));
        if !pieces.contains(&piece) {
            pieces.push(piece);
        }
        if pieces.len() == MOST_TRIGRAMS {
            break;
        }
    }
    (!pieces.is_empty()).then(|| pieces.join(" "))
}

/// Whether the index finds at most `MOST_HITS_SORTED` chats for `query`,
/// counting those it does not hold yet.
fn few_hits(conn: &Connection, query: &str) -> Result<bool, StoreError> {
    let found: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM
                 (SELECT rowid FROM chat_logs_fts WHERE chat_logs_fts MATCH ?1
                  UNION ALL {UNINDEXED} LIMIT ?2)"
        ))?
        .query_row(params![query, MOST_HITS_SORTED + 1], |row| row.get(0))?;
    Ok(found <= MOST_HITS_SORTED)
}

pub fn get_detail(conn: &Connection, chat_id: &str) -> Result<Option<ChatLogDetail>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "{RECORD_COLUMNS} FROM chat_logs AS c LEFT JOIN users AS u ON u.id = c.user_id
         WHERE c.chat_id = :chat_id"
    ))?;
    Ok(stmt
        .query_row(
            named_params! {":preview": Option::<u32>::None, ":chat_id": chat_id},
            detail_from_row,
        )
        .optional()?)
}

/// The distinct models the logs mention, sorted: one index lookup per
/// model rather than a pass over every chat.
pub fn models_used(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE used(model) AS (
             SELECT min(model) FROM chat_logs
             UNION ALL
             SELECT (SELECT min(model) FROM chat_logs WHERE model > used.model)
             FROM used WHERE used.model IS NOT NULL)
         SELECT model FROM used WHERE model IS NOT NULL",
    )?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes up to `limit` of the chats recorded before `before` (the
/// oldest first, along the time index), and their search entries (by the
/// trigger); returns how many went.
pub fn purge(tx: &Transaction, before: Timestamp, limit: u32) -> Result<usize, StoreError> {
    Ok(tx
        .prepare_cached(
            "DELETE FROM chat_logs WHERE id IN
                 (SELECT id FROM chat_logs WHERE recorded_at < ?1 ORDER BY recorded_at LIMIT ?2)",
        )?
        .execute(params![before, limit])?)
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        let cursor = Cursor {
            recorded_at: 1_723_609_133_000,
            id: 42,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for junk in ["", "zz", "abc", "2e", "31"] {
            assert_eq!(Cursor::decode(junk), None, "{junk:?}");
        }
    }
}

/// One of a user's chats, as their page lists it.
#[derive(Debug, Clone)]
pub struct UserChat {
    pub chat_id: String,
    pub chat_title: String,
    pub recorded_at: Timestamp,
    pub model: Option<String>,
    /// Every token, prompt (cached or not) and completion; `None` when
    /// none was recorded.
    pub tokens: Option<i64>,
    pub usage_estimated: bool,
    /// `None`: its model had no price.
    pub cost: Option<Micros>,
    pub status: String,
}

/// The user's latest `limit` chats, newest first: read through the
/// `chat_logs_by_user` index, however many chats others have.
pub fn recent_of_user(
    conn: &Connection,
    id: UserId,
    limit: u32,
) -> Result<Vec<UserChat>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT chat_id, chat_title, recorded_at, model,
                CASE WHEN prompt_tokens IS NULL AND completion_tokens IS NULL THEN NULL
                     ELSE IFNULL(prompt_tokens, 0) + IFNULL(completion_tokens, 0)
                          + cache_read_tokens + cache_write_tokens END,
                usage_estimated, cost_micros, status
         FROM chat_logs WHERE user_id = ?1
         ORDER BY recorded_at DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![id, limit], |row| {
        Ok(UserChat {
            chat_id: row.get(0)?,
            chat_title: row.get(1)?,
            recorded_at: row.get(2)?,
            model: row.get(3)?,
            tokens: row.get(4)?,
            usage_estimated: row.get(5)?,
            cost: row.get(6)?,
            status: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
