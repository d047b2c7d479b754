use std::fmt;
use std::num::NonZeroU32;

use super::day::DAY_MS;
use super::{InvalidInput, Timestamp};

/// How long chat logs are kept: a number of days, or forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention(Option<NonZeroU32>);

impl Retention {
    /// A hundred years: more is forever.
    pub const MOST_DAYS: u32 = 36_500;

    /// `30` keeps 30 days; `0` or nothing keeps everything. The error names
    /// `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Retention, InvalidInput> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Retention::default());
        }
        match raw.parse::<u32>() {
            Ok(days) if days <= Retention::MOST_DAYS => Ok(Retention(NonZeroU32::new(days))),
            _ => Err(InvalidInput::new(
                field,
                format!(
                    "`{field}` must be a number of days from 0 (keep forever) to {}, got {raw:?}",
                    Retention::MOST_DAYS
                ),
            )),
        }
    }

    /// For the command line, which names the flag itself.
    pub fn parse_arg(raw: &str) -> Result<Retention, String> {
        Retention::parse("days", raw).map_err(|e| e.message)
    }

    pub fn days(self) -> Option<u32> {
        self.0.map(NonZeroU32::get)
    }

    /// Chats recorded before this are past keeping at `now`.
    pub fn cutoff(self, now: Timestamp) -> Option<Timestamp> {
        self.days()
            .map(|days| Timestamp(now.millis() - i64::from(days) * DAY_MS))
    }
}

/// As stored and typed: the days, `0` for forever.
impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.days().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_from_zero_to_a_hundred_years() {
        assert_eq!(Retention::parse("d", "").unwrap(), Retention::default());
        assert_eq!(Retention::parse("d", "0").unwrap().days(), None);
        assert_eq!(Retention::parse("d", " 30 ").unwrap().days(), Some(30));
        assert_eq!(Retention::parse("d", "36500").unwrap().days(), Some(36_500));
        for bad in ["-1", "1.5", "36501", "ten", "1e3"] {
            let err = Retention::parse("retention_days", bad).unwrap_err();
            assert_eq!(err.field, "retention_days", "{bad}");
        }
        let month = Retention::parse("d", "30").unwrap();
        assert_eq!(
            month.cutoff(Timestamp(31 * DAY_MS)),
            Some(Timestamp(DAY_MS))
        );
        assert_eq!(month.to_string(), "30");
        assert_eq!(Retention::default().cutoff(Timestamp(0)), None);
        assert_eq!(Retention::default().to_string(), "0");
    }
}
