//! `/chatlogs`: recorded chats, newest first, within a time window.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::{bounded_param, QueryParams};
use crate::db::chat_logs::{self, ChatLogQuery, Chatlog, Cursor};
use crate::db::Db;
use crate::domain::InvalidInput;
use crate::error::ApiError;

#[derive(Serialize)]
struct ChatlogPage {
    data: Vec<Chatlog>,
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
}

/// TypingMind returns at most 100 logs a call.
const DEFAULT_LIMIT: u32 = 100;

/// 5000-01-01T00:00:00Z in Unix seconds. A later time is far more likely
/// to be milliseconds sent by mistake, which would silently match nothing.
const MAX_UNIX_SECONDS: f64 = 95_617_584_000.0;

/// A Unix time in (possibly fractional) seconds.
fn unix_seconds(name: &str, raw: Option<&str>) -> Result<Option<f64>, InvalidInput> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > MAX_UNIX_SECONDS => Err(InvalidInput::new(
            name,
            format!(
                "`{name}` is in seconds, and {raw} seconds is after the year 5000: \
                 it looks like milliseconds; divide it by 1000"
            ),
        )),
        Ok(secs) if secs.is_finite() => Ok(Some(secs)),
        _ => Err(InvalidInput::new(
            name,
            format!("`{name}` must be a finite Unix time in seconds, like 1640995200, got {raw:?}"),
        )),
    }
}

pub async fn list(db: web::Data<Db>, query: QueryParams) -> Result<HttpResponse, ApiError> {
    // A start after the end is an empty window: it holds no logs.
    let start = unix_seconds("startUnixTime", query.get("startUnixTime"))?;
    let end = unix_seconds("endUnixTime", query.get("endUnixTime"))?;
    let after = query
        .get("cursor")
        .map(|token| {
            Cursor::decode(token).ok_or_else(|| {
                InvalidInput::new(
                    "cursor",
                    "`cursor` is not one this server gave out; pass `nextCursor` from the previous page",
                )
            })
        })
        .transpose()?;
    let query = ChatLogQuery {
        // The window is inclusive: round its ends inwards to whole milliseconds.
        start_ms: start.map(|s| (s * 1000.0).ceil() as i64),
        end_ms: end.map(|e| (e * 1000.0).floor() as i64),
        limit: bounded_param("limit", query.get("limit"), 1, 1000)?.unwrap_or(DEFAULT_LIMIT),
        after,
    };
    let (logs, next) = db.read(move |conn| chat_logs::list(conn, &query)).await?;
    Ok(HttpResponse::Ok().json(ChatlogPage {
        data: logs,
        next_cursor: next.map(Cursor::encode),
    }))
}
