//! How the admin shows times and numbers (UTC, no locale).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::domain::day::DAY_MS;
use crate::domain::{Micros, Timestamp};

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

/// `1 234 567` → `1.2M`, `12 345` → `12.3k`.
pub fn compact(n: i64) -> String {
    match n.abs() {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A cost: below a dollar every micro-dollar, cents at least (`$0.000125`,
/// `$0.0123`, `$0.50`), so small costs never read as nothing; from a
/// dollar up, to the cent (`$1,234.57`).
pub fn usd(cost: Micros) -> String {
    let micros = cost.0.unsigned_abs();
    if micros < 1_000_000 {
        return cost.to_string();
    }
    let sign = if cost.0 < 0 { "-" } else { "" };
    let cents = (micros + 5_000) / 10_000;
    let dollars = i64::try_from(cents / 100).unwrap_or(i64::MAX);
    format!("{sign}${}.{:02}", thousands(dollars), cents % 100)
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
    use super::{compact, date, month_day, thousands, usd};
    use crate::domain::{Micros, Timestamp};

    #[test]
    fn formats() {
        assert_eq!(date(&Timestamp(1_723_609_133_000)), "2024-08-14 04:18 UTC");
        assert_eq!(month_day(19_949), "08-14");
        assert_eq!(compact(999), "999");
        assert_eq!(compact(12_345), "12.3k");
        assert_eq!(compact(2_500_000), "2.5M");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(usd(Micros(125)), "$0.000125");
        assert_eq!(usd(Micros(12_300)), "$0.0123");
        assert_eq!(usd(Micros(0)), "$0.00");
        assert_eq!(usd(Micros(999_999)), "$0.999999");
        assert_eq!(usd(Micros(1_000_000)), "$1.00");
        assert_eq!(usd(Micros(1_234_567_891)), "$1,234.57");
        assert_eq!(usd(Micros(2_994_999)), "$2.99");
        assert_eq!(usd(Micros(2_995_000)), "$3.00");
    }
}
