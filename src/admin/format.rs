//! How the admin shows times and numbers (UTC, no locale).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::domain::Timestamp;

pub const DAY_MS: i64 = 86_400_000;

fn datetime(t: Timestamp) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.millis()) * 1_000_000).ok()
}

/// `2026-11-26 17:30 UTC`
pub fn date(t: &Timestamp) -> String {
    let t = *t;
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    datetime(t)
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| t.to_iso())
}

/// `2026-11-26 17:30 UTC`, or `never`.
pub fn maybe_date(t: &Option<Timestamp>) -> String {
    t.as_ref().map_or_else(|| "never".to_owned(), date)
}

/// `11-26` for a day counted from the Unix epoch.
pub fn month_day(day: i64) -> String {
    let format = format_description!("[month]-[day]");
    datetime(Timestamp(day * DAY_MS))
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_default()
}

/// `2026-11-26` for a day counted from the Unix epoch.
pub fn iso_day(day: i64) -> String {
    let format = format_description!("[year]-[month]-[day]");
    datetime(Timestamp(day * DAY_MS))
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_default()
}

/// `1 234 567` → `1.2M`, `12 345` → `12.3k`.
pub fn compact(n: i64) -> String {
    match n.abs() {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// What stays as is in a URL: RFC 3986's unreserved characters.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` percent-encoded, to put in a URL path or query.
pub fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, ESCAPED).to_string()
}

#[cfg(test)]
mod tests {
    use super::{compact, date, iso_day, month_day};
    use crate::domain::Timestamp;

    #[test]
    fn formats() {
        assert_eq!(date(&Timestamp(1_723_609_133_000)), "2024-08-14 04:18 UTC");
        assert_eq!(month_day(19_949), "08-14");
        assert_eq!(iso_day(19_949), "2024-08-14");
        assert_eq!(compact(999), "999");
        assert_eq!(compact(12_345), "12.3k");
        assert_eq!(compact(2_500_000), "2.5M");
    }
}
