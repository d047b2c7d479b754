//! `/usage`: requests, tokens and cost over whole UTC days, grouped and
//! filtered (extension). Read from the daily rollups, so it answers alike
//! whatever the number of chat logs, and after they are gone.

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use super::QueryParams;
use crate::db::usage::{self, Dimension, UsageQuery, UsageReport, UsageRow, UsageTotals};
use crate::db::Db;
use crate::domain::day::{date_of, day_of, iso_day, parse_date, today, DAY_SECONDS};
use crate::domain::InvalidInput;
use crate::error::ApiError;

/// 5000-01-01T00:00:00Z: a later Unix time is milliseconds sent as seconds.
const MAX_UNIX_SECONDS: i64 = 95_617_584_000;

/// A day as `start` or `end` names it: `YYYY-MM-DD`, or a Unix time in
/// whole seconds, which names the UTC day it falls in.
fn day_param(name: &str, raw: Option<&str>) -> Result<Option<i64>, InvalidInput> {
    let Some(raw) = raw else { return Ok(None) };
    if let Some(date) = parse_date(raw) {
        return Ok(Some(day_of(date)));
    }
    let digits = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit());
    match raw.parse::<i64>() {
        Ok(seconds) if digits && seconds > MAX_UNIX_SECONDS => Err(InvalidInput::new(
            name,
            format!(
                "`{name}` is in seconds, and {raw} seconds is after the year 5000: \
                 it looks like milliseconds; divide it by 1000"
            ),
        )),
        Ok(seconds) if digits => Ok(Some(seconds.div_euclid(DAY_SECONDS))),
        _ => Err(InvalidInput::new(
            name,
            format!(
                "`{name}` must be a day like 2024-08-14 or a Unix time in whole seconds, \
                 like 1723593600, got {raw:?}"
            ),
        )),
    }
}

/// `day,user`: dimensions, each once, in the order given.
fn group_by(raw: Option<&str>) -> Result<Vec<Dimension>, InvalidInput> {
    let mut dimensions = Vec::new();
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        return Ok(dimensions);
    }
    for name in raw.split(',') {
        let dimension = Dimension::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Dimension::ALL.iter().map(|d| d.name()).collect();
            InvalidInput::new(
                "groupBy",
                format!(
                    "`groupBy` takes {}, comma-separated; got {name:?}",
                    known.join(", ")
                ),
            )
        })?;
        if !dimensions.contains(&dimension) {
            dimensions.push(dimension);
        }
    }
    Ok(dimensions)
}

fn query(params: &QueryParams) -> Result<UsageQuery, InvalidInput> {
    let end_day = day_param("end", params.get("end"))?.unwrap_or_else(|| day_of(today()));
    // Without a start: the first of the end's month (this month, when
    // neither is given).
    let start_day = match day_param("start", params.get("start"))? {
        Some(day) => day,
        None => date_of(end_day).map_or(end_day, |end| day_of(end.replace_day(1).unwrap_or(end))),
    };
    let text = |name: &str| {
        params
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Ok(UsageQuery {
        start_day,
        end_day,
        group_by: group_by(params.get("groupBy"))?,
        // Compared as stored addresses are, like the users' `email` filter.
        user_email: text("userEmail").map(|raw| super::users::email_filter(&raw)),
        tag: text("tag"),
        model: text("model"),
    })
}

fn totals_json(t: &UsageTotals, into: &mut Map<String, Value>) {
    for (name, value) in t.counts() {
        into.insert(name.into(), value.into());
    }
    into.insert("costUsd".into(), json!(t.cost));
    into.insert("unpricedRequests".into(), t.unpriced_requests.into());
    into.insert("refused".into(), t.refused.into());
}

/// A row: the keys it is grouped by (null for no user, tag or key), then
/// its totals.
fn row_json(row: &UsageRow) -> Value {
    let key = &row.key;
    let mut object = Map::new();
    if let Some(day) = key.day {
        object.insert("day".into(), iso_day(day).into());
    }
    if let Some(email) = &key.user_email {
        object.insert("userEmail".into(), json!(email));
    }
    if let Some(tag) = &key.tag {
        object.insert("tag".into(), json!(tag));
    }
    if let Some(model) = &key.model {
        object.insert("model".into(), json!(model));
    }
    if let Some(id) = key.api_key_id {
        object.insert("apiKeyId".into(), json!(id));
    }
    totals_json(&row.totals, &mut object);
    Value::Object(object)
}

fn report_json(query: &UsageQuery, report: &UsageReport) -> Value {
    let mut total = Map::new();
    totals_json(&report.total, &mut total);
    json!({
        "start": iso_day(query.start_day),
        "end": iso_day(query.end_day),
        "data": report.rows.iter().map(row_json).collect::<Vec<_>>(),
        "total": total,
    })
}

pub async fn report(db: web::Data<Db>, params: QueryParams) -> Result<HttpResponse, ApiError> {
    let query = query(&params)?;
    let asked = query.clone();
    let report = db.read(move |conn| usage::report(conn, &asked)).await?;
    Ok(HttpResponse::Ok().json(report_json(&query, &report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_dates_or_whole_seconds_of_the_utc_day() {
        let day = |raw: &str| day_param("start", Some(raw));
        assert_eq!(day("1970-01-02"), Ok(Some(1)));
        assert_eq!(day("2024-08-14"), Ok(Some(19_949)));
        assert_eq!(day("1723593600"), Ok(Some(19_949)));
        assert_eq!(day("1723679999"), Ok(Some(19_949)));
        assert_eq!(iso_day(19_949), "2024-08-14");
        for bad in [
            "2024-02-30",
            "2024-8-14",
            "+2024-08-14",
            "14/08/2024",
            "1.5",
            "-1",
            " 1",
            "",
        ] {
            let err = day(bad).unwrap_err();
            assert_eq!(err.field, "start", "{bad:?}");
        }
        let err = day("1723593600000").unwrap_err();
        assert!(err.message.contains("milliseconds"), "{}", err.message);
    }

    #[test]
    fn group_by_takes_known_names_once_each() {
        assert_eq!(
            group_by(Some("user,model,user")),
            Ok(vec![Dimension::User, Dimension::Model])
        );
        assert_eq!(group_by(Some("")), Ok(vec![]));
        assert_eq!(group_by(None), Ok(vec![]));
        let err = group_by(Some("day,week")).unwrap_err();
        assert_eq!(err.field, "groupBy");
        assert!(err.message.ends_with("got \"week\""), "{}", err.message);
        assert!(group_by(Some("day, user")).is_err(), "no spaces");
        assert!(group_by(Some("day,")).is_err(), "no empty names");
    }
}
