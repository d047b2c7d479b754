//! `/admin/chatlogs`: the recorded chats, filtered and paged, one page per
//! chat, and the filtered set as JSON or CSV.

use std::io::Write;

use actix_web::web;
use askama::Template;
use rusqlite::Connection;
use serde::Deserialize;

use super::download::{self, ChunkWriter};
use super::error::AdminError;
use super::guard::Ctx;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult};
use super::PAGE_SIZE;
use crate::db::chat_logs::{self, AdminFilter, ChatLogDetail, Cursor, PageFrom, SearchedTo};
use crate::db::{Db, StoreError};
use crate::domain::day::{day_of, parse_date, DAY_MS};
use crate::domain::InvalidInput;

const PREVIEW_CHARS: u32 = 160;

/// The filter as the form sends it; every field may be empty.
#[derive(Deserialize, Default, Clone)]
pub struct FilterQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    q: String,
    /// Where the page starts: a chat's cursor from a page link.
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

/// `YYYY-MM-DD` to the first millisecond of that UTC day.
fn day_start(param: &str, raw: &str) -> Result<Option<i64>, InvalidInput> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let date = parse_date(raw.trim()).ok_or_else(|| {
        InvalidInput::new(
            param,
            format!("`{param}` must be a date like 2024-08-14, got {raw:?}"),
        )
    })?;
    Ok(Some(day_of(date) * DAY_MS))
}

fn non_empty(raw: &str) -> Option<String> {
    Some(raw.trim().to_owned()).filter(|s| !s.is_empty())
}

impl FilterQuery {
    fn filter(&self) -> Result<AdminFilter, InvalidInput> {
        let start_ms = day_start("from", &self.from)?;
        // `to` is inclusive: up to the end of that day.
        let end_ms = day_start("to", &self.to)?.map(|t| t + DAY_MS - 1);
        if let (Some(start), Some(end)) = (start_ms, end_ms) {
            if start > end {
                return Err(InvalidInput::new("to", "`to` must not be before `from`"));
            }
        }
        Ok(AdminFilter {
            start_ms,
            end_ms,
            user_email: non_empty(&self.user).map(|e| e.to_lowercase()),
            model: non_empty(&self.model),
            text: non_empty(&self.q),
        })
    }

    fn page_start(&self) -> Result<PageFrom, InvalidInput> {
        let cursor = |field: &str, token: &str| {
            Cursor::decode(token).ok_or_else(|| {
                InvalidInput::new(field, format!("`{field}` must come from a page link"))
            })
        };
        match (&self.before, &self.after) {
            (Some(token), None) => Ok(PageFrom::Before(cursor("before", token)?)),
            (None, Some(token)) => Ok(PageFrom::After(cursor("after", token)?)),
            (None, None) => Ok(PageFrom::Newest),
            (Some(_), Some(_)) => Err(InvalidInput::new(
                "after",
                "`before` or `after` must come from a page link, not both",
            )),
        }
    }

    /// The filter as a query string, without the page.
    fn query_string(&self) -> String {
        let pairs = [
            ("from", &self.from),
            ("to", &self.to),
            ("user", &self.user),
            ("model", &self.model),
            ("q", &self.q),
        ];
        serde_urlencoded::to_string(
            pairs
                .iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "chatlogs.html")]
struct ChatlogsPage<'a> {
    urls: &'a Urls,
    f: FilterQuery,
    query: String,
    chats: Vec<ChatLogDetail>,
    models: Vec<String>,
    newer: Option<String>,
    older: Option<String>,
    searched_to: Option<SearchedTo>,
}

impl ChatlogsPage<'_> {
    /// The filtered set as a file: `path` is the JSON's or the CSV's.
    fn export_url(&self, path: String) -> String {
        match self.query.as_str() {
            "" => path,
            q => format!("{path}?{q}"),
        }
    }
}

/// The link to the page that starts at `from`, under the same filter.
fn page_url(urls: &Urls, query: &str, from: PageFrom) -> String {
    let at = match from {
        PageFrom::Newest => String::new(),
        PageFrom::Before(cursor) => format!("before={}", cursor.encode()),
        PageFrom::After(cursor) => format!("after={}", cursor.encode()),
    };
    let parts: Vec<&str> = [query, &at].into_iter().filter(|p| !p.is_empty()).collect();
    match parts.join("&") {
        q if q.is_empty() => urls.chatlogs(),
        q => format!("{}?{q}", urls.chatlogs()),
    }
}

pub async fn list(ctx: Ctx, db: web::Data<Db>, query: web::Query<FilterQuery>) -> AdminResult {
    let f = query.into_inner();
    let filter = f.filter()?;
    let from = f.page_start()?;
    let (page, models) = db
        .read(move |conn| {
            let page = chat_logs::page(conn, &filter, from, PAGE_SIZE, PREVIEW_CHARS)?;
            Ok::<_, StoreError>((page, chat_logs::models_used(conn)?))
        })
        .await?;
    let query = f.query_string();
    let link = |from| page_url(&ctx.urls, &query, from);
    AdminResponse::page(
        "Chat logs",
        &ChatlogsPage {
            urls: &ctx.urls,
            newer: page.newer.map(link),
            older: page.older.map(link),
            searched_to: page.searched_to,
            query,
            f,
            chats: page.chats,
            models,
        },
    )
}

#[derive(Template)]
#[template(path = "chatlog.html")]
struct ChatPage<'a> {
    chat: ChatLogDetail,
    urls: &'a Urls,
}

pub async fn show(ctx: Ctx, db: web::Data<Db>, chat_id: web::Path<String>) -> AdminResult {
    let chat_id = chat_id.into_inner();
    let missing = AdminError::NotFound(format!("no chat with id {chat_id:?}"));
    let chat = db
        .read(move |conn| chat_logs::get_detail(conn, &chat_id))
        .await?
        .ok_or(missing)?;
    AdminResponse::page(
        "Chat",
        &ChatPage {
            chat,
            urls: &ctx.urls,
        },
    )
}

/// The chats `query` filters, newest first, to `write` as a file: one row
/// at a time, straight from the database.
async fn export(
    db: &Db,
    query: &FilterQuery,
    content_type: &'static str,
    ext: &str,
    write: impl FnOnce(&Connection, &AdminFilter, &mut ChunkWriter) -> Result<(), AdminError>
        + Send
        + 'static,
) -> AdminResult {
    let filter = query.filter()?;
    let db = db.clone();
    let chunks =
        download::write_file(move |out| db.read_blocking(|conn| write(conn, &filter, out))).await?;
    Ok(AdminResponse::Download {
        content_type,
        file_name: format!("mindgate-chatlogs.{ext}"),
        chunks,
    })
}

fn write_err(e: std::io::Error) -> AdminError {
    AdminError::internal(format!("download: {e}"))
}

/// `{"data": [...]}`, one chat a line.
pub async fn export_json(db: web::Data<Db>, query: web::Query<FilterQuery>) -> AdminResult {
    export(
        &db,
        &query,
        "application/json",
        "json",
        |conn, filter, out| {
            out.write_all(b"{\"data\": [").map_err(write_err)?;
            // The first byte leaves now, whatever finding the first chat takes.
            out.flush().map_err(write_err)?;
            let mut separator = "\n";
            chat_logs::export(conn, filter, |chat| {
                out.write_all(separator.as_bytes()).map_err(write_err)?;
                serde_json::to_writer(&mut *out, &chat).map_err(AdminError::internal)?;
                separator = ",\n";
                Ok::<_, AdminError>(())
            })?;
            out.write_all(b"\n]}\n").map_err(write_err)
        },
    )
    .await
}

/// A spreadsheet would run a cell as a formula when it starts with a tab or
/// CR, or when its first non-blank character is `=`, `+`, `-` or `@`, in
/// their full-width forms too (spreadsheets fold those for East Asian
/// input).
pub(super) fn defuse(cell: &str) -> String {
    let formula = cell.starts_with(['\t', '\r'])
        || cell.trim_start().starts_with([
            '=', '+', '-', '@', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
        ]);
    if formula {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

pub async fn export_csv(db: web::Data<Db>, query: web::Query<FilterQuery>) -> AdminResult {
    export(
        &db,
        &query,
        "text/csv; charset=utf-8",
        "csv",
        |conn, filter, out| {
            let mut csv = csv::Writer::from_writer(out);
            let csv_err = |e: csv::Error| AdminError::internal(format!("csv: {e}"));
            csv.write_record([
                "chatID",
                "chatTitle",
                "createdAt",
                "recordedAt",
                "userEmail",
                "model",
                "provider",
                "characterID",
                "promptTokens",
                "completionTokens",
                "cacheReadTokens",
                "cacheWriteTokens",
                "usageEstimated",
                "costUsd",
                "status",
                "errorMessage",
                "latencyMs",
                "conversationText",
            ])
            .map_err(csv_err)?;
            // The first byte leaves now, whatever finding the first chat takes.
            csv.flush().map_err(write_err)?;
            let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
            chat_logs::export(conn, filter, |c| {
                csv.write_record([
                    defuse(&c.chat_id),
                    defuse(&c.chat_title),
                    c.created_at.to_iso(),
                    c.recorded_at.to_iso(),
                    defuse(c.user_email.as_deref().unwrap_or("")),
                    defuse(c.model.as_deref().unwrap_or("")),
                    defuse(c.provider.as_deref().unwrap_or("")),
                    defuse(c.character_id.as_deref().unwrap_or("")),
                    num(c.prompt_tokens),
                    num(c.completion_tokens),
                    c.cache_read_tokens.to_string(),
                    c.cache_write_tokens.to_string(),
                    c.usage_estimated.to_string(),
                    // Exact, in dollars; empty when the model had no price.
                    c.cost
                        .map(|cost| cost.usd().to_string())
                        .unwrap_or_default(),
                    c.status.clone(),
                    defuse(c.error_message.as_deref().unwrap_or("")),
                    num(c.latency_ms),
                    defuse(&c.conversation_text),
                ])
                .map_err(csv_err)
            })?;
            csv.flush().map_err(write_err)
        },
    )
    .await
}
