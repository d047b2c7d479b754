use serde::{Serialize, Serializer};
use time::macros::format_description;
use time::OffsetDateTime;

/// A point in time, stored as milliseconds since the Unix epoch and shown
/// as ISO-8601 UTC with milliseconds: `2024-08-14T04:18:53.000Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp((nanos / 1_000_000) as i64)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn to_iso(self) -> String {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .ok()
            .and_then(|t| t.format(&format).ok())
            .unwrap_or_else(|| format!("@{}ms", self.0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso())
    }
}

impl rusqlite::types::FromSql for Timestamp {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(Timestamp)
    }
}

impl rusqlite::ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.0.into())
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn formats_with_millis_and_z() {
        assert_eq!(
            Timestamp(1_723_609_133_000).to_iso(),
            "2024-08-14T04:18:53.000Z"
        );
        assert_eq!(
            Timestamp(1_723_609_133_042).to_iso(),
            "2024-08-14T04:18:53.042Z"
        );
        assert_eq!(Timestamp(0).to_iso(), "1970-01-01T00:00:00.000Z");
    }
}
