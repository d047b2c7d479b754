//! UTC days, counted from the Unix epoch as the usage rollups keep them,
//! and the `YYYY-MM-DD` dates that name them: the one date parser of the
//! usage API, the admin's usage pages and its chat log filters.

use time::{Date, OffsetDateTime};

pub const DAY_SECONDS: i64 = 86_400;
pub const DAY_MS: i64 = DAY_SECONDS * 1000;

/// Days since the Unix epoch.
pub fn day_of(date: Date) -> i64 {
    date.midnight()
        .assume_utc()
        .unix_timestamp()
        .div_euclid(DAY_SECONDS)
}

pub fn date_of(day: i64) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(day * DAY_SECONDS)
        .ok()
        .map(OffsetDateTime::date)
}

/// Today, in UTC.
pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// `2024-08-14`.
pub fn iso_day(day: i64) -> String {
    date_of(day).map_or_else(|| day.to_string(), |d| d.to_string())
}

/// `YYYY-MM-DD`, a real date, exactly.
pub fn parse_date(raw: &str) -> Option<Date> {
    let b = raw.as_bytes();
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| raw[range].parse::<u16>().ok();
    let month = time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    Date::from_calendar_date(
        i32::from(number(0..4)?),
        month,
        u8::try_from(number(8..10)?).ok()?,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates_round_trip() {
        let date = parse_date("2024-08-14").unwrap();
        assert_eq!(day_of(date), 19_949);
        assert_eq!(date_of(19_949), Some(date));
        assert_eq!(iso_day(19_949), "2024-08-14");
        assert_eq!(iso_day(-1), "1969-12-31");
        for bad in ["2024-02-30", "2024-8-14", "+2024-08-14", "14/08/2024", ""] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }
}
