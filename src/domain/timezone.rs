//! The instance's time zone: the calendar that day, week and month limits
//! follow. UTC unless an admin sets an IANA name (`Europe/Paris`).

use std::fmt;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use super::policy::Window;
use super::InvalidInput;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone)]
pub struct InstanceTimeZone {
    name: String,
    zone: TimeZone,
}

impl Default for InstanceTimeZone {
    fn default() -> InstanceTimeZone {
        InstanceTimeZone {
            name: "UTC".to_owned(),
            zone: TimeZone::UTC,
        }
    }
}

impl PartialEq for InstanceTimeZone {
    fn eq(&self, other: &InstanceTimeZone) -> bool {
        self.name == other.name
    }
}

impl InstanceTimeZone {
    /// An IANA time zone name (`Europe/Paris`, `America/New_York`, `UTC`);
    /// blank is UTC. The error names `field`.
    pub fn parse(field: &str, raw: &str) -> Result<InstanceTimeZone, InvalidInput> {
        let raw = raw.trim();
        if raw.is_empty() || raw.eq_ignore_ascii_case("utc") {
            return Ok(InstanceTimeZone::default());
        }
        let zone = TimeZone::get(raw).map_err(|_| {
            InvalidInput::new(
                field,
                format!("`{field}` must be a time zone name such as `UTC`, `Europe/Paris` or `America/New_York`, got {raw:?}"),
            )
        })?;
        let name = zone.iana_name().unwrap_or(raw).to_owned();
        Ok(InstanceTimeZone { name, zone })
    }

    /// For the command line, which names the flag itself.
    pub fn parse_arg(raw: &str) -> Result<InstanceTimeZone, String> {
        InstanceTimeZone::parse("timezone", raw).map_err(|e| e.message)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The window of kind `window` that holds `now`, as `[start, end)` in
    /// milliseconds since the epoch. Minutes and hours are fixed windows;
    /// days start at local midnight, weeks on Monday, months on the first.
    pub fn window(&self, window: Window, now_ms: i64) -> (i64, i64) {
        let fixed = |size: i64| {
            let start = now_ms - now_ms.rem_euclid(size);
            (start, start + size)
        };
        match window {
            Window::Minute => fixed(MINUTE_MS),
            Window::Hour => fixed(HOUR_MS),
            Window::Day | Window::Week | Window::Month => self
                .calendar(window, now_ms)
                // Only at the ends of time: fall back to UTC days.
                .unwrap_or_else(|| fixed(24 * HOUR_MS)),
        }
    }

    fn calendar(&self, window: Window, now_ms: i64) -> Option<(i64, i64)> {
        let now = Timestamp::from_millisecond(now_ms)
            .ok()?
            .to_zoned_datetime(self.zone.clone());
        let today = now.start_of_day().ok()?;
        let (start, length) = match window {
            Window::Week => {
                let back = i64::from(today.weekday().to_monday_zero_offset());
                (
                    today.checked_add(Span::new().days(-back)).ok()?,
                    Span::new().days(7),
                )
            }
            Window::Month => (
                today.first_of_month().ok()?.start_of_day().ok()?,
                Span::new().months(1),
            ),
            _ => (today, Span::new().days(1)),
        };
        let end = start.checked_add(length).ok()?.start_of_day().ok()?;
        Some((
            start.timestamp().as_millisecond(),
            end.timestamp().as_millisecond(),
        ))
    }
}

impl fmt::Display for InstanceTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(iso: &str) -> i64 {
        iso.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn windows_follow_the_calendar_of_the_zone() {
        let utc = InstanceTimeZone::default();
        let paris = InstanceTimeZone::parse("timezone", "Europe/Paris").unwrap();
        let now = ms("2026-03-29T12:34:56.789Z"); // a Sunday, the day Paris moves to summer time
        let cases = [
            (
                &utc,
                Window::Minute,
                "2026-03-29T12:34:00Z",
                "2026-03-29T12:35:00Z",
            ),
            (
                &utc,
                Window::Hour,
                "2026-03-29T12:00:00Z",
                "2026-03-29T13:00:00Z",
            ),
            (
                &utc,
                Window::Day,
                "2026-03-29T00:00:00Z",
                "2026-03-30T00:00:00Z",
            ),
            (
                &utc,
                Window::Week,
                "2026-03-23T00:00:00Z",
                "2026-03-30T00:00:00Z",
            ),
            (
                &utc,
                Window::Month,
                "2026-03-01T00:00:00Z",
                "2026-04-01T00:00:00Z",
            ),
            // 23 hours long: midnight was +01:00, the next is +02:00.
            (
                &paris,
                Window::Day,
                "2026-03-28T23:00:00Z",
                "2026-03-29T22:00:00Z",
            ),
            (
                &paris,
                Window::Week,
                "2026-03-22T23:00:00Z",
                "2026-03-29T22:00:00Z",
            ),
            (
                &paris,
                Window::Month,
                "2026-02-28T23:00:00Z",
                "2026-03-31T22:00:00Z",
            ),
            (
                &paris,
                Window::Hour,
                "2026-03-29T12:00:00Z",
                "2026-03-29T13:00:00Z",
            ),
        ];
        for (zone, window, start, end) in cases {
            assert_eq!(
                zone.window(window, now),
                (ms(start), ms(end)),
                "{zone} {window}"
            );
        }
    }

    #[test]
    fn zones_are_iana_names() {
        assert_eq!(
            InstanceTimeZone::parse("tz", " utc ").unwrap().name(),
            "UTC"
        );
        assert_eq!(
            InstanceTimeZone::parse("tz", "America/New_York")
                .unwrap()
                .name(),
            "America/New_York"
        );
        let e = InstanceTimeZone::parse("tz", "Mars/Olympus").unwrap_err();
        assert_eq!(e.field, "tz");
    }
}
